//! Per-object apply policy and the metadata cleanup that precedes an apply, as data
//! transformations (fluxcd/pkg `ssa/manager_apply.go`, `ssa/patch.go`; the options
//! kustomize-controller passes them).
//!
//! - `kustomize.toolkit.fluxcd.io/ssa` (label or annotation, case-insensitive):
//!   `Override` (the default) applies and takes over fields from kubectl; `Merge` applies
//!   without the managed-fields takeover; `IfNotPresent` creates the object but never
//!   updates it; `Ignore` never applies (or prunes) it.
//! - `kustomize.toolkit.fluxcd.io/reconcile: disabled` is the same as `Ignore`.
//! - `kustomize.toolkit.fluxcd.io/force: Enabled` allows delete-and-recreate on an
//!   immutable-field error, like `spec.force`.
//! - Before applying to an existing object, kubectl's last-applied annotation and Flux v1's
//!   leftovers are removed, and the fields owned by kubectl (client-side or server-side
//!   apply), `before-first-apply`, the controller's own pre-SSA updates and any
//!   `--override-manager` are handed to the controller's apply manager, so that fields
//!   removed from Git are removed from the cluster.

use base64::Engine as _;
use eddy_api::meta::annotations::{
    KUBECTL_LAST_APPLIED, KUSTOMIZE_FORCE, KUSTOMIZE_RECONCILE, KUSTOMIZE_SSA,
};
use serde_json::{Map, Value, json};

use crate::object::{annotations, any_in_metadata, labels};

/// `disabled`, the value that opts an object out of prune, reconcile or substitution.
pub const DISABLED: &str = "disabled";
/// `Enabled`, the value of the force annotation that allows recreation.
pub const ENABLED: &str = "Enabled";
/// `Override`, the default apply policy.
pub const OVERRIDE: &str = "Override";
/// `Merge`: apply without taking over other managers' fields.
pub const MERGE: &str = "Merge";
/// `IfNotPresent`: create only.
pub const IF_NOT_PRESENT: &str = "IfNotPresent";
/// `Ignore`: never apply or prune.
pub const IGNORE: &str = "Ignore";

/// Annotations removed from existing objects before apply.
pub const CLEANUP_ANNOTATIONS: [&str; 3] = [
    KUBECTL_LAST_APPLIED,
    "kustomize.toolkit.fluxcd.io/checksum",
    "fluxcd.io/sync-checksum",
];
/// Labels removed from existing objects before apply.
pub const CLEANUP_LABELS: [&str; 1] = ["fluxcd.io/sync-gc-mark"];

/// The apply policy of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyPolicy {
    /// Apply and take over fields from kubectl.
    Override,
    /// Apply, leaving other managers' fields alone.
    Merge,
    /// Create when missing, never update.
    IfNotPresent,
    /// Never apply or prune.
    Ignore,
}

impl ApplyPolicy {
    /// The policy an object asks for; `reconcile: disabled` counts as `Ignore`.
    pub fn of(object: &Value) -> Self {
        if any_in_metadata(
            object,
            &[(KUSTOMIZE_RECONCILE, DISABLED), (KUSTOMIZE_SSA, IGNORE)],
        ) {
            ApplyPolicy::Ignore
        } else if any_in_metadata(object, &[(KUSTOMIZE_SSA, IF_NOT_PRESENT)]) {
            ApplyPolicy::IfNotPresent
        } else if any_in_metadata(object, &[(KUSTOMIZE_SSA, MERGE)]) {
            ApplyPolicy::Merge
        } else {
            ApplyPolicy::Override
        }
    }
}

/// Whether an object is left out of the apply (`shouldSkipApply`): either copy opts out,
/// or the desired object is `IfNotPresent` and the object exists.
pub fn should_skip_apply(desired: &Value, existing: Option<&Value>) -> bool {
    let excluded = |object: &Value| ApplyPolicy::of(object) == ApplyPolicy::Ignore;
    if excluded(desired) || existing.is_some_and(excluded) {
        return true;
    }
    existing.is_some() && ApplyPolicy::of(desired) == ApplyPolicy::IfNotPresent
}

/// Whether an object that failed its dry run with an immutable-field error may be deleted
/// and recreated (`shouldForceApply`).
pub fn should_recreate(
    desired: &Value,
    existing: Option<&Value>,
    force: bool,
    immutable_error: bool,
) -> bool {
    let forced = |object: &Value| any_in_metadata(object, &[(KUSTOMIZE_FORCE, ENABLED)]);
    immutable_error && (force || forced(desired) || existing.is_some_and(forced))
}

