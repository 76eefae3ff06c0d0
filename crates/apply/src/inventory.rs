//! The inventory of applied objects and the stale-object diff that drives pruning
//! (kustomize-controller `internal/inventory`, fluxcd/pkg `ssa/manager_delete.go`).
//!
//! An inventory entry is `{id: "<namespace>_<name>_<group>_<kind>", v: "<version>"}`. After
//! an apply, the new inventory lists every object of the change set (skipped ones included);
//! the objects of the previous inventory that are not in the new one are stale and, with
//! `prune: true`, deleted in reverse apply order — but only objects that still carry this
//! Kustomization's owner labels and have not opted out.

use std::collections::BTreeSet;

use eddy_api::kustomize::v1::{InvalidObjectId, ObjectId, ResourceInventory, ResourceRef};
use eddy_api::meta::annotations::{KUSTOMIZE_PRUNE, KUSTOMIZE_RECONCILE, KUSTOMIZE_SSA};
use eddy_api::meta::labels::{KUSTOMIZE_NAME, KUSTOMIZE_NAMESPACE};
use serde_json::Value;

use crate::changeset::ChangeSet;
use crate::object::{ObjectRef, any_in_metadata, labels, set_labels};
use crate::policy::{DISABLED, IGNORE};
use crate::stages::sort_references;

/// The inventory of a change set: one entry per object, in change-set order
/// (`inventory.AddChangeSet`).
pub fn inventory_of(change_set: &ChangeSet) -> ResourceInventory {
    ResourceInventory {
        entries: change_set
            .entries
            .iter()
            .map(|entry| ResourceRef {
                id: entry.object.id().to_id(),
                version: entry.object.version.clone(),
            })
            .collect(),
    }
}

fn reference(id: &ObjectId, version: &str) -> ObjectRef {
    ObjectRef {
        group: id.group.clone(),
        version: version.to_string(),
        kind: id.kind.clone(),
        namespace: id.namespace.clone(),
        name: id.name.clone(),
    }
}

/// The objects of an inventory in apply order (`inventory.List`).
pub fn list(inventory: &ResourceInventory) -> Result<Vec<ObjectRef>, InvalidObjectId> {
    let mut references = inventory
        .entries
        .iter()
        .map(|entry| Ok(reference(&entry.object_id()?, &entry.version)))
        .collect::<Result<Vec<_>, InvalidObjectId>>()?;
    sort_references(&mut references);
    Ok(references)
}

/// The objects of `previous` that are not in `current`, compared by namespace, name, group
/// and kind (not version), in apply order (`inventory.Diff`).
pub fn stale_objects(
    previous: &ResourceInventory,
    current: &ResourceInventory,
) -> Result<Vec<ObjectRef>, InvalidObjectId> {
    let current_ids = current
        .entries
        .iter()
        .map(ResourceRef::object_id)
        .collect::<Result<BTreeSet<_>, _>>()?;
    let mut stale = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in &previous.entries {
        let id = entry.object_id()?;
        if !current_ids.contains(&id) && seen.insert(id.clone()) {
            stale.push(reference(&id, &entry.version));
        }
    }
    sort_references(&mut stale);
    Ok(stale)
}

/// Adds objects to an inventory unless already present (`inventory.Merge`): objects whose
/// delete was not confirmed stay tracked so the next reconcile retries.
pub fn merge(inventory: &mut ResourceInventory, objects: &[ObjectRef]) {
    let mut seen: BTreeSet<String> = inventory
        .entries
        .iter()
        .map(|entry| entry.id.clone())
        .collect();
    for object in objects {
        let id = object.id().to_id();
        if seen.insert(id.clone()) {
            inventory.entries.push(ResourceRef {
                id,
                version: object.version.clone(),
            });
        }
    }
}

/// The owner of applied objects: a Kustomization's name and namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The Kustomization's name.
    pub name: String,
    /// The Kustomization's namespace.
    pub namespace: String,
}

impl Owner {
    /// Builds an owner.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
        }
    }

    /// Stamps `kustomize.toolkit.fluxcd.io/name` and `/namespace` on an object
    /// (`SetOwnerLabels`).
    pub fn label(&self, object: &mut Value) {
        set_labels(
            object,
            &[
                (KUSTOMIZE_NAME, self.name.as_str()),
                (KUSTOMIZE_NAMESPACE, self.namespace.as_str()),
            ],
        );
    }

    /// Whether an object carries exactly this owner's labels.
    pub fn owns(&self, object: &Value) -> bool {
        let labels = labels(object);
        labels.get(KUSTOMIZE_NAME) == Some(&self.name.as_str())
            && labels.get(KUSTOMIZE_NAMESPACE) == Some(&self.namespace.as_str())
    }
}

/// Why a stale object is or is not deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PruneDecision {
    /// Delete it.
    Delete,
    /// It no longer carries this owner's labels (another Kustomization took it over, or
    /// someone removed them); leave it.
    NotOwned,
    /// `prune: disabled`, `reconcile: disabled` or `ssa: Ignore`; leave it.
    OptedOut,
}

