//! The workload simulator: what kube-controller-manager, the scheduler and the kubelets of a
//! healthy one-node cluster would write into workload status, without running anything (the
//! idea of kwok). A background task follows the store's change stream and, shortly after
//! every change to a Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, Namespace or
//! PersistentVolumeClaim, writes the status those controllers would converge to. Status
//! writes go through the store like any write, so they bump the resourceVersion and reach
//! watchers; a write that would change nothing is skipped, which is what ends the loop of
//! reacting to its own writes.
//!
//! An object annotated [`NEVER_READY_ANNOTATION`]`: "true"` is observed but never becomes
//! ready (its pods never pass readiness, its Job never finishes, its claim never binds), for
//! tests of health checks that must fail.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::kinds::ResourceType;
use crate::object::{is_deleting, meta_str, timestamp};
use crate::server::App;
use crate::store::{Change, EventType, Inner, ObjectKey};

/// Annotation that keeps a workload from ever becoming ready: `eddy.dev/never-ready: "true"`.
pub const NEVER_READY_ANNOTATION: &str = "eddy.dev/never-ready";

/// The resources the simulator writes status for, as (group, plural).
const SIMULATED: [(&str, &str); 8] = [
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("", "namespaces"),
    ("", "persistentvolumeclaims"),
    ("", "pods"),
];

fn simulated(key: &ObjectKey) -> bool {
    SIMULATED
        .iter()
        .any(|(group, plural)| key.group == *group && key.resource == *plural)
}

/// Follows the change stream until the server stops.
pub(crate) async fn run(app: Arc<App>) {
    let mut receiver = {
        let mut inner = app.store.lock();
        let receiver = inner.subscribe();
        resync(&mut inner);
        receiver
    };
    loop {
        tokio::select! {
            () = app.stopping.cancelled() => return,
            received = receiver.recv() => match received {
                Ok(change) => react(&app, &change),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Changes were missed: look at everything again.
                    resync(&mut app.store.lock());
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

fn react(app: &App, change: &Change) {
    if change.event_type == EventType::Deleted || !simulated(&change.key) {
        return;
    }
    let mut inner = app.store.lock();
    settle(&mut inner, &change.key, jiff::Timestamp::now());
}

/// Brings every simulated object up to date (at start-up, and after missing changes).
pub(crate) fn resync(inner: &mut Inner) {
    let now = jiff::Timestamp::now();
    let mut keys = Vec::new();
    for (group, plural) in SIMULATED {
        keys.extend(inner.list(group, plural, None).map(|(key, _)| key.clone()));
    }
    for key in keys {
        settle(inner, &key, now);
    }
}

/// Writes the simulated status of one object if it differs from the stored one.
pub(crate) fn settle(inner: &mut Inner, key: &ObjectKey, now: jiff::Timestamp) {
    let Some(existing) = inner.get(key) else {
        return;
    };
    let Some(updated) = simulate(key, existing, now) else {
        return;
    };
    if &updated != existing {
        inner.write(key.clone(), updated, EventType::Modified);
    }
}

/// The object with the status its controllers would write, or `None` to leave it alone.
pub(crate) fn simulate(key: &ObjectKey, object: &Value, now: jiff::Timestamp) -> Option<Value> {
    if is_deleting(object) {
        return None;
    }
    let ready = !never_ready(object);
    let now = timestamp(now);
    let status = match (key.group.as_str(), key.resource.as_str()) {
        ("apps", "deployments") => deployment_status(object, ready, &now),
        ("apps", "replicasets") => replica_set_status(object, ready),
        ("apps", "statefulsets") => stateful_set_status(object, ready),
        ("apps", "daemonsets") => daemon_set_status(object, ready),
        ("batch", "jobs") => job_status(object, ready, &now)?,
        ("", "namespaces") => namespace_status(object)?,
        ("", "persistentvolumeclaims") => claim_status(object, ready)?,
        ("", "pods") => pod_status(object, ready, &now),
        _ => return None,
    };
    let mut updated = object.clone();
    updated["status"] = status;
    Some(updated)
}

/// Whether the object carries the never-ready annotation.
fn never_ready(object: &Value) -> bool {
    object
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(NEVER_READY_ANNOTATION))
        .and_then(Value::as_str)
        == Some("true")
}

fn int(object: &Value, pointer: &str, default: i64) -> i64 {
    object
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(default)
}

fn generation(object: &Value) -> i64 {
    int(object, "/metadata/generation", 1)
}

/// The existing status as a map, so fields the simulator does not own survive.
fn status_of(object: &Value) -> Map<String, Value> {
    object
        .get("status")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Sets a count, leaving it out when zero as the Go structs' `omitempty` does.
fn set_count(status: &mut Map<String, Value>, field: &str, count: i64) {
    if count == 0 {
        status.remove(field);
    } else {
        status.insert(field.into(), json!(count));
    }
}

/// A short stable hash of the pod template, in the alphabet of `pod-template-hash`.
fn template_hash(object: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let template = object
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    let digest = Sha256::digest(template.to_string().as_bytes());
    digest
        .iter()
        .take(10)
        .map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char)
        .collect()
}

/// A condition, keeping its previous transition time when its status did not change.
fn condition(
    previous: &Map<String, Value>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
    with_update_time: bool,
) -> Value {
    let old = previous
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition.get("type").and_then(Value::as_str) == Some(type_))
        });
    let unchanged = |field: &str, value: &str| {
        old.and_then(|old| old.get(field)).and_then(Value::as_str) == Some(value)
    };
    let same_status = unchanged("status", status);
    let same = same_status && unchanged("reason", reason) && unchanged("message", message);
    let kept = |field: &str, keep: bool| {
        old.filter(|_| keep)
            .and_then(|old| old.get(field))
            .cloned()
            .unwrap_or_else(|| json!(now))
    };
    let mut condition = json!({
        "type": type_,
        "status": status,
        "lastTransitionTime": kept("lastTransitionTime", same_status),
        "reason": reason,
        "message": message,
    });
    if with_update_time {
        condition["lastUpdateTime"] = kept("lastUpdateTime", same);
    }
    condition
}

