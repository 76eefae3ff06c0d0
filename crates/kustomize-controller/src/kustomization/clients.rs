//! The clients objects are applied with: the controller's own, or one impersonating the
//! Kustomization's `serviceAccountName` (else `--default-service-account`) as
//! `system:serviceaccount:<namespace>:<name>` (fluxcd/pkg `runtime/client` impersonation), on
//! this cluster or, with `spec.kubeConfig`, on the cluster its kubeconfig Secret names
//! ([`super::remote`]).
//!
//! Clients are built from the controller's configuration (or the remote kubeconfig) with the
//! `Impersonate-User` and `Impersonate-Group` headers and cached per user and cluster, since
//! building a client sets up a TLS connector; a remote one is rebuilt when its Secret changes.
//! Each cluster has its own kind cache (discovery differs between clusters).

use std::collections::HashMap;
use std::sync::Mutex;

use eddy_api::kustomize::v1::Kustomization;
use eddy_apply::KindCache;
use eddy_runtime::client::ClientSettings;

use super::remote::{self, RemoteOptions};

/// Where a Kustomization's objects go: a client and the kinds of its cluster.
#[derive(Clone)]
pub struct Target {
    /// The client to apply, check and prune with.
    pub client: kube::Client,
    /// Discovery of that cluster.
    pub kinds: KindCache,
}

/// A remote cluster's client, for the Secret version it was built from.
struct RemoteTarget {
    version: String,
    target: Target,
}

/// Builds and caches the clients of the reconciler.
pub struct Clients {
    own: kube::Client,
    own_kinds: KindCache,
    settings: Option<ClientSettings>,
    default_service_account: String,
    remote_options: RemoteOptions,
    impersonating: Mutex<HashMap<String, kube::Client>>,
    remote: Mutex<HashMap<String, RemoteTarget>>,
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
            own_kinds: KindCache::new(),
            settings,
            default_service_account: default_service_account.into(),
            remote_options: RemoteOptions::default(),
            impersonating: Mutex::new(HashMap::new()),
            remote: Mutex::new(HashMap::new()),
        }
    }

    /// With Flux's `--insecure-kubeconfig-exec` / `--insecure-kubeconfig-tls`.
    #[must_use]
    pub fn with_remote_options(mut self, options: RemoteOptions) -> Self {
        self.remote_options = options;
        self
    }

    /// The controller's own client.
    pub fn own(&self) -> &kube::Client {
        &self.own
    }

    /// The service account a Kustomization is applied as, if any.
    pub fn service_account_of(&self, kustomization: &Kustomization) -> Option<String> {
        service_account(kustomization, &self.default_service_account)
    }

    /// The client (and kinds) to apply `kustomization` with: on the cluster of its
    /// `spec.kubeConfig`, else on this one; as its service account, if any.
    pub async fn for_kustomization(&self, kustomization: &Kustomization) -> Result<Target, String> {
        let namespace = kustomization.metadata.namespace.clone().unwrap_or_default();
        let user = self
            .service_account_of(kustomization)
            .map(|account| format!("system:serviceaccount:{namespace}:{account}"));
        match &kustomization.spec.kube_config {
            Some(reference) => {
                let kubeconfig = remote::read_kubeconfig(&self.own, &namespace, reference).await?;
                self.remote_target(&kubeconfig, user.as_deref(), &namespace)
                    .await
            }
            None => Ok(Target {
                client: self.local_client(user.as_deref(), &namespace)?,
                kinds: self.own_kinds.clone(),
            }),
        }
    }

    fn local_client(&self, user: Option<&str>, namespace: &str) -> Result<kube::Client, String> {
        let Some(user) = user else {
            return Ok(self.own.clone());
        };
        if let Ok(cache) = self.impersonating.lock()
            && let Some(client) = cache.get(user)
        {
            return Ok(client.clone());
        }
        let Some(mut settings) = self.settings.clone() else {
            return Err(format!(
                "failed to build kube client: impersonating {user} needs the controller's client configuration"
            ));
        };
        impersonate(&mut settings.config, user, namespace);
        let client = settings
            .build()
            .map_err(|error| format!("failed to build kube client: {error}"))?;
        if let Ok(mut cache) = self.impersonating.lock() {
            cache.insert(user.to_string(), client.clone());
        }
        Ok(client)
    }

    async fn remote_target(
        &self,
        kubeconfig: &remote::RemoteKubeconfig,
        user: Option<&str>,
        namespace: &str,
    ) -> Result<Target, String> {
        let key = format!("{}#{}", kubeconfig.secret, user.unwrap_or_default());
        if let Ok(cache) = self.remote.lock()
            && let Some(cached) = cache.get(&key)
            && cached.version == kubeconfig.version
        {
            return Ok(cached.target.clone());
        }
        let mut config = remote::remote_config(kubeconfig, self.remote_options).await?;
        if let Some(user) = user {
            impersonate(&mut config, user, namespace);
        }
        // The local limits (none when the local server has priority and fairness), then the
        // remote server's own check, as for the local cluster.
        let (qps, burst) = self
            .settings
            .as_ref()
            .map_or((-1.0, 0), |settings| (settings.qps, settings.burst));
        let mut remote = ClientSettings { config, qps, burst };
        let failed = |error: eddy_runtime::client::ClientError| {
            format!("failed to build kube client: {error}")
        };
        let client = remote.build().map_err(failed)?;
        let client = remote.unthrottled_under_apf(client).await.map_err(failed)?;
        let target = Target {
            client,
            kinds: KindCache::new(),
        };
        if let Ok(mut cache) = self.remote.lock() {
            cache.insert(
                key,
                RemoteTarget {
                    version: kubeconfig.version.clone(),
                    target: target.clone(),
                },
            );
        }
        Ok(target)
    }
}

/// Impersonates `user` and the service-account groups of `namespace`, as Flux does.
fn impersonate(config: &mut kube::Config, user: &str, namespace: &str) {
    config.auth_info.impersonate = Some(user.to_string());
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".to_string(),
        format!("system:serviceaccounts:{namespace}"),
    ]);
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
