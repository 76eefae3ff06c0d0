//! Loading a chart from a directory the way Helm's loader does: `.helmignore` rules,
//! Chart.yaml (v1 and v2, plus v1's requirements.yaml), values.yaml, values.schema.json,
//! templates/, crds/, every other file as `.Files`, and subcharts under charts/.

use std::path::Path;

use eddy_gotemplate::{Map, Value};

use crate::Error;

/// One file of a chart, by its path relative to the chart root.
#[derive(Clone, Debug)]
pub struct ChartFile {
    /// Path relative to the chart root, with `/` separators.
    pub name: String,
    /// Contents (shared: every render hands them to `.Files` without copying).
    pub data: std::sync::Arc<[u8]>,
    /// For templates: the contents as text, decoded once when the chart is loaded
    /// (invalid UTF-8 replaced, as Go's `string(bytes)` would keep it printable).
    pub text: Option<std::sync::Arc<str>>,
}

/// A dependency declared in Chart.yaml (or requirements.yaml).
#[derive(Clone, Debug, Default)]
pub struct Dependency {
    /// The chart name.
    pub name: String,
    /// The alias it is installed under, if any.
    pub alias: Option<String>,
    /// Comma-separated value paths that enable or disable it.
    pub condition: String,
    /// Tags that enable or disable it.
    pub tags: Vec<String>,
    /// `import-values` entries, as written.
    pub import_values: Vec<Value>,
}

/// A loaded chart.
#[derive(Clone, Debug)]
pub struct Chart {
    /// The Chart.yaml contents as `.Chart` shows them (Go field names).
    pub metadata: Map,
    /// Templates (`templates/...`).
    pub templates: Vec<ChartFile>,
    /// The parsed values.yaml (a map).
    pub values: Map,
    /// values.schema.json, if present.
    pub schema: Option<Vec<u8>>,
    /// Every other file (what `.Files` sees, including crds/).
    pub files: Vec<ChartFile>,
    /// Subcharts found under charts/.
    pub dependencies: Vec<Chart>,
    /// Dependencies declared in the metadata.
    pub declared: Vec<Dependency>,
    /// The chart's name as its parent sees it (alias or name).
    pub name: String,
}

impl Chart {
    /// Whether this is a library chart (`type: library`), which renders nothing.
    pub fn is_library(&self) -> bool {
        self.metadata.get("Type").and_then(Value::as_str) == Some("library")
    }

    /// CRD files (`crds/*`), in file order.
    pub fn crds(&self) -> impl Iterator<Item = &ChartFile> {
        self.files
            .iter()
            .filter(|file| file.name.starts_with("crds/"))
    }
}

/// Loads a chart from a directory or a `.tgz` archive.
pub fn load(path: &Path) -> Result<Chart, Error> {
    if path.is_file() {
        let data = std::fs::read(path)
            .map_err(|error| Error::Chart(format!("{}: {error}", path.display())))?;
        return load_archive(&data, &path.display().to_string());
    }
    let rules = IgnoreRules::load(path);
    let mut files = Vec::new();
    walk(path, "", &rules, &mut files)?;
    from_files(files, &path.display().to_string())
}

fn walk(
    root: &Path,
    relative: &str,
    rules: &IgnoreRules,
    files: &mut Vec<ChartFile>,
) -> Result<(), Error> {
    let directory = if relative.is_empty() {
        root.to_path_buf()
    } else {
        root.join(relative)
    };
    let mut entries: Vec<_> = std::fs::read_dir(&directory)
        .map_err(|error| Error::Chart(format!("{}: {error}", directory.display())))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().to_string();
        let path = if relative.is_empty() {
            name.clone()
        } else {
            format!("{relative}/{name}")
        };
        let is_dir = entry.path().is_dir();
        if rules.ignored(&path, is_dir) {
            continue;
        }
        if is_dir {
            walk(root, &path, rules, files)?;
        } else {
            let data = std::fs::read(entry.path())
                .map_err(|error| Error::Chart(format!("{}: {error}", entry.path().display())))?;
            files.push(ChartFile {
                name: path,
                data: data.into(),
                text: None,
            });
        }
    }
    Ok(())
}

/// Largest archive Helm accepts when expanded (its `MaxDecompressedChartSize`).
const MAX_DECOMPRESSED_BYTES: u64 = 100 * 1024 * 1024;

