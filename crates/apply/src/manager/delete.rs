//! Pruning: delete stale objects in reverse apply order, only those the owner still owns and
//! that have not opted out (fluxcd/pkg `ssa/manager_delete.go` with kustomize-controller's
//! selectors).

use kube::api::{DeleteParams, PropagationPolicy};

use super::ResourceManager;
use super::error::{ApiFailure, ApplyError};
use crate::changeset::{Action, ChangeSet, ChangeSetEntry};
use crate::inventory::{Owner, PruneDecision, prune_decision};
use crate::object::ObjectRef;
use crate::stages::sort_references;

/// How stale objects are deleted.
#[derive(Clone, Debug)]
pub struct DeleteOptions {
    /// Only objects carrying this owner's labels are deleted.
    pub owner: Owner,
    /// Background (Flux's default), foreground or orphan propagation.
    pub propagation: PropagationPolicy,
}

impl DeleteOptions {
    /// Background deletion of objects owned by `owner`.
    pub fn new(owner: Owner) -> Self {
        Self {
            owner,
            propagation: PropagationPolicy::Background,
        }
    }
}

impl ResourceManager {
    /// Deletes objects in reverse apply order (`DeleteAll`). Every object gets an entry:
    /// `deleted` (also when already gone), `skipped` (not owned, or opted out), or `unknown`
    /// when the read or delete failed; failures are collected into one error, returned with
    /// the change set so the caller can keep unconfirmed objects in the inventory.
    pub async fn delete_all(
        &self,
        objects: &[ObjectRef],
        options: &DeleteOptions,
    ) -> (ChangeSet, Result<(), ApplyError>) {
        let mut ordered = objects.to_vec();
        sort_references(&mut ordered);
        ordered.reverse();
        let mut change_set = ChangeSet::new();
        let mut errors = String::new();
        for object in ordered {
            let (action, error) = self.delete_one(&object, options).await;
            change_set.push(ChangeSetEntry::new(object, action));
            if let Some(error) = error {
                errors.push_str(&error);
                errors.push(';');
            }
        }
        let result = if errors.is_empty() {
            Ok(())
        } else {
            Err(ApplyError::Delete { errors })
        };
        (change_set, result)
    }

    async fn delete_one(
        &self,
        object: &ObjectRef,
        options: &DeleteOptions,
    ) -> (Action, Option<String>) {
        let subject = object.subject();
        let kind = match self.resolve(object).await {
            Ok(Some(kind)) => kind,
            // The kind is no longer served (its CRD went first): nothing left to delete.
            Ok(None) => return (Action::Deleted, None),
            Err(failure) => {
                return (
                    Action::Unknown,
                    Some(format!("{subject} query failed: {failure}")),
                );
            }
        };
        let api = self.api(&kind, &object.namespace);
        let existing = match self.get(&api, &object.name).await {
            Ok(Some(existing)) => existing,
            Ok(None) => return (Action::Deleted, None),
            Err(failure) => {
                return (
                    Action::Unknown,
                    Some(format!("{subject} query failed: {failure}")),
                );
            }
        };
        if prune_decision(&existing, &options.owner) != PruneDecision::Delete {
            return (Action::Skipped, None);
        }
        let params = DeleteParams {
            propagation_policy: Some(options.propagation.clone()),
            ..DeleteParams::default()
        };
        match api.delete(&object.name, &params).await {
            Ok(_) => (Action::Deleted, None),
            Err(error) => {
                let failure = ApiFailure::from_kube(&error);
                if failure.is_not_found() {
                    (Action::Deleted, None)
                } else {
                    (
                        Action::Unknown,
                        Some(format!("{subject} delete failed: {failure}")),
                    )
                }
            }
        }
    }
}
