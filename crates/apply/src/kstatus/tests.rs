use serde_json::json;

use super::*;

fn now() -> Timestamp {
    "2026-01-01T00:01:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn status_of(object: &Value) -> (Status, String) {
    let outcome = compute_at(object, now());
    (outcome.status, outcome.message)
}

#[test]
fn object_being_deleted_is_terminating() {
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "deletionTimestamp": "2026-01-01T00:00:00Z"}});
    assert_eq!(
        status_of(&object),
        (
            Status::Terminating,
            "Resource scheduled for deletion".into()
        )
    );
}

#[test]
fn unobserved_generation_is_in_progress() {
    let object = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "a", "generation": 3}, "status": {"observedGeneration": 2}});
    let outcome = compute_at(&object, now());
    assert_eq!(outcome.status, Status::InProgress);
    assert_eq!(
        outcome.message,
        "Widget generation is 3, but latest observed generation is 2"
    );
    assert_eq!(outcome.conditions[0].reason, "LatestGenerationNotObserved");
}

#[test]
fn missing_observed_generation_skips_the_generation_check() {
    let object = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "a", "generation": 3}});
    assert_eq!(status_of(&object).0, Status::Current);
}

#[test]
fn reconciling_condition_is_in_progress_with_its_message() {
    let object = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
    "metadata": {"name": "a", "generation": 1},
    "status": {"observedGeneration": 1, "conditions": [
        {"type": "Ready", "status": "Unknown", "reason": "Progressing", "message": "m1"},
        {"type": "Reconciling", "status": "True", "reason": "Progressing", "message": "working"}
    ]}});
    assert_eq!(status_of(&object), (Status::InProgress, "working".into()));
}

#[test]
fn stalled_condition_is_failed() {
    let object = json!({"apiVersion": "example.com/v1", "kind": "Widget",
    "metadata": {"name": "a"},
    "status": {"conditions": [
        {"type": "Stalled", "status": "True", "reason": "Broken", "message": "cannot"}
    ]}});
    let outcome = compute_at(&object, now());
    assert_eq!(outcome.status, Status::Failed);
    assert_eq!(outcome.conditions[0].reason, "Broken");
}

#[test]
fn ready_false_alone_is_current_as_in_cli_utils() {
    let object = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "a"},
        "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
    assert_eq!(
        status_of(&object),
        (Status::Current, "Resource is current".into())
    );
}

#[test]
fn malformed_generation_is_unknown() {
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "generation": "one"}});
    assert_eq!(status_of(&object).0, Status::Unknown);
}

#[test]
fn config_maps_secrets_and_cron_jobs_are_always_ready() {
    for (api_version, kind) in [
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("batch/v1", "CronJob"),
    ] {
        let object = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "a"}});
        assert_eq!(
            status_of(&object),
            (Status::Current, "Resource is always ready".into()),
            "{kind}"
        );
    }
}

fn deployment(spec: Value, status: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "generation": 1},
        "spec": spec, "status": status})
}

#[test]
fn available_deployment_is_current() {
    let object = deployment(
        json!({"replicas": 2, "progressDeadlineSeconds": 600}),
        json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2,
            "availableReplicas": 2, "conditions": [
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                {"type": "Available", "status": "True"}]}),
    );
    assert_eq!(
        status_of(&object),
        (
            Status::Current,
            "Deployment is available. Replicas: 2".into()
        )
    );
}

#[test]
fn deployment_with_too_few_replicas_is_in_progress() {
    let object = deployment(
        json!({"replicas": 3}),
        json!({"observedGeneration": 1, "replicas": 1}),
    );
    assert_eq!(
        status_of(&object),
        (Status::InProgress, "Replicas: 1/3".into())
    );
}

#[test]
fn deployment_checks_run_in_cli_utils_order() {
    let object = deployment(
        json!({"replicas": 2}),
        json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 1}),
    );
    assert_eq!(status_of(&object).1, "Updated: 1/2");
    let object = deployment(
        json!({"replicas": 2}),
        json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 2}),
    );
    assert_eq!(status_of(&object).1, "Pending termination: 1");
    let object = deployment(
        json!({"replicas": 2}),
        json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}),
    );
    assert_eq!(status_of(&object).1, "Available: 1/2");
    let object = deployment(
        json!({"replicas": 2}),
        json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
            "availableReplicas": 2, "readyReplicas": 1}),
    );
    assert_eq!(status_of(&object).1, "Ready: 1/2");
}

#[test]
fn deployment_with_deadline_waits_for_the_new_replica_set() {
    let object = deployment(
        json!({"replicas": 1, "progressDeadlineSeconds": 600}),
        json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
            "availableReplicas": 1, "readyReplicas": 1,
            "conditions": [{"type": "Available", "status": "True"}]}),
    );
    assert_eq!(
        status_of(&object),
        (Status::InProgress, "ReplicaSet not Available".into())
    );
}

