//! Staged apply: every object of a stage is dry-run before any of it is applied.

use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use super::error::{ApiFailure, ApplyError, StagedApplyError};
use super::wait::WaitOptions;
use super::{ApplyOptions, ResourceManager, to_json};
use crate::changeset::{Action, ChangeSet, ChangeSetEntry};
use crate::drift::has_drifted;
use crate::ignore::{apply_resolutions, resolve_drift, without_ignored};
use crate::object::ObjectRef;
use crate::policy::{
    cleanup_patch, is_immutable_error, migrate_api_version_patch, remove_invalid_ca_bundle,
    should_recreate, should_skip_apply,
};
use crate::stages::{sort_objects, split_into_stages};

/// What phase 1 decided for one object.
struct Planned {
    entry: ChangeSetEntry,
    /// The object to apply and where, when it changed; `None` when unchanged or skipped.
    apply: Option<PlannedApply>,
}

struct PlannedApply {
    api: Api<DynamicObject>,
    desired: Value,
    cleanup: Option<Value>,
}

impl ResourceManager {
    /// Applies objects in Flux's stages (`ApplyAllStaged`): definitions, then classes (each
    /// waited for until Current), then custom stage kinds, then the rest. A failing stage
    /// stops the apply; the error carries the entries of the stages before it.
    pub async fn apply_all_staged(
        &self,
        objects: Vec<Value>,
        options: &ApplyOptions,
    ) -> Result<ChangeSet, StagedApplyError> {
        let mut change_set = ChangeSet::new();
        for (stage, members) in split_into_stages(objects, &options.custom_stage_kinds) {
            let stage_set = match self.apply_all(members, options).await {
                Ok(stage_set) => stage_set,
                Err(error) => return Err(StagedApplyError { change_set, error }),
            };
            let applied: Vec<ObjectRef> = stage_set
                .entries
                .iter()
                .map(|entry| entry.object.clone())
                .collect();
            change_set.extend(stage_set);
            if stage.waits() {
                let wait = WaitOptions {
                    interval: options.wait_interval,
                    timeout: options.wait_timeout,
                    fail_fast: false,
                    jobs_with_ttl: Vec::new(),
                };
                if let Err(error) = self.wait_for(&applied, &wait).await {
                    return Err(StagedApplyError { change_set, error });
                }
            }
        }
        Ok(change_set)
    }

    /// Applies one set of objects (`ApplyAll`): all are read and dry-run first, with
    /// `concurrency` at a time, and only if every dry run succeeds are the drifted ones
    /// applied, in kind order.
    pub async fn apply_all(
        &self,
        mut objects: Vec<Value>,
        options: &ApplyOptions,
    ) -> Result<ChangeSet, ApplyError> {
        sort_objects(&mut objects);
        let planned: Vec<Result<Planned, ApplyError>> = futures::stream::iter(objects)
            .map(|object| self.plan(object, options))
            .buffered(self.concurrency)
            .collect()
            .await;
        let planned = planned.into_iter().collect::<Result<Vec<_>, _>>()?;

        let mut change_set = ChangeSet::new();
        for Planned { entry, apply } in planned {
            if let Some(PlannedApply {
                api,
                desired,
                cleanup,
            }) = apply
            {
                let subject = entry.subject();
                let name = entry.object.name.clone();
                if let Some(cleanup) = cleanup {
                    self.patch_json(&api, &name, cleanup)
                        .await
                        .map_err(|failure| ApplyError::Cleanup {
                            subject: subject.clone(),
                            failure,
                        })?;
                }
                api.patch(&name, &self.apply_params(false), &Patch::Apply(&desired))
                    .await
                    .map_err(|error| ApplyError::Apply {
                        subject,
                        failure: ApiFailure::from_kube(&error),
                    })?;
            }
            change_set.push(entry);
        }
        Ok(change_set)
    }

    fn apply_params(&self, dry_run: bool) -> PatchParams {
        let params = PatchParams::apply(&self.field_manager).force();
        if dry_run { params.dry_run() } else { params }
    }

    async fn patch_json(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        operations: Value,
    ) -> Result<Value, ApiFailure> {
        let patch: json_patch::Patch =
            serde_json::from_value(operations).map_err(|error| ApiFailure {
                code: 0,
                reason: String::new(),
                message: error.to_string(),
                field_manager_conflict: false,
            })?;
        let params = PatchParams {
            field_manager: Some(self.field_manager.clone()),
            ..PatchParams::default()
        };
        api.patch(name, &params, &Patch::<()>::Json(patch))
            .await
            .map(|object| to_json(&object))
            .map_err(|error| ApiFailure::from_kube(&error))
    }

