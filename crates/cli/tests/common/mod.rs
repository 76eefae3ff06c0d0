//! What the cluster-command tests share: an in-process dev cluster with Eddy's CRDs, a
//! kubeconfig file for it, and the real `eddy` binary run against it.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "shared by several test binaries; a failed unwrap is how tests report failure"
)]

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use eddy_devcluster::{DevCluster, RunningCluster};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// How long any wait in a test may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct Cluster {
    pub cluster: RunningCluster,
    pub client: kube::Client,
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub async fn start() -> Self {
        eddy_runtime::process::install_crypto_provider();
        let cluster = DevCluster::builder().build().serve().await.expect("serve");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        cluster.write_kubeconfig(&kubeconfig).unwrap();
        let parsed = Kubeconfig::from_yaml(&cluster.kubeconfig()).unwrap();
        let config = kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
        for definition in eddy_api::crds::all() {
            definitions
                .create(&PostParams::default(), &definition)
                .await
                .unwrap();
        }
        Self {
            cluster,
            client,
            kubeconfig,
            _dir: dir,
        }
    }

    /// The command line `eddy ARGS --kubeconfig <this cluster>`, stdin closed.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_eddy"));
        command
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
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

/// Polls `check` until it returns `Some`, failing the test after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
