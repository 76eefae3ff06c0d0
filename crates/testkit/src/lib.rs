//! Test support shared by Eddy's integration and end-to-end tests, so the dev-cluster
//! bootstrap and the polling helpers exist once instead of once per crate.
//!
//! ```text
//!   cluster   TestCluster: an in-process dev cluster (eddy-devcluster) with Eddy's CRDs
//!             installed and Established, a kube::Config and Client for it, and a kubeconfig
//!             file in a temporary directory; `client_for` reads any kubeconfig file
//!   controller  ControllerUnderTest: a reconciler running in-process under the harness, with
//!             quick test retries
//!   poll      eventually / eventually_explained / wait_until: poll with a deadline, never sleep
//!             for a race; DEADLINE is the generous default
//!   objects   any kind: wait_for_object (typed, failing with its status), patch_spec,
//!             request_reconcile, dynamic, create_namespace, event_notes
//!   git_servers  the real Git servers of hack/git-servers.sh, started once per test binary
//!   net       free_port for binaries that must be told their address before they start
//!   logging   init_logging: console logs at debug level when EDDY_TEST_LOG is set
//! ```
//!
//! Everything here is test support: a failure panics with a message saying what went wrong,
//! because a panic is how a test reports failure. Only tests (dev-dependencies) and the e2e
//! harness depend on this crate; production code never does. `crates/devcluster`'s own tests
//! do not use it (this crate depends on devcluster).

mod cluster;
mod controller;
pub mod git_servers;
mod objects;
mod poll;

pub use cluster::{TestCluster, TestClusterBuilder, client_for, install_crds};
pub use controller::ControllerUnderTest;
pub use objects::{
    create_namespace, dynamic, event_notes, patch_spec, request_reconcile, wait_for_object,
};
pub use poll::{DEADLINE, POLL, eventually, eventually_explained, wait_until};

/// A loopback port nothing listens on right now, for a binary that must be told its address
/// before it starts and does not log what it bound (bind and drop: the port stays free unless
/// another process grabs it in between). The kernel may hand a port it just released out
/// again, so a port is never returned twice in one test process.
///
/// # Panics
/// When no new loopback port can be bound.
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for _ in 0..100 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
    panic!("no loopback port that was not handed out already")
}

/// Sends Eddy's logs (debug level, console format) to stderr when `EDDY_TEST_LOG` is set, so a
/// failing test can be rerun with the controller's view of events; otherwise does nothing. Safe
/// to call from every test: only the first call in a process installs the subscriber.
pub fn init_logging() {
    if std::env::var_os("EDDY_TEST_LOG").is_some() {
        eddy_runtime::telemetry::init_logging(
            eddy_runtime::flags::LogLevel::Debug,
            eddy_runtime::flags::LogEncoding::Console,
        );
    }
}
