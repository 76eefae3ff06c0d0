//! The source of a Kustomization: resolving `spec.sourceRef` to a source's artifact
//! (KC `getSource`) and downloading it (fluxcd/pkg `http/fetch`, with `--http-retry`).

use std::time::Duration;

use eddy_api::kustomize::v1::{Kustomization, SourceKind};
use eddy_api::meta::Artifact;
use eddy_api::source::v1::{Bucket, ExternalArtifact, GitRepository, OCIRepository};
use eddy_artifact::{ClientError, Limits, UnpackedArtifact, fetch_artifact};
use kube::Api;

/// A resolved source reference.
#[derive(Clone, Debug)]
pub struct ResolvedSource {
    /// Kind of the source.
    pub kind: SourceKind,
    /// Namespace of the source.
    pub namespace: String,
    /// Name of the source.
    pub name: String,
    /// The published artifact, if any.
    pub artifact: Option<Artifact>,
}

impl ResolvedSource {
    /// The origin revision (OCI `org.opencontainers.image.revision`), or empty.
    pub fn origin_revision(&self) -> String {
        self.artifact
            .as_ref()
            .and_then(|artifact| artifact.metadata.as_ref())
            .and_then(|metadata| metadata.get(ORIGIN_REVISION_ANNOTATION))
            .cloned()
            .unwrap_or_default()
    }
}

/// Artifact metadata key of the revision an OCI artifact was built from.
pub const ORIGIN_REVISION_ANNOTATION: &str = "org.opencontainers.image.revision";

/// Why the source could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The reference is refused (`--no-cross-namespace-refs`, ExternalArtifact gate).
    #[error("{0}")]
    AccessDenied(String),
    /// Reading the source failed.
    #[error("unable to get source '{name}': {message}")]
    Read {
        /// `namespace/name`.
        name: String,
        /// What failed.
        message: String,
    },
}

/// The namespace a Kustomization's source is looked up in.
pub fn source_namespace(kustomization: &Kustomization) -> String {
    match &kustomization.spec.source_ref.namespace {
        Some(namespace) if !namespace.is_empty() => namespace.clone(),
        _ => kustomization.metadata.namespace.clone().unwrap_or_default(),
    }
}

/// Resolves the source reference of `kustomization`.
pub async fn resolve(
    client: &kube::Client,
    kustomization: &Kustomization,
    no_cross_namespace_refs: bool,
    allow_external_artifact: bool,
) -> Result<ResolvedSource, SourceError> {
    let reference = &kustomization.spec.source_ref;
    let namespace = source_namespace(kustomization);
    let own_namespace = kustomization.metadata.namespace.clone().unwrap_or_default();
    let kind = reference.kind;
    let qualified = format!("{namespace}/{}", reference.name);
    if no_cross_namespace_refs && namespace != own_namespace {
        return Err(SourceError::AccessDenied(format!(
            "can't access '{}/{qualified}', cross-namespace references have been blocked",
            kind.as_str()
        )));
    }
    if kind == SourceKind::ExternalArtifact && !allow_external_artifact {
        return Err(SourceError::AccessDenied(format!(
            "can't access '{}/{qualified}', ExternalArtifact feature gate is disabled",
            kind.as_str()
        )));
    }
    let name = reference.name.as_str();
    let artifact = match kind {
        SourceKind::GitRepository => get::<GitRepository>(client, &namespace, name)
            .await
            .map(|found| found.artifact().cloned()),
        SourceKind::OciRepository => get::<OCIRepository>(client, &namespace, name)
            .await
            .map(|found| found.artifact().cloned()),
        SourceKind::Bucket => get::<Bucket>(client, &namespace, name)
            .await
            .map(|found| found.artifact().cloned()),
        SourceKind::ExternalArtifact => get::<ExternalArtifact>(client, &namespace, name)
            .await
            .map(|found| found.artifact().cloned()),
    };
    let artifact = artifact.map_err(|error| match error {
        kube::Error::Api(status) if status.code == 404 => SourceError::NotFound(status.message),
        other => SourceError::Read {
            name: qualified.clone(),
            message: eddy_runtime::client::one_line(&other),
        },
    })?;
    Ok(ResolvedSource {
        kind,
        namespace,
        name: reference.name.clone(),
        artifact,
    })
}

async fn get<K>(client: &kube::Client, namespace: &str, name: &str) -> Result<K, kube::Error>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    Api::<K>::namespaced(client.clone(), namespace)
        .get(name)
        .await
}

/// Why the artifact could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server has no such file (the source is moving to a new artifact).
    #[error("artifact not found at {0}")]
    NotFound(String),
    /// Any other failure, after the retries.
    #[error("{0}")]
    Failed(String),
}

/// Downloads and unpacks the artifact, retrying connection failures and 5xx answers up to
/// `retries` times. With `localhost` set (`SOURCE_CONTROLLER_LOCALHOST`), the URL's host is
/// replaced by it, as Flux does for controllers running outside the cluster.
pub async fn fetch(
    http: &reqwest::Client,
    artifact: &Artifact,
    retries: u32,
    localhost: Option<&str>,
) -> Result<UnpackedArtifact, FetchError> {
    let url = match localhost {
        Some(host) if !host.is_empty() => replace_host(&artifact.url, host),
        _ => artifact.url.clone(),
    };
    let digest = artifact.digest.clone().unwrap_or_default();
    let size = artifact.size.and_then(|size| u64::try_from(size).ok());
    let limits = Limits {
        max_download_bytes: u64::MAX,
        max_unpacked_bytes: u64::MAX,
        ..Limits::default()
    };
    let mut attempt = 0;
    loop {
        match fetch_artifact(http, &url, &digest, size, limits).await {
            Ok(unpacked) => return Ok(unpacked),
            Err(ClientError::HttpStatus { status: 404, .. }) => {
                return Err(FetchError::NotFound(url));
            }
            Err(error) => {
                let transient = matches!(
                    error,
                    ClientError::Download { .. } | ClientError::HttpStatus { status: 500.., .. }
                );
                if !transient || attempt >= retries {
                    return Err(FetchError::Failed(error.to_string()));
                }
                attempt += 1;
                let delay = Duration::from_millis(500)
                    .saturating_mul(2u32.saturating_pow(attempt.min(5)))
                    .min(Duration::from_secs(10));
                tracing::debug!(%url, attempt, "artifact download failed, retrying: {error}");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Replaces the `host[:port]` of a URL.
fn replace_host(url: &str, host: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let path = rest.find('/').map_or("", |index| &rest[index..]);
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_override_replaces_host_and_port() {
        assert_eq!(
            replace_host(
                "http://source-controller.flux-system.svc.cluster.local./gitrepository/a/b/c.tar.gz",
                "localhost:9090"
            ),
            "http://localhost:9090/gitrepository/a/b/c.tar.gz"
        );
    }
}
