//! `cargo bench -p eddy-devcluster`: creates 10,000 ConfigMaps through kube-rs over HTTPS, lists
//! them, and fans a watch out to 100 watchers; prints objects per second and the peak RSS of the
//! process (server and client share it) as a Markdown table for docs/.

use std::time::{Duration, Instant};

use eddy_devcluster::DevCluster;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

const OBJECTS: usize = 10_000;
const WATCHERS: usize = 100;
const FANNED_OUT: usize = 1_000;
const CONCURRENCY: usize = 16;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|value| value.parse().ok())
        })
        .unwrap_or(0)
}

fn config_map(name: String) -> ConfigMap {
    let mut object = ConfigMap::default();
    object.metadata.name = Some(name);
    object.data = Some([("key".to_string(), "value".to_string())].into());
    object
}

async fn create_many(api: &Api<ConfigMap>, prefix: &str, count: usize) {
    futures::stream::iter(0..count)
        .map(|index| {
            let api = api.clone();
            let name = format!("{prefix}-{index:05}");
            async move { api.create(&PostParams::default(), &config_map(name)).await }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .expect("create");
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let cluster = DevCluster::builder()
        .watch_history(100_000)
        .build()
        .serve()
        .await
        .expect("serve");
    let kubeconfig = Kubeconfig::from_yaml(&cluster.kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client, "default");

    let started = Instant::now();
    create_many(&api, "bench", OBJECTS).await;
    let create_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let listed = api.list(&ListParams::default()).await.expect("list");
    let list_seconds = started.elapsed().as_secs_f64();
    assert_eq!(listed.items.len(), OBJECTS);

    let started = Instant::now();
    let mut pages = 0;
    let mut paged = 0;
    let mut parameters = ListParams::default().limit(500);
    loop {
        let page = api.list(&parameters).await.expect("list page");
        pages += 1;
        paged += page.items.len();
        match page.metadata.continue_ {
            Some(token) => parameters = parameters.continue_token(&token),
            None => break,
        }
    }
    let paged_seconds = started.elapsed().as_secs_f64();
    assert_eq!(paged, OBJECTS);

    let from = listed.metadata.resource_version.expect("resourceVersion");
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let stream = api
            .watch(&WatchParams::default(), &from)
            .await
            .expect("watch")
            .boxed();
        watchers.push(tokio::spawn(async move {
            let mut stream = stream;
            let mut seen = 0;
            while seen < FANNED_OUT {
                match tokio::time::timeout(Duration::from_secs(60), stream.next()).await {
                    Ok(Some(Ok(WatchEvent::Added(_)))) => seen += 1,
                    Ok(Some(Ok(_))) => {}
                    _ => break,
                }
            }
            seen
        }));
    }
    let started = Instant::now();
    create_many(&api, "fan", FANNED_OUT).await;
    let mut delivered = 0;
    for watcher in watchers {
        delivered += watcher.await.expect("watcher task");
    }
    let fan_seconds = started.elapsed().as_secs_f64();

    println!("| measurement | result |");
    println!("|---|---|");
    println!(
        "| create {OBJECTS} ConfigMaps ({CONCURRENCY} in flight, kube-rs over HTTPS) | {:.0} objects/s ({create_seconds:.2} s) |",
        OBJECTS as f64 / create_seconds
    );
    println!(
        "| list {OBJECTS} in one response | {:.0} objects/s ({list_seconds:.3} s) |",
        OBJECTS as f64 / list_seconds
    );
    println!(
        "| list {OBJECTS} in {pages} pages of 500 | {:.0} objects/s ({paged_seconds:.3} s) |",
        OBJECTS as f64 / paged_seconds
    );
    println!(
        "| {FANNED_OUT} creates fanned out to {WATCHERS} watchers | {delivered} of {} events delivered, {:.0} events/s ({fan_seconds:.2} s) |",
        FANNED_OUT * WATCHERS,
        delivered as f64 / fan_seconds
    );
    println!(
        "| peak RSS (server and client in one process) | {} MiB |",
        peak_rss_kib() / 1024
    );
    cluster.shutdown().await;
}
