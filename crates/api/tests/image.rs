//! Round trips of `image.toolkit.fluxcd.io/v1` objects written after the examples in Flux's
//! image-reflector and image-automation specs, and the shape of the generated CRDs.

use kube::CustomResourceExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use eddy_api::image::v1::{
    ImagePolicy, ImageRepository, ImageUpdateAutomation, ReflectionPolicy, SortOrder,
};

/// Parses `yaml` as `Kind` and as plain JSON, and checks that serializing the typed object
/// gives back exactly the plain JSON.
fn round_trip<Kind: Serialize + DeserializeOwned>(yaml: &str) -> Kind {
    let expected: Value = serde_saphyr::from_str(yaml).expect("example is valid YAML");
    let typed: Kind = serde_saphyr::from_str(yaml).expect("example parses as the kind");
    let actual = serde_json::to_value(&typed).expect("kind serializes");
    assert_eq!(actual, expected, "round trip changed the object");
    typed
}

type Crd =
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// Printer columns of a CRD as (name, type, jsonPath, priority).
fn columns(crd: &Crd) -> Vec<(String, String, String, Option<i32>)> {
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

fn column(
    name: &str,
    type_: &str,
    path: &str,
    priority: Option<i32>,
) -> (String, String, String, Option<i32>) {
    (
        name.to_string(),
        type_.to_string(),
        path.to_string(),
        priority,
    )
}

const READY: &str = r#".status.conditions[?(@.type=="Ready")].status"#;
const STATUS: &str = r#".status.conditions[?(@.type=="Ready")].message"#;
const AGE: &str = ".metadata.creationTimestamp";

#[test]
fn an_image_repository_survives_a_round_trip() {
    let repository: ImageRepository = round_trip(
        r#"
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: podinfo
  namespace: default
spec:
  image: ghcr.io/stefanprodan/podinfo
  interval: 5m
  timeout: 1m
  secretRef:
    name: regcred
  certSecretRef:
    name: registry-tls
  proxySecretRef:
    name: http-proxy
  serviceAccountName: podinfo-sa
  exclusionList:
    - "^.*\\.sig$"
    - "1.0.2"
  provider: generic
  insecure: false
  accessFrom:
    namespaceSelectors:
      - matchLabels:
          kubernetes.io/metadata.name: flux-system
  suspend: false
status:
  canonicalImageName: ghcr.io/stefanprodan/podinfo
  conditions:
    - type: Ready
      status: "True"
      reason: Succeeded
      message: "successful scan: found 13 tags"
      lastTransitionTime: "2022-09-13T16:39:11Z"
      observedGeneration: 1
  lastScanResult:
    revision: sha256:6d6f8b5c8bba4f5e4a3f0d1c2e7b9a8c
    scanTime: "2022-09-13T16:39:11Z"
    tagCount: 13
    latestTags:
      - latest
      - 6.2.0
      - 6.1.8
  observedExclusionList:
    - "^.*\\.sig$"
    - "1.0.2"
  observedGeneration: 1
  lastHandledReconcileAt: "2022-09-13T16:39:00Z"
"#,
    );
    assert_eq!(
        repository.exclusion_list(),
        vec![r"^.*\.sig$".to_string(), "1.0.2".into()]
    );
}

#[test]
fn an_image_policy_survives_a_round_trip() {
    let policy: ImagePolicy = round_trip(
        r#"
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: default
spec:
  imageRepositoryRef:
    name: podinfo
    namespace: flux-system
  policy:
    semver:
      range: 5.1.x
  filterTags:
    pattern: '^main-[a-fA-F0-9]+-(?P<ts>.*)'
    extract: '$ts'
  digestReflectionPolicy: Always
  interval: 1h
status:
  latestRef:
    name: ghcr.io/stefanprodan/podinfo
    tag: 5.1.4
    digest: sha256:2c1bdc3e8d2b0a2f8d1e7c4d9a5b6f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a
  observedPreviousRef:
    name: ghcr.io/stefanprodan/podinfo
    tag: 5.1.3
  observedGeneration: 1
  conditions:
    - type: Ready
      status: "True"
      reason: Succeeded
      message: "Latest image tag for ghcr.io/stefanprodan/podinfo resolved to 5.1.4"
      lastTransitionTime: "2022-09-20T07:08:22Z"
      observedGeneration: 1
"#,
    );
    assert_eq!(policy.digest_reflection_policy(), ReflectionPolicy::Always);
    assert_eq!(policy.refresh_interval(), Some("1h"));
}

#[test]
fn alphabetical_and_numerical_policies_keep_their_order() {
    let policy: ImagePolicy = round_trip(
        r#"
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    numerical:
      order: desc
"#,
    );
    let numerical = policy
        .spec
        .policy
        .numerical
        .as_ref()
        .and_then(|numerical| numerical.order);
    assert_eq!(numerical, Some(SortOrder::Desc));
    let policy: ImagePolicy = round_trip(
        r#"
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    alphabetical: {}
"#,
    );
    assert_eq!(policy.digest_reflection_policy(), ReflectionPolicy::Never);
    assert_eq!(policy.refresh_interval(), None);
}

#[test]
fn an_image_update_automation_survives_a_round_trip() {
    let automation: ImageUpdateAutomation = round_trip(
        r#"
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: podinfo-update
  namespace: default
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: podinfo
    namespace: flux-system
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        email: fluxcdbot@users.noreply.github.com
        name: fluxcdbot
      signingKey:
        secretRef:
          name: signing-key
        type: ssh
      messageTemplate: '{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}'
      messageTemplateValues:
        env: production
    push:
      branch: image-updates
      refspec: refs/heads/image-updates:refs/heads/main
      options:
        merge_request.create: ""
  update:
    path: ./clusters/my-cluster
    strategy: Setters
  policySelector:
    matchLabels:
      app.kubernetes.io/instance: podinfo
    matchExpressions:
      - key: app.kubernetes.io/component
        operator: In
        values: [frontend]
  suspend: false
status:
  conditions:
    - type: Ready
      status: "True"
      reason: Succeeded
      message: "repository up-to-date"
      lastTransitionTime: "2024-03-18T20:13:47Z"
      observedGeneration: 1
  lastAutomationRunTime: "2024-03-18T20:13:47Z"
  lastPushCommit: 8f3e1c5d
  lastPushTime: "2024-03-18T20:13:46Z"
  observedGeneration: 1
  observedPolicies:
    podinfo-policy:
      name: ghcr.io/stefanprodan/podinfo
      tag: 4.0.6
  observedSourceRevision: main@sha1:8f3e1c5d1e7c4a2b9f0d6e3a1c5b7d9e2f4a6c8b
  lastHandledReconcileAt: "2024-03-18T20:13:40Z"
"#,
    );
    assert_eq!(
        automation.spec.source_ref.to_string(),
        "GitRepository/flux-system/podinfo"
    );
    assert!(
        automation
            .spec
            .git_spec
            .as_ref()
            .is_some_and(|git| git.has_refspec())
    );
}

#[test]
fn image_crds_have_flux_names_scope_and_columns() {
    let cases = [
        (
            ImageRepository::crd(),
            "imagerepositories",
            "ImageRepository",
            vec!["imgrepo", "imagerepo"],
        ),
        (
            ImagePolicy::crd(),
            "imagepolicies",
            "ImagePolicy",
            vec!["imgpol", "imagepol"],
        ),
        (
            ImageUpdateAutomation::crd(),
            "imageupdateautomations",
            "ImageUpdateAutomation",
            vec!["iua", "imgupd", "imgauto"],
        ),
    ];
    for (crd, plural, kind, short_names) in cases {
        assert_eq!(crd.spec.group, "image.toolkit.fluxcd.io");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.plural, plural);
        assert_eq!(crd.spec.names.kind, kind);
        assert_eq!(
            crd.spec.names.short_names.clone().unwrap_or_default(),
            short_names
        );
        assert_eq!(
            crd.spec.names.categories.clone().unwrap_or_default(),
            vec!["all", "fluxcd", "fluxcd-images"]
        );
        assert_eq!(crd.spec.versions[0].name, "v1");
    }
    assert_eq!(
        columns(&ImageRepository::crd()),
        vec![
            column("Image", "string", ".spec.image", None),
            column("Tags", "string", ".status.lastScanResult.tagCount", None),
            column("Ready", "string", READY, None),
            column("Status", "string", STATUS, None),
            column(
                "Last scan",
                "string",
                ".status.lastScanResult.scanTime",
                Some(1)
            ),
            column("Age", "date", AGE, None),
        ]
    );
    assert_eq!(
        columns(&ImagePolicy::crd()),
        vec![
            column("Image", "string", ".status.latestRef.name", None),
            column("Tag", "string", ".status.latestRef.tag", None),
            column("Ready", "string", READY, None),
            column("Status", "string", STATUS, None),
            column("Age", "date", AGE, None),
        ]
    );
    assert_eq!(
        columns(&ImageUpdateAutomation::crd()),
        vec![
            column("Ready", "string", READY, None),
            column("Status", "string", STATUS, None),
            column(
                "Last run",
                "string",
                ".status.lastAutomationRunTime",
                Some(1)
            ),
            column("Age", "date", AGE, None),
        ]
    );
}