/// Loads a gzipped tar chart archive; the archive's top directory is the chart root.
pub fn load_archive(data: &[u8], origin: &str) -> Result<Chart, Error> {
    use std::io::Read as _;
    let decoder = flate2::read::GzDecoder::new(data);
    let mut archive = tar::Archive::new(decoder.take(MAX_DECOMPRESSED_BYTES + 1));
    let mut files = Vec::new();
    let mut total: u64 = 0;
    let entries = archive
        .entries()
        .map_err(|error| Error::Chart(format!("{origin}: {error}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| Error::Chart(format!("{origin}: {error}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|error| Error::Chart(format!("{origin}: {error}")))?
            .to_string_lossy()
            .replace('\\', "/");
        let Some((_, inner)) = path.split_once('/') else {
            continue;
        };
        if inner.is_empty() || inner.split('/').any(|part| part == "..") {
            return Err(Error::Chart(format!(
                "{origin}: chart illegally contains content outside the base directory: {path:?}"
            )));
        }
        let mut contents = Vec::new();
        entry
            .read_to_end(&mut contents)
            .map_err(|error| Error::Chart(format!("{origin}: {error}")))?;
        total += contents.len() as u64;
        if total > MAX_DECOMPRESSED_BYTES {
            return Err(Error::Chart(format!(
                "{origin}: chart exceeds maximum decompressed size of {MAX_DECOMPRESSED_BYTES} bytes"
            )));
        }
        files.push(ChartFile {
            name: inner.to_string(),
            data: contents.into(),
            text: None,
        });
    }
    if files.is_empty() {
        return Err(Error::Chart(format!("{origin}: no files in chart archive")));
    }
    from_files(files, origin)
}

/// Builds a chart from its files (paths relative to the chart root).
pub fn from_files(files: Vec<ChartFile>, origin: &str) -> Result<Chart, Error> {
    let mut metadata_text = None;
    let mut requirements = None;
    let mut values = Map::new();
    let mut schema = None;
    let mut templates = Vec::new();
    let mut other = Vec::new();
    let mut sub_files: Vec<(String, Vec<ChartFile>)> = Vec::new();
    let mut archives: Vec<Chart> = Vec::new();
    for file in files {
        match file.name.as_str() {
            "Chart.yaml" => metadata_text = Some(String::from_utf8_lossy(&file.data).to_string()),
            "requirements.yaml" => {
                requirements = Some(String::from_utf8_lossy(&file.data).to_string())
            }
            "values.yaml" => {
                let text = String::from_utf8_lossy(&file.data);
                values = match crate::yaml::parse(&text) {
                    Ok(Value::Map(map)) => map.snapshot(),
                    Ok(Value::Nil) => Map::new(),
                    Ok(_) => {
                        return Err(Error::Chart(format!("{origin}: values.yaml is not a map")));
                    }
                    Err(error) => {
                        return Err(Error::Chart(format!(
                            "cannot load values.yaml: error converting YAML to JSON: {error}"
                        )));
                    }
                };
            }
            "values.schema.json" => schema = Some(file.data.to_vec()),
            "Chart.lock" | "requirements.lock" => {}
            name if name.starts_with("templates/") => {
                let text = String::from_utf8_lossy(&file.data).into();
                templates.push(ChartFile {
                    text: Some(text),
                    ..file
                });
            }
            name if name.starts_with("charts/") => {
                let rest = &name["charts/".len()..];
                let (sub, inner) = rest.split_once('/').unwrap_or((rest, ""));
                if inner.is_empty() {
                    // An archive (or stray file) directly under charts/.
                    if sub.ends_with(".tgz") || sub.ends_with(".tar.gz") {
                        archives.push(load_archive(&file.data, &format!("{origin}/charts/{sub}"))?);
                    }
                    continue;
                }
                let entry = match sub_files.iter_mut().find(|(name, _)| name == sub) {
                    Some(entry) => entry,
                    None => {
                        sub_files.push((sub.to_string(), Vec::new()));
                        let last = sub_files.len() - 1;
                        &mut sub_files[last]
                    }
                };
                entry.1.push(ChartFile {
                    name: inner.to_string(),
                    data: file.data,
                    text: None,
                });
            }
            _ => other.push(file),
        }
    }
    let Some(metadata_text) = metadata_text else {
        return Err(Error::Chart(format!(
            "{origin}: Chart.yaml file is missing"
        )));
    };
    let raw = crate::yaml::parse_documents(&metadata_text, crate::yaml::Numbers::Native)
        .map_err(|error| Error::Chart(format!("{origin}: cannot load Chart.yaml: {error}")))?
        .into_iter()
        .next()
        .unwrap_or_default();
    let Value::Map(raw) = raw else {
        return Err(Error::Chart(format!("{origin}: Chart.yaml is not a map")));
    };
    let raw = raw.snapshot();
    let metadata = metadata_from(&raw);
    let mut declared = dependencies_from(raw.get("dependencies"));
    if declared.is_empty()
        && let Some(requirements) = requirements
        && let Ok(Value::Map(map)) = crate::yaml::parse(&requirements)
    {
        declared = dependencies_from(map.get("dependencies").as_ref());
    }
    let mut dependencies = Vec::new();
    for (name, files) in sub_files {
        if !files.iter().any(|file| file.name == "Chart.yaml") {
            continue;
        }
        dependencies.push(from_files(files, &format!("{origin}/charts/{name}"))?);
    }
    dependencies.extend(archives);
    let name = metadata
        .get("Name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Chart {
        metadata,
        templates,
        values,
        schema,
        files: other,
        dependencies,
        declared,
        name,
    })
}

