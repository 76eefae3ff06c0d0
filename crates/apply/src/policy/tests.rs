use serde_json::json;

use super::*;

fn with_metadata(labels: Value, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "dev", "labels": labels,
            "annotations": annotations}})
}

#[test]
fn policy_defaults_to_override() {
    assert_eq!(
        ApplyPolicy::of(&with_metadata(json!({}), json!({}))),
        ApplyPolicy::Override
    );
}

#[test]
fn policy_reads_the_ssa_annotation_or_label_ignoring_case() {
    let policy = |value: &str| {
        ApplyPolicy::of(&with_metadata(
            json!({}),
            json!({"kustomize.toolkit.fluxcd.io/ssa": value}),
        ))
    };
    assert_eq!(policy("Merge"), ApplyPolicy::Merge);
    assert_eq!(policy("merge"), ApplyPolicy::Merge);
    assert_eq!(policy("IfNotPresent"), ApplyPolicy::IfNotPresent);
    assert_eq!(policy("Ignore"), ApplyPolicy::Ignore);
    assert_eq!(policy("Override"), ApplyPolicy::Override);
    assert_eq!(
        ApplyPolicy::of(&with_metadata(
            json!({"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"}),
            json!({})
        )),
        ApplyPolicy::IfNotPresent
    );
}

#[test]
fn reconcile_disabled_is_ignored() {
    let object = with_metadata(
        json!({}),
        json!({"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}),
    );
    assert_eq!(ApplyPolicy::of(&object), ApplyPolicy::Ignore);
}

#[test]
fn ignored_objects_are_skipped_whether_desired_or_existing_says_so() {
    let plain = with_metadata(json!({}), json!({}));
    let ignored = with_metadata(
        json!({}),
        json!({"kustomize.toolkit.fluxcd.io/ssa": "Ignore"}),
    );
    assert!(should_skip_apply(&ignored, None));
    assert!(should_skip_apply(&plain, Some(&ignored)));
    assert!(!should_skip_apply(&plain, Some(&plain)));
    assert!(!should_skip_apply(&plain, None));
}

#[test]
fn if_not_present_skips_only_existing_objects() {
    let desired = with_metadata(
        json!({}),
        json!({"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"}),
    );
    assert!(!should_skip_apply(&desired, None));
    assert!(should_skip_apply(
        &desired,
        Some(&with_metadata(json!({}), json!({})))
    ));
}

#[test]
fn recreation_needs_an_immutable_error_and_force() {
    let plain = with_metadata(json!({}), json!({}));
    let forced = with_metadata(
        json!({}),
        json!({"kustomize.toolkit.fluxcd.io/force": "enabled"}),
    );
    assert!(!should_recreate(&plain, Some(&plain), false, true));
    assert!(should_recreate(&plain, Some(&plain), true, true));
    assert!(should_recreate(&forced, Some(&plain), false, true));
    assert!(should_recreate(&plain, Some(&forced), false, true));
    assert!(!should_recreate(&forced, Some(&forced), true, false));
}

#[test]
fn immutable_errors_are_recognised_like_flux() {
    assert!(is_immutable_error(422, "anything"));
    assert!(is_immutable_error(409, "conflict"));
    assert!(is_immutable_error(
        400,
        "Job.batch \"x\" is invalid: spec.template: Invalid value: field is immutable"
    ));
    assert!(is_immutable_error(
        500,
        "cannot change immutable field spec.selector"
    ));
    assert!(!is_immutable_error(500, "immutable"));
    assert!(!is_immutable_error(404, "not found"));
}

fn entry(manager: &str, operation: &str, fields: Value) -> Value {
    json!({"manager": manager, "operation": operation, "apiVersion": "v1",
        "fieldsType": "FieldsV1", "fieldsV1": fields})
}

fn existing_with(managed_fields: Vec<Value>, annotations: Value, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": annotations, "labels": labels,
            "managedFields": managed_fields}})
}

