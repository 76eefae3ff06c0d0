//! What the server knows about each resource: the built-in kinds table and the shape every
//! CustomResourceDefinition version is turned into. Discovery, OpenAPI, Table printing,
//! the status and scale subresources and generation handling all read from [`ResourceType`].

use serde_json::Value;

use crate::table::{CellSource, PrinterColumn, computed};

/// Where a scale subresource finds replicas and the selector inside the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScalePaths {
    /// JSON path (dotted, leading dot) of the desired replica count.
    pub(crate) spec_replicas: String,
    /// JSON path of the observed replica count.
    pub(crate) status_replicas: String,
    /// JSON path of the label selector, if any.
    pub(crate) label_selector: Option<String>,
}

/// One served (group, version, resource).
#[derive(Debug, Clone)]
pub(crate) struct ResourceType {
    /// API group; empty for the core group.
    pub(crate) group: String,
    /// The group objects are stored under; differs from `group` when two groups serve one
    /// resource (events.k8s.io Events are core Events).
    pub(crate) storage_group: String,
    /// API version.
    pub(crate) version: String,
    /// Kind of the objects.
    pub(crate) kind: String,
    /// Kind of a list of the objects.
    pub(crate) list_kind: String,
    /// Plural resource name used in paths.
    pub(crate) plural: String,
    /// Singular resource name.
    pub(crate) singular: String,
    /// Whether objects live in namespaces.
    pub(crate) namespaced: bool,
    /// Short names (`cm`, `deploy`).
    pub(crate) short_names: Vec<String>,
    /// Categories (`all`).
    pub(crate) categories: Vec<String>,
    /// Whether the resource has a status subresource (and so ignores status on main writes).
    pub(crate) has_status: bool,
    /// The scale subresource, if any.
    pub(crate) scale: Option<ScalePaths>,
    /// Whether `metadata.generation` is maintained.
    pub(crate) tracks_generation: bool,
    /// Printer columns after the Name column.
    pub(crate) columns: Vec<PrinterColumn>,
    /// openAPIV3Schema for custom resources; validation, defaulting and pruning use it.
    pub(crate) schema: Option<Value>,
    /// Extra field selectors this kind supports beyond metadata.name/namespace.
    pub(crate) field_selectors: Vec<String>,
    /// Whether this resource came from a CustomResourceDefinition.
    pub(crate) custom: bool,
    /// How names are validated.
    pub(crate) name_rule: NameRule,
    /// A review resource: `create` answers with a computed status and stores nothing.
    pub(crate) review: bool,
}

/// Which naming rule objects of a kind follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// RFC 1123 subdomain: most kinds.
    Subdomain,
    /// RFC 1123 label: Namespace.
    Label,
    /// RFC 1035 label: Service.
    Rfc1035Label,
    /// Any path segment: RBAC kinds.
    PathSegment,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The verbs advertised in discovery.
    pub(crate) fn verbs(&self) -> Vec<&'static str> {
        if self.review {
            return vec!["create"];
        }
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    all: bool,
    status: bool,
    scale: bool,
    generation: bool,
    fields: &'static [&'static str],
}

const fn builtin(group: &'static str, version: &'static str, kind: &'static str) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural: "",
        namespaced: true,
        short_names: &[],
        all: false,
        status: false,
        scale: false,
        generation: false,
        fields: &[],
    }
}

