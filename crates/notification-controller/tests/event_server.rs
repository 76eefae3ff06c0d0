//! The event server end to end over HTTP: events POSTed to a running server, notifications
//! checked byte for byte at local HTTP(S) sinks.

mod support;

use eddy_api::meta::LocalObjectReference;
use eddy_api::notification::v1beta3::{EventSeverity, ProviderType};
use notification_controller::events::{EventServer, EventServerSettings};
use notification_controller::memory::MemoryCluster;
use notification_controller::notifier::RetryPolicy;
use notification_controller::notifier::webhook::sign;
use std::sync::Arc;
use std::time::Duration;
use support::{Sink, alert, kustomization_event, provider};
use tokio_util::sync::CancellationToken;

const REVISION: &str = "main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738";

fn fast_settings() -> EventServerSettings {
    EventServerSettings {
        retry: RetryPolicy {
            attempts: 3,
            min_wait: Duration::from_millis(10),
            max_wait: Duration::from_millis(40),
        },
        ..EventServerSettings::default()
    }
}

async fn start(cluster: &MemoryCluster) -> (Arc<EventServer<MemoryCluster>>, String) {
    let server = EventServer::new(cluster.clone(), fast_settings());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    tokio::spawn(notification_controller::serve::serve(
        listener,
        server.router(),
        CancellationToken::new(),
        "event-server",
    ));
    (server, url)
}

async fn post(url: &str, body: Vec<u8>) -> u16 {
    support::client()
        .post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("event server answers")
        .status()
        .as_u16()
}

fn json(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("json")
}

#[tokio::test]
async fn a_kustomization_event_reaches_slack_as_a_good_attachment_with_metadata_fields() {
    let sink = Sink::start(vec![(200, "ok")]).await;
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("slack", "slack", "*"));
    cluster.put_provider(provider(
        "slack",
        ProviderType::Slack,
        &format!("{}/services/T0/B0/x", sink.address),
    ));
    let (server, url) = start(&cluster).await;

    let status = post(
        &url,
        json(&kustomization_event(
            "info",
            "Deployment/default/web configured",
        )),
    )
    .await;
    assert_eq!(status, 202);
    let request = sink.next().await;
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/services/T0/B0/x");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.text(),
        format!(
            r#"{{"channel":"","username":"kustomize-controller","icon_url":"","icon_emoji":"","attachments":[{{"fallback":"kustomization/apps.flux-system: Deployment/default/web configured","color":"good","author_name":"kustomization/apps.flux-system","text":"Deployment/default/web configured","mrkdwn_in":["text"],"fields":[{{"title":"cluster","value":"prod-eu","short":false}},{{"title":"revision","value":"{REVISION}","short":false}}]}}]}}"#
        )
    );
    server.idle().await;
    assert!(cluster.warnings().is_empty(), "{:?}", cluster.warnings());
}

#[tokio::test]
async fn an_error_event_is_a_danger_attachment_sent_with_the_bot_token() {
    let sink = Sink::start(vec![(200, "ok")]).await;
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("slack", "slack", "apps"));
    let mut slack = provider("slack", ProviderType::Slack, "https://ignored.invalid/");
    slack.spec.secret_ref = Some(LocalObjectReference {
        name: "slack-token".into(),
    });
    slack.spec.channel = Some("#ops".into());
    cluster.put_provider(slack);
    let address = format!("{}/api/chat.postMessage", sink.address);
    cluster.put_secret(
        "flux-system",
        "slack-token",
        &[("address", address.as_bytes()), ("token", b"xoxb-secret")],
    );
    let (server, url) = start(&cluster).await;

    assert_eq!(
        post(
            &url,
            json(&kustomization_event("error", "health check failed"))
        )
        .await,
        202
    );
    let request = sink.next().await;
    assert_eq!(request.header("authorization"), Some("Bearer xoxb-secret"));
    let payload: serde_json::Value = serde_json::from_slice(&request.body).expect("json");
    assert_eq!(payload["channel"], "#ops");
    assert_eq!(payload["attachments"][0]["color"], "danger");
    server.idle().await;
}

