//! `eddy config create|update|list|show|delete`.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use eddy_api::clusterconfig::v1alpha1::{
    ComplianceState, FluxConfig, FluxConfigSpec, KustomizationDefinition, ProvisioningState,
    ScopeType, SourceKind, protected_parameters_secret_name,
};
use eddy_api::meta::LocalObjectReference;
use eddy_api::meta::labels;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::{Map, Value, json};

use super::flags::{self, KustomizationValues, ScopeArg};
use super::{CreateArgs, DeleteArgs, ListArgs, ShowArgs, UpdateArgs, confirm, load, validate};
use crate::cluster::{self, ClusterArgs};
use crate::output::{self, log};

/// Name az gives the kustomization it adds when none is given.
const DEFAULT_KUSTOMIZATION_NAME: &str = "kustomization-1";

pub(super) async fn create(cluster_args: &ClusterArgs, args: CreateArgs) -> Result<()> {
    let target = &args.target;
    // Everything is checked before the cluster is touched: a refused command creates nothing.
    validate::resource_name(&target.name, "--name", 63)?;
    validate::namespace_name(&target.namespace)?;
    let changes = flags::git_changes(&args.source, None, true)?;
    let mut kustomizations =
        flags::parse_kustomizations(&target.name, &args.source.kustomizations)?;
    if kustomizations.is_empty() {
        log::warning(
            "Warning! No kustomizations were specified for this configuration. A kustomization \
             will be generated with the default name 'kustomization-1'.",
        );
        validate::combined_name(&target.name, DEFAULT_KUSTOMIZATION_NAME)?;
        kustomizations.insert(
            DEFAULT_KUSTOMIZATION_NAME.to_string(),
            KustomizationValues::default(),
        );
    }
    let secret_name = protected_parameters_secret_name(&target.name);
    let spec = FluxConfigSpec {
        scope: Some(match args.scope {
            ScopeArg::Cluster => ScopeType::Cluster,
            ScopeArg::Namespace => ScopeType::Namespace,
        }),
        namespace: Some(target.namespace.clone()),
        source_kind: Some(SourceKind::GitRepository),
        suspend: Some(args.source.suspend.unwrap_or(false)),
        git_repository: Some(changes.definition()),
        kustomizations: Some(
            kustomizations
                .iter()
                .map(|(name, values)| (name.clone(), values.definition()))
                .collect::<BTreeMap<String, KustomizationDefinition>>(),
        ),
        protected_parameters_secret_ref: (!changes.protected.is_empty()).then(|| {
            LocalObjectReference {
                name: secret_name.clone(),
            }
        }),
        ..FluxConfigSpec::default()
    };

    let cluster = cluster::connect(cluster_args).await?;
    let api: Api<FluxConfig> = Api::namespaced(cluster.client.clone(), &target.namespace);
    if api.get_opt(&target.name).await?.is_some() {
        bail!(
            "Error! Flux configuration '{}' already exists in namespace '{}' Change it with \
             'eddy config update' or delete it first",
            target.name,
            target.namespace
        );
    }
    ensure_namespace(&cluster.client, &target.namespace).await?;
    log::warning(&format!(
        "Creating the flux configuration '{}' in the cluster. This may take a few minutes...",
        target.name
    ));
    // The Secret first, so the agent never sees a configuration whose credentials are missing.
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), &target.namespace);
    if !changes.protected.is_empty() {
        write_protected(
            &secrets,
            &secret_name,
            &target.name,
            &target.namespace,
            &changes.protected,
        )
        .await?;
    }
    let mut config = FluxConfig::new(&target.name, spec);
    config.metadata.namespace = Some(target.namespace.clone());
    let created = api
        .create(&PostParams::default(), &config)
        .await
        .with_context(|| format!("creating flux configuration {}", target.name))?;
    if !changes.protected.is_empty() {
        own_secret(&secrets, &secret_name, &created).await?;
    }
    log::success(&format!(
        "flux configuration '{}' created in namespace '{}'",
        target.name, target.namespace
    ));
    if let Some(format) = args.source.output {
        super::print_config(format, &created)?;
    }
    Ok(())
}

