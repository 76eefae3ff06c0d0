//! The flags every Eddy controller shares, with Flux's names and defaults (fluxcd/pkg
//! `runtime/client`, `runtime/leaderelection`, `runtime/logger`, `runtime/features` and each
//! controller's `main.go`).

use crate::features::FeatureGates;
use clap::{Args, ValueEnum};
use std::time::Duration;

/// Flags shared by all controllers. Each binary flattens this into its own argument struct.
#[derive(Args, Clone, Debug)]
pub struct CommonArgs {
    /// Path to a kubeconfig. When empty, $KUBECONFIG, ~/.kube/config and the in-cluster
    /// service account are tried, in that order.
    #[arg(long, env = "KUBECONFIG", default_value = "")]
    pub kubeconfig: String,

    /// Number of objects reconciled concurrently.
    #[arg(long, default_value_t = 4)]
    pub concurrent: u16,

    /// Watch objects in all namespaces; when false only the runtime namespace
    /// ($RUNTIME_NAMESPACE) is watched.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub watch_all_namespaces: bool,

    /// Only reconcile objects matching this label selector (sharding).
    #[arg(long, default_value = "")]
    pub watch_label_selector: String,

    /// Secrets and ConfigMaps matching this selector trigger reconciles of the objects that
    /// reference them when they change.
    #[arg(long, default_value = eddy_api::meta::labels::WATCH_CONFIGS_SELECTOR)]
    pub watch_configs_label_selector: String,

    /// Address of the Prometheus metrics endpoint.
    #[arg(long, default_value = ":8080")]
    pub metrics_addr: String,

    /// Address of the /healthz and /readyz endpoints.
    #[arg(long, default_value = ":9440")]
    pub health_addr: String,

    /// Where events are POSTed as Flux event JSON (notification-controller's address).
    /// Empty disables forwarding; Kubernetes Events are always written.
    #[arg(long, default_value = "")]
    pub events_addr: String,

    /// Log level: trace, debug, info or error.
    #[arg(long, default_value = "info")]
    pub log_level: LogLevel,

    /// Log encoding.
    #[arg(long, default_value = "json")]
    pub log_encoding: LogEncoding,

    /// Sustained queries per second to the Kubernetes API.
    #[arg(long, default_value_t = 50.0)]
    pub kube_api_qps: f32,

    /// Burst of queries allowed above the sustained rate.
    #[arg(long, default_value_t = 300)]
    pub kube_api_burst: u32,

    /// How long to wait before checking a dependency that is not ready again.
    #[arg(long, default_value = "30s", value_parser = parse_flag_duration)]
    pub requeue_dependency: Duration,

    /// The shortest delay between retries of a failing object.
    #[arg(long, default_value = "750ms", value_parser = parse_flag_duration)]
    pub min_retry_delay: Duration,

    /// The longest delay between retries of a failing object.
    #[arg(long, default_value = "15m", value_parser = parse_flag_duration)]
    pub max_retry_delay: Duration,

    /// Percentage of random jitter added to or removed from each requeue interval.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..100))]
    pub interval_jitter_percentage: u8,

    /// Refuse references to objects in other namespaces (multi-tenancy lock-down).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub no_cross_namespace_refs: bool,

    /// Service account impersonated when an object names none (multi-tenancy lock-down).
    #[arg(long, default_value = "")]
    pub default_service_account: String,

    /// Feature gates, e.g. `StrictPostBuildSubstitutions=true,CancelHealthCheckOnNewRevision=false`.
    #[arg(long, default_value = "", value_parser = FeatureGates::parse)]
    pub feature_gates: FeatureGates,

    /// Run only while holding the controller's leader-election Lease.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub enable_leader_election: bool,

    /// How long a Lease is valid without renewal.
    #[arg(long, default_value = "35s", value_parser = parse_flag_duration)]
    pub leader_election_lease_duration: Duration,

    /// How long the leader keeps trying to renew before giving up leadership.
    #[arg(long, default_value = "30s", value_parser = parse_flag_duration)]
    pub leader_election_renew_deadline: Duration,

    /// How often candidates try to take the Lease.
    #[arg(long, default_value = "5s", value_parser = parse_flag_duration)]
    pub leader_election_retry_period: Duration,

    /// Longest time to finish in-flight reconciles after SIGTERM.
    #[arg(long, default_value = "30s", value_parser = parse_flag_duration)]
    pub graceful_shutdown_timeout: Duration,
}

/// Log verbosity, as Flux's `--log-level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Everything, including trace events.
    Trace,
    /// Debug and above.
    Debug,
    /// Info and above (default).
    Info,
    /// Errors only.
    Error,
}

