//! `source-controller`: Turns Git repositories, Helm repositories and charts, OCI artifacts and S3 buckets into deterministic tar.gz artifacts served over HTTP (GitRepository, HelmRepository, HelmChart, OCIRepository, Bucket, ExternalArtifact; source.toolkit.fluxcd.io/v1).
//!
//! Its reconcilers have not landed yet: the binary starts like every Eddy controller (common
//! flags, API client, metrics, health probes, leader election) and reconciles nothing.

use clap::{CommandFactory, FromArgMatches, Parser};

const PLAN: &str = "Turns Git repositories, Helm repositories and charts, OCI artifacts and S3 buckets into deterministic tar.gz artifacts served over HTTP (GitRepository, HelmRepository, HelmChart, OCIRepository, Bucket, ExternalArtifact; source.toolkit.fluxcd.io/v1).";

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(name = "source-controller", version, about = PLAN)]
struct Args {
    #[command(flatten)]
    common: eddy_runtime::CommonArgs,
}

#[tokio::main]
async fn main() {
    let command = Args::command().mut_arg("concurrent", |arg| arg.default_value("2"));
    let args = Args::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit());
    if let Err(error) =
        eddy_runtime::process::run_without_reconcilers("source-controller", args.common, PLAN).await
    {
        eddy_runtime::process::exit_with_error("source-controller", &error);
    }
}
