//! `helm-controller`: Installs, upgrades, tests, rolls back and uninstalls Helm releases from charts published by source-controller (HelmRelease; helm.toolkit.fluxcd.io/v2).
//!
//! Its reconcilers have not landed yet: the binary starts like every Eddy controller (common
//! flags, API client, metrics, health probes, leader election) and reconciles nothing.

use clap::{CommandFactory, FromArgMatches, Parser};

const PLAN: &str = "Installs, upgrades, tests, rolls back and uninstalls Helm releases from charts published by source-controller (HelmRelease; helm.toolkit.fluxcd.io/v2).";

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(name = "helm-controller", version, about = PLAN)]
struct Args {
    #[command(flatten)]
    common: eddy_runtime::CommonArgs,
}

#[tokio::main]
async fn main() {
    let command = Args::command().mut_arg("concurrent", |arg| arg.default_value("4"));
    let args = Args::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit());
    if let Err(error) =
        eddy_runtime::process::run_without_reconcilers("helm-controller", args.common, PLAN).await
    {
        eddy_runtime::process::exit_with_error("helm-controller", &error);
    }
}
