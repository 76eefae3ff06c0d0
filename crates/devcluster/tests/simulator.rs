//! The workload simulator seen from outside: `kubectl rollout status`, `kubectl wait` and
//! kstatus treat simulated workloads as ready, and the never-ready annotation keeps one from
//! ever getting there.

mod common;

use std::time::Duration;

use common::{TestCluster, eventually, have_kubectl};
use eddy_apply::kstatus::{self, Status};
use serde_json::Value;

const NAMESPACE: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: sim
"#;

fn deployment(name: &str, replicas: u32, never_ready: bool) -> String {
    let annotation = if never_ready {
        format!(
            "\n  annotations:\n    {}: \"true\"",
            eddy_devcluster::NEVER_READY_ANNOTATION
        )
    } else {
        String::new()
    };
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: sim{annotation}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"#
    )
}

const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: sim
spec:
  replicas: 3
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: postgres:17
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: sim
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: busybox:1.37
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: cache
  namespace: sim
spec:
  replicas: 2
  selector:
    matchLabels: {app: cache}
  template:
    metadata:
      labels: {app: cache}
    spec:
      containers:
      - name: cache
        image: redis:7
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: sim
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
"#;

const JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: sim
spec:
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: busybox:1.37
"#;

const SERVICES: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: sim
spec:
  selector: {app: web}
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: sim
spec:
  selector: {app: api}
  ports:
  - port: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: headless
  namespace: sim
spec:
  clusterIP: None
  selector: {app: db}
  ports:
  - port: 5432
"#;

fn kstatus_of(cluster: &TestCluster, arguments: &[&str]) -> Status {
    kstatus::compute(&cluster.json(arguments)).status
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[test]
fn kubectl_rollout_status_and_wait_for_available_succeed_for_a_deployment() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(NAMESPACE, &[]);
    cluster.apply(&deployment("web", 3, false), &[]);
    let rollout = cluster.ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        "sim",
        "--timeout=60s",
    ]);
    assert!(rollout.contains("successfully rolled out"), "{rollout}");
    cluster.ok(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "-n",
        "sim",
        "--timeout=60s",
    ]);
    let web = cluster.json(&["get", "deployment/web", "-n", "sim"]);
    assert_eq!(web.pointer("/status/availableReplicas"), Some(&3.into()));
    let progressing = web
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition["type"] == "Progressing")
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
    assert_eq!(
        kstatus_of(&cluster, &["get", "deployment/web", "-n", "sim"]),
        Status::Current
    );

    // A spec change is observed again: new generation, same readiness.
    cluster.ok(&["scale", "deployment/web", "-n", "sim", "--replicas=5"]);
    cluster.ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        "sim",
        "--timeout=60s",
    ]);
    let scaled = cluster.json(&["get", "deployment/web", "-n", "sim"]);
    assert_eq!(
        scaled.pointer("/status/observedGeneration"),
        scaled.pointer("/metadata/generation")
    );
    assert_eq!(scaled.pointer("/status/readyReplicas"), Some(&5.into()));
}

#[test]
fn stateful_sets_daemon_sets_replica_sets_and_claims_become_ready() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(NAMESPACE, &[]);
    cluster.apply(WORKLOADS, &[]);
    for workload in ["statefulset/db", "daemonset/agent"] {
        let rollout = cluster.ok(&["rollout", "status", workload, "-n", "sim", "--timeout=60s"]);
        assert!(!rollout.is_empty());
    }
    cluster.ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Bound",
        "pvc/data",
        "-n",
        "sim",
        "--timeout=60s",
    ]);
    for object in [
        "statefulset/db",
        "daemonset/agent",
        "replicaset/cache",
        "pvc/data",
    ] {
        let arguments = ["get", object, "-n", "sim"];
        eventually(
            &format!("{object} to be Current"),
            Duration::from_secs(30),
            || kstatus_of(&cluster, &arguments) == Status::Current,
        );
    }
    let db = cluster.json(&["get", "statefulset/db", "-n", "sim"]);
    assert_eq!(db.pointer("/status/currentReplicas"), Some(&3.into()));
    assert_eq!(
        text(&db, "/status/currentRevision"),
        text(&db, "/status/updateRevision")
    );
    let agent = cluster.json(&["get", "daemonset/agent", "-n", "sim"]);
    assert_eq!(
        agent.pointer("/status/desiredNumberScheduled"),
        Some(&1.into())
    );
    assert_eq!(agent.pointer("/status/numberReady"), Some(&1.into()));
    let namespace = cluster.json(&["get", "namespace/sim"]);
    assert_eq!(text(&namespace, "/status/phase"), "Active");
}

