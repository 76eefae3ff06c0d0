//! Issue 8's end-to-end acceptance: on the dev cluster, with the real source-controller,
//! kustomize-controller and notification-controller binaries wired through `--events-addr`,
//! every event a Kustomization emits while applying a change (its change set, and "Health check
//! passed" since it waits) reaches Slack and Microsoft Teams exactly once, carrying the
//! revision. Git is served from a local bare repository (`git http-backend`), Slack and Teams
//! are local HTTP sinks.

use std::path::Path;
use std::time::Duration;

use eddy_api::kustomize::v1::Kustomization;
use eddy_api::meta::annotations::RECONCILE_REQUESTED_AT;
use eddy_api::meta::conditions::READY;
use eddy_api::meta::event_metadata::{COMMIT_STATUS, REVISION};
use eddy_api::meta::reasons::RECONCILIATION_SUCCEEDED;
use eddy_api::notification::v1beta3::{Alert, Provider};
use eddy_api::source::v1::GitRepository;
use eddy_e2e::fixtures::{ControllerProcess, GitHttpServer, Sink, git_http_backend_available};
use eddy_e2e::start_dev_cluster;
use eddy_testkit::{client_for, eventually_explained, free_port};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const NAMESPACE: &str = "flux-system";
/// Generous: a controller start, a clone, an apply and a 5 s health poll fit many times over.
const DEADLINE: Duration = Duration::from_secs(90);
/// The involved object as Slack and Teams name it.
const OBJECT: &str = "kustomization/app.flux-system";
const SLACK_PATH: &str = "/services/T000/B000/e2e";
/// A Power Automate workflow URL path: not `*.webhook.office.com`, so an Adaptive Card.
const TEAMS_PATH: &str = "/workflows/e2e/triggers/manual/paths/invoke";
const AUDIT_PATH: &str = "/events";
/// An object annotation producers copy into their events' metadata, marking the final reconcile.
const PHASE_ANNOTATION: &str = "event.toolkit.fluxcd.io/phase";
/// The health-check message with its measured duration replaced.
const HEALTH_CHECK_PASSED: &str = "Health check passed in <elapsed>";

const KUSTOMIZATION_YAML: &str = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- configmap.yaml
- service.yaml
";
const SERVICE_YAML: &str = "apiVersion: v1
kind: Service
metadata:
  name: svc
  namespace: dev
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
";

fn configmap_yaml(greeting: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: dev\ndata:\n  greeting: {greeting}\n"
    )
}

/// One chat message as the test reads it back from a sink.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Notification {
    object: String,
    message: String,
    revision: String,
}

impl Notification {
    fn expected(message: &str, revision: &str) -> Self {
        Self {
            object: OBJECT.to_string(),
            message: message.to_string(),
            revision: revision.to_string(),
        }
    }
}

/// Health-check messages carry a measured duration; everything else is compared verbatim.
fn normalized(message: &str) -> String {
    if message.starts_with("Health check passed in ") {
        HEALTH_CHECK_PASSED.to_string()
    } else {
        message.to_string()
    }
}

