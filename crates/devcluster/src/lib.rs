//! # eddy-devcluster: a Kubernetes API server that needs no cluster
//!
//! People want to try Eddy, and our tests want to exercise it, without installing a cluster.
//! This crate is an embedded API server that kubectl, Helm and kube-rs talk to unchanged: HTTPS
//! on loopback with a certificate authority generated at start-up (client-go sends a
//! kubeconfig's bearer token only over TLS), a bearer token, and kube-apiserver's behaviour for
//! what those clients do.
//!
//! The design follows the shape of the real thing, scaled down:
//!
//! - **Storage** (`store`) is one ordered map from (group, resource, namespace, name) to a
//!   JSON object, one global resourceVersion counter and a bounded change log. Watches replay
//!   the log from a resourceVersion and get `410 Expired` when asked for history it no longer
//!   holds — exactly the contract client-go and kube-rs reflectors are written against.
//! - **Schema** (`kinds`, `crd`, `schema`) is a table of built-in kinds (scope,
//!   subresources, printer columns) plus whatever CustomResourceDefinitions register at run
//!   time; custom resources are pruned, defaulted and validated from their openAPIV3Schema.
//! - **Discovery and OpenAPI** (`discovery`, `openapi`) answer in the forms kubectl 1.32
//!   asks for, including aggregated discovery.
//! - **Semantics** (`writes`, `validation`, `lifecycle`, `watch`) cover uid, generation,
//!   optimistic concurrency, the status and scale subresources, immutable fields, finalizers,
//!   owner-reference garbage collection, namespace and CRD deletion, selectors, pagination, dry
//!   runs, Table output and merge, JSON and strategic merge patches.
//! - **Wire formats** (`handlers`, `protobuf`, `conversion`): JSON and YAML bodies, the
//!   protobuf bodies kubectl's typed `create` commands send, and conversion between versions
//!   that share storage (HorizontalPodAutoscaler v1/v2, core and events.k8s.io Events).
//!
//! Every request is answered by one mutex-guarded state machine, never held across an
//! `.await`; watches are fed by a broadcast channel subscribed under that lock, so a watch
//! never misses or repeats a change. A background task plays the garbage collector and the
//! namespace controller.
//!
//! **Workload simulator** (`simulator`, on by default, off with
//! [`DevClusterBuilder::simulate_workloads`]): another background task plays
//! kube-controller-manager for a healthy one-node cluster, like kwok. Shortly after every
//! change it writes the status Deployments, ReplicaSets, StatefulSets, DaemonSets and Jobs
//! would reach (observedGeneration, replica counts, Deployment `Available` /
//! `MinimumReplicasAvailable` and `Progressing` / `NewReplicaSetAvailable`, StatefulSet
//! revisions, DaemonSet scheduling on one pretend node, Job `Complete` with `succeeded` and
//! `completionTime`), binds PersistentVolumeClaims and keeps Namespaces `Active`, so
//! `kubectl rollout status`, `kubectl wait --for=condition=Available` and kstatus see them
//! ready. Services get a unique clusterIP from 10.96.0.0/12 at creation (headless `None` stays).
//! The annotation [`NEVER_READY_ANNOTATION`] (`eddy.dev/never-ready: "true"`) keeps an object
//! from ever becoming ready: no available replicas, a Job that never completes, a claim that
//! stays `Pending` — for testing health checks that must fail.
//!
//! **Persistence** (`persist`, with [`DevClusterBuilder::data_dir`]): every change is
//! appended to a write-ahead log and `fdatasync`ed before it is acknowledged; the log is
//! folded into a snapshot (temporary file, then rename) as it grows and at every start. After
//! a restart every object is back (CRDs included, so custom resources are served again),
//! resourceVersions continue upwards, and watches resume from resourceVersions of before the
//! restart (the last 10,000 changes are kept). The CA, serving key and bearer token are kept
//! too, so an existing kubeconfig keeps working. A log record cut short by a crash was never
//! acknowledged and is dropped. Without a data directory everything is in memory.
//!
//! **Server-side apply** (`ssa`): managedFields, conflicts, field removal and list merging as
//! kube-apiserver does them. **Authorization** (`rbac`): the bearer token is cluster admin;
//! impersonated requests are authorized with RBAC and denied with kube-apiserver's 403.
//!
//! It is a development tool: one process. Not there: admission webhooks and aggregated APIs
//! are stored but not called; no pods are simulated, and there are no logs, exec or port-forward; the
//! OpenAPI documents describe built-in kinds (for `kubectl explain`) but built-in objects are
//! not validated against them; `/openapi/v2` is not served (kubectl falls back without it).
//!
//! ```no_run
//! # async fn example() -> Result<(), eddy_devcluster::Error> {
//! let cluster = eddy_devcluster::DevCluster::builder()
//!     .listen("127.0.0.1:0".parse().map_err(|_| eddy_devcluster::Error::InvalidAddress)?)
//!     .token("secret")
//!     .build()
//!     .serve()
//!     .await?;
//! cluster.write_kubeconfig("kubeconfig".as_ref())?;
//! cluster.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod builtin_schemas;
mod cel_rules;
mod conversion;
mod crd;
mod discovery;
mod handlers;
mod kinds;
mod lifecycle;
mod object;
mod openapi;
mod patch;
mod persist;
mod protobuf;
mod rbac;
mod registry;
mod schema;
mod selectors;
mod server;
mod simulator;
mod ssa;
mod status;
mod store;
mod table;
mod tls;
mod validation;
mod watch;
mod writes;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use discovery::KUBERNETES_VERSION;
pub use persist::DataDirError;
pub use simulator::NEVER_READY_ANNOTATION;
pub use tls::TlsError;

