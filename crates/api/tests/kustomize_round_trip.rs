//! Kustomization objects written as in the Flux documentation (kustomize-controller
//! `docs/spec/v1/kustomizations.md`) survive a trip through our types unchanged, and the
//! generated CRD names and columns are Flux's.

use eddy_api::kustomize::v1::{
    DeletionPolicy, Kustomization, ObjectId, SourceKind, SubstituteStrategy,
};
use eddy_api::meta::{Reconciled, StatusFields};
use kube::CustomResourceExt;
use serde_json::Value;

/// Parses `yaml` as a Kustomization and checks that serializing it gives back exactly the
/// document that went in.
fn round_trip(yaml: &str) -> Kustomization {
    let expected: Value = serde_saphyr::from_str(yaml).expect("example is valid YAML");
    let object: Kustomization = serde_saphyr::from_str(yaml).expect("example is a Kustomization");
    let actual = serde_json::to_value(&object).expect("Kustomization serializes");
    assert_eq!(actual, expected, "round trip changed the object");
    object
}

#[test]
fn the_getting_started_example_round_trips() {
    let kustomization = round_trip(
        r#"
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: default
spec:
  interval: 10m
  targetNamespace: default
  sourceRef:
    kind: GitRepository
    name: podinfo
  path: "./kustomize"
  prune: true
  timeout: 1m
"#,
    );
    assert_eq!(
        kustomization.spec.source_ref.kind,
        SourceKind::GitRepository
    );
    assert!(kustomization.spec.prune);
    assert_eq!(kustomization.interval(), "10m");
    assert!(!kustomization.suspended());
}

#[test]
fn every_spec_field_round_trips() {
    let kustomization = round_trip(
        r#"
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  commonMetadata:
    labels:
      app.kubernetes.io/part-of: apps
    annotations:
      owner: platform
  dependsOn:
    - name: infra-controllers
    - name: certs
      namespace: cert-manager
      readyExpr: dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')
  decryption:
    provider: sops
    serviceAccountName: sops-kms
    secretRef:
      name: sops-age
  interval: 1h
  retryInterval: 2m
  kubeConfig:
    secretRef:
      name: prod-kubeconfig
      key: value.yaml
  path: ./apps/production
  postBuild:
    substituteStrategy: Always
    substitute:
      cluster_env: prod
      cluster_region: eu-central-1
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
      - kind: Secret
        name: cluster-secret-vars
        optional: true
  prune: true
  deletionPolicy: WaitForTermination
  healthChecks:
    - apiVersion: apps/v1
      kind: Deployment
      name: backend
      namespace: dev
    - apiVersion: helm.toolkit.fluxcd.io/v2
      kind: HelmRelease
      name: frontend
  namePrefix: prod-
  nameSuffix: -v1
  patches:
    - patch: |-
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: not-used
        spec:
          template:
            metadata:
              annotations:
                cluster-autoscaler.kubernetes.io/safe-to-evict: "true"
      target:
        kind: Deployment
        labelSelector: "app.kubernetes.io/part-of=my-app"
    - patch: |
        - op: add
          path: /spec/template/spec/securityContext
          value:
            runAsUser: 10000
      target:
        group: apps
        version: v1
        kind: Deployment
        name: podinfo
        namespace: apps
        annotationSelector: "team=platform"
  images:
    - name: podinfo
      newName: my-registry/podinfo
      newTag: v1
    - name: podinfo
      digest: sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3
  serviceAccountName: apps-reconciler
  sourceRef:
    apiVersion: source.toolkit.fluxcd.io/v1
    kind: OCIRepository
    name: apps
    namespace: flux-system
  suspend: false
  targetNamespace: apps
  timeout: 5m
  force: false
  wait: true
  buildMetadata:
    - originAnnotations
    - transformerAnnotations
  components:
    - ../ingress
    - ../tls
  ignoreMissingComponents: true
  healthCheckExprs:
    - apiVersion: cert-manager.io/v1
      kind: Certificate
      current: status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')
      inProgress: status.conditions.filter(e, e.type == 'Issuing').all(e, e.status == 'True')
      failed: status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'False')
  ignore:
    - paths: ["/spec/replicas"]
      target:
        kind: Deployment
    - paths: ["/data"]
"#,
    );
    let spec = &kustomization.spec;
    assert_eq!(spec.source_ref.kind, SourceKind::OciRepository);
    assert_eq!(
        spec.get_deletion_policy(),
        DeletionPolicy::WaitForTermination
    );
    assert_eq!(spec.get_substitute_strategy(), SubstituteStrategy::Always);
    assert_eq!(spec.get_timeout().map(|timeout| timeout.as_secs()), Ok(300));
    assert_eq!(
        spec.get_retry_interval().map(|interval| interval.as_secs()),
        Ok(120)
    );
}