#[tokio::test]
async fn a_teams_workflow_url_gets_an_adaptive_card() {
    let sink = Sink::start(vec![(202, "")]).await;
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("teams", "teams", "*"));
    cluster.put_provider(provider(
        "teams",
        ProviderType::MsTeams,
        &format!(
            "{}/workflows/abc/triggers/manual/paths/invoke",
            sink.address
        ),
    ));
    let (server, url) = start(&cluster).await;

    assert_eq!(
        post(
            &url,
            json(&kustomization_event("error", "health check failed"))
        )
        .await,
        202
    );
    let request = sink.next().await;
    assert_eq!(
        request.text(),
        format!(
            r#"{{"type":"message","attachments":[{{"contentType":"application/vnd.microsoft.card.adaptive","content":{{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[{{"type":"Container","items":[{{"type":"TextBlock","text":"kustomization/apps.flux-system","size":"large","weight":"bolder","wrap":true}},{{"type":"TextBlock","text":"health check failed","color":"attention","wrap":true}},{{"type":"FactSet","facts":[{{"title":"cluster","value":"prod-eu"}},{{"title":"revision","value":"{REVISION}"}}]}}]}}],"msteams":{{"width":"Full"}}}}}}]}}"#
        )
    );
    server.idle().await;
    assert!(cluster.warnings().is_empty(), "{:?}", cluster.warnings());
}

#[tokio::test]
async fn a_legacy_office_connector_gets_a_message_card_through_the_proxy() {
    // The sink plays the proxy: the request target is the absolute connector URL.
    let proxy = Sink::start(vec![(200, "1")]).await;
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("teams", "teams", "*"));
    let mut teams = provider(
        "teams",
        ProviderType::MsTeams,
        "http://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/def",
    );
    teams.spec.proxy_secret_ref = Some(LocalObjectReference {
        name: "proxy".into(),
    });
    cluster.put_provider(teams);
    cluster.put_secret(
        "flux-system",
        "proxy",
        &[("address", proxy.address.as_bytes())],
    );
    let (server, url) = start(&cluster).await;

    assert_eq!(
        post(
            &url,
            json(&kustomization_event("info", "Service/default/web created"))
        )
        .await,
        202
    );
    let request = proxy.next().await;
    assert_eq!(
        request.target,
        "http://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/def"
    );
    assert_eq!(
        request.text(),
        format!(
            r#"{{"@type":"MessageCard","@context":"http://schema.org/extensions","themeColor":"0076D7","summary":"kustomization/apps.flux-system","sections":[{{"activityTitle":"Service/default/web created","activitySubtitle":"kustomization/apps.flux-system","facts":[{{"name":"cluster","value":"prod-eu"}},{{"name":"revision","value":"{REVISION}"}}]}}]}}"#
        )
    );
    server.idle().await;
}