#[test]
fn deployment_without_available_condition_is_in_progress() {
    let object = deployment(
        json!({"replicas": 1}),
        json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
            "availableReplicas": 1, "readyReplicas": 1}),
    );
    assert_eq!(
        status_of(&object),
        (Status::InProgress, "Deployment not Available".into())
    );
}

#[test]
fn deployment_past_its_progress_deadline_is_failed() {
    let object = deployment(
        json!({"replicas": 1}),
        json!({"observedGeneration": 1, "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
             "message": "took too long"}]}),
    );
    let outcome = compute_at(&object, now());
    assert_eq!(outcome.status, Status::Failed);
    assert_eq!(outcome.message, "Progress deadline exceeded");
    assert_eq!(outcome.conditions[0].message, "took too long");
}

#[test]
fn stateful_set_rules_follow_cli_utils() {
    let sts = |spec: Value, status: Value| {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"},
            "spec": spec, "status": status})
    };
    assert_eq!(
        status_of(&sts(
            json!({"updateStrategy": {"type": "OnDelete"}}),
            json!({})
        ))
        .0,
        Status::Current
    );
    assert_eq!(
        status_of(&sts(
            json!({"replicas": 2}),
            json!({"replicas": 2, "readyReplicas": 1})
        ))
        .1,
        "Ready: 1/2"
    );
    assert_eq!(
        status_of(&sts(
            json!({"replicas": 2, "updateStrategy": {"rollingUpdate": {"partition": 1}}}),
            json!({"replicas": 2, "readyReplicas": 2, "updatedReplicas": 0})
        ))
        .1,
        "updated: 0/1"
    );
    assert_eq!(
        status_of(&sts(
            json!({"replicas": 1}),
            json!({"replicas": 1, "readyReplicas": 1, "currentReplicas": 1,
                "currentRevision": "a", "updateRevision": "b"})
        ))
        .1,
        "Waiting for updated revision to match current"
    );
    assert_eq!(
        status_of(&sts(
            json!({"replicas": 1}),
            json!({"replicas": 1, "readyReplicas": 1, "currentReplicas": 1,
                "currentRevision": "a", "updateRevision": "a"})
        )),
        (
            Status::Current,
            "All replicas scheduled as expected. Replicas: 1".into()
        )
    );
}

#[test]
fn daemon_set_needs_observed_generation_and_scheduled_pods() {
    let daemon_set = |metadata: Value, status: Value| {
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": metadata,
            "status": status})
    };
    assert_eq!(
        status_of(&daemon_set(json!({"name": "d"}), json!({}))).1,
        "DaemonSet metadata.generation not found"
    );
    assert_eq!(
        status_of(&daemon_set(
            json!({"name": "d", "generation": 1}),
            json!({})
        ))
        .1,
        "DaemonSet status.observedGeneration not found"
    );
    assert_eq!(
        status_of(&daemon_set(
            json!({"name": "d", "generation": 1}),
            json!({"observedGeneration": 1, "desiredNumberScheduled": 2,
                "currentNumberScheduled": 2, "updatedNumberScheduled": 2,
                "numberAvailable": 2, "numberReady": 1})
        ))
        .1,
        "Ready: 1/2"
    );
    assert_eq!(
        status_of(&daemon_set(
            json!({"name": "d", "generation": 1}),
            json!({"observedGeneration": 1, "desiredNumberScheduled": 2,
                "currentNumberScheduled": 2, "updatedNumberScheduled": 2,
                "numberAvailable": 2, "numberReady": 2})
        ))
        .0,
        Status::Current
    );
}

#[test]
fn replica_set_failure_condition_is_in_progress() {
    let object = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
        "status": {"conditions": [{"type": "ReplicaFailure", "status": "True"}]}});
    assert_eq!(
        status_of(&object),
        (
            Status::InProgress,
            "Replica Failure condition. Check Pods".into()
        )
    );
    let object = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
        "spec": {"replicas": 1}, "status": {"replicas": 1, "readyReplicas": 1,
            "availableReplicas": 1, "fullyLabeledReplicas": 1}});
    assert_eq!(status_of(&object).0, Status::Current);
}

fn pod(status: Value, created: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "creationTimestamp": created}, "status": status})
}

#[test]
fn pod_phases_map_to_statuses() {
    let created = "2026-01-01T00:00:00Z";
    assert_eq!(
        status_of(&pod(json!({"phase": "Succeeded"}), created)).0,
        Status::Current
    );
    assert_eq!(
        status_of(&pod(json!({"phase": "Failed"}), created)).0,
        Status::Current
    );
    assert_eq!(
        status_of(&pod(
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}),
            created
        )),
        (Status::Current, "Pod is Ready".into())
    );
    assert_eq!(
        status_of(&pod(json!({"phase": "Running"}), created)).1,
        "Pod is running but is not Ready"
    );
    assert_eq!(
        status_of(&pod(json!({}), created)).1,
        "Pod phase not available"
    );
    assert_eq!(
        status_of(&pod(json!({"phase": "Weird"}), created)),
        (Status::Unknown, "unknown phase Weird".into())
    );
}

