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
        /// Keep the cluster's state (objects, watch history, CA, serving key and token) in
        /// this directory so it survives restarts; memory only when not given.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Start the whole suite on this machine: dev cluster, demo Git repository, every
    /// controller, and the FluxConfig `cluster-config`; wait until it is Compliant.
    Up(crate::devenv::UpArgs),
    /// Stop everything `eddy dev up` started (the state is kept).
    Down(crate::devenv::DownArgs),
    /// Serve Git repositories over smart HTTP (started by `eddy dev up`).
    #[command(hide = true)]
    GitServer(crate::devenv::GitServerArgs),
}

pub(crate) fn run(command: DevCommand) -> Result<()> {
    match command {
        DevCommand::Apiserver {
            listen,
            kubeconfig,
            token,
            data_dir,
        } => tokio::runtime::Runtime::new()
            .context("starting the async runtime")?
            .block_on(apiserver(listen, kubeconfig, token, data_dir)),
        DevCommand::Up(args) => crate::devenv::up(args),
        DevCommand::Down(args) => crate::devenv::down(args),
        DevCommand::GitServer(args) => crate::devenv::git_server(args),
    }
}

async fn apiserver(
    listen: SocketAddr,
    kubeconfig: PathBuf,
    token: Option<String>,
    data_dir: Option<PathBuf>,
) -> Result<()> {
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
    if let Some(directory) = data_dir {
        builder = builder.data_dir(directory);
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
