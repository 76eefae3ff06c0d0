//! HelmRelease objects written as in the Flux documentation (helm-controller
//! `docs/spec/v2/helmreleases.md`) survive a trip through our types unchanged, and the
//! generated CRD names and columns are Flux's.

use eddy_api::helm::v2::{
    ActionStrategyName, ChartReferenceKind, ChartSourceKind, CrdsPolicy, DriftDetectionMode,
    HelmRelease, ReleaseAction,
};
use eddy_api::meta::{Reconciled, StatusFields};
use kube::CustomResourceExt;
use serde_json::{Value, json};
use std::time::Duration;

/// Parses `yaml` as a HelmRelease and checks that serializing it gives back exactly the
/// document that went in.
fn round_trip(yaml: &str) -> HelmRelease {
    let expected: Value = serde_saphyr::from_str(yaml).expect("example is valid YAML");
    let object: HelmRelease = serde_saphyr::from_str(yaml).expect("example is a HelmRelease");
    let actual = serde_json::to_value(&object).expect("HelmRelease serializes");
    assert_eq!(actual, expected, "round trip changed the object");
    object
}

#[test]
fn the_chart_template_example_round_trips() {
    let release = round_trip(
        r#"
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: default
spec:
  interval: 15m
  timeout: 5m
  chart:
    spec:
      chart: podinfo
      version: '6.5.*'
      sourceRef:
        kind: HelmRepository
        name: podinfo
      interval: 5m
  releaseName: podinfo
  install:
    remediation:
      retries: 3
  upgrade:
    remediation:
      retries: 3
  test:
    enable: true
  driftDetection:
    mode: enabled
    ignore:
    - paths: ["/spec/replicas"]
      target:
        kind: Deployment
  values:
    replicaCount: 2
"#,
    );
    let chart = release.spec.chart.as_ref().expect("chart template is set");
    assert_eq!(chart.spec.source_ref.kind, ChartSourceKind::HelmRepository);
    assert_eq!(release.get_upgrade().get_remediation().get_retries(), 3);
    assert!(
        release
            .get_upgrade()
            .get_remediation()
            .must_remediate_last_failure()
    );
    assert_eq!(
        release.get_drift_detection().get_mode(),
        DriftDetectionMode::Enabled
    );
    assert_eq!(release.spec.values, Some(json!({ "replicaCount": 2 })));
    assert_eq!(release.get_timeout(), Ok(Duration::from_secs(300)));
    assert_eq!(release.interval(), "15m");
}

#[test]
fn the_recommended_settings_example_round_trips() {
    let release = round_trip(
        r#"
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: webapp
  namespace: apps
spec:
  releaseName: webapp
  chartRef:
    kind: OCIRepository
    name: webapp-chart
  interval: 30m
  driftDetection:
    mode: enabled
  install:
    strategy:
      name: RetryOnFailure
      retryInterval: 5m
  upgrade:
    crds: CreateReplace
    strategy:
      name: RetryOnFailure
      retryInterval: 5m
  valuesFrom:
    - kind: ConfigMap
      name: webapp-values
    - kind: Secret
      name: webapp-secret-values
"#,
    );
    let chart_ref = release.spec.chart_ref.as_ref().expect("chartRef is set");
    assert_eq!(chart_ref.kind, ChartReferenceKind::OciRepository);
    let upgrade = release.get_upgrade();
    assert_eq!(upgrade.crds, Some(CrdsPolicy::CreateReplace));
    assert_eq!(
        upgrade.strategy.as_ref().map(|strategy| strategy.name),
        Some(ActionStrategyName::RetryOnFailure)
    );
    assert_eq!(
        upgrade.get_retry_interval(false),
        Ok(Some(Duration::from_secs(300)))
    );
    assert_eq!(release.get_release_name(), "webapp");
}

