//! Pure translation of a FluxConfig into the Flux objects it stands for: the source named
//! `<config>` and one Kustomization `<config>-<key>` per entry, with Azure's defaults, labels
//! and owner references. No I/O: the reconciler applies what this returns.

use std::collections::BTreeMap;

use eddy_api::clusterconfig::v1alpha1::{
    FLUX_APPLIER_SERVICE_ACCOUNT, FluxConfig, KustomizationDefinition, NameTooLong,
    NegativeSeconds, OCIRepositoryRefDefinition, ScopeType, SourceKind,
    USE_MANAGED_SOURCE_ANNOTATION, check_combined_name_length, kustomization_name,
    normalize_git_url, seconds_to_flux_duration, seconds_to_flux_timeout, source_name,
};
use eddy_api::meta::labels::{
    CLUSTERCONFIG_IS_MANAGED, CLUSTERCONFIG_NAME, CLUSTERCONFIG_NAMESPACE,
};
use kube::Resource;
use serde_json::{Map, Value, json};

/// API version of Flux's source kinds.
pub const SOURCE_API_VERSION: &str = "source.toolkit.fluxcd.io/v1";
/// API version of Flux's Kustomization.
pub const KUSTOMIZATION_API_VERSION: &str = "kustomize.toolkit.fluxcd.io/v1";

/// Why a FluxConfig cannot be turned into Flux objects; each needs a spec change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenerateError {
    /// The block `sourceKind` selects is missing.
    #[error("sourceKind is {kind} but spec.{field} is not set")]
    MissingSource {
        /// The selected kind.
        kind: &'static str,
        /// The spec field that should hold it.
        field: &'static str,
    },
    /// `<config>-<key>` would not be a valid name.
    #[error(transparent)]
    NameTooLong(#[from] NameTooLong),
    /// A duration is negative.
    #[error("{field}: {source}")]
    Negative {
        /// Which field.
        field: String,
        /// The value.
        source: NegativeSeconds,
    },
    /// `dependsOn` names a key the map does not have.
    #[error(
        "kustomization {key:?} depends on {dependency:?}, which is not a kustomization of this configuration"
    )]
    UnknownDependency {
        /// The kustomization.
        key: String,
        /// The missing dependency.
        dependency: String,
    },
    /// A reference would leave the configuration's namespace (multi-tenancy).
    #[error("{0}")]
    CrossNamespace(String),
}

/// How the objects are generated, beyond the FluxConfig itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerateOptions {
    /// `--multi-tenancy`: Kustomizations impersonate `flux-applier`.
    pub multi_tenancy: bool,
    /// The Secret the source reads credentials from, if any.
    pub secret_ref: Option<String>,
}

/// Name and namespace of the FluxConfig object itself (what labels point back to).
fn config_identity(config: &FluxConfig) -> (String, String) {
    (
        config.metadata.name.clone().unwrap_or_default(),
        config.metadata.namespace.clone().unwrap_or_default(),
    )
}

/// The namespace the objects are generated in.
pub fn target_namespace(config: &FluxConfig) -> String {
    config
        .configuration_namespace()
        .unwrap_or_default()
        .to_string()
}

/// The labels every object generated for `config` carries; the watches map objects back to
/// their FluxConfig through `/name` and `/namespace`.
pub fn managed_labels(config: &FluxConfig) -> BTreeMap<String, String> {
    let (name, namespace) = config_identity(config);
    BTreeMap::from([
        (CLUSTERCONFIG_IS_MANAGED.to_string(), "true".to_string()),
        (CLUSTERCONFIG_NAME.to_string(), name),
        (CLUSTERCONFIG_NAMESPACE.to_string(), namespace),
    ])
}

