//! `data_dir`: state, resourceVersions, watch history and credentials survive a restart, and
//! a log tail cut short by a crash is tolerated.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::TempDir;
use eddy_devcluster::{DevCluster, RunningCluster};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, ResourceExt};
use serde_json::json;

const WIDGET_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.example.com"},
  "spec": {
    "group": "example.com",
    "scope": "Namespaced",
    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
      }}}
    }]
  }
}"#;

async fn serve(directory: &Path, listen: SocketAddr) -> RunningCluster {
    DevCluster::builder()
        .listen(listen)
        .data_dir(directory)
        .build()
        .serve()
        .await
        .expect("serve with a data directory")
}

/// Serves again on the address a stopped cluster used (the kubeconfig names it). The old
/// listener's task lets go of the port a moment after shutdown, so binding is retried.
async fn serve_again(directory: &Path, listen: SocketAddr) -> RunningCluster {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let started = DevCluster::builder()
            .listen(listen)
            .data_dir(directory)
            .build()
            .serve()
            .await;
        match started {
            Ok(cluster) => return cluster,
            Err(eddy_devcluster::Error::Bind { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("serve again: {error}"),
        }
    }
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A client from a kubeconfig text, as a user holding an old kubeconfig file would have.
async fn client_from(kubeconfig: &str) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn widgets(client: &Client) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    Api::namespaced_with(client.clone(), "default", &resource)
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"value": value},
    }))
    .expect("config map")
}

fn version_of(object: &impl ResourceExt) -> u64 {
    object
        .resource_version()
        .and_then(|version| version.parse().ok())
        .expect("numeric resourceVersion")
}

