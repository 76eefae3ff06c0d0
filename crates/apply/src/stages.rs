//! Apply stages and the kind order within them (fluxcd/pkg `ssa/manager_apply.go`
//! `ApplyAllStaged`, `ssa/sort.go`, `ssa/utils/is.go`).
//!
//! Objects that others depend on go first and are waited for: CRDs, Namespaces and
//! ClusterRoles, then every `*Class` kind (StorageClass, IngressClass, …). Kinds named with
//! `--custom-apply-stage-kinds` follow without a wait, then everything else. Within a stage
//! objects are sorted by a fixed kind order (Namespaces before ServiceAccounts before
//! Deployments, webhook configurations last), then by namespace and name; pruning deletes in
//! the reverse order.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::Value;

use crate::object::{ObjectRef, text};

/// Kinds ordered first, in this order (`ReconcileOrder.First`).
pub const FIRST_KINDS: [&str; 23] = [
    "CustomResourceDefinition",
    "Namespace",
    "ClusterRole",
    "ClusterClass",
    "RuntimeClass",
    "PriorityClass",
    "StorageClass",
    "VolumeSnapshotClass",
    "IngressClass",
    "GatewayClass",
    "ClusterRoleBinding",
    "ResourceQuota",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds ordered last, in this order (`ReconcileOrder.Last`).
pub const LAST_KINDS: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// An API group and kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKind {
    /// API group, empty for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
}

impl GroupKind {
    /// Builds a group and kind.
    pub fn new(group: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            kind: kind.into(),
        }
    }
}

/// Parses `--custom-apply-stage-kinds`: comma-separated `group/Kind` (or `Kind` for the core
/// group) entries (fluxcd/pkg `ParseGroupKindSet`).
pub fn parse_group_kinds(text: &str) -> BTreeSet<GroupKind> {
    if text.is_empty() {
        return BTreeSet::new();
    }
    text.split(',')
        .map(|item| match item.trim().split_once('/') {
            Some((group, kind)) => GroupKind::new(group, kind),
            None => GroupKind::new("", item.trim()),
        })
        .collect()
}

/// The stage an object is applied in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// CRDs, Namespaces and ClusterRoles; waited for before the next stage.
    Definitions,
    /// `*Class` kinds; waited for before the next stage.
    Classes,
    /// `--custom-apply-stage-kinds`; not waited for.
    Custom,
    /// Everything else.
    Resources,
}

impl Stage {
    /// The stages in the order they run.
    pub const ALL: [Stage; 4] = [
        Stage::Definitions,
        Stage::Classes,
        Stage::Custom,
        Stage::Resources,
    ];

    /// Whether the stage's objects must be healthy before the next stage starts.
    pub fn waits(self) -> bool {
        matches!(self, Stage::Definitions | Stage::Classes)
    }
}

/// A CustomResourceDefinition (`IsCRD`).
pub fn is_custom_resource_definition(object: &Value) -> bool {
    text(object, "/kind").eq_ignore_ascii_case("customresourcedefinition")
        && text(object, "/apiVersion").starts_with("apiextensions.k8s.io/")
}

/// A core Namespace (`IsNamespace`).
pub fn is_namespace(object: &Value) -> bool {
    text(object, "/kind").eq_ignore_ascii_case("namespace") && text(object, "/apiVersion") == "v1"
}

/// A ClusterRole (`IsClusterRole`).
pub fn is_cluster_role(object: &Value) -> bool {
    text(object, "/kind").eq_ignore_ascii_case("clusterrole")
        && text(object, "/apiVersion").starts_with("rbac.authorization.k8s.io/")
}

/// A CRD, Namespace or ClusterRole (`IsClusterDefinition`).
pub fn is_cluster_definition(object: &Value) -> bool {
    is_custom_resource_definition(object) || is_namespace(object) || is_cluster_role(object)
}