/// The label selector matching the objects generated for `config`.
pub fn managed_selector(config: &FluxConfig) -> String {
    managed_labels(config)
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The owner reference to the FluxConfig (controller, blocking deletion), for objects in its
/// own namespace; none across namespaces, where Kubernetes owner references cannot point.
pub fn owner_references(config: &FluxConfig, namespace: &str) -> Option<Value> {
    let uid = config.metadata.uid.as_deref()?;
    if config.metadata.namespace.as_deref() != Some(namespace) {
        return None;
    }
    Some(json!([{
        "apiVersion": FluxConfig::api_version(&()),
        "kind": FluxConfig::kind(&()),
        "name": config.metadata.name.clone().unwrap_or_default(),
        "uid": uid,
        "controller": true,
        "blockOwnerDeletion": true,
    }]))
}

/// `metadata` of a generated object.
pub fn metadata(config: &FluxConfig, name: &str, namespace: &str) -> Value {
    let mut metadata = json!({
        "name": name,
        "namespace": namespace,
        "labels": managed_labels(config),
    });
    if let Some(owners) = owner_references(config, namespace) {
        metadata["ownerReferences"] = owners;
    }
    metadata
}

fn duration(field: &str, seconds: i64) -> Result<String, GenerateError> {
    seconds_to_flux_duration(seconds).map_err(|source| GenerateError::Negative {
        field: field.to_string(),
        source,
    })
}

/// Checks what generation needs, so a bad spec fails before anything is written.
pub fn validate(config: &FluxConfig, options: &GenerateOptions) -> Result<(), GenerateError> {
    let name = config.metadata.name.clone().unwrap_or_default();
    let kustomizations = config.spec.kustomizations.clone().unwrap_or_default();
    for (key, definition) in &kustomizations {
        check_combined_name_length(&name, key)?;
        for dependency in definition.depends_on.iter().flatten() {
            if !kustomizations.contains_key(dependency) {
                return Err(GenerateError::UnknownDependency {
                    key: key.clone(),
                    dependency: dependency.clone(),
                });
            }
        }
    }
    if options.multi_tenancy {
        let own = config.metadata.namespace.as_deref().unwrap_or_default();
        let target = target_namespace(config);
        if target != own {
            return Err(GenerateError::CrossNamespace(format!(
                "multi-tenancy: spec.namespace {target:?} differs from the FluxConfig's namespace {own:?}; cross-namespace references are not allowed"
            )));
        }
        let local_refs = [
            config
                .spec
                .git_repository
                .as_ref()
                .and_then(|git| git.local_auth_ref.as_deref()),
            config
                .spec
                .bucket
                .as_ref()
                .and_then(|bucket| bucket.local_auth_ref.as_deref()),
            config
                .spec
                .azure_blob
                .as_ref()
                .and_then(|blob| blob.local_auth_ref.as_deref()),
            config
                .spec
                .oci_repository
                .as_ref()
                .and_then(|oci| oci.local_auth_ref.as_deref()),
        ];
        if let Some(reference) = local_refs.into_iter().flatten().find(|r| r.contains('/')) {
            return Err(GenerateError::CrossNamespace(format!(
                "multi-tenancy: localAuthRef {reference:?} must name a Secret in the configuration namespace"
            )));
        }
    }
    source(config, options).map(|_| ())
}

/// The source object (GitRepository, Bucket or OCIRepository) named `<config>`.
pub fn source(config: &FluxConfig, options: &GenerateOptions) -> Result<Value, GenerateError> {
    let name = source_name(&config.metadata.name.clone().unwrap_or_default());
    let namespace = target_namespace(config);
    let kind = config.source_kind();
    let missing = |field| GenerateError::MissingSource {
        kind: kind_label(kind),
        field,
    };
    let mut spec = Map::new();
    let (interval, timeout) = match kind {
        SourceKind::GitRepository => {
            let git = config
                .spec
                .git_repository
                .as_ref()
                .ok_or_else(|| missing("gitRepository"))?;
            spec.insert("url".into(), json!(normalize_git_url(&git.url)));
            let reference = git.repository_ref.clone().unwrap_or_default().to_flux_ref();
            spec.insert(
                "ref".into(),
                serde_json::to_value(reference).unwrap_or_default(),
            );
            if let Some(provider) = git.provider.filter(|p| *p != Default::default()) {
                spec.insert(
                    "provider".into(),
                    serde_json::to_value(provider.flux_provider()).unwrap_or_default(),
                );
            }
            (git.sync_interval_in_seconds(), git.timeout_in_seconds())
        }
        SourceKind::Bucket => {
            let bucket = config
                .spec
                .bucket
                .as_ref()
                .ok_or_else(|| missing("bucket"))?;
            let (endpoint, plain_http) = endpoint_of(&bucket.url);
            spec.insert("provider".into(), json!("generic"));
            spec.insert("bucketName".into(), json!(bucket.bucket_name));
            spec.insert("endpoint".into(), json!(endpoint));
            spec.insert(
                "insecure".into(),
                json!(bucket.insecure.unwrap_or(true) || plain_http),
            );
            (
                bucket.sync_interval_in_seconds.unwrap_or(600),
                bucket.timeout_in_seconds.unwrap_or(600),
            )
        }
        SourceKind::AzureBlob => {
            let blob = config
                .spec
                .azure_blob
                .as_ref()
                .ok_or_else(|| missing("azureBlob"))?;
            spec.insert("provider".into(), json!("azure"));
            spec.insert(
                "bucketName".into(),
                json!(blob.container_name.clone().unwrap_or_default()),
            );
            spec.insert("endpoint".into(), json!(blob.url));
            (
                blob.sync_interval_in_seconds.unwrap_or(600),
                blob.timeout_in_seconds.unwrap_or(600),
            )
        }
        SourceKind::OciRepository => {
            let oci = config
                .spec
                .oci_repository
                .as_ref()
                .ok_or_else(|| missing("ociRepository"))?;
            spec.insert("url".into(), json!(oci.url));
            spec.insert(
                "ref".into(),
                oci_ref(oci.repository_ref.as_ref().cloned().unwrap_or_default()),
            );
            if let Some(selector) = &oci.layer_selector {
                spec.insert(
                    "layerSelector".into(),
                    serde_json::to_value(selector).unwrap_or_default(),
                );
            }
            if let Some(insecure) = oci.insecure {
                spec.insert("insecure".into(), json!(insecure));
            }
            if let Some(account) = &oci.service_account_name {
                spec.insert("serviceAccountName".into(), json!(account));
            }
            if oci.use_workload_identity == Some(true) {
                spec.insert("provider".into(), json!("azure"));
            }
            (
                oci.sync_interval_in_seconds.unwrap_or(600),
                oci.timeout_in_seconds.unwrap_or(600),
            )
        }
    };
    spec.insert(
        "interval".into(),
        json!(duration("syncIntervalInSeconds", interval)?),
    );
    // Source timeouts allow no hours in Flux's pattern.
    let timeout = seconds_to_flux_timeout(timeout).map_err(|source| GenerateError::Negative {
        field: "timeoutInSeconds".into(),
        source,
    })?;
    spec.insert("timeout".into(), json!(timeout));
    if let Some(secret) = &options.secret_ref {
        spec.insert("secretRef".into(), json!({"name": secret}));
    }
    spec.insert("suspend".into(), json!(config.suspend()));
    Ok(json!({
        "apiVersion": SOURCE_API_VERSION,
        "kind": kind.flux_kind(),
        "metadata": metadata(config, &name, &namespace),
        "spec": spec,
    }))
}

fn kind_label(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::GitRepository => "GitRepository",
        SourceKind::Bucket => "Bucket",
        SourceKind::AzureBlob => "AzureBlob",
        SourceKind::OciRepository => "OCIRepository",
    }
}

