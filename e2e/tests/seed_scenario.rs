//! The seed scenario end to end, driving only real binaries: `eddy dev up` starts the dev
//! cluster, the demo Git server and every controller and creates the FluxConfig
//! `cluster-config`; commits pushed to the demo repository then reach the cluster, a broken
//! commit leaves the configuration Non-Compliant with the last good state live, its revert
//! restores compliance, a second `eddy dev up` reuses the state, and deleting the FluxConfig
//! removes what it generated and prunes its workloads.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is how these tests report failure"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use eddy_api::clusterconfig::v1alpha1::{ComplianceState, FluxConfig};
use eddy_e2e::binary;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::DeleteParams;
use serde_json::Value;

const NAMESPACE: &str = "cluster-config";

/// Stops what `eddy dev up` started, however the test ends.
struct DevEnvironment {
    data_dir: PathBuf,
}

impl Drop for DevEnvironment {
    fn drop(&mut self) {
        let _ = eddy(&["dev", "down", "--data-dir", self.data_dir.to_str().unwrap()]);
    }
}

fn eddy(args: &[&str]) -> Output {
    Command::new(binary("eddy"))
        .args(args)
        .output()
        .expect("eddy runs")
}

fn eddy_ok(args: &[&str]) -> String {
    let output = eddy(args);
    assert!(
        output.status.success(),
        "eddy {} failed:\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn git(dir: &Path, args: &[&str]) {
    eddy_e2e::fixtures::git_in(dir, args);
}

fn set_replicas(work: &Path, from: u32, to: u32) {
    let path = work.join("apps/deployment.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text.replace(&format!("replicas: {from}"), &format!("replicas: {to}"));
    assert_ne!(
        text, changed,
        "replicas: {from} not found in the demo deployment"
    );
    std::fs::write(&path, changed).unwrap();
    git(
        work,
        &[
            "commit",
            "--quiet",
            "-am",
            &format!("Scale podinfo to {to}"),
        ],
    );
    git(work, &["push", "--quiet", "origin", "main"]);
}

async fn client(kubeconfig: &Path) -> kube::Client {
    let config = eddy_runtime::client::load_config(kubeconfig.to_str().unwrap())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

async fn replicas(deployments: &Api<Deployment>) -> Option<i32> {
    deployments
        .get_opt("podinfo")
        .await
        .unwrap()
        .and_then(|deployment| deployment.spec)
        .and_then(|spec| spec.replicas)
}

/// Polls until `done` holds, failing with `what` after `within`.
async fn eventually(what: &str, within: Duration, mut done: impl AsyncFnMut() -> bool) {
    eddy_testkit::eventually(what, within, async || done().await.then_some(())).await;
}

async fn compliance(configs: &Api<FluxConfig>) -> Option<ComplianceState> {
    let config = configs.get("cluster-config").await.unwrap();
    let status = config.status?;
    (status.observed_generation == config.metadata.generation)
        .then_some(status.compliance_state)
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_scenario_runs_end_to_end_from_eddy_dev_up() {
    eddy_runtime::process::install_crypto_provider();
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("dev");
    let data = data_dir.to_str().unwrap().to_string();
    let environment = DevEnvironment {
        data_dir: data_dir.clone(),
    };

    // From scratch to Compliant.
    let next_steps = eddy_ok(&["dev", "up", "--data-dir", &data, "--timeout", "4m"]);
    assert!(
        next_steps.contains("kubectl get deploy -n dev"),
        "{next_steps}"
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(data_dir.join("dev.json")).unwrap()).unwrap();
    let kubeconfig = PathBuf::from(state["kubeconfig"].as_str().unwrap());
    let git_url = state["gitUrl"].as_str().unwrap().to_string();
    let client = client(&kubeconfig).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "dev");
    let configs: Api<FluxConfig> = Api::namespaced(client.clone(), NAMESPACE);
    for namespace in ["dev", "dev-space"] {
        assert!(
            namespaces.get_opt(namespace).await.unwrap().is_some(),
            "{namespace}"
        );
    }
    assert_eq!(replicas(&deployments).await, Some(1));
    let kustomizations = kube_get(&kubeconfig, &["kustomizations", "-n", NAMESPACE]);
    for name in ["cluster-config-infra", "cluster-config-apps"] {
        assert!(kustomizations.contains(name), "{kustomizations}");
    }

    // A second `eddy dev up` finds everything running.
    let again = eddy(&["dev", "up", "--data-dir", &data]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));

    // A pushed commit is live within 15 s: the source interval is 10 s and the Kustomization
    // reacts to the new artifact, not to its own (60 s) interval.
    let work = scratch.path().join("work");
    git(scratch.path(), &["clone", "--quiet", &git_url, "work"]);
    set_replicas(&work, 1, 3);
    eventually(
        "replicas 3 after a push",
        Duration::from_secs(15),
        async || replicas(&deployments).await == Some(3),
    )
    .await;

    // Within 3 s when asked to reconcile the source at once.
    set_replicas(&work, 3, 2);
    eddy_ok(&[
        "reconcile",
        "source",
        "git",
        "cluster-config",
        "-n",
        NAMESPACE,
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    eventually(
        "replicas 2 after eddy reconcile source git",
        Duration::from_secs(3),
        async || replicas(&deployments).await == Some(2),
    )
    .await;

    // A broken commit (an invalid object beside a replicas change) applies nothing of its
    // stage: Non-Compliant with the error in statuses, replicas still 2.
    std::fs::write(
        work.join("apps/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n  labels:\n    tier: \"not a valid label value!\"\n",
    )
    .unwrap();
    let kustomization = work.join("apps/kustomization.yaml");
    let text = std::fs::read_to_string(&kustomization).unwrap();
    std::fs::write(&kustomization, format!("{text}  - broken.yaml\n")).unwrap();
    git(&work, &["add", "--all"]);
    set_replicas(&work, 2, 4);
    eventually(
        "Non-Compliant naming the broken object",
        Duration::from_secs(60),
        async || {
            compliance(&configs).await == Some(ComplianceState::NonCompliant)
                && apps_failure(&configs)
                    .await
                    .is_some_and(|message| message.contains("broken"))
        },
    )
    .await;
    assert_eq!(
        replicas(&deployments).await,
        Some(2),
        "the previous state stays live"
    );

    // Its revert restores compliance.
    git(&work, &["revert", "--no-edit", "HEAD"]);
    git(&work, &["push", "--quiet", "origin", "main"]);
    eventually(
        "Compliant after the revert",
        Duration::from_secs(60),
        async || compliance(&configs).await == Some(ComplianceState::Compliant),
    )
    .await;
    assert_eq!(replicas(&deployments).await, Some(2));

    // Down and up again: the same state, served again.
    eddy_ok(&["dev", "down", "--data-dir", &data]);
    eddy_ok(&["dev", "up", "--data-dir", &data, "--timeout", "2m"]);
    let client = self::client(&kubeconfig).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "dev");
    let configs: Api<FluxConfig> = Api::namespaced(client.clone(), NAMESPACE);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert_eq!(replicas(&deployments).await, Some(2));

    // Deleting the FluxConfig removes the source and Kustomizations and prunes the workloads.
    configs
        .delete("cluster-config", &DeleteParams::default())
        .await
        .unwrap();
    eddy_testkit::eventually_explained(
        "the FluxConfig cleaned up",
        Duration::from_secs(90),
        async || {
            (configs.get_opt("cluster-config").await.unwrap().is_none()
                && deployments.get_opt("podinfo").await.unwrap().is_none()
                && namespaces.get_opt("dev-space").await.unwrap().is_none())
            .then_some(())
        },
        || state_of(&kubeconfig, &data_dir),
    )
    .await;
    let left = kube_get(
        &kubeconfig,
        &["gitrepositories,kustomizations", "-n", NAMESPACE],
    );
    assert!(!left.contains("cluster-config"), "{left}");
    drop(environment);
}

/// The Ready message of the apps Kustomization in the FluxConfig's statuses, when that entry is
/// Non-Compliant.
async fn apps_failure(configs: &Api<FluxConfig>) -> Option<String> {
    let status = configs.get("cluster-config").await.unwrap().status?;
    let apps = status
        .statuses?
        .into_iter()
        .find(|object| object.name.as_deref() == Some("cluster-config-apps"))?;
    (apps.compliance_state == Some(ComplianceState::NonCompliant)).then(|| {
        apps.status_conditions
            .into_iter()
            .flatten()
            .filter_map(|condition| condition.message)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// `kubectl get` through the dev cluster's kubeconfig, as a user would look.
/// What is left and what the controllers said last, for a failure message.
fn state_of(kubeconfig: &Path, data_dir: &Path) -> String {
    let objects = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "get",
            "fluxconfigs,gitrepositories,kustomizations,deployments,namespaces",
            "-A",
            "-o",
            "wide",
        ])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    let mut state = format!("objects:\n{objects}");
    for log in ["kustomize-controller", "flux-config-agent", "apiserver"] {
        let text = std::fs::read_to_string(data_dir.join("logs").join(format!("{log}.log")))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(25)..].join("\n");
        state.push_str(&format!("\nlast lines of {log}.log:\n{tail}\n"));
    }
    state
}

fn kube_get(kubeconfig: &Path, args: &[&str]) -> String {
    let output = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("get")
        .args(args)
        .arg("-o")
        .arg("name")
        .output()
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl get {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
