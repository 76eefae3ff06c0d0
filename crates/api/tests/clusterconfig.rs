//! Round trips of `clusterconfig.azure.com/v1alpha1` FluxConfig objects in the ARM
//! `fluxConfigurations` shape, and the shape of the generated CRD.

use kube::CustomResourceExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use eddy_api::clusterconfig::v1alpha1::{
    ComplianceState, EffectiveRepositoryRef, FluxConfig, ProvisioningState, ScopeType, SourceKind,
    kustomization_name, normalize_git_url, seconds_to_flux_duration,
};
use eddy_api::meta::StatusFields;

/// Parses `yaml` as `Kind` and as plain JSON, and checks that serializing the typed object
/// gives back exactly the plain JSON.
fn round_trip<Kind: Serialize + DeserializeOwned>(yaml: &str) -> Kind {
    let expected: Value = serde_saphyr::from_str(yaml).expect("example is valid YAML");
    let typed: Kind = serde_saphyr::from_str(yaml).expect("example parses as the kind");
    let actual = serde_json::to_value(&typed).expect("kind serializes");
    assert_eq!(actual, expected, "round trip changed the object");
    typed
}

/// A Git configuration in the shape of Azure's `CreateFluxConfiguration` example, with the
/// status of `GetFluxConfiguration`, plus our Kubernetes-side status fields.
const GIT_CONFIGURATION: &str = r#"
apiVersion: clusterconfig.azure.com/v1alpha1
kind: FluxConfig
metadata:
  name: cluster-config
  namespace: cluster-config
  generation: 3
spec:
  scope: cluster
  namespace: cluster-config
  sourceKind: GitRepository
  suspend: false
  gitRepository:
    url: https://github.com/Azure/arc-k8s-demo
    timeoutInSeconds: 1000
    syncIntervalInSeconds: 1000
    repositoryRef:
      branch: main
    httpsUser: fluxuser
    httpsCACert: ZXhhbXBsZWNlcnRpZmljYXRl
    sshKnownHosts: Z2l0aHViLmNvbSBzc2gtcnNhIEFBQUFCM056YUMxeWMy
    localAuthRef: local-auth
    provider: Generic
  kustomizations:
    srs-kustomization1:
      path: ./test/path
      dependsOn: []
      timeoutInSeconds: 600
      syncIntervalInSeconds: 600
      retryIntervalInSeconds: 600
      prune: false
      force: false
      wait: true
    srs-kustomization2:
      path: ./other/test/path
      dependsOn:
        - srs-kustomization1
      timeoutInSeconds: 600
      syncIntervalInSeconds: 600
      retryIntervalInSeconds: 600
      prune: false
      wait: false
      postBuild:
        substitute:
          cluster_env: prod
          replica_count: "2"
        substituteFrom:
          - kind: ConfigMap
            name: cluster-test
            optional: true
  protectedParametersSecretRef:
    name: cluster-config-protected-parameters
  waitForReconciliation: true
  reconciliationWaitDuration: PT30M
status:
  complianceState: Non-Compliant
  provisioningState: Succeeded
  sourceSyncedCommitId: main/c3ab8ff13720e8ad9047dd39466b3c8974e592c2
  sourceUpdatedAt: "2020-11-25T10:14:09Z"
  statusUpdatedAt: "2020-11-25T10:14:09Z"
  repositoryPublicKey: ""
  statuses:
    - name: cluster-config
      namespace: cluster-config
      kind: GitRepository
      complianceState: Compliant
      statusConditions:
        - lastTransitionTime: "2020-11-25T10:14:09Z"
          message: "Fetched revision: main/c3ab8ff13720e8ad9047dd39466b3c8974e592c2"
          reason: GitOperationSucceed
          status: "True"
          type: Ready
    - name: cluster-config-srs-kustomization1
      namespace: cluster-config
      kind: Kustomization
      complianceState: Compliant
      statusConditions:
        - lastTransitionTime: "2020-11-25T10:14:09Z"
          message: "Applied revision: main/c3ab8ff13720e8ad9047dd39466b3c8974e592c2"
          reason: ReconciliationSucceeded
          status: "True"
          type: Ready
    - name: myhelmrelease
      namespace: cluster-config
      kind: HelmRelease
      complianceState: Non-Compliant
      appliedBy:
        name: cluster-config-srs-kustomization1
        namespace: cluster-config
      statusConditions:
        - lastTransitionTime: "2020-11-25T10:14:09Z"
          message: "Release failed"
          reason: InstallFailed
          status: "False"
          type: Ready
      helmReleaseProperties:
        lastRevisionApplied: 1
        helmChartRef:
          name: cluster-config-myhelmchart
          namespace: cluster-config
        failureCount: 1
        installFailureCount: 1
        upgradeFailureCount: 0
  observedGeneration: 3
  conditions:
    - type: Ready
      status: "False"
      reason: Failed
      message: "HelmRelease cluster-config/myhelmrelease is not ready"
      lastTransitionTime: "2020-11-25T10:14:09Z"
      observedGeneration: 3
  lastHandledReconcileAt: "2020-11-25T10:14:00Z"