fn deployment_status(object: &Value, ready: bool, now: &str) -> Value {
    let previous = status_of(object);
    let replicas = int(object, "/spec/replicas", 1);
    let available = if ready { replicas } else { 0 };
    let replica_set = format!(
        "{}-{}",
        meta_str(object, "name"),
        template_hash(object).get(..10).unwrap_or_default()
    );
    let mut status = previous.clone();
    status.insert("observedGeneration".into(), json!(generation(object)));
    set_count(&mut status, "replicas", replicas);
    set_count(&mut status, "updatedReplicas", replicas);
    set_count(&mut status, "readyReplicas", available);
    set_count(&mut status, "availableReplicas", available);
    set_count(&mut status, "unavailableReplicas", replicas - available);
    let available_condition = if ready {
        condition(
            &previous,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
            true,
        )
    } else {
        condition(
            &previous,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
            true,
        )
    };
    let progressing_condition = if ready {
        condition(
            &previous,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{replica_set}\" has successfully progressed."),
            now,
            true,
        )
    } else {
        condition(
            &previous,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{replica_set}\" is progressing."),
            now,
            true,
        )
    };
    status.insert(
        "conditions".into(),
        json!([available_condition, progressing_condition]),
    );
    Value::Object(status)
}

fn replica_set_status(object: &Value, ready: bool) -> Value {
    let mut status = status_of(object);
    let replicas = int(object, "/spec/replicas", 1);
    let available = if ready { replicas } else { 0 };
    status.insert("observedGeneration".into(), json!(generation(object)));
    // `replicas` is not omitempty on ReplicaSetStatus.
    status.insert("replicas".into(), json!(replicas));
    set_count(&mut status, "fullyLabeledReplicas", replicas);
    set_count(&mut status, "readyReplicas", available);
    set_count(&mut status, "availableReplicas", available);
    Value::Object(status)
}