#[test]
fn every_spec_field_round_trips() {
    let release = round_trip(
        r#"
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: backend
  namespace: apps
spec:
  chart:
    metadata:
      labels:
        team: backend
      annotations:
        owner: backend
    spec:
      chart: ./charts/backend
      version: ">=1.0.0"
      sourceRef:
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: GitRepository
        name: monorepo
        namespace: flux-system
      interval: 10m
      reconcileStrategy: Revision
      valuesFiles:
        - values.yaml
        - values-prod.yaml
      ignoreMissingValuesFiles: true
      verify:
        provider: cosign
        secretRef:
          name: cosign-public-keys
  interval: 1h
  kubeConfig:
    configMapRef:
      name: kubeconfig
  suspend: false
  releaseName: backend-prod
  targetNamespace: backend
  storageNamespace: helm-storage
  dependsOn:
    - name: database
    - name: cert-manager
      namespace: cert-manager
      readyExpr: dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')
  timeout: 10m
  maxHistory: 10
  serviceAccountName: apps-sa
  persistentClient: false
  driftDetection:
    mode: warn
    ignore:
      - paths: ["/spec/replicas"]
        target:
          group: apps
          version: v1
          kind: Deployment
          name: backend
          namespace: backend
          annotationSelector: "hpa=enabled"
          labelSelector: "app=backend"
  install:
    timeout: 15m
    strategy:
      name: RemediateOnFailure
    remediation:
      retries: -1
      ignoreTestFailures: true
      remediateLastFailure: true
    disableTakeOwnership: true
    disableWait: false
    disableWaitForJobs: true
    disableHooks: false
    disableOpenAPIValidation: true
    disableSchemaValidation: true
    replace: true
    skipCRDs: false
    crds: Create
    createNamespace: true
    serverSideApply: true
  upgrade:
    timeout: 15m
    strategy:
      name: RemediateOnFailure
    remediation:
      retries: 2
      ignoreTestFailures: false
      remediateLastFailure: false
      strategy: uninstall
    disableTakeOwnership: false
    disableWait: false
    disableWaitForJobs: false
    disableHooks: true
    disableOpenAPIValidation: false
    disableSchemaValidation: false
    force: true
    preserveValues: true
    cleanupOnFail: true
    crds: Skip
    serverSideApply: auto
    chartNameChangeStrategy: InPlaceUpdate
  test:
    enable: true
    timeout: 3m
    ignoreFailures: true
    filters:
      - name: my-release-test-connection
        exclude: false
      - name: my-release-test-migration
        exclude: true
  rollback:
    timeout: 5m
    disableWait: true
    disableWaitForJobs: true
    disableHooks: true
    recreate: true
    force: true
    cleanupOnFail: true
    serverSideApply: disabled
  uninstall:
    timeout: 5m
    disableHooks: true
    keepHistory: true
    disableWait: true
    deletionPropagation: foreground
  valuesFrom:
    - kind: ConfigMap
      name: prod-env-values
      valuesKey: values-prod.yaml
    - kind: Secret
      name: prod-tls-values
      valuesKey: crt
      targetPath: tls.crt
      optional: true
    - kind: ConfigMap
      name: app-config-source
      valuesKey: application.yml
      targetPath: 'externalConfig.application\.yml.content'
      literal: true
  values:
    replicaCount: 2
    image:
      tag: "1.2.3"
      pullPolicy: IfNotPresent
    ingress:
      enabled: true
      hosts: [backend.example.com]
    resources: null
    ratio: 0.5
  commonMetadata:
    labels:
      environment: production
  postRenderers:
    - kustomize:
        patches:
          - target:
              version: v1
              kind: Deployment
              name: metrics-server
            patch: |
              - op: add
                path: /metadata/labels/environment
                value: production
        images:
          - name: docker.io/bitnami/metrics-server
            newName: docker.io/bitnami/metrics-server
            newTag: 0.4.1-debian-10-r54
  postRenderStrategy: nohooks
  waitStrategy:
    name: poller
  healthCheckExprs:
    - apiVersion: bitnami.com/v1alpha1
      kind: SealedSecret
      failed: status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'False')
      current: status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True')
"#,
    );
    assert_eq!(release.get_release_name(), "backend-prod");
    assert_eq!(release.get_release_namespace(), "backend");
    assert_eq!(release.get_storage_namespace(), "helm-storage");
    assert_eq!(release.get_max_history(), 10);
    assert!(!release.use_persistent_client());
    assert!(
        !release
            .get_install()
            .get_remediation()
            .retries_exhausted(100)
    );
    let values = release.spec.values.as_ref().expect("values are set");
    assert_eq!(
        values["resources"],
        Value::Null,
        "null values are kept for Helm to unset"
    );
}

