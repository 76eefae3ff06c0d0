//! Server-side apply, after structured-merge-diff (the library kube-apiserver uses): every
//! manager owns a set of fields; an apply merges the configuration into the live object, takes
//! ownership of what it sets, removes what it set last time and no one owns any more, and fails
//! with a conflict when it would change a field another manager owns (unless forced). Other
//! writes (create, update, patch) are recorded as `Update` managers and take ownership of what
//! they changed without ever conflicting.
//!
//! `fieldpath` holds field sets and their encodings, `schema` the type information, `typed`
//! the schema-driven walks, and `managed` the translation to `metadata.managedFields`.

pub(crate) mod fieldpath;
pub(crate) mod managed;
pub(crate) mod schema;
pub(crate) mod typed;

#[cfg(test)]
mod corpus;

use std::collections::BTreeMap;

use serde_json::Value;

use fieldpath::{FieldSet, Path};
use schema::Schema;
use typed::{Comparison, Typed};

/// The fields one manager owns, at the version it last wrote.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Owned {
    /// Owned fields.
    pub(crate) set: FieldSet,
    /// API version of the manager's last write.
    pub(crate) api_version: String,
    /// Whether the last write was an apply.
    pub(crate) applied: bool,
}

/// Managers by identity.
pub(crate) type Managers = BTreeMap<String, Owned>;

/// Fields that would change under another manager.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Conflict {
    /// The manager's identity.
    pub(crate) manager: String,
    /// The field.
    pub(crate) path: Path,
}

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ApplyError {
    /// Fields owned by other managers would change.
    Conflicts(Vec<Conflict>),
    /// The configuration does not fit the schema (duplicate keys, ...).
    Invalid(String),
}

/// Runs applies and updates over one schema.
pub(crate) struct Updater<'s, 'a> {
    typed: Typed<'s, 'a>,
    /// Fields nobody may own (system metadata, the other half of a status subresource).
    ignored: FieldSet,
    /// Whether emptied containers become `null` (structured-merge-diff) or vanish (objects).
    keep_nulls: bool,
}

impl<'s, 'a> Updater<'s, 'a> {
    /// An updater; `ignored` paths are never owned or compared.
    pub(crate) fn new(schema: &'s Schema<'a>, ignored: FieldSet, keep_nulls: bool) -> Self {
        Updater {
            typed: Typed { schema },
            ignored,
            keep_nulls,
        }
    }

    /// The walks.
    pub(crate) fn typed(&self) -> &Typed<'s, 'a> {
        &self.typed
    }

    fn reconcile(&self, live: Option<&Value>, managers: &mut Managers) {
        let Some(live) = live else { return };
        for owned in managers.values_mut() {
            if let Some(reconciled) = self.typed.reconcile(live, &owned.set) {
                owned.set = reconciled;
            }
        }
    }

    fn compare(&self, old: Option<&Value>, new: &Value) -> Comparison {
        let mut comparison = self.typed.compare(old, Some(new));
        comparison.exclude(&self.ignored);
        comparison
    }

    /// structured-merge-diff's `update`: takes changed fields away from other managers (or
    /// reports them as conflicts when not forced).
    fn take_over(
        &self,
        old: Option<&Value>,
        new: &Value,
        managers: &mut Managers,
        workflow: &str,
        force: bool,
    ) -> Result<Comparison, Vec<Conflict>> {
        let comparison = self.compare(old, new);
        let changed = comparison.modified.union(&comparison.added);
        let mut conflicts = Vec::new();
        let mut taken: Vec<(String, FieldSet)> = Vec::new();
        for (manager, owned) in managers.iter() {
            if manager == workflow {
                continue;
            }
            let conflicting = owned.set.intersection(&changed);
            if !conflicting.is_empty() {
                conflicts.extend(conflicting.paths().into_iter().map(|path| Conflict {
                    manager: manager.clone(),
                    path,
                }));
                taken.push((manager.clone(), conflicting));
            }
        }
        if !force && !conflicts.is_empty() {
            return Err(conflicts);
        }
        for (manager, conflicting) in taken {
            if let Some(owned) = managers.get_mut(&manager) {
                owned.set = owned.set.difference(&conflicting);
            }
        }
        if !comparison.removed.is_empty() {
            for (manager, owned) in managers.iter_mut() {
                if manager != workflow {
                    owned.set = owned.set.difference(&comparison.removed);
                }
            }
        }
        managers.retain(|_, owned| !owned.set.is_empty());
        Ok(comparison)
    }

