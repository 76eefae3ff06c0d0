//! `cargo bench -p kustomize-controller --bench many_kustomizations`: how long N Kustomizations
//! take from the first create until all are Ready at the source's revision, and the peak RSS of
//! the real `kustomize-controller` binary while it gets them there (issue 7's benchmark).
//!
//! Each run gets a fresh dev cluster in this process (so earlier runs leave nothing for the
//! controller to list or re-reconcile), one GitRepository whose `status.artifact` points at an
//! archive served by an in-process artifact server (standing in for source-controller), and
//! the controller as a separate process, so `VmHWM` in `/proc/<pid>/status` is its own peak. Every
//! Kustomization builds the same three objects (ConfigMap, Service, ServiceAccount) with its own
//! `namePrefix` into one target namespace, so nothing collides.
//!
//! Environment knobs, each a comma-separated list:
//! - `EDDY_BENCH_COUNTS` (default `100,1000`): numbers of Kustomizations;
//! - `EDDY_BENCH_SETTINGS` (default `50/300/4,500/1000/4,500/1000/20,2000/4000/20`): controller
//!   settings as `<--kube-api-qps>/<--kube-api-burst>/<--concurrent>`: Flux's defaults first,
//!   then the limits raised, then also the 20 workers of Flux's own benchmark, then limits so
//!   high that CPU rather than the client's rate limiter bounds the run.
//!
//! The controller's logs go to a file under the run's temporary directory; set
//! `EDDY_BENCH_KEEP_LOGS` to keep them (the path is printed). With `RUST_LOG` set (for example
//! `eddy_devcluster::server=debug`), this process logs to stderr, so every API request the dev
//! cluster answers can be counted.

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use eddy_api::kustomize::v1::Kustomization;
use eddy_api::source::v1::GitRepository;
use eddy_artifact::{Storage, artifact_path, artifact_url};
use eddy_devcluster::{DevCluster, RunningCluster};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Where the Kustomizations and their GitRepository live (Flux's own namespace).
const FLUX_NAMESPACE: &str = "flux-system";
/// Where every Kustomization puts its objects (`spec.targetNamespace`).
const TARGET_NAMESPACE: &str = "apps";
const REPOSITORY: &str = "bench";
const REVISION: &str = "main@sha1:5f1a0c2b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b";
/// Creates in flight from the bench's own (unthrottled) client.
const CREATE_CONCURRENCY: usize = 16;
/// A run that has not finished by then is reported as failed rather than waited for.
const RUN_DEADLINE: Duration = Duration::from_secs(900);
const START_DEADLINE: Duration = Duration::from_secs(30);

const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  greeting: hello\n  level: info\n";
const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n";
const SERVICE_ACCOUNT: &str = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n";

/// One measured configuration.
#[derive(Clone, Copy, Debug)]
struct Config {
    count: usize,
    qps: u32,
    burst: u32,
    concurrent: u16,
}

/// What one run measured.
struct Outcome {
    created: Duration,
    ready: Duration,
    peak_rss_kib: u64,
    cpu: Duration,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Failure> {
    eddy_runtime::process::install_crypto_provider();
    if std::env::var_os("RUST_LOG").is_some() {
        eddy_runtime::telemetry::init_logging(
            eddy_runtime::flags::LogLevel::Debug,
            eddy_runtime::flags::LogEncoding::Console,
        );
    }
    let counts: Vec<usize> = list_from_env("EDDY_BENCH_COUNTS", "100,1000")?;
    let settings: Vec<(u32, u32, u16)> = list_from_env::<String>(
        "EDDY_BENCH_SETTINGS",
        "50/300/4,500/1000/4,500/1000/20,2000/4000/20",
    )?
    .iter()
    .map(|text| parse_settings(text))
    .collect::<Result<_, _>>()?;

    let mut rows = Vec::new();
    for &count in &counts {
        for &(qps, burst, concurrent) in &settings {
            let config = Config {
                count,
                qps,
                burst,
                concurrent,
            };
            eprintln!("running {config:?}");
            let outcome = run(config).await?;
            eprintln!(
                "  created in {:.1} s, all Ready after {:.1} s, peak RSS {:.1} MiB, CPU {:.1} s",
                outcome.created.as_secs_f64(),
                outcome.ready.as_secs_f64(),
                mib(outcome.peak_rss_kib),
                outcome.cpu.as_secs_f64()
            );
            rows.push((config, outcome));
        }
    }

    println!(
        "| Kustomizations | QPS/burst | --concurrent | all created | all Ready | Ready per second | controller peak RSS | controller CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (config, outcome) in rows {
        println!(
            "| {} | {}/{} | {} | {:.1} s | {:.1} s | {:.1} | {:.1} MiB | {:.1} s |",
            config.count,
            config.qps,
            config.burst,
            config.concurrent,
            outcome.created.as_secs_f64(),
            outcome.ready.as_secs_f64(),
            config.count as f64 / outcome.ready.as_secs_f64(),
            mib(outcome.peak_rss_kib),
            outcome.cpu.as_secs_f64()
        );
    }
    Ok(())
}

fn list_from_env<T: std::str::FromStr>(name: &str, default: &str) -> Result<Vec<T>, Failure> {
    let text = std::env::var(name).unwrap_or_else(|_| default.to_string());
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse()
                .map_err(|_| Failure::from(format!("{name}: {item:?} is not a valid value")))
        })
        .collect()
}