#[tokio::test]
async fn generic_hmac_forwards_the_event_json_with_its_signature() {
    let sink = Sink::start(vec![(200, "")]).await;
    let cluster = MemoryCluster::new();
    let mut with_metadata = alert("hook", "hook", "*");
    with_metadata.spec.event_metadata = Some([("env".to_string(), "prod".to_string())].into());
    cluster.put_alert(with_metadata);
    let mut hook = provider(
        "hook",
        ProviderType::GenericHmac,
        &format!("{}/flux", sink.address),
    );
    hook.spec.secret_ref = Some(LocalObjectReference {
        name: "hmac".into(),
    });
    cluster.put_provider(hook);
    cluster.put_secret(
        "flux-system",
        "hmac",
        &[("token", b"hmac-key"), ("headers", b"X-Team: platform\n")],
    );
    let (server, url) = start(&cluster).await;

    assert_eq!(
        post(&url, json(&kustomization_event("info", "a <b> & c"))).await,
        202
    );
    let request = sink.next().await;
    let expected_body = format!(
        r#"{{"involvedObject":{{"kind":"Kustomization","namespace":"flux-system","name":"apps","uid":"cc4d0095-83f4-4f08-98f2-d2e9f3731fb9","apiVersion":"kustomize.toolkit.fluxcd.io/v1","resourceVersion":"56921"}},"severity":"info","timestamp":"2024-05-01T10:00:00Z","message":"a \u003cb\u003e \u0026 c","reason":"ReconciliationSucceeded","metadata":{{"cluster":"prod-eu","env":"prod","revision":"{REVISION}"}},"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-7f5d6c9b8-x2x4z"}}"#
    );
    assert_eq!(request.text(), expected_body);
    let signature = format!("sha256={}", sign(expected_body.as_bytes(), b"hmac-key"));
    assert_eq!(request.header("x-signature"), Some(signature.as_str()));
    assert_eq!(
        request.header("gotk-component"),
        Some("kustomize-controller")
    );
    assert_eq!(request.header("x-team"), Some("platform"));
    server.idle().await;
}

#[tokio::test]
async fn error_severity_alerts_drop_info_events() {
    let sink = Sink::start(vec![(200, "")]).await;
    let cluster = MemoryCluster::new();
    let mut errors_only = alert("errors", "hook", "*");
    errors_only.spec.event_severity = Some(EventSeverity::Error);
    cluster.put_alert(errors_only);
    cluster.put_provider(provider("hook", ProviderType::Generic, &sink.address));
    let (server, _) = start(&cluster).await;

    let info = server
        .handle(&json(&kustomization_event("info", "applied")))
        .await;
    assert_eq!(info.status().as_u16(), 202);
    assert_eq!(
        info,
        notification_controller::events::HandledEvent::Accepted { dispatched: vec![] }
    );
    let error = server
        .handle(&json(&kustomization_event("error", "health check failed")))
        .await;
    assert_eq!(
        error,
        notification_controller::events::HandledEvent::Accepted {
            dispatched: vec!["flux-system/errors".to_string()]
        }
    );
    let request = sink.next().await;
    assert!(request.text().contains("health check failed"));
    server.idle().await;
    assert_eq!(sink.count(), 1);
}

#[tokio::test]
async fn exclusion_list_drops_a_matching_message() {
    let sink = Sink::start(vec![(200, "")]).await;
    let cluster = MemoryCluster::new();
    let mut quiet = alert("quiet", "hook", "*");
    quiet.spec.exclusion_list = Some(vec!["^Dependencies do not meet.*".into()]);
    cluster.put_alert(quiet);
    cluster.put_provider(provider("hook", ProviderType::Generic, &sink.address));
    let (server, url) = start(&cluster).await;

    let dropped = server
        .handle(&json(&kustomization_event(
            "info",
            "Dependencies do not meet ready condition",
        )))
        .await;
    assert_eq!(
        dropped,
        notification_controller::events::HandledEvent::Accepted { dispatched: vec![] }
    );
    assert_eq!(
        post(
            &url,
            json(&kustomization_event(
                "info",
                "Deployment/default/web configured"
            ))
        )
        .await,
        202
    );
    assert!(
        sink.next()
            .await
            .text()
            .contains("Deployment/default/web configured")
    );
    server.idle().await;
    assert_eq!(sink.count(), 1);
}