    /// A non-apply write of the whole object `new` by `manager`; returns whether it changed
    /// any field anyone may own.
    pub(crate) fn update(
        &self,
        live: Option<&Value>,
        new: &Value,
        api_version: &str,
        managers: &mut Managers,
        manager: &str,
    ) -> bool {
        self.reconcile(live, managers);
        let Ok(comparison) = self.take_over(live, new, managers, manager, true) else {
            return false;
        };
        let changed = !comparison.modified.is_empty() || !comparison.added.is_empty();
        let previous = managers
            .get(manager)
            .map(|owned| owned.set.clone())
            .unwrap_or_default();
        let set = previous
            .difference(&comparison.removed)
            .union(&comparison.modified)
            .union(&comparison.added)
            .recursive_difference(&self.ignored);
        if set.is_empty() {
            managers.remove(manager);
        } else {
            managers.insert(
                manager.to_string(),
                Owned {
                    set,
                    api_version: api_version.to_string(),
                    applied: false,
                },
            );
        }
        changed
    }

    /// Applies `config` as `manager`; returns the new object.
    pub(crate) fn apply(
        &self,
        live: Option<&Value>,
        config: &Value,
        api_version: &str,
        managers: &mut Managers,
        manager: &str,
        force: bool,
    ) -> Result<Value, ApplyError> {
        let empty = Value::Object(serde_json::Map::new());
        let base = live.unwrap_or(&empty);
        let merged = self
            .typed
            .merge(base, config)
            .map_err(ApplyError::Invalid)?;
        let mut candidate = managers.clone();
        self.reconcile(live, &mut candidate);
        let last = candidate.get(manager).cloned();
        let set = self
            .typed
            .field_set(config)
            .recursive_difference(&self.ignored);
        candidate.insert(
            manager.to_string(),
            Owned {
                set,
                api_version: api_version.to_string(),
                applied: true,
            },
        );
        let pruned = self.prune(&merged, &candidate, last.as_ref());
        self.take_over(live, &pruned, &mut candidate, manager, force)
            .map_err(ApplyError::Conflicts)?;
        *managers = candidate;
        Ok(pruned)
    }

    /// Removes what `manager` applied last time, does not apply now, and no one else owns.
    fn prune(&self, merged: &Value, managers: &Managers, last: Option<&Owned>) -> Value {
        let Some(last) = last.filter(|last| !last.set.is_empty()) else {
            return merged.clone();
        };
        let typed = &self.typed;
        let last_set = typed.with_named_fields(&last.set);
        let pruned = typed.remove(merged, &last_set, self.keep_nulls);
        // Add back what any manager (including the applier's new configuration) owns.
        let managed = managers
            .values()
            .fold(FieldSet::default(), |all, owned| all.union(&owned.set));
        let merged_set = typed.with_named_fields(&typed.field_set(merged));
        let pruned_set = typed.with_named_fields(&typed.field_set(&pruned));
        let removable =
            merged_set.difference(&pruned_set.union(&typed.with_named_fields(&managed)));
        let pruned = typed.remove(merged, &removable, self.keep_nulls);
        // Only what the applier owned before may go (unowned and Update-owned fields stay).
        let pruned_set = typed.with_named_fields(&typed.field_set(&pruned));
        let dangling = merged_set.difference(&pruned_set).intersection(&last_set);
        typed.remove(merged, &dangling, self.keep_nulls)
    }
}