/// The Slack messages received: attachment author, text and the `revision` field. Panics on a
/// request that is not Flux's Slack payload at the Provider's path.
fn slack_notifications(sink: &Sink) -> Vec<Notification> {
    sink.received()
        .iter()
        .map(|request| {
            assert_eq!(request.path, SLACK_PATH, "{:#}", request.body);
            let attachment = &request.body["attachments"][0];
            assert_eq!(attachment["color"], "good", "{:#}", request.body);
            assert_eq!(
                request.body["username"], "kustomize-controller",
                "{:#}",
                request.body
            );
            let revision = attachment["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|field| field["title"] == REVISION)
                .and_then(|field| field["value"].as_str())
                .unwrap_or_default();
            Notification {
                object: attachment["author_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                message: normalized(attachment["text"].as_str().unwrap_or_default()),
                revision: revision.to_string(),
            }
        })
        .collect()
}

/// The Teams messages received: the Adaptive Card's title, message and `revision` fact. Panics
/// on a request that is not an Adaptive Card at the Provider's path.
fn teams_notifications(sink: &Sink) -> Vec<Notification> {
    sink.received()
        .iter()
        .map(|request| {
            assert_eq!(request.path, TEAMS_PATH, "{:#}", request.body);
            let attachment = &request.body["attachments"][0];
            assert_eq!(
                attachment["contentType"], "application/vnd.microsoft.card.adaptive",
                "{:#}",
                request.body
            );
            assert_eq!(
                attachment["content"]["type"], "AdaptiveCard",
                "{:#}",
                request.body
            );
            let items = &attachment["content"]["body"][0]["items"];
            assert!(
                items[1].get("color").is_none(),
                "an info event is not coloured attention: {:#}",
                request.body
            );
            let revision = items
                .as_array()
                .into_iter()
                .flatten()
                .filter(|item| item["type"] == "FactSet")
                .flat_map(|facts| facts["facts"].as_array().cloned().unwrap_or_default())
                .find(|fact| fact["title"] == REVISION)
                .and_then(|fact| fact["value"].as_str().map(str::to_string))
                .unwrap_or_default();
            Notification {
                object: items[0]["text"].as_str().unwrap_or_default().to_string(),
                message: normalized(items[1]["text"].as_str().unwrap_or_default()),
                revision,
            }
        })
        .collect()
}

/// The events the generic webhook received, as Flux's event JSON after notification-controller's
/// metadata merge.
fn audit_events(sink: &Sink) -> Vec<Value> {
    sink.received()
        .into_iter()
        .map(|request| {
            assert_eq!(request.path, AUDIT_PATH, "{:#}", request.body);
            request.body
        })
        .collect()
}

/// The audited events a chat provider gets: all but commit-status updates, which Flux sends
/// only to Git and generic providers.
fn audit_notifications(sink: &Sink) -> Vec<Notification> {
    audit_events(sink)
        .iter()
        .filter(|event| event["metadata"].get(COMMIT_STATUS).is_none())
        .map(|event| {
            let object = &event["involvedObject"];
            Notification {
                object: format!(
                    "{}/{}.{}",
                    object["kind"].as_str().unwrap_or_default().to_lowercase(),
                    object["name"].as_str().unwrap_or_default(),
                    object["namespace"].as_str().unwrap_or_default()
                ),
                message: normalized(event["message"].as_str().unwrap_or_default()),
                revision: event["metadata"][REVISION]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            }
        })
        .collect()
}

fn sorted(mut notifications: Vec<Notification>) -> Vec<Notification> {
    notifications.sort();
    notifications
}

/// Whether every `expected` notification has arrived (duplicates are judged at the end).
fn has_all(received: &[Notification], expected: &[Notification]) -> bool {
    expected.iter().all(|wanted| received.contains(wanted))
}

async fn create<K>(api: &Api<K>, object: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(object).expect("a valid object");
    api.create(&PostParams::default(), &object)
        .await
        .expect("object created");
}

/// Sets `reconcile.fluxcd.io/requestedAt` to `token`, with `annotations` besides.
async fn request_reconcile<K>(api: &Api<K>, name: &str, token: &str, annotations: &[(&str, &str)])
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut all = serde_json::Map::new();
    all.insert(RECONCILE_REQUESTED_AT.to_string(), json!(token));
    for (key, value) in annotations {
        all.insert((*key).to_string(), json!(value));
    }
    let patch = json!({"metadata": {"annotations": all}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("reconcile requested");
}

/// The object as JSON, or `Null` while it cannot be read.
async fn read<K>(api: &Api<K>, name: &str) -> Value
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    match api.get_opt(name).await {
        Ok(Some(object)) => serde_json::to_value(object).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn is_ready(object: &Value) -> bool {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|condition| condition["type"] == READY && condition["status"] == "True")
}

/// Everything the controllers and sinks say, for a failure message.
fn diagnostics(controllers: &[&ControllerProcess], sinks: [&Sink; 3]) -> String {
    let [slack, teams, audit] = sinks;
    let mut text: Vec<String> = controllers
        .iter()
        .map(|controller| controller.log_tail(30))
        .collect();
    text.push(format!(
        "--- Slack received ---\n{:#?}",
        slack_notifications(slack)
    ));
    text.push(format!(
        "--- Teams received ---\n{:#?}",
        teams_notifications(teams)
    ));
    text.push(format!(
        "--- generic webhook received ---\n{:#?}",
        audit_events(audit)
    ));
    text.join("\n")
}

#[test]
fn each_kustomization_event_reaches_slack_and_teams_exactly_once_with_its_revision() {
    if !git_http_backend_available() {
        eprintln!("SKIPPED: `git http-backend` is not installed (it ships with git)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (kubeconfig, _cluster) = start_dev_cluster();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(scenario(dir.path(), &kubeconfig));
}

#[allow(
    clippy::too_many_lines,
    reason = "one scenario read top to bottom: set-up, commit 1, commit 2, the final count"
)]
async fn scenario(dir: &Path, kubeconfig: &Path) {
    let client = client_for(kubeconfig).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in [NAMESPACE, "dev"] {
        create(
            &namespaces,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        )
        .await;
    }

    // Slack and Teams, their Providers, and an Alert for each on every Kustomization's events.
    let slack = Sink::start().await;
    let teams = Sink::start().await;
    // A generic webhook sees every event, commit-status updates included: the test's view of
    // what the Kustomization emitted, and its barrier at the end.
    let audit = Sink::start().await;
    let providers: Api<Provider> = Api::namespaced(client.clone(), NAMESPACE);
    let alerts: Api<Alert> = Api::namespaced(client.clone(), NAMESPACE);
    for (name, provider_type, address) in [
        ("slack", "slack", slack.url(SLACK_PATH)),
        ("teams", "msteams", teams.url(TEAMS_PATH)),
        ("audit", "generic", audit.url(AUDIT_PATH)),
    ] {
        create(
            &providers,
            json!({
                "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {"type": provider_type, "address": address},
            }),
        )
        .await;
        create(
            &alerts,
            json!({
                "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "providerRef": {"name": name},
                    "eventSeverity": "info",
                    "eventSources": [{"kind": "Kustomization", "name": "*"}],
                },
            }),
        )
        .await;
    }

    // notification-controller reads Alerts and Providers from watch caches, and only serves
    // events once they are filled: created before it starts, they are there for the first event.
    let kubeconfig_arg = kubeconfig.to_string_lossy().into_owned();
    let common = |extra: &[&str]| -> Vec<String> {
        [
            "--kubeconfig",
            &kubeconfig_arg,
            "--metrics-addr",
            "127.0.0.1:0",
            "--health-addr",
            "127.0.0.1:0",
        ]
        .iter()
        .chain(extra)
        .map(|arg| (*arg).to_string())
        .collect()
    };
    let mut notifications = ControllerProcess::start(
        "notification-controller",
        &common(&[
            "--events-addr",
            "127.0.0.1:0",
            "--receiverAddr",
            "127.0.0.1:0",
        ]),
        dir,
    );
    let listening = notifications
        .wait_for_log("the event server's address", DEADLINE, |line| {
            line["message"] == "listening" && line["server"] == "event-server"
        })
        .await;
    let events_addr = format!(
        "http://{}/",
        listening["address"].as_str().expect("event server address")
    );

    let git = GitHttpServer::start(&dir.join("git")).await;
    let repository = git.create_repository("app");
    let configmap = configmap_yaml("hello");
    let commit_1 = repository.commit(
        "a ConfigMap and a Service",
        &[
            ("kustomization.yaml", KUSTOMIZATION_YAML),
            ("configmap.yaml", &configmap),
            ("service.yaml", SERVICE_YAML),
        ],
    );

    let storage = format!("127.0.0.1:{}", free_port());
    let storage_path = dir.join("storage").to_string_lossy().into_owned();
    let mut source = ControllerProcess::start(
        "source-controller",
        &common(&[
            "--events-addr",
            &events_addr,
            "--storage-path",
            &storage_path,
            "--storage-addr",
            &storage,
            "--storage-adv-addr",
            &storage,
        ]),
        dir,
    );
    let mut kustomize = ControllerProcess::start(
        "kustomize-controller",
        &common(&["--events-addr", &events_addr]),
        dir,
    );
    for controller in [&mut source, &mut kustomize] {
        controller
            .wait_for_log("`started`", DEADLINE, |line| line["message"] == "started")
            .await;
    }
    let context = || {
        diagnostics(
            &[&notifications, &source, &kustomize],
            [&slack, &teams, &audit],
        )
    };

    let repositories: Api<GitRepository> = Api::namespaced(client.clone(), NAMESPACE);
    create(
        &repositories,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "app", "namespace": NAMESPACE},
            "spec": {"url": repository.url(), "ref": {"branch": "main"}, "interval": "10m"},
        }),
    )
    .await;
    let revision_1 = format!("main@sha1:{commit_1}");
    let artifact_at = |revision: String| {
        let repositories = repositories.clone();
        move || {
            let repositories = repositories.clone();
            let revision = revision.clone();
            async move {
                let object = read(&repositories, "app").await;
                (object["status"]["artifact"]["revision"] == revision.as_str()).then_some(())
            }
        }
    };
    eventually_explained(
        "the GitRepository's artifact of commit 1",
        DEADLINE,
        artifact_at(revision_1.clone()),
        context,
    )
    .await;

    // Commit 1: the Kustomization creates the objects and waits for them to be healthy.
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), NAMESPACE);
    create(
        &kustomizations,
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "app", "namespace": NAMESPACE},
            "spec": {
                "interval": "10m", "path": "./", "prune": true, "wait": true, "timeout": "1m",
                "sourceRef": {"kind": "GitRepository", "name": "app"},
            },
        }),
    )
    .await;
    let applied = |revision: String| {
        let kustomizations = kustomizations.clone();
        move || {
            let kustomizations = kustomizations.clone();
            let revision = revision.clone();
            async move {
                let object = read(&kustomizations, "app").await;
                (is_ready(&object) && object["status"]["lastAppliedRevision"] == revision.as_str())
                    .then_some(())
            }
        }
    };
    eventually_explained(
        "the Kustomization to be Ready at commit 1",
        DEADLINE,
        applied(revision_1.clone()),
        context,
    )
    .await;
    let expected_1 = [
        Notification::expected(
            "ConfigMap/dev/cfg created\nService/dev/svc created",
            &revision_1,
        ),
        Notification::expected(HEALTH_CHECK_PASSED, &revision_1),
    ];
    let arrived = |expected: Vec<Notification>| {
        let (slack, teams) = (&slack, &teams);
        move || {
            let done = has_all(&slack_notifications(slack), &expected)
                && has_all(&teams_notifications(teams), &expected);
            std::future::ready(done.then_some(()))
        }
    };
    eventually_explained(
        "commit 1's change set and health check at Slack and Teams",
        DEADLINE,
        arrived(expected_1.to_vec()),
        context,
    )
    .await;

    // Commit 2 changes the ConfigMap: one `configured` change set, and a new health check.
    let configmap = configmap_yaml("hello again");
    let commit_2 = repository.commit("a new greeting", &[("configmap.yaml", &configmap)]);
    let revision_2 = format!("main@sha1:{commit_2}");
    request_reconcile(&repositories, "app", "e2e-commit-2", &[]).await;
    eventually_explained(
        "the GitRepository's artifact of commit 2",
        DEADLINE,
        artifact_at(revision_2.clone()),
        context,
    )
    .await;
    eventually_explained(
        "the Kustomization to be Ready at commit 2",
        DEADLINE,
        applied(revision_2.clone()),
        context,
    )
    .await;
    let expected_2 = [
        Notification::expected("ConfigMap/dev/cfg configured", &revision_2),
        Notification::expected(HEALTH_CHECK_PASSED, &revision_2),
    ];
    eventually_explained(
        "commit 2's change set and health check at Slack and Teams",
        DEADLINE,
        arrived(expected_2.to_vec()),
        context,
    )
    .await;

    // A reconcile with nothing to change emits no change set and no health-check event (as in
    // Flux). It is marked through an `event.toolkit.fluxcd.io/` annotation, which producers copy
    // into their events: once its closing "Reconciliation finished" event has reached the generic
    // webhook, every controller has had a full reconcile in which to send a duplicate, and
    // notification-controller has handled what the last reconcile sent.
    request_reconcile(
        &kustomizations,
        "app",
        "e2e-final",
        &[(PHASE_ANNOTATION, "final")],
    )
    .await;
    eventually_explained(
        "the Kustomization to handle the final reconcile request",
        DEADLINE,
        || {
            let kustomizations = kustomizations.clone();
            async move {
                let object = read(&kustomizations, "app").await;
                (is_ready(&object) && object["status"]["lastHandledReconcileAt"] == "e2e-final")
                    .then_some(())
            }
        },
        context,
    )
    .await;
    eventually_explained(
        "the final reconcile's closing event at the generic webhook",
        DEADLINE,
        || {
            let done = audit_events(&audit).iter().any(|event| {
                event["metadata"]["phase"] == "final"
                    && event["reason"] == RECONCILIATION_SUCCEEDED
                    && event["metadata"][REVISION] == revision_2.as_str()
            });
            std::future::ready(done.then_some(()))
        },
        context,
    )
    .await;

    let everything = sorted(expected_1.iter().chain(&expected_2).cloned().collect());
    assert_eq!(
        sorted(audit_notifications(&audit)),
        everything,
        "the Kustomization must emit each change set and health check once\n{}",
        context()
    );
    assert_eq!(
        sorted(slack_notifications(&slack)),
        everything,
        "Slack must receive each event exactly once\n{}",
        context()
    );
    assert_eq!(
        sorted(teams_notifications(&teams)),
        everything,
        "Teams must receive each event exactly once\n{}",
        context()
    );
}