#[test]
fn status_with_history_and_inventory_round_trips() {
    let release = round_trip(
        r#"
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo
spec:
  interval: 10m
  chartRef:
    kind: OCIRepository
    name: podinfo
status:
  conditions:
    - lastTransitionTime: "2024-05-07T04:55:11Z"
      message: "Helm upgrade succeeded for release podinfo/podinfo.v2 with chart podinfo@6.6.1+0cc9a8446c95"
      observedGeneration: 2
      reason: UpgradeSucceeded
      status: "True"
      type: Ready
    - lastTransitionTime: "2024-05-07T04:55:11Z"
      message: "Helm test succeeded for release podinfo/podinfo.v2 with chart podinfo@6.6.1+0cc9a8446c95: 1 test hook completed successfully"
      observedGeneration: 2
      reason: TestSucceeded
      status: "True"
      type: TestSuccess
  helmChart: flux-system/podinfo-podinfo
  history:
    - appVersion: 6.6.1
      chartName: podinfo
      chartVersion: 6.6.1+0cc9a8446c95
      configDigest: sha256:e15c415d62760896bd8bec192a44c5716dc224db9e0fc609b9ac14718f8f9e56
      digest: sha256:e59349a6d8cf01d625de9fe73efd94b5e2a8cc8453d1b893ec367cfa2105bae9
      firstDeployed: "2024-05-07T04:54:21Z"
      lastDeployed: "2024-05-07T04:54:55Z"
      name: podinfo
      namespace: podinfo
      ociDigest: sha256:0cc9a8446c95009ef382f5eade883a67c257f77d50f84e78ecef2aac9428d1e5
      status: deployed
      action: upgrade
      testHooks:
        podinfo-grpc-test-goyey:
          lastCompleted: "2024-05-07T04:55:11Z"
          lastStarted: "2024-05-07T04:55:09Z"
          phase: Succeeded
      version: 2
    - appVersion: 6.6.0
      chartName: podinfo
      chartVersion: 6.6.0+cdd538a0167e
      configDigest: sha256:e15c415d62760896bd8bec192a44c5716dc224db9e0fc609b9ac14718f8f9e56
      digest: sha256:9be0d34ced6b890a72026749bc0f1f9e3c1a89673e17921bbcc0f27774f31c3a
      firstDeployed: "2024-05-07T04:54:21Z"
      lastDeployed: "2024-05-07T04:54:21Z"
      name: podinfo
      namespace: podinfo
      ociDigest: sha256:cdd538a0167e4b51152b71a477e51eb6737553510ce8797dbcc537e1342311bb
      status: superseded
      action: install
      testHooks:
        podinfo-grpc-test-q0ucx:
          lastCompleted: "2024-05-07T04:54:25Z"
          lastStarted: "2024-05-07T04:54:23Z"
          phase: Succeeded
      version: 1
  inventory:
    entries:
      - id: default_podinfo__Service
        v: v1
      - id: default_podinfo_apps_Deployment
        v: v1
      - id: default_podinfo_autoscaling_HorizontalPodAutoscaler
        v: v2
  lastAttemptedConfigDigest: sha256:e15c415d62760896bd8bec192a44c5716dc224db9e0fc609b9ac14718f8f9e56
  lastAttemptedGeneration: 2
  lastAttemptedReleaseAction: upgrade
  lastAttemptedReleaseActionDuration: 34.5s
  lastAttemptedRevision: 6.6.1+0cc9a8446c95
  lastAttemptedRevisionDigest: sha256:0cc9a8446c95009ef382f5eade883a67c257f77d50f84e78ecef2aac9428d1e5
  lastHandledForceAt: "2024-05-07T04:50:00Z"
  lastHandledReconcileAt: "2024-05-07T04:54:00Z"
  lastHandledResetAt: "2024-05-07T04:50:00Z"
  observedCommonMetadataDigest: sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
  observedGeneration: 2
  observedPostRenderersDigest: sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
  storageNamespace: podinfo
  failures: 1
  installFailures: 0
  upgradeFailures: 1
  lastReleaseRevision: 2
  lastAttemptedValuesChecksum: 3e3a4fcd1b9a4d5b6c8d3a9e2f1b0c7d6e5f4a3b
"#,
    );
    let status = release.status.as_ref().expect("status is present");
    assert_eq!(status.observed_generation(), Some(2));
    assert_eq!(status.conditions().len(), 2);
    assert_eq!(
        status.last_attempted_release_action,
        Some(ReleaseAction::Upgrade)
    );
    assert_eq!(
        status.helm_chart_namespace_and_name(),
        Some(("flux-system", "podinfo-podinfo"))
    );
    let latest = status.latest_snapshot().expect("history is not empty");
    assert_eq!(latest.full_release_name(), "podinfo/podinfo.v2");
    assert_eq!(latest.versioned_chart_name(), "podinfo@6.6.1+0cc9a8446c95");
}

