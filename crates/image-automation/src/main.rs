//! `image-automation`: Scans container registries for tags, picks the latest per policy and commits image updates back to Git (ImageRepository, ImagePolicy, ImageUpdateAutomation; image.toolkit.fluxcd.io/v1).
//!
//! Its reconcilers have not landed yet: the binary starts like every Eddy controller (common
//! flags, API client, metrics, health probes, leader election) and reconciles nothing.

use clap::{CommandFactory, FromArgMatches, Parser};

const PLAN: &str = "Scans container registries for tags, picks the latest per policy and commits image updates back to Git (ImageRepository, ImagePolicy, ImageUpdateAutomation; image.toolkit.fluxcd.io/v1).";

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(name = "image-automation", version, about = PLAN)]
struct Args {
    #[command(flatten)]
    common: eddy_runtime::CommonArgs,
}

#[tokio::main]
async fn main() {
    let command = Args::command().mut_arg("concurrent", |arg| arg.default_value("4"));
    let args = Args::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit());
    if let Err(error) =
        eddy_runtime::process::run_without_reconcilers("image-automation", args.common, PLAN).await
    {
        eddy_runtime::process::exit_with_error("image-automation", &error);
    }
}