/// Log encoding, as Flux's `--log-encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogEncoding {
    /// One JSON object per line (default, as Flux).
    Json,
    /// Human-readable lines.
    Console,
}

impl CommonArgs {
    /// The namespace the controller runs in ($RUNTIME_NAMESPACE, else `flux-system`).
    pub fn runtime_namespace() -> String {
        std::env::var("RUNTIME_NAMESPACE")
            .ok()
            .filter(|namespace| !namespace.is_empty())
            .unwrap_or_else(|| "flux-system".to_string())
    }

    /// The namespace to watch: `None` for all namespaces.
    pub fn watch_namespace(&self) -> Option<String> {
        (!self.watch_all_namespaces).then(Self::runtime_namespace)
    }
}

/// Parses a flag value written as a Go duration (`30s`, `15m`, `750ms`).
pub fn parse_flag_duration(text: &str) -> Result<Duration, String> {
    eddy_api::meta::parse_duration(text).map_err(|error| error.to_string())
}

/// Resolves a Go-style listen address (`:8080`, `0.0.0.0:8080`, `127.0.0.1:0`) to a socket
/// address; an empty host means all interfaces, as in Go.
pub fn parse_listen_addr(addr: &str) -> Result<std::net::SocketAddr, String> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    full.parse()
        .map_err(|error| format!("invalid listen address {addr:?}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct TestCli {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn defaults_are_fluxs() {
        let cli = TestCli::try_parse_from(["controller"]).expect("defaults parse");
        let args = cli.common;
        assert_eq!(args.concurrent, 4);
        assert!(args.watch_all_namespaces);
        assert_eq!(
            args.watch_configs_label_selector,
            "reconcile.fluxcd.io/watch=Enabled"
        );
        assert_eq!(args.metrics_addr, ":8080");
        assert_eq!(args.health_addr, ":9440");
        assert_eq!(args.events_addr, "");
        assert_eq!(args.log_level, LogLevel::Info);
        assert_eq!(args.log_encoding, LogEncoding::Json);
        assert!((args.kube_api_qps - 50.0).abs() < f32::EPSILON);
        assert_eq!(args.kube_api_burst, 300);
        assert_eq!(args.requeue_dependency, Duration::from_secs(30));
        assert_eq!(args.min_retry_delay, Duration::from_millis(750));
        assert_eq!(args.max_retry_delay, Duration::from_secs(15 * 60));
        assert_eq!(args.interval_jitter_percentage, 5);
        assert!(!args.no_cross_namespace_refs);
        assert!(!args.enable_leader_election);
        assert_eq!(args.leader_election_lease_duration, Duration::from_secs(35));
    }

    #[test]
    fn flags_take_go_style_values() {
        let cli = TestCli::try_parse_from([
            "controller",
            "--concurrent=10",
            "--watch-all-namespaces=false",
            "--no-cross-namespace-refs",
            "--enable-leader-election=true",
            "--min-retry-delay=2s",
            "--max-retry-delay=1h",
            "--log-encoding=console",
            "--feature-gates=StrictPostBuildSubstitutions=true,DisableFailFastBehavior=false",
        ])
        .expect("flags parse");
        let args = cli.common;
        assert_eq!(args.concurrent, 10);
        assert!(!args.watch_all_namespaces);
        assert!(args.no_cross_namespace_refs);
        assert!(args.enable_leader_election);
        assert_eq!(args.min_retry_delay, Duration::from_secs(2));
        assert_eq!(args.max_retry_delay, Duration::from_secs(3600));
        assert_eq!(args.log_encoding, LogEncoding::Console);
        assert_eq!(
            args.feature_gates.enabled("StrictPostBuildSubstitutions"),
            Some(true)
        );
        assert_eq!(
            args.feature_gates.enabled("DisableFailFastBehavior"),
            Some(false)
        );
        assert_eq!(args.feature_gates.enabled("Unset"), None);
    }

    #[test]
    fn bad_flag_values_are_refused() {
        assert!(TestCli::try_parse_from(["controller", "--min-retry-delay=soon"]).is_err());
        assert!(
            TestCli::try_parse_from(["controller", "--interval-jitter-percentage=150"]).is_err()
        );
        assert!(TestCli::try_parse_from(["controller", "--feature-gates=Broken"]).is_err());
        assert!(TestCli::try_parse_from(["controller", "--log-level=loud"]).is_err());
    }

    #[test]
    fn go_style_listen_addresses_resolve() {
        assert_eq!(parse_listen_addr(":8080").map(|a| a.port()), Ok(8080));
        assert_eq!(
            parse_listen_addr("127.0.0.1:9440").map(|a| a.to_string()),
            Ok("127.0.0.1:9440".to_string())
        );
        assert!(parse_listen_addr("localhost").is_err());
    }
}