fn stateful_set_status(object: &Value, ready: bool) -> Value {
    let mut status = status_of(object);
    let replicas = int(object, "/spec/replicas", 1);
    let available = if ready { replicas } else { 0 };
    let revision = format!("{}-{}", meta_str(object, "name"), template_hash(object));
    status.insert("observedGeneration".into(), json!(generation(object)));
    status.insert("replicas".into(), json!(replicas));
    set_count(&mut status, "readyReplicas", available);
    set_count(&mut status, "currentReplicas", replicas);
    set_count(&mut status, "updatedReplicas", replicas);
    set_count(&mut status, "availableReplicas", available);
    status.insert("currentRevision".into(), json!(revision));
    status.insert("updateRevision".into(), json!(revision));
    status.insert("collisionCount".into(), json!(0));
    Value::Object(status)
}

fn daemon_set_status(object: &Value, ready: bool) -> Value {
    // One pretend node, so one pod.
    let mut status = status_of(object);
    let ready_count = i64::from(ready);
    status.insert("observedGeneration".into(), json!(generation(object)));
    status.insert("desiredNumberScheduled".into(), json!(1));
    status.insert("currentNumberScheduled".into(), json!(1));
    status.insert("numberMisscheduled".into(), json!(0));
    status.insert("numberReady".into(), json!(ready_count));
    set_count(&mut status, "updatedNumberScheduled", 1);
    set_count(&mut status, "numberAvailable", ready_count);
    set_count(&mut status, "numberUnavailable", 1 - ready_count);
    Value::Object(status)
}