/// A bucket URL as Flux's `endpoint` (host[:port], no scheme) and whether it was plain HTTP.
fn endpoint_of(url: &str) -> (String, bool) {
    if let Some(rest) = url.strip_prefix("http://") {
        (rest.trim_end_matches('/').to_string(), true)
    } else {
        let rest = url.strip_prefix("https://").unwrap_or(url);
        (rest.trim_end_matches('/').to_string(), false)
    }
}

/// The OCI reference with ARM's precedence, digest > semver > tag, `latest` by default.
fn oci_ref(reference: OCIRepositoryRefDefinition) -> Value {
    let set = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    if let Some(digest) = set(&reference.digest) {
        json!({"digest": digest})
    } else if let Some(semver) = set(&reference.semver) {
        json!({"semver": semver})
    } else {
        json!({"tag": set(&reference.tag).unwrap_or_else(|| "latest".to_string())})
    }
}

/// One Kustomization per entry of `spec.kustomizations`, keyed by generated name.
pub fn kustomizations(
    config: &FluxConfig,
    options: &GenerateOptions,
) -> Result<BTreeMap<String, Value>, GenerateError> {
    let name = config.metadata.name.clone().unwrap_or_default();
    let mut generated = BTreeMap::new();
    for (key, definition) in config.spec.kustomizations.iter().flatten() {
        check_combined_name_length(&name, key)?;
        let object = kustomization(config, key, definition, options)?;
        generated.insert(kustomization_name(&name, key), object);
    }
    Ok(generated)
}