/// Why the server could not start or its kubeconfig could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// The serving certificate could not be made.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A listen address did not parse.
    #[error("invalid listen address")]
    InvalidAddress,
    /// The data directory could not be read or written.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The kubeconfig could not be written.
    #[error("cannot write kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// The underlying failure.
        source: std::io::Error,
    },
}

/// Configuration for an embedded API server; build one with [`DevCluster::builder`].
#[derive(Debug, Clone)]
pub struct DevCluster {
    listen: SocketAddr,
    token: Option<String>,
    max_body_bytes: usize,
    history: usize,
    bookmark_interval: Duration,
    tls: bool,
    /// Whether `token` was chosen by the caller (rather than generated), so a data directory's
    /// stored token does not override it.
    token_given: bool,
    data_dir: Option<PathBuf>,
    simulate_workloads: bool,
}

/// Builder for [`DevCluster`].
#[derive(Debug, Clone)]
pub struct DevClusterBuilder {
    cluster: DevCluster,
}

impl DevCluster {
    /// Starts a configuration: HTTPS on `127.0.0.1:0` (any free port), a random token, 3 MiB
    /// bodies (kube-apiserver's limit), 50,000 changes of watch history, bookmarks every 10 seconds.
    pub fn builder() -> DevClusterBuilder {
        DevClusterBuilder {
            cluster: DevCluster {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                token: Some(random_token()),
                max_body_bytes: 3 * 1024 * 1024,
                history: 50_000,
                bookmark_interval: Duration::from_secs(10),
                tls: true,
                token_given: false,
                data_dir: None,
                simulate_workloads: true,
            },
        }
    }