fn has_true_condition(status: &Map<String, Value>, type_: &str) -> bool {
    status
        .get("conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|condition| {
                condition.get("type").and_then(Value::as_str) == Some(type_)
                    && condition.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

fn job_status(object: &Value, ready: bool, now: &str) -> Option<Value> {
    let mut status = status_of(object);
    if has_true_condition(&status, "Complete") || has_true_condition(&status, "Failed") {
        // A finished Job stays finished.
        return None;
    }
    if object.pointer("/spec/suspend") == Some(&Value::Bool(true)) {
        return None;
    }
    let parallelism = int(object, "/spec/parallelism", 1);
    let completions = int(object, "/spec/completions", 1);
    status
        .entry("startTime")
        .or_insert_with(|| json!(now.to_string()));
    if !ready {
        set_count(&mut status, "active", parallelism.min(completions).max(1));
        status.insert("ready".into(), json!(0));
        status.insert("terminating".into(), json!(0));
        status.insert("uncountedTerminatedPods".into(), json!({}));
        return Some(Value::Object(status));
    }
    status.remove("active");
    status.insert("succeeded".into(), json!(completions));
    status.insert("ready".into(), json!(0));
    status.insert("terminating".into(), json!(0));
    status.insert("uncountedTerminatedPods".into(), json!({}));
    status.insert("completionTime".into(), json!(now.to_string()));
    let finished = |type_: &str| {
        json!({
            "type": type_,
            "status": "True",
            "lastProbeTime": now,
            "lastTransitionTime": now,
            "reason": "CompletionsReached",
            "message": "Reached expected number of succeeded pods",
        })
    };
    status.insert(
        "conditions".into(),
        json!([finished("SuccessCriteriaMet"), finished("Complete")]),
    );
    Some(Value::Object(status))
}

fn namespace_status(object: &Value) -> Option<Value> {
    if object.pointer("/status/phase").and_then(Value::as_str) == Some("Active") {
        return None;
    }
    let mut status = status_of(object);
    status.insert("phase".into(), json!("Active"));
    Some(Value::Object(status))
}

fn claim_status(object: &Value, ready: bool) -> Option<Value> {
    if !ready {
        return None;
    }
    let mut status = status_of(object);
    status.insert("phase".into(), json!("Bound"));
    if let Some(modes) = object.pointer("/spec/accessModes") {
        status.insert("accessModes".into(), modes.clone());
    }
    if let Some(storage) = object.pointer("/spec/resources/requests/storage") {
        status.insert("capacity".into(), json!({"storage": storage}));
    }
    Some(Value::Object(status))
}

/// A pod that was scheduled on the pretend node and started; ready unless told otherwise.
fn pod_status(object: &Value, ready: bool, now: &str) -> Value {
    let previous = status_of(object);
    let mut status = previous.clone();
    let readiness = if ready { "True" } else { "False" };
    let conditions: Vec<Value> = [
        ("PodReadyToStartContainers", "True"),
        ("Initialized", "True"),
        ("Ready", readiness),
        ("ContainersReady", readiness),
        ("PodScheduled", "True"),
    ]
    .into_iter()
    .map(|(type_, value)| {
        let mut condition = condition(&previous, type_, value, "", "", now, false);
        if let Some(map) = condition.as_object_mut() {
            // Pod conditions carry no reason or message when all is well.
            map.remove("reason");
            map.remove("message");
        }
        condition
    })
    .collect();
    status.insert("phase".into(), json!("Running"));
    status.insert("conditions".into(), json!(conditions));
    status.insert("hostIP".into(), json!("10.0.0.1"));
    status
        .entry("startTime")
        .or_insert_with(|| json!(now.to_string()));
    let containers: Vec<Value> = object
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|container| {
            json!({
                "name": container.get("name").cloned().unwrap_or(Value::Null),
                "image": container.get("image").cloned().unwrap_or(Value::Null),
                "ready": ready,
                "started": true,
                "restartCount": 0,
                "state": {"running": {}},
            })
        })
        .collect();
    status.insert("containerStatuses".into(), json!(containers));
    Value::Object(status)
}

/// The spec defaults kube-apiserver gives workloads that `kubectl rollout status` and kstatus
/// read (update strategies, progress deadline), applied at create. Only fields an update may
/// change are defaulted, so replacing the object with its original manifest stays valid.
pub(crate) fn workload_defaults(resource: &ResourceType, object: &mut Value) {
    if resource.custom || resource.group != "apps" {
        return;
    }
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    match resource.kind.as_str() {
        "Deployment" => {
            spec.entry("strategy").or_insert_with(|| {
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
            });
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("progressDeadlineSeconds").or_insert(json!(600));
        }
        "StatefulSet" => {
            spec.entry("updateStrategy").or_insert_with(
                || json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            spec.entry("persistentVolumeClaimRetentionPolicy")
                .or_insert_with(|| json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
        }
        "DaemonSet" => {
            spec.entry("updateStrategy").or_insert_with(|| {
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
            });
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
        }
        _ => {}
    }
}

/// The first address of the service range, which kube-apiserver gives the `kubernetes` Service.
const SERVICE_RANGE_START: u32 = u32::from_be_bytes([10, 96, 0, 0]);
/// The size of the service range 10.96.0.0/12.
const SERVICE_RANGE_SIZE: u32 = 1 << 20;

/// Picks a cluster IP from 10.96.0.0/12 that no Service holds yet (kube-apiserver's default
/// service range; the network and first addresses are skipped as it does).
pub(crate) fn allocate_cluster_ip(inner: &Inner) -> String {
    use rand::Rng;
    let used: HashSet<&str> = inner
        .list("", "services", None)
        .filter_map(|(_, service)| service.pointer("/spec/clusterIP").and_then(Value::as_str))
        .collect();
    let mut random = rand::rng();
    let render = |offset: u32| std::net::Ipv4Addr::from(SERVICE_RANGE_START + offset).to_string();
    for _ in 0..64 {
        let candidate = render(random.random_range(2..SERVICE_RANGE_SIZE - 1));
        if !used.contains(candidate.as_str()) {
            return candidate;
        }
    }
    // A nearly full range: walk it.
    (2..SERVICE_RANGE_SIZE - 1)
        .map(render)
        .find(|candidate| !used.contains(candidate.as_str()))
        .unwrap_or_else(|| render(SERVICE_RANGE_SIZE - 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn key(group: &str, resource: &str) -> ObjectKey {
        ObjectKey::new(group, resource, "default", "web")
    }

    fn at(value: &Value, pointer: &str) -> Value {
        value.pointer(pointer).cloned().unwrap_or(Value::Null)
    }

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::UNIX_EPOCH
    }

    #[test]
    fn a_deployment_becomes_available_with_every_replica_updated() {
        let deployment = json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 2, "template": {}}});
        let updated = simulate(&key("apps", "deployments"), &deployment, now());
        let status = updated.map(|object| object["status"].clone());
        let status = status.unwrap_or_default();
        assert_eq!(status["observedGeneration"], 3);
        for field in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
        ] {
            assert_eq!(status[field], 2, "{field}");
        }
        assert_eq!(at(&status, "/conditions/0/type"), "Available");
        assert_eq!(
            at(&status, "/conditions/0/reason"),
            "MinimumReplicasAvailable"
        );
        assert_eq!(
            at(&status, "/conditions/1/reason"),
            "NewReplicaSetAvailable"
        );
    }

    #[test]
    fn a_never_ready_deployment_has_no_available_replicas() {
        let deployment = json!({"metadata": {"name": "web", "generation": 1, "annotations": {NEVER_READY_ANNOTATION: "true"}}, "spec": {"replicas": 1}});
        let status = simulate(&key("apps", "deployments"), &deployment, now())
            .map(|object| object["status"].clone())
            .unwrap_or_default();
        assert!(status.get("availableReplicas").is_none());
        assert_eq!(status["unavailableReplicas"], 1);
        assert_eq!(at(&status, "/conditions/0/status"), "False");
    }

    #[test]
    fn simulating_twice_changes_nothing_the_second_time() {
        let store = Store::new(100);
        let mut inner = store.lock();
        let key = key("apps", "deployments");
        inner.write(
            key.clone(),
            json!({"metadata": {"name": "web", "generation": 1}, "spec": {"replicas": 1}}),
            EventType::Added,
        );
        settle(&mut inner, &key, now());
        let after_first = inner.resource_version();
        settle(&mut inner, &key, jiff::Timestamp::now());
        assert_eq!(inner.resource_version(), after_first);
    }

    #[test]
    fn a_pod_runs_ready_and_its_status_then_stays_put() {
        let pod = json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let running = simulate(&key("", "pods"), &pod, now()).unwrap_or_default();
        assert_eq!(running["status"]["phase"], "Running");
        assert_eq!(at(&running, "/status/conditions/2/type"), "Ready");
        assert_eq!(at(&running, "/status/conditions/2/status"), "True");
        let again = simulate(&key("", "pods"), &running, jiff::Timestamp::now());
        assert_eq!(again.as_ref(), Some(&running));
    }

    #[test]
    fn a_completed_job_is_left_alone() {
        let job = json!({"metadata": {"name": "web"}, "spec": {"completions": 2}});
        let done = simulate(&key("batch", "jobs"), &job, now()).unwrap_or_default();
        assert_eq!(done["status"]["succeeded"], 2);
        assert_eq!(at(&done, "/status/conditions/1/type"), "Complete");
        assert!(simulate(&key("batch", "jobs"), &done, now()).is_none());
    }

    #[test]
    fn cluster_ips_come_from_the_service_range_and_are_not_reused() {
        let store = Store::new(100);
        let mut inner = store.lock();
        let mut seen = HashSet::new();
        for index in 0..50 {
            let ip = allocate_cluster_ip(&inner);
            let address: std::net::Ipv4Addr = ip.parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST);
            let octets = address.octets();
            assert_eq!(octets[0], 10);
            assert!((96..112).contains(&octets[1]), "{ip}");
            assert!(seen.insert(ip.clone()));
            inner.write(
                ObjectKey::new("", "services", "default", &format!("s{index}")),
                json!({"metadata": {}, "spec": {"clusterIP": ip}}),
                EventType::Added,
            );
        }
    }
}