#[tokio::test]
async fn the_same_event_twice_is_one_notification_and_a_429() {
    let sink = Sink::start(vec![(200, "")]).await;
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("hook", "hook", "*"));
    cluster.put_provider(provider("hook", ProviderType::Generic, &sink.address));
    let (server, url) = start(&cluster).await;

    let event = json(&kustomization_event(
        "info",
        "Deployment/default/web configured",
    ));
    assert_eq!(post(&url, event.clone()).await, 202);
    let duplicate = support::client()
        .post(&url)
        .body(event)
        .send()
        .await
        .expect("answer");
    assert_eq!(duplicate.status().as_u16(), 429);
    let header = |name: &str| {
        duplicate
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header("x-ratelimit-limit").as_deref(), Some("1"));
    assert_eq!(header("x-ratelimit-remaining").as_deref(), Some("0"));
    assert!(header("retry-after").is_some_and(|value| value.ends_with(" UTC")));
    assert_eq!(header("retry-after"), header("x-ratelimit-reset"));
    sink.next().await;
    server.idle().await;
    assert_eq!(sink.count(), 1);
    // A new revision of the same message is a new event.
    let mut next = kustomization_event("info", "Deployment/default/web configured");
    next["metadata"]["kustomize.toolkit.fluxcd.io/revision"] =
        "main@sha1:0000000000000000000000000000000000000001".into();
    assert_eq!(post(&url, json(&next)).await, 202);
    sink.next().await;
    server.idle().await;
    assert_eq!(sink.count(), 2);
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused() {
    let cluster = MemoryCluster::new();
    let (_, url) = start(&cluster).await;
    assert_eq!(post(&url, b"{not json".to_vec()).await, 400);
    assert_eq!(
        post(&url, br#"{"timestamp":"yesterday"}"#.to_vec()).await,
        400
    );
    assert_eq!(post(&url, vec![b' '; 3 * 1024 * 1024 + 1]).await, 413);
    assert_eq!(post(&url, br#"{"message":"no alert"}"#.to_vec()).await, 202);
}

#[tokio::test]
async fn a_sink_that_is_down_is_retried_then_reported_while_other_alerts_flow() {
    let down = Sink::start(vec![(503, "maintenance")]).await;
    let healthy = Sink::start(vec![(200, "")]).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/hook", listener.local_addr().expect("address"))
    };
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("down", "down", "*"));
    cluster.put_alert(alert("refused", "refused", "*"));
    cluster.put_alert(alert("healthy", "healthy", "*"));
    cluster.put_provider(provider(
        "down",
        ProviderType::Generic,
        &format!("{}/hook", down.address),
    ));
    cluster.put_provider(provider("refused", ProviderType::Slack, &closed));
    cluster.put_provider(provider("healthy", ProviderType::Generic, &healthy.address));
    let (server, url) = start(&cluster).await;

    assert_eq!(
        post(
            &url,
            json(&kustomization_event("error", "health check failed"))
        )
        .await,
        202
    );
    healthy.next().await;
    server.idle().await;
    assert_eq!(down.count(), 3, "three attempts with backoff");
    assert_eq!(healthy.count(), 1);
    let mut warnings = cluster.warnings();
    warnings.sort_by(|a, b| a.alert.cmp(&b.alert));
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(warnings[0].alert, "flux-system/down");
    assert_eq!(warnings[0].reason, "NotificationDispatchFailed");
    assert_eq!(
        warnings[0].message,
        format!(
            "failed to send notification for Kustomization/flux-system/apps: postMessage failed: failed to execute request: POST {} giving up after 3 attempt(s): unexpected HTTP status 503 Service Unavailable",
            down.address
        )
    );
    assert_eq!(warnings[1].alert, "flux-system/refused");
    assert!(
        warnings[1].message.contains("giving up after 3 attempt(s)"),
        "{}",
        warnings[1].message
    );
    assert!(
        !warnings[1].message.contains("/hook"),
        "no URL path in messages"
    );
}

#[tokio::test]
async fn a_missing_provider_is_reported_on_the_alert() {
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("orphan", "nowhere", "*"));
    let (server, _) = start(&cluster).await;
    let handled = server
        .handle(&json(&kustomization_event("info", "applied")))
        .await;
    assert_eq!(
        handled,
        notification_controller::events::HandledEvent::Accepted { dispatched: vec![] }
    );
    assert_eq!(
        cluster.warnings()[0].message,
        "failed to dispatch notification for Kustomization/flux-system/apps: failed to read provider: Provider.notification.toolkit.fluxcd.io \"nowhere\" not found"
    );
}

