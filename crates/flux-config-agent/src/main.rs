//! The `flux-config-agent` binary: parses the flags and runs the agent.

use clap::FromArgMatches;

#[tokio::main]
async fn main() {
    let matches = flux_config_agent::flags::command().get_matches();
    let args = flux_config_agent::flags::Args::from_arg_matches(&matches)
        .unwrap_or_else(|error| error.exit());
    if let Err(error) = flux_config_agent::run::run(args).await {
        eddy_runtime::process::exit_with_error("flux-config-agent", &error);
    }
}
