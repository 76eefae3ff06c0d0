//! `eddy dev`: Eddy on one machine. `eddy dev apiserver` runs the embedded Kubernetes API server
//! (crates/devcluster) and writes a kubeconfig that kubectl, Helm and kube-rs use unchanged.

use anyhow::{Context, Result};
use clap::Subcommand;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `eddy dev` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum DevCommand {
    /// Run the embedded Kubernetes API server until interrupted.
    Apiserver {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:6443")]
        listen: SocketAddr,
        /// Where to write the kubeconfig (server URL, CA and bearer token).
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Bearer token clients must send (random when not given).
        #[arg(long, env = "EDDY_DEV_TOKEN")]
        token: Option<String>,
    },
}

pub(crate) fn run(command: DevCommand) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match command {
        DevCommand::Apiserver {
            listen,
            kubeconfig,
            token,
        } => runtime.block_on(apiserver(listen, kubeconfig, token)),
    }
}

async fn apiserver(listen: SocketAddr, kubeconfig: PathBuf, token: Option<String>) -> Result<()> {
    eddy_runtime::process::install_crypto_provider();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let mut builder = eddy_devcluster::DevCluster::builder().listen(listen);
    if let Some(token) = token {
        builder = builder.token(token);
    }
    let cluster = builder.build().serve().await?;
    cluster.write_kubeconfig(&kubeconfig)?;
    eprintln!(
        "dev cluster (Kubernetes {}) serving at {}; kubeconfig written to {}",
        eddy_devcluster::KUBERNETES_VERSION,
        cluster.url(),
        kubeconfig.display()
    );
    let shutdown = eddy_runtime::process::shutdown_on_signal();
    shutdown.cancelled().await;
    cluster.shutdown().await;
    Ok(())
}
