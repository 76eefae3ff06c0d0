//! `notification-controller`: receives Flux events from every controller on `--events-addr`,
//! forwards them to Slack, Microsoft Teams and other providers per Alert, and serves webhook
//! Receivers on `--receiverAddr` that trigger reconciles (Alert, Provider;
//! notification.toolkit.fluxcd.io/v1beta3; Receiver; v1). The logic lives in the library; this
//! binary parses flags and wires the servers and the Receiver reconciler to one process.
//!
//! `--events-addr` is this controller's own listen address, as in Flux, so it is never used to
//! forward this controller's events (it must not post to itself).

use axum::middleware::from_fn_with_state;
use clap::{CommandFactory, FromArgMatches, Parser};
use eddy_runtime::controller::{self, RunOptions};
use eddy_runtime::flags::{parse_flag_duration, parse_listen_addr};
use eddy_runtime::process::{self, Process, ProcessError};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::runtime::watcher;
use notification_controller::cluster::KubeCluster;
use notification_controller::events::{EventServer, EventServerSettings};
use notification_controller::http_metrics::{HttpMetrics, record};
use notification_controller::notifier::RetryPolicy;
use notification_controller::receiver::{ReceiverReconciler, ReceiverServer};
use notification_controller::serve::serve;
use std::time::Duration;

const NAME: &str = "notification-controller";

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(
    name = "notification-controller",
    version,
    about = "Forwards Flux events to chat and Git providers per Alert, and serves webhook Receivers."
)]
struct Args {
    #[command(flatten)]
    common: eddy_runtime::CommonArgs,

    /// The address the webhook receiver server listens on.
    #[arg(long = "receiverAddr", default_value = ":9292")]
    receiver_addr: String,

    /// Interval within which identical events are forwarded once (duplicates get HTTP 429).
    #[arg(long, default_value = "5m", value_parser = parse_flag_duration)]
    rate_limit_interval: Duration,
}

/// The command line, with this controller's defaults for the common flags.
fn command() -> clap::Command {
    Args::command()
        .mut_arg("concurrent", |arg| arg.default_value("4"))
        .mut_arg("events_addr", |arg| {
            arg.default_value(":9090").help(
                "The address the event server listens on for events from the other controllers",
            )
        })
}

#[tokio::main]
async fn main() {
    notification_controller::go_time::mark_process_start();
    let mut args =
        Args::from_arg_matches(&command().get_matches()).unwrap_or_else(|error| error.exit());
    // The flag is where this controller listens; its own events must not loop back to itself.
    let events_addr = std::mem::take(&mut args.common.events_addr);
    if let Err(error) = run(args, &events_addr).await {
        process::exit_with_error(NAME, &error);
    }
}

async fn run(args: Args, events_addr: &str) -> Result<(), ProcessError> {
    let events_listen = parse_listen_addr(events_addr).map_err(ProcessError::InvalidFlag)?;
    let receiver_listen =
        parse_listen_addr(&args.receiver_addr).map_err(ProcessError::InvalidFlag)?;
    let process = Process::start(NAME, args.common).await?;
    let bind = |address| async move {
        tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| {
                ProcessError::InvalidFlag(format!("cannot listen on {address}: {error}"))
            })
    };
    let events_listener = bind(events_listen).await?;
    let receiver_listener = bind(receiver_listen).await?;

    let namespace = process.args.watch_namespace();
    let cluster = KubeCluster::start(
        process.client.clone(),
        process.recorder.clone(),
        namespace.as_deref(),
        process.shutdown.clone(),
    )
    .await;
    let event_server = EventServer::new(
        cluster.clone(),
        EventServerSettings {
            rate_limit_interval: args.rate_limit_interval,
            no_cross_namespace_refs: process.args.no_cross_namespace_refs,
            retry: RetryPolicy::default(),
        },
    );
    let receiver_server =
        ReceiverServer::new(cluster.clone(), process.args.no_cross_namespace_refs);
    let http_metrics = HttpMetrics::register(process.metrics.registry())
        .map_err(|error| ProcessError::Metrics(error.into()))?;
    let events = tokio::spawn(serve(
        events_listener,
        event_server
            .router()
            .layer(from_fn_with_state(http_metrics.for_handler("/"), record)),
        process.shutdown.clone(),
        "event-server",
    ));
    let receivers = tokio::spawn(serve(
        receiver_listener,
        receiver_server.router().layer(from_fn_with_state(
            http_metrics.for_handler("/hook/"),
            record,
        )),
        process.shutdown.clone(),
        "receiver-server",
    ));

    let harness = process.harness(ReceiverReconciler::new(cluster.clone()), NAME);
    // Secrets labelled for watching (Flux's --watch-configs-label-selector) re-reconcile the
    // Receivers using them, so a rotated token changes the webhook path at once.
    let secrets: Api<Secret> = match &namespace {
        Some(namespace) => Api::namespaced(process.client.clone(), namespace),
        None => Api::all(process.client.clone()),
    };
    let secrets_config = watcher::Config::default()
        .labels(&process.args.watch_configs_label_selector)
        .any_semantic();
    controller::run(
        harness,
        RunOptions {
            namespace,
            ..process.run_options()
        },
        process.shutdown.clone(),
        move |controller| {
            controller.watches(secrets, secrets_config, move |secret: Secret| {
                cluster.receivers_using_secret(
                    secret.metadata.namespace.as_deref().unwrap_or_default(),
                    secret.metadata.name.as_deref().unwrap_or_default(),
                )
            })
        },
    )
    .await;
    let _ = events.await;
    let _ = receivers.await;
    event_server.idle().await;
    process.wait().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Args {
        let matches = command()
            .try_get_matches_from(arguments)
            .expect("arguments parse");
        Args::from_arg_matches(&matches).expect("arguments")
    }

    #[test]
    fn listen_addresses_and_rate_limit_default_as_fluxs() {
        let args = parse(&["notification-controller"]);
        assert_eq!(args.common.events_addr, ":9090");
        assert_eq!(args.receiver_addr, ":9292");
        assert_eq!(args.rate_limit_interval, Duration::from_secs(300));
        assert_eq!(args.common.concurrent, 4);
    }

    #[test]
    fn flux_flag_names_are_accepted() {
        let args = parse(&[
            "notification-controller",
            "--events-addr=:9999",
            "--receiverAddr=127.0.0.1:9393",
            "--rate-limit-interval=30s",
            "--no-cross-namespace-refs",
        ]);
        assert_eq!(args.common.events_addr, ":9999");
        assert_eq!(args.receiver_addr, "127.0.0.1:9393");
        assert_eq!(args.rate_limit_interval, Duration::from_secs(30));
        assert!(args.common.no_cross_namespace_refs);
    }
}
