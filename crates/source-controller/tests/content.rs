//! Bad input keeps the last good artifact; what ends up in an artifact (symlinks, includes,
//! sparse checkout, submodules); and deletion cleans storage.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]

mod common;

use common::{Environment, TestRepository, condition};
use eddy_api::source::v1::GitRepository;
use serde_json::json;

/// Asserts the failure left the previous artifact in status and still downloadable.
async fn still_served(
    environment: &Environment,
    failed: &GitRepository,
    good: &GitRepository,
    good_bytes: &[u8],
) {
    assert_eq!(
        failed.artifact(),
        good.artifact(),
        "the artifact is unchanged"
    );
    assert_eq!(environment.download(failed).await, good_bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_clearly_and_keeps_serving_the_previous_artifact() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    let good = environment.ready_demo(servers).await;
    let good_bytes = environment.download(&good).await;

    // A branch that does not exist.
    environment
        .patch_spec("demo", json!({"ref": {"branch": "nope"}}))
        .await;
    let failed = environment
        .wait_not_ready("demo", "GitOperationFailed")
        .await;
    let message = &condition(&failed, "Ready").unwrap().message;
    assert_eq!(
        message,
        &format!(
            "failed to checkout and determine revision: unable to resolve branch 'nope' on '{}': not found",
            servers.https_url("demo.git")
        )
    );
    assert_eq!(
        condition(&failed, "Reconciling").unwrap().reason,
        "ProgressingWithRetry"
    );
    still_served(&environment, &failed, &good, &good_bytes).await;

    // A host nothing listens on.
    environment
        .patch_spec(
            "demo",
            json!({"ref": {"branch": "main"}, "url": "https://127.0.0.1:1/git/demo.git"}),
        )
        .await;
    let failed = environment
        .wait_for(
            "demo",
            "failing on the unreachable host",
            common::DEADLINE,
            |current| {
                condition(current, "Ready").is_some_and(|ready| {
                    ready.status == "False" && ready.message.contains("127.0.0.1:1")
                })
            },
        )
        .await;
    let ready = condition(&failed, "Ready").unwrap();
    assert_eq!(ready.reason, "GitOperationFailed");
    assert!(
        ready
            .message
            .starts_with("failed to checkout and determine revision: "),
        "{}",
        ready.message
    );
    still_served(&environment, &failed, &good, &good_bytes).await;

    // A secret that lacks the keys SSH needs.
    environment
        .create_secret(
            "identity-only",
            &[("identity", servers.file("GIT_SSH_IDENTITY"))],
        )
        .await;
    environment
        .patch_spec(
            "demo",
            json!({"url": servers.ssh_url("demo.git"), "secretRef": {"name": "identity-only"}}),
        )
        .await;
    let failed = environment
        .wait_not_ready("demo", "AuthenticationFailed")
        .await;
    assert_eq!(
        condition(&failed, "Ready").unwrap().message,
        "failed to configure authentication options: invalid 'ssh' auth option: 'known_hosts' is required"
    );
    assert_eq!(
        condition(&failed, "FetchFailed").unwrap().reason,
        "AuthenticationFailed"
    );
    still_served(&environment, &failed, &good, &good_bytes).await;

    // A secret that does not exist.
    environment
        .patch_spec("demo", json!({"secretRef": {"name": "absent"}}))
        .await;
    let failed = environment
        .wait_for(
            "demo",
            "failing on the absent secret",
            common::DEADLINE,
            |current| {
                condition(current, "Ready").is_some_and(|ready| {
                    ready
                        .message
                        .starts_with("failed to get secret 'default/absent'")
                })
            },
        )
        .await;
    assert_eq!(
        condition(&failed, "Ready").unwrap().reason,
        "AuthenticationFailed"
    );
    still_served(&environment, &failed, &good, &good_bytes).await;

    // Back to a good spec: ready again with the same artifact, and a recovery event.
    environment
        .patch_spec(
            "demo",
            json!({"url": servers.https_url("demo.git"), "secretRef": {"name": "https-credentials"}}),
        )
        .await;
    let recovered = environment.wait_ready("demo").await;
    assert_eq!(recovered.artifact(), good.artifact());
    assert!(condition(&recovered, "FetchFailed").is_none());
    // Events are recorded in the background: poll for it rather than read once.
    eddy_testkit::eventually(
        "a recovery event is recorded",
        common::DEADLINE,
        async || {
            let notes = environment.event_notes("demo", "Succeeded").await;
            (!notes.is_empty()).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_never_end_up_in_the_artifact() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    environment
        .create_secret("https-credentials", &servers.https_secret())
        .await;
    let repository = TestRepository::new(servers, &[("app/config.yaml", "a: 1\n")]);
    let work = repository.work_tree();
    std::os::unix::fs::symlink("/etc/passwd", work.join("leak")).unwrap();
    std::os::unix::fs::symlink("../../../../..", work.join("app/escape")).unwrap();
    std::os::unix::fs::symlink("config.yaml", work.join("app/inside")).unwrap();
    let commit = repository.commit(&[], "symlinks");
    environment
        .create(
            "links",
            json!({
                "url": servers.https_url(&repository.name),
                "interval": "10m",
                "ref": {"branch": "main"},
                "secretRef": {"name": "https-credentials"},
            }),
        )
        .await;
    let ready = environment.wait_ready("links").await;
    assert_eq!(
        ready.artifact().unwrap().revision,
        format!("main@sha1:{commit}")
    );
    let entries = common::archive_entries(&environment.download(&ready).await);
    assert!(
        entries.iter().any(|entry| entry == "app/config.yaml"),
        "{entries:?}"
    );
    for link in ["leak", "app/escape", "app/inside"] {
        assert!(
            !entries.iter().any(|entry| entry.starts_with(link)),
            "{link} in {entries:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn includes_copy_other_artifacts_into_paths() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    let demo = environment.ready_demo(servers).await;
    let repository = TestRepository::new(servers, &[("app/config.yaml", "a: 1\n")]);
    environment
        .create(
            "app",
            json!({
                "url": servers.https_url(&repository.name),
                "interval": "10m",
                "ref": {"branch": "main"},
                "secretRef": {"name": "https-credentials"},
                "include": [
                    {"repository": {"name": "demo"}, "fromPath": "deploy", "toPath": "vendor/demo"},
                    {"repository": {"name": "demo"}},
                ],
            }),
        )
        .await;
    let ready = environment.wait_ready("app").await;
    let status = ready.status.as_ref().unwrap();
    assert_eq!(
        status.included_artifacts.as_deref(),
        Some(
            [
                demo.artifact().unwrap().clone(),
                demo.artifact().unwrap().clone()
            ]
            .as_slice()
        )
    );
    assert_eq!(status.observed_include, ready.spec.include);
    let entries = common::archive_entries(&environment.download(&ready).await);
    for expected in [
        "app/config.yaml",
        "vendor/demo/configmap.yaml",
        "demo/deploy/configmap.yaml",
        "demo/README.md",
    ] {
        assert!(
            entries.iter().any(|entry| entry == expected),
            "{expected} in {entries:?}"
        );
    }

    environment
        .create(
            "waiting",
            json!({
                "url": servers.https_url(&repository.name),
                "interval": "10m",
                "secretRef": {"name": "https-credentials"},
                "ref": {"branch": "main"},
                "include": [{"repository": {"name": "absent"}}],
            }),
        )
        .await;
    let waiting = environment.wait_not_ready("waiting", "NotFound").await;
    let unavailable = condition(&waiting, "IncludeUnavailable").unwrap();
    assert_eq!(unavailable.status, "True");
    assert!(
        unavailable
            .message
            .starts_with("could not get resource for include 'absent'"),
        "{}",
        unavailable.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_checkout_and_submodules_shape_the_artifact() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    environment
        .create_secret("https-credentials", &servers.https_secret())
        .await;
    environment
        .create(
            "sparse",
            json!({
                "url": servers.https_url("demo.git"),
                "interval": "10m",
                "ref": {"branch": "main"},
                "secretRef": {"name": "https-credentials"},
                "sparseCheckout": ["deploy"],
            }),
        )
        .await;
    environment
        .create(
            "super",
            json!({
                "url": servers.https_url("super.git"),
                "interval": "10m",
                "ref": {"branch": "main"},
                "secretRef": {"name": "https-credentials"},
                "recurseSubmodules": true,
            }),
        )
        .await;
    let sparse = environment.wait_ready("sparse").await;
    assert_eq!(
        sparse.status.as_ref().unwrap().observed_sparse_checkout,
        Some(vec!["deploy".to_string()])
    );
    let entries = common::archive_entries(&environment.download(&sparse).await);
    assert!(
        entries.iter().any(|entry| entry == "deploy/configmap.yaml"),
        "{entries:?}"
    );
    assert!(
        !entries
            .iter()
            .any(|entry| entry.starts_with("docs") || entry == "README.md"),
        "{entries:?}"
    );

    let with_submodules = environment.wait_ready("super").await;
    assert_eq!(
        with_submodules
            .status
            .as_ref()
            .unwrap()
            .observed_recurse_submodules,
        Some(true)
    );
    let entries = common::archive_entries(&environment.download(&with_submodules).await);
    assert!(
        entries
            .iter()
            .any(|entry| entry == "demo/deploy/configmap.yaml"),
        "{entries:?}"
    );
    assert!(
        !entries.iter().any(|entry| entry == ".gitmodules"),
        "{entries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_object_removes_its_storage() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    let demo = environment.ready_demo(servers).await;
    assert!(!environment.stored_files("demo").is_empty());
    environment
        .repositories()
        .delete("demo", &Default::default())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while environment
        .repositories()
        .get_opt("demo")
        .await
        .unwrap()
        .is_some()
    {
        assert!(
            started.elapsed() < common::DEADLINE,
            "the finalizer was never removed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        !environment
            .storage_root
            .path()
            .join("gitrepository/default/demo")
            .exists()
    );
    let response = environment
        .http
        .get(&demo.artifact().unwrap().url)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_secret_is_read_and_used() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    environment
        .create_secret("https-credentials", &servers.https_secret())
        .await;
    environment
        .create_secret("proxy-without-address", &[("username", b"proxy".to_vec())])
        .await;
    environment
        .create(
            "demo",
            json!({
                "url": servers.https_url("demo.git"),
                "interval": "10m",
                "secretRef": {"name": "https-credentials"},
                "proxySecretRef": {"name": "proxy-without-address"},
            }),
        )
        .await;
    let failed = environment
        .wait_not_ready("demo", "AuthenticationFailed")
        .await;
    assert_eq!(
        condition(&failed, "Ready").unwrap().message,
        "failed to configure proxy options: invalid proxy secret: key 'address' is missing"
    );

    // A proxy nothing listens on: the fetch goes through it, so it fails.
    environment
        .create_secret("dead-proxy", &[("address", b"http://127.0.0.1:1".to_vec())])
        .await;
    environment
        .patch_spec("demo", json!({"proxySecretRef": {"name": "dead-proxy"}}))
        .await;
    let failed = environment
        .wait_not_ready("demo", "GitOperationFailed")
        .await;
    assert!(failed.artifact().is_none());
}
