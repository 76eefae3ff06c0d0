//! Field specs: "in objects of this kind, the field at this path" — the tables that tell each
//! transformer where labels, names, namespaces and references live.
//!
//! The built-in tables are kustomize v5.5.0's defaults, kept in `builtin_field_specs.txt` in a
//! compact line format (`path [group=..] [version=..] [kind=..] [create]`, sections in
//! brackets, `>` lines opening a name-reference target). Kustomizations can add their own
//! through `configurations:` files, which use kustomize's YAML layout.

use crate::Error;
use crate::resource::Gvk;
use crate::value::Value;

/// One field spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSpec {
    /// Which objects it applies to (blank fields match anything).
    pub gvk: Gvk,
    /// Slash-separated path; `\/` escapes a slash inside a key, `[]` marks a sequence.
    pub path: String,
    /// Whether a missing field is created.
    pub create: bool,
}

/// A kind whose name is referred to by other objects, and where those references live.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameBackReference {
    /// The referred-to kind.
    pub gvk: Gvk,
    /// The referring fields.
    pub field_specs: Vec<FieldSpec>,
}

/// All field-spec tables of one build.
#[derive(Clone, Debug, Default)]
pub struct TransformerConfig {
    /// Where `namePrefix` applies.
    pub name_prefix: Vec<FieldSpec>,
    /// Where `nameSuffix` applies.
    pub name_suffix: Vec<FieldSpec>,
    /// Where `commonLabels` apply.
    pub common_labels: Vec<FieldSpec>,
    /// Where `labels` with `includeTemplates` apply.
    pub template_labels: Vec<FieldSpec>,
    /// Where `commonAnnotations` apply.
    pub common_annotations: Vec<FieldSpec>,
    /// Extra fields for every `labels:` entry (from `configurations:` files only).
    pub labels: Vec<FieldSpec>,
    /// Where `namespace` applies besides `metadata.namespace`.
    pub namespace: Vec<FieldSpec>,
    /// Where `$(VAR)` references are expanded.
    pub var_reference: Vec<FieldSpec>,
    /// Where image names live.
    pub images: Vec<FieldSpec>,
    /// Where replica counts live.
    pub replicas: Vec<FieldSpec>,
    /// Name references.
    pub name_reference: Vec<NameBackReference>,
}

const BUILTIN: &str = include_str!("builtin_field_specs.txt");

fn parse_line(line: &str) -> FieldSpec {
    let mut spec = FieldSpec::default();
    for (index, word) in line.split_whitespace().enumerate() {
        if index == 0 {
            spec.path = word.to_string();
        } else if word == "create" {
            spec.create = true;
        } else if let Some((key, value)) = word.split_once('=') {
            match key {
                "group" => spec.gvk.group = value.to_string(),
                "version" => spec.gvk.version = value.to_string(),
                _ => spec.gvk.kind = value.to_string(),
            }
        }
    }
    spec
}

impl TransformerConfig {
    /// kustomize's default tables.
    pub fn builtin() -> TransformerConfig {
        let mut config = TransformerConfig::default();
        let mut section = "";
        for line in BUILTIN.lines().filter(|line| !line.trim().is_empty()) {
            if let Some(name) = line
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
            {
                section = match name {
                    "namePrefix" => "namePrefix",
                    "commonLabels" => "commonLabels",
                    "templateLabels" => "templateLabels",
                    "commonAnnotations" => "commonAnnotations",
                    "namespace" => "namespace",
                    "varReference" => "varReference",
                    "images" => "images",
                    "replicas" => "replicas",
                    _ => "nameReference",
                };
                continue;
            }
            if section == "nameReference" {
                if let Some(target) = line.strip_prefix('>') {
                    let spec = parse_line(&format!("-{target}"));
                    config.name_reference.push(NameBackReference {
                        gvk: spec.gvk,
                        field_specs: Vec::new(),
                    });
                } else if let Some(last) = config.name_reference.last_mut() {
                    last.field_specs.push(parse_line(line));
                }
                continue;
            }
            let spec = parse_line(line);
            if let Some(list) = config.list_mut(section) {
                list.push(spec);
            }
        }
        config.name_suffix = config.name_prefix.clone();
        config.sort();
        config
    }

