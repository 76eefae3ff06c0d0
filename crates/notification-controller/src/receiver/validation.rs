//! Validation of webhook calls per Receiver type, as Flux's `validate`: a failure is a 400 for
//! the caller, with the reason in the controller's log.

use eddy_api::notification::v1::ReceiverType;
use hmac::{KeyInit, Mac};
use http::HeaderMap;
use serde::Deserialize;

/// A webhook call as the validators see it.
#[derive(Clone, Copy, Debug)]
pub struct WebhookCall<'a> {
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Request body.
    pub body: &'a [u8],
}

impl WebhookCall<'_> {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }
}

/// What a Receiver's configuration contributes to validation.
#[derive(Clone, Copy, Debug)]
pub struct ReceiverRules<'a> {
    /// Type.
    pub receiver_type: ReceiverType,
    /// The Secret's `token`.
    pub token: &'a str,
    /// `spec.events`: allowed event types, case-insensitive; all when empty.
    pub events: &'a [String],
    /// The Secret's `email` (gcr).
    pub email: &'a str,
    /// The Secret's `audience` (gcr).
    pub audience: &'a str,
}

fn allowed(rules: &ReceiverRules<'_>, event: &str) -> bool {
    rules.events.is_empty()
        || rules
            .events
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(event))
}

/// Hash functions webhook signatures use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

fn hmac_of(algorithm: Algorithm, key: &[u8], body: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so construction cannot fail.
    match algorithm {
        Algorithm::Sha1 => hmac::Hmac::<sha1::Sha1>::new_from_slice(key)
            .map(|mac| mac.chain_update(body).finalize().into_bytes().to_vec()),
        Algorithm::Sha256 => hmac::Hmac::<sha2::Sha256>::new_from_slice(key)
            .map(|mac| mac.chain_update(body).finalize().into_bytes().to_vec()),
        Algorithm::Sha512 => hmac::Hmac::<sha2::Sha512>::new_from_slice(key)
            .map(|mac| mac.chain_update(body).finalize().into_bytes().to_vec()),
    }
    .unwrap_or_default()
}

/// go-github's `ValidateSignature`: `sha1=`, `sha256=` or `sha512=` followed by the hex HMAC of
/// the body with the token.
pub fn validate_signature(signature: &str, body: &[u8], token: &[u8]) -> Result<(), String> {
    if signature.is_empty() {
        return Err("missing signature".into());
    }
    let Some((algorithm, hex_mac)) = signature.split_once('=') else {
        return Err(format!("error parsing signature {signature:?}"));
    };
    let expected = match algorithm {
        "sha1" => hmac_of(Algorithm::Sha1, token, body),
        "sha256" => hmac_of(Algorithm::Sha256, token, body),
        "sha512" => hmac_of(Algorithm::Sha512, token, body),
        other => return Err(format!("unknown hash type prefix: {other:?}")),
    };
    let given = hex::decode(hex_mac)
        .map_err(|error| format!("error decoding signature {signature:?}: {error}"))?;
    if constant_time_equal(&given, &expected) {
        Ok(())
    } else {
        Err("payload signature check failed".into())
    }
}

fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// go-github's `ValidatePayload`: the body must be JSON or a form with a `payload` field, and
/// is signed in `X-Hub-Signature-256` (or `X-Hub-Signature`) when a token is set.
pub fn validate_github_payload(call: &WebhookCall<'_>, token: &str) -> Result<(), String> {
    let mut signature = call.header("X-Hub-Signature-256");
    if signature.is_empty() {
        signature = call.header("X-Hub-Signature");
    }
    let content_type = call.header("Content-Type");
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" | "application/x-www-form-urlencoded" => {}
        _ => {
            return Err(format!(
                "webhook request has unsupported Content-Type {media_type:?}"
            ));
        }
    }
    if !token.is_empty() || !signature.is_empty() {
        validate_signature(signature, call.body, token.as_bytes())?;
    }
    Ok(())
}

/// Decodes the first JSON value of a body as Go's `json.Decoder.Decode` would into `T`.
fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<Option<T>, String> {
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Option<T>>();
    match stream.next() {
        Some(Ok(value)) => Ok(value),
        Some(Err(error)) => Err(error.to_string()),
        None => Err("EOF".into()),
    }
}

