//! The Receiver reconciler (Flux's `receiver_controller.go`) on the runtime harness: reads the
//! token Secret and publishes `status.webhookPath` (`/hook/` + hex SHA-256 of token, name and
//! namespace) with Ready=True `Succeeded`, "Receiver initialized for path: /hook/…". A missing
//! Secret or `token` key is `TokenNotFound` (retried, webhook path cleared); specs this
//! controller cannot honour stall with `ValidationFailed`.

use crate::cluster::Cluster;
use eddy_api::meta::{Reconciled, parse_duration, reasons};
use eddy_api::notification::v1::{Receiver, ReceiverType, reasons as receiver_reasons};
use eddy_runtime::{Reconciler, Run, StepError, Success};
use std::collections::BTreeMap;
use std::time::Duration;

const TERMINAL_PREFIX: &str = "Reconciliation failed terminally due to configuration error";

/// Reconciles Receivers, reading Secrets through a [`Cluster`].
pub struct ReceiverReconciler<C: Cluster> {
    cluster: C,
}

impl<C: Cluster> ReceiverReconciler<C> {
    /// A reconciler reading Secrets from `cluster`.
    pub fn new(cluster: C) -> Self {
        Self { cluster }
    }
}

/// Flux's spec checks (the CRD's CEL rules, repeated for API servers that ignore them), plus
/// what this controller cannot do: CEL resource filters and `generic-oidc`.
pub fn validate_spec(receiver: &Receiver) -> Result<(), StepError> {
    let spec = &receiver.spec;
    let terminal = |message: &str| {
        StepError::stalling(
            receiver_reasons::VALIDATION_FAILED,
            format!("{TERMINAL_PREFIX}: {message}"),
        )
    };
    let oidc = spec.receiver_type == ReceiverType::GenericOidc;
    let has_providers = spec
        .oidc_providers
        .as_ref()
        .is_some_and(|all| !all.is_empty());
    if oidc && !has_providers {
        return Err(terminal(
            "generic-oidc receiver requires at least one oidcProvider",
        ));
    }
    if !oidc && has_providers {
        return Err(terminal(
            "oidcProviders can only be set when type is generic-oidc",
        ));
    }
    if oidc && spec.secret_ref.is_some() {
        return Err(terminal(
            "secretRef cannot be set when type is generic-oidc",
        ));
    }
    if !oidc && spec.secret_ref.is_none() {
        return Err(terminal(
            "secretRef is required when type is not generic-oidc",
        ));
    }
    if oidc {
        return Err(terminal(
            "generic-oidc receivers are not supported by this controller",
        ));
    }
    let filtered = spec
        .resource_filter
        .as_deref()
        .is_some_and(|f| !f.is_empty())
        || spec
            .resources
            .iter()
            .any(|resource| resource.filter.as_deref().is_some_and(|f| !f.is_empty()));
    if filtered {
        // Annotating everything would ignore the filter; refusing is the safe failure.
        return Err(terminal(
            "CEL resource filters (spec.resourceFilter, spec.resources[].filter) are not supported by this controller",
        ));
    }
    Ok(())
}

impl<C: Cluster> Reconciler for ReceiverReconciler<C> {
    type Object = Receiver;

    async fn reconcile(
        &self,
        receiver: &Receiver,
        run: &mut Run<Receiver>,
    ) -> Result<Success, StepError> {
        validate_spec(receiver)?;
        let namespace = receiver.metadata.namespace.clone().unwrap_or_default();
        let token = match &receiver.spec.secret_ref {
            None => String::new(),
            Some(reference) => {
                let secret_name = format!("{namespace}/{}", reference.name);
                let token = match self.cluster.secret(&namespace, &reference.name).await {
                    Ok(data) => data.get("token").cloned().ok_or_else(|| {
                        format!("invalid '{secret_name}' secret data: required fields 'token'")
                    }),
                    Err(error) => Err(format!(
                        "unable to read token from secret '{secret_name}' error: {error}"
                    )),
                };
                match token {
                    Ok(token) => String::from_utf8_lossy(&token).into_owned(),
                    Err(message) => {
                        run.status.webhook_path = None;
                        return Err(StepError::retryable(
                            receiver_reasons::TOKEN_NOT_FOUND,
                            message,
                        ));
                    }
                }
            }
        };
        let path = receiver.get_webhook_path(&token);
        let message = format!("Receiver initialized for path: {path}");
        if run.status.webhook_path.as_deref() != Some(path.as_str()) {
            tracing::info!(%namespace, name = receiver.metadata.name.as_deref().unwrap_or_default(), "{message}");
            run.status.webhook_path = Some(path);
        }
        let interval = parse_duration(receiver.interval()).unwrap_or(Duration::from_secs(600));
        run.event(
            reasons::SUCCEEDED,
            format!(
                "Reconciliation finished, next run in {}",
                crate::go_time::duration_string(interval)
            ),
            BTreeMap::new(),
        );
        Ok(Success::with_reason(reasons::SUCCEEDED, message))
    }

    async fn finalize(&self, _receiver: &Receiver) -> Result<(), StepError> {
        Ok(())
    }
}