#[test]
fn kubectl_fields_are_handed_to_the_controller() {
    let existing = existing_with(
        vec![
            entry(
                "kubectl-client-side-apply",
                "Update",
                json!({"f:data": {"f:a": {}}}),
            ),
            entry("kube-controller-manager", "Update", json!({"f:status": {}})),
        ],
        json!({}),
        json!({}),
    );
    let options = CleanupOptions::kustomize_controller("kustomize-controller", &[]);
    let patch = cleanup_patch(&json!({}), &existing, &options, "kustomize-controller");
    assert_eq!(
        patch,
        Some(
            json!([{"op": "replace", "path": "/metadata/managedFields", "value": [
                entry("kube-controller-manager", "Update", json!({"f:status": {}})),
                entry("kustomize-controller", "Apply", json!({"f:data": {"f:a": {}}})),
            ]}])
        )
    );
}

#[test]
fn taken_over_fields_merge_into_the_controllers_apply_entry() {
    let existing = existing_with(
        vec![
            entry(
                "kustomize-controller",
                "Apply",
                json!({"f:data": {"f:a": {}}}),
            ),
            entry("kubectl", "Apply", json!({"f:data": {"f:b": {}}})),
            entry(
                "before-first-apply",
                "Update",
                json!({"f:metadata": {"f:labels": {}}}),
            ),
            entry(
                "kubectl-edit",
                "Update",
                json!({"f:data": {"f:c": {}}, ".": {}}),
            ),
        ],
        json!({}),
        json!({}),
    );
    let options = CleanupOptions::kustomize_controller("kustomize-controller", &[]);
    let entries =
        take_over_managed_fields(&existing, &options.field_managers, "kustomize-controller");
    assert_eq!(
        entries,
        Some(vec![entry(
            "kustomize-controller",
            "Apply",
            json!({"f:data": {"f:a": {}, "f:b": {}, "f:c": {}}, "f:metadata": {"f:labels": {}}, ".": {}})
        )])
    );
}

#[test]
fn subresource_entries_and_other_managers_are_kept() {
    let mut status_entry = entry("kubectl", "Update", json!({"f:status": {}}));
    status_entry["subresource"] = json!("status");
    let existing = existing_with(
        vec![status_entry, entry("helm", "Update", json!({"f:data": {}}))],
        json!({}),
        json!({}),
    );
    let options = CleanupOptions::kustomize_controller("kustomize-controller", &[]);
    assert_eq!(
        cleanup_patch(&json!({}), &existing, &options, "kustomize-controller"),
        None
    );
}

#[test]
fn override_managers_are_taken_over_too() {
    let existing = existing_with(
        vec![entry("my-tool", "Apply", json!({"f:data": {}}))],
        json!({}),
        json!({}),
    );
    let without = CleanupOptions::kustomize_controller("kustomize-controller", &[]);
    assert_eq!(
        cleanup_patch(&json!({}), &existing, &without, "kustomize-controller"),
        None
    );
    let with = CleanupOptions::kustomize_controller("kustomize-controller", &["my-tool".into()]);
    assert!(cleanup_patch(&json!({}), &existing, &with, "kustomize-controller").is_some());
}

#[test]
fn kubectl_annotation_and_flux_v1_leftovers_are_removed() {
    let existing = existing_with(
        Vec::new(),
        json!({"kubectl.kubernetes.io/last-applied-configuration": "{}",
            "fluxcd.io/sync-checksum": "x", "keep": "me"}),
        json!({"fluxcd.io/sync-gc-mark": "y"}),
    );
    let options = CleanupOptions::kustomize_controller("kustomize-controller", &[]);
    assert_eq!(
        cleanup_patch(&json!({}), &existing, &options, "kustomize-controller"),
        Some(json!([
            {"op": "remove", "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"},
            {"op": "remove", "path": "/metadata/annotations/fluxcd.io~1sync-checksum"},
            {"op": "remove", "path": "/metadata/labels/fluxcd.io~1sync-gc-mark"},
        ]))
    );
}