#[tokio::test]
async fn a_custom_ca_from_cert_secret_ref_is_trusted_and_nothing_else() {
    let (sink, ca_pem) = Sink::start_tls(vec![(200, "")]).await;
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("tls", "tls", "*"));
    cluster.put_alert(alert("untrusted", "untrusted", "*"));
    let mut trusted = provider(
        "tls",
        ProviderType::Generic,
        &format!("{}/hook", sink.address),
    );
    trusted.spec.cert_secret_ref = Some(LocalObjectReference { name: "ca".into() });
    cluster.put_provider(trusted);
    cluster.put_provider(provider(
        "untrusted",
        ProviderType::Generic,
        &format!("{}/hook", sink.address),
    ));
    cluster.put_secret("flux-system", "ca", &[("ca.crt", ca_pem.as_bytes())]);
    let (server, url) = start(&cluster).await;

    assert_eq!(
        post(&url, json(&kustomization_event("info", "over TLS"))).await,
        202
    );
    let request = sink.next().await;
    assert!(request.text().contains("over TLS"));
    server.idle().await;
    let warnings = cluster.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].alert, "flux-system/untrusted");
}

#[tokio::test]
async fn a_github_commit_status_carries_the_event_revision() {
    let github = Sink::start(vec![(200, "[]"), (201, "{}")]).await;
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("github", "github", "*"));
    let mut status = provider(
        "github",
        ProviderType::GitHub,
        &format!("{}/org/repo", github.address),
    );
    status.spec.secret_ref = Some(LocalObjectReference {
        name: "github".into(),
    });
    cluster.put_provider(status);
    cluster.put_secret("flux-system", "github", &[("token", b"ghp_secret")]);
    let (server, url) = start(&cluster).await;

    let mut event = kustomization_event("info", "Reconciliation finished");
    event["metadata"]["kustomize.toolkit.fluxcd.io/commit_status"] = "update".into();
    assert_eq!(post(&url, json(&event)).await, 202);
    let sha = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738";
    let listed = github.next().await;
    assert_eq!(listed.method, "GET");
    assert_eq!(
        listed.target,
        format!("/api/v3/repos/org/repo/commits/{sha}/statuses?per_page=50")
    );
    assert_eq!(listed.header("authorization"), Some("Bearer ghp_secret"));
    let created = github.next().await;
    assert_eq!(created.method, "POST");
    assert_eq!(
        created.target,
        format!("/api/v3/repos/org/repo/statuses/{sha}")
    );
    assert_eq!(
        created.text(),
        "{\"state\":\"success\",\"description\":\"reconciliation succeeded\",\"context\":\"kustomization/apps/0c9c2e41\"}\n"
    );
    server.idle().await;
    assert!(cluster.warnings().is_empty(), "{:?}", cluster.warnings());
    // A plain info event without commit metadata does not reach a commit-status provider.
    let plain = server
        .handle(&json(&kustomization_event("info", "no commit status here")))
        .await;
    assert_eq!(
        plain,
        notification_controller::events::HandledEvent::Accepted { dispatched: vec![] }
    );
}

