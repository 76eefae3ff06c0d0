//! Alert, Provider (v1beta3) and Receiver (v1) objects written as in the Flux documentation
//! (notification-controller `docs/spec/v1beta3/*.md`, `docs/spec/v1/receivers.md`) survive a
//! trip through our types unchanged, and the generated CRDs are shaped as Flux's.

use eddy_api::meta::{Reconciled, StatusFields};
use eddy_api::notification::v1::{FluxObjectKind, Receiver, ReceiverType, webhook_path};
use eddy_api::notification::v1beta3::{Alert, EventSeverity, Provider, ProviderType};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Parses `yaml` as a `T` and checks that serializing it gives back exactly the document that
/// went in.
fn round_trip<T: Serialize + DeserializeOwned>(yaml: &str) -> T {
    let expected: Value = serde_saphyr::from_str(yaml).expect("example is valid YAML");
    let object: T = serde_saphyr::from_str(yaml).expect("example has the expected kind");
    let actual = serde_json::to_value(&object).expect("object serializes");
    assert_eq!(actual, expected, "round trip changed the object");
    object
}

/// `(name, jsonPath)` of each printer column of the CRD's only version.
fn columns(crd: &CustomResourceDefinition) -> Vec<(String, String)> {
    crd.spec.versions[0]
        .additional_printer_columns
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|column| (column.name, column.json_path))
        .collect()
}

fn strings(values: &[&str]) -> Option<Vec<String>> {
    Some(values.iter().map(|value| value.to_string()).collect())
}

#[test]
fn the_slack_alert_example_round_trips() {
    let alert: Alert = round_trip(
        r#"
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: slack
  namespace: flux-system
spec:
  providerRef:
    name: slack-bot
  eventMetadata:
    summary: Cluster addons impacted
    env: prod
    cluster: my-cluster
    region: us-east-2
  eventSeverity: error
  eventSources:
    - kind: GitRepository
      name: '*'
    - kind: Kustomization
      name: '*'
"#,
    );
    assert_eq!(alert.spec.get_event_severity(), EventSeverity::Error);
    assert_eq!(
        alert.spec.event_sources[1].kind,
        FluxObjectKind::Kustomization
    );
}

#[test]
fn every_alert_field_round_trips() {
    let alert: Alert = round_trip(
        r#"
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: apps
  namespace: apps
spec:
  providerRef:
    name: msteams
  eventSeverity: info
  eventSources:
    - apiVersion: helm.toolkit.fluxcd.io/v2
      kind: HelmRelease
      name: '*'
      namespace: apps
      matchLabels:
        team: app-dev
    - kind: OCIRepository
      name: podinfo
    - kind: ArtifactGenerator
      name: bundle
    - kind: ExternalArtifact
      name: bundle
    - kind: ImageUpdateAutomation
      name: apps
  inclusionList:
    - ".*succeeded.*"
  exclusionList:
    - "^Dependencies.*"
  summary: "Apps impacted in us-east-2"
  suspend: true
"#,
    );
    assert_eq!(
        alert.spec.event_sources[1].kind,
        FluxObjectKind::OciRepository
    );
    assert!(alert.spec.suspended());
}

#[test]
fn provider_examples_round_trip() {
    let slack: Provider = round_trip(
        r#"
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: slack-bot
  namespace: flux-system
spec:
  type: slack
  channel: general
  address: https://slack.com/api/chat.postMessage
  secretRef:
    name: slack-bot-token
"#,
    );
    assert_eq!(slack.spec.provider_type, ProviderType::Slack);

    let github: Provider = round_trip(
        r#"
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: github-status
  namespace: flux-system
spec:
  type: github
  address: https://github.com/my-gh-org/my-gh-repo
  secretRef:
    name: github-token
  commitStatusExpr: "(event.involvedObject.kind + '/' + event.involvedObject.name + '/' + event.metadata.foo + '/' + provider.metadata.uid.split('-').first().value()).lowerAscii()"
"#,
    );
    assert!(github.spec.provider_type.is_commit_status());

    let pubsub: Provider = round_trip(
        r#"
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: pubsub
  namespace: tenant-a
spec:
  type: googlepubsub
  address: my-gcp-project
  channel: flux-events
  serviceAccountName: tenant-a-pubsub-sa
  interval: 10m
  username: flux
  timeout: 30s
  proxy: https://proxy.example.com:8080
  proxySecretRef:
    name: proxy
  certSecretRef:
    name: mtls
  suspend: false
"#,
    );
    assert_eq!(
        pubsub.spec.get_timeout().map(|timeout| timeout.as_secs()),
        Ok(30)
    );
}

