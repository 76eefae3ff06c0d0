//! `eddy-devcluster`: runs the embedded API server on its own and writes a kubeconfig for it.
//! The `eddy dev apiserver` command wraps the same library; this binary exists for the crate's
//! own tests and for quick manual runs.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    name = "eddy-devcluster",
    about = "An embedded Kubernetes API server for development"
)]
struct Flags {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write a kubeconfig for the server.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Bearer token clients must send (random when not given).
    #[arg(long, env = "EDDY_DEV_TOKEN")]
    token: Option<String>,
    /// Serve plain HTTP without authentication (client-go sends tokens only over HTTPS).
    #[arg(long)]
    plain_http: bool,
    /// Keep state (objects, history, CA, serving key, token) in this directory across restarts.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Do not simulate workload status (Deployments and the like then never become ready).
    #[arg(long)]
    no_workload_simulator: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let flags = Flags::parse();
    let mut builder = eddy_devcluster::DevCluster::builder().listen(flags.listen);
    if let Some(token) = flags.token {
        builder = builder.token(token);
    }
    if flags.plain_http {
        builder = builder.plain_http().without_authentication();
    }
    if let Some(directory) = flags.data_dir {
        builder = builder.data_dir(directory);
    }
    builder = builder.simulate_workloads(!flags.no_workload_simulator);
    let cluster = match builder.build().serve().await {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("eddy-devcluster: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(path) = &flags.kubeconfig
        && let Err(error) = cluster.write_kubeconfig(path)
    {
        eprintln!("eddy-devcluster: {error}");
        return std::process::ExitCode::FAILURE;
    }
    let kubeconfig = flags
        .kubeconfig
        .as_ref()
        .map(|path| format!(" (kubeconfig {})", path.display()))
        .unwrap_or_default();
    println!(
        "dev cluster serving Kubernetes {} at {}{kubeconfig}",
        eddy_devcluster::KUBERNETES_VERSION,
        cluster.url()
    );
    let _ = tokio::signal::ctrl_c().await;
    cluster.shutdown().await;
    std::process::ExitCode::SUCCESS
}