async fn create_widget(client: &Client) -> DynamicObject {
    let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
    let definition: CustomResourceDefinition =
        serde_json::from_str(WIDGET_CRD).expect("CRD parses");
    definitions
        .create(&PostParams::default(), &definition)
        .await
        .expect("create CRD");
    let widget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 3},
    }))
    .expect("widget");
    // The CRD is served as soon as it is stored, but give discovery a moment as clients do.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match widgets(client)
            .create(&PostParams::default(), &widget)
            .await
        {
            Ok(created) => return created,
            Err(error) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(%error, "widget not creatable yet");
                tokio::task::yield_now().await;
            }
            Err(error) => panic!("create widget: {error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_object_and_the_kubeconfig_survive_a_restart_and_versions_keep_growing() {
    let directory = TempDir::new();
    let first = serve(&directory.path, any_port()).await;
    let address = first.address();
    let kubeconfig = first.kubeconfig();
    let client = client_from(&kubeconfig).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    config_maps
        .create(&PostParams::default(), &config_map("kept", "before"))
        .await
        .expect("create config map");
    let widget = create_widget(&client).await;
    let uid_before = widget.uid();
    let last_before = version_of(&widget);
    first.shutdown().await;

    let second = serve_again(&directory.path, address).await;
    assert_eq!(second.kubeconfig(), kubeconfig, "the kubeconfig changed");
    // The kubeconfig from before the restart: same CA, same token.
    let client = client_from(&kubeconfig).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let kept = config_maps.get("kept").await.expect("config map kept");
    assert_eq!(
        kept.data
            .and_then(|data| data.get("value").cloned())
            .as_deref(),
        Some("before")
    );
    let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
    definitions
        .get("widgets.example.com")
        .await
        .expect("CRD kept");
    let widget = widgets(&client)
        .get("w1")
        .await
        .expect("custom resource kept");
    assert_eq!(widget.uid(), uid_before);
    assert_eq!(widget.data["spec"]["size"], 3);
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .get("default")
        .await
        .expect("default namespace kept");

    let created = config_maps
        .create(&PostParams::default(), &config_map("after", "restart"))
        .await
        .expect("create after restart");
    assert!(
        version_of(&created) > last_before,
        "resourceVersion went back: {} after {last_before}",
        version_of(&created)
    );
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_before_a_restart_resumes_without_gone() {
    let directory = TempDir::new();
    let first = serve(&directory.path, any_port()).await;
    let client = client_from(&first.kubeconfig()).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let seen = config_maps
        .create(&PostParams::default(), &config_map("a", "1"))
        .await
        .expect("create a");
    let seen_version = seen.resource_version().expect("resourceVersion");
    // A change the watcher has not seen yet when the server goes down.
    config_maps
        .create(&PostParams::default(), &config_map("b", "1"))
        .await
        .expect("create b");
    first.shutdown().await;

    let second = serve(&directory.path, any_port()).await;
    let client = client_from(&second.kubeconfig()).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut events = config_maps
        .watch(&WatchParams::default(), &seen_version)
        .await
        .expect("watch from before the restart")
        .boxed();
    config_maps
        .create(&PostParams::default(), &config_map("c", "1"))
        .await
        .expect("create c");
    let mut added = Vec::new();
    let collected = tokio::time::timeout(Duration::from_secs(20), async {
        while added.len() < 2 {
            match events.try_next().await {
                Ok(Some(WatchEvent::Added(object))) => added.push(object.name_any()),
                Ok(Some(WatchEvent::Error(status))) => {
                    panic!("watch failed after restart: {status:?}")
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("watch ended"),
                Err(error) => panic!("watch error: {error}"),
            }
        }
    })
    .await;
    assert!(collected.is_ok(), "timed out; saw {added:?}");
    assert_eq!(added, vec!["b".to_string(), "c".to_string()]);
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_tail_cut_short_by_a_crash_is_dropped_and_the_rest_kept() {
    let directory = TempDir::new();
    let first = serve(&directory.path, any_port()).await;
    let client = client_from(&first.kubeconfig()).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for name in ["one", "two"] {
        config_maps
            .create(&PostParams::default(), &config_map(name, "x"))
            .await
            .expect("create");
    }
    first.shutdown().await;

    // What a crash in the middle of an append leaves: a header promising more than follows.
    use std::io::Write;
    let log = directory.path.join("changes.log");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open the change log");
    file.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, b'{', b'"'])
        .expect("append a torn record");
    drop(file);

    let second = serve(&directory.path, any_port()).await;
    let client = client_from(&second.kubeconfig()).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for name in ["one", "two"] {
        config_maps.get(name).await.expect("object kept");
    }
    config_maps
        .create(&PostParams::default(), &config_map("three", "x"))
        .await
        .expect("writes work after recovery");
    second.shutdown().await;

    let third = serve(&directory.path, any_port()).await;
    let client = client_from(&third.kubeconfig()).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let names: Vec<String> = config_maps
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    for name in ["one", "two", "three"] {
        assert!(
            names.contains(&name.to_string()),
            "{name} missing: {names:?}"
        );
    }
    third.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_given_explicitly_replaces_the_stored_one() {
    let directory = TempDir::new();
    let first = serve(&directory.path, any_port()).await;
    let stored = first.token().map(str::to_string);
    first.shutdown().await;
    let second = DevCluster::builder()
        .data_dir(&directory.path)
        .token("another")
        .build()
        .serve()
        .await
        .expect("serve");
    assert_eq!(second.token(), Some("another"));
    assert_ne!(stored.as_deref(), Some("another"));
    second.shutdown().await;
    let third = serve(&directory.path, any_port()).await;
    assert_eq!(third.token(), Some("another"));
    third.shutdown().await;
}

#[test]
fn a_restarted_cluster_answers_kubectl_with_the_old_kubeconfig() {
    if !common::have_kubectl() {
        return;
    }
    let directory = TempDir::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let data = directory.path.join("data");
    let first = runtime.block_on(serve(&data, any_port()));
    let address = first.address();
    let kubeconfig = directory.path.join("kubeconfig");
    first.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let kubectl = |arguments: &[&str]| {
        std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(directory.path.join("cache"))
            .env("HOME", &directory.path)
            .env_remove("KUBECONFIG")
            .args(arguments)
            .output()
            .expect("run kubectl")
    };
    let created = kubectl(&["create", "configmap", "survivor", "--from-literal=a=b"]);
    assert!(created.status.success(), "{created:?}");
    runtime.block_on(first.shutdown());
    let second = runtime.block_on(serve_again(&data, address));
    let got = kubectl(&["get", "configmap", "survivor", "-o", "jsonpath={.data.a}"]);
    assert!(got.status.success(), "{got:?}");
    assert_eq!(String::from_utf8_lossy(&got.stdout), "b");
    runtime.block_on(second.shutdown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_a_data_directory_in_use_is_refused() {
    let directory = TempDir::new();
    let first = serve(&directory.path, any_port()).await;
    let second = DevCluster::builder()
        .data_dir(&directory.path)
        .build()
        .serve()
        .await;
    assert!(
        matches!(
            second,
            Err(eddy_devcluster::Error::DataDir(
                eddy_devcluster::DataDirError::InUse { .. }
            ))
        ),
        "{second:?}"
    );
    first.shutdown().await;
    let third = serve(&directory.path, any_port()).await;
    third.shutdown().await;
}
