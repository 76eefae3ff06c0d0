//! Starts the real Git servers of `hack/git-servers.sh` once per test binary and reads their
//! settings. When lighttpd or sshd is not installed, the script exits with status 3 and the tests
//! that need servers skip with a message saying what to install.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Settings printed by `hack/git-servers.sh env`.
pub(crate) struct Servers {
    values: BTreeMap<String, String>,
}

impl Servers {
    pub(crate) fn get(&self, key: &str) -> String {
        self.values
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} missing from env output"))
    }

    pub(crate) fn file(&self, key: &str) -> Vec<u8> {
        std::fs::read(self.get(key)).unwrap()
    }

    /// The commit id a revision expression names in the served demo repository.
    pub(crate) fn commit_of(&self, expression: &str) -> String {
        let repository = PathBuf::from(self.get("GIT_REPOS_DIR")).join("demo.git");
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(repository)
            .args(["rev-parse", &format!("{expression}^{{commit}}")])
            .output()
            .unwrap();
        assert!(output.status.success(), "rev-parse {expression} failed");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../hack/git-servers.sh")
}

/// The running servers, or `None` (after printing why) when they cannot run on this machine.
pub(crate) fn servers() -> Option<&'static Servers> {
    static SERVERS: OnceLock<Option<Servers>> = OnceLock::new();
    SERVERS
        .get_or_init(|| {
            let start = Command::new("bash")
                .arg(script())
                .arg("start")
                .output()
                .unwrap();
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
                .unwrap();
            let values = String::from_utf8(env.stdout)
                .unwrap()
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect();
            Some(Servers { values })
        })
        .as_ref()
}

/// Returns early from a test when the servers are unavailable.
#[macro_export]
macro_rules! require_servers {
    () => {
        match servers::servers() {
            Some(servers) => servers,
            None => {
                eprintln!("skipping: lighttpd/sshd not installed (see hack/git-servers.sh)");
                return;
            }
        }
    };
}