    /// The bearer token clients must send, if authentication is on.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Binds the listener and starts serving in the background.
    pub async fn serve(self) -> Result<RunningCluster, Error> {
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| Error::Bind {
                address: self.listen,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| Error::Bind {
            address: self.listen,
            source,
        })?;
        let stopping = tokio_util::sync::CancellationToken::new();
        let store = store::Store::new(self.history);
        let mut token = self.token.clone();
        let mut key_material = None;
        if let Some(directory) = &self.data_dir {
            let (journal, loaded) = persist::Journal::open(directory)?;
            let fresh = loaded.objects.is_empty();
            {
                let mut inner = store.lock();
                inner.restore(loaded, journal)?;
                persist::register_definitions(&mut inner);
                if fresh {
                    lifecycle::bootstrap(&mut inner);
                }
            }
            if let Some(generated) = &self.token {
                let explicit = self.token_given.then_some(generated.as_str());
                token = Some(persist::token(directory, explicit, generated)?);
            }
            if self.tls {
                key_material = Some(persist::key_material(directory)?);
            }
        } else {
            lifecycle::bootstrap(&mut store.lock());
        }
        rbac::bootstrap(&mut store.lock());
        let app = Arc::new(server::App {
            store,
            token: token.clone(),
            server_address: address.to_string(),
            max_body_bytes: self.max_body_bytes,
            bookmark_interval: self.bookmark_interval,
            openapi: openapi::DocumentCache::default(),
            stopping: stopping.clone(),
        });
        let collector = tokio::spawn(lifecycle::run_collector(app.clone()));
        let simulator = self
            .simulate_workloads
            .then(|| tokio::spawn(simulator::run(app.clone())));
        let (stop, stopped) = oneshot::channel::<()>();
        let app_handle = app.clone();
        let router = server::router(app);
        let shutdown = async {
            let _ = stopped.await;
        };
        let (server, certificate_authority) =
            if self.tls {
                let certificates = match &key_material {
                    Some(material) => tls::generate_from(address.ip(), material)?,
                    None => tls::generate(address.ip())?,
                };
                let listener = tls::TlsListener::new(listener, certificates.server_config)
                    .map_err(|source| Error::Bind {
                        address: self.listen,
                        source,
                    })?;
                let server = tokio::spawn(async move {
                    if let Err(error) = axum::serve(listener, router)
                        .with_graceful_shutdown(shutdown)
                        .await
                    {
                        tracing::error!(%error, "dev cluster server stopped");
                    }
                });
                (server, Some(certificates.authority_pem))
            } else {
                let server = tokio::spawn(async move {
                    if let Err(error) = axum::serve(listener, router)
                        .with_graceful_shutdown(shutdown)
                        .await
                    {
                        tracing::error!(%error, "dev cluster server stopped");
                    }
                });
                (server, None)
            };
        Ok(RunningCluster {
            address,
            token,
            simulator,
            app: AppHandle(app_handle),
            stopping,
            certificate_authority,
            stop: Some(stop),
            server,
            collector,
        })
    }
}

impl DevClusterBuilder {
    /// The address to listen on (port 0 picks a free one).
    pub fn listen(mut self, address: SocketAddr) -> Self {
        self.cluster.listen = address;
        self
    }

    /// The bearer token clients must send. With a data directory it replaces the stored one.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.cluster.token = Some(token.into());
        self.cluster.token_given = true;
        self
    }

    /// Accepts requests without a token (only sensible on loopback).
    pub fn without_authentication(mut self) -> Self {
        self.cluster.token = None;
        self.cluster.token_given = true;
        self
    }

    /// Keeps the cluster's state in `directory` so it survives restarts: every object
    /// (custom resources and their definitions included), the resourceVersion counter, the
    /// recent change history watches resume from, and the CA, serving key and bearer token a
    /// kubeconfig depends on (the token unless [`DevClusterBuilder::token`] gives another).
    /// Each acknowledged write is on disk first. Without it, state lives in memory only.
    pub fn data_dir(mut self, directory: impl Into<PathBuf>) -> Self {
        self.cluster.data_dir = Some(directory.into());
        self
    }

    /// Turns the workload simulator on (the default) or off. It writes the status that
    /// kube-controller-manager would to Deployments, ReplicaSets, StatefulSets, DaemonSets,
    /// Jobs, Namespaces and PersistentVolumeClaims, so rollouts finish and health checks pass;
    /// see [`NEVER_READY_ANNOTATION`] to keep one object from becoming ready.
    pub fn simulate_workloads(mut self, enabled: bool) -> Self {
        self.cluster.simulate_workloads = enabled;
        self
    }

    /// The largest request body accepted; larger bodies get 413.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.cluster.max_body_bytes = bytes;
        self
    }

    /// How many changes watches can replay; older resourceVersions get 410 Expired.
    pub fn watch_history(mut self, changes: usize) -> Self {
        self.cluster.history = changes;
        self
    }

    /// How often watches that allow bookmarks receive one.
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.cluster.bookmark_interval = interval;
        self
    }

    /// Serves plain HTTP instead of HTTPS. client-go (kubectl, Helm) then sends no credentials,
    /// so combine this with [`DevClusterBuilder::without_authentication`] for those clients.
    pub fn plain_http(mut self) -> Self {
        self.cluster.tls = false;
        self
    }

    /// Finishes the configuration.
    pub fn build(self) -> DevCluster {
        self.cluster
    }
}

