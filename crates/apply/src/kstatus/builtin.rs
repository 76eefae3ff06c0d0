//! kstatus rules for built-in kinds (cli-utils `status/core.go`), plus Flux's Job reader.
//!
//! The messages and reasons are cli-utils' own, since users see them in Flux's
//! `HealthCheckFailed` messages.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::{ComputeError, Outcome, Status, conditions, int_field, nested_int, string_field};

/// How long a Pod may stay unschedulable before it is reported as failed.
const SCHEDULE_WINDOW: SignedDuration = SignedDuration::from_secs(15);

/// The rules for `group`/`kind`, or `None` when the kind has none.
pub(super) fn compute(
    group: &str,
    kind: &str,
    object: &Value,
    now: Timestamp,
) -> Result<Option<Outcome>, ComputeError> {
    let outcome = match (group, kind) {
        ("", "Service") => service(object),
        ("", "Pod") => pod(object, now)?,
        ("", "Secret" | "ConfigMap") | ("batch", "CronJob") => {
            Outcome::current("Resource is always ready")
        }
        ("", "PersistentVolumeClaim") => persistent_volume_claim(object),
        ("apps", "StatefulSet") => stateful_set(object),
        ("apps" | "extensions", "DaemonSet") => daemon_set(object)?,
        ("apps" | "extensions", "Deployment") => deployment(object)?,
        ("apps" | "extensions", "ReplicaSet") => replica_set(object)?,
        ("policy", "PodDisruptionBudget") => {
            Outcome::current("AllowedDisruptions has been computed.")
        }
        ("batch", "Job") => job(object)?,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => custom_resource_definition(object)?,
        _ => return Ok(None),
    };
    Ok(Some(outcome))
}

fn has_condition(object: &Value, type_: &str, status: &str) -> Result<bool, ComputeError> {
    Ok(conditions(object)?
        .iter()
        .any(|condition| condition.type_ == type_ && condition.status == status))
}

fn stateful_set(object: &Value) -> Outcome {
    if string_field(object, &["spec", "updateStrategy", "type"], "") == "OnDelete" {
        return Outcome::current("StatefulSet is using the ondelete update strategy");
    }
    let spec_replicas = int_field(object, &["spec", "replicas"], 1);
    let ready = int_field(object, &["status", "readyReplicas"], 0);
    let current = int_field(object, &["status", "currentReplicas"], 0);
    let updated = int_field(object, &["status", "updatedReplicas"], 0);
    let status_replicas = int_field(object, &["status", "replicas"], 0);
    let partition = int_field(
        object,
        &["spec", "updateStrategy", "rollingUpdate", "partition"],
        -1,
    );
    if spec_replicas > status_replicas {
        return Outcome::in_progress(
            "LessReplicas",
            format!("Replicas: {status_replicas}/{spec_replicas}"),
        );
    }
    if spec_replicas > ready {
        return Outcome::in_progress("LessReady", format!("Ready: {ready}/{spec_replicas}"));
    }
    if status_replicas > spec_replicas {
        return Outcome::in_progress(
            "ExtraPods",
            format!("Pending termination: {}", status_replicas - spec_replicas),
        );
    }
    if partition != -1 {
        if updated < spec_replicas - partition {
            return Outcome::in_progress(
                "PartitionRollout",
                format!("updated: {updated}/{}", spec_replicas - partition),
            );
        }
        return Outcome::current(format!("Partition rollout complete. updated: {updated}"));
    }
    if spec_replicas > current {
        return Outcome::in_progress("LessCurrent", format!("current: {current}/{spec_replicas}"));
    }
    if string_field(object, &["status", "currentRevision"], "")
        != string_field(object, &["status", "updateRevision"], "")
    {
        return Outcome::in_progress(
            "RevisionMismatch",
            "Waiting for updated revision to match current",
        );
    }
    Outcome::current(format!(
        "All replicas scheduled as expected. Replicas: {status_replicas}"
    ))
}