#[test]
fn every_provider_type_flux_lists_parses() {
    let types = [
        "slack",
        "discord",
        "msteams",
        "rocket",
        "generic",
        "generic-hmac",
        "github",
        "gitlab",
        "gitea",
        "giteapullrequestcomment",
        "bitbucketserver",
        "bitbucket",
        "azuredevops",
        "googlechat",
        "googlepubsub",
        "webex",
        "sentry",
        "azureeventhub",
        "telegram",
        "lark",
        "matrix",
        "opsgenie",
        "alertmanager",
        "grafana",
        "githubdispatch",
        "githubpullrequestcomment",
        "gitlabmergerequestcomment",
        "pagerduty",
        "datadog",
        "nats",
        "zulip",
        "otel",
        "zoom",
        "incident.io",
    ];
    for name in types {
        let parsed: ProviderType =
            serde_json::from_value(json!(name)).expect("Flux provider type parses");
        assert_eq!(
            serde_json::to_value(parsed).expect("serializes"),
            json!(name)
        );
    }
    let crd = serde_json::to_value(Provider::crd()).expect("CRD serializes");
    let schema_types = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]["type"]["enum"];
    assert_eq!(schema_types, &json!(types.to_vec()));
}

#[test]
fn receiver_examples_round_trip() {
    let github: Receiver = round_trip(
        r#"
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: github-receiver
  namespace: flux-system
spec:
  type: github
  events:
    - "ping"
    - "push"
  secretRef:
    name: receiver-token
  resources:
    - apiVersion: source.toolkit.fluxcd.io/v1
      kind: GitRepository
      name: flux-system
status:
  conditions:
    - lastTransitionTime: "2022-11-16T23:43:38Z"
      message: "Receiver initialised for path: /hook/bed6d00b5555b1603e1f59b94d7fdbca58089cb5663633fb83f2815dc626d92b"
      observedGeneration: 1
      reason: Succeeded
      status: "True"
      type: Ready
  observedGeneration: 1
  webhookPath: /hook/bed6d00b5555b1603e1f59b94d7fdbca58089cb5663633fb83f2815dc626d92b
"#,
    );
    assert_eq!(github.spec.receiver_type, ReceiverType::GitHub);
    assert_eq!(github.interval(), "10m");
    let status = github.status.as_ref().expect("status is present");
    assert_eq!(status.observed_generation(), Some(1));
    assert_eq!(status.conditions().len(), 1);

    let gar: Receiver = round_trip(
        r#"
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: gar-receiver
  namespace: apps
spec:
  type: gcr
  interval: 1h
  suspend: false
  secretRef:
    name: flux-gar-token
  resourceFilter: req.tag.contains(res.metadata.name)
  resources:
    - apiVersion: image.toolkit.fluxcd.io/v1
      kind: ImageRepository
      name: "*"
      namespace: apps
      matchLabels:
        registry: gar
      filter: res.metadata.labels['environment'] == 'production'
"#,
    );
    assert_eq!(gar.interval(), "1h");
    assert_eq!(gar.spec.resources[0].kind, FluxObjectKind::ImageRepository);
}

