//! `eddy`: the command-line tool of the Eddy GitOps suite.
//!
//! Subcommands arrive with the features they drive: the `az k8s-configuration flux` workflow
//! (`eddy config …`), Flux-style get/reconcile/suspend/resume/tree, `eddy kustomize build`,
//! `eddy helm template` and `eddy dev`. Logic lives in the library crates; this is glue.

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
    /// Print the version of eddy and of the Flux APIs it speaks.
    Version,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("eddy {}", env!("CARGO_PKG_VERSION"));
            println!(
                "flux APIs: source.toolkit.fluxcd.io/v1, kustomize.toolkit.fluxcd.io/v1, helm.toolkit.fluxcd.io/v2, notification.toolkit.fluxcd.io/v1beta3+v1, image.toolkit.fluxcd.io/v1"
            );
            println!("azure APIs: clusterconfig.azure.com/v1alpha1");
        }
    }
}