fn deployment(object: &Value) -> Result<Outcome, ComputeError> {
    // Without progressDeadlineSeconds the controller never sets Progressing, so the
    // deployment counts as progressing (Kubernetes uses MaxInt32 as "unset").
    let mut progressing = int_field(
        object,
        &["spec", "progressDeadlineSeconds"],
        i64::from(i32::MAX),
    ) == i64::from(i32::MAX);
    let mut available = false;
    for condition in conditions(object)? {
        match condition.type_.as_str() {
            "Progressing" => {
                if condition.reason == "ProgressDeadlineExceeded" {
                    return Ok(Outcome {
                        status: Status::Failed,
                        message: "Progress deadline exceeded".to_string(),
                        conditions: vec![super::condition(
                            "Stalled",
                            &condition.reason,
                            &condition.message,
                        )],
                    });
                }
                if condition.status == "True" && condition.reason == "NewReplicaSetAvailable" {
                    progressing = true;
                }
            }
            "Available" if condition.status == "True" => available = true,
            _ => {}
        }
    }
    let spec_replicas = int_field(object, &["spec", "replicas"], 1);
    let status_replicas = int_field(object, &["status", "replicas"], 0);
    let updated = int_field(object, &["status", "updatedReplicas"], 0);
    let ready = int_field(object, &["status", "readyReplicas"], 0);
    let available_replicas = int_field(object, &["status", "availableReplicas"], 0);
    let outcome = if spec_replicas > status_replicas {
        Outcome::in_progress(
            "LessReplicas",
            format!("Replicas: {status_replicas}/{spec_replicas}"),
        )
    } else if spec_replicas > updated {
        Outcome::in_progress("LessUpdated", format!("Updated: {updated}/{spec_replicas}"))
    } else if status_replicas > spec_replicas {
        Outcome::in_progress(
            "ExtraPods",
            format!("Pending termination: {}", status_replicas - spec_replicas),
        )
    } else if updated > available_replicas {
        Outcome::in_progress(
            "LessAvailable",
            format!("Available: {available_replicas}/{updated}"),
        )
    } else if spec_replicas > ready {
        Outcome::in_progress("LessReady", format!("Ready: {ready}/{spec_replicas}"))
    } else if !progressing {
        Outcome::in_progress("ReplicaSetNotAvailable", "ReplicaSet not Available")
    } else if !available {
        Outcome::in_progress("DeploymentNotAvailable", "Deployment not Available")
    } else {
        Outcome::current(format!(
            "Deployment is available. Replicas: {status_replicas}"
        ))
    };
    Ok(outcome)
}

fn replica_set(object: &Value) -> Result<Outcome, ComputeError> {
    if has_condition(object, "ReplicaFailure", "True")? {
        return Ok(Outcome::in_progress(
            "ReplicaFailure",
            "Replica Failure condition. Check Pods",
        ));
    }
    let spec_replicas = int_field(object, &["spec", "replicas"], 1);
    let status_replicas = int_field(object, &["status", "replicas"], 0);
    let ready = int_field(object, &["status", "readyReplicas"], 0);
    let available = int_field(object, &["status", "availableReplicas"], 0);
    let labelled = int_field(object, &["status", "fullyLabeledReplicas"], 0);
    let outcome = if spec_replicas > labelled {
        Outcome::in_progress(
            "LessLabelled",
            format!("Labelled: {labelled}/{spec_replicas}"),
        )
    } else if spec_replicas > available {
        Outcome::in_progress(
            "LessAvailable",
            format!("Available: {available}/{spec_replicas}"),
        )
    } else if spec_replicas > ready {
        Outcome::in_progress("LessReady", format!("Ready: {ready}/{spec_replicas}"))
    } else if status_replicas > spec_replicas {
        Outcome::in_progress(
            "ExtraPods",
            format!("Pending termination: {}", status_replicas - spec_replicas),
        )
    } else {
        Outcome::current(format!(
            "ReplicaSet is available. Replicas: {status_replicas}"
        ))
    };
    Ok(outcome)
}