    fn lists_mut(&mut self) -> [&mut Vec<FieldSpec>; 10] {
        [
            &mut self.name_prefix,
            &mut self.name_suffix,
            &mut self.common_labels,
            &mut self.template_labels,
            &mut self.common_annotations,
            &mut self.labels,
            &mut self.namespace,
            &mut self.var_reference,
            &mut self.images,
            &mut self.replicas,
        ]
    }

    fn sort(&mut self) {
        for list in self.lists_mut() {
            list.sort_by_cached_key(|spec| crate::sort::gvk_order_key(&spec.gvk));
        }
        self.name_reference
            .sort_by_cached_key(|reference| crate::sort::gvk_order_key(&reference.gvk));
    }

    /// kustomize's `TransformerConfig.Merge`: a spec is dropped when an existing one has the
    /// same path and is selected by its GVK (a later, more general spec adds nothing), and
    /// the lists are re-sorted.
    pub fn merge_from(&mut self, other: &TransformerConfig) -> Result<(), Error> {
        let mut other = other.clone();
        let incoming = other.lists_mut();
        for (mine, theirs) in self.lists_mut().into_iter().zip(incoming) {
            for spec in theirs.iter() {
                match mine.iter().find(|existing| {
                    existing.path == spec.path && existing.gvk.is_selected_by(&spec.gvk)
                }) {
                    Some(existing) if existing.create != spec.create => {
                        return Err(Error::Build(format!(
                            "conflicting fieldspecs for path {}",
                            spec.path
                        )));
                    }
                    Some(_) => {}
                    None => mine.push(spec.clone()),
                }
            }
        }
        for reference in other.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|existing| existing.gvk == reference.gvk)
            {
                Some(existing) => {
                    for spec in reference.field_specs {
                        if !existing.field_specs.contains(&spec) {
                            existing.field_specs.push(spec);
                        }
                    }
                }
                None => self.name_reference.push(reference),
            }
        }
        self.sort();
        Ok(())
    }

    fn list_mut(&mut self, section: &str) -> Option<&mut Vec<FieldSpec>> {
        Some(match section {
            "namePrefix" => &mut self.name_prefix,
            "nameSuffix" => &mut self.name_suffix,
            "commonLabels" => &mut self.common_labels,
            "templateLabels" => &mut self.template_labels,
            "commonAnnotations" => &mut self.common_annotations,
            "labels" => &mut self.labels,
            "namespace" => &mut self.namespace,
            "varReference" => &mut self.var_reference,
            "images" => &mut self.images,
            "replicas" => &mut self.replicas,
            _ => return None,
        })
    }

    /// Adds the entries of a `configurations:` file.
    pub fn merge_document(&mut self, document: &Value, _file: &str) -> Result<(), Error> {
        let Some(map) = document.as_map() else {
            return Ok(());
        };
        for (key, value) in map {
            if key == "nameReference" {
                for entry in value.as_seq().map(Vec::as_slice).unwrap_or_default() {
                    let gvk = gvk_of(entry);
                    let specs: Vec<FieldSpec> = entry
                        .get("fieldSpecs")
                        .and_then(Value::as_seq)
                        .map(|items| items.iter().map(field_spec_of).collect())
                        .unwrap_or_default();
                    match self
                        .name_reference
                        .iter_mut()
                        .find(|existing| existing.gvk == gvk)
                    {
                        Some(existing) => {
                            for spec in specs {
                                if !existing.field_specs.contains(&spec) {
                                    existing.field_specs.push(spec);
                                }
                            }
                        }
                        None => self.name_reference.push(NameBackReference {
                            gvk,
                            field_specs: specs,
                        }),
                    }
                }
                continue;
            }
            // kustomize reads these files leniently: unknown sections are ignored.
            let Some(list) = self.list_mut(key) else {
                continue;
            };
            for entry in value.as_seq().map(Vec::as_slice).unwrap_or_default() {
                let spec = field_spec_of(entry);
                if !list.contains(&spec) {
                    list.push(spec);
                }
            }
        }
        Ok(())
    }
}