fn scalar_text(value: Option<&Value>) -> Value {
    match value {
        None | Some(Value::Nil) => Value::from(""),
        Some(Value::String(text)) => Value::String(text.clone()),
        Some(other) => Value::from(other.to_go_string()),
    }
}

/// Chart.yaml keys mapped to the Go field names of `chart.Metadata`.
fn metadata_from(raw: &Map) -> Map {
    let mut metadata = Map::new();
    for (field, key) in [
        ("Name", "name"),
        ("Home", "home"),
        ("Version", "version"),
        ("Description", "description"),
        ("Icon", "icon"),
        ("APIVersion", "apiVersion"),
        ("Condition", "condition"),
        ("Tags", "tags"),
        ("AppVersion", "appVersion"),
        ("KubeVersion", "kubeVersion"),
        ("Type", "type"),
    ] {
        metadata.insert(field.to_string(), scalar_text(raw.get(key)));
    }
    for (field, key) in [
        ("Sources", "sources"),
        ("Keywords", "keywords"),
        ("Maintainers", "maintainers"),
        ("Dependencies", "dependencies"),
    ] {
        let value = match raw.get(key) {
            Some(Value::List(items)) => Value::List(items.clone()),
            _ => Value::Nil,
        };
        metadata.insert(field.to_string(), value);
    }
    if let Some(Value::List(maintainers)) = raw.get("maintainers") {
        let converted: Vec<Value> = maintainers
            .iter()
            .map(|maintainer| {
                let mut out = Map::new();
                if let Value::Map(map) = maintainer {
                    for (field, key) in [("Name", "name"), ("Email", "email"), ("URL", "url")] {
                        out.insert(field.to_string(), scalar_text(map.get(key).as_ref()));
                    }
                }
                Value::from(out)
            })
            .collect();
        metadata.insert("Maintainers".to_string(), Value::from(converted));
    }
    metadata.insert(
        "Deprecated".to_string(),
        Value::Bool(matches!(raw.get("deprecated"), Some(Value::Bool(true)))),
    );
    let annotations = match raw.get("annotations") {
        Some(Value::Map(map)) => Value::from(
            map.snapshot()
                .iter()
                .map(|(key, value)| (key.clone(), scalar_text(Some(value))))
                .collect::<Map>(),
        ),
        _ => Value::Nil,
    };
    metadata.insert("Annotations".to_string(), annotations);
    metadata
}

fn dependencies_from(value: Option<&Value>) -> Vec<Dependency> {
    let Some(Value::List(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let Value::Map(map) = item else {
                return None;
            };
            let text = |key: &str| {
                map.get(key)
                    .map(|value| value.to_go_string())
                    .filter(|_| map.get(key).is_some_and(|v| !v.is_nil()))
                    .unwrap_or_default()
            };
            let tags = match map.get("tags").as_ref() {
                Some(Value::List(tags)) => tags.iter().map(Value::to_go_string).collect(),
                _ => Vec::new(),
            };
            let import_values = match map.get("import-values").as_ref() {
                Some(Value::List(values)) => values.to_vec(),
                _ => Vec::new(),
            };
            let alias = text("alias");
            Some(Dependency {
                name: text("name"),
                alias: (!alias.is_empty()).then_some(alias),
                condition: text("condition"),
                tags,
                import_values,
            })
        })
        .collect()
}