fn daemon_set(object: &Value) -> Result<Outcome, ComputeError> {
    // The daemonset controller always sets these once it has seen the object, so their
    // absence means it has not (the generic check tolerates absence).
    let kind = super::kind_of(object);
    if nested_int(object, &["metadata", "generation"])?.is_none() {
        return Ok(Outcome::in_progress(
            "NoGeneration",
            format!("{kind} metadata.generation not found"),
        ));
    }
    if nested_int(object, &["status", "observedGeneration"])?.is_none() {
        return Ok(Outcome::in_progress(
            "NoObservedGeneration",
            format!("{kind} status.observedGeneration not found"),
        ));
    }
    let desired = int_field(object, &["status", "desiredNumberScheduled"], -1);
    let current = int_field(object, &["status", "currentNumberScheduled"], 0);
    let updated = int_field(object, &["status", "updatedNumberScheduled"], 0);
    let available = int_field(object, &["status", "numberAvailable"], 0);
    let ready = int_field(object, &["status", "numberReady"], 0);
    let outcome = if desired == -1 {
        Outcome::in_progress("NoDesiredNumber", "Missing .status.desiredNumberScheduled")
    } else if desired > current {
        Outcome::in_progress("LessCurrent", format!("Current: {current}/{desired}"))
    } else if desired > updated {
        Outcome::in_progress("LessUpdated", format!("Updated: {updated}/{desired}"))
    } else if desired > available {
        Outcome::in_progress("LessAvailable", format!("Available: {available}/{desired}"))
    } else if desired > ready {
        Outcome::in_progress("LessReady", format!("Ready: {ready}/{desired}"))
    } else {
        Outcome::current(format!(
            "All replicas scheduled as expected. Replicas: {desired}"
        ))
    };
    Ok(outcome)
}

fn persistent_volume_claim(object: &Value) -> Outcome {
    let phase = string_field(object, &["status", "phase"], "unknown");
    if phase != "Bound" {
        return Outcome::in_progress("NotBound", format!("PVC is not Bound. phase: {phase}"));
    }
    Outcome::current("PVC is Bound")
}

fn pod(object: &Value, now: Timestamp) -> Result<Outcome, ComputeError> {
    let phase = string_field(object, &["status", "phase"], "");
    let outcome = match phase {
        "Succeeded" => Outcome::current("Pod has completed successfully"),
        "Failed" => Outcome::current("Pod has completed, but not successfully"),
        "Running" => {
            if has_condition(object, "Ready", "True")? {
                Outcome::current("Pod is Ready")
            } else {
                let crash_looping = crash_looping_containers(object);
                if crash_looping.is_empty() {
                    Outcome::in_progress("PodRunningNotReady", "Pod is running but is not Ready")
                } else {
                    Outcome::failed(
                        "ContainerCrashLooping",
                        format!("Containers in CrashLoop state: {}", crash_looping.join(",")),
                    )
                }
            }
        }
        "Pending" => {
            let unschedulable = conditions(object)?.iter().any(|condition| {
                condition.type_ == "PodScheduled"
                    && condition.status == "False"
                    && condition.reason == "Unschedulable"
            });
            if !unschedulable {
                Outcome::in_progress("PodPending", "Pod is in the Pending phase")
            } else if within_schedule_window(object, now) {
                Outcome::in_progress("PodNotScheduled", "Pod has not been scheduled")
            } else {
                Outcome::failed("PodUnschedulable", "Pod could not be scheduled")
            }
        }
        "" => Outcome::in_progress("PodNotObserved", "Pod phase not available"),
        other => return Err(ComputeError(format!("unknown phase {other}"))),
    };
    Ok(outcome)
}

/// Whether the Pod was created less than [`SCHEDULE_WINDOW`] ago. A missing creation time
/// is Go's zero time, long past.
fn within_schedule_window(object: &Value, now: Timestamp) -> bool {
    string_field(object, &["metadata", "creationTimestamp"], "")
        .parse::<Timestamp>()
        .is_ok_and(|created| now - SCHEDULE_WINDOW < created)
}

