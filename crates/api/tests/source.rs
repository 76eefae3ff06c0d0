//! Round trips of `source.toolkit.fluxcd.io/v1` objects written after the examples in Flux's
//! specs (`docs/spec/v1/*.md`), and the shape of the generated CRDs.

use kube::CustomResourceExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use eddy_api::source::v1::{
    Bucket, CloudProvider, EffectiveGitRef, ExternalArtifact, GitRepository, HelmChart,
    HelmChartSourceKind, HelmRepository, OCIRepository, ReconcileStrategy, VerificationProvider,
};

/// Parses `yaml` as `Kind` and as plain JSON, and checks that serializing the typed object
/// gives back exactly the plain JSON: no field lost, none invented.
fn round_trip<Kind: Serialize + DeserializeOwned>(yaml: &str) -> Kind {
    let expected: Value = serde_saphyr::from_str(yaml).expect("example is valid YAML");
    let typed: Kind = serde_saphyr::from_str(yaml).expect("example parses as the kind");
    let actual = serde_json::to_value(&typed).expect("kind serializes");
    assert_eq!(actual, expected, "round trip changed the object");
    typed
}

/// Printer columns of a CRD as (name, type, jsonPath, priority).
fn columns(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Vec<(String, String, String, Option<i32>)> {
    crd.spec.versions[0]
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|column| {
            (
                column.name.clone(),
                column.type_.clone(),
                column.json_path.clone(),
                column.priority,
            )
        })
        .collect()
}

fn column(name: &str, type_: &str, path: &str) -> (String, String, String, Option<i32>) {
    (name.to_string(), type_.to_string(), path.to_string(), None)
}

const READY: &str = r#".status.conditions[?(@.type=="Ready")].status"#;
const STATUS: &str = r#".status.conditions[?(@.type=="Ready")].message"#;
const AGE: &str = ".metadata.creationTimestamp";

const GIT_REPOSITORY: &str = r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
  namespace: default
  generation: 2
