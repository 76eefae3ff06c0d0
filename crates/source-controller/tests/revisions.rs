//! Which revision a GitRepository ends up with, and when it moves: references, new commits,
//! the requestedAt annotation, garbage collection and deterministic archives.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]

mod common;

use common::{Environment, Settings, TestRepository, condition};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_tag_semver_name_and_commit_select_the_right_revision() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    environment
        .create_secret("https-credentials", &servers.https_secret())
        .await;
    let middle = servers.demo_commit("main~1");
    let cases = [
        (
            "branch",
            json!({"branch": "feature/x"}),
            format!("feature/x@sha1:{}", servers.demo_commit("feature/x")),
        ),
        (
            "tag",
            json!({"tag": "v1.0.0"}),
            format!("v1.0.0@sha1:{}", servers.demo_commit("v1.0.0")),
        ),
        (
            "semver",
            json!({"semver": ">=1.0.0 <2.0.0"}),
            format!("v1.2.0@sha1:{}", servers.demo_commit("v1.2.0")),
        ),
        (
            "name",
            json!({"name": "refs/pull/1/head"}),
            format!("refs/pull/1/head@sha1:{}", servers.demo_commit("feature/x")),
        ),
        (
            "commit",
            json!({"branch": "main", "commit": middle}),
            format!("main@sha1:{middle}"),
        ),
        (
            "default",
            json!(null),
            format!("master@sha1:{}", servers.demo_commit("master")),
        ),
    ];
    for (name, reference, _) in &cases {
        let mut spec = json!({
            "url": servers.https_url("demo.git"),
            "interval": "10m",
            "secretRef": {"name": "https-credentials"},
        });
        if !reference.is_null() {
            spec["ref"] = reference.clone();
        }
        environment.create(name, spec).await;
    }
    for (name, _, revision) in &cases {
        let repository = environment.wait_ready(name).await;
        assert_eq!(&repository.artifact().unwrap().revision, revision, "{name}");
        environment.download(&repository).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_commit_gives_a_new_artifact_within_one_interval_and_gc_keeps_two() {
    let servers = require_servers!();
    let environment = Environment::start_with(Settings {
        retention_records: 2,
        retention_ttl: Duration::from_secs(3600),
    })
    .await;
    environment
        .create_secret("https-credentials", &servers.https_secret())
        .await;
    let repository = TestRepository::new(servers, &[("app/config.yaml", "version: 1\n")]);
    let interval = Duration::from_secs(2);
    environment
        .create(
            "app",
            json!({
                "url": servers.https_url(&repository.name),
                "interval": "2s",
                "ref": {"branch": "main"},
                "secretRef": {"name": "https-credentials"},
            }),
        )
        .await;
    let first = environment.wait_ready("app").await;
    let mut seen = vec![first.artifact().unwrap().clone()];
    for version in 2..=4 {
        let commit = repository.commit(
            &[("app/config.yaml", &format!("version: {version}\n"))],
            &format!("version {version}"),
        );
        let pushed = Instant::now();
        let updated = environment
            .wait_for("app", "at the new commit", interval * 3, |current| {
                current
                    .artifact()
                    .is_some_and(|artifact| artifact.revision == format!("main@sha1:{commit}"))
            })
            .await;
        // One interval (no jitter in tests) plus the time a reconcile takes.
        assert!(
            pushed.elapsed() < interval + Duration::from_secs(2),
            "took {:?}",
            pushed.elapsed()
        );
        let bytes = environment.download(&updated).await;
        assert_eq!(
            common::archive_file(&bytes, "app/config.yaml").as_deref(),
            Some(format!("version: {version}\n").as_str())
        );
        seen.push(updated.artifact().unwrap().clone());
    }
    let current = environment.repositories().get("app").await.unwrap();
    let current_file = current
        .artifact()
        .unwrap()
        .path
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let files = environment.stored_files("app");
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.contains(&current_file), "{files:?}");
    // The oldest artifacts are the ones collected.
    for old in &seen[..2] {
        let response = environment.http.get(&old.url).send().await.unwrap();
        assert_eq!(response.status(), 404, "{} was collected", old.url);
    }
    let notes = environment.event_notes("app", "NewArtifact").await;
    assert!(
        notes.contains(&"stored artifact for commit 'version 4'".to_string()),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_requested_at_annotation_fetches_within_two_seconds() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    environment
        .create_secret("https-credentials", &servers.https_secret())
        .await;
    let repository = TestRepository::new(servers, &[("a.yaml", "a: 1\n")]);
    environment
        .create(
            "app",
            json!({
                "url": servers.https_url(&repository.name),
                "interval": "1h",
                "ref": {"branch": "main"},
                "secretRef": {"name": "https-credentials"},
            }),
        )
        .await;
    environment.wait_ready("app").await;
    let commit = repository.commit(&[("a.yaml", "a: 2\n")], "second");
    let requested = Instant::now();
    let token = environment.request_reconcile("app").await;
    let updated = environment
        .wait_for(
            "app",
            "at the new commit",
            Duration::from_secs(2),
            |current| {
                current
                    .artifact()
                    .is_some_and(|artifact| artifact.revision == format!("main@sha1:{commit}"))
            },
        )
        .await;
    assert!(requested.elapsed() < Duration::from_secs(2));
    let handled = environment
        .wait_for("app", "handled", Duration::from_secs(2), |current| {
            current
                .status
                .as_ref()
                .and_then(|status| status.last_handled_reconcile_at.as_deref())
                == Some(token.as_str())
        })
        .await;
    assert_eq!(handled.artifact(), updated.artifact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_commit_archived_twice_gives_identical_bytes() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    environment
        .create_secret("https-credentials", &servers.https_secret())
        .await;
    for name in ["first", "second"] {
        environment
            .create(
                name,
                json!({
                    "url": servers.https_url("demo.git"),
                    "interval": "10m",
                    "ref": {"tag": "v2.0.0-rc.1"},
                    "secretRef": {"name": "https-credentials"},
                }),
            )
            .await;
    }
    let first = environment.wait_ready("first").await;
    let second = environment.wait_ready("second").await;
    assert_eq!(
        first.artifact().unwrap().digest,
        second.artifact().unwrap().digest
    );
    assert_eq!(
        environment.download(&first).await,
        environment.download(&second).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_remote_keeps_the_artifact_without_rebuilding_it() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    let first = environment.ready_demo(servers).await;
    let stored = environment
        .storage
        .storage()
        .local_path(&first.artifact().unwrap().path)
        .unwrap();
    let written = std::fs::metadata(&stored).unwrap().modified().unwrap();
    let token = environment.request_reconcile("demo").await;
    let again = environment
        .wait_for("demo", "handled", common::DEADLINE, |current| {
            current
                .status
                .as_ref()
                .and_then(|status| status.last_handled_reconcile_at.as_deref())
                == Some(token.as_str())
        })
        .await;
    assert_eq!(again.artifact(), first.artifact());
    assert_eq!(
        std::fs::metadata(&stored).unwrap().modified().unwrap(),
        written
    );
    assert_eq!(
        condition(&again, "Ready").unwrap().message,
        format!(
            "stored artifact for revision '{}'",
            first.artifact().unwrap().revision
        )
    );
    assert_eq!(
        environment.event_notes("demo", "NewArtifact").await.len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_ignore_rule_rebuilds_the_same_revision() {
    let servers = require_servers!();
    let environment = Environment::start().await;
    let first = environment.ready_demo(servers).await;
    assert!(
        common::archive_entries(&environment.download(&first).await)
            .iter()
            .any(|entry| entry == "docs/notes.md")
    );
    environment
        .patch_spec("demo", json!({"ignore": "docs/\n"}))
        .await;
    let rebuilt = environment
        .wait_for("demo", "rebuilt", common::DEADLINE, |current| {
            current
                .status
                .as_ref()
                .and_then(|status| status.observed_ignore.as_deref())
                == Some("docs/\n")
        })
        .await;
    assert_eq!(
        rebuilt.artifact().unwrap().revision,
        first.artifact().unwrap().revision
    );
    assert_ne!(
        rebuilt.artifact().unwrap().digest,
        first.artifact().unwrap().digest
    );
    let entries = common::archive_entries(&environment.download(&rebuilt).await);
    assert!(
        !entries.iter().any(|entry| entry.starts_with("docs")),
        "{entries:?}"
    );
}