#[test]
fn a_job_completes() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(NAMESPACE, &[]);
    cluster.apply(JOB, &[]);
    cluster.ok(&[
        "wait",
        "--for=condition=Complete",
        "job/migrate",
        "-n",
        "sim",
        "--timeout=60s",
    ]);
    let job = cluster.json(&["get", "job/migrate", "-n", "sim"]);
    assert_eq!(job.pointer("/status/succeeded"), Some(&2.into()));
    assert!(!text(&job, "/status/completionTime").is_empty());
    assert_eq!(
        kstatus_of(&cluster, &["get", "job/migrate", "-n", "sim"]),
        Status::Current
    );
}

#[test]
fn services_get_distinct_cluster_ips_that_survive_updates() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(NAMESPACE, &[]);
    cluster.apply(SERVICES, &[]);
    let ip = |name: &str| {
        let service = cluster.json(&["get", &format!("service/{name}"), "-n", "sim"]);
        text(&service, "/spec/clusterIP").to_string()
    };
    let (web, api) = (ip("web"), ip("api"));
    for address in [&web, &api] {
        let parsed: std::net::Ipv4Addr = address.parse().expect("an IPv4 cluster IP");
        let [first, second, ..] = parsed.octets();
        assert!(first == 10 && (96..112).contains(&second), "{address}");
    }
    assert_ne!(web, api);
    assert_eq!(ip("headless"), "None");
    cluster.ok(&["label", "service/web", "-n", "sim", "tier=frontend"]);
    // A full replacement that leaves clusterIP out keeps it too.
    let mut replacement = cluster.json(&["get", "service/web", "-n", "sim"]);
    if let Some(spec) = replacement.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    let output = cluster.kubectl_with_input(&["replace", "-f", "-"], &replacement.to_string());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(ip("web"), web);
}

#[test]
fn a_never_ready_deployment_stays_unavailable() {
    if !have_kubectl() {
        return;
    }
    let cluster = TestCluster::start();
    cluster.apply(NAMESPACE, &[]);
    cluster.apply(&deployment("stuck", 2, true), &[]);
    let arguments = ["get", "deployment/stuck", "-n", "sim"];
    eventually(
        "the never-ready deployment to be observed",
        Duration::from_secs(30),
        || {
            let stuck = cluster.json(&arguments);
            stuck.pointer("/status/observedGeneration") == stuck.pointer("/metadata/generation")
        },
    );
    let stuck = cluster.json(&arguments);
    assert_eq!(stuck.pointer("/status/availableReplicas"), None);
    assert_eq!(
        stuck.pointer("/status/unavailableReplicas"),
        Some(&2.into())
    );
    assert_eq!(kstatus_of(&cluster, &arguments), Status::InProgress);
    let waited = cluster.fails(&[
        "wait",
        "--for=condition=Available",
        "deployment/stuck",
        "-n",
        "sim",
        "--timeout=2s",
    ]);
    assert!(waited.contains("timed out"), "{waited}");
    let rollout = cluster.kubectl(&[
        "rollout",
        "status",
        "deployment/stuck",
        "-n",
        "sim",
        "--timeout=2s",
    ]);
    assert!(!rollout.status.success());
}

#[test]
fn without_the_simulator_deployments_get_no_status() {
    if !have_kubectl() {
        return;
    }
    let cluster =
        TestCluster::start_with(eddy_devcluster::DevCluster::builder().simulate_workloads(false));
    cluster.apply(NAMESPACE, &[]);
    cluster.apply(&deployment("web", 1, false), &[]);
    // Other writes after the deployment have had every chance to be followed by a status.
    cluster.apply(JOB, &[]);
    let web = cluster.json(&["get", "deployment/web", "-n", "sim"]);
    assert_eq!(web.pointer("/status/observedGeneration"), None);
}