fn kustomization(
    config: &FluxConfig,
    key: &str,
    definition: &KustomizationDefinition,
    options: &GenerateOptions,
) -> Result<Value, GenerateError> {
    let config_name = config.metadata.name.clone().unwrap_or_default();
    let namespace = target_namespace(config);
    let kind = config.source_kind().flux_kind();
    let source = source_name(&config_name);
    let field = |name: &str| format!("kustomizations.{key}.{name}");
    let mut spec = Map::new();
    spec.insert(
        "sourceRef".into(),
        json!({"kind": kind, "name": source, "namespace": namespace}),
    );
    spec.insert("path".into(), json!(definition.path()));
    spec.insert(
        "interval".into(),
        json!(duration(
            &field("syncIntervalInSeconds"),
            definition.sync_interval_in_seconds()
        )?),
    );
    spec.insert(
        "retryInterval".into(),
        json!(duration(
            &field("retryIntervalInSeconds"),
            definition.retry_interval_in_seconds()
        )?),
    );
    spec.insert(
        "timeout".into(),
        json!(duration(
            &field("timeoutInSeconds"),
            definition.timeout_in_seconds()
        )?),
    );
    spec.insert("prune".into(), json!(definition.prune()));
    spec.insert("force".into(), json!(definition.force()));
    spec.insert("wait".into(), json!(definition.wait()));
    spec.insert("suspend".into(), json!(config.suspend()));
    let depends_on: Vec<Value> = definition
        .depends_on
        .iter()
        .flatten()
        .map(|dependency| json!({"name": kustomization_name(&config_name, dependency)}))
        .collect();
    if !depends_on.is_empty() {
        spec.insert("dependsOn".into(), Value::Array(depends_on));
    }
    if let Some(post_build) = &definition.post_build {
        spec.insert(
            "postBuild".into(),
            serde_json::to_value(post_build).unwrap_or_default(),
        );
    }
    if options.multi_tenancy {
        spec.insert(
            "serviceAccountName".into(),
            json!(FLUX_APPLIER_SERVICE_ACCOUNT),
        );
    }
    if config.source_kind() == SourceKind::GitRepository {
        spec.insert(
            "patches".into(),
            json!([managed_source_patch(&source, &namespace)]),
        );
    }
    Ok(json!({
        "apiVersion": KUSTOMIZATION_API_VERSION,
        "kind": "Kustomization",
        "metadata": metadata(config, &kustomization_name(&config_name, key), &namespace),
        "spec": spec,
    }))
}

/// Azure's managed-source patch: HelmReleases annotated
/// `clusterconfig.azure.com/use-managed-source: "true"` take their chart from the
/// configuration's own GitRepository.
pub fn managed_source_patch(source: &str, namespace: &str) -> Value {
    let operations = json!([{
        "op": "add",
        "path": "/spec/chart/spec/sourceRef",
        "value": {"kind": "GitRepository", "name": source, "namespace": namespace},
    }]);
    json!({
        "patch": operations.to_string(),
        "target": {
            "group": "helm.toolkit.fluxcd.io",
            "kind": "HelmRelease",
            "annotationSelector": format!("{USE_MANAGED_SOURCE_ANNOTATION}=true"),
        },
    })
}

