//! `eddy reconcile`, `eddy suspend` and `eddy resume`: ask a controller to act now, stop it,
//! let it go on — and watch it do so, as the Flux CLI does.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use eddy_api::meta::{annotations, field_managers};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::json;

use super::kinds::{self, Kind, Outcome};
use crate::cluster::{self, ClusterArgs};
use crate::output::log;

/// How often the object is read while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Flags of reconcile, suspend and resume.
#[derive(Args, Debug, Clone)]
pub(crate) struct CommonFlags {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The namespace (default: the kubeconfig context's, else `default`).
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
    /// How long to wait for the controller (Go duration).
    #[arg(long, global = true, default_value = "5m", value_parser = parse_timeout)]
    timeout: Duration,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    eddy_api::meta::parse_duration(text).map_err(|error| error.to_string())
}

/// `eddy reconcile …`
#[derive(Args, Debug)]
pub(crate) struct ReconcileArgs {
    #[command(subcommand)]
    what: ReconcileWhat,
    #[command(flatten)]
    flags: CommonFlags,
}

#[derive(Subcommand, Debug)]
enum ReconcileWhat {
    /// Reconcile a source.
    #[command(subcommand)]
    Source(SourceKind),
    /// Reconcile a Kustomization and wait for it to finish.
    #[command(alias = "ks")]
    Kustomization {
        /// The Kustomization.
        name: String,
        /// Reconcile its source first.
        #[arg(long)]
        with_source: bool,
    },
    /// Reconcile a HelmRelease and wait for it to finish.
    #[command(alias = "hr")]
    Helmrelease {
        /// The HelmRelease.
        name: String,
        /// Reconcile its chart source first.
        #[arg(long)]
        with_source: bool,
        /// Force a one-off install or upgrade.
        #[arg(long)]
        force: bool,
        /// Reset the failure counters.
        #[arg(long)]
        reset: bool,
    },
}

/// A source kind and object name.
#[derive(Subcommand, Debug)]
enum SourceKind {
    /// A GitRepository.
    Git { name: String },
    /// An OCIRepository.
    Oci { name: String },
    /// A Bucket.
    Bucket { name: String },
    /// A HelmRepository.
    Helm { name: String },
    /// A HelmChart.
    Chart { name: String },
}

impl SourceKind {
    fn kind_and_name(self) -> (Kind, String) {
        match self {
            SourceKind::Git { name } => (Kind::GitRepository, name),
            SourceKind::Oci { name } => (Kind::OciRepository, name),
            SourceKind::Bucket { name } => (Kind::Bucket, name),
            SourceKind::Helm { name } => (Kind::HelmRepository, name),
            SourceKind::Chart { name } => (Kind::HelmChart, name),
        }
    }
}

/// `eddy suspend …` and `eddy resume …`
#[derive(Args, Debug)]
pub(crate) struct SuspendArgs {
    #[command(subcommand)]
    what: SuspendWhat,
    #[command(flatten)]
    flags: CommonFlags,
    /// (resume) Wait for each object's reconcile; the default with exactly one name.
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    wait: Option<bool>,
}

#[derive(Subcommand, Debug)]
enum SuspendWhat {
    /// Sources.
    #[command(subcommand)]
    Source(SourceKinds),
    /// Kustomizations.
    #[command(alias = "ks")]
    Kustomization {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// HelmReleases.
    #[command(alias = "hr")]
    Helmrelease {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum SourceKinds {
    /// GitRepositories.
    Git {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// OCIRepositories.
    Oci {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Buckets.
    Bucket {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// HelmRepositories.
    Helm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// HelmCharts.
    Chart {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

impl SuspendWhat {
    fn kind_and_names(self) -> (Kind, Vec<String>) {
        match self {
            SuspendWhat::Source(source) => match source {
                SourceKinds::Git { names } => (Kind::GitRepository, names),
                SourceKinds::Oci { names } => (Kind::OciRepository, names),
                SourceKinds::Bucket { names } => (Kind::Bucket, names),
                SourceKinds::Helm { names } => (Kind::HelmRepository, names),
                SourceKinds::Chart { names } => (Kind::HelmChart, names),
            },
            SuspendWhat::Kustomization { names } => (Kind::Kustomization, names),
            SuspendWhat::Helmrelease { names } => (Kind::HelmRelease, names),
        }
    }
}

/// What one reconcile request asks for.
struct Request<'a> {
    client: &'a kube::Client,
    kind: Kind,
    namespace: String,
    name: String,
    with_source: bool,
    /// HelmRelease: also set forceAt / resetAt to the request's token.
    force: bool,
    reset: bool,
    timeout: Duration,
}

pub(crate) async fn run_reconcile(args: ReconcileArgs) -> Result<()> {
    let cluster = cluster::connect(&args.flags.cluster).await?;
    let namespace = cluster.namespace(args.flags.namespace.as_deref());
    let (kind, name, with_source, force, reset) = match args.what {
        ReconcileWhat::Source(source) => {
            let (kind, name) = source.kind_and_name();
            (kind, name, false, false, false)
        }
        ReconcileWhat::Kustomization { name, with_source } => {
            (Kind::Kustomization, name, with_source, false, false)
        }
        ReconcileWhat::Helmrelease {
            name,
            with_source,
            force,
            reset,
        } => (Kind::HelmRelease, name, with_source, force, reset),
    };
    reconcile(Request {
        client: &cluster.client,
        kind,
        namespace,
        name,
        with_source,
        force,
        reset,
        timeout: args.flags.timeout,
    })
    .await
}

/// Annotates the object with a new `requestedAt` and waits until its controller has handled
/// that request and Ready is decided; `Err` when it ends not ready.
fn reconcile(request: Request<'_>) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
    Box::pin(async move {
        let kind_name = request.kind.name();
        let api = kinds::api(request.client, request.kind, Some(&request.namespace));
        let object = get(&api, request.kind, &request.name, &request.namespace).await?;
        if kinds::suspended(&object) {
            bail!("resource is suspended");
        }
        if request.with_source {
            let Some((kind, name, namespace)) = source_of(request.kind, &object) else {
                bail!("cannot find the source of {kind_name} {}", request.name);
            };
            let Some(source_kind) = kind else {
                bail!("cannot reconcile source of kind {name}");
            };
            reconcile(Request {
                client: request.client,
                kind: source_kind,
                namespace,
                name,
                // A HelmChart's own source goes first, as `flux reconcile hr --with-source`.
                with_source: source_kind == Kind::HelmChart,
                force: false,
                reset: false,
                timeout: request.timeout,
            })
            .await?;
        }
        log::action(&format!(
            "annotating {kind_name} {} in {} namespace",
            request.name, request.namespace
        ));
        let token = jiff::Timestamp::now().to_string();
        let mut requested = serde_json::Map::new();
        requested.insert(annotations::RECONCILE_REQUESTED_AT.into(), json!(token));
        if request.force {
            requested.insert(annotations::FORCE_REQUESTED_AT.into(), json!(token));
        }
        if request.reset {
            requested.insert(annotations::RESET_REQUESTED_AT.into(), json!(token));
        }
        api.patch(
            &request.name,
            &patch_params(),
            &Patch::Merge(json!({"metadata": {"annotations": requested}})),
        )
        .await
        .with_context(|| format!("annotating {kind_name} {}", request.name))?;
        log::success(&format!("{kind_name} annotated"));
        log::waiting(&format!("waiting for {kind_name} reconciliation"));
        let wait = wait_for(&api, &request.name, |object| {
            handled(object, &token) && kinds::outcome(object) != Outcome::Pending
        });
        let object = tokio::time::timeout(request.timeout, wait)
            .await
            .map_err(|_| {
                anyhow!(
                    "timed out after {} waiting for {kind_name} {} reconciliation",
                    eddy_api::meta::format_duration(request.timeout),
                    request.name
                )
            })??;
        match kinds::outcome(&object) {
            Outcome::Failed(message) => {
                bail!("{kind_name} reconciliation failed: '{message}'")
            }
            _ => {
                log::success(&format!("{kind_name} reconciliation completed"));
                log::success(&request.kind.success_message(&object));
                Ok(())
            }
        }
    })
}

/// Whether the controller has handled request `token` (or a newer one that replaced it).
fn handled(object: &DynamicObject, token: &str) -> bool {
    let last_handled = object.data["status"]["lastHandledReconcileAt"]
        .as_str()
        .unwrap_or_default();
    let requested = object
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(annotations::RECONCILE_REQUESTED_AT))
        .map(String::as_str)
        .unwrap_or_default();
    last_handled == token || (requested != token && last_handled == requested)
}

/// The object's source: (kind if known, name — or the unknown kind's name, namespace).
fn source_of(kind: Kind, object: &DynamicObject) -> Option<(Option<Kind>, String, String)> {
    let own_namespace = object.metadata.namespace.clone().unwrap_or_default();
    let spec = &object.data["spec"];
    let reference = match kind {
        Kind::Kustomization => &spec["sourceRef"],
        Kind::HelmChart => &spec["sourceRef"],
        Kind::HelmRelease if spec["chartRef"].is_object() => &spec["chartRef"],
        Kind::HelmRelease => {
            // A chart template: source-controller's HelmChart `<namespace>-<name>` lives in
            // the namespace of the chart's source.
            let namespace = spec["chart"]["spec"]["sourceRef"]["namespace"]
                .as_str()
                .unwrap_or(&own_namespace)
                .to_string();
            let name = format!(
                "{own_namespace}-{}",
                object.metadata.name.as_deref().unwrap_or_default()
            );
            return Some((Some(Kind::HelmChart), name, namespace));
        }
        _ => return None,
    };
    let source_kind = reference["kind"].as_str()?;
    let name = reference["name"].as_str()?.to_string();
    let namespace = reference["namespace"]
        .as_str()
        .unwrap_or(&own_namespace)
        .to_string();
    match Kind::from_name(source_kind) {
        Some(kind) => Some((Some(kind), name, namespace)),
        None => Some((None, source_kind.to_string(), namespace)),
    }
}

pub(crate) async fn run_suspend(args: SuspendArgs) -> Result<()> {
    let cluster = cluster::connect(&args.flags.cluster).await?;
    let namespace = cluster.namespace(args.flags.namespace.as_deref());
    let (kind, names) = args.what.kind_and_names();
    let api = kinds::api(&cluster.client, kind, Some(&namespace));
    let mut failed = 0;
    for name in dedup(names) {
        if let Err(error) = set_suspend(&api, kind, &name, &namespace, true).await {
            log::failure(&format!("{error:#}"));
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("suspending failed for {failed} {}(s)", kind.name());
    }
    Ok(())
}

pub(crate) async fn run_resume(args: SuspendArgs) -> Result<()> {
    let cluster = cluster::connect(&args.flags.cluster).await?;
    let namespace = cluster.namespace(args.flags.namespace.as_deref());
    let (kind, names) = args.what.kind_and_names();
    let names = dedup(names);
    // As flux: wait when exactly one object is resumed, unless --wait says otherwise.
    let wait = args.wait.unwrap_or(names.len() == 1);
    let api = kinds::api(&cluster.client, kind, Some(&namespace));
    let mut resumed = Vec::new();
    let mut failed = 0;
    for name in names {
        match set_suspend(&api, kind, &name, &namespace, false).await {
            Ok(()) => resumed.push(name),
            Err(error) => {
                log::failure(&format!("{error:#}"));
                failed += 1;
            }
        }
    }
    if wait {
        for name in resumed {
            log::waiting(&format!("waiting for {} reconciliation", kind.name()));
            let waited = tokio::time::timeout(
                args.flags.timeout,
                wait_for(&api, &name, |object| {
                    kinds::outcome(object) != Outcome::Pending
                }),
            )
            .await;
            match waited {
                Ok(Ok(object)) => match kinds::outcome(&object) {
                    Outcome::Failed(message) => {
                        log::failure(&format!(
                            "{} {name} reconciliation failed: {message}",
                            kind.name()
                        ));
                        failed += 1;
                    }
                    _ => {
                        log::success(&format!("{} {name} reconciliation completed", kind.name()));
                        log::success(&kind.success_message(&object));
                    }
                },
                Ok(Err(error)) => {
                    log::failure(&format!("{error:#}"));
                    failed += 1;
                }
                Err(_) => {
                    log::failure(&format!(
                        "{} {name} reconciliation failed: timed out after {}",
                        kind.name(),
                        eddy_api::meta::format_duration(args.flags.timeout)
                    ));
                    failed += 1;
                }
            }
        }
    }
    if failed > 0 {
        bail!("reconciliation failed for {failed} {}(s)", kind.name());
    }
    Ok(())
}

async fn set_suspend(
    api: &Api<DynamicObject>,
    kind: Kind,
    name: &str,
    namespace: &str,
    suspend: bool,
) -> Result<()> {
    get(api, kind, name, namespace).await?;
    let verb = if suspend { "suspending" } else { "resuming" };
    log::action(&format!(
        "{verb} {} {name} in {namespace} namespace",
        kind.human()
    ));
    api.patch(
        name,
        &patch_params(),
        &Patch::Merge(json!({"spec": {"suspend": suspend}})),
    )
    .await
    .with_context(|| format!("{verb} {} {name}", kind.name()))?;
    let done = if suspend { "suspended" } else { "resumed" };
    log::success(&format!("{} {done}", kind.human()));
    Ok(())
}

async fn get(
    api: &Api<DynamicObject>,
    kind: Kind,
    name: &str,
    namespace: &str,
) -> Result<DynamicObject> {
    api.get_opt(name)
        .await
        .with_context(|| format!("reading {} {name}", kind.name()))?
        .ok_or_else(|| anyhow!("{} {name} not found in {namespace} namespace", kind.name()))
}

/// Reads the object until `done` holds.
async fn wait_for(
    api: &Api<DynamicObject>,
    name: &str,
    done: impl Fn(&DynamicObject) -> bool,
) -> Result<DynamicObject> {
    loop {
        let object = api
            .get(name)
            .await
            .with_context(|| format!("reading {name}"))?;
        if done(&object) {
            return Ok(object);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The field manager the Flux CLI uses for its annotations and suspend patches.
fn patch_params() -> PatchParams {
    PatchParams {
        field_manager: Some(field_managers::FLUX_CLIENT_SIDE_APPLY.to_string()),
        ..PatchParams::default()
    }
}

/// Names in order, each once (a name given twice is acted on once, as flux does).
fn dedup(names: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    names
        .into_iter()
        .filter(|name| seen.insert(name.clone()))
        .collect()
}
