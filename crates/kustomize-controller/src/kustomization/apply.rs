//! Preparing built objects and applying them (KC `apply`): owner labels, normalisation, common
//! metadata, the SOPS guard, then fluxcd/pkg `ssa` staged apply with kustomize-controller's
//! options (field manager `kustomize-controller`, managed-fields take-over from kubectl and
//! `--override-manager`, `spec.force`, `spec.ignore`, custom stage kinds).

use std::collections::BTreeSet;
use std::time::Duration;

use eddy_api::kustomize::v1::Kustomization;
use eddy_api::meta::annotations::KUSTOMIZE_DECRYPT;
use eddy_api::meta::field_managers::KUSTOMIZE_CONTROLLER;
use eddy_apply::ignore::{IgnoreRule, IgnoreRules, Selector};
use eddy_apply::inventory::Owner;
use eddy_apply::manager::ApplyOptions;
use eddy_apply::object::{ObjectRef, annotations, set_annotations, set_labels};
use eddy_apply::policy::CleanupOptions;
use eddy_apply::stages::GroupKind;
use serde_json::Value;

/// What the reconciler's settings contribute to every apply.
#[derive(Clone, Debug, Default)]
pub struct ApplySettings {
    /// `--override-manager` names.
    pub override_managers: Vec<String>,
    /// `--custom-apply-stage-kinds`.
    pub custom_stage_kinds: BTreeSet<GroupKind>,
    /// The `MigrateAPIVersion` gate.
    pub migrate_api_version: bool,
    /// How often the definitions and classes stages are polled (Flux: 2 s).
    pub stage_wait_interval: Duration,
    /// How long they may take (Flux: 60 s).
    pub stage_wait_timeout: Duration,
}

/// The apply options of one Kustomization.
pub fn apply_options(
    kustomization: &Kustomization,
    settings: &ApplySettings,
) -> Result<ApplyOptions, String> {
    let rules: Vec<IgnoreRule> = kustomization
        .spec
        .ignore
        .iter()
        .flatten()
        .map(|rule| IgnoreRule {
            paths: rule.paths.clone(),
            selector: rule.target.as_ref().map(|target| Selector {
                group: target.group.clone().unwrap_or_default(),
                version: target.version.clone().unwrap_or_default(),
                kind: target.kind.clone().unwrap_or_default(),
                name: target.name.clone().unwrap_or_default(),
                namespace: target.namespace.clone().unwrap_or_default(),
                annotation_selector: target.annotation_selector.clone().unwrap_or_default(),
                label_selector: target.label_selector.clone().unwrap_or_default(),
            }),
        })
        .collect();
    let drift_ignore_rules = IgnoreRules::compile(&rules).map_err(|error| error.to_string())?;
    Ok(ApplyOptions {
        force: kustomization.spec.force.unwrap_or(false),
        wait_interval: settings.stage_wait_interval,
        wait_timeout: settings.stage_wait_timeout,
        cleanup: CleanupOptions::kustomize_controller(
            KUSTOMIZE_CONTROLLER,
            &settings.override_managers,
        ),
        custom_stage_kinds: settings.custom_stage_kinds.clone(),
        drift_ignore_rules,
        migrate_api_version: settings.migrate_api_version,
    })
}

/// Stamps owner labels, normalises, adds `commonMetadata` and refuses SOPS-encrypted Secrets
/// that were not decrypted.
pub fn prepare_objects(kustomization: &Kustomization, objects: &mut [Value]) -> Result<(), String> {
    let owner = Owner::new(
        kustomization.metadata.name.clone().unwrap_or_default(),
        kustomization.metadata.namespace.clone().unwrap_or_default(),
    );
    for object in objects.iter_mut() {
        owner.label(object);
    }
    eddy_apply::normalize::normalize_objects(objects);
    if let Some(common) = &kustomization.spec.common_metadata {
        let labels: Vec<(&str, &str)> = common
            .labels
            .iter()
            .flatten()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        let annotations: Vec<(&str, &str)> = common
            .annotations
            .iter()
            .flatten()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        for object in objects.iter_mut() {
            set_labels(object, &labels);
            set_annotations(object, &annotations);
        }
    }
    for object in objects.iter() {
        if is_encrypted_secret(object)
            && !annotations(object)
                .get(KUSTOMIZE_DECRYPT)
                .is_some_and(|value| value.eq_ignore_ascii_case("disabled"))
        {
            // Decrypted Secrets have lost their `sops` field by now (build::kustomize_decrypting).
            let subject = ObjectRef::of(object).subject();
            return Err(format!(
                "{subject} is SOPS encrypted, configuring decryption is required for this secret to be reconciled"
            ));
        }
    }
    Ok(())
}

/// A core Secret with a top-level `sops` field (fluxcd `IsEncryptedSecret`).
fn is_encrypted_secret(object: &Value) -> bool {
    eddy_sops::is_encrypted_secret(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kustomization(spec: Value) -> Kustomization {
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

    #[test]
    fn objects_get_owner_labels_and_common_metadata() {
        let ks = kustomization(json!({"commonMetadata": {"labels": {"team": "a"},
            "annotations": {"note": "x"}}}));
        let mut objects = vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "dev"}})];
        prepare_objects(&ks, &mut objects).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            objects[0]["metadata"]["labels"],
            json!({"kustomize.toolkit.fluxcd.io/name": "apps",
                "kustomize.toolkit.fluxcd.io/namespace": "flux-system", "team": "a"})
        );
        assert_eq!(objects[0]["metadata"]["annotations"], json!({"note": "x"}));
    }

    #[test]
    fn encrypted_secrets_without_decryption_are_refused() {
        let ks = kustomization(json!({}));
        let mut objects = vec![json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "dev"}, "sops": {"mac": "x"}})];
        let error = prepare_objects(&ks, &mut objects).err().unwrap_or_default();
        assert_eq!(
            error,
            "Secret/dev/s is SOPS encrypted, configuring decryption is required for this secret to be reconciled"
        );
    }
}