#[tokio::test]
async fn a_gitlab_commit_status_is_not_repeated_when_already_set() {
    let sha = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738";
    let existing = format!(
        r#"[{{"sha":"{sha}","status":"failed","name":"kustomization/apps/0c9c2e41","description":"health check failed"}}]"#
    );
    let gitlab = Sink::start(vec![(200, "[]"), (201, "{}"), (200, &existing)]).await;
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("gitlab", "gitlab", "*"));
    let mut status = provider(
        "gitlab",
        ProviderType::GitLab,
        &format!("{}/group/app.git", gitlab.address),
    );
    status.spec.secret_ref = Some(LocalObjectReference {
        name: "gitlab".into(),
    });
    cluster.put_provider(status);
    cluster.put_secret("flux-system", "gitlab", &[("token", b"glpat")]);
    let (server, url) = start(&cluster).await;

    assert_eq!(
        post(
            &url,
            json(&kustomization_event("error", "health check failed"))
        )
        .await,
        202
    );
    let listed = gitlab.next().await;
    assert_eq!(
        listed.target,
        format!(
            "/api/v4/projects/group%2Fapp/repository/commits/{sha}/statuses?name=kustomization%2Fapps%2F0c9c2e41"
        )
    );
    assert_eq!(listed.header("private-token"), Some("glpat"));
    let created = gitlab.next().await;
    assert_eq!(
        created.target,
        format!("/api/v4/projects/group%2Fapp/statuses/{sha}")
    );
    assert_eq!(
        created.text(),
        r#"{"state":"failed","name":"kustomization/apps/0c9c2e41","description":"health check failed"}"#
    );
    server.idle().await;
    // The same failure again (a new message, so not a duplicate): listed, found, not re-posted.
    assert_eq!(
        post(
            &url,
            json(&kustomization_event("error", "health check failed again"))
        )
        .await,
        202
    );
    gitlab.next().await;
    server.idle().await;
    assert_eq!(gitlab.count(), 3);
    assert!(cluster.warnings().is_empty(), "{:?}", cluster.warnings());
}

#[tokio::test]
async fn the_runtime_event_recorder_delivers_through_the_event_server() {
    let sink = Sink::start(vec![(200, "")]).await;
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("hook", "hook", "*"));
    cluster.put_provider(provider("hook", ProviderType::Generic, &sink.address));
    let (server, url) = start(&cluster).await;
    eddy_runtime::process::install_crypto_provider();
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let recorder = eddy_runtime::events::EventRecorder::new("kustomize-controller", None, &address)
        .expect("recorder");
    let subject = eddy_runtime::events::EventSubject {
        api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
        kind: "Kustomization".into(),
        namespace: "flux-system".into(),
        name: "apps".into(),
        uid: "u-1".into(),
        resource_version: "1".into(),
        annotations: [(
            "event.toolkit.fluxcd.io/team".to_string(),
            "platform".to_string(),
        )]
        .into(),
    };
    recorder
        .record(
            &subject,
            eddy_runtime::events::EventType::Normal,
            "ReconciliationSucceeded",
            "Deployment/default/web configured",
            &[("revision".to_string(), REVISION.to_string())].into(),
        )
        .await;
    let request = sink.next().await;
    let forwarded: serde_json::Value = serde_json::from_slice(&request.body).expect("json");
    assert_eq!(forwarded["message"], "Deployment/default/web configured");
    assert_eq!(forwarded["reportingController"], "kustomize-controller");
    assert_eq!(
        forwarded["metadata"],
        serde_json::json!({"revision": REVISION, "team": "platform"})
    );
    server.idle().await;
}

#[tokio::test]
async fn a_provider_timeout_bounds_the_delivery() {
    // Connections are queued by the kernel but never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}/hook", silent.local_addr().expect("address"));
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("slow", "slow", "*"));
    let mut slow = provider("slow", ProviderType::Generic, &address);
    slow.spec.timeout = Some("200ms".into());
    cluster.put_provider(slow);
    let (server, url) = start(&cluster).await;

    let started = std::time::Instant::now();
    assert_eq!(
        post(&url, json(&kustomization_event("info", "applied"))).await,
        202
    );
    server.idle().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let warnings = cluster.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].message,
        "failed to send notification for Kustomization/flux-system/apps: context deadline exceeded after 200ms"
    );
    drop(silent);
}

