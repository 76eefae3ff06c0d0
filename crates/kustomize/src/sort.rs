//! Output order: kustomize's legacy kind order by default, or `sortOptions` from the top-level
//! kustomization (`fifo` keeps the accumulation order; `legacy` may list its own kinds).

use crate::Error;
use crate::kustomization::Kustomization;
use crate::resource::{Gvk, ResId, Resource};
use crate::value::Value;

const DEFAULT_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const DEFAULT_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// kustomize's `Gvk.IsLessThan` key: legacy kind rank, then `group_version_kind`.
pub(crate) fn gvk_order_key(gvk: &Gvk) -> (i64, String) {
    let rank = if let Some(position) = DEFAULT_FIRST.iter().position(|item| *item == gvk.kind) {
        position as i64 - DEFAULT_FIRST.len() as i64
    } else if let Some(position) = DEFAULT_LAST.iter().position(|item| *item == gvk.kind) {
        1 + position as i64
    } else {
        0
    };
    (rank, gvk_sort_string(gvk))
}

fn gvk_sort_string(gvk: &Gvk) -> String {
    let or = |text: &str, blank: &str| {
        if text.is_empty() {
            blank.to_string()
        } else {
            text.to_string()
        }
    };
    format!(
        "{}_{}_{}",
        or(&gvk.group, "~G"),
        or(&gvk.version, "~V"),
        or(&gvk.kind, "~K")
    )
}

fn id_sort_string(id: &ResId) -> String {
    let namespace = if id.namespace.is_empty() {
        "~X"
    } else {
        &id.namespace
    };
    let name = if id.name.is_empty() { "~N" } else { &id.name };
    format!("{}|{}|{}", id.gvk.display(), namespace, name)
}

fn legacy_sort(resources: &mut [Resource], first: &[String], last: &[String]) {
    let rank = |kind: &str| -> i64 {
        if let Some(position) = first.iter().position(|item| item == kind) {
            position as i64 - first.len() as i64
        } else if let Some(position) = last.iter().position(|item| item == kind) {
            1 + position as i64
        } else {
            0
        }
    };
    resources.sort_by(|left, right| {
        let (a, b) = (left.current_id(), right.current_id());
        if a.gvk != b.gvk {
            let (rank_a, rank_b) = (rank(&a.gvk.kind), rank(&b.gvk.kind));
            if rank_a != rank_b {
                return rank_a.cmp(&rank_b);
            }
            if a.gvk.kind == "Namespace"
                && b.gvk.kind == "Namespace"
                && (a.gvk.group.is_empty() || b.gvk.group.is_empty())
            {
                return gvk_sort_string(&b.gvk).cmp(&gvk_sort_string(&a.gvk));
            }
            return gvk_sort_string(&a.gvk).cmp(&gvk_sort_string(&b.gvk));
        }
        id_sort_string(&a).cmp(&id_sort_string(&b))
    });
}

/// Orders the final resources.
pub(crate) fn apply(
    kustomization: &Kustomization,
    resources: &mut [Resource],
) -> Result<(), Error> {
    let strings = |list: &[&str]| list.iter().map(|item| item.to_string()).collect::<Vec<_>>();
    let Some(options) = kustomization.get("sortOptions") else {
        legacy_sort(resources, &strings(DEFAULT_FIRST), &strings(DEFAULT_LAST));
        return Ok(());
    };
    let order = options.get("order").and_then(Value::as_str).unwrap_or("");
    let legacy_options = options
        .get("legacySortOptions")
        .filter(|value| !value.is_null());
    match order {
        "fifo" => {
            if legacy_options.is_some() {
                return Err(Error::Build(
                    "the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'".into(),
                ));
            }
            Ok(())
        }
        "legacy" => {
            let (first, last) = match legacy_options {
                None => (strings(DEFAULT_FIRST), strings(DEFAULT_LAST)),
                Some(options) => {
                    let list = |key: &str| -> Vec<String> {
                        options
                            .get(key)
                            .and_then(Value::as_seq)
                            .map(|items| items.iter().filter_map(Value::scalar_text).collect())
                            .unwrap_or_default()
                    };
                    (list("orderFirst"), list("orderLast"))
                }
            };
            legacy_sort(resources, &first, &last);
            Ok(())
        }
        _ => Err(Error::Build(
            "the field 'sortOptions.order' must be one of [fifo, legacy]".into(),
        )),
    }
}
