//! Raw HTTP checks of kube-apiserver semantics and error codes, through kube-rs's client so
//! TLS and the token are handled as a real client handles them.

use std::time::Duration;

use eddy_devcluster::{DevCluster, RunningCluster};
use http::{Method, Request};
use http_body_util::BodyExt;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

struct Harness {
    cluster: RunningCluster,
    client: Client,
}

impl Harness {
    async fn start() -> Self {
        Self::start_with(DevCluster::builder()).await
    }

    async fn start_with(builder: eddy_devcluster::DevClusterBuilder) -> Self {
        let cluster = builder.build().serve().await.expect("serve");
        let kubeconfig = Kubeconfig::from_yaml(&cluster.kubeconfig()).expect("kubeconfig");
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .expect("config");
        let client = Client::try_from(config).expect("client");
        Harness { cluster, client }
    }

    async fn call_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(kube::client::Body::from(body))
            .expect("request");
        let response = self.client.send(request).await.expect("send");
        let code = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (code, value)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body
            .map(|body| body.to_string().into_bytes())
            .unwrap_or_default();
        self.call_with(method, path, &[("content-type", "application/json")], bytes)
            .await
    }

    async fn create_config_map(&self, name: &str, labels: Value) -> Value {
        let (code, created) = self
            .call(
                Method::POST,
                "/api/v1/namespaces/default/configmaps",
                Some(json!({"metadata": {"name": name, "labels": labels}, "data": {"a": "b"}})),
            )
            .await;
        assert_eq!(code, 201, "{created}");
        created
    }
}

const CONFIG_MAPS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn malformed_bodies_are_bad_requests_with_a_status() {
    let harness = Harness::start().await;
    let (code, status) = harness
        .call_with(
            Method::POST,
            CONFIG_MAPS,
            &[("content-type", "application/json")],
            b"{oops".to_vec(),
        )
        .await;
    assert_eq!(code, 400);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "BadRequest");
    let (code, _) = harness
        .call_with(
            Method::POST,
            CONFIG_MAPS,
            &[("content-type", "application/yaml")],
            b"metadata: [".to_vec(),
        )
        .await;
    assert_eq!(code, 400);
    let (code, created) = harness
        .call_with(
            Method::POST,
            CONFIG_MAPS,
            &[("content-type", "application/yaml")],
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n".to_vec(),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let (code, status) = harness
        .call(
            Method::POST,
            CONFIG_MAPS,
            Some(json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}})),
        )
        .await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (400, Some("BadRequest")),
        "{status}"
    );
    let (code, _) = harness
        .call(
            Method::POST,
            CONFIG_MAPS,
            Some(json!({"metadata": {"name": "x", "namespace": "other"}})),
        )
        .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn invalid_names_and_unknown_resources_get_their_codes() {
    let harness = Harness::start().await;
    let (code, status) = harness
        .call(
            Method::POST,
            CONFIG_MAPS,
            Some(json!({"metadata": {"name": "Not_Valid"}})),
        )
        .await;
    assert_eq!(code, 422);
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(status["details"]["causes"][0]["field"], "metadata.name");
    let (code, status) = harness
        .call(Method::GET, "/apis/example.com/v1/gizmos", None)
        .await;
    assert_eq!((code, status["reason"].as_str()), (404, Some("NotFound")));
    let (code, status) = harness
        .call(
            Method::GET,
            "/api/v1/namespaces/default/configmaps/missing",
            None,
        )
        .await;
    assert_eq!(code, 404);
    assert_eq!(status["message"], "configmaps \"missing\" not found");
    assert_eq!(status["details"]["name"], "missing");
    let (code, status) = harness
        .call(
            Method::POST,
            "/api/v1/namespaces/nowhere/configmaps",
            Some(json!({"metadata": {"name": "a"}})),
        )
        .await;
    assert_eq!(code, 404);
    assert_eq!(status["message"], "namespaces \"nowhere\" not found");
}

#[tokio::test]
async fn oversized_bodies_are_rejected_with_413() {
    let harness = Harness::start_with(DevCluster::builder().max_body_bytes(64 * 1024)).await;
    let big = json!({"metadata": {"name": "big"}, "data": {"blob": "x".repeat(100 * 1024)}});
    let (code, status) = harness.call(Method::POST, CONFIG_MAPS, Some(big)).await;
    assert_eq!(code, 413);
    assert_eq!(status["reason"], "RequestEntityTooLarge");
}