pub(super) async fn update(cluster_args: &ClusterArgs, args: UpdateArgs) -> Result<()> {
    let target = &args.target;
    // Flag-only checks first, so a bad flag fails without a cluster.
    flags::supported_kind(args.source.kind)?;
    let kustomizations = flags::parse_kustomizations(&target.name, &args.source.kustomizations)?;
    let (api, existing) = load(cluster_args, target).await?;
    if existing.source_kind() != SourceKind::GitRepository {
        bail!(
            "Error! flux configuration '{}' has source kind {:?}, which eddy cannot update yet",
            target.name,
            existing.source_kind()
        );
    }
    let existing_url = existing.source_url().map(str::to_string);
    let changes = flags::git_changes(&args.source, existing_url.as_deref(), false)?;
    let _ = args.yes;

    let mut spec = Map::new();
    if let Some(suspend) = args.source.suspend {
        spec.insert("suspend".into(), Value::Bool(suspend));
    }
    let git = changes.patch();
    if !git.is_empty() {
        spec.insert("gitRepository".into(), Value::Object(git));
    }
    if !kustomizations.is_empty() {
        let mut map = Map::new();
        for (name, values) in &kustomizations {
            map.insert(name.clone(), values.patch()?);
        }
        spec.insert("kustomizations".into(), Value::Object(map));
    }
    let secret_name = protected_parameters_secret_name(&target.name);
    if !changes.protected.is_empty() {
        spec.insert(
            "protectedParametersSecretRef".into(),
            json!({"name": secret_name}),
        );
        let secrets: Api<Secret> = Api::namespaced(api_client(&api), &target.namespace);
        write_protected(
            &secrets,
            &secret_name,
            &target.name,
            &target.namespace,
            &changes.protected,
        )
        .await?;
        own_secret(&secrets, &secret_name, &existing).await?;
    }
    if spec.is_empty() {
        bail!("Error! Nothing to update: give at least one flag to change");
    }
    let updated = api
        .patch(
            &target.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": spec})),
        )
        .await
        .with_context(|| format!("updating flux configuration {}", target.name))?;
    log::success(&format!(
        "flux configuration '{}' updated in namespace '{}'",
        target.name, target.namespace
    ));
    if let Some(format) = args.source.output {
        super::print_config(format, &updated)?;
    }
    Ok(())
}

fn api_client(api: &Api<FluxConfig>) -> kube::Client {
    api.clone().into_client()
}

pub(super) async fn list(cluster_args: &ClusterArgs, args: ListArgs) -> Result<()> {
    if let Some(namespace) = &args.namespace {
        validate::namespace_name(namespace)?;
    }
    let cluster = cluster::connect(cluster_args).await?;
    let api: Api<FluxConfig> = match &args.namespace {
        Some(namespace) => Api::namespaced(cluster.client, namespace),
        None => Api::all(cluster.client),
    };
    let mut configs = api.list(&ListParams::default()).await?.items;
    configs.sort_by_key(|config| (config.namespace(), config.name_any()));
    if let Some(format) = args.output {
        let items = configs
            .iter()
            .map(super::printable)
            .collect::<Result<Vec<_>>>()?;
        return output::print_value(format, &output::list_value(items));
    }
    let rows: Vec<Vec<String>> = configs.iter().map(row).collect();
    output::print_stdout(&output::az_table(
        &[
            "Namespace",
            "Name",
            "Scope",
            "ProvisioningState",
            "ComplianceState",
            "StatusUpdatedAt",
            "SourceUpdatedAt",
        ],
        &rows,
    ))
}

/// az's table row of a configuration.
fn row(config: &FluxConfig) -> Vec<String> {
    let status = config.status.as_ref();
    let time = |time: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        time.map(|time| time.0.to_string()).unwrap_or_default()
    };
    vec![
        config.namespace().unwrap_or_default(),
        config.name_any(),
        match config.scope() {
            ScopeType::Cluster => "cluster".to_string(),
            ScopeType::Namespace => "namespace".to_string(),
        },
        status
            .and_then(|status| status.provisioning_state)
            .map(provisioning_text)
            .unwrap_or_default(),
        compliance_text(
            status
                .and_then(|status| status.compliance_state)
                .unwrap_or_default(),
        ),
        time(status.and_then(|status| status.status_updated_at.as_ref())),
        time(status.and_then(|status| status.source_updated_at.as_ref())),
    ]
}