/// A serving API server; dropping it stops serving.
#[derive(Debug)]
pub struct RunningCluster {
    address: SocketAddr,
    token: Option<String>,
    stopping: tokio_util::sync::CancellationToken,
    certificate_authority: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    collector: JoinHandle<()>,
    simulator: Option<JoinHandle<()>>,
    app: AppHandle,
}

/// The server state, held so shutdown can close the data directory.
struct AppHandle(Arc<server::App>);

impl std::fmt::Debug for AppHandle {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("App")
    }
}

impl RunningCluster {
    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The server URL (`https://127.0.0.1:PORT`, or `http://` when serving plain HTTP).
    pub fn url(&self) -> String {
        let scheme = if self.certificate_authority.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.address)
    }

    /// The PEM certificate of the authority that signed the serving certificate (HTTPS only).
    pub fn certificate_authority(&self) -> Option<&str> {
        self.certificate_authority.as_deref()
    }

    /// A kubeconfig for this server.
    pub fn kubeconfig(&self) -> String {
        kubeconfig(
            &self.url(),
            self.token.as_deref().unwrap_or(""),
            self.certificate_authority.as_deref(),
        )
    }

    /// The bearer token, if authentication is on.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Writes a kubeconfig pointing at this server.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), Error> {
        write_kubeconfig(
            path,
            &self.url(),
            self.token.as_deref().unwrap_or(""),
            self.certificate_authority.as_deref(),
        )
    }

    /// Stops accepting requests, ends open watches and waits for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.stopping.cancel();
        self.collector.abort();
        if let Some(simulator) = &self.simulator {
            simulator.abort();
        }
        // Watches end on `stopping`; anything else still open is cut after a moment.
        let server = &mut self.server;
        if tokio::time::timeout(Duration::from_secs(2), &mut *server)
            .await
            .is_err()
        {
            server.abort();
        }
        // Nothing is served any more: release the data directory for the next server.
        self.app.0.store.lock().close_journal();
    }
}

impl Drop for RunningCluster {
    fn drop(&mut self) {
        self.stopping.cancel();
        self.server.abort();
        self.collector.abort();
        if let Some(simulator) = &self.simulator {
            simulator.abort();
        }
        self.app.0.store.lock().close_journal();
    }
}

/// The kubeconfig text for a server URL, a bearer token (empty for none) and, for HTTPS, the
/// PEM certificate authority to trust.
pub fn kubeconfig(
    server_url: &str,
    token: &str,
    certificate_authority_pem: Option<&str>,
) -> String {
    use base64::Engine;
    let authority = certificate_authority_pem
        .map(|pem| {
            format!(
                "    certificate-authority-data: {}\n",
                base64::engine::general_purpose::STANDARD.encode(pem)
            )
        })
        .unwrap_or_default();
    let user = if token.is_empty() {
        "  user: {}\n".to_string()
    } else {
        format!("  user:\n    token: {token}\n")
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: eddy-dev\n  cluster:\n    server: {server_url}\n{authority}contexts:\n- name: eddy-dev\n  context:\n    cluster: eddy-dev\n    user: eddy-dev\n    namespace: default\ncurrent-context: eddy-dev\npreferences: {{}}\nusers:\n- name: eddy-dev\n{user}"
    )
}

/// Writes a kubeconfig for a server URL and bearer token (mode 0600 on Unix: it holds a credential).
pub fn write_kubeconfig(
    path: &Path,
    server_url: &str,
    token: &str,
    certificate_authority_pem: Option<&str>,
) -> Result<(), Error> {
    let failure = |source| Error::Kubeconfig {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(failure)?;
    }
    std::fs::write(
        path,
        kubeconfig(server_url, token, certificate_authority_pem),
    )
    .map_err(failure)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(failure)?;
    }
    Ok(())
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_names_server_and_token() {
        let text = kubeconfig("https://127.0.0.1:6443", "abc", Some("PEM"));
        assert!(text.contains("server: https://127.0.0.1:6443"));
        assert!(text.contains("certificate-authority-data: UEVN"));
        assert!(text.contains("token: abc"));
        assert!(text.contains("current-context: eddy-dev"));
    }

    #[test]
    fn builder_defaults_to_a_random_token() {
        let first = DevCluster::builder().build();
        let second = DevCluster::builder().build();
        assert_ne!(first.token(), second.token());
        assert_eq!(first.token().map(str::len), Some(48));
    }
}
