//! The real Git servers of `hack/git-servers.sh` (lighttpd + git http-backend over HTTP with
//! basic auth and HTTPS, sshd), started once per test binary, and the settings they print.
//! When lighttpd or sshd is not installed the script exits with status 3 and
//! [`git_servers`] returns `None` after printing why, so tests can skip with a message.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Settings printed by `hack/git-servers.sh env` (`GIT_HTTPS_URL`, `GIT_SSH_URL`,
/// `GIT_USERNAME`, `GIT_CA_FILE`, `GIT_REPOS_DIR`, …).
pub struct GitServers {
    values: BTreeMap<String, String>,
}

impl GitServers {
    /// A setting.
    ///
    /// # Panics
    /// When the script did not print it.
    pub fn get(&self, key: &str) -> String {
        self.values
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} missing from hack/git-servers.sh env"))
    }

    /// The contents of the file a setting names (a key, a certificate, known_hosts).
    ///
    /// # Panics
    /// When the file cannot be read.
    pub fn file(&self, key: &str) -> Vec<u8> {
        let path = self.get(key);
        std::fs::read(&path).unwrap_or_else(|error| panic!("reading {path}: {error}"))
    }

    /// The commit a revision expression names in the shared, read-only demo repository.
    ///
    /// # Panics
    /// When git cannot resolve it.
    pub fn demo_commit(&self, expression: &str) -> String {
        let repository = PathBuf::from(self.get("GIT_REPOS_DIR")).join("demo.git");
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(repository)
            .args(["rev-parse", &format!("{expression}^{{commit}}")])
            .output()
            .expect("git runs");
        assert!(output.status.success(), "rev-parse {expression} failed");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The HTTPS URL of a served repository (`<name>.git`).
    pub fn https_url(&self, repository: &str) -> String {
        format!("{}/{repository}", self.get("GIT_HTTPS_URL"))
    }

    /// The SSH URL of a served repository (`<name>.git`).
    pub fn ssh_url(&self, repository: &str) -> String {
        format!("{}/{repository}", self.get("GIT_SSH_URL"))
    }

    /// Secret data in Flux's format for HTTPS with basic auth and the test CA.
    pub fn https_secret(&self) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("username", self.get("GIT_USERNAME").into_bytes()),
            ("password", self.get("GIT_PASSWORD").into_bytes()),
            ("ca.crt", self.file("GIT_CA_FILE")),
        ]
    }

    /// Secret data in Flux's format for SSH with the client key and the given known_hosts
    /// file.
    pub fn ssh_secret(&self, known_hosts_key: &str) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("identity", self.file("GIT_SSH_IDENTITY")),
            ("identity.pub", self.file("GIT_SSH_IDENTITY_PUB")),
            ("known_hosts", self.file(known_hosts_key)),
        ]
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../hack/git-servers.sh")
}

/// The running servers, started on first use, or `None` (after printing why) when they cannot
/// run on this machine.
///
/// # Panics
/// When the script fails for another reason.
pub fn git_servers() -> Option<&'static GitServers> {
    static SERVERS: OnceLock<Option<GitServers>> = OnceLock::new();
    SERVERS
        .get_or_init(|| {
            let start = Command::new("bash")
                .arg(script())
                .arg("start")
                .output()
                .expect("bash runs");
            if start.status.code() == Some(3) {
                eprintln!(
                    "SKIPPED: Git test servers unavailable: {}",
                    String::from_utf8_lossy(&start.stderr).trim()
                );
                return None;
            }
            assert!(
                start.status.success(),
                "hack/git-servers.sh start failed: {}",
                String::from_utf8_lossy(&start.stderr)
            );
            let env = Command::new("bash")
                .arg(script())
                .arg("env")
                .output()
                .expect("bash runs");
            let values = String::from_utf8_lossy(&env.stdout)
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect();
            Some(GitServers { values })
        })
        .as_ref()
}
