//! Rendering Helm charts in process, byte for byte as Helm v4 renders them.
//!
//! helm-controller has to produce exactly the manifests `helm template` would, for the
//! charts people really use, without shelling out. This crate is that renderer: it
//! loads a chart directory ([`chart`]), reads values the way Helm does (go-yaml v2
//! scalars, every number a `float64`, see [`yaml`]), coalesces user values over chart
//! defaults with Helm's rules (`null` deletes, globals flow down, disabled subcharts
//! vanish; see [`values`]), renders every template with Go's template language
//! (`eddy-gotemplate`) plus Sprig's and Helm's functions ([`functions`]), and orders the
//! result as Helm's install order does ([`manifest`]). `toYaml` reproduces
//! sigs.k8s.io/yaml's output ([`yaml_emit`]), down to quoting and line folding.
//!
//! The entry point is [`template`], mirroring `helm template`. There is no Kubernetes
//! I/O: `lookup` returns an empty map, as it does in Helm's client-only rendering.

pub mod chart;
pub mod engine;
pub mod functions;
pub mod json;
pub mod manifest;
pub mod objects;
pub mod schema;
pub mod semver;
mod sha1;
pub mod time;
pub mod time_parse;
pub mod toml;
pub mod values;
pub mod yaml;
pub mod yaml_emit;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eddy_gotemplate::{SharedMap, Value};

/// The Kubernetes version Helm's SDK assumes when no cluster is asked.
pub const DEFAULT_KUBE_VERSION: &str = "v1.36.0";

/// The API versions Helm's SDK reports by default (its built-in scheme).
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha2",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// A rendering failure, with Helm's wording.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The chart could not be loaded.
    #[error("{0}")]
    Chart(String),
    /// A values file or `--set` could not be read.
    #[error("{0}")]
    Values(String),
    /// A template failed to parse or execute.
    #[error("{0}")]
    Render(String),
    /// A rendered manifest is not valid YAML.
    #[error("{0}")]
    Manifest(String),
}

/// The options of `helm template`.
#[derive(Clone, Debug)]
pub struct TemplateOptions {
    /// Release name (`--name`, default `release-name`).
    pub release_name: String,
    /// Release namespace (`--namespace`, default `default`).
    pub namespace: String,
    /// Values files (`-f`), later ones winning.
    pub values_files: Vec<PathBuf>,
    /// `--set key=value` assignments, in order.
    pub set: Vec<String>,
    /// `--set-string key=value` assignments, in order.
    pub set_string: Vec<String>,
    /// `--kube-version`.
    pub kube_version: Option<String>,
    /// Extra `--api-versions` on top of the defaults.
    pub api_versions: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `.Release.Revision`.
    pub revision: i64,
    /// `.Release.IsUpgrade` (otherwise an install).
    pub is_upgrade: bool,
    /// Answers `lookup`; `None` renders it as an empty map (client-only, like
    /// `helm template`).
    pub lookup: Option<engine::LookupHook>,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            release_name: "release-name".to_string(),
            namespace: "default".to_string(),
            values_files: Vec::new(),
            set: Vec::new(),
            set_string: Vec::new(),
            kube_version: None,
            api_versions: Vec::new(),
            include_crds: false,
            revision: 1,
            is_upgrade: false,
            lookup: None,
        }
    }
}

/// The result of rendering a chart.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// Helm's render map: every template's output by render key
    /// (`chart/templates/x.yaml`), including NOTES.txt.
    pub templates: BTreeMap<String, String>,
    /// CRDs from `crds/` directories (path, contents), included when asked.
    pub crds: Vec<(String, String)>,
}

/// The rendered templates as a release: documents split, hooks separated, sorted.
#[derive(Clone, Debug)]
pub struct Release {
    /// Non-hook manifests in install order.
    pub manifests: Vec<manifest::Manifest>,
    /// Hook manifests, in Helm's order.
    pub hooks: Vec<manifest::Manifest>,
    /// CRDs from `crds/` directories (path, contents), included when asked.
    pub crds: Vec<(String, String)>,
}

impl Rendered {
    /// Splits and sorts the rendered templates (fails on a template that is not YAML).
    pub fn release(&self) -> Result<Release, Error> {
        let (hooks, manifests) = manifest::sort(&self.templates)?;
        Ok(Release {
            manifests,
            hooks,
            crds: self.crds.clone(),
        })
    }
}

impl Release {
    /// The release manifest: non-hook documents in install order, each as
    /// `---\n# Source: key\ndoc\n`.
    pub fn manifest(&self) -> String {
        let mut out = String::new();
        for manifest in &self.manifests {
            out.push_str(&format!(
                "---\n# Source: {}\n{}\n",
                manifest.source, manifest.content
            ));
        }
        out
    }

    /// What `helm template` prints: CRDs (if included), manifests, then hooks.
    pub fn output(&self) -> String {
        let mut out = String::new();
        for (path, content) in &self.crds {
            out.push_str(&format!("---\n# Source: {path}\n{content}\n"));
        }
        out.push_str(&self.manifest());
        for hook in &self.hooks {
            out.push_str(&format!(
                "---\n# Source: {}\n{}\n",
                hook.source, hook.content
            ));
        }
        out
    }