/// Whether the RBAC for `flux-applier` is cluster-wide for this configuration.
pub fn cluster_scoped(config: &FluxConfig) -> bool {
    config.scope() == ScopeType::Cluster
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: serde_json::Value) -> FluxConfig {
        serde_json::from_value(yaml).unwrap_or_else(|error| panic!("{error}"))
    }

    fn basic() -> FluxConfig {
        config(json!({
            "apiVersion": "clusterconfig.azure.com/v1alpha1", "kind": "FluxConfig",
            "metadata": {"name": "cc", "namespace": "team", "uid": "u-1"},
            "spec": {
                "gitRepository": {"url": "git@github.com:org/repo.git",
                    "repositoryRef": {"branch": "main", "tag": "v1"}},
                "kustomizations": {
                    "infra": {"path": "./infra"},
                    "apps": {"path": "./apps", "dependsOn": ["infra"], "prune": true,
                        "syncIntervalInSeconds": 30, "wait": false},
                },
            },
        }))
    }

    #[test]
    fn the_source_gets_azure_defaults_and_a_rewritten_url() {
        let options = GenerateOptions {
            multi_tenancy: true,
            secret_ref: Some("cc-auth".into()),
        };
        let source = source(&basic(), &options).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(source["kind"], "GitRepository");
        assert_eq!(source["metadata"]["name"], "cc");
        assert_eq!(source["spec"]["url"], "ssh://git@github.com/org/repo.git");
        assert_eq!(source["spec"]["ref"], json!({"tag": "v1"}));
        assert_eq!(source["spec"]["interval"], "10m0s");
        assert_eq!(source["spec"]["timeout"], "10m0s");
        assert_eq!(source["spec"]["secretRef"], json!({"name": "cc-auth"}));
        assert_eq!(source["spec"]["suspend"], false);
        assert_eq!(
            source["metadata"]["ownerReferences"][0]["controller"],
            json!(true)
        );
    }

    #[test]
    fn kustomizations_get_defaults_generated_names_and_rewritten_dependencies() {
        let options = GenerateOptions {
            multi_tenancy: true,
            secret_ref: None,
        };
        let generated = kustomizations(&basic(), &options).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&String> = generated.keys().collect();
        assert_eq!(names, ["cc-apps", "cc-infra"]);
        let infra = &generated["cc-infra"]["spec"];
        assert_eq!(infra["interval"], "10m0s");
        assert_eq!(infra["retryInterval"], "10m0s");
        assert_eq!(infra["timeout"], "10m0s");
        assert_eq!(infra["prune"], false);
        assert_eq!(infra["wait"], true);
        assert_eq!(infra["serviceAccountName"], "flux-applier");
        assert_eq!(
            infra["sourceRef"],
            json!({"kind": "GitRepository", "name": "cc", "namespace": "team"})
        );
        let apps = &generated["cc-apps"]["spec"];
        assert_eq!(apps["interval"], "30s");
        assert_eq!(apps["retryInterval"], "30s");
        assert_eq!(apps["dependsOn"], json!([{"name": "cc-infra"}]));
        assert_eq!(apps["wait"], false);
        assert_eq!(apps["prune"], true);
    }

    #[test]
    fn an_unknown_dependency_or_a_foreign_namespace_is_refused() {
        let mut bad = basic();
        if let Some(all) = bad.spec.kustomizations.as_mut()
            && let Some(apps) = all.get_mut("apps")
        {
            apps.depends_on = Some(vec!["nope".into()]);
        }
        let options = GenerateOptions {
            multi_tenancy: true,
            secret_ref: None,
        };
        assert!(matches!(
            validate(&bad, &options),
            Err(GenerateError::UnknownDependency { .. })
        ));
        let mut foreign = basic();
        foreign.spec.namespace = Some("elsewhere".into());
        assert!(matches!(
            validate(&foreign, &options),
            Err(GenerateError::CrossNamespace(_))
        ));
        let relaxed = GenerateOptions::default();
        assert_eq!(validate(&foreign, &relaxed), Ok(()));
        let owners = source(&foreign, &relaxed).unwrap_or_else(|e| panic!("{e}"));
        assert!(owners["metadata"].get("ownerReferences").is_none());
    }

    #[test]
    fn oci_and_bucket_sources_follow_their_kinds() {
        let oci = config(json!({
            "apiVersion": "clusterconfig.azure.com/v1alpha1", "kind": "FluxConfig",
            "metadata": {"name": "o", "namespace": "n"},
            "spec": {"sourceKind": "OCIRepository",
                "ociRepository": {"url": "oci://reg/app", "repositoryRef": {"tag": "v1", "semver": "1.x"}}},
        }));
        let source = source(&oci, &GenerateOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(source["kind"], "OCIRepository");
        assert_eq!(source["spec"]["ref"], json!({"semver": "1.x"}));
        let bucket = config(json!({
            "apiVersion": "clusterconfig.azure.com/v1alpha1", "kind": "FluxConfig",
            "metadata": {"name": "b", "namespace": "n"},
            "spec": {"sourceKind": "Bucket",
                "bucket": {"url": "https://s3.example.com", "bucketName": "x"}},
        }));
        let source =
            super::source(&bucket, &GenerateOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(source["kind"], "Bucket");
        assert_eq!(source["spec"]["endpoint"], "s3.example.com");
        let missing = config(json!({
            "apiVersion": "clusterconfig.azure.com/v1alpha1", "kind": "FluxConfig",
            "metadata": {"name": "m", "namespace": "n"},
            "spec": {"sourceKind": "Bucket"},
        }));
        assert!(matches!(
            super::source(&missing, &GenerateOptions::default()),
            Err(GenerateError::MissingSource { .. })
        ));
    }
}
