//! One kustomization and everything it pulls in: kustomize's `KustTarget`.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::smp::CustomSchema;

use crate::fieldspec::TransformerConfig;
use crate::kustomization::{self, Kustomization};
use crate::loader::{Loader, normalize};
use crate::resource::{Origin, ResId, Resource};
use crate::value::Value;
use crate::yaml::{parse_documents, to_yaml};
use crate::{BuildOptions, Error, generators, nameref, plugins, sort, transformers, vars};

/// Resources and configuration gathered so far.
#[derive(Debug, Default)]
pub(crate) struct Accumulator {
    pub resources: Vec<Resource>,
    pub config: TransformerConfig,
    pub vars: Vec<Value>,
    /// The `openapi` schema in force for strategic merges, when a custom one was given.
    pub schema: Option<Rc<CustomSchema>>,
}

impl Accumulator {
    /// Adds a resource, refusing a second one with the same current id.
    pub(crate) fn append(&mut self, resource: Resource) -> Result<(), Error> {
        let id = resource.current_id();
        if self
            .resources
            .iter()
            .any(|existing| ids_equal(&existing.current_id(), &id))
        {
            return Err(Error::Build(format!(
                "may not add resource with an already registered id: {}",
                id.display()
            )));
        }
        self.resources.push(resource);
        Ok(())
    }

    /// Records a var, refusing a second one of the same name.
    pub(crate) fn push_var(&mut self, var: Value) -> Result<(), Error> {
        let name = var
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if self
            .vars
            .iter()
            .any(|existing| existing.get("name").and_then(Value::as_str) == Some(name.as_str()))
        {
            return Err(Error::Build(format!("var '{name}' already encountered")));
        }
        self.vars.push(var);
        Ok(())
    }

    /// Adds many resources, refusing duplicate current ids (one pass, not one per resource).
    pub(crate) fn append_all(&mut self, resources: Vec<Resource>) -> Result<(), Error> {
        let key = |id: &ResId| (id.gvk.clone(), id.name.clone(), id.effective_namespace());
        let mut seen: std::collections::HashSet<_> = self
            .resources
            .iter()
            .map(|resource| key(&resource.current_id()))
            .collect();
        for resource in resources {
            let id = resource.current_id();
            if !seen.insert(key(&id)) {
                return Err(Error::Build(format!(
                    "may not add resource with an already registered id: {}",
                    id.display()
                )));
            }
            self.resources.push(resource);
        }
        Ok(())
    }

    /// Resources whose current or any previous id satisfies `matches`.
    pub(crate) fn matching_any_id(&self, matches: &dyn Fn(&ResId) -> bool) -> Vec<usize> {
        self.resources
            .iter()
            .enumerate()
            .filter(|(_, resource)| {
                resource.previous_ids.iter().any(matches) || matches(&resource.current_id())
            })
            .map(|(index, _)| index)
            .collect()
    }
}

/// kustomize's `ResId.Equals`: same GVK and name, same namespace after defaulting.
pub(crate) fn ids_equal(left: &ResId, right: &ResId) -> bool {
    left.gvk == right.gvk && left.name == right.name && left.namespace_equals(right)
}

/// State shared by the whole build.
pub(crate) struct Build<'options> {
    pub options: &'options BuildOptions,
    /// Kustomization directories being expanded, to detect cycles.
    stack: Vec<PathBuf>,
    /// Whether some kustomization already chose the OpenAPI schema (the first one wins).
    schema_set: bool,
    /// The custom schema chosen, if any.
    custom_schema: Option<Rc<CustomSchema>>,
    /// Set when the top kustomization has `buildMetadata`: origins are tracked relative to it.
    tracking_root: Option<PathBuf>,
}

