//! Real Helm v4 against the dev cluster: Helm's Go SDK in process through helm-python-sdk,
//! driven by `hack/helm-dev-cluster.py` one release action at a time, with the cluster checked
//! through kubectl between actions. Skipped (with a note) when `python3` cannot import
//! `helm_python`; CI installs it (`pip install helm-python-sdk==0.2.2`).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{TestCluster, eventually, have_kubectl};
use serde_json::Value;

const NAMESPACE: &str = "shop";
const RELEASE: &str = "demo";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/helm-dev-cluster.py")
}

fn chart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/charts/greeter")
        .display()
        .to_string()
}

/// Whether python3 can load Helm; the tests are skipped (with a note) otherwise.
fn have_helm() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import helm_python"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!(
            "python3 cannot import helm_python (pip install helm-python-sdk==0.2.2); skipping"
        );
    }
    found
}

/// A dev cluster with the release namespace, or None when kubectl or Helm is missing.
fn cluster() -> Option<TestCluster> {
    if !have_kubectl() || !have_helm() {
        return None;
    }
    let cluster = TestCluster::start();
    cluster.ok(&["create", "namespace", NAMESPACE]);
    Some(cluster)
}

/// The script running one Helm action against the cluster.
fn helm_command(cluster: &TestCluster, arguments: &[&str]) -> Command {
    let mut command = Command::new("python3");
    command
        .arg(script())
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(["--namespace", NAMESPACE])
        .args(arguments)
        .env("HOME", &cluster.directory.path)
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The script's JSON answer; exit status 0 is Helm's success, 1 Helm's refusal, anything else a
/// crash of the script.
fn answer(arguments: &[&str], output: &Output) -> (Option<i32>, Value) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or_else(|error| {
        panic!(
            "helm {arguments:?}: no JSON answer ({error}); stdout: {stdout}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), value)
}

/// Runs a Helm action that must succeed and returns its answer.
fn helm(cluster: &TestCluster, arguments: &[&str]) -> Value {
    let output = helm_command(cluster, arguments)
        .output()
        .expect("run python3");
    let (code, value) = answer(arguments, &output);
    assert_eq!(code, Some(0), "helm {arguments:?} failed: {value}");
    assert_eq!(value["ok"], true, "{value}");
    value
}

/// Runs a Helm action that Helm must refuse and returns its answer.
fn helm_refused(cluster: &TestCluster, arguments: &[&str]) -> Value {
    let output = helm_command(cluster, arguments)
        .output()
        .expect("run python3");
    let (code, value) = answer(arguments, &output);
    assert_eq!(code, Some(1), "helm {arguments:?} was not refused: {value}");
    assert_eq!(value["ok"], false, "{value}");
    value
}

/// Waits for a running Helm action to end, within a generous deadline.
fn finish(mut child: Child, arguments: &[&str], timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    while child.try_wait().expect("poll helm").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("helm {arguments:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("helm output");
    let (code, value) = answer(arguments, &output);
    assert_eq!(code, Some(0), "helm {arguments:?} failed: {value}");
    value
}

fn get(cluster: &TestCluster, kind: &str, name: &str) -> Value {
    cluster.json(&["get", kind, name, "-n", NAMESPACE])
}

fn is_absent(cluster: &TestCluster, kind: &str, name: &str) -> bool {
    let stderr = cluster.fails(&["get", kind, name, "-n", NAMESPACE]);
    stderr.contains("NotFound")
}

fn greeting(cluster: &TestCluster) -> Value {
    get(cluster, "configmap", "demo-greeting")["data"]["greeting"].clone()
}

/// The Deployment's Available condition status ("True"/"False"), or "" when it has none yet.
fn available(deployment: &Value) -> String {
    deployment["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|condition| condition["type"] == "Available")
        .and_then(|condition| condition["status"].as_str())
        .unwrap_or("")
        .to_string()
}

/// The env var `name` of the Deployment's container.
fn env_value(deployment: &Value, name: &str) -> Value {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|variable| variable["name"] == name)
        .map(|variable| variable["value"].clone())
        .unwrap_or(Value::Null)
}

/// The release's storage Secrets as kubectl sees them: (version label, status label), in
/// version order.
fn release_secrets(cluster: &TestCluster) -> Vec<(String, String)> {
    let list = cluster.json(&[
        "get",
        "secrets",
        "-n",
        NAMESPACE,
        "-l",
        &format!("owner=helm,name={RELEASE}"),
    ]);
    let mut secrets: Vec<(String, String)> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|secret| {
            assert_eq!(secret["type"], "helm.sh/release.v1", "{secret}");
            let labels = &secret["metadata"]["labels"];
            let label = |key: &str| labels[key].as_str().unwrap_or("").to_string();
            (label("version"), label("status"))
        })
        .collect();
    secrets.sort_by_key(|(version, _)| version.parse::<u64>().unwrap_or(0));
    secrets
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(version, status)| (version.to_string(), status.to_string()))
        .collect()
}

/// The release record Helm stored in revision `revision`'s Secret: the Secret's data is
/// base64 (as for every Secret) of Helm's own base64 of gzipped JSON.
fn stored_release(cluster: &TestCluster, revision: u32) -> Value {
    let secret = get(
        cluster,
        "secret",
        &format!("sh.helm.release.v1.{RELEASE}.v{revision}"),
    );
    let engine = base64::engine::general_purpose::STANDARD;
    let data = secret["data"]["release"].as_str().expect("release data");
    let helm_text = engine.decode(data).expect("Secret data is base64");
    let gzipped = engine.decode(helm_text).expect("Helm's encoding is base64");
    let mut json = String::new();
    flate2::read::GzDecoder::new(gzipped.as_slice())
        .read_to_string(&mut json)
        .expect("gzipped release");
    serde_json::from_str(&json).expect("release JSON")
}

/// (revision, status) of each entry of a list or history answer.
fn revisions(releases: &Value) -> Vec<(u64, String)> {
    releases
        .as_array()
        .into_iter()
        .flatten()
        .map(|release| {
            (
                release["revision"].as_u64().unwrap_or(0),
                release["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn helm_installs_upgrades_lists_rolls_back_and_uninstalls_a_chart() {
    let Some(cluster) = cluster() else { return };
    let chart = chart();

    let installed = helm(
        &cluster,
        &["install", RELEASE, &chart, "--wait", "--timeout", "120"],
    );
    assert_eq!(installed["release"]["revision"], 1, "{installed}");
    assert_eq!(installed["release"]["status"], "deployed", "{installed}");
    assert!(
        installed["helm_version"]
            .as_str()
            .is_some_and(|version| version.starts_with("v4.")),
        "{installed}"
    );
    assert_eq!(greeting(&cluster), "hello");
    let deployment = get(&cluster, "deployment", RELEASE);
    assert_eq!(available(&deployment), "True", "{deployment}");
    assert_eq!(env_value(&deployment, "GREETING_COPY"), "hello");
    let service = get(&cluster, "service", RELEASE);
    assert!(service["spec"]["clusterIP"].is_string(), "{service}");
    // Helm v4 applies server-side: the objects carry its Apply entry.
    let with_managed_fields = cluster.json(&[
        "get",
        "deployment",
        RELEASE,
        "-n",
        NAMESPACE,
        "--show-managed-fields",
    ]);
    let applied = with_managed_fields["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|entry| entry["operation"] == "Apply");
    assert!(applied, "{with_managed_fields}");
    assert_eq!(release_secrets(&cluster), pairs(&[("1", "deployed")]));
    let stored = stored_release(&cluster, 1);
    assert_eq!(stored["name"], RELEASE);
    assert_eq!(stored["namespace"], NAMESPACE);
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["info"]["status"], "deployed");
    assert_eq!(stored["chart"]["metadata"]["name"], "greeter");
    assert_eq!(stored["apply_method"], "ssa");

    let upgraded = helm(
        &cluster,
        &[
            "upgrade",
            RELEASE,
            &chart,
            "--set",
            "greeting=bonjour,replicaCount=2",
            "--wait",
            "--timeout",
            "120",
        ],
    );
    assert_eq!(upgraded["release"]["revision"], 2, "{upgraded}");
    assert_eq!(upgraded["release"]["status"], "deployed", "{upgraded}");
    assert_eq!(greeting(&cluster), "bonjour");
    let deployment = get(&cluster, "deployment", RELEASE);
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(env_value(&deployment, "GREETING_COPY"), "bonjour");
    // The upgrade waited for the second replica.
    assert_eq!(deployment["status"]["availableReplicas"], 2, "{deployment}");
    assert_eq!(
        release_secrets(&cluster),
        pairs(&[("1", "superseded"), ("2", "deployed")])
    );
    assert_eq!(stored_release(&cluster, 2)["config"]["greeting"], "bonjour");

    let listed = helm(&cluster, &["list"]);
    assert_eq!(
        revisions(&listed["releases"]),
        [(2, "deployed".to_string())]
    );
    assert_eq!(listed["releases"][0]["name"], RELEASE);
    assert_eq!(listed["releases"][0]["namespace"], NAMESPACE);
    assert_eq!(listed["releases"][0]["chart_name"], "greeter");
    let history = helm(&cluster, &["history", RELEASE]);
    assert_eq!(
        revisions(&history["history"]),
        [(1, "superseded".to_string()), (2, "deployed".to_string())]
    );

    let rolled_back = helm(
        &cluster,
        &["rollback", RELEASE, "1", "--wait", "--timeout", "120"],
    );
    assert_eq!(rolled_back["release"]["revision"], 3, "{rolled_back}");
    assert_eq!(
        rolled_back["release"]["status"], "deployed",
        "{rolled_back}"
    );
    assert_eq!(greeting(&cluster), "hello");
    let deployment = get(&cluster, "deployment", RELEASE);
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(env_value(&deployment, "GREETING_COPY"), "hello");
    assert_eq!(available(&deployment), "True", "{deployment}");
    assert_eq!(
        release_secrets(&cluster),
        pairs(&[("1", "superseded"), ("2", "superseded"), ("3", "deployed")])
    );
    assert_eq!(
        stored_release(&cluster, 3)["info"]["description"],
        "Rollback to 1"
    );
    let history = helm(&cluster, &["history", RELEASE]);
    assert_eq!(
        revisions(&history["history"]),
        [
            (1, "superseded".to_string()),
            (2, "superseded".to_string()),
            (3, "deployed".to_string())
        ]
    );

    let uninstalled = helm(
        &cluster,
        &["uninstall", RELEASE, "--wait", "--timeout", "120"],
    );
    assert_eq!(
        uninstalled["release"]["status"], "uninstalled",
        "{uninstalled}"
    );
    assert!(is_absent(&cluster, "deployment", RELEASE));
    assert!(is_absent(&cluster, "service", RELEASE));
    assert!(is_absent(&cluster, "configmap", "demo-greeting"));
    assert_eq!(release_secrets(&cluster), pairs(&[]));
    let listed = helm(&cluster, &["list"]);
    assert_eq!(listed["releases"], serde_json::json!([]), "{listed}");
}

#[test]
fn an_install_with_wait_returns_only_once_the_deployment_is_available() {
    let Some(cluster) = cluster() else { return };
    let chart = chart();
    // The simulator holds the Deployment unavailable until the annotation goes.
    let arguments = [
        "install",
        RELEASE,
        &chart,
        "--set",
        "neverReady=true",
        "--wait",
        "--timeout",
        "300",
    ];
    let child = helm_command(&cluster, &arguments)
        .spawn()
        .expect("spawn python3");
    let mut child = Guard(Some(child));

    eventually(
        "the Deployment to be created and reported unavailable",
        Duration::from_secs(120),
        || {
            let output =
                cluster.kubectl(&["get", "deployment", RELEASE, "-n", NAMESPACE, "-o", "json"]);
            output.status.success()
                && serde_json::from_slice::<Value>(&output.stdout)
                    .is_ok_and(|deployment| available(&deployment) == "False")
        },
    );
    // Helm stores the release before it creates the objects and marks it deployed only after
    // the wait, so while the Deployment is unavailable the release must still be pending.
    assert_eq!(
        release_secrets(&cluster),
        pairs(&[("1", "pending-install")])
    );
    assert!(
        child.get_mut().try_wait().expect("poll helm").is_none(),
        "Helm returned while the Deployment was unavailable"
    );

    cluster.ok(&[
        "annotate",
        "deployment",
        RELEASE,
        "-n",
        NAMESPACE,
        &format!("{}-", eddy_devcluster::NEVER_READY_ANNOTATION),
    ]);
    let installed = finish(child.take(), &arguments, Duration::from_secs(120));
    assert_eq!(installed["release"]["status"], "deployed", "{installed}");
    assert_eq!(available(&get(&cluster, "deployment", RELEASE)), "True");
    assert_eq!(release_secrets(&cluster), pairs(&[("1", "deployed")]));
}

#[test]
fn an_install_whose_deployment_never_becomes_available_fails_at_its_timeout() {
    let Some(cluster) = cluster() else { return };
    let refused = helm_refused(
        &cluster,
        &[
            "install",
            RELEASE,
            &chart(),
            "--set",
            "neverReady=true",
            "--wait",
            "--timeout",
            "2",
        ],
    );
    let message = refused["message"].as_str().unwrap_or("");
    assert!(
        message.contains(&format!("Deployment/{NAMESPACE}/{RELEASE} not ready")),
        "{refused}"
    );
    assert_eq!(release_secrets(&cluster), pairs(&[("1", "failed")]));
    let history = helm(&cluster, &["history", RELEASE]);
    assert_eq!(revisions(&history["history"]), [(1, "failed".to_string())]);
    assert_eq!(available(&get(&cluster, "deployment", RELEASE)), "False");
}

/// Kills a Helm child that a failing assertion leaves running.
struct Guard(Option<Child>);

impl Guard {
    fn get_mut(&mut self) -> &mut Child {
        self.0.as_mut().expect("child still guarded")
    }

    fn take(&mut self) -> Child {
        self.0.take().expect("child still guarded")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