#[tokio::test]
async fn the_token_is_masked_out_of_reported_errors() {
    let sink = Sink::start(vec![(400, "invalid_auth for token xoxb-very-secret")]).await;
    let cluster = MemoryCluster::new();
    cluster.put_alert(alert("slack", "slack", "*"));
    let mut slack = provider(
        "slack",
        ProviderType::Slack,
        &format!("{}/api", sink.address),
    );
    slack.spec.secret_ref = Some(LocalObjectReference {
        name: "token".into(),
    });
    cluster.put_provider(slack);
    cluster.put_secret("flux-system", "token", &[("token", b"xoxb-very-secret")]);
    let (server, url) = start(&cluster).await;

    assert_eq!(
        post(&url, json(&kustomization_event("info", "applied"))).await,
        202
    );
    sink.next().await;
    server.idle().await;
    let warnings = cluster.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].message,
        "failed to send notification for Kustomization/flux-system/apps: postMessage failed: request failed with status code 400: invalid_auth for token *****"
    );
}

#[tokio::test]
async fn alerts_are_selected_by_labels_inclusion_suspension_and_namespace() {
    use notification_controller::cluster::ObjectKey;
    let sink = Sink::start(vec![(200, "")]).await;
    let cluster = MemoryCluster::new();
    cluster.put_object(
        ObjectKey {
            api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
            kind: "Kustomization".into(),
            namespace: "flux-system".into(),
            name: "apps".into(),
        },
        &[("team", "platform")],
    );
    let labelled = |name: &str, team: &str| {
        let mut alert = alert(name, "hook", "*");
        alert.spec.event_sources[0].match_labels =
            Some([("team".to_string(), team.to_string())].into());
        alert
    };
    cluster.put_alert(labelled("platform-team", "platform"));
    cluster.put_alert(labelled("web-team", "web"));
    let mut included = alert("included", "hook", "apps");
    included.spec.inclusion_list = Some(vec!["configured$".into()]);
    cluster.put_alert(included);
    let mut not_included = alert("not-included", "hook", "apps");
    not_included.spec.inclusion_list = Some(vec!["^created".into()]);
    cluster.put_alert(not_included);
    let mut suspended = alert("suspended", "hook", "*");
    suspended.spec.suspend = Some(true);
    cluster.put_alert(suspended);
    cluster.put_alert(alert("quiet-provider", "quiet", "*"));
    let mut elsewhere = alert("elsewhere", "hook", "*");
    elsewhere.metadata.namespace = Some("apps".into());
    elsewhere.spec.event_sources[0].namespace = Some("flux-system".into());
    cluster.put_alert(elsewhere);
    cluster.put_provider(provider("hook", ProviderType::Generic, &sink.address));
    let mut quiet = provider("quiet", ProviderType::Generic, &sink.address);
    quiet.spec.suspend = Some(true);
    cluster.put_provider(quiet);
    let mut hook_in_apps = provider("hook", ProviderType::Generic, &sink.address);
    hook_in_apps.metadata.namespace = Some("apps".into());
    cluster.put_provider(hook_in_apps);

    let (server, _) = start(&cluster).await;
    let handled = server
        .handle(&json(&kustomization_event(
            "info",
            "Deployment/default/web configured",
        )))
        .await;
    let notification_controller::events::HandledEvent::Accepted { mut dispatched } = handled else {
        panic!("accepted")
    };
    dispatched.sort();
    assert_eq!(
        dispatched,
        [
            "apps/elsewhere",
            "flux-system/included",
            "flux-system/platform-team"
        ]
    );
    server.idle().await;
    assert_eq!(sink.count(), 3);

    // With --no-cross-namespace-refs the Alert in `apps` is refused, and says so.
    let locked = EventServer::new(
        cluster.clone(),
        EventServerSettings {
            no_cross_namespace_refs: true,
            ..fast_settings()
        },
    );
    let handled = locked
        .handle(&json(&kustomization_event(
            "info",
            "Deployment/default/api configured",
        )))
        .await;
    let notification_controller::events::HandledEvent::Accepted { dispatched } = handled else {
        panic!("accepted")
    };
    assert!(
        !dispatched.contains(&"apps/elsewhere".to_string()),
        "{dispatched:?}"
    );
    locked.idle().await;
    assert!(cluster.warnings().iter().any(|warning| {
        warning.alert == "apps/elsewhere"
            && warning
                .message
                .contains("cross-namespace references have been blocked")
    }));
}