/// Whether a stale object, as it is in the cluster, may be deleted (the inclusion and
/// exclusion selectors kustomize-controller passes to `DeleteAll`).
pub fn prune_decision(existing: &Value, owner: &Owner) -> PruneDecision {
    if !owner.owns(existing) {
        return PruneDecision::NotOwned;
    }
    if any_in_metadata(
        existing,
        &[
            (KUSTOMIZE_PRUNE, DISABLED),
            (KUSTOMIZE_RECONCILE, DISABLED),
            (KUSTOMIZE_SSA, IGNORE),
        ],
    ) {
        return PruneDecision::OptedOut;
    }
    PruneDecision::Delete
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::changeset::{Action, ChangeSetEntry};

    fn inventory(entries: &[(&str, &str)]) -> ResourceInventory {
        ResourceInventory {
            entries: entries
                .iter()
                .map(|(id, version)| ResourceRef {
                    id: (*id).to_string(),
                    version: (*version).to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn inventory_of_a_change_set_lists_ids_and_versions() {
        let change_set = ChangeSet {
            entries: vec![
                ChangeSetEntry::new(
                    ObjectRef::of(&json!({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": "dev"}})),
                    Action::Created,
                ),
                ChangeSetEntry::new(
                    ObjectRef::of(&json!({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": "podinfo", "namespace": "default"}})),
                    Action::Skipped,
                ),
                ChangeSetEntry::new(
                    ObjectRef::of(&json!({"apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "ClusterRole", "metadata": {"name": "system:reader"}})),
                    Action::Unchanged,
                ),
            ],
        };
        assert_eq!(
            inventory_of(&change_set),
            inventory(&[
                ("_dev__Namespace", "v1"),
                ("default_podinfo__Service", "v1"),
                (
                    "_system__reader_rbac.authorization.k8s.io_ClusterRole",
                    "v1"
                ),
            ])
        );
    }

    #[test]
    fn stale_objects_are_those_missing_from_the_new_inventory_in_apply_order() {
        let previous = inventory(&[
            ("dev_app_apps_Deployment", "v1"),
            ("dev_svc__Service", "v1"),
            ("_dev__Namespace", "v1"),
            ("dev_cfg__ConfigMap", "v1"),
        ]);
        let current = inventory(&[("dev_app_apps_Deployment", "v1"), ("_dev__Namespace", "v1")]);
        let stale = stale_objects(&previous, &current).unwrap_or_default();
        let subjects: Vec<String> = stale.iter().map(ObjectRef::subject).collect();
        assert_eq!(subjects, ["ConfigMap/dev/cfg", "Service/dev/svc"]);
        assert_eq!(stale[0].version, "v1");
    }

    #[test]
    fn version_change_is_not_stale() {
        let previous = inventory(&[("dev_w_example.com_Widget", "v1beta1")]);
        let current = inventory(&[("dev_w_example.com_Widget", "v1")]);
        assert_eq!(stale_objects(&previous, &current), Ok(Vec::new()));
    }

    #[test]
    fn malformed_inventory_id_is_an_error() {
        let previous = inventory(&[("nonsense", "v1")]);
        assert!(stale_objects(&previous, &ResourceInventory::default()).is_err());
    }

    #[test]
    fn listing_an_inventory_sorts_it_in_apply_order() {
        let listed = list(&inventory(&[
            ("dev_app_apps_Deployment", "v1"),
            ("_dev__Namespace", "v1"),
        ]))
        .unwrap_or_default();
        let kinds: Vec<&str> = listed.iter().map(|object| object.kind.as_str()).collect();
        assert_eq!(kinds, ["Namespace", "Deployment"]);
    }

    #[test]
    fn merging_keeps_existing_entries_once() {
        let mut current = inventory(&[("dev_cfg__ConfigMap", "v1")]);
        let survivor = ObjectRef::of(&json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "svc", "namespace": "dev"}}));
        let existing = ObjectRef::of(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "dev"}}));
        merge(&mut current, &[survivor.clone(), existing, survivor]);
        assert_eq!(
            current,
            inventory(&[("dev_cfg__ConfigMap", "v1"), ("dev_svc__Service", "v1")])
        );
    }

    fn owned(extra_labels: Value, annotations: Value) -> Value {
        let mut labels = json!({
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system"
        });
        if let (Some(labels), Some(extra)) = (labels.as_object_mut(), extra_labels.as_object()) {
            labels.extend(extra.clone());
        }
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": labels, "annotations": annotations}})
    }

    #[test]
    fn owned_stale_object_is_deleted() {
        let owner = Owner::new("apps", "flux-system");
        assert_eq!(
            prune_decision(&owned(json!({}), json!({})), &owner),
            PruneDecision::Delete
        );
    }

    #[test]
    fn object_of_another_owner_is_not_pruned() {
        let owner = Owner::new("infra", "flux-system");
        assert_eq!(
            prune_decision(&owned(json!({}), json!({})), &owner),
            PruneDecision::NotOwned
        );
        let unlabelled =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(
            prune_decision(&unlabelled, &Owner::new("apps", "flux-system")),
            PruneDecision::NotOwned
        );
    }

    #[test]
    fn opted_out_objects_are_not_pruned() {
        let owner = Owner::new("apps", "flux-system");
        for (labels, annotations) in [
            (
                json!({}),
                json!({"kustomize.toolkit.fluxcd.io/prune": "disabled"}),
            ),
            (
                json!({"kustomize.toolkit.fluxcd.io/prune": "Disabled"}),
                json!({}),
            ),
            (
                json!({}),
                json!({"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}),
            ),
            (
                json!({}),
                json!({"kustomize.toolkit.fluxcd.io/ssa": "Ignore"}),
            ),
        ] {
            assert_eq!(
                prune_decision(&owned(labels, annotations), &owner),
                PruneDecision::OptedOut
            );
        }
    }

    #[test]
    fn owner_labels_are_stamped() {
        let mut object =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        let owner = Owner::new("apps", "flux-system");
        owner.label(&mut object);
        assert!(owner.owns(&object));
        assert_eq!(
            object["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"],
            "apps"
        );
    }
}