#[test]
fn the_generic_oidc_receiver_example_round_trips() {
    let receiver: Receiver = round_trip(
        r#"
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: generic-oidc-receiver
  namespace: default
spec:
  type: generic-oidc
  oidcProviders:
    - issuerURL: https://token.actions.githubusercontent.com
      audience: notification-controller
      variables:
        - name: owner
          expression: "claims.repository_owner"
        - name: allowedRepos
          expression: "[vars.owner + '/repo-a', vars.owner + '/repo-b']"
      validations:
        - expression: "vars.owner == 'my-org'"
          message: "wrong org"
        - expression: "claims.repository in vars.allowedRepos"
          message: "repo not in allowlist"
  resources:
    - apiVersion: source.toolkit.fluxcd.io/v1
      kind: GitRepository
      name: webapp
"#,
    );
    let providers = receiver
        .spec
        .oidc_providers
        .as_ref()
        .expect("providers are set");
    assert_eq!(
        providers[0].issuer_url,
        "https://token.actions.githubusercontent.com"
    );
    assert_eq!(receiver.spec.receiver_type, ReceiverType::GenericOidc);
}

#[test]
fn receiver_webhook_path_is_what_flux_computes() {
    let receiver: Receiver = round_trip(
        r#"
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: receiver
  namespace: flux-system
spec:
  type: generic
  secretRef:
    name: token
  resources:
    - kind: GitRepository
      name: flux-system
"#,
    );
    // Computed independently: printf 'tokenreceiverflux-system' | sha256sum
    let expected = "/hook/82c055fa0743ee447b0870be16fa51a43bb6604b21ef8fae7ccf02bdc860b0f9";
    assert_eq!(receiver.get_webhook_path("token"), expected);
    assert_eq!(webhook_path("token", "receiver", "flux-system"), expected);
}

#[test]
fn alert_and_provider_crds_have_no_status() {
    for crd in [Alert::crd(), Provider::crd()] {
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1beta3");
        assert!(
            version.subresources.is_none(),
            "{} has no subresources",
            crd.spec.names.kind
        );
        let schema = serde_json::to_value(&version.schema).expect("schema serializes");
        assert_eq!(schema["openAPIV3Schema"]["properties"].get("status"), None);
        assert_eq!(
            columns(&crd),
            [("Age".to_string(), ".metadata.creationTimestamp".to_string())]
        );
        assert_eq!(crd.spec.names.short_names, None);
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(
            crd.spec.names.categories,
            strings(&["all", "fluxcd", "fluxcd-notifications"])
        );
    }
    assert_eq!(Alert::crd().spec.names.plural, "alerts");
    assert_eq!(Provider::crd().spec.names.plural, "providers");
}

#[test]
fn receiver_crd_has_status_and_ready_columns() {
    let crd = Receiver::crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("receivers.notification.toolkit.fluxcd.io")
    );
    assert_eq!(crd.spec.names.plural, "receivers");
    assert_eq!(crd.spec.names.short_names, None);
    assert_eq!(
        crd.spec.names.categories,
        strings(&["all", "fluxcd", "fluxcd-notifications"])
    );
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1");
    assert!(
        version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    assert_eq!(
        columns(&crd),
        [
            ("Age", ".metadata.creationTimestamp"),
            ("Ready", ".status.conditions[?(@.type==\"Ready\")].status"),
            ("Status", ".status.conditions[?(@.type==\"Ready\")].message"),
        ]
        .map(|(name, path)| (name.to_string(), path.to_string()))
    );
    let schema = serde_json::to_value(&version.schema).expect("schema serializes");
    let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(spec["properties"]["interval"]["default"], "10m");
    assert_eq!(
        spec["x-kubernetes-validations"].as_array().map(Vec::len),
        Some(4)
    );
    assert_eq!(
        spec["properties"]["oidcProviders"]["x-kubernetes-list-type"],
        "map"
    );
    assert_eq!(
        spec["properties"]["resources"]["items"]["properties"]["kind"]["enum"],
        json!([
            "Bucket",
            "GitRepository",
            "Kustomization",
            "HelmRelease",
            "HelmChart",
            "HelmRepository",
            "ImageRepository",
            "ImagePolicy",
            "ImageUpdateAutomation",
            "OCIRepository",
            "ArtifactGenerator",
            "ExternalArtifact"
        ])
    );
}
