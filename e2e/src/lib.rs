//! Helpers for the end-to-end tests in `tests/`, which run the real Eddy binaries as separate
//! processes. `make test` builds the binaries first (`cargo build --workspace --bins`); the tests
//! find them next to the test executable's target directory.

pub mod fixtures;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Every controller binary.
pub const CONTROLLERS: [&str; 6] = [
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
    "image-automation",
    "flux-config-agent",
];

/// The path of a workspace binary built by `cargo build --workspace --bins`.
///
/// # Panics
/// When the binary has not been built: the message says how to build it.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} not found: run `cargo build --workspace --bins` first (make test does)",
        path.display()
    );
    path
}

/// A plain HTTP/1.1 GET on loopback: status code and body.
pub fn http_get(address: &str, path: &str, accept: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Writes a kubeconfig pointing at `server` with a bearer token; returns its path.
pub fn write_kubeconfig(dir: &std::path::Path, server: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: e2e\n"
    );
    std::fs::write(&path, text)
        .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
    path
}

/// A dev cluster serving on its own runtime for the length of a test (the e2e tests are
/// synchronous: they drive processes, and run async code on runtimes of their own).
pub struct DevClusterGuard {
    // Declared before the runtime so the cluster stops before its runtime goes.
    cluster: eddy_testkit::TestCluster,
    _runtime: tokio::runtime::Runtime,
}

impl DevClusterGuard {
    /// The kubeconfig file for the cluster.
    pub fn kubeconfig(&self) -> &std::path::Path {
        self.cluster.kubeconfig()
    }
}

/// Starts the embedded dev cluster with Eddy's CRDs installed; returns its kubeconfig path and
/// the guard that keeps it serving (and the file in place).
pub fn start_dev_cluster() -> (std::path::PathBuf, DevClusterGuard) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let cluster = runtime.block_on(eddy_testkit::TestCluster::start());
    let kubeconfig = cluster.kubeconfig().to_path_buf();
    (
        kubeconfig,
        DevClusterGuard {
            cluster,
            _runtime: runtime,
        },
    )
}

/// The child's stderr, drained on a thread for the child's whole life (a pipe nobody reads
/// would block or break the child), line by line.
pub struct LogLines {
    lines: std::sync::mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<()>,
}

impl LogLines {
    pub fn drain(stderr: std::process::ChildStderr) -> Self {
        let (sender, lines) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        Self { lines, reader }
    }

    /// The first JSON log line whose message is `started`, or `None` when none came within
    /// `deadline`.
    pub fn wait_for_started(&self, deadline: Duration) -> Option<serde_json::Value> {
        let until = Instant::now() + deadline;
        loop {
            let remaining = until.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(remaining).ok()?;
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
                && json["message"] == "started"
            {
                return Some(json);
            }
        }
    }

    /// Every line logged so far that has not been read.
    pub fn rest(&self) -> String {
        self.lines.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// Every line not read yet, once the child has closed its stderr (call after it exited).
    pub fn finish(self) -> String {
        let _ = self.reader.join();
        self.lines.try_iter().collect::<Vec<_>>().join("\n")
    }
}

/// Waits up to `deadline` for the child to exit; kills it and returns `None` when it does not.
pub fn wait_for_exit(
    child: &mut std::process::Child,
    deadline: Duration,
) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if Instant::now() > until {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