#[test]
fn status_with_inventory_and_history_round_trips() {
    let kustomization = round_trip(
        r#"
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: default
spec:
  interval: 5m
  path: ./kustomize
  prune: true
  sourceRef:
    kind: GitRepository
    name: podinfo
status:
  conditions:
    - lastTransitionTime: "2025-08-15T11:12:00Z"
      message: "Applied revision: v1.0.1@sha1:450796ddb2ab6724ee1cc32a4be56da032d1cca0"
      observedGeneration: 2
      reason: ReconciliationSucceeded
      status: "True"
      type: Ready
  history:
    - digest: sha256:43ad78c94b2655429d84f21488f29d7cca9cd45b7f54d2b27e16bbec8eff9228
      firstReconciled: "2025-08-15T10:11:00Z"
      lastReconciled: "2025-08-15T11:12:00Z"
      lastReconciledDuration: 2.818583s
      lastReconciledStatus: ReconciliationSucceeded
      totalReconciliations: 2
      metadata:
        revision: "v1.0.1@sha1:450796ddb2ab6724ee1cc32a4be56da032d1cca0"
    - digest: sha256:ec8dbfe61777b65001190260cf873ffe454451bd2e464bd6f9a154cffcdcd7e5
      firstReconciled: "2025-07-14T13:10:00Z"
      lastReconciled: "2025-08-15T10:00:00Z"
      lastReconciledDuration: 49.813292s
      lastReconciledStatus: HealthCheckFailed
      totalReconciliations: 120
      metadata:
        revision: "v1.0.0@sha1:67e2c98a60dc92283531412a9e604dd4bae005a9"
  inventory:
    entries:
      - id: default_podinfo__Service
        v: v1
      - id: default_podinfo_apps_Deployment
        v: v1
      - id: default_podinfo_autoscaling_HorizontalPodAutoscaler
        v: v2
  lastAppliedRevision: v1.0.1@sha1:450796ddb2ab6724ee1cc32a4be56da032d1cca0
  lastAppliedOriginRevision: v1.0.1@sha1:450796ddb2ab6724ee1cc32a4be56da032d1cca0
  lastAttemptedRevision: v1.0.1@sha1:450796ddb2ab6724ee1cc32a4be56da032d1cca0
  lastHandledReconcileAt: "2025-08-15T11:11:50Z"
  observedGeneration: 2
"#,
    );
    let status = kustomization.status.as_ref().expect("status is present");
    assert_eq!(status.observed_generation(), Some(2));
    assert_eq!(status.conditions().len(), 1);
    let entries = &status
        .inventory
        .as_ref()
        .expect("inventory is present")
        .entries;
    let deployment = entries[1].object_id().expect("inventory id parses");
    assert_eq!(
        deployment,
        ObjectId::new("default", "podinfo", "apps", "Deployment")
    );
    let history = status.history.as_ref().expect("history is present");
    assert_eq!(history[1].total_reconciliations, 120);
}

#[test]
fn crd_names_scope_and_columns_are_fluxs() {
    let crd = Kustomization::crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("kustomizations.kustomize.toolkit.fluxcd.io")
    );
    let annotations = crd.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get("kustomize.toolkit.fluxcd.io/substitute")
            .map(String::as_str),
        Some("disabled")
    );
    let spec = &crd.spec;
    assert_eq!(spec.group, "kustomize.toolkit.fluxcd.io");
    assert_eq!(spec.scope, "Namespaced");
    assert_eq!(spec.names.kind, "Kustomization");
    assert_eq!(spec.names.plural, "kustomizations");
    assert_eq!(spec.names.singular.as_deref(), Some("kustomization"));
    assert_eq!(spec.names.short_names, Some(vec!["ks".to_string()]));
    assert_eq!(
        spec.names.categories,
        Some(vec![
            "all".to_string(),
            "fluxcd".to_string(),
            "fluxcd-appliers".to_string()
        ])
    );
    assert_eq!(spec.versions.len(), 1);
    let version = &spec.versions[0];
    assert_eq!(version.name, "v1");
    assert!(version.served && version.storage);
    assert!(
        version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    let columns: Vec<(String, String, String)> = version
        .additional_printer_columns
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|column| (column.name, column.type_, column.json_path))
        .collect();
    assert_eq!(
        columns,
        [
            ("Age", "date", ".metadata.creationTimestamp"),
            (
                "Ready",
                "string",
                ".status.conditions[?(@.type==\"Ready\")].status"
            ),
            (
                "Status",
                "string",
                ".status.conditions[?(@.type==\"Ready\")].message"
            ),
        ]
        .map(|(name, kind, path)| (name.to_string(), kind.to_string(), path.to_string()))
    );
}

#[test]
fn crd_schema_carries_fluxs_validation() {
    let crd = serde_json::to_value(Kustomization::crd()).expect("CRD serializes");
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let spec = &schema["properties"]["spec"];
    let mut required: Vec<&str> = spec["required"]
        .as_array()
        .expect("spec has required fields")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["interval", "prune", "sourceRef"]);
    let properties = &spec["properties"];
    assert_eq!(
        properties["sourceRef"]["properties"]["kind"]["enum"],
        serde_json::json!([
            "OCIRepository",
            "GitRepository",
            "Bucket",
            "ExternalArtifact"
        ])
    );
    assert_eq!(
        properties["deletionPolicy"]["enum"],
        serde_json::json!(["MirrorPrune", "Delete", "WaitForTermination", "Orphan"])
    );
    assert_eq!(
        properties["interval"]["pattern"],
        r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
    );
    assert_eq!(properties["force"]["default"], false);
    assert_eq!(properties["targetNamespace"]["maxLength"], 63);
    assert_eq!(
        properties["kubeConfig"]["x-kubernetes-validations"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        schema["properties"]["status"]["default"],
        serde_json::json!({ "observedGeneration": -1 })
    );
}
