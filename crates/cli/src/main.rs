//! `eddy`: the command-line tool of the Eddy GitOps suite.
//!
//! Subcommands arrive with the features they drive: `eddy dev apiserver` (the embedded API
//! server), `eddy kustomize build`, `eddy helm template`; the `az k8s-configuration flux` workflow
//! (`eddy config …`) and Flux-style get/reconcile/suspend/resume/tree follow. Logic lives in
//! the library crates; this is glue.

mod dev;
mod helm;
mod kustomize;

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
    };
    if let Err(error) = result {
        eprintln!("eddy: {error:#}");
        std::process::exit(1);
    }
}