/// Validates a webhook call for a Receiver.
pub fn validate(rules: &ReceiverRules<'_>, call: &WebhookCall<'_>) -> Result<(), String> {
    match rules.receiver_type {
        ReceiverType::Generic => Ok(()),
        ReceiverType::GenericOidc => {
            Err("generic-oidc receivers are not supported by this controller".into())
        }
        ReceiverType::GenericHmac => validate_signature(
            call.header("X-Signature"),
            call.body,
            rules.token.as_bytes(),
        )
        .map_err(|error| format!("unable to validate HMAC signature: {error}")),
        ReceiverType::GitHub => {
            validate_github_payload(call, rules.token)
                .map_err(|error| format!("the GitHub signature header is invalid, err: {error}"))?;
            let event = call.header("X-GitHub-Event");
            if !allowed(rules, event) {
                return Err(format!("the GitHub event {event:?} is not authorised"));
            }
            tracing::info!("handling GitHub event: {event}");
            Ok(())
        }
        ReceiverType::GitLab => {
            if call.header("X-Gitlab-Token") != rules.token {
                return Err(
                    "the X-Gitlab-Token header value does not match the receiver token".into(),
                );
            }
            let event = call.header("X-Gitlab-Event");
            if !allowed(rules, event) {
                return Err(format!("the GitLab event {event:?} is not authorised"));
            }
            tracing::info!("handling GitLab event: {event}");
            Ok(())
        }
        ReceiverType::CdEvents => {
            let event = call.header("Ce-Type");
            validate_cdevent(call.body)
                .map_err(|error| format!("unable to validate CDEvent event: {error}"))?;
            if !allowed(rules, event) {
                return Err(format!("the CDEvent {event:?} is not authorised"));
            }
            tracing::info!("handling CDEvent: {event}");
            Ok(())
        }
        ReceiverType::Bitbucket => {
            validate_github_payload(call, rules.token).map_err(|error| {
                format!("the Bitbucket server signature header is invalid, err: {error}")
            })?;
            let event = call.header("X-Event-Key");
            if !allowed(rules, event) {
                return Err(format!(
                    "the Bitbucket server event {event:?} is not authorised"
                ));
            }
            tracing::info!("handling Bitbucket server event: {event}");
            Ok(())
        }
        ReceiverType::Quay => {
            #[derive(Deserialize)]
            struct Payload {
                #[serde(default)]
                docker_url: Option<String>,
                #[serde(default)]
                #[allow(dead_code)]
                updated_tags: Option<Vec<String>>,
            }
            let payload = decode::<Payload>(call.body)
                .map_err(|error| format!("cannot decode Quay webhook payload: {error}"))?;
            let url = payload.and_then(|p| p.docker_url).unwrap_or_default();
            tracing::info!("handling Quay event from {url}");
            Ok(())
        }
        ReceiverType::Harbor => {
            if call.header("Authorization") != rules.token {
                return Err(
                    "the Harbor Authorization header value does not match the receiver token"
                        .into(),
                );
            }
            tracing::info!("handling Harbor event");
            Ok(())
        }
        ReceiverType::DockerHub => {
            #[derive(Deserialize)]
            struct PushData {
                #[serde(default)]
                tag: Option<String>,
            }
            #[derive(Deserialize)]
            struct Repository {
                #[serde(default)]
                repo_url: Option<String>,
            }
            #[derive(Deserialize)]
            struct Payload {
                #[serde(default)]
                push_data: Option<PushData>,
                #[serde(default)]
                repository: Option<Repository>,
            }
            let payload = decode::<Payload>(call.body)
                .map_err(|_| "cannot decode DockerHub webhook payload".to_string())?;
            let (tag, url) = payload.map_or((None, None), |payload| {
                (
                    payload.push_data.and_then(|data| data.tag),
                    payload
                        .repository
                        .and_then(|repository| repository.repo_url),
                )
            });
            tracing::info!(
                "handling DockerHub event from {} for tag {}",
                url.unwrap_or_default(),
                tag.unwrap_or_default()
            );
            Ok(())
        }
        ReceiverType::Gcr => {
            if rules.email.is_empty() {
                return Err("invalid secret data: required field 'email' for GCR receiver".into());
            }
            if rules.audience.is_empty() {
                return Err(
                    "invalid secret data: required field 'audience' for GCR receiver".into(),
                );
            }
            if !call.header("Authorization").starts_with("Bearer ") {
                return Err("cannot authenticate GCR request: the Authorization header is missing or malformed".into());
            }
            Err("cannot authenticate GCR request: verifying Google ID tokens is not supported by this controller".into())
        }
        ReceiverType::Nexus => {
            let signature = call.header("X-Nexus-Webhook-Signature");
            if signature.is_empty() {
                return Err("the Nexus signature is missing from header".into());
            }
            let expected = hex::encode(hmac_of(Algorithm::Sha1, rules.token.as_bytes(), call.body));
            if !constant_time_equal(signature.as_bytes(), expected.as_bytes()) {
                return Err("invalid Nexus signature".into());
            }
            #[derive(Deserialize)]
            struct Payload {
                #[serde(default, rename = "repositoryName")]
                repository_name: Option<String>,
            }
            let payload: Option<Payload> = serde_json::from_slice(call.body)
                .map_err(|error| format!("cannot decode Nexus webhook payload: {error}"))?;
            let name = payload.and_then(|p| p.repository_name).unwrap_or_default();
            tracing::info!("handling Nexus event from {name}");
            Ok(())
        }
        ReceiverType::Acr => {
            #[derive(Deserialize)]
            struct Target {
                #[serde(default)]
                repository: Option<String>,
                #[serde(default)]
                tag: Option<String>,
            }
            #[derive(Deserialize)]
            struct Payload {
                #[serde(default)]
                target: Option<Target>,
            }
            let payload = decode::<Payload>(call.body)
                .map_err(|error| format!("cannot decode ACR webhook payload: {error}"))?;
            let target = payload.and_then(|payload| payload.target);
            let (repository, tag) = target.map_or((None, None), |t| (t.repository, t.tag));
            tracing::info!(
                "handling ACR event from {} for tag {}",
                repository.unwrap_or_default(),
                tag.unwrap_or_default()
            );
            Ok(())
        }
    }
}

