//! Health checks after apply (KC `checkHealth`): with `wait: true` every applied object that
//! was not skipped, else the `healthChecks` references, are polled with kstatus until all are
//! Current, one fails (fail-fast), or `spec.timeout` passes.

use eddy_api::kustomize::v1::Kustomization;
use eddy_api::meta::NamespacedObjectKindReference;
use eddy_apply::object::split_api_version;
use eddy_apply::{Action, ChangeSet, ObjectRef};

/// The objects whose health decides the reconcile, or `None` when no health check is asked
/// for. The Kustomization itself is left out, so it never waits on itself.
pub fn objects_to_check(
    kustomization: &Kustomization,
    change_set: &ChangeSet,
) -> Option<Vec<ObjectRef>> {
    let wait = kustomization.spec.wait.unwrap_or(false);
    let references = kustomization
        .spec
        .health_checks
        .as_deref()
        .unwrap_or_default();
    if !wait && references.is_empty() {
        return None;
    }
    let objects: Vec<ObjectRef> = if wait {
        change_set
            .entries
            .iter()
            .filter(|entry| entry.action != Action::Skipped)
            .map(|entry| entry.object.clone())
            .collect()
    } else {
        references.iter().map(reference).collect()
    };
    let name = kustomization.metadata.name.as_deref().unwrap_or_default();
    let namespace = kustomization
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    let objects: Vec<ObjectRef> = objects
        .into_iter()
        .filter(|object| {
            !(object.kind == "Kustomization"
                && object.name == name
                && object.namespace == namespace)
        })
        .collect();
    (!objects.is_empty()).then_some(objects)
}

/// A `healthChecks` entry as an object reference (Flux takes group and version from
/// `apiVersion` and the namespace as written).
fn reference(health_check: &NamespacedObjectKindReference) -> ObjectRef {
    let api_version = health_check.api_version.as_deref().unwrap_or_default();
    let (group, version) = split_api_version(api_version);
    ObjectRef {
        group: group.to_string(),
        version: version.to_string(),
        kind: health_check.kind.clone(),
        namespace: health_check.namespace.clone().unwrap_or_default(),
        name: health_check.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_apply::ChangeSetEntry;
    use serde_json::json;

    fn kustomization(spec: serde_json::Value) -> Kustomization {
        let mut full = json!({"interval": "1m", "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "repo"}});
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            full.extend(extra.clone());
        }
        serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"}, "spec": full}))
        .unwrap_or_else(|error| panic!("{error}"))
    }

    fn entry(kind: &str, name: &str, action: Action) -> ChangeSetEntry {
        ChangeSetEntry::new(
            ObjectRef::of(&json!({"apiVersion": "v1", "kind": kind,
                "metadata": {"name": name, "namespace": "flux-system"}})),
            action,
        )
    }

    #[test]
    fn without_wait_or_health_checks_nothing_is_checked() {
        assert!(objects_to_check(&kustomization(json!({})), &ChangeSet::new()).is_none());
    }

    #[test]
    fn wait_checks_applied_objects_but_not_skipped_ones_or_itself() {
        let change_set = ChangeSet {
            entries: vec![
                entry("ConfigMap", "a", Action::Created),
                entry("ConfigMap", "b", Action::Skipped),
                entry("Kustomization", "apps", Action::Unchanged),
            ],
        };
        let objects = objects_to_check(&kustomization(json!({"wait": true})), &change_set)
            .unwrap_or_default();
        let names: Vec<&str> = objects.iter().map(|object| object.name.as_str()).collect();
        assert_eq!(names, ["a"]);
    }

    #[test]
    fn health_checks_name_group_version_and_kind() {
        let ks = kustomization(json!({"healthChecks": [{"apiVersion": "apps/v1",
            "kind": "Deployment", "name": "web", "namespace": "dev"}]}));
        let objects = objects_to_check(&ks, &ChangeSet::new()).unwrap_or_default();
        assert_eq!(objects[0].subject(), "Deployment/dev/web");
        assert_eq!(objects[0].group, "apps");
    }
}