    /// Writes `helm template --output-dir` files: one per render key, documents
    /// appended in output order.
    pub fn write_output_dir(&self, directory: &Path) -> std::io::Result<()> {
        let mut written: BTreeMap<String, String> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        let all = self
            .crds
            .iter()
            .map(|(path, content)| (path.clone(), content.clone()))
            .chain(
                self.manifests
                    .iter()
                    .chain(self.hooks.iter())
                    .map(|m| (m.source.clone(), m.content.clone())),
            );
        for (source, content) in all {
            let entry = written.entry(source.clone()).or_insert_with(|| {
                order.push(source.clone());
                String::new()
            });
            entry.push_str(&format!("---\n# Source: {source}\n{content}\n"));
        }
        for source in order {
            let path = directory.join(&source);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, &written[&source])?;
        }
        Ok(())
    }
}

/// Reads a values file as Helm does (an empty file is an empty map).
pub fn read_values_text(text: &str, origin: &str) -> Result<SharedMap, Error> {
    match yaml::parse(text) {
        Ok(Value::Map(map)) => Ok(map),
        Ok(Value::Nil) => Ok(SharedMap::default()),
        Ok(_) => Err(Error::Values(format!(
            "failed to parse {origin}: error unmarshaling JSON: json: cannot unmarshal into Go value of type map[string]interface {{}}"
        ))),
        Err(error) => Err(Error::Values(format!(
            "failed to parse {origin}: error converting YAML to JSON: {error}"
        ))),
    }
}

/// Renders templates with already-merged user values (the SDK's `render`).
pub fn render_with_values(
    chart_path: &Path,
    user_values: &SharedMap,
    options: &TemplateOptions,
) -> Result<Rendered, Error> {
    render_chart(chart::load(chart_path)?, user_values, options)
}

/// Renders an already loaded chart with merged user values (dependencies are resolved
/// on this copy; load once and clone to render many times).
pub fn render_chart(
    mut chart: chart::Chart,
    user_values: &SharedMap,
    options: &TemplateOptions,
) -> Result<Rendered, Error> {
    let user_values = user_values.deep_copy();
    values::enable_dependencies(&mut chart, &user_values, "").map_err(Error::Values)?;
    values::import_values(&mut chart).map_err(Error::Values)?;
    let top = user_values.deep_copy();
    values::coalesce(&chart, &top, "", false).map_err(Error::Values)?;
    let mut report = String::new();
    schema::validate_chart(&chart, &Value::Map(top.clone()), &mut report).map_err(Error::Values)?;
    if !report.is_empty() {
        return Err(Error::Values(format!(
            "values don't meet the specifications of the schema(s) in the following chart(s):\n{report}"
        )));
    }
    let mut api_versions: Vec<String> = DEFAULT_API_VERSIONS
        .iter()
        .map(|version| version.to_string())
        .collect();
    api_versions.extend(options.api_versions.iter().cloned());
    let context = engine::RenderContext {
        release_name: options.release_name.clone(),
        namespace: options.namespace.clone(),
        revision: options.revision,
        is_install: !options.is_upgrade,
        is_upgrade: options.is_upgrade,
        kube_version: options
            .kube_version
            .clone()
            .unwrap_or_else(|| DEFAULT_KUBE_VERSION.to_string()),
        api_versions,
        lookup: options.lookup.clone(),
    };
    let templates = engine::render(&chart, &top, &context)?;
    let mut crds = Vec::new();
    if options.include_crds {
        collect_crds(&chart, &chart.name, &mut crds);
    }
    Ok(Rendered { templates, crds })
}

fn collect_crds(chart: &chart::Chart, path: &str, out: &mut Vec<(String, String)>) {
    for file in chart.crds() {
        out.push((
            format!("{path}/{}", file.name),
            String::from_utf8_lossy(&file.data).to_string(),
        ));
    }
    for sub in &chart.dependencies {
        collect_crds(sub, &format!("{path}/charts/{}", sub.name), out);
    }
}

/// `helm template CHART` with `options`: render, then split and sort into a release
/// (print it with [`Release::output`]).
pub fn template(chart_path: &Path, options: &TemplateOptions) -> Result<Release, Error> {
    let user = SharedMap::default();
    for file in &options.values_files {
        let text = std::fs::read_to_string(file)
            .map_err(|error| Error::Values(format!("{}: {error}", file.display())))?;
        let values = read_values_text(&text, &file.display().to_string())?;
        merge_user_values(&user, &values);
    }
    for assignment in &options.set {
        manifest::apply_set(&user, assignment, false).map_err(Error::Values)?;
    }
    for assignment in &options.set_string {
        manifest::apply_set(&user, assignment, true).map_err(Error::Values)?;
    }
    render_with_values(chart_path, &user, options)?.release()
}

/// Helm's `mergeMaps` for successive values files: maps merge, everything else replaces.
fn merge_user_values(destination: &SharedMap, source: &SharedMap) {
    for (key, value) in source.snapshot() {
        if let Value::Map(source_map) = &value
            && let Some(Value::Map(destination_map)) = destination.get(&key)
        {
            merge_user_values(&destination_map, source_map);
            continue;
        }
        destination.insert(key, value);
    }
}