spec:
  interval: 5m0s
  timeout: 1m
  url: https://github.com/stefanprodan/podinfo
  ref:
    branch: master
    semver: ">=6.0.0 <7.0.0"
  secretRef:
    name: basic-access-auth
  provider: generic
  proxySecretRef:
    name: http-proxy
  verify:
    mode: HEAD
    secretRef:
      name: pgp-public-keys
  ignore: |
    /*
    !/deploy
  recurseSubmodules: true
  include:
    - repository:
        name: app-repo
      fromPath: deploy/kubernetes
      toPath: base/app
  sparseCheckout:
    - deploy
  suspend: false
status:
  observedGeneration: 2
  conditions:
    - type: Ready
      status: "True"
      reason: Succeeded
      message: "stored artifact for revision 'master@sha1:363a6a8fe6a7f13e05d34c163b0ef02a777da20a'"
      lastTransitionTime: "2022-02-14T09:40:27Z"
      observedGeneration: 2
    - type: ArtifactInStorage
      status: "True"
      reason: Succeeded
      message: "stored artifact for revision 'master@sha1:363a6a8fe6a7f13e05d34c163b0ef02a777da20a'"
      lastTransitionTime: "2022-02-14T09:40:27Z"
      observedGeneration: 2
  artifact:
    digest: sha256:e750c7a46724acaef8f8aa926259af30bbd9face2ae065ae8896ba5ee5ab832b
    lastUpdateTime: "2022-01-29T06:59:23Z"
    path: gitrepository/default/podinfo/363a6a8fe6a7f13e05d34c163b0ef02a777da20a.tar.gz
    revision: master@sha1:363a6a8fe6a7f13e05d34c163b0ef02a777da20a
    size: 91318
    url: http://source-controller.flux-system.svc.cluster.local./gitrepository/default/podinfo/363a6a8fe6a7f13e05d34c163b0ef02a777da20a.tar.gz
  includedArtifacts:
    - digest: sha256:e750c7a46724acaef8f8aa926259af30bbd9face2ae065ae8896ba5ee5ab832b
      lastUpdateTime: "2022-01-29T06:59:23Z"
      path: gitrepository/default/app-repo/1f0b1d1e.tar.gz
      revision: main@sha1:1f0b1d1e3c6a2b8f9d9d0f7a3f2b8a8d4c5e6f7a
      url: http://source-controller.flux-system.svc.cluster.local./gitrepository/default/app-repo/1f0b1d1e.tar.gz
  observedIgnore: |
    /*
    !/deploy
  observedRecurseSubmodules: true
  observedInclude:
    - repository:
        name: app-repo
      fromPath: deploy/kubernetes
      toPath: base/app
  observedSparseCheckout:
    - deploy
  sourceVerificationMode: HEAD
  lastHandledReconcileAt: "2022-02-14T09:40:00Z"
"#;

#[test]
fn a_git_repository_survives_a_round_trip() {
    let repository: GitRepository = round_trip(GIT_REPOSITORY);
    assert_eq!(repository.spec.interval, "5m0s");
    // `semver` wins over `branch`.
    assert_eq!(
        repository.effective_ref(),
        EffectiveGitRef::Semver(">=6.0.0 <7.0.0")
    );
}

#[test]
fn a_minimal_git_repository_gains_no_fields() {
    let repository: GitRepository = round_trip(
        r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
spec:
  interval: 5m
  url: ssh://git@github.com/stefanprodan/podinfo
"#,
    );
    assert_eq!(
        repository.effective_ref(),
        EffectiveGitRef::Branch("master")
    );
    assert_eq!(repository.timeout(), "60s");
}

#[test]
fn a_helm_repository_survives_a_round_trip() {
    let repository: HelmRepository = round_trip(
        r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: default
spec:
  interval: 5m0s
  url: https://stefanprodan.github.io/podinfo
  timeout: 1m
  secretRef:
    name: example-user
  certSecretRef:
    name: example-tls
  passCredentials: true
  accessFrom:
    namespaceSelectors:
      - matchLabels:
          kubernetes.io/metadata.name: flux-system
  suspend: false
status:
  observedGeneration: 1
  url: http://source-controller.flux-system.svc.cluster.local./helmrepository/default/podinfo/index.yaml
  artifact:
    digest: sha256:80bb3dd67c63095d985850459834ea727603727a370079de90d221191d375a86
    lastUpdateTime: "2022-02-04T09:55:58Z"
    path: helmrepository/default/podinfo/index-83a3c595163a6ff0333e0154c790383b5be441b9db632cb36da11db1c4ece111.yaml
    revision: sha256:83a3c595163a6ff0333e0154c790383b5be441b9db632cb36da11db1c4ece111
    size: 40898
    url: http://source-controller.flux-system.svc.cluster.local./helmrepository/default/podinfo/index-83a3c595163a6ff0333e0154c790383b5be441b9db632cb36da11db1c4ece111.yaml
  conditions:
    - type: Ready
      status: "True"
      reason: Succeeded
      message: "stored artifact: revision 'sha256:83a3c595163a6ff0333e0154c790383b5be441b9db632cb36da11db1c4ece111'"
      lastTransitionTime: "2022-02-04T09:55:58Z"
      observedGeneration: 1
"#,
    );
    assert!(!repository.is_oci());
}

#[test]
fn an_oci_helm_repository_survives_a_round_trip() {
    let repository: HelmRepository = round_trip(
        r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: default
spec:
  type: oci
  interval: 5m0s
  url: oci://ghcr.io/stefanprodan/charts
  provider: aws
  insecure: false
"#,
    );
    assert!(repository.is_oci());
    assert_eq!(repository.provider(), CloudProvider::Aws);
}

#[test]
fn a_helm_chart_survives_a_round_trip() {
    let chart: HelmChart = round_trip(
        r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata:
  name: podinfo
  namespace: default
spec:
  interval: 5m0s
  chart: podinfo
  reconcileStrategy: ChartVersion
  sourceRef:
    kind: HelmRepository
    name: podinfo
  version: '5.*'
  valuesFiles:
    - values.yaml
    - values-production.yaml
  ignoreMissingValuesFiles: true
  verify:
    provider: cosign
    secretRef:
      name: cosign-public-keys
    matchOIDCIdentity:
      - issuer: "^https://token.actions.githubusercontent.com$"
        subject: "^https://github.com/stefanprodan/podinfo.*$"
status:
  observedGeneration: 1
  observedSourceArtifactRevision: sha256:83a3c595163a6ff0333e0154c790383b5be441b9db632cb36da11db1c4ece111
  observedChartName: podinfo
  observedValuesFiles:
    - values.yaml
    - values-production.yaml
  url: http://source-controller.flux-system.svc.cluster.local./helmchart/default/podinfo/latest.tar.gz
  artifact:
    digest: sha256:6c3cc3b955bce1686036ae6822ee2ca0ef6ecb994e3f2d19eaf3ec03dcba84b3
    lastUpdateTime: "2022-02-10T18:53:47Z"
    path: helmchart/default/podinfo/podinfo-5.2.1.tgz
    revision: 5.2.1
    size: 14166
    url: http://source-controller.flux-system.svc.cluster.local./helmchart/default/podinfo/podinfo-5.2.1.tgz
  conditions:
    - type: Ready
      status: "True"
      reason: ChartPullSucceeded
      message: "pulled 'podinfo' chart with version '5.2.1'"
      lastTransitionTime: "2022-02-10T18:53:47Z"
      observedGeneration: 1
"#,
    );
    assert_eq!(
        chart.spec.source_ref.kind,
        HelmChartSourceKind::HelmRepository
    );
    assert_eq!(chart.reconcile_strategy(), ReconcileStrategy::ChartVersion);
    assert_eq!(chart.version(), "5.*");
}

#[test]
fn a_bucket_survives_a_round_trip() {
    let bucket: Bucket = round_trip(
        r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: Bucket
metadata:
  name: minio-bucket
  namespace: default
spec:
  interval: 5m0s
  endpoint: minio.example.com
  insecure: true
  secretRef:
    name: minio-bucket-secret
  bucketName: example
  provider: generic
  region: us-east-1
  prefix: manifests/
  timeout: 30s
  ignore: |
    # exclude all
    /*
    # include deploy dir
    !/deploy
  sts:
    provider: ldap
    endpoint: https://minio.example.com
    secretRef:
      name: ldap-credentials
    certSecretRef:
      name: ldap-tls
  certSecretRef:
    name: minio-tls
  proxySecretRef:
    name: http-proxy
status:
  observedGeneration: 1
  url: http://source-controller.flux-system.svc.cluster.local./bucket/default/minio-bucket/latest.tar.gz
  artifact:
    digest: sha256:72aa638abb455ca5f9ef4825b949fd2de4d4be0a74895bf7ed2338622cd12686
    lastUpdateTime: "2024-02-01T23:43:38Z"
    path: bucket/default/minio-bucket/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.tar.gz
    revision: sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    size: 38099
    url: http://source-controller.flux-system.svc.cluster.local./bucket/default/minio-bucket/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.tar.gz
  observedIgnore: |
    # exclude all
    /*
    # include deploy dir
    !/deploy
  conditions:
    - type: Ready
      status: "True"
      reason: Succeeded
      message: "stored artifact for revision 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'"
      lastTransitionTime: "2024-02-01T23:43:38Z"
      observedGeneration: 1
"#,
    );
    assert_eq!(bucket.provider(), CloudProvider::Generic);
    assert_eq!(bucket.timeout(), "30s");
}

#[test]
fn an_oci_repository_survives_a_round_trip() {
    let repository: OCIRepository = round_trip(
        r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: podinfo
  namespace: default
spec:
  interval: 5m0s
  url: oci://ghcr.io/stefanprodan/manifests/podinfo
  ref:
    semver: ">= 6.1.x-0"
    semverFilter: ".*-rc.*"
  layerSelector:
    mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    operation: copy
  provider: azure
  serviceAccountName: podinfo-sa
  certSecretRef:
    name: example-tls
  verify:
    provider: cosign
    matchOIDCIdentity:
      - issuer: "^https://token.actions.githubusercontent.com$"
        subject: "^https://github.com/stefanprodan/podinfo.*$"
    trustedRootSecretRef:
      name: sigstore-trusted-root
  ignore: |
    /*
    !/deploy
  insecure: false
  timeout: 60s
status:
  observedGeneration: 1
  url: http://source-controller.flux-system.svc.cluster.local./ocirepository/default/podinfo/latest.tar.gz
  artifact:
    digest: sha256:d7e924b4882e55b97627355c7b3d2e711e9b54303afa2f50c25377f4df66a83b
    lastUpdateTime: "2022-06-22T09:14:21Z"
    metadata:
      org.opencontainers.image.created: "2022-06-22T09:11:16Z"
      org.opencontainers.image.revision: 6.1.6/450796ddb2ab6724ee1cc32a4be56da032d1cca0
      org.opencontainers.image.source: https://github.com/stefanprodan/podinfo.git
    path: ocirepository/default/podinfo/d7e924b4882e55b97627355c7b3d2e711e9b54303afa2f50c25377f4df66a83b.tar.gz
    revision: latest@sha256:3b6cdcc7adcc9a84d3214ee1c029543789d90b5ae69debe9efa3f66e982875de
    size: 1105
    url: http://source-controller.flux-system.svc.cluster.local./ocirepository/default/podinfo/d7e924b4882e55b97627355c7b3d2e711e9b54303afa2f50c25377f4df66a83b.tar.gz
  observedIgnore: |
    /*
    !/deploy
  observedLayerSelector:
    mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    operation: copy
  conditions:
    - type: Ready
      status: "True"
      reason: Succeeded
      message: "stored artifact for digest 'latest@sha256:3b6cdcc7adcc9a84d3214ee1c029543789d90b5ae69debe9efa3f66e982875de'"
      lastTransitionTime: "2022-06-22T09:14:21Z"
      observedGeneration: 1
"#,
    );
    let verify = repository.spec.verify.as_ref().expect("verify is set");
    assert_eq!(verify.provider, VerificationProvider::Cosign);
}

#[test]
fn an_external_artifact_survives_a_round_trip() {
    let artifact: ExternalArtifact = round_trip(
        r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: ExternalArtifact
metadata:
  name: my-artifact
  namespace: flux-system
spec:
  sourceRef:
    apiVersion: example.com/v1
    kind: Source
    name: my-source
status:
  artifact:
    digest: sha256:35d47c9db0eee6ffe08a404dfb416bee31b2b79eabc3f2eb26749163ce487f52
    lastUpdateTime: "2025-08-21T13:37:31Z"
    path: source/flux-system/my-source/35d47c9d.tar.gz
    revision: v1.0.0@sha256:35d47c9db0eee6ffe08a404dfb416bee31b2b79eabc3f2eb26749163ce487f52
    size: 20914
    url: http://example-controller.flux-system.svc.cluster.local./source/flux-system/my-source/35d47c9d.tar.gz
  conditions:
    - type: Ready
      status: "True"
      reason: Succeeded
      message: Artifact is ready
      lastTransitionTime: "2025-08-21T13:37:31Z"
"#,
    );
    assert!(artifact.artifact().is_some());
}

#[test]
fn a_missing_verification_provider_reads_as_cosign() {
    let repository: OCIRepository = serde_saphyr::from_str(
        r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: podinfo
spec:
  interval: 5m
  url: oci://ghcr.io/stefanprodan/manifests/podinfo
  verify:
    secretRef:
      name: cosign-pub
"#,
    )
    .expect("parses");
    let verify = repository.spec.verify.expect("verify is set");
    assert_eq!(verify.provider, VerificationProvider::Cosign);
}

#[test]
fn an_unknown_provider_is_refused() {
    let result: Result<GitRepository, _> = serde_saphyr::from_str(
        r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
spec:
  interval: 5m
  url: https://github.com/stefanprodan/podinfo
  provider: gitlab
"#,
    );
    assert!(result.is_err());
}

#[test]
fn source_crds_have_flux_names_scope_and_columns() {
    let cases = [
        (
            GitRepository::crd(),
            "gitrepositories",
            "GitRepository",
            vec!["gitrepo"],
        ),
        (
            HelmRepository::crd(),
            "helmrepositories",
            "HelmRepository",
            vec!["helmrepo"],
        ),
        (HelmChart::crd(), "helmcharts", "HelmChart", vec!["hc"]),
        (Bucket::crd(), "buckets", "Bucket", vec![]),
        (
            OCIRepository::crd(),
            "ocirepositories",
            "OCIRepository",
            vec!["ocirepo"],
        ),
        (
            ExternalArtifact::crd(),
            "externalartifacts",
            "ExternalArtifact",
            vec!["ea"],
        ),
    ];
    for (crd, plural, kind, short_names) in cases {
        assert_eq!(crd.spec.group, "source.toolkit.fluxcd.io");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.plural, plural);
        assert_eq!(crd.spec.names.kind, kind);
        assert_eq!(
            crd.spec.names.short_names.clone().unwrap_or_default(),
            short_names
        );
        assert_eq!(
            crd.spec.names.categories.clone().unwrap_or_default(),
            vec!["all", "fluxcd", "fluxcd-sources"]
        );
        assert_eq!(crd.spec.versions.len(), 1);
        assert_eq!(crd.spec.versions[0].name, "v1");
        assert!(
            crd.spec.versions[0]
                .subresources
                .as_ref()
                .is_some_and(|s| s.status.is_some())
        );
        let annotations = crd.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            annotations
                .get("kustomize.toolkit.fluxcd.io/substitute")
                .map(String::as_str),
            Some("disabled")
        );
    }
}

#[test]
fn source_crds_print_flux_columns() {
    let url_ready_status = vec![
        column("URL", "string", ".spec.url"),
        column("Age", "date", AGE),
        column("Ready", "string", READY),
        column("Status", "string", STATUS),
    ];
    assert_eq!(columns(&GitRepository::crd()), url_ready_status);
    assert_eq!(columns(&HelmRepository::crd()), url_ready_status);
    assert_eq!(
        columns(&HelmChart::crd()),
        vec![
            column("Chart", "string", ".spec.chart"),
            column("Version", "string", ".spec.version"),
            column("Source Kind", "string", ".spec.sourceRef.kind"),
            column("Source Name", "string", ".spec.sourceRef.name"),
            column("Age", "date", AGE),
            column("Ready", "string", READY),
            column("Status", "string", STATUS),
        ]
    );
    assert_eq!(
        columns(&Bucket::crd()),
        vec![
            column("Endpoint", "string", ".spec.endpoint"),
            column("Age", "date", AGE),
            column("Ready", "string", READY),
            column("Status", "string", STATUS),
        ]
    );
    assert_eq!(
        columns(&OCIRepository::crd()),
        vec![
            column("URL", "string", ".spec.url"),
            column("Ready", "string", READY),
            column("Status", "string", STATUS),
            column("Age", "date", AGE),
        ]
    );
    assert_eq!(
        columns(&ExternalArtifact::crd()),
        vec![
            column("Age", "date", AGE),
            column("Ready", "string", READY),
            column("Status", "string", STATUS),
            column("Source", "string", ".spec.sourceRef.name"),
        ]
    );
}

/// The schema of `spec` in a generated CRD.
fn spec_schema(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Value {
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref());
    serde_json::to_value(schema).expect("schema serializes")["properties"]["spec"].clone()
}

#[test]
fn source_schemas_carry_flux_defaults_patterns_and_rules() {
    let git = spec_schema(&GitRepository::crd());
    assert_eq!(git["properties"]["timeout"]["default"], "60s");
    assert_eq!(
        git["properties"]["url"]["pattern"],
        "^(http|https|ssh)://.*$"
    );
    assert_eq!(
        git["properties"]["verify"]["properties"]["mode"]["default"],
        "HEAD"
    );
    assert_eq!(git["required"], serde_json::json!(["interval", "url"]));
    assert_eq!(
        git["x-kubernetes-validations"].as_array().map(Vec::len),
        Some(1)
    );

    let chart = spec_schema(&HelmChart::crd());
    assert_eq!(chart["properties"]["version"]["default"], "*");
    assert_eq!(
        chart["properties"]["verify"]["required"],
        serde_json::json!(["provider"])
    );
    assert_eq!(
        chart["properties"]["verify"]["properties"]["provider"]["default"],
        "cosign"
    );

    let bucket = spec_schema(&Bucket::crd());
    assert_eq!(bucket["properties"]["provider"]["default"], "generic");
    assert_eq!(
        bucket["x-kubernetes-validations"].as_array().map(Vec::len),
        Some(7)
    );
}
