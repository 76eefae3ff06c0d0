//! `spec.kubeConfig`: applying to another cluster with a kubeconfig from a Secret in the
//! Kustomization's namespace (fluxcd/pkg `runtime/client` `Impersonator.clientForKubeConfig`).
//!
//! As in Flux, only what the kubeconfig carries inline is used: the server, its CA and TLS
//! server name, client certificate and key data, a bearer token, basic auth and a proxy.
//! Anything naming a file on the controller's disk (`certificate-authority`, `token-file`,
//! `client-certificate`, `client-key`), auth providers and impersonation are dropped; an
//! `exec` plugin is kept only with `--insecure-kubeconfig-exec`, and
//! `insecure-skip-tls-verify` only with `--insecure-kubeconfig-tls`.

use eddy_api::meta::KubeConfigReference;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Flux's `--insecure-kubeconfig-exec` and `--insecure-kubeconfig-tls`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemoteOptions {
    /// Keep a kubeconfig's `user.exec` plugin.
    pub insecure_exec: bool,
    /// Keep a kubeconfig's `insecure-skip-tls-verify`.
    pub insecure_tls: bool,
}

/// A kubeconfig read from its Secret.
pub(super) struct RemoteKubeconfig {
    /// `namespace/name` of the Secret.
    pub(super) secret: String,
    /// The Secret's resourceVersion: a new one means new credentials.
    pub(super) version: String,
    pub(super) yaml: Vec<u8>,
}

/// Reads the kubeconfig `reference` names in `namespace`, with Flux's key rules: the given
/// key, else `value`, else `value.yaml`.
pub(super) async fn read_kubeconfig(
    client: &kube::Client,
    namespace: &str,
    reference: &KubeConfigReference,
) -> Result<RemoteKubeconfig, String> {
    let Some(secret_ref) = &reference.secret_ref else {
        return Err(
            "spec.kubeConfig.configMapRef (workload identity) is not supported by this build of kustomize-controller; use spec.kubeConfig.secretRef"
                .to_string(),
        );
    };
    let described = format!("{namespace}/{}", secret_ref.name);
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get(&secret_ref.name)
        .await
        .map_err(|error| {
            format!(
                "unable to read KubeConfig secret '{described}' error: {}",
                eddy_runtime::client::one_line(&error)
            )
        })?;
    let version = secret.metadata.resource_version.clone().unwrap_or_default();
    let mut data = secret.data.unwrap_or_default();
    let key = secret_ref.key.as_deref().filter(|key| !key.is_empty());
    let yaml = match key {
        Some(key) => data.remove(key).ok_or_else(|| {
            format!("KubeConfig secret '{described}' does not contain a '{key}' key with a kubeconfig")
        })?,
        None => data
            .remove("value")
            .or_else(|| data.remove("value.yaml"))
            .ok_or_else(|| {
                format!(
                    "KubeConfig secret '{described}' does not contain a 'value' key with a kubeconfig"
                )
            })?,
    };
    Ok(RemoteKubeconfig {
        secret: described,
        version,
        yaml: yaml.0,
    })
}

/// The client configuration of a remote kubeconfig, keeping only what [`sanitize`] allows.
pub(super) async fn remote_config(
    kubeconfig: &RemoteKubeconfig,
    options: RemoteOptions,
) -> Result<kube::Config, String> {
    let invalid = |message: String| {
        format!(
            "KubeConfig secret '{}' holds no usable kubeconfig: {message}",
            kubeconfig.secret
        )
    };
    let text = std::str::from_utf8(&kubeconfig.yaml).map_err(|error| invalid(error.to_string()))?;
    let parsed = Kubeconfig::from_yaml(text).map_err(|error| invalid(error.to_string()))?;
    kube::Config::from_custom_kubeconfig(sanitize(parsed, options), &KubeConfigOptions::default())
        .await
        .map_err(|error| invalid(eddy_runtime::client::one_line(&error)))
}

/// Drops what a kubeconfig from a Secret must not use (see the module documentation).
fn sanitize(mut kubeconfig: Kubeconfig, options: RemoteOptions) -> Kubeconfig {
    for named in &mut kubeconfig.clusters {
        if let Some(cluster) = &mut named.cluster {
            cluster.certificate_authority = None;
            if !options.insecure_tls {
                cluster.insecure_skip_tls_verify = None;
            }
        }
    }
    for named in &mut kubeconfig.auth_infos {
        if let Some(auth) = &mut named.auth_info {
            auth.token_file = None;
            auth.client_certificate = None;
            auth.client_key = None;
            auth.auth_provider = None;
            auth.impersonate = None;
            auth.impersonate_uid = None;
            auth.impersonate_groups = None;
            auth.impersonate_user_extra = None;
            if !options.insecure_exec {
                auth.exec = None;
            }
        }
    }
    kubeconfig
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: remote
  cluster:
    server: https://remote.example.invalid:6443
    certificate-authority: /etc/kubernetes/pki/ca.crt
    insecure-skip-tls-verify: true
users:
- name: deployer
  user:
    token-file: /var/run/secrets/kubernetes.io/serviceaccount/token
    client-certificate: /etc/client.crt
    client-key: /etc/client.key
    as: system:admin
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: /bin/sh
      args: [-c, 'cat /etc/shadow']
contexts:
- name: remote
  context: {cluster: remote, user: deployer}
current-context: remote
";

    #[test]
    fn files_exec_and_impersonation_are_dropped_from_a_remote_kubeconfig() {
        let parsed = Kubeconfig::from_yaml(KUBECONFIG).unwrap_or_else(|error| panic!("{error}"));
        let safe = sanitize(parsed, RemoteOptions::default());
        let cluster = safe.clusters[0].cluster.clone().unwrap_or_default();
        assert_eq!(cluster.certificate_authority, None);
        assert_eq!(cluster.insecure_skip_tls_verify, None);
        assert_eq!(
            cluster.server.as_deref(),
            Some("https://remote.example.invalid:6443")
        );
        let user = safe.auth_infos[0].auth_info.clone().unwrap_or_default();
        assert!(user.token_file.is_none() && user.client_certificate.is_none());
        assert!(user.client_key.is_none() && user.impersonate.is_none());
        assert!(user.exec.is_none());
    }

    #[test]
    fn the_insecure_flags_keep_exec_and_skip_tls_verify() {
        let parsed = Kubeconfig::from_yaml(KUBECONFIG).unwrap_or_else(|error| panic!("{error}"));
        let kept = sanitize(
            parsed,
            RemoteOptions {
                insecure_exec: true,
                insecure_tls: true,
            },
        );
        let cluster = kept.clusters[0].cluster.clone().unwrap_or_default();
        assert_eq!(cluster.insecure_skip_tls_verify, Some(true));
        assert_eq!(cluster.certificate_authority, None, "files never");
        let user = kept.auth_infos[0].auth_info.clone().unwrap_or_default();
        assert!(user.exec.is_some());
        assert!(user.token_file.is_none(), "files never");
    }
}