/// Writes the origin and transformer annotations `buildMetadata` asked for.
fn annotate_build_metadata(resources: &mut [Resource], build_metadata: &[String]) {
    let keep_origin = build_metadata
        .iter()
        .any(|option| option == "originAnnotations");
    let keep_transformations = build_metadata
        .iter()
        .any(|option| option == "transformerAnnotations");
    for resource in resources {
        let origin = resource.origin.clone().filter(|_| keep_origin);
        let transformations = if keep_transformations {
            std::mem::take(&mut resource.transformations)
        } else {
            Vec::new()
        };
        if origin.is_none() && transformations.is_empty() {
            continue;
        }
        let Some(metadata) = resource.metadata_mut() else {
            continue;
        };
        let annotations = metadata
            .entry("annotations".to_string())
            .or_insert(Value::Map(Default::default()));
        if annotations.is_null() {
            *annotations = Value::Map(Default::default());
        }
        if let Value::Map(annotations) = annotations {
            if !transformations.is_empty() {
                let text: String = transformations
                    .iter()
                    .map(|origin| origin.to_text("- ", "  "))
                    .collect();
                annotations.insert(
                    "alpha.config.kubernetes.io/transformations".into(),
                    text.into(),
                );
            }
            if let Some(origin) = origin {
                annotations.insert(
                    "config.kubernetes.io/origin".into(),
                    origin.to_text("", "").into(),
                );
            }
        }
    }
}

/// A path as kustomize prints it in origin annotations: relative to the build root.
pub(crate) fn relative_to(root: &Path, path: &Path) -> String {
    let root_parts: Vec<_> = root.components().collect();
    let path_parts: Vec<_> = path.components().collect();
    let common = root_parts
        .iter()
        .zip(&path_parts)
        .take_while(|(left, right)| left == right)
        .count();
    let mut parts: Vec<String> = vec!["..".to_string(); root_parts.len() - common];
    parts.extend(
        path_parts[common..]
            .iter()
            .map(|part| part.as_os_str().to_string_lossy().to_string()),
    );
    parts.join("/")
}

pub(crate) fn build(dir: &Path, options: &BuildOptions) -> Result<String, Error> {
    let absolute = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|error| Error::Io {
                path: dir.to_path_buf(),
                message: error.to_string(),
            })?
            .join(dir)
    };
    let root = normalize(&absolute);
    if !root.is_dir() {
        return Err(Error::Io {
            path: root,
            message: "not a directory".into(),
        });
    }
    let kustomization = kustomization::load(&root)?;
    let build_metadata = kustomization.strings("buildMetadata");
    let mut state = Build {
        options,
        stack: Vec::new(),
        schema_set: false,
        custom_schema: None,
        tracking_root: (!build_metadata.is_empty()).then(|| root.clone()),
    };
    state.set_schema(&root, &kustomization, true)?;
    let mut accumulator = Accumulator::default();
    state.accumulate_target(&root, &kustomization, &mut accumulator)?;
    generators::add_hashes_to_names(&mut accumulator.resources)?;
    nameref::fix_back_references(&mut accumulator)?;
    vars::resolve(&mut accumulator)?;
    accumulator.resources.retain(|resource| {
        resource.value.str_at(&[
            "metadata",
            "annotations",
            "config.kubernetes.io/local-config",
        ]) != Some("true")
    });
    annotate_build_metadata(&mut accumulator.resources, &build_metadata);
    for resource in &mut accumulator.resources {
        stringify_annotations(&mut resource.value);
    }
    if build_metadata
        .iter()
        .any(|option| option == "managedByLabel")
    {
        for resource in &mut accumulator.resources {
            if let Some(metadata) = resource.metadata_mut()
                && let Some(labels) = Value::map_entry(metadata, "labels")
            {
                labels.insert(
                    "app.kubernetes.io/managed-by".into(),
                    "kustomize-(devel)".into(),
                );
            }
        }
    }
    sort::apply(&kustomization, &mut accumulator.resources)?;
    let mut out = String::new();
    for (index, resource) in accumulator.resources.iter().enumerate() {
        if index > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(&resource.value));
    }
    Ok(out)
}