/// Helm's `.helmignore` rules (a gitignore subset matched with `filepath.Match`).
struct IgnoreRules {
    rules: Vec<IgnoreRule>,
}

struct IgnoreRule {
    pattern: String,
    negate: bool,
    must_dir: bool,
}

impl IgnoreRules {
    fn load(root: &Path) -> Self {
        let mut rules = Vec::new();
        if let Ok(text) = std::fs::read_to_string(root.join(".helmignore")) {
            for line in text.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let mut pattern = line.to_string();
                let negate = pattern.starts_with('!');
                if negate {
                    pattern = pattern[1..].to_string();
                }
                let must_dir = pattern.ends_with('/');
                if must_dir {
                    pattern = pattern.trim_end_matches('/').to_string();
                }
                if pattern.is_empty() {
                    continue;
                }
                rules.push(IgnoreRule {
                    pattern,
                    negate,
                    must_dir,
                });
            }
        }
        // Helm always ignores hidden files in templates/.
        rules.push(IgnoreRule {
            pattern: "templates/.?*".to_string(),
            negate: false,
            must_dir: false,
        });
        IgnoreRules { rules }
    }

    fn ignored(&self, path: &str, is_dir: bool) -> bool {
        for rule in &self.rules {
            let matched = rule.matches(path, is_dir);
            if rule.negate {
                if matched {
                    return false;
                }
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

impl IgnoreRule {
    fn matches(&self, path: &str, is_dir: bool) -> bool {
        if self.must_dir && !is_dir {
            return false;
        }
        if let Some(rooted) = self.pattern.strip_prefix('/') {
            return glob_match(rooted, path);
        }
        if self.pattern.contains('/') {
            return glob_match(&self.pattern, path);
        }
        let base = path.rsplit('/').next().unwrap_or(path);
        glob_match(&self.pattern, base)
    }
}

/// Go's `filepath.Match` (`*`, `?`, `[...]`, `\` escapes; `*` does not cross `/`).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    glob_at(&pattern, 0, &name, 0)
}

fn glob_at(pattern: &[char], mut p: usize, name: &[char], mut n: usize) -> bool {
    while p < pattern.len() {
        match pattern[p] {
            '*' => {
                while p < pattern.len() && pattern[p] == '*' {
                    p += 1;
                }
                if p == pattern.len() {
                    return !name[n..].contains(&'/');
                }
                let mut index = n;
                loop {
                    if glob_at(pattern, p, name, index) {
                        return true;
                    }
                    if index >= name.len() || name[index] == '/' {
                        return false;
                    }
                    index += 1;
                }
            }
            '?' => {
                if n >= name.len() || name[n] == '/' {
                    return false;
                }
                p += 1;
                n += 1;
            }
            '[' => {
                if n >= name.len() || name[n] == '/' {
                    return false;
                }
                let character = name[n];
                let mut index = p + 1;
                let negated = index < pattern.len() && pattern[index] == '^';
                if negated {
                    index += 1;
                }
                let mut matched = false;
                let mut first = true;
                while index < pattern.len() && (first || pattern[index] != ']') {
                    first = false;
                    let mut low = pattern[index];
                    if low == '\\' && index + 1 < pattern.len() {
                        index += 1;
                        low = pattern[index];
                    }
                    let mut high = low;
                    if index + 2 < pattern.len()
                        && pattern[index + 1] == '-'
                        && pattern[index + 2] != ']'
                    {
                        high = pattern[index + 2];
                        index += 2;
                    }
                    if low <= character && character <= high {
                        matched = true;
                    }
                    index += 1;
                }
                if index >= pattern.len() {
                    return false;
                }
                if matched == negated {
                    return false;
                }
                p = index + 1;
                n += 1;
            }
            '\\' if p + 1 < pattern.len() => {
                if n >= name.len() || name[n] != pattern[p + 1] {
                    return false;
                }
                p += 2;
                n += 1;
            }
            literal => {
                if n >= name.len() || name[n] != literal {
                    return false;
                }
                p += 1;
                n += 1;
            }
        }
    }
    n == name.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_follow_go_filepath_match() {
        assert!(glob_match("*.yaml", "a.yaml"));
        assert!(!glob_match("*.yaml", "dir/a.yaml"));
        assert!(glob_match("files/*.conf", "files/a.conf"));
        assert!(glob_match("templates/.?*", "templates/.hidden"));
        assert!(glob_match("[a-c]?", "b1"));
    }
}