#[tokio::test]
async fn bad_patches_get_kube_apiserver_codes() {
    let harness = Harness::start().await;
    harness.create_config_map("target", json!({})).await;
    let path = format!("{CONFIG_MAPS}/target");
    let patch = async |content_type: &'static str, body: &'static str| {
        let headers = [("content-type", content_type)];
        harness
            .call_with(Method::PATCH, &path, &headers, body.as_bytes().to_vec())
            .await
    };
    assert_eq!(patch("application/json-patch+json", "{}").await.0, 400);
    assert_eq!(
        patch(
            "application/json-patch+json",
            r#"[{"op":"remove","path":"/nope"}]"#
        )
        .await
        .0,
        422
    );
    assert_eq!(
        patch("application/merge-patch+json", "not json").await.0,
        400
    );
    assert_eq!(patch("text/plain", "{}").await.0, 415);
    let (code, patched) = patch(
        "application/strategic-merge-patch+json",
        r#"{"data":{"c":"d"}}"#,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(patched["data"], json!({"a": "b", "c": "d"}));
    let (code, _) = harness
        .call_with(
            Method::PATCH,
            &format!("{CONFIG_MAPS}/absent"),
            &[("content-type", "application/merge-patch+json")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn updates_are_optimistic_and_no_op_writes_keep_the_resource_version() {
    let harness = Harness::start().await;
    let created = harness.create_config_map("cas", json!({})).await;
    let path = format!("{CONFIG_MAPS}/cas");
    let mut changed = created.clone();
    changed["data"]["a"] = json!("changed");
    let (code, updated) = harness
        .call(Method::PUT, &path, Some(changed.clone()))
        .await;
    assert_eq!(code, 200);
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    let (code, status) = harness.call(Method::PUT, &path, Some(changed)).await;
    assert_eq!((code, status["reason"].as_str()), (409, Some("Conflict")));
    let (code, same) = harness
        .call(Method::PUT, &path, Some(updated.clone()))
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        same["metadata"]["resourceVersion"],
        updated["metadata"]["resourceVersion"]
    );
    let mut unconditional = updated.clone();
    unconditional["metadata"]
        .as_object_mut()
        .map(|metadata| metadata.remove("resourceVersion"));
    unconditional["data"]["a"] = json!("again");
    assert_eq!(
        harness
            .call(Method::PUT, &path, Some(unconditional))
            .await
            .0,
        200
    );
    let (code, _) = harness
        .call(
            Method::DELETE,
            &path,
            Some(json!({"preconditions": {"uid": "not-the-uid"}})),
        )
        .await;
    assert_eq!(code, 409);
}

#[tokio::test]
async fn generate_name_dry_run_and_delete_collection() {
    let harness = Harness::start().await;
    let (code, generated) = harness
        .call(
            Method::POST,
            CONFIG_MAPS,
            Some(json!({"metadata": {"generateName": "gen-"}})),
        )
        .await;
    assert_eq!(code, 201);
    let name = generated["metadata"]["name"].as_str().unwrap_or_default();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    let (code, dry) = harness
        .call(
            Method::POST,
            &format!("{CONFIG_MAPS}?dryRun=All"),
            Some(json!({"metadata": {"name": "dry"}})),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(dry["metadata"]["name"], "dry");
    assert_eq!(
        harness
            .call(Method::GET, &format!("{CONFIG_MAPS}/dry"), None)
            .await
            .0,
        404
    );

    for index in 0..3 {
        harness
            .create_config_map(&format!("sweep-{index}"), json!({"sweep": "yes"}))
            .await;
    }
    let (code, deleted) = harness
        .call(
            Method::DELETE,
            &format!("{CONFIG_MAPS}?labelSelector=sweep%3Dyes"),
            None,
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(deleted["items"].as_array().map(Vec::len), Some(3));
    let (_, remaining) = harness.call(Method::GET, CONFIG_MAPS, None).await;
    let names: Vec<&str> = remaining["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["metadata"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        names.iter().all(|name| !name.starts_with("sweep-")),
        "{names:?}"
    );
}

#[tokio::test]
async fn lists_page_with_limit_and_continue() {
    let harness = Harness::start().await;
    for index in 0..5 {
        harness
            .create_config_map(&format!("page-{index}"), json!({}))
            .await;
    }
    let mut names = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let path = format!("{CONFIG_MAPS}?limit=2&continue={token}");
        let (code, page) = harness.call(Method::GET, &path, None).await;
        assert_eq!(code, 200, "{page}");
        pages += 1;
        for item in page["items"].as_array().cloned().unwrap_or_default() {
            names.push(
                item["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        match page["metadata"]["continue"].as_str() {
            Some(next) => token = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        names,
        vec!["page-0", "page-1", "page-2", "page-3", "page-4"]
    );
}

#[tokio::test]
async fn orphan_propagation_keeps_dependents() {
    let harness = Harness::start().await;
    let owner = harness.create_config_map("parent", json!({})).await;
    let (code, _) = harness
        .call(
            Method::POST,
            CONFIG_MAPS,
            Some(json!({"metadata": {"name": "kid", "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "parent",
                "uid": owner["metadata"]["uid"]
            }]}})),
        )
        .await;
    assert_eq!(code, 201);
    let (code, _) = harness
        .call(
            Method::DELETE,
            &format!("{CONFIG_MAPS}/parent"),
            Some(json!({"propagationPolicy": "Orphan"})),
        )
        .await;
    assert_eq!(code, 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (parent_code, _) = harness
            .call(Method::GET, &format!("{CONFIG_MAPS}/parent"), None)
            .await;
        let (kid_code, kid) = harness
            .call(Method::GET, &format!("{CONFIG_MAPS}/kid"), None)
            .await;
        if parent_code == 404 {
            assert_eq!(kid_code, 200, "orphaned dependent was deleted");
            assert!(kid["metadata"].get("ownerReferences").is_none(), "{kid}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "owner never went away"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn tables_and_partial_metadata_are_served_on_request() {
    let harness = Harness::start().await;
    harness.create_config_map("shown", json!({})).await;
    let (code, table) = harness
        .call_with(
            Method::GET,
            CONFIG_MAPS,
            &[(
                "accept",
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            )],
            Vec::new(),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["columnDefinitions"][1]["name"], "Data");
    assert_eq!(table["rows"][0]["cells"][0], "shown");
    assert_eq!(table["rows"][0]["cells"][1], 1);
    let (_, metadata) = harness
        .call_with(
            Method::GET,
            CONFIG_MAPS,
            &[(
                "accept",
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
            )],
            Vec::new(),
        )
        .await;
    assert_eq!(metadata["kind"], "PartialObjectMetadataList");
    assert!(metadata["items"][0].get("data").is_none());
}

#[tokio::test]
async fn selectors_and_resource_versions_are_validated() {
    let harness = Harness::start().await;
    let (code, _) = harness
        .call(
            Method::GET,
            &format!("{CONFIG_MAPS}?labelSelector=a%20in%20b"),
            None,
        )
        .await;
    assert_eq!(code, 400);
    let (code, _) = harness
        .call(
            Method::GET,
            &format!("{CONFIG_MAPS}?watch=true&resourceVersion=abc"),
            None,
        )
        .await;
    assert_eq!(code, 400);
    let (code, _) = harness
        .call(Method::GET, &format!("{CONFIG_MAPS}?limit=-1"), None)
        .await;
    assert_eq!(code, 400);
    let huge_timeout = format!("{CONFIG_MAPS}?watch=1&timeoutSeconds=18446744073709551615");
    let request = http::Request::builder()
        .uri(huge_timeout)
        .body(kube::client::Body::empty())
        .expect("request");
    let response = harness
        .client
        .send(request)
        .await
        .expect("watch with a huge timeout");
    assert_eq!(response.status().as_u16(), 200);
    drop(response);
    harness.cluster.shutdown().await;
}

#[tokio::test]
async fn namespaces_carry_their_name_label_and_finalizer() {
    let harness = Harness::start().await;
    let (code, created) = harness
        .call(
            Method::POST,
            "/api/v1/namespaces",
            Some(json!({"metadata": {"name": "team-a"}})),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        created["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team-a"
    );
    assert_eq!(created["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(created["status"]["phase"], "Active");
    let (code, _) = harness
        .call(
            Method::POST,
            "/api/v1/namespaces",
            Some(json!({"metadata": {"name": "has.dots"}})),
        )
        .await;
    assert_eq!(code, 422, "namespace names are RFC 1123 labels");
    let (code, status) = harness
        .call(Method::DELETE, "/api/v1/namespaces/default", None)
        .await;
    assert_eq!((code, status["reason"].as_str()), (403, Some("Forbidden")));
}

#[tokio::test]
async fn secret_string_data_is_folded_into_data_and_never_stored() {
    let harness = Harness::start().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    let (code, created) = harness
        .call(
            Method::POST,
            secrets,
            Some(json!({"metadata": {"name": "db"},
                "data": {"user": "YWRtaW4=", "password": "b2xk"},
                "stringData": {"password": "hunter2"}})),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        created["data"],
        json!({"user": "YWRtaW4=", "password": "aHVudGVyMg=="}),
        "stringData wins over data for the same key"
    );
    assert!(created.get("stringData").is_none(), "{created}");
    let (code, patched) = harness
        .call_with(
            Method::PATCH,
            &format!("{secrets}/db"),
            &[("content-type", "application/merge-patch+json")],
            json!({"stringData": {"host": "db.local"}})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["data"]["host"], "ZGIubG9jYWw=");
    assert_eq!(patched["data"]["user"], "YWRtaW4=");
    let (_, read) = harness
        .call(Method::GET, &format!("{secrets}/db"), None)
        .await;
    assert!(read.get("stringData").is_none(), "{read}");
    assert_eq!(read["data"], patched["data"]);
}
