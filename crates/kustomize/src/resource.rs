//! Resources as kustomize tracks them: the document plus the build-time memory of every name
//! and namespace it had, the prefixes and suffixes applied, and generator bookkeeping.

use crate::value::{Mapping, Value};

/// Group, version and kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Gvk {
    /// API group, empty for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

impl Gvk {
    /// Splits an `apiVersion` into group and version.
    pub fn from_api_version(api_version: &str, kind: &str) -> Gvk {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((group, version)) => (group.to_string(), version.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Gvk {
            group,
            version,
            kind: kind.to_string(),
        }
    }

    /// kustomize's `Gvk.String()`: `kind_version_group` with `~K`/`~V`/`~G` for blanks.
    pub fn display(&self) -> String {
        let or = |text: &str, blank: &str| {
            if text.is_empty() {
                blank.to_string()
            } else {
                text.to_string()
            }
        };
        format!(
            "{}_{}_{}",
            or(&self.kind, "~K"),
            or(&self.version, "~V"),
            or(&self.group, "~G")
        )
    }

    /// Whether this GVK matches a selector whose blank fields match anything.
    pub fn is_selected_by(&self, selector: &Gvk) -> bool {
        (selector.group.is_empty() || selector.group == self.group)
            && (selector.version.is_empty() || selector.version == self.version)
            && (selector.kind.is_empty() || selector.kind == self.kind)
    }

    /// Whether objects of this kind live outside namespaces. Like kustomize, this needs the
    /// right API group: a custom resource called `Namespace` is namespaced.
    pub fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped_kind(&self.group, &self.kind)
    }
}

/// The built-in cluster-scoped kinds of kustomize's (Kubernetes 1.21) schema, by group.
pub fn is_cluster_scoped_kind(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "",
            "Namespace" | "Node" | "PersistentVolume" | "ComponentStatus"
        ) | (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration"
        ) | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("apiregistration.k8s.io", "APIService")
            | ("certificates.k8s.io", "CertificateSigningRequest")
            | (
                "flowcontrol.apiserver.k8s.io",
                "FlowSchema" | "PriorityLevelConfiguration"
            )
            | ("networking.k8s.io", "IngressClass")
            | ("node.k8s.io", "RuntimeClass")
            | ("policy" | "extensions", "PodSecurityPolicy")
            | (
                "rbac.authorization.k8s.io",
                "ClusterRole" | "ClusterRoleBinding"
            )
            | ("scheduling.k8s.io", "PriorityClass")
            | (
                "storage.k8s.io",
                "StorageClass" | "CSIDriver" | "CSINode" | "VolumeAttachment"
            )
    )
}

/// A resource identity: GVK, name and namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResId {
    /// Group, version, kind.
    pub gvk: Gvk,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (empty when unset).
    pub namespace: String,
}

impl ResId {
    /// The namespace used for comparisons: `default` when unset on a namespaced kind.
    pub fn effective_namespace(&self) -> String {
        if self.gvk.is_cluster_scoped() {
            String::new()
        } else if self.namespace.is_empty() {
            "default".to_string()
        } else {
            self.namespace.clone()
        }
    }

    /// Same namespace after defaulting.
    pub fn namespace_equals(&self, other: &ResId) -> bool {
        self.effective_namespace() == other.effective_namespace()
    }

    /// kustomize's `ResId.String()`: `kind_version_group|namespace|name`.
    pub fn display(&self) -> String {
        let namespace = if self.namespace.is_empty() {
            "~X"
        } else {
            &self.namespace
        };
        let name = if self.name.is_empty() {
            "~N"
        } else {
            &self.name
        };
        format!("{}|{}|{}", self.gvk.display(), namespace, name)
    }
}

/// How a generated resource combines with one of the same id from a base.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Behavior {
    /// Must not exist yet.
    #[default]
    Create,
    /// Replaces the existing one.
    Replace,
    /// Merges its data into the existing one.
    Merge,
}

/// Where a resource came from or which plugin touched it (kustomize's `Origin`), recorded
/// when the top kustomization asks for `buildMetadata`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The file a resource was read from, relative to the build root.
    pub path: Option<String>,
    /// The file that configured the generator or transformer.
    pub configured_in: Option<String>,
    /// The plugin's `apiVersion`, `kind`, `metadata.name`, `metadata.namespace`.
    pub configured_by: Option<[String; 4]>,
}

