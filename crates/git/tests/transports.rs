//! Clones from real servers (lighttpd + git http-backend, sshd) started by hack/git-servers.sh.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]

mod servers;

use std::time::Duration;

use eddy_git::{
    AuthOptions, CloneOptions, CloneOutcome, GitError, Reference, clone, resolve_remote,
};

fn https_auth(servers: &servers::Servers) -> AuthOptions {
    AuthOptions {
        username: Some(servers.get("GIT_USERNAME")),
        password: Some(servers.get("GIT_PASSWORD")),
        ca_certificate: Some(servers.file("GIT_CA_FILE")),
        ..AuthOptions::default()
    }
}

fn ssh_auth(servers: &servers::Servers, known_hosts_key: &str) -> AuthOptions {
    AuthOptions {
        ssh_identity: Some(servers.file("GIT_SSH_IDENTITY")),
        ssh_known_hosts: Some(servers.file(known_hosts_key)),
        ..AuthOptions::default()
    }
}

fn https_url(servers: &servers::Servers) -> String {
    format!("{}/demo.git", servers.get("GIT_HTTPS_URL"))
}

fn clone_into(
    url: &str,
    options: &CloneOptions,
) -> (tempfile::TempDir, Result<CloneOutcome, GitError>) {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("checkout");
    let outcome = clone(url, &target, options);
    (dir, outcome)
}

fn options(auth: AuthOptions, reference: Reference) -> CloneOptions {
    CloneOptions {
        auth,
        reference,
        timeout: Duration::from_secs(30),
        ..CloneOptions::default()
    }
}

#[test]
fn https_with_basic_auth_and_custom_ca_clones_the_branch() {
    let servers = require_servers!();
    let (dir, outcome) = clone_into(
        &https_url(servers),
        &options(https_auth(servers), Reference::branch("main")),
    );
    let outcome = outcome.unwrap();
    let main = servers.demo_commit("main");
    assert_eq!(outcome.revision(), format!("main@sha1:{main}"));
    assert_eq!(outcome.commit().summary, "main head");
    let readme = std::fs::read_to_string(dir.path().join("checkout/README.md")).unwrap();
    assert!(readme.ends_with("main head\n"), "{readme}");
}

#[test]
fn plain_http_with_basic_auth_clones() {
    let servers = require_servers!();
    let url = format!("{}/demo.git", servers.get("GIT_HTTP_URL"));
    let auth = AuthOptions {
        username: Some(servers.get("GIT_USERNAME")),
        password: Some(servers.get("GIT_PASSWORD")),
        ..AuthOptions::default()
    };
    let (_dir, outcome) = clone_into(&url, &options(auth, Reference::branch("main")));
    assert_eq!(outcome.unwrap().commit().id, servers.demo_commit("main"));
}

#[test]
fn wrong_password_is_an_authentication_failure_without_the_password() {
    let servers = require_servers!();
    let auth = AuthOptions {
        password: Some("not-the-password".into()),
        ..https_auth(servers)
    };
    let (_dir, outcome) = clone_into(
        &https_url(servers),
        &options(auth, Reference::branch("main")),
    );
    let error = outcome.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, GitError::AuthenticationFailed { .. }),
        "{message}"
    );
    assert!(message.contains("authentication failed"), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");
}

#[test]
fn missing_credentials_are_an_authentication_failure() {
    let servers = require_servers!();
    let auth = AuthOptions {
        ca_certificate: Some(servers.file("GIT_CA_FILE")),
        ..AuthOptions::default()
    };
    let error = resolve_remote(
        &https_url(servers),
        &Reference::branch("main"),
        &auth,
        Duration::from_secs(10),
    )
    .unwrap_err();
    assert!(
        matches!(error, GitError::AuthenticationFailed { .. }),
        "{error}"
    );
}

#[test]
fn https_without_the_custom_ca_fails_tls_verification() {
    let servers = require_servers!();
    let auth = AuthOptions {
        ca_certificate: None,
        ..https_auth(servers)
    };
    let error = resolve_remote(
        &https_url(servers),
        &Reference::branch("main"),
        &auth,
        Duration::from_secs(10),
    )
    .unwrap_err();
    assert!(
        matches!(error, GitError::TlsVerificationFailed { .. }),
        "{error}"
    );
}

#[test]
fn ssh_with_known_hosts_clones() {
    let servers = require_servers!();
    let url = format!("{}/demo.git", servers.get("GIT_SSH_URL"));
    let (dir, outcome) = clone_into(
        &url,
        &options(
            ssh_auth(servers, "GIT_SSH_KNOWN_HOSTS"),
            Reference::branch("main"),
        ),
    );
    let outcome = outcome.unwrap();
    assert_eq!(
        outcome.revision(),
        format!("main@sha1:{}", servers.demo_commit("main"))
    );
    assert!(dir.path().join("checkout/deploy/configmap.yaml").is_file());
}

#[test]
fn ssh_with_an_unknown_host_key_is_refused() {
    let servers = require_servers!();
    let url = format!("{}/demo.git", servers.get("GIT_SSH_URL"));
    let (_dir, outcome) = clone_into(
        &url,
        &options(
            ssh_auth(servers, "GIT_SSH_WRONG_KNOWN_HOSTS"),
            Reference::branch("main"),
        ),
    );
    let error = outcome.unwrap_err();
    assert!(
        matches!(error, GitError::HostKeyVerificationFailed { .. }),
        "{error}"
    );
}

#[test]
fn unreachable_host_fails_with_a_clear_error() {
    let servers = require_servers!();
    // Port 9 (discard) is closed on the test machine.
    let auth = AuthOptions {
        ca_certificate: Some(servers.file("GIT_CA_FILE")),
        ..AuthOptions::default()
    };
    let started = std::time::Instant::now();
    let error = resolve_remote(
        "https://127.0.0.1:9/git/demo.git",
        &Reference::branch("main"),
        &auth,
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(matches!(error, GitError::Operation { .. }), "{error}");
    assert!(error.to_string().contains("127.0.0.1:9"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_server_that_never_answers_times_out() {
    // Accepts connections and never responds: only the timeout can end the request.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/git/demo.git", listener.local_addr().unwrap());
    let started = std::time::Instant::now();
    let error = resolve_remote(
        &url,
        &Reference::branch("main"),
        &AuthOptions::default(),
        Duration::from_secs(2),
    )
    .unwrap_err();
    assert!(matches!(error, GitError::Timeout { .. }), "{error}");
    assert!(error.to_string().contains("timed out after 2s"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    drop(listener);
}
