//! `flux-config-agent`: Turns each Azure-style FluxConfig into a source and its Kustomizations and reports their compliance back in the FluxConfig status (FluxConfig; clusterconfig.azure.com/v1alpha1).
//!
//! Its reconcilers have not landed yet: the binary starts like every Eddy controller (common
//! flags, API client, metrics, health probes, leader election) and reconciles nothing.

use clap::{CommandFactory, FromArgMatches, Parser};

const PLAN: &str = "Turns each Azure-style FluxConfig into a source and its Kustomizations and reports their compliance back in the FluxConfig status (FluxConfig; clusterconfig.azure.com/v1alpha1).";

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(name = "flux-config-agent", version, about = PLAN)]
struct Args {
    #[command(flatten)]
    common: eddy_runtime::CommonArgs,
}

#[tokio::main]
async fn main() {
    let command = Args::command().mut_arg("concurrent", |arg| arg.default_value("4"));
    let args = Args::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit());
    if let Err(error) =
        eddy_runtime::process::run_without_reconcilers("flux-config-agent", args.common, PLAN).await
    {
        eddy_runtime::process::exit_with_error("flux-config-agent", &error);
    }
}