#[test]
fn crash_looping_pod_is_failed_and_names_its_containers() {
    let object = pod(
        json!({"phase": "Running", "containerStatuses": [
            {"name": "a", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
            {"name": "b", "state": {"running": {}}},
            {"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
        "2026-01-01T00:00:00Z",
    );
    assert_eq!(
        status_of(&object),
        (Status::Failed, "Containers in CrashLoop state: a,c".into())
    );
}

#[test]
fn unschedulable_pod_fails_only_after_the_schedule_window() {
    let status = json!({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]});
    assert_eq!(
        status_of(&pod(status.clone(), "2026-01-01T00:00:50Z")).1,
        "Pod has not been scheduled"
    );
    assert_eq!(
        status_of(&pod(status, "2026-01-01T00:00:00Z")),
        (Status::Failed, "Pod could not be scheduled".into())
    );
}

#[test]
fn claim_is_current_once_bound() {
    let claim = |phase: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
            "status": {"phase": phase}})
    };
    assert_eq!(
        status_of(&claim("Pending")),
        (
            Status::InProgress,
            "PVC is not Bound. phase: Pending".into()
        )
    );
    assert_eq!(status_of(&claim("Bound")).0, Status::Current);
}

#[test]
fn load_balancer_without_cluster_ip_is_in_progress() {
    let service = |spec: Value| json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec});
    assert_eq!(
        status_of(&service(json!({"type": "LoadBalancer"}))).0,
        Status::InProgress
    );
    assert_eq!(
        status_of(&service(
            json!({"type": "LoadBalancer", "clusterIP": "10.0.0.1"})
        ))
        .0,
        Status::Current
    );
    assert_eq!(
        status_of(&service(json!({}))),
        (Status::Current, "Service is ready".into())
    );
}

#[test]
fn pod_disruption_budget_is_current() {
    let object = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "p"}});
    assert_eq!(status_of(&object).0, Status::Current);
}

fn job(status: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"completions": 1}, "status": status})
}

#[test]
fn cli_utils_treats_a_started_job_as_current() {
    assert_eq!(status_of(&job(json!({}))).1, "Job not started");
    assert_eq!(
        status_of(&job(
            json!({"startTime": "2026-01-01T00:00:00Z", "active": 1})
        )),
        (
            Status::Current,
            "Job in progress. success:0, active: 1, failed: 0".into()
        )
    );
    assert_eq!(
        status_of(&job(json!({"failed": 1,
            "conditions": [{"type": "Failed", "status": "True"}]}))),
        (Status::Failed, "Job Failed. failed: 1/1".into())
    );
}

#[test]
fn flux_job_reader_waits_for_completion() {
    let running = job(json!({"startTime": "2026-01-01T00:00:00Z", "active": 1}));
    assert_eq!(compute_for_flux(&running, now()).status, Status::InProgress);
    let complete = job(json!({"succeeded": 1,
        "conditions": [{"type": "Complete", "status": "True"}]}));
    assert_eq!(
        compute_for_flux(&complete, now()).message,
        "Job Completed. succeeded: 1/1"
    );
    let mut suspended = job(json!({}));
    suspended["spec"]["suspend"] = json!(true);
    assert_eq!(compute_for_flux(&suspended, now()).status, Status::Current);
    assert_eq!(
        compute_for_flux(&job(json!({})), now()).message,
        "Job not started. active: 0/1"
    );
}

#[test]
fn custom_resource_definition_is_current_once_established() {
    let crd = |conditions: Value| {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"}, "status": {"conditions": conditions}})
    };
    assert_eq!(
        status_of(&crd(json!([]))),
        (Status::InProgress, "Install in progress".into())
    );
    assert_eq!(
        status_of(&crd(json!([{"type": "Established", "status": "True"}]))),
        (Status::Current, "CRD is established".into())
    );
    assert_eq!(
        status_of(&crd(json!([{"type": "NamesAccepted", "status": "False",
            "reason": "NameConflict", "message": "taken"}]))),
        (Status::Failed, "taken".into())
    );
    assert_eq!(
        status_of(&crd(json!([{"type": "Established", "status": "False",
            "reason": "Installing"}])))
        .0,
        Status::InProgress
    );
}

#[test]
fn namespace_is_current_unless_terminating() {
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"},
        "status": {"phase": "Active"}});
    assert_eq!(status_of(&namespace).0, Status::Current);
    let terminating = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "n", "deletionTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"phase": "Terminating"}});
    assert_eq!(status_of(&terminating).0, Status::Terminating);
}

#[test]
fn statuses_print_kstatus_names() {
    assert_eq!(Status::InProgress.to_string(), "InProgress");
    assert_eq!(Status::NotFound.to_string(), "NotFound");
}
