//! `eddy`: the command-line tool of the Eddy GitOps suite.
//!
//! Subcommands arrive with the features they drive: `eddy dev apiserver` (the embedded API
//! server), `eddy kustomize build`, `eddy helm template`, the `az k8s-configuration flux`
//! workflow (`eddy config …`, module `config`) and Flux-style get/reconcile/suspend/resume/
//! events/tree (module `flux`). Logic lives in the library crates and those modules; this is
//! glue.

mod cluster;
mod config;
mod dev;
mod devenv;
mod flux;
mod helm;
mod kustomize;
mod output;

use clap::{Parser, Subcommand};

/// The Eddy GitOps suite's command-line tool.
#[derive(Parser, Debug)]
#[command(name = "eddy", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run Eddy on this machine: the embedded dev cluster.
    #[command(subcommand)]
    Dev(dev::DevCommand),
    /// Render Helm charts as `helm template` does.
    #[command(subcommand)]
    Helm(helm::HelmCommand),
    /// Build kustomizations as `kubectl kustomize` does.
    #[command(subcommand)]
    Kustomize(kustomize::KustomizeCommand),
    /// Print the version of eddy and of the APIs it speaks.
    Version,
    /// Flux configurations, as `az k8s-configuration flux` manages them.
    Config(Box<config::ConfigArgs>),
    /// Print the status of Flux objects.
    Get(flux::get::GetArgs),
    /// Ask a controller to reconcile an object now and wait for it.
    Reconcile(flux::reconcile::ReconcileArgs),
    /// Stop reconciling objects.
    Suspend(flux::reconcile::SuspendArgs),
    /// Reconcile suspended objects again and wait for them.
    Resume(flux::reconcile::SuspendArgs),
    /// Print the Kubernetes events of Flux objects.
    Events(flux::events::EventsArgs),
    /// Print what a Kustomization applied, as a tree.
    Tree(flux::tree::TreeArgs),
}

/// Runs a Flux-style command, printing its error as flux does (`✗ …`).
fn flux_style(future: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    output::flux_style(cluster::block_on(future))
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dev(command) => dev::run(command),
        Command::Helm(command) => helm::run(command),
        Command::Kustomize(command) => kustomize::run(command),
        Command::Version => {
            println!("eddy {}", env!("CARGO_PKG_VERSION"));
            println!(
                "flux APIs: source.toolkit.fluxcd.io/v1, kustomize.toolkit.fluxcd.io/v1, \
                 helm.toolkit.fluxcd.io/v2, notification.toolkit.fluxcd.io/v1beta3+v1, \
                 image.toolkit.fluxcd.io/v1"
            );
            println!("azure APIs: clusterconfig.azure.com/v1alpha1");
            Ok(())
        }
        Command::Config(args) => cluster::block_on(config::run(*args)),
        Command::Get(args) => flux_style(flux::get::run(args)),
        Command::Reconcile(args) => flux_style(flux::reconcile::run_reconcile(args)),
        Command::Suspend(args) => flux_style(flux::reconcile::run_suspend(args)),
        Command::Resume(args) => flux_style(flux::reconcile::run_resume(args)),
        Command::Events(args) => flux_style(flux::events::run(args)),
        Command::Tree(args) => flux_style(flux::tree::run(args)),
    };
    if let Err(error) = result {
        // Flux-style commands have printed their error already.
        if error.downcast_ref::<output::Reported>().is_some() {
            std::process::exit(1);
        }
        eprintln!("eddy: {error:#}");
        std::process::exit(1);
    }
}