#[test]
fn image_schemas_carry_flux_defaults_and_limits() {
    let schema = |crd: &Crd| {
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref());
        serde_json::to_value(schema).expect("schema serializes")["properties"]["spec"].clone()
    };
    let repository = schema(&ImageRepository::crd());
    assert_eq!(
        repository["properties"]["exclusionList"]["default"],
        serde_json::json!([r"^.*\.sig$"])
    );
    assert_eq!(repository["properties"]["exclusionList"]["maxItems"], 25);
    assert_eq!(
        repository["properties"]["serviceAccountName"]["maxLength"],
        253
    );
    let automation = schema(&ImageUpdateAutomation::crd());
    assert_eq!(
        automation["properties"]["update"]["default"],
        serde_json::json!({"strategy": "Setters"})
    );
    let mut required: Vec<&str> = automation["properties"]["sourceRef"]["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    required.sort_unstable();
    assert_eq!(required, vec!["kind", "name"]);
    assert_eq!(
        automation["properties"]["sourceRef"]["properties"]["kind"]["default"],
        "GitRepository"
    );
    let policy = schema(&ImagePolicy::crd());
    assert_eq!(
        policy["properties"]["digestReflectionPolicy"]["default"],
        "Never"
    );
    assert_eq!(
        policy["x-kubernetes-validations"].as_array().map(Vec::len),
        Some(2)
    );
}
