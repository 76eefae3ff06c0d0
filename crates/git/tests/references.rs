//! Reference selection against the served demo repository (see hack/git-servers.sh for its history).

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]

mod servers;

use std::time::Duration;

use eddy_git::{AuthOptions, CloneOptions, CloneOutcome, GitError, Reference, clone};

fn options(servers: &servers::Servers, reference: Reference) -> CloneOptions {
    CloneOptions {
        auth: AuthOptions {
            username: Some(servers.get("GIT_USERNAME")),
            password: Some(servers.get("GIT_PASSWORD")),
            ca_certificate: Some(servers.file("GIT_CA_FILE")),
            ..AuthOptions::default()
        },
        reference,
        timeout: Duration::from_secs(30),
        ..CloneOptions::default()
    }
}

fn run(
    servers: &servers::Servers,
    options: &CloneOptions,
) -> (tempfile::TempDir, Result<CloneOutcome, GitError>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/demo.git", servers.get("GIT_HTTPS_URL"));
    let outcome = clone(&url, &dir.path().join("checkout"), options);
    (dir, outcome)
}

fn revision_for(servers: &servers::Servers, reference: Reference) -> String {
    let (_dir, outcome) = run(servers, &options(servers, reference));
    outcome.unwrap().revision().to_owned()
}

#[test]
fn default_reference_is_the_master_branch() {
    let servers = require_servers!();
    let expected = format!("master@sha1:{}", servers.demo_commit("master"));
    assert_eq!(revision_for(servers, Reference::default()), expected);
}

#[test]
fn branch_with_a_slash_keeps_it_in_the_revision() {
    let servers = require_servers!();
    let expected = format!("feature/x@sha1:{}", servers.demo_commit("feature/x"));
    assert_eq!(
        revision_for(servers, Reference::branch("feature/x")),
        expected
    );
}

#[test]
fn annotated_tag_selects_its_commit() {
    let servers = require_servers!();
    let reference = Reference {
        tag: Some("v1.0.0".into()),
        ..Reference::default()
    };
    let (dir, outcome) = run(servers, &options(servers, reference));
    assert_eq!(
        outcome.unwrap().revision(),
        format!("v1.0.0@sha1:{}", servers.demo_commit("v1.0.0"))
    );
    let config =
        std::fs::read_to_string(dir.path().join("checkout/deploy/configmap.yaml")).unwrap();
    assert!(config.contains("greeting: hello\n"), "{config}");
}

#[test]
fn semver_range_selects_the_highest_matching_tag() {
    let servers = require_servers!();
    let range = Reference {
        semver: Some(">=1.0.0 <1.2.0".into()),
        ..Reference::default()
    };
    assert_eq!(
        revision_for(servers, range),
        format!("v1.1.0@sha1:{}", servers.demo_commit("v1.1.0"))
    );
    let any = Reference {
        semver: Some("*".into()),
        ..Reference::default()
    };
    assert_eq!(
        revision_for(servers, any),
        format!("v1.2.0@sha1:{}", servers.demo_commit("v1.2.0"))
    );
    let pre = Reference {
        semver: Some(">=2.0.0-0".into()),
        ..Reference::default()
    };
    assert_eq!(
        revision_for(servers, pre),
        format!("v2.0.0-rc.1@sha1:{}", servers.demo_commit("v2.0.0-rc.1"))
    );
}

#[test]
fn exact_commit_that_is_no_reference_tip_is_checked_out() {
    let servers = require_servers!();
    // main~1 ("main middle") is the one commit no branch or tag points at.
    let id = servers.demo_commit("main~1");
    let reference = Reference {
        commit: Some(id.clone()),
        ..Reference::default()
    };
    assert_eq!(revision_for(servers, reference), format!("sha1:{id}"));
    let with_branch = Reference {
        commit: Some(id.clone()),
        branch: Some("main".into()),
        ..Reference::default()
    };
    assert_eq!(
        revision_for(servers, with_branch),
        format!("main@sha1:{id}")
    );
}

#[test]
fn name_reference_reports_the_absolute_revision() {
    let servers = require_servers!();
    let reference = Reference {
        name: Some("refs/pull/1/head".into()),
        ..Reference::default()
    };
    assert_eq!(
        revision_for(servers, reference),
        format!(
            "refs/pull/1/head@sha1:{}",
            servers.demo_commit("refs/pull/1/head")
        )
    );
}

#[test]
fn unchanged_reference_clones_nothing() {
    let servers = require_servers!();
    let mut options = options(servers, Reference::branch("main"));
    let revision = format!("main@sha1:{}", servers.demo_commit("main"));
    options.last_observed_revision = Some(revision.clone());
    let (dir, outcome) = run(servers, &options);
    assert_eq!(
        outcome.unwrap(),
        CloneOutcome::Unchanged {
            commit: eddy_git::Commit {
                id: servers.demo_commit("main"),
                reference: Some("refs/heads/main".into()),
                summary: String::new(),
            },
            revision,
        }
    );
    assert!(!dir.path().join("checkout").exists());
}

#[test]
fn missing_branch_is_reference_not_found() {
    let servers = require_servers!();
    let (_dir, outcome) = run(
        servers,
        &options(servers, Reference::branch("does-not-exist")),
    );
    let error = outcome.unwrap_err();
    assert!(
        matches!(error, GitError::ReferenceNotFound { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("branch 'does-not-exist'"),
        "{error}"
    );
}

#[test]
fn sparse_checkout_keeps_only_the_listed_directory() {
    let servers = require_servers!();
    let mut options = options(servers, Reference::branch("main"));
    options.sparse_checkout = vec!["./deploy".into()];
    let (dir, outcome) = run(servers, &options);
    outcome.unwrap();
    let checkout = dir.path().join("checkout");
    assert!(checkout.join("deploy/configmap.yaml").is_file());
    assert!(!checkout.join("docs").exists());
    assert!(!checkout.join("README.md").exists());
}

#[test]
fn submodules_are_cloned_at_the_recorded_commit_when_asked() {
    let servers = require_servers!();
    let url = format!("{}/super.git", servers.get("GIT_HTTPS_URL"));
    let mut options = options(servers, Reference::branch("main"));
    let dir = tempfile::tempdir().unwrap();
    clone(&url, &dir.path().join("plain"), &options).unwrap();
    assert!(!dir.path().join("plain/demo/README.md").exists());
    options.recurse_submodules = true;
    clone(&url, &dir.path().join("recursive"), &options).unwrap();
    let readme = std::fs::read_to_string(dir.path().join("recursive/demo/README.md")).unwrap();
    // demo is pinned at master, before "main head" was appended.
    assert!(!readme.contains("main head"), "{readme}");
    assert!(
        dir.path()
            .join("recursive/demo/deploy/configmap.yaml")
            .is_file()
    );
}
