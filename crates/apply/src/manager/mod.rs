//! The resource manager: staged server-side apply, health waits and pruning against a live
//! API server (fluxcd/pkg `ssa.ResourceManager`), on kube's `Api<DynamicObject>`.
//!
//! ```text
//! objects ─► stages (CRDs/Namespaces/ClusterRoles ► *Class ► custom kinds ► the rest)
//!              │ per stage, sorted by kind:
//!              ├─ phase 1, concurrently: GET ► skip? ► dry-run SSA (force) ► drift?
//!              │     immutable error + force ⇒ DELETE, wait for it to go, dry-run again
//!              │     any failure ⇒ the stage stops here, nothing of it applied
//!              ├─ phase 2, in order: managed-fields cleanup patch ► SSA of drifted objects
//!              └─ definitions and classes: wait until Current
//! ```
//!
//! The manager knows nothing of Kustomizations: the caller labels objects with their owner,
//! builds the inventory from the change set and decides what to prune.

mod apply;
mod delete;
mod error;
mod wait;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use serde_json::Value;

pub use delete::DeleteOptions;
pub use error::{ApiFailure, ApplyError, StagedApplyError};
pub use wait::WaitOptions;

use crate::ignore::IgnoreRules;
use crate::object::ObjectRef;
use crate::policy::CleanupOptions;
use crate::stages::GroupKind;

/// How objects are applied (fluxcd/pkg `ssa.ApplyOptions`).
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Delete and recreate objects whose dry run fails on an immutable field
    /// (`spec.force`); objects can also ask for it with `kustomize.toolkit.fluxcd.io/force`.
    pub force: bool,
    /// How often the definitions and classes stages are polled for readiness.
    pub wait_interval: Duration,
    /// How long the definitions and classes stages may take to become ready.
    pub wait_timeout: Duration,
    /// Metadata removed and managed fields taken over before applying.
    pub cleanup: CleanupOptions,
    /// Kinds applied in their own stage after the classes (`--custom-apply-stage-kinds`).
    pub custom_stage_kinds: std::collections::BTreeSet<GroupKind>,
    /// Fields left out of drift detection (`spec.ignore`).
    pub drift_ignore_rules: IgnoreRules,
    /// Rewrite the managed-fields entries of existing objects to the applied API version
    /// before applying (the `MigrateAPIVersion` feature gate).
    pub migrate_api_version: bool,
}

impl Default for ApplyOptions {
    /// Flux's defaults: no force, 2 s interval, 60 s timeout, no cleanup, no ignore rules.
    fn default() -> Self {
        Self {
            force: false,
            wait_interval: Duration::from_secs(2),
            wait_timeout: Duration::from_secs(60),
            cleanup: CleanupOptions::none(),
            custom_stage_kinds: std::collections::BTreeSet::new(),
            drift_ignore_rules: IgnoreRules::default(),
            migrate_api_version: false,
        }
    }
}

/// A resolved kind: how to address it and whether it is namespaced.
#[derive(Clone, Debug)]
struct ResolvedKind {
    resource: ApiResource,
    namespaced: bool,
}

/// Group, version and kind: the key of a resolved kind.
type KindKey = (String, String, String);

/// Kinds resolved through discovery, shareable between managers (one manager per
/// impersonated client, one cache per cluster) so that reconciles do not repeat discovery.
#[derive(Clone, Debug, Default)]
pub struct KindCache {
    kinds: Arc<Mutex<HashMap<KindKey, ResolvedKind>>>,
}

impl KindCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything, e.g. after CRDs were deleted.
    pub fn clear(&self) {
        if let Ok(mut kinds) = self.kinds.lock() {
            kinds.clear();
        }
    }

    fn get(&self, key: &KindKey) -> Option<ResolvedKind> {
        self.kinds.lock().ok()?.get(key).cloned()
    }

    fn insert(&self, key: KindKey, kind: ResolvedKind) {
        if let Ok(mut kinds) = self.kinds.lock() {
            kinds.insert(key, kind);
        }
    }
}

/// Applies, waits for and deletes objects with one field manager.
pub struct ResourceManager {
    client: Client,
    field_manager: String,
    concurrency: usize,
    kinds: KindCache,
}

impl ResourceManager {
    /// A manager applying as `field_manager` (`kustomize-controller` for Kustomizations).
    pub fn new(client: Client, field_manager: impl Into<String>) -> Self {
        Self {
            client,
            field_manager: field_manager.into(),
            concurrency: 1,
            kinds: KindCache::new(),
        }
    }

    /// Uses a discovery cache shared with other managers of the same cluster.
    pub fn with_kind_cache(mut self, kinds: KindCache) -> Self {
        self.kinds = kinds;
        self
    }

    /// How many objects of a stage are read and dry-run at once (`--concurrent-ssa`,
    /// at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The field manager applies are made with.
    pub fn field_manager(&self) -> &str {
        &self.field_manager
    }

    /// Resolves a kind through discovery, caching what was found; a miss is asked again
    /// next time, so kinds of CRDs applied in an earlier stage resolve once served.
    async fn resolve(&self, reference: &ObjectRef) -> Result<Option<ResolvedKind>, ApiFailure> {
        let key = (
            reference.group.clone(),
            reference.version.clone(),
            reference.kind.clone(),
        );
        if let Some(found) = self.kinds.get(&key) {
            return Ok(Some(found));
        }
        let kind = GroupVersionKind::gvk(&reference.group, &reference.version, &reference.kind);
        match kube::discovery::pinned_kind(&self.client, &kind).await {
            Ok((resource, capabilities)) => {
                let resolved = ResolvedKind {
                    resource,
                    namespaced: capabilities.scope == Scope::Namespaced,
                };
                self.kinds.insert(key, resolved.clone());
                Ok(Some(resolved))
            }
            Err(error) => {
                let failure = ApiFailure::from_kube(&error);
                let missing = failure.is_not_found() || matches!(error, kube::Error::Discovery(_));
                if missing { Ok(None) } else { Err(failure) }
            }
        }
    }

    /// The API of an object's kind in its namespace.
    fn api(&self, kind: &ResolvedKind, namespace: &str) -> Api<DynamicObject> {
        if kind.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &kind.resource)
        } else {
            Api::all_with(self.client.clone(), &kind.resource)
        }
    }

    /// Reads an object as JSON; `None` when it does not exist.
    async fn get(&self, api: &Api<DynamicObject>, name: &str) -> Result<Option<Value>, ApiFailure> {
        match api.get_opt(name).await {
            Ok(Some(object)) => Ok(Some(to_json(&object))),
            Ok(None) => Ok(None),
            Err(error) => Err(ApiFailure::from_kube(&error)),
        }
    }
}

fn to_json(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}