#[test]
fn crd_names_scope_and_columns_are_fluxs() {
    let crd = HelmRelease::crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("helmreleases.helm.toolkit.fluxcd.io")
    );
    let spec = &crd.spec;
    assert_eq!(spec.group, "helm.toolkit.fluxcd.io");
    assert_eq!(spec.scope, "Namespaced");
    assert_eq!(spec.names.kind, "HelmRelease");
    assert_eq!(spec.names.plural, "helmreleases");
    assert_eq!(spec.names.short_names, Some(vec!["hr".to_string()]));
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
    assert_eq!(version.name, "v2");
    assert!(
        version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    let columns: Vec<(String, String)> = version
        .additional_printer_columns
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|column| (column.name, column.json_path))
        .collect();
    assert_eq!(
        columns,
        [
            ("Age", ".metadata.creationTimestamp"),
            ("Ready", ".status.conditions[?(@.type==\"Ready\")].status"),
            ("Status", ".status.conditions[?(@.type==\"Ready\")].message"),
        ]
        .map(|(name, path)| (name.to_string(), path.to_string()))
    );
}

#[test]
fn crd_schema_carries_fluxs_validation() {
    let crd = serde_json::to_value(HelmRelease::crd()).expect("CRD serializes");
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let spec = &schema["properties"]["spec"];
    assert_eq!(spec["required"], json!(["interval"]));
    assert_eq!(
        spec["x-kubernetes-validations"][0]["rule"],
        "(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))"
    );
    let properties = &spec["properties"];
    assert_eq!(
        properties["values"],
        json!({
            "description": properties["values"]["description"],
            "x-kubernetes-preserve-unknown-fields": true
        })
    );
    assert_eq!(properties["maxHistory"]["type"], "integer");
    assert_eq!(properties["maxHistory"].get("format"), None);
    assert_eq!(properties["releaseName"]["maxLength"], 53);
    let chart_spec = &properties["chart"]["properties"]["spec"]["properties"];
    assert_eq!(chart_spec["version"]["default"], "*");
    assert_eq!(chart_spec["reconcileStrategy"]["default"], "ChartVersion");
    assert_eq!(
        chart_spec["verify"]["properties"]["provider"]["default"],
        "cosign"
    );
    assert_eq!(
        properties["uninstall"]["properties"]["deletionPropagation"]["default"],
        "background"
    );
    assert_eq!(
        properties["valuesFrom"]["items"]["properties"]["targetPath"]["pattern"],
        r"^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$"
    );
    assert_eq!(
        schema["properties"]["status"]["properties"]["lastAttemptedReleaseAction"]["enum"],
        json!(["install", "upgrade"])
    );
}
