//! How long many Kustomizations take from creation to Ready on the dev cluster, with the
//! controller in-process (run with `cargo test -p kustomize-controller --test scale --
//! --ignored --nocapture`; `EDDY_SCALE_KUSTOMIZATIONS` sets the count, default 100). The dev
//! cluster shares the process, so no memory figure for the controller alone comes out of it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is how these tests report failure"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Environment, condition, config_map_yaml, namespace_yaml, service_yaml};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check: run by hand"]
async fn many_kustomizations_become_ready() {
    let count: usize = std::env::var("EDDY_SCALE_KUSTOMIZATIONS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100);
    let env = Environment::start().await;
    let namespace = namespace_yaml("bench");
    let config = config_map_yaml("bench", "settings", "one");
    let service = service_yaml("bench", "web");
    let account =
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n  namespace: bench\n";
    env.publish(
        "repo",
        "main@sha1:1111",
        &[
            ("infra/ns.yaml", namespace.as_str()),
            ("app/cm.yaml", config.as_str()),
            ("app/svc.yaml", service.as_str()),
            ("app/sa.yaml", account),
        ],
    )
    .await;
    env.create(
        "infra",
        json!({"interval": "10m", "path": "./infra", "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "repo"}}),
    )
    .await;
    env.wait_ready("infra", "main@sha1:1111").await;

    let started = Instant::now();
    for index in 0..count {
        env.create(
            &format!("app-{index}"),
            json!({"interval": "10m", "path": "./app", "prune": true,
                "namePrefix": format!("app-{index}-"),
                "sourceRef": {"kind": "GitRepository", "name": "repo"}}),
        )
        .await;
    }
    let created = started.elapsed();
    loop {
        let all = env
            .kustomizations()
            .list(&Default::default())
            .await
            .unwrap();
        let ready = all
            .items
            .iter()
            .filter(|ks| condition(ks, "Ready").is_some_and(|ready| ready.status == "True"))
            .count();
        if ready == count + 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {ready} of {count} ready after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "{count} Kustomizations: created in {created:?}, all Ready after {:?}",
        started.elapsed()
    );
}
