//! The clients objects are applied with: the controller's own, or one impersonating the
//! Kustomization's `serviceAccountName` (else `--default-service-account`) as
//! `system:serviceaccount:<namespace>:<name>` (fluxcd/pkg `runtime/client` impersonation).
//!
//! Impersonating clients are built from the controller's configuration with the
//! `Impersonate-User` and `Impersonate-Group` headers and cached per user, since building a
//! client sets up a TLS connector.

use std::collections::HashMap;
use std::sync::Mutex;

use eddy_api::kustomize::v1::Kustomization;
use eddy_runtime::client::ClientSettings;

/// Builds and caches the clients of the reconciler.
pub struct Clients {
    own: kube::Client,
    settings: Option<ClientSettings>,
    default_service_account: String,
    impersonating: Mutex<HashMap<String, kube::Client>>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Clients")
            .field("default_service_account", &self.default_service_account)
            .field("can_impersonate", &self.settings.is_some())
            .finish()
    }
}

/// The service account a Kustomization is applied as, if any.
pub fn service_account(kustomization: &Kustomization, default: &str) -> Option<String> {
    kustomization
        .spec
        .service_account_name
        .clone()
        .filter(|name| !name.is_empty())
        .or_else(|| (!default.is_empty()).then(|| default.to_string()))
}

impl Clients {
    /// Clients derived from `own`; impersonation needs the settings `own` was built from.
    pub fn new(
        own: kube::Client,
        settings: Option<ClientSettings>,
        default_service_account: impl Into<String>,
    ) -> Self {
        Self {
            own,
            settings,
            default_service_account: default_service_account.into(),
            impersonating: Mutex::new(HashMap::new()),
        }
    }

    /// The controller's own client.
    pub fn own(&self) -> &kube::Client {
        &self.own
    }

    /// The service account a Kustomization is applied as, if any.
    pub fn service_account_of(&self, kustomization: &Kustomization) -> Option<String> {
        service_account(kustomization, &self.default_service_account)
    }

    /// The client to apply `kustomization` with.
    pub fn for_kustomization(&self, kustomization: &Kustomization) -> Result<kube::Client, String> {
        let Some(account) = self.service_account_of(kustomization) else {
            return Ok(self.own.clone());
        };
        let namespace = kustomization.metadata.namespace.clone().unwrap_or_default();
        let user = format!("system:serviceaccount:{namespace}:{account}");
        if let Ok(cache) = self.impersonating.lock()
            && let Some(client) = cache.get(&user)
        {
            return Ok(client.clone());
        }
        let Some(mut settings) = self.settings.clone() else {
            return Err(format!(
                "failed to build kube client: impersonating {user} needs the controller's client configuration"
            ));
        };
        settings.config.auth_info.impersonate = Some(user.clone());
        settings.config.auth_info.impersonate_groups = Some(vec![
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{namespace}"),
        ]);
        let client = settings
            .build()
            .map_err(|error| format!("failed to build kube client: {error}"))?;
        if let Ok(mut cache) = self.impersonating.lock() {
            cache.insert(user, client.clone());
        }
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kustomization(service_account: Option<&str>) -> Kustomization {
        let mut spec = json!({"interval": "1m", "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "repo"}});
        if let Some(name) = service_account {
            spec["serviceAccountName"] = json!(name);
        }
        serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "team-a"}, "spec": spec}))
        .unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn the_named_account_wins_over_the_default() {
        assert_eq!(
            service_account(&kustomization(Some("deployer")), "fallback").as_deref(),
            Some("deployer")
        );
        assert_eq!(
            service_account(&kustomization(None), "fallback").as_deref(),
            Some("fallback")
        );
        assert_eq!(service_account(&kustomization(None), ""), None);
    }
}
