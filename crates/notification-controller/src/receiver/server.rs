//! The receiver server: `POST /hook/<sha256>`.
//!
//! 404 when no Receiver has that webhook path, 503 while it is suspended or not Ready, 400 when
//! the call fails validation, 500 when a resource could not be annotated, 200 otherwise. Each
//! resource in `spec.resources` (or, with `name: "*"`, each object matching `matchLabels`) gets
//! `reconcile.fluxcd.io/requestedAt: <Go time string of now>`, which makes its controller
//! reconcile it at once.

use super::validation::{self, ReceiverRules, WebhookCall};
use crate::cluster::{Cluster, ObjectKey};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::IntoResponse;
use eddy_api::meta::annotations::RECONCILE_REQUESTED_AT;
use eddy_api::meta::conditions::READY;
use eddy_api::notification::v1::{
    CrossNamespaceObjectReference, RECEIVER_WEBHOOK_PATH_PREFIX, Receiver,
};
use http::{HeaderMap, StatusCode};
use std::sync::Arc;

/// API versions used for resources that give none (Flux's `defaultFluxAPIVersions`).
pub fn default_api_version(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Bucket" | "HelmChart" | "HelmRepository" | "GitRepository" | "OCIRepository" => {
            "source.toolkit.fluxcd.io/v1"
        }
        "ImageRepository" => "image.toolkit.fluxcd.io/v1",
        "ArtifactGenerator" => "source.extensions.fluxcd.io/v1beta1",
        _ => return None,
    })
}

/// The receiver server.
pub struct ReceiverServer<C: Cluster> {
    cluster: C,
    no_cross_namespace_refs: bool,
}

fn is_ready(receiver: &Receiver) -> bool {
    receiver
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|condition| condition.type_ == READY))
        .is_some_and(|condition| condition.status == "True")
}

impl<C: Cluster> ReceiverServer<C> {
    /// A server finding Receivers and annotating objects through `cluster`.
    pub fn new(cluster: C, no_cross_namespace_refs: bool) -> Arc<Self> {
        Arc::new(Self {
            cluster,
            no_cross_namespace_refs,
        })
    }