impl Build<'_> {
    /// kustomize's `openapi.SetSchema`: `openapi: {path}` loads a custom schema,
    /// `openapi: {version}` must name the built-in one.
    fn set_schema(
        &mut self,
        dir: &Path,
        kustomization: &Kustomization,
        reset: bool,
    ) -> Result<(), Error> {
        if self.schema_set && !reset {
            return Ok(());
        }
        let Some(openapi) = kustomization.get("openapi") else {
            return Ok(());
        };
        let version = openapi.get("version").and_then(Value::scalar_text);
        if let Some(path) = openapi.get("path").and_then(Value::scalar_text) {
            let loader = Loader::new(dir, self.options.load_restrictor);
            let (file, text) = loader.read(&path)?;
            if version.is_some() {
                return Err(Error::Build(
                    "builtin version and custom schema provided, cannot use both".into(),
                ));
            }
            let documents = parse_documents(&text).map_err(|source| Error::Yaml {
                file: file.display().to_string(),
                source,
            })?;
            let document = documents.into_iter().next().unwrap_or(Value::Null);
            self.custom_schema = Some(Rc::new(CustomSchema::from_document(&document)));
            self.schema_set = true;
            return Ok(());
        }
        match version.as_deref() {
            None | Some("") => Ok(()),
            Some("v1.21.2") => {
                self.custom_schema = None;
                self.schema_set = true;
                Ok(())
            }
            Some(_) => Err(Error::Build(
                "the specified OpenAPI version is not built in".into(),
            )),
        }
    }

    /// Runs one kustomization over `accumulator` (empty for a base, shared for a component).
    pub(crate) fn accumulate_target(
        &mut self,
        dir: &Path,
        kustomization: &Kustomization,
        accumulator: &mut Accumulator,
    ) -> Result<(), Error> {
        if self.stack.iter().any(|open| open == dir) {
            return Err(Error::Cycle(dir.to_path_buf()));
        }
        if self.stack.len() > 64 {
            return Err(Error::Build(
                "kustomizations nested more than 64 deep".into(),
            ));
        }
        self.stack.push(dir.to_path_buf());
        let result = self.accumulate_inner(dir, kustomization, accumulator);
        self.stack.pop();
        result
    }

    fn accumulate_inner(
        &mut self,
        dir: &Path,
        kustomization: &Kustomization,
        accumulator: &mut Accumulator,
    ) -> Result<(), Error> {
        if !kustomization.items("validators").is_empty() {
            return Err(Error::Unsupported(
                "the 'validators' field (kustomize plugins)".into(),
            ));
        }
        let loader = Loader::new(dir, self.options.load_restrictor);
        for entry in kustomization.strings("resources") {
            self.accumulate_resource(&loader, &entry, accumulator)
                .map_err(|error| Error::Build(format!("accumulating resources: {error}")))?;
        }
        // Like kustomize: this level's tables are the defaults merged with its own
        // `configurations:`, then merged into what the bases brought.
        let mut level = TransformerConfig::builtin();
        for entry in kustomization.strings("configurations") {
            let (path, text) = loader.read(&entry)?;
            let file = path.display().to_string();
            let mut user = TransformerConfig::default();
            for document in parse_documents(&text).map_err(|source| Error::Yaml {
                file: file.clone(),
                source,
            })? {
                user.merge_document(&document, &file)?;
            }
            level.merge_from(&user)?;
        }
        accumulator.config.merge_from(&level)?;
        for entry in kustomization.strings("crds") {
            let mut crds = TransformerConfig::default();
            crate::transformers::load_crd_config(&loader, &entry, &mut crds)?;
            accumulator.config.merge_from(&crds)?;
        }
        let configured_in = self
            .tracking_root
            .as_ref()
            .map(|root| relative_to(root, Path::new(&kustomization.file)));
        generators::run(
            &loader,
            kustomization,
            accumulator,
            configured_in.as_deref(),
        )?;
        for (config, source) in
            self.plugin_configs(&loader, &kustomization.strings("generators"))?
        {
            let origin = self.tracking_root.as_ref().map(|root| {
                let file = source.unwrap_or_else(|| PathBuf::from(&kustomization.file));
                plugins::plugin_origin(&config, &relative_to(root, &file))
            });
            plugins::run_generator(&loader, &config, accumulator, origin)?;
        }
        for entry in kustomization.strings("components") {
            let path = loader.resolve(&entry);
            if is_remote(&entry) {
                return Err(Error::Unsupported(format!("remote component {entry:?}")));
            }
            if !path.is_dir() {
                return Err(Error::Build(format!(
                    "accumulating components: '{}' must be a directory holding a Component",
                    path.display()
                )));
            }
            let component = kustomization::load(&path)?;
            self.set_schema(&path, &component, false)?;
            if component.kind != "Component" {
                return Err(Error::Build(format!(
                    "accumulating components: expected kind 'Component' for path '{}' but got '{}'",
                    path.display(),
                    component.kind
                )));
            }
            self.accumulate_target(&path, &component, accumulator)?;
        }
        accumulator.schema = self.custom_schema.clone();
        transformers::run_builtin(
            &loader,
            kustomization,
            accumulator,
            configured_in.as_deref(),
        )?;
        for (config, source) in
            self.plugin_configs(&loader, &kustomization.strings("transformers"))?
        {
            plugins::run_transformer(&loader, &config, accumulator)?;
            if let Some(root) = &self.tracking_root {
                let file = source.unwrap_or_else(|| PathBuf::from(&kustomization.file));
                let origin = plugins::plugin_origin(&config, &relative_to(root, &file));
                for resource in &mut accumulator.resources {
                    resource.transformations.push(origin.clone());
                }
            }
        }
        for var in kustomization.items("vars") {
            vars::bind(accumulator, &var)?;
            accumulator.push_var(var)?;
        }
        Ok(())
    }

    /// Loads plugin configurations: inline YAML, files, or kustomization directories whose
    /// output is the configurations.
    fn plugin_configs(
        &mut self,
        loader: &Loader,
        entries: &[String],
    ) -> Result<Vec<(Value, Option<PathBuf>)>, Error> {
        let mut configs = Vec::new();
        for entry in entries {
            if entry.contains('\n') {
                let documents = parse_documents(entry).map_err(|source| Error::Yaml {
                    file: "inline plugin configuration".into(),
                    source,
                })?;
                configs.extend(
                    documents
                        .into_iter()
                        .filter(|document| !document.is_null())
                        .map(|document| (document, None)),
                );
                continue;
            }
            if is_remote(entry) {
                return Err(Error::Unsupported(format!(
                    "remote plugin configuration {entry:?}"
                )));
            }
            if loader.resolve(entry).is_dir() {
                let mut sub = Accumulator {
                    ..Default::default()
                };
                self.accumulate_resource(loader, entry, &mut sub)?;
                configs.extend(sub.resources.into_iter().map(|resource| {
                    let source = resource
                        .origin
                        .as_ref()
                        .and_then(|origin| origin.path.clone());
                    (
                        resource.value,
                        source
                            .map(|path| self.tracking_root.clone().unwrap_or_default().join(path)),
                    )
                }));
                continue;
            }
            let (path, text) = loader.read(entry)?;
            let documents = parse_documents(&text).map_err(|source| Error::Yaml {
                file: path.display().to_string(),
                source,
            })?;
            configs.extend(
                documents
                    .into_iter()
                    .filter(|document| !document.is_null())
                    .map(|document| (document, Some(path.clone()))),
            );
        }
        Ok(configs)
    }

    fn accumulate_resource(
        &mut self,
        loader: &Loader,
        entry: &str,
        accumulator: &mut Accumulator,
    ) -> Result<(), Error> {
        if is_remote(entry) {
            return Err(Error::Unsupported(format!("remote resource {entry:?}")));
        }
        let path = loader.resolve(entry);
        if path.is_dir() {
            let kustomization = kustomization::load(&path)?;
            self.set_schema(&path, &kustomization, false)?;
            if kustomization.kind == "Component" {
                return Err(Error::Build(format!(
                    "expected kind != 'Component' for path '{}'",
                    path.display()
                )));
            }
            let mut sub = Accumulator::default();
            self.accumulate_target(&path, &kustomization, &mut sub)?;
            accumulator.append_all(sub.resources)?;
            accumulator.config.merge_from(&sub.config)?;
            for var in sub.vars {
                accumulator.push_var(var)?;
            }
            return Ok(());
        }
        let (path, text) = loader.read(entry)?;
        let file = path.display().to_string();
        let mut resources = resources_from_text(&text, &file)?;
        if let Some(root) = &self.tracking_root {
            for resource in &mut resources {
                resource.origin = Some(Origin {
                    path: Some(relative_to(root, &path)),
                    ..Default::default()
                });
            }
        }
        accumulator.append_all(resources)?;
        Ok(())
    }
}

