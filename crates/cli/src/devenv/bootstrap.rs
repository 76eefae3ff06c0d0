//! What `eddy dev up` puts into the dev cluster once it serves: Eddy's CRDs, the namespace and
//! the FluxConfig `cluster-config` pointing at the demo repository. Then it watches the
//! FluxConfig until the configuration is Compliant, printing progress as it changes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use eddy_api::clusterconfig::v1alpha1::{
    ComplianceState, FluxConfig, FluxConfigSpec, GitRepositoryDefinition, KustomizationDefinition,
    RepositoryRefDefinition, ScopeType, SourceKind,
};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

/// The FluxConfig `eddy dev up` creates, and its namespace.
pub(crate) const CONFIG_NAME: &str = "cluster-config";
pub(crate) const CONFIG_NAMESPACE: &str = "cluster-config";
/// The field manager of everything `eddy dev up` writes.
const FIELD_MANAGER: &str = "eddy-dev";

/// Intervals suited to a demo: a pushed commit is picked up within seconds.
const SOURCE_INTERVAL_SECONDS: i64 = 10;
const KUSTOMIZATION_INTERVAL_SECONDS: i64 = 60;
const RETRY_INTERVAL_SECONDS: i64 = 10;
const TIMEOUT_SECONDS: i64 = 120;

/// A client for the cluster the kubeconfig at `path` names.
pub(crate) async fn client(path: &Path) -> Result<kube::Client> {
    let path = path
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", path.display()))?;
    let config = eddy_runtime::client::load_config(path)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    kube::Client::try_from(config).context("building the Kubernetes client")
}

/// Waits until the API server answers; `alive` says why its process no longer runs.
pub(crate) async fn wait_for_api(
    kubeconfig: &Path,
    timeout: Duration,
    alive: impl Fn() -> Result<(), String>,
) -> Result<kube::Client> {
    let deadline = Instant::now() + timeout;
    let mut last_error = String::from("no kubeconfig yet");
    while Instant::now() < deadline {
        if let Err(why) = alive() {
            bail!("the dev cluster stopped ({why}): {last_error}");
        }
        if kubeconfig.exists() {
            match client(kubeconfig).await {
                Ok(client) => match client.apiserver_version().await {
                    Ok(_) => return Ok(client),
                    Err(error) => last_error = error.to_string(),
                },
                Err(error) => last_error = format!("{error:#}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the dev cluster did not answer within {timeout:?}: {last_error}")
}

/// Installs (or updates) every Eddy CRD.
pub(crate) async fn install_crds(client: &kube::Client) -> Result<usize> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let crds = eddy_api::crds::all();
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(crd))
            .await
            .with_context(|| format!("installing CRD {name}"))?;
    }
    Ok(crds.len())
}

/// The demo configuration, as `eddy config create -n cluster-config --namespace cluster-config
/// -u <git-url> --branch main --kustomization name=infra path=./infra prune=true
/// --kustomization name=apps path=./apps prune=true depends_on=infra` writes it, with short
/// intervals.
pub(crate) fn demo_config(git_url: &str) -> FluxConfig {
    let kustomization = |path: &str, depends_on: Option<Vec<String>>| KustomizationDefinition {
        path: Some(path.to_string()),
        depends_on,
        timeout_in_seconds: Some(TIMEOUT_SECONDS),
        sync_interval_in_seconds: Some(KUSTOMIZATION_INTERVAL_SECONDS),
        retry_interval_in_seconds: Some(RETRY_INTERVAL_SECONDS),
        prune: Some(true),
        ..KustomizationDefinition::default()
    };
    let kustomizations = BTreeMap::from([
        ("infra".to_string(), kustomization("./infra", None)),
        (
            "apps".to_string(),
            kustomization("./apps", Some(vec!["infra".to_string()])),
        ),
    ]);
    FluxConfig {
        metadata: ObjectMeta {
            name: Some(CONFIG_NAME.to_string()),
            namespace: Some(CONFIG_NAMESPACE.to_string()),
            ..ObjectMeta::default()
        },
        spec: FluxConfigSpec {
            scope: Some(ScopeType::Cluster),
            namespace: Some(CONFIG_NAMESPACE.to_string()),
            source_kind: Some(SourceKind::GitRepository),
            suspend: Some(false),
            git_repository: Some(GitRepositoryDefinition {
                url: git_url.to_string(),
                timeout_in_seconds: Some(TIMEOUT_SECONDS),
                sync_interval_in_seconds: Some(SOURCE_INTERVAL_SECONDS),
                repository_ref: Some(RepositoryRefDefinition {
                    branch: Some(super::demo::BRANCH.to_string()),
                    ..RepositoryRefDefinition::default()
                }),
                ..GitRepositoryDefinition::default()
            }),
            kustomizations: Some(kustomizations),
            ..FluxConfigSpec::default()
        },
        status: None,
    }
}