/// A kind whose name ends in `Class` (`IsClassDefinition`).
pub fn is_class_definition(object: &Value) -> bool {
    text(object, "/kind").ends_with("Class")
}

/// The stage of one object.
pub fn stage_of(object: &Value, custom_stage_kinds: &BTreeSet<GroupKind>) -> Stage {
    let reference = ObjectRef::of(object);
    let group_kind = GroupKind::new(reference.group, reference.kind);
    if is_cluster_definition(object) {
        Stage::Definitions
    } else if is_class_definition(object) {
        Stage::Classes
    } else if custom_stage_kinds.contains(&group_kind) {
        Stage::Custom
    } else {
        Stage::Resources
    }
}

/// Splits objects into stages, keeping their relative order; empty stages are left out.
pub fn split_into_stages(
    objects: Vec<Value>,
    custom_stage_kinds: &BTreeSet<GroupKind>,
) -> Vec<(Stage, Vec<Value>)> {
    let mut stages: Vec<(Stage, Vec<Value>)> = Stage::ALL
        .iter()
        .map(|stage| (*stage, Vec::new()))
        .collect();
    for object in objects {
        let stage = stage_of(&object, custom_stage_kinds);
        if let Some((_, members)) = stages.iter_mut().find(|(candidate, _)| *candidate == stage) {
            members.push(object);
        }
    }
    stages.retain(|(_, members)| !members.is_empty());
    stages
}

/// The position of a kind in the reconcile order: negative for the first kinds, positive
/// for the last, zero for all others.
pub fn kind_rank(kind: &str) -> i32 {
    let first = FIRST_KINDS.len() as i32;
    if let Some(index) = FIRST_KINDS.iter().position(|candidate| *candidate == kind) {
        return index as i32 - first;
    }
    if let Some(index) = LAST_KINDS.iter().position(|candidate| *candidate == kind) {
        return 1 + index as i32;
    }
    0
}

/// The apply order of two objects: kind rank, then group, kind, namespace and name.
pub fn compare(left: &ObjectRef, right: &ObjectRef) -> Ordering {
    if left.group != right.group || left.kind != right.kind {
        return kind_rank(&left.kind)
            .cmp(&kind_rank(&right.kind))
            .then_with(|| left.group.cmp(&right.group))
            .then_with(|| left.kind.cmp(&right.kind));
    }
    left.namespace
        .cmp(&right.namespace)
        .then_with(|| left.name.cmp(&right.name))
}

/// Sorts objects into apply order.
pub fn sort_objects(objects: &mut [Value]) {
    objects.sort_by_cached_key(|object| {
        let reference = ObjectRef::of(object);
        (
            kind_rank(&reference.kind),
            reference.group,
            reference.kind,
            reference.namespace,
            reference.name,
        )
    });
}