/// Whether a resource entry names a remote location.
pub(crate) fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("github.com/")
        || entry.starts_with("git@")
        || entry.starts_with("gitlab.com/")
        || entry.starts_with("bitbucket.org/")
}

/// Parses a manifest file into resources, expanding `List` kinds.
pub(crate) fn resources_from_text(text: &str, file: &str) -> Result<Vec<Resource>, Error> {
    let documents = parse_documents(text).map_err(|source| Error::Yaml {
        file: file.to_string(),
        source,
    })?;
    let mut resources = Vec::new();
    for document in documents {
        match document {
            Value::Null => {}
            Value::Map(ref map) if map.is_empty() => {}
            Value::Map(_) => {
                let kind = document.str_at(&["kind"]).unwrap_or("");
                if kind.ends_with("List") && document.get("items").is_some() {
                    for item in document
                        .get("items")
                        .and_then(Value::as_seq)
                        .cloned()
                        .unwrap_or_default()
                    {
                        resources.push(checked_resource(item, file)?);
                    }
                } else {
                    resources.push(checked_resource(document, file)?);
                }
            }
            Value::Seq(items) => {
                for item in items {
                    resources.push(checked_resource(item, file)?);
                }
            }
            _ => {
                return Err(Error::Invalid {
                    file: file.to_string(),
                    message: "a resource must be a mapping".into(),
                });
            }
        }
    }
    Ok(resources)
}

fn checked_resource(value: Value, file: &str) -> Result<Resource, Error> {
    if !matches!(value, Value::Map(_)) {
        return Err(Error::Invalid {
            file: file.to_string(),
            message: "a resource must be a mapping".into(),
        });
    }
    if value.str_at(&["kind"]).unwrap_or("").is_empty() {
        return Err(Error::Invalid {
            file: file.to_string(),
            message: "missing Resource metadata: kind".into(),
        });
    }
    if value.str_at(&["metadata", "name"]).unwrap_or("").is_empty() {
        return Err(Error::Invalid {
            file: file.to_string(),
            message: "missing metadata.name".into(),
        });
    }
    Ok(Resource::new(value, file))
}

/// kustomize rewrites every annotation map as strings when it drops its build annotations.
fn stringify_annotations(value: &mut Value) {
    if let Some(Value::Map(map)) = value
        .get_mut("metadata")
        .and_then(|metadata| metadata.get_mut("annotations"))
    {
        for (_, entry) in map.iter_mut() {
            if !matches!(entry, Value::String(_) | Value::Map(_) | Value::Seq(_)) {
                *entry = Value::String(entry.scalar_text().unwrap_or_default());
            }
        }
    }
}
