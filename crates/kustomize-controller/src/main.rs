//! The `kustomize-controller` binary: parses Flux's flags and runs the controller.

use clap::FromArgMatches;

#[tokio::main]
async fn main() {
    let matches = kustomize_controller::flags::command().get_matches();
    let args = kustomize_controller::flags::Args::from_arg_matches(&matches)
        .unwrap_or_else(|error| error.exit());
    if let Err(error) = kustomize_controller::run::run(args).await {
        eddy_runtime::process::exit_with_error("kustomize-controller", &error);
    }
}