impl Origin {
    /// The YAML kustomize writes for it, each line prefixed by `indent` (the first by `first`).
    pub fn to_text(&self, first: &str, indent: &str) -> String {
        let mut lines = Vec::new();
        if let Some(path) = &self.path {
            lines.push(format!("path: {path}"));
        }
        if let Some(configured_in) = &self.configured_in {
            lines.push(format!("configuredIn: {configured_in}"));
        }
        if let Some([api_version, kind, name, namespace]) = &self.configured_by {
            lines.push("configuredBy:".to_string());
            for (key, value) in [
                ("apiVersion", api_version),
                ("kind", kind),
                ("name", name),
                ("namespace", namespace),
            ] {
                if !value.is_empty() {
                    lines.push(format!("  {key}: {value}"));
                }
            }
        }
        let mut out = String::new();
        for (index, line) in lines.iter().enumerate() {
            out.push_str(if index == 0 { first } else { indent });
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// One resource in the build.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The document.
    pub value: Value,
    /// Ids the resource had before renames, oldest first (without the current one).
    pub previous_ids: Vec<ResId>,
    /// Name prefixes applied, innermost first.
    pub prefixes: Vec<String>,
    /// Name suffixes applied, innermost first.
    pub suffixes: Vec<String>,
    /// Set on generator output.
    pub behavior: Option<Behavior>,
    /// Whether a content hash must be appended to the name at the end of the build.
    pub needs_hash: bool,
    /// The file the resource came from, for error messages.
    pub source: String,
    /// Names of the `vars` bound to this resource.
    pub ref_var_names: Vec<String>,
    /// Where the resource came from (only tracked with `buildMetadata`).
    pub origin: Option<Origin>,
    /// Transformers that ran over the resource (only tracked with `buildMetadata`).
    pub transformations: Vec<Origin>,
}

impl Resource {
    /// Wraps a document.
    pub fn new(value: Value, source: &str) -> Resource {
        Resource {
            value,
            previous_ids: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            behavior: None,
            needs_hash: false,
            source: source.to_string(),
            ref_var_names: Vec::new(),
            origin: None,
            transformations: Vec::new(),
        }
    }

    /// The current GVK.
    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(
            self.value.str_at(&["apiVersion"]).unwrap_or(""),
            self.value.str_at(&["kind"]).unwrap_or(""),
        )
    }

    /// The current name.
    pub fn name(&self) -> String {
        self.value
            .str_at(&["metadata", "name"])
            .unwrap_or("")
            .to_string()
    }

    /// The current namespace.
    pub fn namespace(&self) -> String {
        self.value
            .str_at(&["metadata", "namespace"])
            .unwrap_or("")
            .to_string()
    }

    /// The current id.
    pub fn current_id(&self) -> ResId {
        ResId {
            gvk: self.gvk(),
            name: self.name(),
            namespace: self.namespace(),
        }
    }

    /// The id the resource was loaded with.
    pub fn original_id(&self) -> ResId {
        self.previous_ids
            .first()
            .cloned()
            .unwrap_or_else(|| self.current_id())
    }

    /// Remembers the current id before a rename.
    pub fn store_previous_id(&mut self) {
        let mut id = self.current_id();
        id.namespace = id.effective_namespace();
        self.previous_ids.push(id);
    }

    /// Sets `metadata.name`.
    pub fn set_name(&mut self, name: &str) {
        if let Some(map) = self.value.as_map_mut()
            && let Some(metadata) = Value::map_entry(map, "metadata")
        {
            metadata.insert("name".into(), Value::String(name.to_string()));
        }
    }

    /// The `metadata` mapping, created when absent.
    pub fn metadata_mut(&mut self) -> Option<&mut Mapping> {
        self.value
            .as_map_mut()
            .and_then(|map| Value::map_entry(map, "metadata"))
    }

    /// `metadata.labels` as pairs.
    pub fn labels(&self) -> Vec<(String, String)> {
        string_pairs(self.value.get_path(&["metadata", "labels"]))
    }

    /// `metadata.annotations` as pairs.
    pub fn annotations(&self) -> Vec<(String, String)> {
        string_pairs(self.value.get_path(&["metadata", "annotations"]))
    }

    /// Whether the prefix/suffix history matches another resource's (kustomize's
    /// `PrefixesSuffixesEquals`).
    pub fn prefixes_suffixes_equal(&self, other: &Resource, allow_empty: bool) -> bool {
        if allow_empty {
            let prefix_empty = self.prefixes.is_empty() || other.prefixes.is_empty();
            let suffix_empty = self.suffixes.is_empty() || other.suffixes.is_empty();
            (prefix_empty || same_ending(&self.prefixes, &other.prefixes))
                && (suffix_empty || same_ending(&self.suffixes, &other.suffixes))
        } else {
            same_ending(&self.prefixes, &other.prefixes)
                && same_ending(&self.suffixes, &other.suffixes)
        }
    }
}

fn same_ending(left: &[String], right: &[String]) -> bool {
    let length = left.len().min(right.len());
    if length == 0 {
        return left.len() == right.len();
    }
    left[left.len() - length..] == right[right.len() - length..]
}

fn string_pairs(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_map)
        .map(|map| {
            map.iter()
                .map(|(key, value)| (key.clone(), value.scalar_text().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}