/// Whether an API error means an immutable field changed (`IsImmutableError`): Conflict and
/// Invalid responses, or a message saying so. It has false positives, which is why recreation
/// also needs force.
pub fn is_immutable_error(status_code: u16, message: &str) -> bool {
    if status_code == 409 || status_code == 422 {
        return true;
    }
    contains_with_whitespace(message, "is", "immutable")
        || contains_with_whitespace(message, "immutable", "field")
}

/// `first\ssecond` as a regular expression would match it.
fn contains_with_whitespace(text: &str, first: &str, second: &str) -> bool {
    text.match_indices(first).any(|(index, _)| {
        let rest = &text[index + first.len()..];
        let mut characters = rest.chars();
        characters.next().is_some_and(char::is_whitespace)
            && characters.as_str().starts_with(second)
    })
}

/// The operation a managed-fields entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Create, update or patch.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// A field manager whose fields are taken over (`ssa.FieldManager`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldManager {
    /// The manager name, or its prefix.
    pub name: String,
    /// Match the whole name rather than a prefix.
    pub exact_match: bool,
    /// The operation of the entries to match.
    pub operation: Operation,
}

impl FieldManager {
    /// A prefix-matched manager, as kustomize-controller declares them.
    pub fn prefix(name: impl Into<String>, operation: Operation) -> Self {
        Self {
            name: name.into(),
            exact_match: false,
            operation,
        }
    }

    fn matches(&self, entry: &Value) -> bool {
        let field = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or("");
        if field("operation") != self.operation.as_str() || !field("subresource").is_empty() {
            return false;
        }
        if self.exact_match {
            field("manager") == self.name
        } else {
            field("manager").starts_with(&self.name)
        }
    }
}

/// What to remove from existing objects before applying (`ApplyCleanupOptions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanupOptions {
    /// Annotation keys to remove.
    pub annotations: Vec<String>,
    /// Label keys to remove.
    pub labels: Vec<String>,
    /// Managers whose fields the apply manager takes over.
    pub field_managers: Vec<FieldManager>,
}

impl CleanupOptions {
    /// kustomize-controller's cleanup for field manager `controller_name`, taking over also
    /// from each `--override-manager` name.
    pub fn kustomize_controller(controller_name: &str, override_managers: &[String]) -> Self {
        let mut field_managers = vec![
            FieldManager::prefix("kubectl", Operation::Apply),
            FieldManager::prefix("kubectl", Operation::Update),
            FieldManager::prefix("before-first-apply", Operation::Update),
            FieldManager::prefix(controller_name, Operation::Update),
        ];
        for name in override_managers {
            field_managers.push(FieldManager::prefix(name.clone(), Operation::Apply));
            field_managers.push(FieldManager::prefix(name.clone(), Operation::Update));
        }
        Self {
            annotations: CLEANUP_ANNOTATIONS
                .iter()
                .map(|key| key.to_string())
                .collect(),
            labels: CLEANUP_LABELS.iter().map(|key| key.to_string()).collect(),
            field_managers,
        }
    }

    /// Nothing to clean up.
    pub fn none() -> Self {
        Self {
            annotations: Vec::new(),
            labels: Vec::new(),
            field_managers: Vec::new(),
        }
    }
}

/// The JSON patch (RFC 6902 operations) that cleans up `existing` before `desired` is
/// applied by `manager`, or `None` when nothing needs to change (`cleanupMetadata`). Objects
/// with the `Merge` policy (desired or existing) are never cleaned up.
pub fn cleanup_patch(
    desired: &Value,
    existing: &Value,
    options: &CleanupOptions,
    manager: &str,
) -> Option<Value> {
    if any_in_metadata(desired, &[(KUSTOMIZE_SSA, MERGE)])
        || any_in_metadata(existing, &[(KUSTOMIZE_SSA, MERGE)])
    {
        return None;
    }
    let mut operations = Vec::new();
    let existing_annotations = annotations(existing);
    for key in &options.annotations {
        if existing_annotations.contains_key(key.as_str()) {
            operations.push(json!({"op": "remove",
                "path": format!("/metadata/annotations/{}", key.replace('/', "~1"))}));
        }
    }
    let existing_labels = labels(existing);
    for key in &options.labels {
        if existing_labels.contains_key(key.as_str()) {
            operations.push(json!({"op": "remove",
                "path": format!("/metadata/labels/{}", key.replace('/', "~1"))}));
        }
    }
    if !options.field_managers.is_empty()
        && let Some(entries) = take_over_managed_fields(existing, &options.field_managers, manager)
    {
        operations.push(json!({"op": "replace", "path": "/metadata/managedFields",
            "value": entries}));
    }
    if operations.is_empty() {
        None
    } else {
        Some(Value::Array(operations))
    }
}