/// The built-in kinds, in the order discovery lists them.
pub(crate) fn builtin_types() -> Vec<ResourceType> {
    let workload = |b: Builtin| Builtin {
        status: true,
        generation: true,
        all: true,
        ..b
    };
    let cluster = |b: Builtin| Builtin {
        namespaced: false,
        ..b
    };
    let table: Vec<Builtin> = vec![
        Builtin {
            plural: "namespaces",
            short_names: &["ns"],
            status: true,
            fields: &["status.phase"],
            ..cluster(builtin("", "v1", "Namespace"))
        },
        Builtin {
            plural: "configmaps",
            short_names: &["cm"],
            ..builtin("", "v1", "ConfigMap")
        },
        Builtin {
            plural: "secrets",
            fields: &["type"],
            ..builtin("", "v1", "Secret")
        },
        Builtin {
            plural: "serviceaccounts",
            short_names: &["sa"],
            ..builtin("", "v1", "ServiceAccount")
        },
        Builtin {
            plural: "services",
            short_names: &["svc"],
            all: true,
            status: true,
            ..builtin("", "v1", "Service")
        },
        Builtin {
            plural: "endpoints",
            short_names: &["ep"],
            ..builtin("", "v1", "Endpoints")
        },
        Builtin {
            plural: "pods",
            short_names: &["po"],
            all: true,
            status: true,
            fields: &[
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "status.phase",
                "status.podIP",
            ],
            ..builtin("", "v1", "Pod")
        },
        Builtin {
            plural: "events",
            short_names: &["ev"],
            fields: &[
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ],
            ..builtin("", "v1", "Event")
        },
        Builtin {
            plural: "persistentvolumeclaims",
            short_names: &["pvc"],
            status: true,
            ..builtin("", "v1", "PersistentVolumeClaim")
        },
        Builtin {
            plural: "persistentvolumes",
            short_names: &["pv"],
            status: true,
            ..cluster(builtin("", "v1", "PersistentVolume"))
        },
        Builtin {
            plural: "nodes",
            short_names: &["no"],
            status: true,
            ..cluster(builtin("", "v1", "Node"))
        },
        Builtin {
            plural: "events",
            short_names: &["ev"],
            ..builtin("events.k8s.io", "v1", "Event")
        },
        Builtin {
            plural: "deployments",
            short_names: &["deploy"],
            scale: true,
            ..workload(builtin("apps", "v1", "Deployment"))
        },
        Builtin {
            plural: "replicasets",
            short_names: &["rs"],
            scale: true,
            ..workload(builtin("apps", "v1", "ReplicaSet"))
        },
        Builtin {
            plural: "statefulsets",
            short_names: &["sts"],
            scale: true,
            ..workload(builtin("apps", "v1", "StatefulSet"))
        },
        Builtin {
            plural: "daemonsets",
            short_names: &["ds"],
            ..workload(builtin("apps", "v1", "DaemonSet"))
        },
        Builtin {
            plural: "jobs",
            fields: &["status.successful"],
            ..workload(builtin("batch", "v1", "Job"))
        },
        Builtin {
            plural: "cronjobs",
            short_names: &["cj"],
            ..workload(builtin("batch", "v1", "CronJob"))
        },
        Builtin {
            plural: "ingresses",
            short_names: &["ing"],
            status: true,
            generation: true,
            ..builtin("networking.k8s.io", "v1", "Ingress")
        },
        Builtin {
            plural: "ingressclasses",
            ..cluster(builtin("networking.k8s.io", "v1", "IngressClass"))
        },
        Builtin {
            plural: "networkpolicies",
            short_names: &["netpol"],
            generation: true,
            ..builtin("networking.k8s.io", "v1", "NetworkPolicy")
        },
        Builtin {
            plural: "storageclasses",
            short_names: &["sc"],
            ..cluster(builtin("storage.k8s.io", "v1", "StorageClass"))
        },
        Builtin {
            plural: "roles",
            ..builtin("rbac.authorization.k8s.io", "v1", "Role")
        },
        Builtin {
            plural: "rolebindings",
            ..builtin("rbac.authorization.k8s.io", "v1", "RoleBinding")
        },
        Builtin {
            plural: "clusterroles",
            ..cluster(builtin("rbac.authorization.k8s.io", "v1", "ClusterRole"))
        },
        Builtin {
            plural: "clusterrolebindings",
            ..cluster(builtin(
                "rbac.authorization.k8s.io",
                "v1",
                "ClusterRoleBinding",
            ))
        },
        Builtin {
            plural: "leases",
            ..builtin("coordination.k8s.io", "v1", "Lease")
        },
        Builtin {
            plural: "priorityclasses",
            short_names: &["pc"],
            ..cluster(builtin("scheduling.k8s.io", "v1", "PriorityClass"))
        },
        Builtin {
            plural: "horizontalpodautoscalers",
            short_names: &["hpa"],
            status: true,
            generation: true,
            all: true,
            ..builtin("autoscaling", "v2", "HorizontalPodAutoscaler")
        },
        Builtin {
            plural: "horizontalpodautoscalers",
            short_names: &["hpa"],
            status: true,
            generation: true,
            all: true,
            ..builtin("autoscaling", "v1", "HorizontalPodAutoscaler")
        },
        Builtin {
            plural: "poddisruptionbudgets",
            short_names: &["pdb"],
            status: true,
            generation: true,
            ..builtin("policy", "v1", "PodDisruptionBudget")
        },
        Builtin {
            plural: "validatingwebhookconfigurations",
            generation: true,
            ..cluster(builtin(
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingWebhookConfiguration",
            ))
        },
        Builtin {
            plural: "mutatingwebhookconfigurations",
            generation: true,
            ..cluster(builtin(
                "admissionregistration.k8s.io",
                "v1",
                "MutatingWebhookConfiguration",
            ))
        },
        Builtin {
            plural: "apiservices",
            status: true,
            ..cluster(builtin("apiregistration.k8s.io", "v1", "APIService"))
        },
        Builtin {
            plural: "selfsubjectaccessreviews",
            ..cluster(builtin(
                "authorization.k8s.io",
                "v1",
                "SelfSubjectAccessReview",
            ))
        },
        Builtin {
            plural: "selfsubjectrulesreviews",
            ..cluster(builtin(
                "authorization.k8s.io",
                "v1",
                "SelfSubjectRulesReview",
            ))
        },
        Builtin {
            plural: "selfsubjectreviews",
            ..cluster(builtin("authentication.k8s.io", "v1", "SelfSubjectReview"))
        },
        Builtin {
            plural: "customresourcedefinitions",
            short_names: &["crd", "crds"],
            status: true,
            generation: true,
            ..cluster(builtin(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ))
        },
    ];
    table.into_iter().map(into_resource_type).collect()
}

