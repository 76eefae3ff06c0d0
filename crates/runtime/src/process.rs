//! Start-up and shutdown of a controller process: crypto provider, logging, API client,
//! metrics and health servers, leader election, and SIGTERM handling.

use crate::admin::{self, Readiness};
use crate::client::{self, ClientError};
use crate::controller::{Harness, HarnessSettings, Reconciler};
use crate::events::{EventRecorder, EventRecorderError};
use crate::flags::{CommonArgs, parse_listen_addr};
use crate::leader::{self, LeaderError};
use crate::metrics::{Metrics, MetricsError};
use crate::reconcile::RequeuePolicy;
use crate::telemetry::init_logging;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;

/// Why a controller could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// A flag value is not usable.
    #[error("{0}")]
    InvalidFlag(String),
    /// No API client.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Metrics could not be registered.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// An admin server could not listen.
    #[error(transparent)]
    Admin(#[from] admin::AdminError),
    /// The event recorder could not be built.
    #[error(transparent)]
    Events(#[from] EventRecorderError),
    /// Leader election failed.
    #[error(transparent)]
    Leader(#[from] LeaderError),
    /// Another replica took the Lease.
    #[error("lost leader election Lease {0}; exiting so a restart can rejoin the election")]
    LostLeadership(String),
}

/// Installs the one TLS crypto provider of the process (ring, which kube uses), before any
/// TLS client is built. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A running controller process and what its controllers share.
pub struct Process {
    /// Controller name, e.g. `source-controller`.
    pub name: &'static str,
    /// The common flags.
    pub args: CommonArgs,
    /// The rate-limited API client.
    pub client: kube::Client,
    /// What `client` was built from, for further clients with the same configuration and
    /// limits (impersonation).
    pub client_settings: client::ClientSettings,
    /// Exported metrics.
    pub metrics: Metrics,
    /// Events to Kubernetes and notification-controller.
    pub recorder: EventRecorder,
    /// Readiness reported on /readyz.
    pub readiness: Readiness,
    /// Cancelled on SIGTERM/SIGINT or lost leadership.
    pub shutdown: CancellationToken,
    lost_lease: Arc<AtomicBool>,
    lease_name: String,
}

impl Process {
    /// Starts everything shared: returns once the API server answered, the admin servers
    /// listen and, with leader election on, this replica leads.
    pub async fn start(name: &'static str, args: CommonArgs) -> Result<Self, ProcessError> {
        install_crypto_provider();
        init_logging(args.log_level, args.log_encoding);
        let metrics_addr =
            parse_listen_addr(&args.metrics_addr).map_err(ProcessError::InvalidFlag)?;
        let health_addr =
            parse_listen_addr(&args.health_addr).map_err(ProcessError::InvalidFlag)?;
        if args.min_retry_delay > args.max_retry_delay {
            return Err(ProcessError::InvalidFlag(
                "--min-retry-delay must not exceed --max-retry-delay".into(),
            ));
        }
        let shutdown = shutdown_on_signal();
        let (client, client_settings) =
            client::connect(&args.kubeconfig, args.kube_api_qps, args.kube_api_burst).await?;
        let metrics = Metrics::new()?;
        let readiness = Readiness::default();
        let metrics_bound = admin::serve(
            metrics_addr,
            "metrics",
            admin::metrics_router(metrics.clone()),
            shutdown.clone(),
        )
        .await?;
        let health_bound = admin::serve(
            health_addr,
            "health probes",
            admin::health_router(readiness.clone()),
            shutdown.clone(),
        )
        .await?;
        // Events go through a client of their own, as controller-runtime's recorder has its
        // own REST client: they must not spend the reconcilers' QPS budget.
        let events_client = client_settings.build()?;
        let recorder = EventRecorder::new(name, Some(events_client), &args.events_addr)?;
        let lease_name = leader::lease_name(name, &args.watch_label_selector);
        let lost_lease = Arc::new(AtomicBool::new(false));
        let process = Self {
            name,
            args,
            client,
            client_settings,
            metrics,
            recorder,
            readiness,
            shutdown,
            lost_lease,
            lease_name,
        };
        if process.args.enable_leader_election {
            process.lead().await?;
        }
        process.readiness.set(true);
        tracing::info!(controller = name, metrics = %metrics_bound, health = %health_bound, "started");
        Ok(process)
    }

    async fn lead(&self) -> Result<(), ProcessError> {
        let identity = std::env::var("HOSTNAME")
            .ok()
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| format!("{}-{}", self.name, std::process::id()));
        let namespace = CommonArgs::runtime_namespace();
        let mut leading = leader::elect(
            self.client.clone(),
            &namespace,
            &self.lease_name,
            &identity,
            self.args.leader_election_lease_duration,
            self.args.leader_election_renew_deadline,
        )
        .await?;
        tracing::info!(lease = %self.lease_name, %namespace, "waiting to become leader");
        while !*leading.borrow_and_update() {
            tokio::select! {
                changed = leading.changed() => if changed.is_err() {
                    return Err(ProcessError::LostLeadership(self.lease_name.clone()));
                },
                () = self.shutdown.cancelled() => return Ok(()),
            }
        }
        tracing::info!(lease = %self.lease_name, "became leader");
        let shutdown = self.shutdown.clone();
        let lost = self.lost_lease.clone();
        tokio::spawn(async move {
            while leading.changed().await.is_ok() {
                if !*leading.borrow() {
                    break;
                }
            }
            lost.store(true, Ordering::SeqCst);
            shutdown.cancel();
        });
        Ok(())
    }

    /// A harness for one kind's reconciler, sharing this process's client, metrics and events.
    pub fn harness<R: Reconciler>(&self, reconciler: R, field_manager: &str) -> Arc<Harness<R>> {
        Arc::new(Harness::new(
            reconciler,
            self.client.clone(),
            HarnessSettings {
                controller: self.name.to_string(),
                field_manager: field_manager.to_string(),
            },
            RequeuePolicy::new(
                self.args.min_retry_delay,
                self.args.max_retry_delay,
                self.args.interval_jitter_percentage,
            ),
            self.metrics.clone(),
            self.recorder.clone(),
        ))
    }

    /// How to run this process's controllers, from the common flags: the watched namespace,
    /// the sharding selector, `--concurrent` and `--graceful-shutdown-timeout`.
    pub fn run_options(&self) -> crate::controller::RunOptions {
        crate::controller::RunOptions {
            namespace: self.args.watch_namespace(),
            label_selector: self.args.watch_label_selector.clone(),
            concurrency: self.args.concurrent,
            shutdown_grace: self.args.graceful_shutdown_timeout,
        }
    }

    /// Waits for SIGTERM (or lost leadership) and reports how the process ended.
    pub async fn wait(&self) -> Result<(), ProcessError> {
        self.shutdown.cancelled().await;
        self.finish()
    }

    /// How the process ended, once `shutdown` fired.
    pub fn finish(&self) -> Result<(), ProcessError> {
        self.readiness.set(false);
        if self.lost_lease.load(Ordering::SeqCst) {
            return Err(ProcessError::LostLeadership(self.lease_name.clone()));
        }
        tracing::info!(controller = self.name, "shut down");
        Ok(())
    }
}

/// A token cancelled on SIGTERM or SIGINT.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut terminate =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(signal) => signal,
                    Err(error) => {
                        tracing::error!(%error, "cannot listen for SIGTERM");
                        let _ = interrupt.await;
                        cancel.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = interrupt => {},
                _ = terminate.recv() => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = interrupt.await;
        }
        tracing::info!("shutdown signal received");
        cancel.cancel();
    });
    token
}

/// Prints a fatal error as one line on stderr and exits non-zero: what every binary's `main`
/// does with a start-up failure, so operators see the cause, not a backtrace.
pub fn exit_with_error(controller: &str, error: &dyn std::error::Error) -> ! {
    eprintln!("{controller}: {}", client::one_line(error));
    std::process::exit(1)
}

/// Runs a controller whose reconcilers have not been built yet: it starts like every controller
/// (flags, client, metrics, health, leader election) and says plainly that it reconciles
/// nothing, so deployments and probes can be wired up without pretending to work.
pub async fn run_without_reconcilers(
    name: &'static str,
    args: CommonArgs,
    plan: &str,
) -> Result<(), ProcessError> {
    let process = Process::start(name, args).await?;
    tracing::warn!(
        controller = name,
        "this build reconciles nothing yet; planned: {plan}"
    );
    process.wait().await
}