#[test]
fn merge_policy_disables_cleanup() {
    let existing = existing_with(
        vec![entry("kubectl", "Update", json!({"f:data": {}}))],
        json!({"kubectl.kubernetes.io/last-applied-configuration": "{}"}),
        json!({}),
    );
    let merge = with_metadata(
        json!({}),
        json!({"kustomize.toolkit.fluxcd.io/ssa": "Merge"}),
    );
    let options = CleanupOptions::kustomize_controller("kustomize-controller", &[]);
    assert_eq!(
        cleanup_patch(&merge, &existing, &options, "kustomize-controller"),
        None
    );
    assert!(cleanup_patch(&json!({}), &existing, &options, "kustomize-controller").is_some());
}

#[test]
fn field_sets_union_recursively() {
    assert_eq!(
        union_fields(
            &json!({"f:a": {"f:b": {}}, "f:x": {}}),
            &json!({"f:a": {"f:c": {}}, "k:{\"name\":\"n\"}": {".": {}}})
        ),
        json!({"f:a": {"f:b": {}, "f:c": {}}, "f:x": {}, "k:{\"name\":\"n\"}": {".": {}}})
    );
}

fn crd_with_bundle(bundle: &str) -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {
            "caBundle": bundle, "service": {"name": "s", "namespace": "n"}}}}}})
}

#[test]
fn placeholder_ca_bundle_is_removed_from_custom_resource_definitions() {
    for placeholder in [
        "Cg==",
        "not base64!",
        "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
    ] {
        let mut crd = crd_with_bundle(placeholder);
        remove_invalid_ca_bundle(&mut crd);
        assert_eq!(
            crd.pointer("/spec/conversion/webhook/clientConfig/caBundle"),
            None,
            "{placeholder}"
        );
        assert!(
            crd.pointer("/spec/conversion/webhook/clientConfig/service")
                .is_some()
        );
    }
}

#[test]
fn certificate_ca_bundle_and_other_kinds_are_kept() {
    use base64::Engine as _;
    let der = [0x30u8; 64];
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    );
    let bundle = base64::engine::general_purpose::STANDARD.encode(pem);
    let mut crd = crd_with_bundle(&bundle);
    remove_invalid_ca_bundle(&mut crd);
    assert_eq!(
        crd.pointer("/spec/conversion/webhook/clientConfig/caBundle"),
        Some(&json!(bundle))
    );
    let mut empty = crd_with_bundle("");
    remove_invalid_ca_bundle(&mut empty);
    assert!(
        empty
            .pointer("/spec/conversion/webhook/clientConfig/caBundle")
            .is_some()
    );
    let mut other = crd_with_bundle("Cg==");
    other["kind"] = json!("Widget");
    remove_invalid_ca_bundle(&mut other);
    assert!(
        other
            .pointer("/spec/conversion/webhook/clientConfig/caBundle")
            .is_some()
    );
}

#[test]
fn managed_fields_are_migrated_to_the_applied_version() {
    let existing = json!({"metadata": {"managedFields": [
        {"manager": "a", "operation": "Apply", "apiVersion": "example.com/v1beta1"},
        {"manager": "b", "operation": "Update", "apiVersion": "example.com/v1", "subresource": "status"}
    ]}});
    assert_eq!(
        migrate_api_version_patch(&existing, "example.com/v1"),
        Some(
            json!([{"op": "replace", "path": "/metadata/managedFields", "value": [
                {"manager": "a", "operation": "Apply", "apiVersion": "example.com/v1"},
                {"manager": "b", "operation": "Update", "apiVersion": "example.com/v1", "subresource": "status"}
            ]}])
        )
    );
    assert!(migrate_api_version_patch(&existing, "example.com/v1beta1").is_some());
    let current = json!({"metadata": {"managedFields": [
        {"manager": "a", "operation": "Apply", "apiVersion": "example.com/v1"}]}});
    assert_eq!(migrate_api_version_patch(&current, "example.com/v1"), None);
    assert_eq!(migrate_api_version_patch(&json!({}), "v1"), None);
}
