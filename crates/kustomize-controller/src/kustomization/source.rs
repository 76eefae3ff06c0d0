//! The source of a Kustomization: resolving `spec.sourceRef` to a source's artifact
//! (KC `getSource`) and downloading it (fluxcd/pkg `http/fetch`, with `--http-retry`).
//!
//! Sources are read from the caches the source watches fill ([`SourceCache`]), as Flux reads
//! them from its informer cache: no request per reconcile. The `DirectSourceFetch` feature gate
//! (or a reconciler built without a cache) reads them from the API server instead.

use std::sync::Arc;
use std::time::Duration;

use eddy_api::kustomize::v1::{Kustomization, SourceKind};
use eddy_api::meta::Artifact;
use eddy_api::source::v1::{Bucket, ExternalArtifact, GitRepository, OCIRepository};
use eddy_artifact::{ClientError, Limits, UnpackedArtifact, fetch_artifact};
use kube::Api;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};

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

/// The controller's caches of the source kinds it watches.
#[derive(Clone)]
pub struct SourceCache {
    git_repositories: Store<GitRepository>,
    oci_repositories: Store<OCIRepository>,
    buckets: Store<Bucket>,
    external_artifacts: Store<ExternalArtifact>,
}

impl std::fmt::Debug for SourceCache {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SourceCache")
            .field("git_repositories", &self.git_repositories.len())
            .field("oci_repositories", &self.oci_repositories.len())
            .field("buckets", &self.buckets.len())
            .field("external_artifacts", &self.external_artifacts.len())
            .finish()
    }
}

/// What fills a [`SourceCache`]: one writer per source kind, for the source watches.
pub struct SourceCacheWriters {
    /// GitRepositories.
    pub git_repositories: Writer<GitRepository>,
    /// OCIRepositories.
    pub oci_repositories: Writer<OCIRepository>,
    /// Buckets.
    pub buckets: Writer<Bucket>,
    /// ExternalArtifacts.
    pub external_artifacts: Writer<ExternalArtifact>,
}

impl SourceCache {
    /// Empty caches and the writers that fill them.
    pub fn new() -> (Self, SourceCacheWriters) {
        let (git_repositories, git_writer) = reflector::store();
        let (oci_repositories, oci_writer) = reflector::store();
        let (buckets, bucket_writer) = reflector::store();
        let (external_artifacts, external_writer) = reflector::store();
        (
            Self {
                git_repositories,
                oci_repositories,
                buckets,
                external_artifacts,
            },
            SourceCacheWriters {
                git_repositories: git_writer,
                oci_repositories: oci_writer,
                buckets: bucket_writer,
                external_artifacts: external_writer,
            },
        )
    }
}

/// How long a reconcile waits for a source cache's first list before reading the source from
/// the API server instead (a kind whose watch cannot start, say its CRD is missing).
const CACHE_SYNC_WAIT: Duration = Duration::from_secs(10);

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
    cache: Option<&SourceCache>,
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
        SourceKind::GitRepository => read(
            cache.map(|cache| &cache.git_repositories),
            client,
            &namespace,
            name,
        )
        .await
        .map(|found| found.artifact().cloned()),
        SourceKind::OciRepository => read(
            cache.map(|cache| &cache.oci_repositories),
            client,
            &namespace,
            name,
        )
        .await
        .map(|found| found.artifact().cloned()),
        SourceKind::Bucket => read(cache.map(|cache| &cache.buckets), client, &namespace, name)
            .await
            .map(|found| found.artifact().cloned()),
        SourceKind::ExternalArtifact => read(
            cache.map(|cache| &cache.external_artifacts),
            client,
            &namespace,
            name,
        )
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

/// A source from its cache once that has listed, else from the API server. A cache miss is
/// the API server's 404, worded as controller-runtime's cache words it.
async fn read<K>(
    cache: Option<&Store<K>>,
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Arc<K>, kube::Error>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    if let Some(store) = cache
        && matches!(
            tokio::time::timeout(CACHE_SYNC_WAIT, store.wait_until_ready()).await,
            Ok(Ok(()))
        )
    {
        return store
            .get(&ObjectRef::new(name).within(namespace))
            .ok_or_else(|| {
                let kind = K::kind(&());
                let group = K::group(&());
                kube::Error::Api(Box::new(
                    kube::core::Status::failure(
                        &format!("{kind}.{group} \"{name}\" not found"),
                        "NotFound",
                    )
                    .with_code(404),
                ))
            });
    }
    Api::<K>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .map(Arc::new)
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
    use kube::runtime::watcher::Event;

    fn git_repository(namespace: &str, name: &str, revision: &str) -> GitRepository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"url": "https://example.invalid/repo", "interval": "1m"},
            "status": {"artifact": {"path": "p", "url": "http://a/p.tar.gz",
                "revision": revision, "digest": "sha256:00", "lastUpdateTime": "2026-11-27T00:00:00Z"}}
        }))
        .unwrap_or_else(|error| panic!("{error}"))
    }

    fn kustomization_of(namespace: &str, source: &str) -> Kustomization {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": namespace},
            "spec": {"interval": "1m", "prune": true,
                "sourceRef": {"kind": "GitRepository", "name": source}}
        }))
        .unwrap_or_else(|error| panic!("{error}"))
    }

    #[tokio::test]
    async fn a_synced_cache_answers_without_asking_the_api_server() {
        let (cache, mut writers) = SourceCache::new();
        let writer = &mut writers.git_repositories;
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(git_repository(
            "flux-system",
            "repo",
            "main@sha1:0123",
        )));
        writer.apply_watcher_event(&Event::InitDone);
        // Nothing listens on port 9: any request would fail the resolve.
        let offline = kube::Client::try_from(kube::Config::new(
            "http://127.0.0.1:9"
                .parse()
                .unwrap_or_else(|error| panic!("{error}")),
        ))
        .unwrap_or_else(|error| panic!("{error}"));
        let found = resolve(
            &offline,
            Some(&cache),
            &kustomization_of("flux-system", "repo"),
            false,
            false,
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            found.artifact.map(|artifact| artifact.revision).as_deref(),
            Some("main@sha1:0123")
        );
        let missing = resolve(
            &offline,
            Some(&cache),
            &kustomization_of("flux-system", "other"),
            false,
            false,
        )
        .await
        .expect_err("not in the cache");
        assert_eq!(
            missing.to_string(),
            "GitRepository.source.toolkit.fluxcd.io \"other\" not found"
        );
        assert!(matches!(missing, SourceError::NotFound(_)));
    }

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