fn crash_looping_containers(object: &Value) -> Vec<String> {
    object
        .get("status")
        .and_then(|status| status.get("containerStatuses"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|container| {
            container
                .pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                == Some("CrashLoopBackOff")
        })
        .filter_map(|container| container.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

fn job(object: &Value) -> Result<Outcome, ComputeError> {
    let parallelism = int_field(object, &["spec", "parallelism"], 1);
    let completions = int_field(object, &["spec", "completions"], parallelism);
    let succeeded = int_field(object, &["status", "succeeded"], 0);
    let active = int_field(object, &["status", "active"], 0);
    let failed = int_field(object, &["status", "failed"], 0);
    for condition in conditions(object)? {
        if condition.status != "True" {
            continue;
        }
        match condition.type_.as_str() {
            "Complete" => {
                return Ok(Outcome::current(format!(
                    "Job Completed. succeeded: {succeeded}/{completions}"
                )));
            }
            "Failed" => {
                return Ok(Outcome::failed(
                    "JobFailed",
                    format!("Job Failed. failed: {failed}/{completions}"),
                ));
            }
            "Suspended" => return Ok(Outcome::current("Job is suspended")),
            _ => {}
        }
    }
    if string_field(object, &["status", "startTime"], "").is_empty() {
        return Ok(Outcome::in_progress("JobNotStarted", "Job not started"));
    }
    Ok(Outcome::current(format!(
        "Job in progress. success:{succeeded}, active: {active}, failed: {failed}"
    )))
}

/// fluxcd/pkg `runtime/statusreaders` `jobConditions`: unlike cli-utils, a running Job is in
/// progress, so health checks wait for it to finish.
pub(super) fn flux_job(object: &Value) -> Result<Outcome, ComputeError> {
    if object.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return Ok(Outcome::current("Job is suspended"));
    }
    let parallelism = int_field(object, &["spec", "parallelism"], 1);
    let completions = int_field(object, &["spec", "completions"], parallelism);
    let active = int_field(object, &["status", "active"], 0);
    let succeeded = int_field(object, &["status", "succeeded"], 0);
    let failed = int_field(object, &["status", "failed"], 0);
    for condition in conditions(object)? {
        match condition.type_.as_str() {
            "Complete" if condition.status == "True" => {
                return Ok(Outcome::current(format!(
                    "Job Completed. succeeded: {succeeded}/{completions}"
                )));
            }
            "Failed" if condition.status == "True" => {
                return Ok(Outcome::failed(
                    "JobFailed",
                    format!("Job Failed. failed: {failed}/{completions}"),
                ));
            }
            _ => {}
        }
    }
    if string_field(object, &["status", "startTime"], "").is_empty() {
        return Ok(Outcome::in_progress(
            "JobNotStarted",
            format!("Job not started. active: 0/{parallelism}"),
        ));
    }
    Ok(Outcome::in_progress(
        "JobInProgress",
        format!("Job in progress. success:{succeeded}, active: {active}, failed: {failed}"),
    ))
}

fn service(object: &Value) -> Outcome {
    let service_type = string_field(object, &["spec", "type"], "ClusterIP");
    let cluster_ip = string_field(object, &["spec", "clusterIP"], "");
    if service_type == "LoadBalancer" && cluster_ip.is_empty() {
        return Outcome::in_progress(
            "NoIPAssigned",
            "ClusterIP not set. Service type: LoadBalancer",
        );
    }
    Outcome::current("Service is ready")
}

fn custom_resource_definition(object: &Value) -> Result<Outcome, ComputeError> {
    for condition in conditions(object)? {
        if condition.type_ == "NamesAccepted" && condition.status == "False" {
            return Ok(Outcome::failed(&condition.reason, condition.message));
        }
        if condition.type_ == "Established" {
            if condition.status == "False" && condition.reason != "Installing" {
                return Ok(Outcome::failed(&condition.reason, condition.message));
            }
            if condition.status == "True" {
                return Ok(Outcome::current("CRD is established"));
            }
        }
    }
    Ok(Outcome::in_progress("Installing", "Install in progress"))
}
