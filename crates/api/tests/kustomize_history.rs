//! `status.history` bookkeeping behaves as Flux's `History.Upsert`: newest first, one snapshot
//! per digest and outcome, at most five.

use eddy_api::meta::{HISTORY_MAX_SIZE, History, upsert_history};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;
use std::time::Duration;

fn at(rfc3339: &str) -> Time {
    serde_json::from_value(serde_json::json!(rfc3339)).expect("valid timestamp")
}

fn revision(value: &str) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([(
        "revision".to_string(),
        value.to_string(),
    )]))
}

#[test]
fn a_new_digest_is_recorded_first() {
    let mut history = History::new();
    upsert_history(
        &mut history,
        "sha256:aaa",
        at("2025-08-15T10:00:00Z"),
        Duration::from_millis(2500),
        "ReconciliationSucceeded",
        revision("v1"),
    );
    upsert_history(
        &mut history,
        "sha256:bbb",
        at("2025-08-15T11:00:00Z"),
        Duration::from_secs(3),
        "ReconciliationSucceeded",
        revision("v2"),
    );
    let digests: Vec<&str> = history
        .iter()
        .map(|snapshot| snapshot.digest.as_str())
        .collect();
    assert_eq!(digests, ["sha256:bbb", "sha256:aaa"]);
    assert_eq!(history[1].last_reconciled_duration, "2.5s");
    assert_eq!(history[0].total_reconciliations, 1);
    assert_eq!(history[0].first_reconciled, history[0].last_reconciled);
}

#[test]
fn the_same_digest_and_outcome_updates_its_snapshot_and_moves_it_first() {
    let mut history = History::new();
    for (digest, time) in [
        ("sha256:aaa", "2025-08-15T10:00:00Z"),
        ("sha256:bbb", "2025-08-15T11:00:00Z"),
        ("sha256:aaa", "2025-08-15T12:00:00Z"),
    ] {
        upsert_history(
            &mut history,
            digest,
            at(time),
            Duration::from_secs(1),
            "ReconciliationSucceeded",
            None,
        );
    }
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].digest, "sha256:aaa");
    assert_eq!(history[0].total_reconciliations, 2);
    assert_eq!(history[0].first_reconciled, at("2025-08-15T10:00:00Z"));
    assert_eq!(history[0].last_reconciled, at("2025-08-15T12:00:00Z"));
}

#[test]
fn a_different_outcome_of_the_same_digest_is_a_new_snapshot() {
    let mut history = History::new();
    upsert_history(
        &mut history,
        "sha256:aaa",
        at("2025-08-15T10:00:00Z"),
        Duration::from_secs(1),
        "ReconciliationSucceeded",
        None,
    );
    upsert_history(
        &mut history,
        "sha256:aaa",
        at("2025-08-15T11:00:00Z"),
        Duration::from_secs(50),
        "HealthCheckFailed",
        None,
    );
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].last_reconciled_status, "HealthCheckFailed");
}

#[test]
fn history_keeps_the_five_most_recent_snapshots() {
    let mut history = History::new();
    for index in 0..7 {
        upsert_history(
            &mut history,
            &format!("sha256:{index}"),
            at(&format!("2025-08-15T1{index}:00:00Z")),
            Duration::from_secs(1),
            "ReconciliationSucceeded",
            None,
        );
    }
    assert_eq!(history.len(), HISTORY_MAX_SIZE);
    assert_eq!(history[0].digest, "sha256:6");
    assert_eq!(history[4].digest, "sha256:2");
}
