//! What the integration tests share: the real Git servers of `hack/git-servers.sh`, Git
//! repositories made per test in the served directory, and a dev cluster (eddy-devcluster)
//! with Flux's CRDs, this controller and its artifact server running in-process.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "shared by several test binaries; a failed unwrap is how tests report failure"
)]

use eddy_api::source::v1::GitRepository;
use eddy_testkit::{ControllerUnderTest, TestCluster};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};
use source_controller::{ArtifactStorage, GitRepositoryReconciler};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long any wait for the controller may take before the test fails.
pub use eddy_testkit::DEADLINE;

// ---------------------------------------------------------------------------------------------
// Git servers
// ---------------------------------------------------------------------------------------------

/// The servers of `hack/git-servers.sh`, shared through eddy-testkit.
pub type Servers = eddy_testkit::git_servers::GitServers;

/// The running servers, or `None` (after printing why) when they cannot run here.
pub fn servers() -> Option<&'static Servers> {
    eddy_testkit::git_servers::git_servers()
}

/// Returns early from a test when the Git servers are unavailable.
#[macro_export]
macro_rules! require_servers {
    () => {
        match common::servers() {
            Some(servers) => servers,
            None => {
                eprintln!("skipping: lighttpd/sshd not installed (see hack/git-servers.sh)");
                return;
            }
        }
    };
}

/// Runs git and returns its trimmed stdout, failing the test on error.
pub fn git(dir: Option<&Path>, arguments: &[&str]) -> String {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.arg("-C").arg(dir);
    }
    let output = command
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(arguments)
        .env("GIT_AUTHOR_NAME", "Eddy Test")
        .env("GIT_AUTHOR_EMAIL", "test@eddy.invalid")
        .env("GIT_COMMITTER_NAME", "Eddy Test")
        .env("GIT_COMMITTER_EMAIL", "test@eddy.invalid")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {arguments:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

static NEXT_REPOSITORY: AtomicUsize = AtomicUsize::new(0);

/// A repository of this test, served by the test servers, with a work tree to commit from.
pub struct TestRepository {
    /// The name under the servers' repository root, e.g. `sc-1234-0.git`.
    pub name: String,
    bare: PathBuf,
    work: tempfile::TempDir,
}

impl TestRepository {
    /// A new repository with one commit on `main` holding `files`.
    pub fn new(servers: &Servers, files: &[(&str, &str)]) -> Self {
        let name = format!(
            "sc-{}-{}-{}.git",
            std::process::id(),
            NEXT_REPOSITORY.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let bare = PathBuf::from(servers.get("GIT_REPOS_DIR")).join(&name);
        git(
            None,
            &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
        );
        let work = tempfile::tempdir().unwrap();
        git(Some(work.path()), &["init", "-q", "-b", "main"]);
        let repository = Self { name, bare, work };
        repository.commit(files, "initial");
        repository
    }

    /// Writes `files` (creating directories), commits everything and pushes `main`; returns the
    /// new commit id.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, contents) in files {
            let path = self.work.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        git(Some(self.work.path()), &["add", "-A"]);
        git(Some(self.work.path()), &["commit", "-q", "-m", message]);
        self.push();
        git(Some(self.work.path()), &["rev-parse", "HEAD"])
    }

    /// The work tree, for changes a plain file write cannot express (symlinks).
    pub fn work_tree(&self) -> &Path {
        self.work.path()
    }

    /// Pushes every branch and tag to the served repository.
    pub fn push(&self) {
        let bare = self.bare.to_str().unwrap();
        git(Some(self.work.path()), &["push", "-q", "--all", bare]);
        git(Some(self.work.path()), &["push", "-q", "--tags", bare]);
    }
}

impl Drop for TestRepository {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.bare);
    }
}

// ---------------------------------------------------------------------------------------------
// Dev cluster + controller
// ---------------------------------------------------------------------------------------------

/// A dev cluster with Flux's CRDs, the GitRepository controller and its artifact server.
pub struct Environment {
    pub cluster: TestCluster,
    pub client: kube::Client,
    pub storage: ArtifactStorage,
    pub storage_root: tempfile::TempDir,
    pub http: reqwest::Client,
    pub namespace: String,
    shutdown: CancellationToken,
}

/// Options of [`Environment::start_with`].
pub struct Settings {
    pub retention_records: usize,
    pub retention_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            retention_records: 2,
            retention_ttl: Duration::from_secs(60),
        }
    }
}

impl Environment {
    /// Creates the `demo` GitRepository on `main` over HTTPS with basic auth and the test CA,
    /// and waits until it is Ready.
    pub async fn ready_demo(&self, servers: &Servers) -> GitRepository {
        self.create_secret("https-credentials", &servers.https_secret())
            .await;
        self.create(
            "demo",
            serde_json::json!({
                "url": servers.https_url("demo.git"),
                "interval": "10m",
                "ref": {"branch": "main"},
                "secretRef": {"name": "https-credentials"},
            }),
        )
        .await;
        self.wait_ready("demo").await
    }

    pub async fn start() -> Self {
        Self::start_with(Settings::default()).await
    }

