//! Shared test harness: a dev cluster on its own runtime, a temporary directory with its
//! kubeconfig, and helpers to run the machine's real `kubectl` against it.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eddy_devcluster::{DevCluster, RunningCluster};

static NEXT_DIRECTORY: AtomicUsize = AtomicUsize::new(0);

/// A unique, empty temporary directory removed on drop.
pub(crate) struct TempDir {
    pub(crate) path: PathBuf,
}

impl TempDir {
    pub(crate) fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "eddy-devcluster-test-{}-{}-{nanos}",
            std::process::id(),
            NEXT_DIRECTORY.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A running dev cluster plus a kubeconfig for it.
pub(crate) struct TestCluster {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) cluster: Option<RunningCluster>,
    pub(crate) directory: TempDir,
    pub(crate) kubeconfig: PathBuf,
}

impl TestCluster {
    pub(crate) fn start() -> Self {
        Self::start_with(DevCluster::builder())
    }

    pub(crate) fn start_with(builder: eddy_devcluster::DevClusterBuilder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let cluster = runtime
            .block_on(builder.token("test-token").build().serve())
            .expect("serve");
        let directory = TempDir::new();
        let kubeconfig = directory.path.join("kubeconfig");
        cluster.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        TestCluster {
            runtime,
            cluster: Some(cluster),
            directory,
            kubeconfig,
        }
    }

    pub(crate) fn running(&self) -> &RunningCluster {
        self.cluster.as_ref().expect("cluster running")
    }

    /// A `kubectl` command using this cluster's kubeconfig and a private discovery cache.
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.directory.path.join("cache"))
            .env("HOME", &self.directory.path)
            .env_remove("KUBECONFIG");
        command
    }

    pub(crate) fn kubectl(&self, arguments: &[&str]) -> Output {
        self.command()
            .args(arguments)
            .output()
            .expect("run kubectl")
    }

    pub(crate) fn kubectl_with_input(&self, arguments: &[&str], input: &str) -> Output {
        let mut child = self
            .command()
            .args(arguments)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl and returns stdout, failing the test with stderr if it fails.
    pub(crate) fn ok(&self, arguments: &[&str]) -> String {
        let output = self.kubectl(arguments);
        assert!(
            output.status.success(),
            "kubectl {arguments:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs kubectl expecting failure and returns stderr.
    pub(crate) fn fails(&self, arguments: &[&str]) -> String {
        let output = self.kubectl(arguments);
        assert!(
            !output.status.success(),
            "kubectl {arguments:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    pub(crate) fn apply(&self, manifest: &str, extra: &[&str]) -> String {
        let mut arguments = vec!["apply", "-f", "-"];
        arguments.extend_from_slice(extra);
        let output = self.kubectl_with_input(&arguments, manifest);
        assert!(
            output.status.success(),
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub(crate) fn json(&self, arguments: &[&str]) -> serde_json::Value {
        let mut arguments = arguments.to_vec();
        arguments.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.ok(&arguments)).expect("kubectl JSON output")
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            self.runtime.block_on(cluster.shutdown());
        }
    }
}

/// Polls `check` until it returns true or the deadline passes.
pub(crate) fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// Whether the machine has kubectl; tests that need it are skipped (with a note) otherwise.
pub(crate) fn have_kubectl() -> bool {
    let found = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!("kubectl not found; skipping");
    }
    found
}