/// A structural check of a CDEvent (v0.4 JSON): a `context` with `id`, `source`, `type`
/// (`dev.cdevents.…`), `timestamp` and `specversion`, and a `subject` with `content`.
pub fn validate_cdevent(body: &[u8]) -> Result<(), String> {
    let event: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let context = event
        .get("context")
        .and_then(serde_json::Value::as_object)
        .ok_or("missing context")?;
    for field in ["id", "source", "type", "timestamp", "specversion"] {
        if context
            .get(field)
            .and_then(serde_json::Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(format!("context.{field} is required"));
        }
    }
    let event_type = context
        .get("type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    if !event_type.starts_with("dev.cdevents.") {
        return Err(format!("unknown event type {event_type:?}"));
    }
    if event
        .get("subject")
        .and_then(|subject| subject.get("content"))
        .is_none()
    {
        return Err("subject.content is required".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header value"));
        }
        map
    }

    fn rules(receiver_type: ReceiverType, events: &[String]) -> ReceiverRules<'_> {
        ReceiverRules {
            receiver_type,
            token: "s3cr3t",
            events,
            email: "",
            audience: "",
        }
    }

    fn github_signature(body: &[u8]) -> String {
        format!(
            "sha256={}",
            hex::encode(hmac_of(Algorithm::Sha256, b"s3cr3t", body))
        )
    }

    #[test]
    fn github_push_with_a_correct_signature_is_accepted() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let signature = github_signature(body);
        let headers = headers(&[
            ("content-type", "application/json"),
            ("x-hub-signature-256", &signature),
            ("x-github-event", "push"),
        ]);
        let events = vec!["ping".to_string(), "Push".to_string()];
        let call = WebhookCall {
            headers: &headers,
            body,
        };
        assert_eq!(
            validate(&rules(ReceiverType::GitHub, &events), &call),
            Ok(())
        );
    }

    #[test]
    fn github_calls_with_a_wrong_signature_or_event_are_rejected() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let wrong = format!(
            "sha256={}",
            hex::encode(hmac_of(Algorithm::Sha256, b"other", body))
        );
        let headers_wrong = headers(&[
            ("content-type", "application/json"),
            ("x-hub-signature-256", &wrong),
            ("x-github-event", "push"),
        ]);
        let call = WebhookCall {
            headers: &headers_wrong,
            body,
        };
        assert_eq!(
            validate(&rules(ReceiverType::GitHub, &[]), &call),
            Err(
                "the GitHub signature header is invalid, err: payload signature check failed"
                    .into()
            )
        );
        let unsigned = headers(&[
            ("content-type", "application/json"),
            ("x-github-event", "push"),
        ]);
        let call = WebhookCall {
            headers: &unsigned,
            body,
        };
        assert_eq!(
            validate(&rules(ReceiverType::GitHub, &[]), &call),
            Err("the GitHub signature header is invalid, err: missing signature".into())
        );
        let signature = github_signature(body);
        let ping = headers(&[
            ("content-type", "application/json"),
            ("x-hub-signature-256", &signature),
            ("x-github-event", "ping"),
        ]);
        let call = WebhookCall {
            headers: &ping,
            body,
        };
        let only_push = vec!["push".to_string()];
        assert_eq!(
            validate(&rules(ReceiverType::GitHub, &only_push), &call),
            Err("the GitHub event \"ping\" is not authorised".into())
        );
        let text = headers(&[
            ("content-type", "text/plain"),
            ("x-hub-signature-256", &signature),
        ]);
        let call = WebhookCall {
            headers: &text,
            body,
        };
        assert!(validate(&rules(ReceiverType::GitHub, &[]), &call).is_err());
    }

    #[test]
    fn legacy_sha1_github_signatures_are_accepted() {
        let body = b"{}";
        let signature = format!(
            "sha1={}",
            hex::encode(hmac_of(Algorithm::Sha1, b"s3cr3t", body))
        );
        let headers = headers(&[
            ("content-type", "application/json"),
            ("x-hub-signature", &signature),
        ]);
        let call = WebhookCall {
            headers: &headers,
            body,
        };
        assert_eq!(validate(&rules(ReceiverType::GitHub, &[]), &call), Ok(()));
    }

    #[test]
    fn gitlab_harbor_and_hmac_compare_their_secrets() {
        let body = b"{}";
        let gitlab = headers(&[
            ("x-gitlab-token", "s3cr3t"),
            ("x-gitlab-event", "Push Hook"),
        ]);
        let events = vec!["push hook".to_string()];
        assert_eq!(
            validate(
                &rules(ReceiverType::GitLab, &events),
                &WebhookCall {
                    headers: &gitlab,
                    body
                }
            ),
            Ok(())
        );
        let wrong = headers(&[("x-gitlab-token", "nope")]);
        assert!(
            validate(
                &rules(ReceiverType::GitLab, &[]),
                &WebhookCall {
                    headers: &wrong,
                    body
                }
            )
            .is_err()
        );
        let harbor = headers(&[("authorization", "s3cr3t")]);
        assert_eq!(
            validate(
                &rules(ReceiverType::Harbor, &[]),
                &WebhookCall {
                    headers: &harbor,
                    body
                }
            ),
            Ok(())
        );
        let signature = format!(
            "sha512={}",
            hex::encode(hmac_of(Algorithm::Sha512, b"s3cr3t", body))
        );
        let hmac_headers = headers(&[("x-signature", &signature)]);
        assert_eq!(
            validate(
                &rules(ReceiverType::GenericHmac, &[]),
                &WebhookCall {
                    headers: &hmac_headers,
                    body
                }
            ),
            Ok(())
        );
    }

    #[test]
    fn nexus_signs_with_hmac_sha1_hex() {
        let body = br#"{"action":"CREATED","repositoryName":"docker-hosted"}"#;
        let signature = hex::encode(hmac_of(Algorithm::Sha1, b"s3cr3t", body));
        let good = headers(&[("x-nexus-webhook-signature", &signature)]);
        assert_eq!(
            validate(
                &rules(ReceiverType::Nexus, &[]),
                &WebhookCall {
                    headers: &good,
                    body
                }
            ),
            Ok(())
        );
        let missing = headers(&[]);
        assert_eq!(
            validate(
                &rules(ReceiverType::Nexus, &[]),
                &WebhookCall {
                    headers: &missing,
                    body
                }
            ),
            Err("the Nexus signature is missing from header".into())
        );
    }

    #[test]
    fn registry_payloads_must_decode() {
        let none = headers(&[]);
        for receiver_type in [
            ReceiverType::Quay,
            ReceiverType::DockerHub,
            ReceiverType::Acr,
        ] {
            let good = WebhookCall {
                headers: &none,
                body: br#"{"target":{"repository":"r","tag":"t"}}"#,
            };
            assert_eq!(
                validate(&rules(receiver_type, &[]), &good),
                Ok(()),
                "{receiver_type:?}"
            );
            let bad = WebhookCall {
                headers: &none,
                body: b"not json",
            };
            assert!(
                validate(&rules(receiver_type, &[]), &bad).is_err(),
                "{receiver_type:?}"
            );
        }
    }

    #[test]
    fn cdevents_need_a_context_and_an_allowed_type() {
        let body = br#"{"context":{"version":"0.4.1","id":"1","source":"ci","type":"dev.cdevents.artifact.published.0.1.1","timestamp":"2024-01-01T00:00:00Z","specversion":"0.4.1"},"subject":{"id":"a","content":{}}}"#;
        let typed = headers(&[("ce-type", "dev.cdevents.artifact.published.0.1.1")]);
        let events = vec!["dev.cdevents.artifact.published.0.1.1".to_string()];
        assert_eq!(
            validate(
                &rules(ReceiverType::CdEvents, &events),
                &WebhookCall {
                    headers: &typed,
                    body
                }
            ),
            Ok(())
        );
        let empty = WebhookCall {
            headers: &typed,
            body: b"{}",
        };
        assert!(validate(&rules(ReceiverType::CdEvents, &events), &empty).is_err());
    }
}
