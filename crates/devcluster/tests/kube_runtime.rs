//! kube-rs against the dev cluster: a watcher and a Controller on a CRD see create, update and
//! delete, and a raw watch resumes from a resourceVersion after a disconnect.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_devcluster::{DevCluster, RunningCluster};
use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::watcher;
use kube::{Client, CustomResource, CustomResourceExt, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The test CRD.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(group = "example.com", version = "v1", kind = "Gadget", namespaced)]
#[kube(status = "GadgetStatus")]
pub struct GadgetSpec {
    size: i64,
}

/// Its status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct GadgetStatus {
    seen_size: i64,
}

async fn client_for(cluster: &RunningCluster) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&cluster.kubeconfig()).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

async fn start(
    builder: eddy_devcluster::DevClusterBuilder,
) -> (RunningCluster, Client, Api<Gadget>) {
    let cluster = builder.build().serve().await.expect("serve");
    let client = client_for(&cluster).await;
    let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
    definitions
        .create(&PostParams::default(), &Gadget::crd())
        .await
        .expect("create CRD");
    let established = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let crd = definitions
                .get("gadgets.example.com")
                .await
                .expect("get CRD");
            let conditions = crd
                .status
                .and_then(|status| status.conditions)
                .unwrap_or_default();
            if conditions
                .iter()
                .any(|condition| condition.type_ == "Established" && condition.status == "True")
            {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(established.is_ok(), "CRD never became Established");
    let gadgets: Api<Gadget> = Api::namespaced(client.clone(), "default");
    (cluster, client, gadgets)
}

fn gadget(name: &str, size: i64) -> Gadget {
    Gadget::new(name, GadgetSpec { size })
}

async fn next_matching<S, T>(stream: &mut S, what: &str, mut accept: impl FnMut(&T) -> bool) -> T
where
    S: futures::Stream<Item = T> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(item) = stream.next().await {
            if accept(&item) {
                return item;
            }
        }
        panic!("stream ended before {what}");
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_create_update_and_delete() {
    let (cluster, _client, gadgets) = start(DevCluster::builder()).await;
    let mut events = watcher(gadgets.clone(), watcher::Config::default()).boxed();
    let _ = next_matching(&mut events, "the initial list", |event| {
        matches!(event, Ok(watcher::Event::InitDone))
    })
    .await;

    gadgets
        .create(&PostParams::default(), &gadget("one", 1))
        .await
        .expect("create");
    let _ = next_matching(&mut events, "the creation", |event| {
        matches!(event, Ok(watcher::Event::Apply(g)) if g.name_any() == "one" && g.spec.size == 1)
    })
    .await;

    let patch = serde_json::json!({"spec": {"size": 2}});
    gadgets
        .patch("one", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    let _ = next_matching(&mut events, "the update", |event| {
        matches!(event, Ok(watcher::Event::Apply(g)) if g.name_any() == "one" && g.spec.size == 2)
    })
    .await;

    gadgets
        .delete("one", &DeleteParams::default())
        .await
        .expect("delete");
    let _ = next_matching(
        &mut events,
        "the deletion",
        |event| matches!(event, Ok(watcher::Event::Delete(g)) if g.name_any() == "one"),
    )
    .await;
    drop(events);
    cluster.shutdown().await;
}

#[derive(Default)]
struct Seen {
    reconciled: Vec<(String, i64)>,
    cleaned_up: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_reconciles_updates_status_and_finalizes() {
    let (cluster, _client, gadgets) = start(DevCluster::builder()).await;
    let seen = Arc::new(Mutex::new(Seen::default()));

    async fn reconcile(
        object: Arc<Gadget>,
        context: Arc<(Api<Gadget>, Arc<Mutex<Seen>>)>,
    ) -> Result<Action, kube::runtime::finalizer::Error<kube::Error>> {
        let (api, seen) = context.as_ref();
        finalizer(api, "example.com/cleanup", object, |event| async move {
            match event {
                Finalizer::Apply(gadget) => {
                    let size = gadget.spec.size;
                    let status = serde_json::json!({"status": {"seen_size": size}});
                    api.patch_status(
                        &gadget.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&status),
                    )
                    .await?;
                    if let Ok(mut seen) = seen.lock() {
                        seen.reconciled.push((gadget.name_any(), size));
                    }
                }
                Finalizer::Cleanup(gadget) => {
                    if let Ok(mut seen) = seen.lock() {
                        seen.cleaned_up.push(gadget.name_any());
                    }
                }
            }
            Ok(Action::await_change())
        })
        .await
    }

    fn error_policy(
        _object: Arc<Gadget>,
        _error: &kube::runtime::finalizer::Error<kube::Error>,
        _context: Arc<(Api<Gadget>, Arc<Mutex<Seen>>)>,
    ) -> Action {
        Action::requeue(Duration::from_millis(100))
    }

    let context = Arc::new((gadgets.clone(), seen.clone()));
    let controller = tokio::spawn(
        Controller::new(gadgets.clone(), watcher::Config::default())
            .run(reconcile, error_policy, context)
            .for_each(|_| async {}),
    );

    let wait_for = |what: &'static str, check: Box<dyn Fn(&Seen) -> bool + Send>| {
        let seen = seen.clone();
        async move {
            let done = tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    if seen.lock().map(|seen| check(&seen)).unwrap_or(false) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await;
            assert!(done.is_ok(), "timed out waiting for {what}");
        }
    };

    gadgets
        .create(&PostParams::default(), &gadget("two", 3))
        .await
        .expect("create");
    wait_for(
        "the first reconcile",
        Box::new(|seen| seen.reconciled.contains(&("two".into(), 3))),
    )
    .await;
    let stored = gadgets.get("two").await.expect("get");
    assert!(
        stored
            .finalizers()
            .contains(&"example.com/cleanup".to_string())
    );

    let patch = serde_json::json!({"spec": {"size": 4}});
    gadgets
        .patch("two", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    wait_for(
        "the update reconcile",
        Box::new(|seen| seen.reconciled.contains(&("two".into(), 4))),
    )
    .await;
    let status_written = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let current = gadgets.get_status("two").await.expect("get status");
            if current.status.as_ref().map(|status| status.seen_size) == Some(4) {
                return current;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("status written");
    assert_eq!(status_written.metadata.generation, Some(2));

    gadgets
        .delete("two", &DeleteParams::default())
        .await
        .expect("delete");
    wait_for(
        "the cleanup",
        Box::new(|seen| seen.cleaned_up.contains(&"two".to_string())),
    )
    .await;
    let gone = tokio::time::timeout(Duration::from_secs(20), async {
        while gadgets.get_opt("two").await.expect("get").is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "object stayed after its finalizer was removed"
    );
    controller.abort();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumes_from_a_resource_version_after_a_disconnect() {
    let (cluster, _client, gadgets) = start(DevCluster::builder()).await;
    let listed = gadgets.list(&Default::default()).await.expect("list");
    let start_version = listed
        .metadata
        .resource_version
        .expect("list resourceVersion");

    let mut stream = gadgets
        .watch(&WatchParams::default(), &start_version)
        .await
        .expect("watch")
        .boxed();
    gadgets
        .create(&PostParams::default(), &gadget("a", 1))
        .await
        .expect("create a");
    let added = next_matching(
        &mut stream,
        "a's creation",
        |event| matches!(event, Ok(WatchEvent::Added(g)) if g.name_any() == "a"),
    )
    .await;
    let Ok(WatchEvent::Added(added)) = added else {
        panic!("not an ADDED event");
    };
    let seen_version = added.resource_version().expect("resourceVersion");
    drop(stream);

    // Changes while nobody watches.
    gadgets
        .create(&PostParams::default(), &gadget("b", 1))
        .await
        .expect("create b");
    gadgets
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete a");

    let mut resumed = gadgets
        .watch(&WatchParams::default(), &seen_version)
        .await
        .expect("watch again")
        .boxed();
    let _ = next_matching(
        &mut resumed,
        "b's creation",
        |event| matches!(event, Ok(WatchEvent::Added(g)) if g.name_any() == "b"),
    )
    .await;
    let _ = next_matching(
        &mut resumed,
        "a's deletion",
        |event| matches!(event, Ok(WatchEvent::Deleted(g)) if g.name_any() == "a"),
    )
    .await;
    drop(resumed);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_compacted_resource_version_is_gone() {
    let (cluster, _client, gadgets) = start(DevCluster::builder().watch_history(5)).await;
    let before = gadgets
        .list(&Default::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("resourceVersion");
    for index in 0..10 {
        gadgets
            .create(&PostParams::default(), &gadget(&format!("g{index}"), 1))
            .await
            .expect("create");
    }
    let mut stream = gadgets
        .watch(&WatchParams::default(), &before)
        .await
        .expect("watch")
        .boxed();
    let event = next_matching(&mut stream, "an error event", |_| true).await;
    match event {
        Ok(WatchEvent::Error(status)) => assert_eq!(status.code, 410),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    drop(stream);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_list_watcher_gets_initial_events_then_a_bookmark() {
    let (cluster, _client, gadgets) = start(DevCluster::builder()).await;
    for name in ["s1", "s2", "s3"] {
        gadgets
            .create(&PostParams::default(), &gadget(name, 1))
            .await
            .expect("create");
    }
    let mut events = watcher(
        gadgets.clone(),
        watcher::Config::default().streaming_lists(),
    )
    .boxed();
    let mut initial = Vec::new();
    loop {
        let event = next_matching(&mut events, "initial events", |_| true).await;
        match event.expect("watcher event") {
            watcher::Event::Init => {}
            watcher::Event::InitApply(gadget) => initial.push(gadget.name_any()),
            watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?} before InitDone"),
        }
    }
    initial.sort();
    assert_eq!(initial, vec!["s1", "s2", "s3"]);
    gadgets
        .create(&PostParams::default(), &gadget("s4", 1))
        .await
        .expect("create");
    let _ = next_matching(
        &mut events,
        "the later creation",
        |event| matches!(event, Ok(watcher::Event::Apply(g)) if g.name_any() == "s4"),
    )
    .await;
    drop(events);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_get_bookmarks_and_end_at_their_timeout() {
    let builder = DevCluster::builder().bookmark_interval(Duration::from_millis(50));
    let (cluster, _client, gadgets) = start(builder).await;
    let parameters = WatchParams::default().timeout(2);
    assert!(
        parameters.bookmarks,
        "kube-rs asks for bookmarks by default"
    );
    let mut stream = gadgets
        .watch(&parameters, "0")
        .await
        .expect("watch")
        .boxed();
    let bookmark = next_matching(&mut stream, "a bookmark", |event| {
        matches!(event, Ok(WatchEvent::Bookmark(_)))
    })
    .await;
    let Ok(WatchEvent::Bookmark(bookmark)) = bookmark else {
        panic!("not a bookmark");
    };
    assert!(!bookmark.metadata.resource_version.is_empty());
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while stream.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the watch outlived timeoutSeconds");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_selectors_turn_objects_leaving_the_selection_into_deletions() {
    let (cluster, _client, gadgets) = start(DevCluster::builder()).await;
    let mut labelled = gadget("sel", 1);
    labelled.metadata.labels = Some([("team".to_string(), "a".to_string())].into());
    gadgets
        .create(&PostParams::default(), &labelled)
        .await
        .expect("create");
    let parameters = WatchParams::default().labels("team=a");
    let mut stream = gadgets
        .watch(&parameters, "0")
        .await
        .expect("watch")
        .boxed();
    let _ = next_matching(
        &mut stream,
        "the initial ADDED",
        |event| matches!(event, Ok(WatchEvent::Added(g)) if g.name_any() == "sel"),
    )
    .await;
    let relabel = serde_json::json!({"metadata": {"labels": {"team": "b"}}});
    gadgets
        .patch("sel", &PatchParams::default(), &Patch::Merge(&relabel))
        .await
        .expect("relabel");
    let _ = next_matching(
        &mut stream,
        "a DELETED for the object leaving",
        |event| matches!(event, Ok(WatchEvent::Deleted(g)) if g.name_any() == "sel"),
    )
    .await;
    drop(stream);
    cluster.shutdown().await;
}
