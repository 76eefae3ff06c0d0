//! Fixtures for scenarios that run several controllers together: a Git server of our own
//! (`git http-backend` behind axum, so a test can commit while the controllers watch), HTTP
//! sinks that record what they receive (standing in for Slack, Teams and other webhooks), and
//! controller processes whose logs go to a file the test can search and print.
//!
//! Everything here is test support: failures panic with a message saying what went wrong.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use eddy_testkit::POLL;

/// Largest request or response body the Git server and the sinks accept (test data is small).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Git over smart HTTP
// ---------------------------------------------------------------------------------------------

/// Whether `git http-backend` can run here (it ships with git, but minimal installs may lack
/// it).
pub fn git_http_backend_available() -> bool {
    Command::new("git")
        .arg("--exec-path")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| {
            PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
                .join("git-http-backend")
                .exists()
        })
        .unwrap_or(false)
}

/// Serves the bare repositories under a directory over smart HTTP on loopback: the real
/// `eddy dev git-server` process (the demo Git server of `eddy dev up`), stopped on drop.
pub struct GitHttpServer {
    address: std::net::SocketAddr,
    root: PathBuf,
    child: Child,
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl GitHttpServer {
    /// Starts serving `root` (each `<name>.git` directory in it is a repository).
    pub async fn start(root: &Path) -> Self {
        std::fs::create_dir_all(root).expect("git root");
        let address: std::net::SocketAddr = format!("127.0.0.1:{}", eddy_testkit::free_port())
            .parse()
            .expect("address");
        let child = Command::new(crate::binary("eddy"))
            .args([
                "dev",
                "git-server",
                "--listen",
                &address.to_string(),
                "--root",
            ])
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("eddy dev git-server starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(address).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "eddy dev git-server did not listen"
            );
            tokio::time::sleep(POLL).await;
        }
        Self {
            address,
            root: root.to_path_buf(),
            child,
        }
    }

    /// A new empty repository `<name>.git` with `main` as its default branch.
    pub fn create_repository(&self, name: &str) -> GitRepo {
        let git_dir = self.root.join(format!("{name}.git"));
        let work_tree = self.root.join(format!("{name}.work"));
        std::fs::create_dir_all(&work_tree).expect("work tree");
        run_git(
            None,
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                &git_dir.to_string_lossy(),
            ],
        );
        GitRepo {
            git_dir,
            work_tree,
            url: format!("http://{}/{name}.git", self.address),
        }
    }
}

/// A bare repository served by [`GitHttpServer`] with a work tree beside it the test commits
/// from.
pub struct GitRepo {
    git_dir: PathBuf,
    work_tree: PathBuf,
    url: String,
}

impl GitRepo {
    /// The clone URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Writes `files` (path relative to the repository root, content) and commits everything on
    /// `main`; returns the commit id.
    pub fn commit(&self, message: &str, files: &[(&str, &str)]) -> String {
        for (path, content) in files {
            let file = self.work_tree.join(path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).expect("directory in work tree");
            }
            std::fs::write(&file, content)
                .unwrap_or_else(|error| panic!("writing {}: {error}", file.display()));
        }
        let git_dir = self.git_dir.to_string_lossy().into_owned();
        let work_tree = self.work_tree.to_string_lossy().into_owned();
        let base = ["--git-dir", &git_dir, "--work-tree", &work_tree];
        run_git(Some(&base), &["add", "--all"]);
        run_git(
            Some(&base),
            &[
                "-c",
                "commit.gpgsign=false",
                "commit",
                "--quiet",
                "-m",
                message,
            ],
        );
        run_git(Some(&base), &["rev-parse", "HEAD"])
    }
}

/// Runs git in `dir` with a fixed identity and no user or system configuration; returns its
/// trimmed stdout.
///
/// # Panics
/// When git fails.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let dir = dir.to_string_lossy();
    run_git(Some(&["-C", &dir]), args)
}

/// Runs git with a fixed identity; returns its trimmed stdout.
fn run_git(base: Option<&[&str]>, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(base.unwrap_or_default())
        .args(args)
        .env("GIT_AUTHOR_NAME", "Eddy E2E")
        .env("GIT_AUTHOR_EMAIL", "e2e@eddy.invalid")
        .env("GIT_COMMITTER_NAME", "Eddy E2E")
        .env("GIT_COMMITTER_EMAIL", "e2e@eddy.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// HTTP sinks
// ---------------------------------------------------------------------------------------------

/// One request a [`Sink`] received.
#[derive(Clone, Debug)]
pub struct Received {
    /// The request path.
    pub path: String,
    /// The body, parsed as JSON (`Null` when it was not JSON).
    pub body: serde_json::Value,
}

/// An HTTP endpoint on loopback that answers 200 to every request and records it.
pub struct Sink {
    address: std::net::SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Sink {
    /// Starts a sink on the current runtime.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind sink");
        let address = listener.local_addr().expect("sink address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&received);
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let record = Arc::clone(&record);
            async move {
                let path = request.uri().path().to_string();
                let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
                    .await
                    .unwrap_or_default();
                let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                record
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(Received { path, body });
                StatusCode::OK
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { address, received }
    }

    /// The URL of `path` (which starts with `/`) on this sink.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Everything received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Controller processes
// ---------------------------------------------------------------------------------------------

/// A controller binary running with JSON logs written to `<dir>/<name>.log`; killed when
/// dropped.
pub struct ControllerProcess {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ControllerProcess {
    /// Starts the workspace binary `name` with `args` (plus `--log-encoding json`).
    pub fn start(name: &str, args: &[String], dir: &Path) -> Self {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)
            .unwrap_or_else(|error| panic!("creating {}: {error}", log.display()));
        let child = Command::new(crate::binary(name))
            .args(args)
            .args(["--log-encoding", "json"])
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {name}: {error}"));
        Self {
            name: name.to_string(),
            child,
            log,
        }
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines logged, headed by the controller's name (for failure messages).
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        let tail = all[all.len().saturating_sub(lines)..].join("\n");
        format!("--- {} (last {lines} lines) ---\n{tail}", self.name)
    }

    /// The first JSON log line `matches` accepts, waiting up to `deadline`; panics with the
    /// log when none comes or the process exits first.
    pub async fn wait_for_log(
        &mut self,
        what: &str,
        deadline: Duration,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let until = Instant::now() + deadline;
        loop {
            let found = self
                .log()
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .find(|line| matches(line));
            if let Some(line) = found {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before logging {what}\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
            if Instant::now() > until {
                panic!(
                    "{} logged no {what} within {deadline:?}\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