    /// Phase 1 for one object: read it, decide whether it is skipped, dry-run it
    /// (recreating it first when an immutable field changed and force allows), and work out
    /// whether it drifted.
    async fn plan(
        &self,
        mut desired: Value,
        options: &ApplyOptions,
    ) -> Result<Planned, ApplyError> {
        remove_invalid_ca_bundle(&mut desired);
        let reference = ObjectRef::of(&desired);
        let subject = reference.subject();
        if reference.kind.is_empty() || reference.version.is_empty() || reference.name.is_empty() {
            return Err(ApplyError::InvalidObject { subject });
        }
        let resolved = self
            .resolve(&reference)
            .await
            .map_err(|failure| ApplyError::Query {
                subject: subject.clone(),
                failure,
            })?;
        let Some(kind) = resolved else {
            // An excluded object is skipped even when its kind is not served (yet).
            if should_skip_apply(&desired, None) {
                return Ok(Planned {
                    entry: ChangeSetEntry::new(reference, Action::Skipped),
                    apply: None,
                });
            }
            return Err(ApplyError::UnknownKind {
                subject,
                api_version: reference.api_version(),
                kind: reference.kind,
            });
        };
        if kind.namespaced && reference.namespace.is_empty() {
            return Err(ApplyError::NamespaceNotSpecified { subject });
        }
        if !kind.namespaced
            && let Some(metadata) = desired.get_mut("metadata").and_then(Value::as_object_mut)
        {
            // The API server clears the namespace of cluster-scoped objects; clearing it
            // here keeps change-set entries and inventory ids free of it.
            metadata.remove("namespace");
        }
        let api = self.api(&kind, &reference.namespace);
        let existing =
            self.get(&api, &reference.name)
                .await
                .map_err(|failure| ApplyError::Query {
                    subject: subject.clone(),
                    failure,
                })?;

        if should_skip_apply(&desired, existing.as_ref()) {
            let source = existing.as_ref().unwrap_or(&desired);
            return Ok(Planned {
                entry: ChangeSetEntry::new(ObjectRef::of(source), Action::Skipped),
                apply: None,
            });
        }

        let mut existing = existing;
        let mut migrated = false;
        if options.migrate_api_version
            && let Some(live) = existing.as_ref()
            && let Some(patch) = migrate_api_version_patch(live, &reference.api_version())
        {
            let updated = self
                .patch_json(&api, &reference.name, patch)
                .await
                .map_err(|failure| ApplyError::Migrate {
                    subject: subject.clone(),
                    api_version: reference.api_version(),
                    failure,
                })?;
            existing = Some(updated);
            migrated = true;
        }

        let (dry_run, existing) = self
            .dry_run_or_recreate(&api, &desired, existing, &subject, options)
            .await?;

        let cleanup = existing.as_ref().and_then(|existing| {
            cleanup_patch(&desired, existing, &options.cleanup, &self.field_manager)
        });
        let rules = &options.drift_ignore_rules;
        let drifted = match existing.as_ref() {
            Some(live) if !rules.is_empty() => {
                let paths = rules.paths_for(&dry_run);
                has_drifted(
                    Some(&without_ignored(live, &paths)),
                    &without_ignored(&dry_run, &paths),
                )
            }
            _ => has_drifted(existing.as_ref(), &dry_run),
        };
        let entry_object = ObjectRef::of(&dry_run);
        let entry_object = if entry_object.name.is_empty() {
            reference
        } else {
            entry_object
        };
        if cleanup.is_none() && !drifted && !migrated {
            return Ok(Planned {
                entry: ChangeSetEntry::new(entry_object, Action::Unchanged),
                apply: None,
            });
        }
        let action = match existing.as_ref() {
            None => Action::Created,
            Some(live) => {
                if !rules.is_empty() {
                    let resolutions = resolve_drift(live, &dry_run, rules, &self.field_manager);
                    apply_resolutions(&mut desired, &resolutions);
                }
                Action::Configured
            }
        };
        Ok(Planned {
            entry: ChangeSetEntry::new(entry_object, action),
            apply: Some(PlannedApply {
                api,
                desired,
                cleanup,
            }),
        })
    }

    /// Dry-runs the apply; on an immutable-field error with force, deletes the existing
    /// object, waits for it to disappear and dry-runs again (then as a creation).
    async fn dry_run_or_recreate(
        &self,
        api: &Api<DynamicObject>,
        desired: &Value,
        existing: Option<Value>,
        subject: &str,
        options: &ApplyOptions,
    ) -> Result<(Value, Option<Value>), ApplyError> {
        let name = ObjectRef::of(desired).name;
        let failure = match self.dry_run(api, &name, desired).await {
            Ok(result) => return Ok((result, existing)),
            Err(failure) => failure,
        };
        let immutable = is_immutable_error(failure.code, &failure.message);
        if existing.is_none()
            || !should_recreate(desired, existing.as_ref(), options.force, immutable)
        {
            return Err(ApplyError::DryRun {
                subject: subject.to_string(),
                failure,
            });
        }
        tracing::info!(object = subject, "immutable field changed, recreating");
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(error) => {
                let failure = ApiFailure::from_kube(&error);
                if !failure.is_not_found() {
                    return Err(ApplyError::Recreate {
                        subject: subject.to_string(),
                        failure,
                    });
                }
            }
        }
        self.wait_until_gone(api, &name, options)
            .await
            .map_err(|message| ApplyError::RecreateWait {
                subject: subject.to_string(),
                message,
            })?;
        match self.dry_run(api, &name, desired).await {
            Ok(result) => Ok((result, None)),
            Err(failure) => Err(ApplyError::DryRun {
                subject: subject.to_string(),
                failure,
            }),
        }
    }

    async fn dry_run(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        desired: &Value,
    ) -> Result<Value, ApiFailure> {
        api.patch(name, &self.apply_params(true), &Patch::Apply(desired))
            .await
            .map(|object| to_json(&object))
            .map_err(|error| ApiFailure::from_kube(&error))
    }

    /// Polls until the object is gone (finalizers may hold it), for at most the wait
    /// timeout.
    async fn wait_until_gone(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        options: &ApplyOptions,
    ) -> Result<(), String> {
        let deadline = Instant::now() + options.wait_timeout;
        loop {
            match self.get(api, name).await {
                Ok(None) => return Ok(()),
                Ok(Some(_)) => {}
                Err(failure) => return Err(failure.to_string()),
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "object still exists after {}",
                    humanize(options.wait_timeout)
                ));
            }
            tokio::time::sleep(options.wait_interval.min(Duration::from_secs(2))).await;
        }
    }
}

fn humanize(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}
