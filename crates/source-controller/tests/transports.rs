//! GitRepositories over each transport and credential, against the real servers of
//! hack/git-servers.sh, reconciled on the dev cluster.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]

mod common;

use common::{Environment, condition};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_basic_auth_and_a_custom_ca_stores_a_downloadable_artifact() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    let repository = environment.ready_demo(servers).await;
    let main = servers.demo_commit("main");
    let revision = format!("main@sha1:{main}");
    let artifact = repository.artifact().unwrap();
    assert_eq!(artifact.revision, revision);
    assert_eq!(
        artifact.path,
        format!("gitrepository/default/demo/{main}.tar.gz")
    );
    assert_eq!(
        artifact.url,
        format!(
            "http://{}/gitrepository/default/demo/{main}.tar.gz",
            environment.storage.advertised_address()
        )
    );
    let ready = condition(&repository, "Ready").unwrap();
    assert_eq!(ready.reason, "Succeeded");
    assert_eq!(
        ready.message,
        format!("stored artifact for revision '{revision}'")
    );
    let in_storage = condition(&repository, "ArtifactInStorage").unwrap();
    assert_eq!(in_storage.status, "True");
    assert_eq!(in_storage.message, ready.message);
    assert!(condition(&repository, "Reconciling").is_none());
    assert!(condition(&repository, "FetchFailed").is_none());

    let bytes = environment.download(&repository).await;
    let entries = common::archive_entries(&bytes);
    assert!(
        entries.iter().any(|entry| entry == "deploy/configmap.yaml"),
        "{entries:?}"
    );
    assert!(
        !entries.iter().any(|entry| entry.starts_with(".git")),
        "{entries:?}"
    );
    assert_eq!(
        common::archive_file(&bytes, "deploy/configmap.yaml")
            .map(|text| text.contains("hello 2.0")),
        Some(true)
    );

    let notes = environment.event_notes("demo", "NewArtifact").await;
    assert_eq!(notes, ["stored artifact for commit 'main head'"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_with_an_authentication_message_and_keeps_the_artifact() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    let good = environment.ready_demo(servers).await;
    let good_bytes = environment.download(&good).await;

    let mut wrong = servers.https_secret();
    wrong[1].1 = b"not-the-password".to_vec();
    environment.update_secret("https-credentials", &wrong).await;
    environment.request_reconcile("demo").await;
    let failed = environment
        .wait_not_ready("demo", "GitOperationFailed")
        .await;
    let ready = condition(&failed, "Ready").unwrap();
    assert!(
        ready
            .message
            .starts_with("failed to checkout and determine revision: authentication failed"),
        "{}",
        ready.message
    );
    assert!(
        !ready.message.contains("not-the-password"),
        "{}",
        ready.message
    );
    let fetch_failed = condition(&failed, "FetchFailed").unwrap();
    assert_eq!(
        (fetch_failed.status.as_str(), fetch_failed.reason.as_str()),
        ("True", "GitOperationFailed")
    );
    assert_eq!(
        failed.artifact(),
        good.artifact(),
        "the artifact is unchanged"
    );
    assert_eq!(environment.download(&failed).await, good_bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_with_known_hosts_stores_the_artifact() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    environment
        .create_secret(
            "ssh-credentials",
            &servers.ssh_secret("GIT_SSH_KNOWN_HOSTS"),
        )
        .await;
    environment
        .create(
            "demo",
            json!({
                "url": servers.ssh_url("demo.git"),
                "interval": "10m",
                "ref": {"tag": "v1.1.0"},
                "secretRef": {"name": "ssh-credentials"},
            }),
        )
        .await;
    let repository = environment.wait_ready("demo").await;
    assert_eq!(
        repository.artifact().unwrap().revision,
        format!("v1.1.0@sha1:{}", servers.demo_commit("v1.1.0"))
    );
    environment.download(&repository).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_ssh_host_key_is_refused() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    environment
        .create_secret(
            "ssh-credentials",
            &servers.ssh_secret("GIT_SSH_WRONG_KNOWN_HOSTS"),
        )
        .await;
    environment
        .create(
            "demo",
            json!({
                "url": servers.ssh_url("demo.git"),
                "interval": "10m",
                "ref": {"branch": "main"},
                "secretRef": {"name": "ssh-credentials"},
            }),
        )
        .await;
    let failed = environment
        .wait_not_ready("demo", "GitOperationFailed")
        .await;
    let message = &condition(&failed, "Ready").unwrap().message;
    assert!(
        message.contains("host key verification failed"),
        "{message}"
    );
    assert!(failed.artifact().is_none());
    assert!(environment.stored_files("demo").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_without_the_custom_ca_is_refused() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    let mut without_ca = servers.https_secret();
    without_ca.retain(|(key, _)| *key != "ca.crt");
    environment.create_secret("no-ca", &without_ca).await;
    environment
        .create(
            "demo",
            json!({
                "url": servers.https_url("demo.git"),
                "interval": "10m",
                "secretRef": {"name": "no-ca"},
            }),
        )
        .await;
    let failed = environment
        .wait_not_ready("demo", "GitOperationFailed")
        .await;
    let message = &condition(&failed, "Ready").unwrap().message;
    assert!(message.contains("TLS verification failed"), "{message}");
}
