//! `notification-controller`: receives Flux events from every controller on `--events-addr`,
//! forwards them to Slack, Microsoft Teams and other providers per Alert, and serves webhook
//! Receivers that trigger reconciles (Alert, Provider; notification.toolkit.fluxcd.io/v1beta3;
//! Receiver; notification.toolkit.fluxcd.io/v1).
//!
//! Its reconcilers have not landed yet: the binary starts like every Eddy controller (common
//! flags, API client, metrics, health probes, leader election) and reconciles nothing.
//! `--events-addr` is this controller's own listen address, as in Flux, so it is never used to
//! forward this controller's events (it must not post to itself).

use clap::{CommandFactory, FromArgMatches, Parser};

const PLAN: &str = "Receives Flux events on --events-addr (:9090), dispatches them to Slack, Microsoft Teams and other providers per Alert, and serves webhook Receivers (Alert, Provider; notification.toolkit.fluxcd.io/v1beta3; Receiver; v1).";

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(name = "notification-controller", version, about = PLAN)]
struct Args {
    #[command(flatten)]
    common: eddy_runtime::CommonArgs,
}

#[tokio::main]
async fn main() {
    let command = Args::command()
        .mut_arg("concurrent", |arg| arg.default_value("4"))
        .mut_arg("events_addr", |arg| {
            arg.default_value(":9090")
                .help("Address this controller listens on for events from the other controllers")
        });
    let mut args =
        Args::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit());
    // The flag is where this controller listens; its own events must not loop back to itself.
    let _listen_addr = std::mem::take(&mut args.common.events_addr);
    if let Err(error) =
        eddy_runtime::process::run_without_reconcilers("notification-controller", args.common, PLAN)
            .await
    {
        eddy_runtime::process::exit_with_error("notification-controller", &error);
    }
}