fn provisioning_text(state: ProvisioningState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn compliance_text(state: ComplianceState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub(super) async fn show(cluster_args: &ClusterArgs, args: ShowArgs) -> Result<()> {
    let (_, config) = load(cluster_args, &args.target).await?;
    super::print_config(args.output, &config)
}

pub(super) async fn delete(cluster_args: &ClusterArgs, args: DeleteArgs) -> Result<()> {
    let target = &args.target;
    validate::resource_name(&target.name, "--name", 63)?;
    validate::namespace_name(&target.namespace)?;
    let cluster = cluster::connect(cluster_args).await?;
    let api: Api<FluxConfig> = Api::namespaced(cluster.client.clone(), &target.namespace);
    let Some(config) = api.get_opt(&target.name).await? else {
        log::warning(&format!(
            "No flux configuration with name '{}' found in namespace '{}', so nothing to delete",
            target.name, target.namespace
        ));
        return Ok(());
    };
    let prunes = config
        .spec
        .kustomizations
        .as_ref()
        .is_some_and(|kustomizations| kustomizations.values().any(|k| k.prune()));
    if prunes {
        log::warning(
            "Prune is enabled on one or more of your kustomizations. Deleting a Flux \
             configuration with prune enabled will also delete the Kubernetes objects deployed \
             by the kustomization(s).",
        );
        confirm(args.yes, "Do you want to continue?")?;
    }
    api.delete(&target.name, &DeleteParams::default())
        .await
        .with_context(|| format!("deleting flux configuration {}", target.name))?;
    let secrets: Api<Secret> = Api::namespaced(cluster.client, &target.namespace);
    match secrets
        .delete(
            &protected_parameters_secret_name(&target.name),
            &DeleteParams::default(),
        )
        .await
    {
        Ok(_) => {}
        Err(error) if cluster::is_not_found(&error) => {}
        Err(error) => return Err(error).context("deleting the protected-parameters Secret"),
    }
    log::success(&format!(
        "flux configuration '{}' deleted from namespace '{}'",
        target.name, target.namespace
    ));
    Ok(())
}

/// Creates the namespace when it does not exist yet, as Azure's agent does.
async fn ensure_namespace(client: &kube::Client, name: &str) -> Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(name).await?.is_some() {
        return Ok(());
    }
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match namespaces.create(&PostParams::default(), &namespace).await {
        Ok(_) => Ok(()),
        // Created meanwhile by someone else: fine.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error).with_context(|| format!("creating namespace {name}")),
    }
}

/// Writes the protected values (merging with keys already there), labelled with their
/// configuration. Values are never logged.
async fn write_protected(
    secrets: &Api<Secret>,
    name: &str,
    config: &str,
    namespace: &str,
    values: &BTreeMap<String, String>,
) -> Result<()> {
    let data: BTreeMap<String, ByteString> = values
        .iter()
        .map(|(key, value)| (key.clone(), ByteString(value.clone().into_bytes())))
        .collect();
    let existing = secrets.get_opt(name).await?;
    if existing.is_some() {
        secrets
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"data": data})),
            )
            .await
            .context("updating the protected-parameters Secret")?;
        return Ok(());
    }
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([
                (labels::CLUSTERCONFIG_NAME.to_string(), config.to_string()),
                (
                    labels::CLUSTERCONFIG_NAMESPACE.to_string(),
                    namespace.to_string(),
                ),
            ])),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(data),
        ..Secret::default()
    };
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .context("creating the protected-parameters Secret")?;
    Ok(())
}

/// Makes the configuration own its Secret, so deleting one removes the other.
async fn own_secret(secrets: &Api<Secret>, name: &str, config: &FluxConfig) -> Result<()> {
    let Some(owner) = config.controller_owner_ref(&()) else {
        return Ok(());
    };
    let owner = k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        controller: None,
        block_owner_deletion: None,
        ..owner
    };
    secrets
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"ownerReferences": [owner]}})),
        )
        .await
        .context("setting the owner of the protected-parameters Secret")?;
    Ok(())
}