/// The managed-fields entries after handing every entry of `managers` to `name` as an Apply
/// entry, merged with `name`'s existing Apply entry (`PatchReplaceFieldsManagers`); `None`
/// when no entry matches.
pub fn take_over_managed_fields(
    existing: &Value,
    managers: &[FieldManager],
    name: &str,
) -> Option<Vec<Value>> {
    let entries = existing
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)?;
    let previous_index = entries.iter().rposition(|entry| {
        entry.get("manager").and_then(Value::as_str) == Some(name)
            && entry.get("operation").and_then(Value::as_str) == Some("Apply")
    });
    let mut owner: Option<Value> = previous_index.and_then(|index| entries.get(index).cloned());
    let mut kept = Vec::with_capacity(entries.len());
    let mut edited = false;
    for (index, entry) in entries.iter().enumerate() {
        if Some(index) == previous_index {
            continue;
        }
        if !managers.iter().any(|manager| manager.matches(entry)) {
            kept.push(entry.clone());
            continue;
        }
        edited = true;
        match owner.as_mut() {
            None => {
                let mut renamed = entry.clone();
                if let Some(fields) = renamed.as_object_mut() {
                    fields.insert("manager".into(), Value::String(name.to_string()));
                    fields.insert("operation".into(), Value::String("Apply".into()));
                }
                owner = Some(renamed);
            }
            Some(owner) => {
                let merged = match (owner.get("fieldsV1"), entry.get("fieldsV1")) {
                    (Some(left), Some(right)) => Some(union_fields(left, right)),
                    (None, Some(right)) => Some(right.clone()),
                    (left, None) => left.cloned(),
                };
                if let (Some(fields), Some(merged)) = (owner.as_object_mut(), merged) {
                    fields.insert("fieldsV1".into(), merged);
                }
            }
        }
    }
    if !edited {
        return None;
    }
    kept.extend(owner);
    Some(kept)
}

/// The union of two `fieldsV1` tries (structured-merge-diff `Set.Union`).
pub fn union_fields(left: &Value, right: &Value) -> Value {
    match (left, right) {
        (Value::Object(left), Value::Object(right)) => {
            let mut merged: Map<String, Value> = left.clone();
            for (key, value) in right {
                let combined = match merged.get(key) {
                    Some(existing) => union_fields(existing, value),
                    None => value.clone(),
                };
                merged.insert(key.clone(), combined);
            }
            Value::Object(merged)
        }
        (left, _) => left.clone(),
    }
}

/// Removes a conversion-webhook `caBundle` that does not hold a certificate from a CRD
/// (`RemoveCABundleFromCRD`): CA injectors often commit a placeholder that the API server
/// would reject, and the injector fills the real one in after the apply.
pub fn remove_invalid_ca_bundle(object: &mut Value) {
    if !crate::stages::is_custom_resource_definition(object) {
        return;
    }
    let Some(client_config) = object
        .pointer_mut("/spec/conversion/webhook/clientConfig")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(bundle) = client_config.get("caBundle").and_then(Value::as_str) else {
        return;
    };
    if bundle.is_empty() {
        return;
    }
    let valid = base64::engine::general_purpose::STANDARD
        .decode(bundle)
        .is_ok_and(|decoded| decoded.is_empty() || holds_certificate(&decoded));
    if !valid {
        client_config.remove("caBundle");
    }
}

/// Whether PEM text holds at least one `CERTIFICATE` block whose body is DER (what Go's
/// `AppendCertsFromPEM` needs to accept a bundle, short of a full X.509 parse).
fn holds_certificate(pem: &[u8]) -> bool {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(end) = after.find(END) else {
            return false;
        };
        let body: String = after[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if base64::engine::general_purpose::STANDARD
            .decode(body)
            .is_ok_and(|der| der.first() == Some(&0x30) && der.len() > 16)
        {
            return true;
        }
        rest = &after[end + END.len()..];
    }
    false
}

/// The JSON patch that rewrites every managed-fields entry to `api_version`, or `None` when
/// all already match (`PatchMigrateToVersion`, the `MigrateAPIVersion` feature gate): an
/// entry left at an older version of a CRD can make the next apply fail with "field not
/// declared in schema".
pub fn migrate_api_version_patch(existing: &Value, api_version: &str) -> Option<Value> {
    let entries = existing
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)?;
    let mut changed = false;
    let migrated: Vec<Value> = entries
        .iter()
        .map(|entry| {
            let mut entry = entry.clone();
            if entry.get("apiVersion").and_then(Value::as_str) != Some(api_version)
                && let Some(fields) = entry.as_object_mut()
            {
                fields.insert("apiVersion".into(), Value::String(api_version.to_string()));
                changed = true;
            }
            entry
        })
        .collect();
    changed
        .then(|| json!([{"op": "replace", "path": "/metadata/managedFields", "value": migrated}]))
}

#[cfg(test)]
mod tests;
