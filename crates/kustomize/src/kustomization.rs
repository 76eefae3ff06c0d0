//! Reading a kustomization file: finding it, checking its fields, refusing what we do not run.

use std::path::Path;

use crate::Error;
use crate::value::{Mapping, Value};
use crate::yaml::parse_documents_with;

/// File names kustomize accepts, in its order of preference.
pub(crate) const FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
];

/// A parsed kustomization (or component).
#[derive(Clone, Debug, Default)]
pub(crate) struct Kustomization {
    /// `Kustomization` or `Component`.
    pub kind: String,
    /// The whole document.
    pub fields: Mapping,
    /// The file, for messages.
    pub file: String,
}

impl Kustomization {
    /// A field's value.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key).filter(|value| !value.is_null())
    }

    /// A field holding a list of strings.
    pub(crate) fn strings(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::Seq(items)) => items.iter().filter_map(Value::scalar_text).collect(),
            _ => Vec::new(),
        }
    }

    /// A field holding a string.
    pub(crate) fn string(&self, key: &str) -> String {
        self.get(key)
            .and_then(Value::scalar_text)
            .unwrap_or_default()
    }

    /// A field holding a list of mappings.
    pub(crate) fn items(&self, key: &str) -> Vec<Value> {
        match self.get(key) {
            Some(Value::Seq(items)) => items.clone(),
            _ => Vec::new(),
        }
    }
}

/// Finds and parses the kustomization file of a directory.
pub(crate) fn load(dir: &Path) -> Result<Kustomization, Error> {
    let found: Vec<&str> = FILE_NAMES
        .iter()
        .copied()
        .filter(|name| dir.join(name).is_file())
        .collect();
    let name = match found.as_slice() {
        [] => {
            return Err(Error::Build(format!(
                "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{}'",
                dir.display()
            )));
        }
        [one] => *one,
        _ => {
            return Err(Error::Build(format!(
                "found multiple kustomization files under: {}",
                dir.display()
            )));
        }
    };
    let path = dir.join(name);
    let file = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|error| Error::Io {
        path: path.clone(),
        message: error.to_string(),
    })?;
    parse(&text, &file)
}

/// Parses kustomization text.
pub(crate) fn parse(text: &str, file: &str) -> Result<Kustomization, Error> {
    let documents = parse_documents_with(text, true).map_err(|source| Error::Yaml {
        file: file.to_string(),
        source,
    })?;
    let mut documents = documents.into_iter().filter(|document| !document.is_null());
    let document = documents.next().unwrap_or(Value::Map(Mapping::new()));
    if documents.next().is_some() {
        return Err(Error::Invalid {
            file: file.to_string(),
            message: "a kustomization file must hold exactly one document".into(),
        });
    }
    let Value::Map(fields) = document else {
        return Err(Error::Invalid {
            file: file.to_string(),
            message: "a kustomization must be a mapping".into(),
        });
    };
    // Go's JSON decoding matches field names case-insensitively (`nameprefix` works).
    let mut normalized = Mapping::new();
    for (key, value) in fields {
        let Some(known) = KNOWN_FIELDS
            .iter()
            .find(|known| known.eq_ignore_ascii_case(&key))
        else {
            return Err(Error::Invalid {
                file: file.to_string(),
                message: format!("invalid Kustomization: json: unknown field \"{key}\""),
            });
        };
        normalized.insert((*known).to_string(), value);
    }
    let mut fields = normalized;
    for refused in ["helmCharts", "helmChartInflationGenerator", "helmGlobals"] {
        if fields.get(refused).is_some_and(|value| !value.is_null()) {
            return Err(Error::Unsupported(format!(
                "{refused} (Helm chart inflation)"
            )));
        }
    }
    let kind = fields
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("Kustomization")
        .to_string();
    if kind != "Kustomization" && kind != "Component" {
        return Err(Error::Invalid {
            file: file.to_string(),
            message: format!("unsupported kind {kind:?} for a kustomization"),
        });
    }
    let api_version = fields
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if kind == "Component"
        && !api_version.is_empty()
        && api_version != "kustomize.config.k8s.io/v1alpha1"
    {
        return Err(Error::Invalid {
            file: file.to_string(),
            message: "apiVersion for Component should be kustomize.config.k8s.io/v1alpha1".into(),
        });
    }
    // `bases` is the old spelling of directory entries in `resources`.
    if let Some(Value::Seq(bases)) = fields.get("bases").cloned() {
        let resources = fields
            .entry("resources".into())
            .or_insert(Value::Seq(Vec::new()));
        if let Value::Seq(items) = resources {
            items.extend(bases);
        } else {
            *resources = Value::Seq(bases);
        }
    }
    Ok(Kustomization {
        kind,
        fields,
        file: file.to_string(),
    })
}