fn parse_settings(text: &str) -> Result<(u32, u32, u16), Failure> {
    let invalid = || format!("EDDY_BENCH_SETTINGS: {text:?} is not <qps>/<burst>/<concurrent>");
    let parts: Vec<&str> = text.split('/').map(str::trim).collect();
    let [qps, burst, concurrent] = parts.as_slice() else {
        return Err(invalid().into());
    };
    Ok((
        qps.parse().map_err(|_| invalid())?,
        burst.parse().map_err(|_| invalid())?,
        concurrent.parse().map_err(|_| invalid())?,
    ))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One configuration on a fresh dev cluster.
async fn run(config: Config) -> Result<Outcome, Failure> {
    let scratch = tempfile::tempdir()?;
    let cluster = DevCluster::builder()
        // Creates, finalizers, status patches, applied objects and events of 1,000
        // Kustomizations stay well inside this history, so no watch of ours is expired.
        .watch_history(200_000)
        .build()
        .serve()
        .await?;
    let kubeconfig_path = scratch.path().join("kubeconfig");
    cluster.write_kubeconfig(&kubeconfig_path)?;
    let client = connect(&cluster).await?;
    install_crds(&client).await?;
    for namespace in [FLUX_NAMESPACE, TARGET_NAMESPACE] {
        create_namespace(&client, namespace).await?;
    }

    let storage_root = scratch.path().join("storage");
    let storage = Storage::new(&storage_root)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let artifact_address = listener.local_addr()?.to_string();
    let artifact_server =
        tokio::spawn(
            async move { axum::serve(listener, eddy_artifact::router(storage_root)).await },
        );
    publish(&client, &storage, &artifact_address, scratch.path()).await?;

    let log_path = scratch.path().join("kustomize-controller.log");
    let outcome = measure(config, &client, &kubeconfig_path, &log_path).await;
    artifact_server.abort();
    cluster.shutdown().await;
    if std::env::var_os("EDDY_BENCH_KEEP_LOGS").is_some() {
        let kept = scratch.keep();
        eprintln!(
            "  controller log: {}",
            kept.join("kustomize-controller.log").display()
        );
    }
    outcome
}

/// Starts the controller, creates the Kustomizations, waits for them and stops it.
async fn measure(
    config: Config,
    client: &kube::Client,
    kubeconfig: &Path,
    log_path: &Path,
) -> Result<Outcome, Failure> {
    let health_port = free_port()?;
    let log = std::fs::File::create(log_path)?;
    let mut controller = tokio::process::Command::new(env!("CARGO_BIN_EXE_kustomize-controller"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--kube-api-qps={}", config.qps))
        .arg(format!("--kube-api-burst={}", config.burst))
        .arg(format!("--concurrent={}", config.concurrent))
        .arg("--metrics-addr=127.0.0.1:0")
        .arg(format!("--health-addr=127.0.0.1:{health_port}"))
        .arg("--graceful-shutdown-timeout=5s")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?;
    let pid = controller
        .id()
        .ok_or("the controller exited before it could be measured")?;
    wait_until_serving(health_port).await?;

    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), FLUX_NAMESPACE);
    let started = Instant::now();
    create_kustomizations(&kustomizations, config.count).await?;
    let created = started.elapsed();
    let waited = wait_all_ready(&kustomizations, config.count, started).await;
    let ready = started.elapsed();
    // Read before stopping: after SIGTERM the process (and its /proc entry) goes away.
    let peak_rss_kib = proc_status_kib(pid, "VmHWM:")?;
    let cpu = cpu_time(pid)?;
    stop(&mut controller, pid).await?;
    waited?;
    check_objects(client, config.count).await?;
    Ok(Outcome {
        created,
        ready,
        peak_rss_kib,
        cpu,
    })
}

async fn connect(cluster: &RunningCluster) -> Result<kube::Client, Failure> {
    let kubeconfig = Kubeconfig::from_yaml(&cluster.kubeconfig())?;
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

async fn install_crds(client: &kube::Client) -> Result<(), Failure> {
    let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
    for definition in eddy_api::crds::all() {
        definitions
            .create(&PostParams::default(), &definition)
            .await?;
    }
    let started = Instant::now();
    for name in [
        "gitrepositories.source.toolkit.fluxcd.io",
        "kustomizations.kustomize.toolkit.fluxcd.io",
    ] {
        loop {
            let established = definitions
                .get(name)
                .await?
                .status
                .and_then(|status| status.conditions)
                .unwrap_or_default()
                .iter()
                .any(|condition| condition.type_ == "Established" && condition.status == "True");
            if established {
                break;
            }
            if started.elapsed() > START_DEADLINE {
                return Err(format!("{name} never became Established").into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

async fn create_namespace(client: &kube::Client, name: &str) -> Result<(), Failure> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    namespaces
        .create(&PostParams::default(), &namespace)
        .await?;
    Ok(())
}

/// Archives the three manifests and publishes them as the GitRepository's artifact, as
/// source-controller would.
async fn publish(
    client: &kube::Client,
    storage: &Storage,
    address: &str,
    scratch: &Path,
) -> Result<(), Failure> {
    let source = scratch.join("source/app");
    std::fs::create_dir_all(&source)?;
    for (file, text) in [
        ("configmap.yaml", CONFIG_MAP),
        ("service.yaml", SERVICE),
        ("serviceaccount.yaml", SERVICE_ACCOUNT),
    ] {
        std::fs::write(source.join(file), text)?;
    }
    let path = artifact_path(
        "GitRepository",
        FLUX_NAMESPACE,
        REPOSITORY,
        "5f1a0c2b.tar.gz",
    );
    let summary = storage.archive(&path, &scratch.join("source"), None)?;
    let repositories: Api<GitRepository> = Api::namespaced(client.clone(), FLUX_NAMESPACE);
    let repository: GitRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": REPOSITORY, "namespace": FLUX_NAMESPACE},
        "spec": {"url": "https://git.example.invalid/bench", "interval": "10m"},
    }))?;
    repositories
        .create(&PostParams::default(), &repository)
        .await?;
    let status = json!({"status": {
        "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
            "message": "stored artifact", "lastTransitionTime": "2026-01-01T00:00:00Z",
            "observedGeneration": 1}],
        "artifact": {
            "path": path,
            "url": artifact_url(address, &path),
            "revision": REVISION,
            "digest": summary.digest,
            "size": summary.size,
            "lastUpdateTime": "2026-01-01T00:00:00Z",
        },
    }});
    repositories
        .patch_status(REPOSITORY, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

fn free_port() -> Result<u16, Failure> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Waits for the controller's `/readyz`, so its start-up is not part of the measurement.
async fn wait_until_serving(port: u16) -> Result<(), Failure> {
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let started = Instant::now();
    loop {
        if let Ok(response) = http.get(&url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if started.elapsed() > START_DEADLINE {
            return Err(format!("kustomize-controller did not become ready at {url}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kustomization_name(index: usize) -> String {
    format!("app-{index:04}")
}

async fn create_kustomizations(api: &Api<Kustomization>, count: usize) -> Result<(), Failure> {
    futures::stream::iter(0..count)
        .map(|index| {
            let api = api.clone();
            async move {
                let name = kustomization_name(index);
                let object: Kustomization = serde_json::from_value(json!({
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                    "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
                    "spec": {
                        "interval": "60m",
                        "path": "./app",
                        "prune": true,
                        "targetNamespace": TARGET_NAMESPACE,
                        "namePrefix": format!("{name}-"),
                        "sourceRef": {"kind": "GitRepository", "name": REPOSITORY},
                    },
                }))?;
                api.create(&PostParams::default(), &object).await?;
                Ok::<(), Failure>(())
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// Ready=True for the current generation, applied at the published revision.
fn is_ready(kustomization: &Kustomization) -> bool {
    let Some(status) = kustomization.status.as_ref() else {
        return false;
    };
    status.observed_generation == kustomization.metadata.generation
        && status.last_applied_revision.as_deref() == Some(REVISION)
        && status
            .conditions
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|condition| condition.type_ == "Ready" && condition.status == "True")
}

/// Watches the Kustomizations (re-listing whenever the watch ends) until `count` are ready.
async fn wait_all_ready(
    api: &Api<Kustomization>,
    count: usize,
    started: Instant,
) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::from_std(started + RUN_DEADLINE);
    let mut ready: HashSet<String> = HashSet::new();
    loop {
        let listed = api.list(&ListParams::default()).await?;
        ready.clear();
        ready.extend(
            listed
                .items
                .iter()
                .filter(|item| is_ready(item))
                .filter_map(|item| item.metadata.name.clone()),
        );
        if ready.len() >= count {
            return Ok(());
        }
        let version = listed.metadata.resource_version.unwrap_or_default();
        let mut events = api
            .watch(&WatchParams::default().timeout(290), &version)
            .await?
            .boxed();
        loop {
            let next = tokio::time::timeout_at(deadline, events.try_next())
                .await
                .map_err(|_| {
                    format!(
                        "only {} of {count} Kustomizations Ready after {RUN_DEADLINE:?}",
                        ready.len()
                    )
                })?;
            let kustomization = match next {
                Ok(Some(WatchEvent::Added(object) | WatchEvent::Modified(object))) => object,
                Ok(Some(WatchEvent::Deleted(object))) => {
                    if let Some(name) = object.metadata.name {
                        ready.remove(&name);
                    }
                    continue;
                }
                Ok(Some(WatchEvent::Bookmark(_))) => continue,
                // An expired or broken watch: list again from scratch.
                Ok(Some(WatchEvent::Error(_)) | None) | Err(_) => break,
            };
            if let Some(name) = kustomization.metadata.name.clone() {
                if is_ready(&kustomization) {
                    ready.insert(name);
                } else {
                    ready.remove(&name);
                }
            }
            if ready.len() >= count {
                return Ok(());
            }
        }
    }
}

/// A value in KiB from `/proc/<pid>/status`, e.g. `VmHWM:` (peak resident set).
fn proc_status_kib(pid: u32, field: &str) -> Result<u64, Failure> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status").into())
}

/// User plus system CPU time of the process so far (`/proc/<pid>/stat` fields 14 and 15, in
/// clock ticks of 1/100 s, the value Linux exports to user space on every architecture).
fn cpu_time(pid: u32) -> Result<Duration, Failure> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses; the fields after it are plain.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("unreadable /proc/<pid>/stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so utime (14) is index 11 and stime index 12.
    let ticks = |index: usize| -> Result<u64, Failure> {
        Ok(fields
            .get(index)
            .ok_or("short /proc/<pid>/stat")?
            .parse::<u64>()?)
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_millis(total * 10))
}

/// SIGTERM, as the kubelet would, then a kill if it does not exit within the grace period.
async fn stop(controller: &mut tokio::process::Child, pid: u32) -> Result<(), Failure> {
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    if tokio::time::timeout(Duration::from_secs(15), controller.wait())
        .await
        .is_err()
    {
        controller.kill().await?;
    }
    Ok(())
}

/// Each Kustomization's ConfigMap exists: the Ready figures mean the objects were applied.
async fn check_objects(client: &kube::Client, count: usize) -> Result<(), Failure> {
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), TARGET_NAMESPACE);
    let names: HashSet<String> = config_maps
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|object| object.metadata.name)
        .collect();
    let missing = (0..count)
        .map(|index| format!("{}-settings", kustomization_name(index)))
        .filter(|name| !names.contains(name))
        .count();
    if missing > 0 {
        return Err(format!("{missing} of {count} ConfigMaps were never applied").into());
    }
    Ok(())
}
