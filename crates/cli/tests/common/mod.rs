//! What the cluster-command tests share: an in-process dev cluster with Eddy's CRDs, a
//! kubeconfig file for it, and the real `eddy` binary run against it.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "shared by several test binaries, each using part of it"
)]

use std::process::{Output, Stdio};

use eddy_testkit::TestCluster;

/// How long any wait in a test may take before it fails.
pub use eddy_testkit::DEADLINE;

/// A dev cluster (with Eddy's CRDs) the `eddy` binary is run against.
pub struct Cluster {
    pub cluster: TestCluster,
    pub client: kube::Client,
}

impl Cluster {
    pub async fn start() -> Self {
        let cluster = TestCluster::start().await;
        Self {
            client: cluster.client.clone(),
            cluster,
        }
    }

    /// The command line `eddy ARGS --kubeconfig <this cluster>`, stdin closed.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_eddy"));
        command
            .args(args)
            .arg("--kubeconfig")
            .arg(self.cluster.kubeconfig())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `eddy ARGS` to completion.
    pub async fn eddy(&self, args: &[&str]) -> Run {
        let output = tokio::time::timeout(DEADLINE, self.command(args).output())
            .await
            .expect("eddy finishes in time")
            .expect("eddy runs");
        Run::from(output)
    }
}

/// What one `eddy` run printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with both streams unless the command succeeded.
    pub fn ok(self) -> Self {
        assert!(
            self.success,
            "eddy failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics unless the command failed.
    pub fn failed(self) -> Self {
        assert!(
            !self.success,
            "eddy should have failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }
}
