//! `spec.kubeConfig`: a Kustomization in one cluster applies to another, through the
//! kubeconfig in a Secret next to it, and prunes there when deleted.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]

mod common;

use std::collections::BTreeMap;

use common::{DEADLINE, Environment};
use eddy_testkit::{TestCluster, wait_until};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

const CONFIG_MAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
data:
  greeting: hello
";

fn spec(secret: &str) -> serde_json::Value {
    json!({"interval": "10m", "path": "./", "prune": true,
        "sourceRef": {"kind": "GitRepository", "name": "repo"},
        "kubeConfig": {"secretRef": {"name": secret}}})
}

async fn config_map(client: &kube::Client) -> Option<ConfigMap> {
    Api::<ConfigMap>::namespaced(client.clone(), "default")
        .get_opt("settings")
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_go_to_the_cluster_of_the_kubeconfig_and_are_pruned_there() {
    let env = Environment::start().await;
    let remote = TestCluster::start().await;
    let kubeconfig = std::fs::read_to_string(remote.kubeconfig()).unwrap();
    env.publish("repo", "main@sha1:1111", &[("cm.yaml", CONFIG_MAP)])
        .await;

    // Without the Secret the reconcile fails with Flux's message and applies nothing.
    env.create("remote", spec("remote-kubeconfig")).await;
    let failed = env.wait_not_ready("remote", "ReconciliationFailed").await;
    let message = common::condition(&failed, "Ready").unwrap().message.clone();
    assert!(
        message.starts_with(&format!(
            "unable to read KubeConfig secret '{}/remote-kubeconfig' error:",
            env.namespace
        )),
        "{message}"
    );

    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("remote-kubeconfig".into()),
            namespace: Some(env.namespace.clone()),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([("value".to_string(), kubeconfig)])),
        ..Default::default()
    };
    Api::<Secret>::namespaced(env.client.clone(), &env.namespace)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    env.request_reconcile("remote").await;
    env.wait_ready("remote", "main@sha1:1111").await;
    let applied = config_map(&remote.client)
        .await
        .expect("applied to the remote cluster");
    assert_eq!(
        applied.data.unwrap().get("greeting").map(String::as_str),
        Some("hello")
    );
    assert!(
        config_map(&env.client).await.is_none(),
        "nothing is applied to the Kustomization's own cluster"
    );

    env.kustomizations()
        .delete("remote", &DeleteParams::default())
        .await
        .unwrap();
    wait_until(
        "the remote ConfigMap to be pruned",
        DEADLINE,
        async || match config_map(&remote.client).await {
            None => Ok(()),
            Some(_) => Err("still there".to_string()),
        },
    )
    .await;
}
