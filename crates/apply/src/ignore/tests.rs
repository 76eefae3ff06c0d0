use serde_json::json;

use super::*;

fn deployment(replicas: i64, labels: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "dev", "labels": labels, "resourceVersion": "1"},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [
            {"name": "app", "image": "nginx", "resources": {"limits": {"cpu": "1"}}}]}}}})
}

fn rules(rules: &[IgnoreRule]) -> IgnoreRules {
    match IgnoreRules::compile(rules) {
        Ok(compiled) => compiled,
        Err(error) => panic!("rules: {error}"),
    }
}

fn replicas_rule(selector: Option<Selector>) -> IgnoreRule {
    IgnoreRule {
        paths: vec!["/spec/replicas".into()],
        selector,
    }
}

#[test]
fn rule_without_selector_applies_to_every_object() {
    let compiled = rules(&[replicas_rule(None)]);
    assert_eq!(
        compiled.paths_for(&deployment(1, json!({}))),
        ["/spec/replicas"]
    );
}

#[test]
fn selector_fields_are_anchored_regular_expressions() {
    let compiled = rules(&[replicas_rule(Some(Selector {
        kind: "Deploy".into(),
        ..Selector::default()
    }))]);
    assert!(compiled.paths_for(&deployment(1, json!({}))).is_empty());
    let compiled = rules(&[replicas_rule(Some(Selector {
        kind: "Deploy.*".into(),
        group: "apps".into(),
        namespace: "dev|prod".into(),
        ..Selector::default()
    }))]);
    assert_eq!(compiled.paths_for(&deployment(1, json!({}))).len(), 1);
}

#[test]
fn label_selector_restricts_a_rule() {
    let compiled = rules(&[replicas_rule(Some(Selector {
        label_selector: "autoscaled=true".into(),
        ..Selector::default()
    }))]);
    assert!(compiled.paths_for(&deployment(1, json!({}))).is_empty());
    assert_eq!(
        compiled
            .paths_for(&deployment(1, json!({"autoscaled": "true"})))
            .len(),
        1
    );
}

#[test]
fn invalid_regex_or_selector_is_an_error() {
    let bad_regex = IgnoreRules::compile(&[replicas_rule(Some(Selector {
        name: "(".into(),
        ..Selector::default()
    }))]);
    assert!(matches!(
        bad_regex,
        Err(IgnoreRuleError::Regex { field: "name", .. })
    ));
    let bad_selector = IgnoreRules::compile(&[replicas_rule(Some(Selector {
        label_selector: "a in b".into(),
        ..Selector::default()
    }))]);
    assert!(matches!(
        bad_selector,
        Err(IgnoreRuleError::Selector { field: "label", .. })
    ));
}

#[test]
fn removing_paths_ignores_missing_ones_and_unescapes_keys() {
    let mut object =
        json!({"metadata": {"annotations": {"a/b": "1", "c": "2"}}, "list": [1, 2, 3]});
    remove_path(&mut object, "/metadata/annotations/a~1b");
    remove_path(&mut object, "/metadata/labels/missing");
    remove_path(&mut object, "/list/1");
    remove_path(&mut object, "/list/9");
    assert_eq!(
        object,
        json!({"metadata": {"annotations": {"c": "2"}}, "list": [1, 3]})
    );
}

#[test]
fn ignored_path_is_left_out_of_the_comparison() {
    let existing = deployment(5, json!({}));
    let dry_run = deployment(1, json!({}));
    let paths = ["/spec/replicas"];
    assert_eq!(
        without_ignored(&existing, &paths),
        without_ignored(&dry_run, &paths)
    );
}

#[test]
fn field_owned_by_another_apply_manager_is_stripped() {
    let mut existing = deployment(5, json!({}));
    existing["metadata"]["managedFields"] = json!([
        {"manager": "kustomize-controller", "operation": "Apply",
         "fieldsV1": {"f:spec": {"f:template": {}}}},
        {"manager": "autoscaler", "operation": "Apply",
         "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    ]);
    let resolutions = resolve_drift(
        &existing,
        &deployment(1, json!({})),
        &rules(&[replicas_rule(None)]),
        "kustomize-controller",
    );
    assert_eq!(
        resolutions,
        [DriftResolution::Strip("/spec/replicas".into())]
    );
    let mut payload = deployment(1, json!({}));
    apply_resolutions(&mut payload, &resolutions);
    assert_eq!(payload["spec"].get("replicas"), None);
}

#[test]
fn field_owned_only_by_flux_adopts_the_live_value() {
    let mut existing = deployment(5, json!({}));
    existing["metadata"]["managedFields"] = json!([
        {"manager": "kustomize-controller", "operation": "Apply",
         "fieldsV1": {"f:spec": {"f:replicas": {}}}},
        {"manager": "kubectl-edit", "operation": "Update",
         "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    ]);
    let resolutions = resolve_drift(
        &existing,
        &deployment(1, json!({})),
        &rules(&[replicas_rule(None)]),
        "kustomize-controller",
    );
    assert_eq!(
        resolutions,
        [DriftResolution::Adopt("/spec/replicas".into(), json!(5))]
    );
    let mut payload = deployment(1, json!({}));
    apply_resolutions(&mut payload, &resolutions);
    assert_eq!(payload["spec"]["replicas"], 5);
}

#[test]
fn list_items_are_matched_by_their_merge_key() {
    let mut existing = deployment(1, json!({}));
    existing["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] =
        json!("2");
    existing["metadata"]["managedFields"] = json!([
        {"manager": "vpa", "operation": "Apply", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {
            "f:containers": {"k:{\"name\":\"app\"}": {"f:resources": {"f:limits": {"f:cpu": {}}}}}}}}}}
    ]);
    let rule = IgnoreRule {
        paths: vec!["/spec/template/spec/containers/0/resources/limits/cpu".into()],
        selector: None,
    };
    let resolutions = resolve_drift(
        &existing,
        &deployment(1, json!({})),
        &rules(&[rule]),
        "kustomize-controller",
    );
    assert_eq!(
        resolutions,
        [DriftResolution::Strip(
            "/spec/template/spec/containers/0/resources/limits/cpu".into()
        )]
    );
}

#[test]
fn unchanged_ignored_paths_need_no_resolution() {
    let existing = deployment(1, json!({}));
    assert!(
        resolve_drift(
            &existing,
            &deployment(1, json!({})),
            &rules(&[replicas_rule(None)]),
            "kustomize-controller"
        )
        .is_empty()
    );
}