fn into_resource_type(builtin: Builtin) -> ResourceType {
    let name_rule = match (builtin.group, builtin.kind) {
        ("", "Namespace") => NameRule::Label,
        ("", "Service") => NameRule::Rfc1035Label,
        ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    };
    let scale = builtin.scale.then(|| ScalePaths {
        spec_replicas: ".spec.replicas".into(),
        status_replicas: ".status.replicas".into(),
        label_selector: Some(".spec.selector".into()),
    });
    ResourceType {
        group: builtin.group.into(),
        storage_group: if builtin.group == "events.k8s.io" {
            String::new()
        } else {
            builtin.group.into()
        },
        version: builtin.version.into(),
        kind: builtin.kind.into(),
        list_kind: format!("{}List", builtin.kind),
        plural: builtin.plural.into(),
        singular: builtin.kind.to_lowercase(),
        namespaced: builtin.namespaced,
        short_names: builtin.short_names.iter().map(|s| s.to_string()).collect(),
        categories: if builtin.all {
            vec!["all".into()]
        } else {
            Vec::new()
        },
        has_status: builtin.status,
        scale,
        tracks_generation: builtin.generation,
        columns: builtin_columns(builtin.group, builtin.kind),
        schema: None,
        field_selectors: builtin.fields.iter().map(|s| s.to_string()).collect(),
        custom: false,
        name_rule,
        review: builtin.group.ends_with("authorization.k8s.io") && builtin.kind.ends_with("Review")
            || builtin.group == "authentication.k8s.io",
    }
}

fn column(name: &str, source: CellSource) -> PrinterColumn {
    PrinterColumn {
        name: name.into(),
        column_type: "string".into(),
        format: String::new(),
        description: String::new(),
        priority: 0,
        source,
    }
}

fn path(name: &str, json_path: &str) -> PrinterColumn {
    column(name, CellSource::Path(json_path.into()))
}

fn age() -> PrinterColumn {
    column("Age", CellSource::Age(".metadata.creationTimestamp".into()))
}

fn count_keys(object: &Value, fields: &[&str]) -> usize {
    fields
        .iter()
        .filter_map(|field| object.get(*field).and_then(Value::as_object))
        .map(|map| map.len())
        .sum()
}