"#;

#[test]
fn a_git_flux_config_survives_a_round_trip() {
    let config: FluxConfig = round_trip(GIT_CONFIGURATION);
    assert_eq!(config.scope(), ScopeType::Cluster);
    assert_eq!(config.source_kind(), SourceKind::GitRepository);
    assert_eq!(
        config.source_url(),
        Some("https://github.com/Azure/arc-k8s-demo")
    );
    let git = config.spec.git_repository.as_ref().expect("git source");
    assert_eq!(git.effective_ref(), EffectiveRepositoryRef::Branch("main"));
    let status = config.status.as_ref().expect("status");
    assert_eq!(status.compliance_state, Some(ComplianceState::NonCompliant));
    assert_eq!(
        status.provisioning_state,
        Some(ProvisioningState::Succeeded)
    );
    assert_eq!(StatusFields::observed_generation(status), Some(3));
    assert_eq!(status.conditions().len(), 1);
}

#[test]
fn a_bucket_flux_config_survives_a_round_trip() {
    let config: FluxConfig = round_trip(
        r#"
apiVersion: clusterconfig.azure.com/v1alpha1
kind: FluxConfig
metadata:
  name: bucket-config
  namespace: flux-config
spec:
  scope: namespace
  sourceKind: Bucket
  bucket:
    url: https://fluxminiotest.az.minio.io
    bucketName: flux
    insecure: true
    timeoutInSeconds: 1000
    syncIntervalInSeconds: 1000
    accessKey: fluxminiotest
  kustomizations:
    infra:
      path: ./infrastructure
"#,
    );
    assert_eq!(config.scope(), ScopeType::Namespace);
    assert_eq!(
        config.source_url(),
        Some("https://fluxminiotest.az.minio.io")
    );
    assert_eq!(config.source_kind().flux_kind(), "Bucket");
}

#[test]
fn azure_blob_and_oci_flux_configs_survive_a_round_trip() {
    let blob: FluxConfig = round_trip(
        r#"
apiVersion: clusterconfig.azure.com/v1alpha1
kind: FluxConfig
metadata:
  name: blob-config
  namespace: flux-config
spec:
  sourceKind: AzureBlob
  azureBlob:
    url: https://mystorageaccount.blob.core.windows.net
    containerName: flux
    timeoutInSeconds: 1000
    syncIntervalInSeconds: 1000
    servicePrincipal:
      clientId: 3f3c1b5c-5d5e-4f4a-9d6b-1b2c3d4e5f6a
      tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47
      clientCertificateSendChain: false
    managedIdentity:
      clientId: 9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4
"#,
    );
    assert_eq!(blob.source_kind().flux_kind(), "Bucket");
    let oci: FluxConfig = round_trip(
        r#"
apiVersion: clusterconfig.azure.com/v1alpha1
kind: FluxConfig
metadata:
  name: oci-config
  namespace: flux-config
spec:
  sourceKind: OCIRepository
  ociRepository:
    url: oci://ghcr.io/stefanprodan/manifests/podinfo
    timeoutInSeconds: 1000
    syncIntervalInSeconds: 1000
    repositoryRef:
      tag: latest
    layerSelector:
      mediaType: application/vnd.cncf.flux.content.v1.tar+gzip
      operation: extract
    verify:
      provider: cosign
      verificationConfig:
        cosign.pub: LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0=
      matchOidcIdentity:
        - issuer: "^https://token.actions.githubusercontent.com$"
          subject: "^https://github.com/stefanprodan/podinfo.*$"
    insecure: false
    useWorkloadIdentity: true
    serviceAccountName: oci-reader
"#,
    );
    assert_eq!(oci.source_kind().flux_kind(), "OCIRepository");
    assert_eq!(
        oci.source_url(),
        Some("oci://ghcr.io/stefanprodan/manifests/podinfo")
    );
}

#[test]
fn arm_secret_fields_are_not_part_of_the_spec() {
    // `configurationProtectedSettings` must never be stored in the custom resource: the typed
    // spec has no field for it, so it does not survive parsing.
    let config: FluxConfig = serde_saphyr::from_str(
        r#"
apiVersion: clusterconfig.azure.com/v1alpha1
kind: FluxConfig
metadata:
  name: leaky
  namespace: default
spec:
  gitRepository:
    url: https://github.com/Azure/arc-k8s-demo
  configurationProtectedSettings:
    httpsKey: c2VjcmV0
"#,
    )
    .expect("unknown fields are ignored");
    let serialized = serde_json::to_string(&config).expect("serializes");
    assert!(!serialized.contains("configurationProtectedSettings"));
    assert!(!serialized.contains("c2VjcmV0"));
}