/// Creates the namespace and the demo FluxConfig unless the FluxConfig exists: once created it
/// is the user's to change (`eddy config update`), and a restart must not undo that.
pub(crate) async fn ensure_demo_config(client: &kube::Client, git_url: &str) -> Result<bool> {
    let configs: Api<FluxConfig> = Api::namespaced(client.clone(), CONFIG_NAMESPACE);
    if configs.get_opt(CONFIG_NAME).await?.is_some() {
        return Ok(false);
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(CONFIG_NAMESPACE.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .patch(
            CONFIG_NAMESPACE,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&namespace),
        )
        .await
        .context("creating namespace cluster-config")?;
    configs
        .create(&PostParams::default(), &demo_config(git_url))
        .await
        .context("creating FluxConfig cluster-config")?;
    Ok(true)
}

/// One line per object of the configuration, as the progress display prints them.
fn progress_lines(config: &FluxConfig) -> Vec<String> {
    let Some(status) = &config.status else {
        return vec!["◎ waiting for flux-config-agent to pick up the configuration".to_string()];
    };
    let mut lines = Vec::new();
    let state = status
        .compliance_state
        .map(compliance_name)
        .unwrap_or("Unknown");
    lines.push(format!("◎ cluster-config: {state}"));
    for object in status.statuses.iter().flatten() {
        let message = object
            .status_conditions
            .iter()
            .flatten()
            .find(|condition| condition.condition_type.as_deref() == Some("Ready"))
            .and_then(|condition| condition.message.clone())
            .unwrap_or_default();
        lines.push(format!(
            "  {} {}/{}: {} {}",
            object.kind.as_deref().unwrap_or_default(),
            object.namespace.as_deref().unwrap_or_default(),
            object.name.as_deref().unwrap_or_default(),
            object
                .compliance_state
                .map(compliance_name)
                .unwrap_or("Unknown"),
            message
        ));
    }
    lines
}

fn compliance_name(state: ComplianceState) -> &'static str {
    match state {
        ComplianceState::Compliant => "Compliant",
        ComplianceState::NonCompliant => "Non-Compliant",
        ComplianceState::Pending => "Pending",
        ComplianceState::Suspended => "Suspended",
        ComplianceState::Unknown => "Unknown",
    }
}

/// Waits until the demo configuration is Compliant at its current generation, printing each
/// change of its progress; `healthy` reports a supervised process that stopped.
pub(crate) async fn wait_until_compliant(
    client: &kube::Client,
    timeout: Duration,
    healthy: impl Fn() -> Result<()>,
) -> Result<()> {
    let configs: Api<FluxConfig> = Api::namespaced(client.clone(), CONFIG_NAMESPACE);
    let deadline = Instant::now() + timeout;
    let mut shown: Vec<String> = Vec::new();
    while Instant::now() < deadline {
        healthy()?;
        let config = configs
            .get(CONFIG_NAME)
            .await
            .context("reading FluxConfig cluster-config")?;
        let lines = progress_lines(&config);
        if lines != shown {
            for line in &lines {
                eprintln!("{line}");
            }
            shown = lines;
        }
        let status = config.status.as_ref();
        let current =
            status.and_then(|status| status.observed_generation) == config.metadata.generation;
        if current
            && status.and_then(|status| status.compliance_state) == Some(ComplianceState::Compliant)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!(
        "cluster-config was not Compliant within {timeout:?}; last status:\n{}",
        shown.join("\n")
    )
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_follows_main_with_infra_before_apps_both_pruned() {
        let config = demo_config("http://127.0.0.1:1/demo.git");
        let git = config.spec.git_repository.as_ref().unwrap();
        assert_eq!(git.url, "http://127.0.0.1:1/demo.git");
        assert_eq!(
            git.repository_ref.as_ref().unwrap().branch.as_deref(),
            Some("main")
        );
        let kustomizations = config.spec.kustomizations.as_ref().unwrap();
        assert_eq!(
            kustomizations["apps"].depends_on,
            Some(vec!["infra".to_string()])
        );
        assert!(kustomizations.values().all(|k| k.prune == Some(true)));
        assert_eq!(kustomizations["infra"].path.as_deref(), Some("./infra"));
    }
}