    pub async fn start_with(settings: Settings) -> Self {
        let cluster = TestCluster::start().await;
        let client = cluster.client.clone();

        let shutdown = CancellationToken::new();
        let storage_root = tempfile::tempdir().unwrap();
        let bound =
            source_controller::storage::serve("127.0.0.1:0", storage_root.path(), shutdown.clone())
                .await
                .expect("artifact server");
        let storage = ArtifactStorage::new(
            storage_root.path(),
            bound.to_string(),
            settings.retention_ttl,
            settings.retention_records,
        )
        .unwrap();
        let reconciler =
            GitRepositoryReconciler::new(client.clone(), storage.clone(), Duration::from_secs(1));
        let namespace = "default".to_string();
        ControllerUnderTest {
            namespace: Some(namespace.clone()),
            concurrency: 2,
            ..ControllerUnderTest::new(
                "source-controller",
                eddy_api::meta::field_managers::SOURCE_CONTROLLER_STATUS,
            )
        }
        .spawn(reconciler, &client, shutdown.clone(), |controller| {
            controller
        });
        let http = reqwest::Client::new();
        Self {
            cluster,
            client,
            storage,
            storage_root,
            http,
            namespace,
            shutdown,
        }
    }

    pub fn repositories(&self) -> Api<GitRepository> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub async fn create_secret(&self, name: &str, data: &[(&str, Vec<u8>)]) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            data: Some(
                data.iter()
                    .map(|(key, value)| {
                        ((*key).to_string(), k8s_openapi::ByteString(value.clone()))
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }

    /// Replaces a Secret's data.
    pub async fn update_secret(&self, name: &str, data: &[(&str, Vec<u8>)]) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut secret = secrets.get(name).await.unwrap();
        secret.data = Some(
            data.iter()
                .map(|(key, value)| ((*key).to_string(), k8s_openapi::ByteString(value.clone())))
                .collect(),
        );
        secrets
            .replace(name, &PostParams::default(), &secret)
            .await
            .unwrap();
    }

    /// Creates a GitRepository from a JSON spec.
    pub async fn create(&self, name: &str, spec: serde_json::Value) -> GitRepository {
        let object = serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        });
        let repository: GitRepository = serde_json::from_value(object).unwrap();
        self.repositories()
            .create(&PostParams::default(), &repository)
            .await
            .unwrap()
    }

    /// Merges `spec` into a GitRepository's spec.
    pub async fn patch_spec(&self, name: &str, spec: serde_json::Value) {
        eddy_testkit::patch_spec(&self.repositories(), name, spec).await;
    }

    /// Sets `reconcile.fluxcd.io/requestedAt` to a fresh value and returns it.
    pub async fn request_reconcile(&self, name: &str) -> String {
        eddy_testkit::request_reconcile(&self.repositories(), name).await
    }

    /// Polls the object until `accept` holds, failing after `deadline` with the last status.
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        deadline: Duration,
        accept: impl FnMut(&GitRepository) -> bool,
    ) -> GitRepository {
        eddy_testkit::wait_for_object(&self.repositories(), name, what, deadline, accept).await
    }

    /// Waits until the current generation is Ready=True.
    pub async fn wait_ready(&self, name: &str) -> GitRepository {
        self.wait_for(name, "ready", DEADLINE, |repository| {
            let generation = repository.metadata.generation;
            let status = repository.status.as_ref();
            status.and_then(|status| status.observed_generation) == generation
                && condition(repository, "Ready").is_some_and(|ready| ready.status == "True")
        })
        .await
    }

    /// Waits until Ready=False with `reason`.
    pub async fn wait_not_ready(&self, name: &str, reason: &str) -> GitRepository {
        self.wait_for(
            name,
            &format!("not ready ({reason})"),
            DEADLINE,
            |repository| {
                condition(repository, "Ready")
                    .is_some_and(|ready| ready.status == "False" && ready.reason == reason)
            },
        )
        .await
    }

    /// Downloads the artifact's URL and checks the advertised size and digest.
    pub async fn download(&self, repository: &GitRepository) -> Vec<u8> {
        let artifact = repository.artifact().expect("an artifact");
        let response = self.http.get(&artifact.url).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {}", artifact.url);
        let bytes = response.bytes().await.unwrap().to_vec();
        assert_eq!(Some(bytes.len() as i64), artifact.size, "advertised size");
        assert_eq!(
            artifact.digest.as_deref(),
            Some(format!("sha256:{}", hex::encode(Sha256::digest(&bytes))).as_str()),
            "advertised digest"
        );
        bytes
    }

    /// The artifact files stored for an object.
    pub fn stored_files(&self, name: &str) -> Vec<String> {
        let dir = self
            .storage_root
            .path()
            .join(format!("gitrepository/{}/{name}", self.namespace));
        let mut files: Vec<String> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        files
    }

    /// The notes of the Kubernetes events with `reason` about an object.
    pub async fn event_notes(&self, name: &str, reason: &str) -> Vec<String> {
        eddy_testkit::event_notes(&self.client, &self.namespace, name, reason).await
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A condition of an object.
pub fn condition<'a>(repository: &'a GitRepository, type_: &str) -> Option<&'a Condition> {
    repository
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|all| all.iter().find(|condition| condition.type_ == type_))
}

/// The entry names of a tar.gz.
pub fn archive_entries(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    archive
        .entries()
        .unwrap()
        .map(|entry| entry.unwrap().path().unwrap().display().to_string())
        .collect()
}

/// The contents of one file in a tar.gz.
pub fn archive_file(bytes: &[u8], name: &str) -> Option<String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().display().to_string() == name {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            return Some(text);
        }
    }
    None
}