#[test]
fn the_arm_defaults_apply_to_an_empty_kustomization() {
    let config: FluxConfig = round_trip(
        r#"
apiVersion: clusterconfig.azure.com/v1alpha1
kind: FluxConfig
metadata:
  name: minimal
  namespace: default
spec:
  gitRepository:
    url: git@github.com:Azure/arc-k8s-demo.git
  kustomizations:
    kustomization-1: {}
"#,
    );
    let kustomizations = config.spec.kustomizations.as_ref().expect("kustomizations");
    let (key, kustomization) = kustomizations.iter().next().expect("one kustomization");
    assert_eq!(
        kustomization_name("minimal", key),
        "minimal-kustomization-1"
    );
    assert_eq!(kustomization.path(), "");
    assert!(kustomization.wait());
    assert!(!kustomization.prune());
    assert!(!kustomization.force());
    assert_eq!(
        seconds_to_flux_duration(kustomization.sync_interval_in_seconds()).as_deref(),
        Ok("10m0s")
    );
    assert_eq!(kustomization.retry_interval_in_seconds(), 600);
    let git = config.spec.git_repository.as_ref().expect("git source");
    assert_eq!(
        normalize_git_url(&git.url),
        "ssh://git@github.com/Azure/arc-k8s-demo.git"
    );
    assert_eq!(
        git.effective_ref(),
        EffectiveRepositoryRef::Branch("master")
    );
    assert_eq!(config.configuration_namespace(), Some("default"));
}

type Crd =
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

fn spec_schema(crd: &Crd) -> Value {
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref());
    serde_json::to_value(schema).expect("schema serializes")["properties"]["spec"].clone()
}

#[test]
fn the_flux_config_crd_has_azure_names_and_columns() {
    let crd = FluxConfig::crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("fluxconfigs.clusterconfig.azure.com")
    );
    assert_eq!(crd.spec.group, "clusterconfig.azure.com");
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(crd.spec.names.kind, "FluxConfig");
    assert_eq!(crd.spec.names.plural, "fluxconfigs");
    assert_eq!(crd.spec.names.short_names, Some(vec!["fc".to_string()]));
    assert_eq!(crd.spec.versions[0].name, "v1alpha1");
    let columns: Vec<(String, String)> = crd.spec.versions[0]
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|column| (column.name.to_uppercase(), column.json_path.clone()))
        .collect();
    let expected = [
        ("SCOPE", ".spec.scope"),
        ("URL", ".spec.gitRepository.url"),
        ("PROVISION", ".status.provisioningState"),
        ("AGE", ".metadata.creationTimestamp"),
    ];
    assert_eq!(
        columns,
        expected
            .map(|(name, path)| (name.to_string(), path.to_string()))
            .to_vec()
    );
}

#[test]
fn the_flux_config_schema_carries_arm_defaults_and_enums() {
    let spec = spec_schema(&FluxConfig::crd());
    assert_eq!(spec["properties"]["scope"]["default"], "cluster");
    assert_eq!(
        spec["properties"]["scope"]["enum"],
        serde_json::json!(["cluster", "namespace"])
    );
    assert_eq!(spec["properties"]["sourceKind"]["default"], "GitRepository");
    assert_eq!(
        spec["properties"]["sourceKind"]["enum"],
        serde_json::json!(["GitRepository", "Bucket", "AzureBlob", "OCIRepository"])
    );
    let git = &spec["properties"]["gitRepository"]["properties"];
    assert_eq!(git["timeoutInSeconds"]["default"], 600);
    assert_eq!(git["syncIntervalInSeconds"]["default"], 600);
    assert_eq!(
        git["provider"]["enum"],
        serde_json::json!(["Generic", "Azure", "GitHub"])
    );
    let kustomization = &spec["properties"]["kustomizations"]["additionalProperties"]["properties"];
    assert_eq!(kustomization["wait"]["default"], true);
    assert_eq!(kustomization["prune"]["default"], false);
    assert_eq!(kustomization["force"]["default"], false);
    assert!(
        spec["properties"]
            .get("configurationProtectedSettings")
            .is_none()
    );
    assert!(
        spec["properties"]["azureBlob"]["properties"]
            .get("accountKey")
            .is_none()
    );
    let status = {
        let crd = FluxConfig::crd();
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref());
        serde_json::to_value(schema).expect("schema serializes")["properties"]["status"].clone()
    };
    assert_eq!(
        status["properties"]["complianceState"]["enum"],
        serde_json::json!([
            "Compliant",
            "Non-Compliant",
            "Pending",
            "Suspended",
            "Unknown"
        ])
    );
    assert_eq!(
        status["properties"]["provisioningState"]["enum"],
        serde_json::json!([
            "Succeeded",
            "Failed",
            "Canceled",
            "Creating",
            "Updating",
            "Deleting",
            "Accepted"
        ])
    );
}
