//! Garbage collection (KC `prune`, `finalize`): stale objects, those in the previous inventory
//! and not in the new one, are deleted in reverse apply order when `prune: true`, only while
//! they still carry this Kustomization's owner labels and have not opted out. Objects whose
//! delete was not confirmed stay in the inventory so the next reconcile retries them.

use eddy_api::kustomize::v1::{DeletionPolicy, Kustomization, ResourceInventory};
use eddy_apply::inventory::{Owner, merge};
use eddy_apply::manager::{DeleteOptions, ResourceManager};
use eddy_apply::{Action, ChangeSet, ObjectRef};

/// The owner of a Kustomization's objects.
pub fn owner_of(kustomization: &Kustomization) -> Owner {
    Owner::new(
        kustomization.metadata.name.clone().unwrap_or_default(),
        kustomization.metadata.namespace.clone().unwrap_or_default(),
    )
}

/// Deletes `stale` objects. Returns the change set when something was deleted or skipped; on
/// failure the objects not confirmed deleted are merged back into `inventory`.
pub async fn prune(
    manager: &ResourceManager,
    kustomization: &Kustomization,
    stale: &[ObjectRef],
    inventory: &mut ResourceInventory,
) -> Result<Option<ChangeSet>, String> {
    if !kustomization.spec.prune || stale.is_empty() {
        return Ok(None);
    }
    let (change_set, result) = manager
        .delete_all(stale, &DeleteOptions::new(owner_of(kustomization)))
        .await;
    if let Err(error) = result {
        let survivors: Vec<ObjectRef> = change_set
            .entries
            .iter()
            .filter(|entry| !matches!(entry.action, Action::Deleted | Action::Skipped))
            .map(|entry| entry.object.clone())
            .collect();
        merge(inventory, &survivors);
        return Err(error.to_string());
    }
    Ok((!change_set.is_empty()).then_some(change_set))
}

/// Whether deleting the Kustomization deletes its objects (KC `finalizerShouldDeleteResources`):
/// never when suspended or without inventory, else per `deletionPolicy`.
pub fn deletes_objects(kustomization: &Kustomization) -> bool {
    if kustomization.spec.suspend.unwrap_or(false) {
        return false;
    }
    let has_inventory = kustomization
        .status
        .as_ref()
        .and_then(|status| status.inventory.as_ref())
        .is_some_and(|inventory| !inventory.entries.is_empty());
    has_inventory && kustomization.spec.deletes_objects_on_delete()
}

/// Whether deletion waits for the deleted objects to be gone.
pub fn waits_for_termination(kustomization: &Kustomization) -> bool {
    kustomization.spec.get_deletion_policy() == DeletionPolicy::WaitForTermination
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kustomization(spec: serde_json::Value, entries: usize) -> Kustomization {
        let mut full = json!({"interval": "1m", "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "repo"}});
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            full.extend(extra.clone());
        }
        let entries: Vec<serde_json::Value> = (0..entries)
            .map(|index| json!({"id": format!("dev_cfg{index}__ConfigMap"), "v": "v1"}))
            .collect();
        serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"}, "spec": full,
            "status": {"inventory": {"entries": entries}}}))
        .unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn deletion_follows_the_policy_and_spares_suspended_objects() {
        assert!(deletes_objects(&kustomization(json!({}), 1)));
        assert!(!deletes_objects(&kustomization(json!({}), 0)));
        assert!(!deletes_objects(&kustomization(json!({"prune": false}), 1)));
        assert!(deletes_objects(&kustomization(
            json!({"prune": false, "deletionPolicy": "Delete"}),
            1
        )));
        assert!(!deletes_objects(&kustomization(
            json!({"deletionPolicy": "Orphan"}),
            1
        )));
        assert!(!deletes_objects(&kustomization(
            json!({"suspend": true}),
            1
        )));
        assert!(waits_for_termination(&kustomization(
            json!({"deletionPolicy": "WaitForTermination"}),
            1
        )));
    }
}