fn number(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn text(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn or_none(value: String) -> Value {
    if value.is_empty() {
        Value::String("<none>".into())
    } else {
        Value::String(value)
    }
}

fn builtin_columns(group: &str, kind: &str) -> Vec<PrinterColumn> {
    match (group, kind) {
        ("", "Namespace") => vec![path("Status", ".status.phase"), age()],
        ("", "ConfigMap") => vec![
            computed("Data", |object| {
                Value::from(count_keys(object, &["data", "binaryData"]))
            }),
            age(),
        ],
        ("", "Secret") => vec![
            path("Type", ".type"),
            computed("Data", |object| Value::from(count_keys(object, &["data"]))),
            age(),
        ],
        ("", "ServiceAccount") => vec![
            computed("Secrets", |object| {
                Value::from(
                    object
                        .get("secrets")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len),
                )
            }),
            age(),
        ],
        ("", "Service") => vec![
            path("Type", ".spec.type"),
            computed("Cluster-IP", |object| {
                or_none(text(object, "/spec/clusterIP"))
            }),
            computed("External-IP", |object| {
                let ips: Vec<String> = object
                    .pointer("/spec/externalIPs")
                    .and_then(Value::as_array)
                    .map(|ips| {
                        ips.iter()
                            .filter_map(|ip| ip.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                or_none(ips.join(","))
            }),
            computed("Port(s)", |object| {
                let ports: Vec<String> = object
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .map(|ports| {
                        ports
                            .iter()
                            .map(|port| {
                                let protocol = port
                                    .get("protocol")
                                    .and_then(Value::as_str)
                                    .unwrap_or("TCP");
                                format!("{}/{protocol}", number(port, "/port"))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                or_none(ports.join(","))
            }),
            age(),
        ],
        ("", "Pod") => vec![
            computed("Ready", |object| {
                let statuses = object
                    .pointer("/status/containerStatuses")
                    .and_then(Value::as_array);
                let ready = statuses.map_or(0, |statuses| {
                    statuses
                        .iter()
                        .filter(|status| status.get("ready") == Some(&Value::Bool(true)))
                        .count()
                });
                let total = object
                    .pointer("/spec/containers")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                Value::String(format!("{ready}/{total}"))
            }),
            computed("Status", |object| {
                let phase = text(object, "/status/phase");
                Value::String(if phase.is_empty() {
                    "Pending".into()
                } else {
                    phase
                })
            }),
            computed("Restarts", |object| {
                let restarts: i64 = object
                    .pointer("/status/containerStatuses")
                    .and_then(Value::as_array)
                    .map_or(0, |statuses| {
                        statuses
                            .iter()
                            .map(|status| number(status, "/restartCount"))
                            .sum()
                    });
                Value::from(restarts)
            }),
            age(),
        ],
        ("", "Event") | ("events.k8s.io", "Event") => vec![
            computed("Last Seen", |object| {
                let seen = [
                    "/lastTimestamp",
                    "/deprecatedLastTimestamp",
                    "/eventTime",
                    "/series/lastObservedTime",
                    "/metadata/creationTimestamp",
                ]
                .iter()
                .find_map(|pointer| object.pointer(pointer).and_then(Value::as_str))
                .and_then(|stamp| stamp.parse::<jiff::Timestamp>().ok());
                Value::String(match seen {
                    Some(seen) => crate::table::human_duration(
                        jiff::Timestamp::now().as_second() - seen.as_second(),
                    ),
                    None => "<unknown>".into(),
                })
            }),
            path("Type", ".type"),
            path("Reason", ".reason"),
            computed("Object", |object| {
                let involved = object
                    .get("involvedObject")
                    .or_else(|| object.get("regarding"));
                let kind = involved
                    .and_then(|o| o.get("kind"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let name = involved
                    .and_then(|o| o.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                Value::String(format!("{}/{name}", kind.to_lowercase()))
            }),
            computed("Message", |object| {
                Value::String(
                    object
                        .get("message")
                        .or_else(|| object.get("note"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                )
            }),
        ],
        ("apps", "Deployment") | ("apps", "StatefulSet") => {
            let mut columns = vec![computed("Ready", |object| {
                Value::String(format!(
                    "{}/{}",
                    number(object, "/status/readyReplicas"),
                    object
                        .pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                ))
            })];
            if kind == "Deployment" {
                columns.push(computed("Up-to-date", |object| {
                    Value::from(number(object, "/status/updatedReplicas"))
                }));
                columns.push(computed("Available", |object| {
                    Value::from(number(object, "/status/availableReplicas"))
                }));
            }
            columns.push(age());
            columns
        }
        ("apps", "ReplicaSet") => vec![
            computed("Desired", |object| {
                Value::from(
                    object
                        .pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1),
                )
            }),
            computed("Current", |object| {
                Value::from(number(object, "/status/replicas"))
            }),
            computed("Ready", |object| {
                Value::from(number(object, "/status/readyReplicas"))
            }),
            age(),
        ],
        ("apps", "DaemonSet") => vec![
            computed("Desired", |object| {
                Value::from(number(object, "/status/desiredNumberScheduled"))
            }),
            computed("Current", |object| {
                Value::from(number(object, "/status/currentNumberScheduled"))
            }),
            computed("Ready", |object| {
                Value::from(number(object, "/status/numberReady"))
            }),
            age(),
        ],
        ("batch", "Job") => vec![
            computed("Completions", |object| {
                Value::String(format!(
                    "{}/{}",
                    number(object, "/status/succeeded"),
                    object
                        .pointer("/spec/completions")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                ))
            }),
            age(),
        ],
        ("batch", "CronJob") => vec![
            path("Schedule", ".spec.schedule"),
            computed("Suspend", |object| {
                Value::String(
                    if object.pointer("/spec/suspend") == Some(&Value::Bool(true)) {
                        "True".into()
                    } else {
                        "False".into()
                    },
                )
            }),
            computed("Active", |object| {
                Value::from(
                    object
                        .pointer("/status/active")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len),
                )
            }),
            age(),
        ],
        ("networking.k8s.io", "Ingress") => vec![
            computed("Class", |object| {
                or_none(text(object, "/spec/ingressClassName"))
            }),
            computed("Hosts", |object| {
                let hosts: Vec<String> = object
                    .pointer("/spec/rules")
                    .and_then(Value::as_array)
                    .map(|rules| {
                        rules
                            .iter()
                            .filter_map(|rule| rule.get("host").and_then(Value::as_str))
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                Value::String(if hosts.is_empty() {
                    "*".into()
                } else {
                    hosts.join(",")
                })
            }),
            age(),
        ],
        ("", "PersistentVolumeClaim") => vec![
            path("Status", ".status.phase"),
            path("Volume", ".spec.volumeName"),
            path("StorageClass", ".spec.storageClassName"),
            age(),
        ],
        ("rbac.authorization.k8s.io", "RoleBinding")
        | ("rbac.authorization.k8s.io", "ClusterRoleBinding") => vec![
            computed("Role", |object| {
                Value::String(format!(
                    "{}/{}",
                    text(object, "/roleRef/kind"),
                    text(object, "/roleRef/name")
                ))
            }),
            age(),
        ],
        ("autoscaling", "HorizontalPodAutoscaler") => vec![
            computed("Reference", |object| {
                Value::String(format!(
                    "{}/{}",
                    text(object, "/spec/scaleTargetRef/kind"),
                    text(object, "/spec/scaleTargetRef/name")
                ))
            }),
            computed("MinPods", |object| {
                Value::from(
                    object
                        .pointer("/spec/minReplicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1),
                )
            }),
            computed("MaxPods", |object| {
                Value::from(number(object, "/spec/maxReplicas"))
            }),
            computed("Replicas", |object| {
                Value::from(number(object, "/status/currentReplicas"))
            }),
            age(),
        ],
        ("coordination.k8s.io", "Lease") => vec![path("Holder", ".spec.holderIdentity"), age()],
        ("apiextensions.k8s.io", "CustomResourceDefinition")
        | ("rbac.authorization.k8s.io", "Role")
        | ("rbac.authorization.k8s.io", "ClusterRole") => vec![PrinterColumn {
            column_type: "date".into(),
            ..path("Created At", ".metadata.creationTimestamp")
        }],
        _ => vec![age()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_has_a_plural_and_a_list_kind() {
        for resource in builtin_types() {
            assert!(!resource.plural.is_empty(), "{}", resource.kind);
            assert!(resource.list_kind.ends_with("List"));
        }
    }

    #[test]
    fn deployments_have_status_scale_and_generation() {
        let types = builtin_types();
        let deployment = types
            .iter()
            .find(|resource| resource.kind == "Deployment")
            .cloned();
        let Some(deployment) = deployment else {
            panic!("no Deployment in the table");
        };
        assert!(deployment.has_status && deployment.tracks_generation);
        assert!(deployment.scale.is_some());
        assert_eq!(deployment.api_version(), "apps/v1");
    }
}