/// Sorts references into apply order (reverse it for deletion).
pub fn sort_references(references: &mut [ObjectRef]) {
    references.sort_by(compare);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(api_version: &str, kind: &str, namespace: &str, name: &str) -> Value {
        json!({"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": namespace}})
    }

    #[test]
    fn definitions_classes_custom_kinds_and_the_rest_are_separate_stages() {
        let custom = parse_group_kinds("example.com/Widget");
        let objects = vec![
            object("apps/v1", "Deployment", "dev", "app"),
            object("example.com/v1", "Widget", "dev", "w"),
            object("storage.k8s.io/v1", "StorageClass", "", "fast"),
            object("v1", "Namespace", "", "dev"),
            object(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "",
                "widgets.example.com",
            ),
            object("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader"),
        ];
        let stages = split_into_stages(objects, &custom);
        let summary: Vec<(Stage, Vec<String>)> = stages
            .iter()
            .map(|(stage, members)| {
                (
                    *stage,
                    members
                        .iter()
                        .map(|member| ObjectRef::of(member).subject())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    Stage::Definitions,
                    vec![
                        "Namespace/dev".to_string(),
                        "CustomResourceDefinition/widgets.example.com".to_string(),
                        "ClusterRole/reader".to_string()
                    ]
                ),
                (Stage::Classes, vec!["StorageClass/fast".to_string()]),
                (Stage::Custom, vec!["Widget/dev/w".to_string()]),
                (Stage::Resources, vec!["Deployment/dev/app".to_string()]),
            ]
        );
    }

    #[test]
    fn only_definitions_and_classes_are_waited_for() {
        assert!(Stage::Definitions.waits());
        assert!(Stage::Classes.waits());
        assert!(!Stage::Custom.waits());
        assert!(!Stage::Resources.waits());
    }

    #[test]
    fn namespace_in_another_group_is_not_a_definition() {
        assert!(!is_namespace(&object(
            "example.com/v1",
            "Namespace",
            "",
            "n"
        )));
        assert!(is_namespace(&object("v1", "namespace", "", "n")));
        assert!(!is_cluster_role(&object("v1", "ClusterRole", "", "r")));
    }

    #[test]
    fn kinds_sort_in_flux_reconcile_order() {
        let mut objects = vec![
            object(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "",
                "v",
            ),
            object("example.com/v1", "Widget", "dev", "w"),
            object("apps/v1", "Deployment", "dev", "app"),
            object("v1", "Service", "dev", "svc"),
            object("v1", "ConfigMap", "dev", "cfg"),
            object("v1", "ServiceAccount", "dev", "sa"),
            object(
                "admissionregistration.k8s.io/v1",
                "MutatingWebhookConfiguration",
                "",
                "m",
            ),
            object("v1", "Namespace", "", "dev"),
            object(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "",
                "c",
            ),
        ];
        sort_objects(&mut objects);
        let kinds: Vec<String> = objects
            .iter()
            .map(|object| ObjectRef::of(object).kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "CustomResourceDefinition",
                "Namespace",
                "ServiceAccount",
                "ConfigMap",
                "Service",
                "Deployment",
                "Widget",
                "MutatingWebhookConfiguration",
                "ValidatingWebhookConfiguration",
            ]
        );
    }

    #[test]
    fn same_kind_sorts_by_namespace_then_name() {
        let mut references = vec![
            ObjectRef::of(&object("v1", "ConfigMap", "b", "a")),
            ObjectRef::of(&object("v1", "ConfigMap", "a", "z")),
            ObjectRef::of(&object("v1", "ConfigMap", "a", "b")),
        ];
        sort_references(&mut references);
        let subjects: Vec<String> = references.iter().map(ObjectRef::subject).collect();
        assert_eq!(
            subjects,
            ["ConfigMap/a/b", "ConfigMap/a/z", "ConfigMap/b/a"]
        );
    }

    #[test]
    fn unlisted_kinds_sort_by_group_then_kind() {
        let left = ObjectRef::of(&object("b.example.com/v1", "Alpha", "", "x"));
        let right = ObjectRef::of(&object("a.example.com/v1", "Zulu", "", "x"));
        assert_eq!(compare(&left, &right), Ordering::Greater);
    }

    #[test]
    fn kind_ranks_put_first_kinds_below_zero_and_last_kinds_above() {
        assert_eq!(kind_rank("CustomResourceDefinition"), -23);
        assert_eq!(kind_rank("PodDisruptionBudget"), -1);
        assert_eq!(kind_rank("Widget"), 0);
        assert_eq!(kind_rank("ValidatingWebhookConfiguration"), 2);
    }

    #[test]
    fn custom_stage_kinds_parse_with_and_without_group() {
        let kinds = parse_group_kinds("example.com/Widget, Gadget");
        assert!(kinds.contains(&GroupKind::new("example.com", "Widget")));
        assert!(kinds.contains(&GroupKind::new("", "Gadget")));
        assert!(parse_group_kinds("").is_empty());
    }
}