/// Reads `group`/`version`/`kind` keys.
pub fn gvk_of(value: &Value) -> Gvk {
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Gvk {
        group: text("group"),
        version: text("version"),
        kind: text("kind"),
    }
}

/// Reads one field spec mapping.
pub fn field_spec_of(value: &Value) -> FieldSpec {
    FieldSpec {
        gvk: gvk_of(value),
        path: value
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        create: matches!(value.get("create"), Some(Value::Bool(true))),
    }
}

/// Splits a field path on unescaped slashes.
pub fn split_path(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut characters = path.chars().peekable();
    while let Some(character) = characters.next() {
        if character == '\\' && characters.peek() == Some(&'/') {
            current.push('/');
            characters.next();
        } else if character == '/' {
            segments.push(std::mem::take(&mut current));
        } else {
            current.push(character);
        }
    }
    segments.push(current);
    segments
        .into_iter()
        .filter(|segment| !segment.is_empty())
        .collect()
}

/// Applies `set` to every field the path reaches, creating missing fields when `create`.
///
/// Sequences met on the way are traversed element by element, as kustomize does.
pub fn apply_path(
    value: &mut Value,
    segments: &[String],
    create: bool,
    set: &mut dyn FnMut(&mut Value) -> Result<(), Error>,
) -> Result<(), Error> {
    if let Value::Seq(items) = value {
        for item in items {
            apply_path(item, segments, create, set)?;
        }
        return Ok(());
    }
    let Some((first, rest)) = segments.split_first() else {
        return set(value);
    };
    let (key, is_sequence) = match first.strip_suffix("[]") {
        Some(key) => (key, true),
        None => (first.as_str(), false),
    };
    let Some(map) = value.as_map_mut() else {
        return Ok(());
    };
    let present = map.get(key).is_some_and(|child| !child.is_null());
    if !present {
        // kustomize never creates a path that runs through a sequence.
        if !create || is_sequence || rest.iter().any(|segment| segment.ends_with("[]")) {
            return Ok(());
        }
        let fresh = if rest.is_empty() {
            Value::Null
        } else {
            Value::Map(Default::default())
        };
        map.insert(key.to_string(), fresh);
    }
    let Some(child) = map.get_mut(key) else {
        return Ok(());
    };
    if rest.is_empty() {
        if let Value::Seq(items) = child
            && is_sequence
        {
            for item in items {
                set(item)?;
            }
            return Ok(());
        }
        let result = set(child);
        // A created field the setter left empty (an image filter that matched nothing) is
        // not kept, as in kustomize.
        if !present && child.is_null() {
            map.shift_remove(key);
        }
        return result;
    }
    apply_path(child, rest, create, set)
}

/// Applies `set` through every spec that selects `gvk`.
pub fn apply_specs(
    value: &mut Value,
    gvk: &Gvk,
    specs: &[FieldSpec],
    set: &mut dyn FnMut(&mut Value) -> Result<(), Error>,
) -> Result<(), Error> {
    for spec in specs {
        if !gvk.is_selected_by(&spec.gvk) {
            continue;
        }
        apply_path(value, &split_path(&spec.path), spec.create, set)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tables_are_loaded() {
        let config = TransformerConfig::builtin();
        assert_eq!(config.name_prefix.len(), 1);
        assert!(
            config
                .common_labels
                .iter()
                .any(|spec| spec.path == "metadata/labels")
        );
        assert!(
            config
                .name_reference
                .iter()
                .any(|reference| reference.gvk.kind == "ConfigMap")
        );
    }

    #[test]
    fn escaped_slashes_stay_inside_a_key() {
        assert_eq!(
            split_path("metadata/annotations/a.b\\/c"),
            vec!["metadata", "annotations", "a.b/c"]
        );
    }
}