    /// The axum router: `/hook/…` to the handler, everything else 404.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .fallback(handle_request::<C>)
            .with_state(self.clone())
    }

    /// Handles one call to `request_uri` (path and query, as received).
    pub async fn handle(&self, request_uri: &str, headers: &HeaderMap, body: &[u8]) -> StatusCode {
        if !request_uri.starts_with(RECEIVER_WEBHOOK_PATH_PREFIX) {
            return StatusCode::NOT_FOUND;
        }
        tracing::info!(
            "handling request: {}",
            request_uri.trim_start_matches(RECEIVER_WEBHOOK_PATH_PREFIX)
        );
        let receiver = match self.cluster.receiver_for_path(request_uri).await {
            Ok(Some(receiver)) => receiver,
            Ok(None) => return StatusCode::NOT_FOUND,
            Err(error) => {
                tracing::error!(error = %error, "unable to list receivers");
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
        };
        let namespace = receiver.metadata.namespace.clone().unwrap_or_default();
        let name = receiver.metadata.name.clone().unwrap_or_default();
        if receiver.spec.suspend.unwrap_or(false) {
            tracing::error!(%namespace, %name, "unable to process request: receiver is suspended");
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        if !is_ready(&receiver) {
            tracing::error!(%namespace, %name, "unable to process request: receiver is not ready");
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        if let Err(error) = self.validate(&receiver, headers, body).await {
            tracing::error!(%namespace, %name, error = %error, "unable to validate payload");
            return StatusCode::BAD_REQUEST;
        }
        let mut failed = false;
        for resource in &receiver.spec.resources {
            let reference = CrossNamespaceObjectReference {
                api_version: resource.api_version.clone(),
                kind: resource.kind,
                name: resource.name.clone(),
                namespace: resource.namespace.clone(),
                match_labels: resource.match_labels.clone(),
            };
            if let Err(error) = self.request_reconciliation(&reference, &namespace).await {
                tracing::error!(%namespace, %name, error = %error, resource = ?reference, "unable to request reconciliation");
                failed = true;
            }
        }
        if failed {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    }

    async fn validate(
        &self,
        receiver: &Receiver,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), String> {
        let namespace = receiver.metadata.namespace.as_deref().unwrap_or_default();
        let secret = match &receiver.spec.secret_ref {
            Some(reference) => {
                let data = self
                    .cluster
                    .secret(namespace, &reference.name)
                    .await
                    .map_err(|error| {
                        format!(
                            "unable to read secret, error: unable to read secret \"{namespace}/{}\": {error}",
                            reference.name
                        )
                    })?;
                if !data.contains_key("token") {
                    return Err(format!(
                        "invalid \"{namespace}/{}\" secret data: required field 'token'",
                        reference.name
                    ));
                }
                data
            }
            None => Default::default(),
        };
        let text = |key: &str| {
            secret
                .get(key)
                .map(|value| String::from_utf8_lossy(value).into_owned())
                .unwrap_or_default()
        };
        let (token, email, audience) = (text("token"), text("email"), text("audience"));
        let events = receiver.spec.events.clone().unwrap_or_default();
        let rules = ReceiverRules {
            receiver_type: receiver.spec.receiver_type,
            token: &token,
            events: &events,
            email: &email,
            audience: &audience,
        };
        validation::validate(&rules, &WebhookCall { headers, body })
    }

    async fn request_reconciliation(
        &self,
        resource: &CrossNamespaceObjectReference,
        receiver_namespace: &str,
    ) -> Result<(), String> {
        let mut namespace = receiver_namespace.to_string();
        if let Some(wanted) = resource.namespace.as_deref().filter(|ns| !ns.is_empty()) {
            if self.no_cross_namespace_refs && wanted != receiver_namespace {
                return Err("cross-namespace references are not allowed".into());
            }
            namespace = wanted.to_string();
        }
        let kind = resource.kind.as_str();
        let api_version = match resource.api_version.as_deref().filter(|v| !v.is_empty()) {
            Some(api_version) => api_version.to_string(),
            None => default_api_version(kind)
                .ok_or_else(|| format!("apiVersion must be specified for kind {kind:?}"))?
                .to_string(),
        };
        let names = if resource.name == "*" {
            let labels = resource
                .match_labels
                .as_ref()
                .ok_or("matchLabels field not set when using wildcard '*' as name")?;
            let names = self
                .cluster
                .list_objects(&api_version, kind, &namespace, labels)
                .await
                .map_err(|error| {
                    format!(
                        "failed listing resources in namespace {namespace:?} by matching labels {labels:?}: {error}"
                    )
                })?;
            if names.is_empty() {
                tracing::error!(
                    "error annotating resources: no {kind:?} resources found with matching labels {labels:?} in {namespace:?} namespace"
                );
            }
            names
        } else {
            vec![resource.name.clone()]
        };
        for name in names {
            let key = ObjectKey {
                api_version: api_version.clone(),
                kind: kind.to_string(),
                namespace: namespace.clone(),
                name,
            };
            self.cluster
                .annotate(&key, RECONCILE_REQUESTED_AT, &crate::go_time::now_string())
                .await
                .map_err(|error| {
                    format!(
                        "failed to annotate resource: '{kind}/{}.{}': {error}",
                        key.name, key.namespace
                    )
                })?;
            tracing::info!("resource '{kind}/{}.{}' annotated", key.name, key.namespace);
        }
        Ok(())
    }
}

async fn handle_request<C: Cluster>(
    State(server): State<Arc<ReceiverServer<C>>>,
    request: http::Request<Body>,
) -> impl IntoResponse {
    let uri = request
        .uri()
        .path_and_query()
        .map(|path| path.as_str().to_string())
        .unwrap_or_default();
    if !uri.starts_with(RECEIVER_WEBHOOK_PATH_PREFIX) {
        return StatusCode::NOT_FOUND;
    }
    let (parts, body) = request.into_parts();
    match crate::serve::read_body(body).await {
        Ok(body) => server.handle(&uri, &parts.headers, &body).await,
        Err(status) => status,
    }
}
