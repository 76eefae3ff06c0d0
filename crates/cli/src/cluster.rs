//! Connecting to a cluster as kubectl does: `--kubeconfig` (else `$KUBECONFIG`, else
//! `~/.kube/config`, else the in-cluster service account), `--context`, and the namespace of
//! that context as the default. An API server that does not answer is one clear error line.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// How long the first request may take before the cluster counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Client-side rate limits of the CLI (kubectl's defaults are higher than a controller's since a
/// person waits for the answer).
const CLI_QPS: f32 = 50.0;
const CLI_BURST: u32 = 100;

/// Flags that choose the cluster, shared by every command that talks to one.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) kubeconfig: Option<String>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) context: Option<String>,
}

/// A connected client and the namespace commands default to.
pub(crate) struct Cluster {
    pub(crate) client: kube::Client,
    /// The context's namespace, else `default`.
    pub(crate) default_namespace: String,
}

impl Cluster {
    /// The namespace to work in: the flag when given, else the context's.
    pub(crate) fn namespace(&self, flag: Option<&str>) -> String {
        flag.filter(|namespace| !namespace.is_empty())
            .unwrap_or(&self.default_namespace)
            .to_string()
    }
}

/// Loads the configuration, builds a client and checks that the API server answers.
pub(crate) async fn connect(args: &ClusterArgs) -> Result<Cluster> {
    eddy_runtime::process::install_crypto_provider();
    let config = load(args).await?;
    let url = config.cluster_url.to_string();
    let default_namespace = config.default_namespace.clone();
    let client = eddy_runtime::client::build_client(config, CLI_QPS, CLI_BURST)?;
    eddy_runtime::client::check_connection(&client, &url, CONNECT_TIMEOUT).await?;
    Ok(Cluster {
        client,
        default_namespace,
    })
}

async fn load(args: &ClusterArgs) -> Result<kube::Config> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let kubeconfig = match args.kubeconfig.as_deref().filter(|path| !path.is_empty()) {
        Some(path) => Some(
            Kubeconfig::read_from(path).with_context(|| format!("reading kubeconfig {path}"))?,
        ),
        // `read` merges every file of $KUBECONFIG, or reads ~/.kube/config.
        None => Kubeconfig::read().ok(),
    };
    match kubeconfig {
        Some(kubeconfig) => kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|error| {
                anyhow::anyhow!(
                    "loading kubeconfig: {}",
                    eddy_runtime::client::one_line(&error)
                )
            }),
        None => kube::Config::incluster().map_err(|_| {
            anyhow::anyhow!(
                "no Kubernetes configuration found: pass --kubeconfig, set $KUBECONFIG or \
                 create ~/.kube/config"
            )
        }),
    }
}

/// Runs one command's future on a fresh runtime (the CLI does one thing per process).
pub(crate) fn block_on<F: std::future::Future<Output = Result<()>>>(future: F) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(future).map_err(readable)
}

/// Rewrites an error whose cause is an API error into one readable line: the contexts, then
/// the server's message and reason (kube's own text repeats the whole Status), and for a
/// resource the server does not serve at all, the likely reason.
pub(crate) fn readable(error: anyhow::Error) -> anyhow::Error {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        if let Some(api_error) = cause.downcast_ref::<kube::Error>() {
            parts.push(match api_error {
                kube::Error::Api(status) if status.code == 404 && status.details.is_none() => {
                    "the API server does not serve this kind: are Eddy's CRDs installed? \
                     (kubectl apply -f charts/eddy/crds/)"
                        .to_string()
                }
                kube::Error::Api(status) => format!("{} ({})", status.message, status.reason),
                other => eddy_runtime::client::one_line(other),
            });
            return anyhow::anyhow!("{}", parts.join(": "));
        }
        parts.push(cause.to_string());
    }
    error
}

/// Whether a kube error is the API server's NotFound.
pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}
