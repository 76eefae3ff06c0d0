//! Flux's `reconcileSource`: credentials, included artifacts, and the checkout.
//!
//! The remote reference is resolved first (a ref listing, no objects) and compared with the
//! stored revision: when it is the same and no content input changed, the reconcile ends here
//! with the stored artifact — no clone, no archive. Otherwise exactly the resolved commit is
//! fetched at depth 1 into the pass's work directory.

use super::observations::{content_config_changed, includes_differ};
use super::{GitRepositoryReconciler, Pass, clear, describe_kube_error, fail, is_true, mark};
use eddy_api::meta::{Artifact, conditions as types, reasons};
use eddy_api::source::v1::{GitProvider, GitRepository};
use eddy_git::{AuthOptions, CloneOptions, CloneOutcome, GitError, Reference, Scheme};
use eddy_runtime::{Run, StepError, Success};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use std::collections::BTreeMap;
use std::time::Duration;

/// The Secret key that marks GitHub App credentials.
const GITHUB_APP_ID_KEY: &str = "githubAppID";

/// The decoded `data` of a Secret (`stringData` never comes back from the API server).
fn secret_data(secret: Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| (key, value.0))
        .collect()
}

/// The `spec.ref` as eddy-git's reference (the same five fields, the same precedence).
pub(super) fn reference_of(repository: &GitRepository) -> Reference {
    match &repository.spec.reference {
        Some(reference) => Reference {
            branch: reference.branch.clone(),
            tag: reference.tag.clone(),
            semver: reference.semver.clone(),
            name: reference.name.clone(),
            commit: reference.commit.clone(),
        },
        None => Reference::default(),
    }
}

/// The Git operation timeout (`spec.timeout`, 60 s when unset or unreadable).
pub(super) fn timeout_of(repository: &GitRepository) -> Duration {
    eddy_api::meta::parse_duration(repository.timeout()).unwrap_or(Duration::from_secs(60))
}

/// The condition message of a failed checkout, in Flux's words.
pub(super) fn checkout_failure(error: &GitError) -> StepError {
    match error {
        GitError::SparseCheckoutPathNotFound(directory) => StepError::retryable(
            reasons::GIT_OPERATION_FAILED,
            format!(
                "failed to sparse checkout directories : sparse checkout dir '{directory}' does not exist in repository"
            ),
        ),
        other => StepError::retryable(
            reasons::GIT_OPERATION_FAILED,
            format!("failed to checkout and determine revision: {other}"),
        ),
    }
}

impl GitRepositoryReconciler {
    /// Reads a Secret of the repository's namespace.
    async fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, String> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        secrets
            .get(name)
            .await
            .map(secret_data)
            .map_err(|error| describe_kube_error(&error))
    }

    /// Flux's `getAuthOpts` and proxy handling: the credentials for the URL's transport.
    async fn auth_options(
        &self,
        repository: &GitRepository,
        run: &mut Run<GitRepository>,
        scheme: Scheme,
    ) -> Result<AuthOptions, StepError> {
        let namespace = repository.metadata.namespace.as_deref().unwrap_or_default();
        let authentication_failed =
            |message: String| StepError::retryable(reasons::AUTHENTICATION_FAILED, message);

        let proxy = match &repository.spec.proxy_secret_ref {
            None => None,
            Some(reference) => {
                let proxy = match self.secret(namespace, &reference.name).await {
                    Ok(data) => AuthOptions::proxy_from_secret_data(&data)
                        .map_err(|error| error.to_string()),
                    Err(error) => Err(format!(
                        "failed to get proxy secret '{namespace}/{}': {error}",
                        reference.name
                    )),
                };
                match proxy {
                    Ok(proxy) => Some(proxy),
                    Err(error) => {
                        let error = authentication_failed(format!(
                            "failed to configure proxy options: {error}"
                        ));
                        return Err(fail(run, repository, types::FETCH_FAILED, error));
                    }
                }
            }
        };

        let data = match &repository.spec.secret_ref {
            None => BTreeMap::new(),
            Some(reference) => match self.secret(namespace, &reference.name).await {
                Ok(data) => data,
                Err(error) => {
                    let error = authentication_failed(format!(
                        "failed to get secret '{namespace}/{}': {error}",
                        reference.name
                    ));
                    return Err(fail(run, repository, types::FETCH_FAILED, error));
                }
            },
        };

        match repository.provider() {
            GitProvider::Generic => {
                if data.get(GITHUB_APP_ID_KEY).is_some_and(|id| !id.is_empty()) {
                    let name = repository
                        .spec
                        .secret_ref
                        .as_ref()
                        .map(|reference| reference.name.as_str())
                        .unwrap_or_default();
                    let error = StepError::retryable(
                        reasons::INVALID_PROVIDER_CONFIGURATION,
                        format!(
                            "secretRef '{namespace}/{name}' has github app data but provider is not set to github"
                        ),
                    );
                    return Err(fail(run, repository, types::FETCH_FAILED, error));
                }
            }
            GitProvider::Github if repository.spec.secret_ref.is_none() => {
                let error = StepError::stalling(
                    reasons::INVALID_PROVIDER_CONFIGURATION,
                    "secretRef with github app data must be specified when provider is set to github",
                );
                return Err(fail(run, repository, types::FETCH_FAILED, error));
            }
            provider => {
                // Workload identity (azure, aws) and GitHub App tokens need cloud token
                // exchanges this build does not have; say so instead of failing obscurely.
                let name = serde_json::to_value(provider)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_string))
                    .unwrap_or_default();
                let error = StepError::stalling(
                    reasons::INVALID_PROVIDER_CONFIGURATION,
                    format!(
                        "provider '{name}' is not supported by this source-controller yet; use provider 'generic' with a secretRef"
                    ),
                );
                return Err(fail(run, repository, types::FETCH_FAILED, error));
            }
        }

        let mut options = AuthOptions::from_secret_data(&data);
        options.proxy = proxy;
        if let Err(error) = options.validate(scheme) {
            let error = authentication_failed(format!(
                "failed to configure authentication options: {error}"
            ));
            return Err(fail(run, repository, types::FETCH_FAILED, error));
        }
        Ok(options)
    }

    /// Flux's `fetchIncludes`: the current artifact of every included GitRepository, or a
    /// waiting error (IncludeUnavailable) naming the first one that has none.
    async fn included_artifacts(
        &self,
        repository: &GitRepository,
        run: &mut Run<GitRepository>,
    ) -> Result<Vec<Artifact>, StepError> {
        let namespace = repository.metadata.namespace.as_deref().unwrap_or_default();
        let repositories: Api<GitRepository> = Api::namespaced(self.client.clone(), namespace);
        let mut artifacts = Vec::new();
        for include in repository.spec.include.as_deref().unwrap_or_default() {
            let name = &include.repository.name;
            let included = match repositories.get(name).await {
                Ok(included) => included,
                Err(error) => {
                    let error = StepError::waiting(
                        "NotFound",
                        format!(
                            "could not get resource for include '{name}': {}",
                            describe_kube_error(&error)
                        ),
                        self.requeue_dependency,
                    );
                    return Err(fail(run, repository, types::INCLUDE_UNAVAILABLE, error));
                }
            };
            let Some(artifact) = included.artifact().cloned() else {
                let error = StepError::waiting(
                    "NoArtifact",
                    format!("no artifact available for include '{name}'"),
                    self.requeue_dependency,
                );
                return Err(fail(run, repository, types::INCLUDE_UNAVAILABLE, error));
            };
            artifacts.push(artifact);
        }
        clear(run, types::INCLUDE_UNAVAILABLE);
        Ok(artifacts)
    }

    /// Runs the checkout on the blocking pool.
    async fn checkout(
        &self,
        repository: &GitRepository,
        pass: &Pass,
        auth: &AuthOptions,
        last_observed_revision: Option<String>,
    ) -> Result<CloneOutcome, GitError> {
        let url = repository.spec.url.clone();
        let target = pass.checkout();
        let options = CloneOptions {
            reference: reference_of(repository),
            auth: auth.clone(),
            timeout: timeout_of(repository),
            sparse_checkout: repository.spec.sparse_checkout.clone().unwrap_or_default(),
            recurse_submodules: repository.spec.recurse_submodules.unwrap_or(false),
            last_observed_revision,
        };
        let work = move || {
            // A checkout abandoned half-way must not be mistaken for a fresh directory.
            if target.exists() {
                std::fs::remove_dir_all(&target).map_err(|source| GitError::Io {
                    context: "clear checkout directory".into(),
                    source,
                })?;
            }
            eddy_git::clone(&url, &target, &options)
        };
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|error| GitError::Io {
                context: "run checkout".into(),
                source: std::io::Error::other(error.to_string()),
            })?
    }

    /// The source step. Returns the final success when nothing changed upstream (the rest of
    /// the steps are skipped), `None` when the checkout is ready for the next steps.
    pub(super) async fn reconcile_source(
        &self,
        repository: &GitRepository,
        run: &mut Run<GitRepository>,
        pass: &mut Pass,
    ) -> Result<Option<Success>, StepError> {
        // A failed verification is re-evaluated on every attempt.
        if super::is_false(&run.status, types::SOURCE_VERIFIED) {
            clear(run, types::SOURCE_VERIFIED);
        }

        let scheme = match Scheme::of(&repository.spec.url) {
            Ok(scheme) => scheme,
            Err(error) => {
                let error = StepError::stalling(
                    reasons::URL_INVALID,
                    format!("failed to parse url '{}': {error}", repository.spec.url),
                );
                return Err(fail(run, repository, types::FETCH_FAILED, error));
            }
        };
        let auth = self.auth_options(repository, run, scheme).await?;

        let includes = self.included_artifacts(repository, run).await?;
        let observed_includes = run.status.included_artifacts.as_deref();
        if includes_differ(&includes, observed_includes) {
            run.progress =
                "building artifact: included artifacts differ from last observed includes"
                    .to_string();
        }
        clear(run, types::ARTIFACT_OUTDATED);
        pass.includes = includes;

        if repository.spec.verification.is_some() {
            // Signature verification (PGP and SSH signatures) is not implemented; refusing is
            // safer than publishing an artifact the spec says must be verified.
            let error = StepError::stalling(
                reasons::VERIFICATION_ERROR,
                "signature verification is not supported by this source-controller yet; remove spec.verify to fetch without verifying",
            );
            super::mark_false(
                run,
                repository,
                types::SOURCE_VERIFIED,
                &error.reason,
                &error.message,
            );
            return Err(error);
        }

        let last_observed = match &run.status.artifact {
            Some(artifact) if is_true(&run.status, types::ARTIFACT_IN_STORAGE) => {
                Some(artifact.revision.clone())
            }
            _ => None,
        };
        let mut outcome = self
            .checkout(repository, pass, &auth, last_observed)
            .await
            .map_err(|error| {
                fail(
                    run,
                    repository,
                    types::FETCH_FAILED,
                    checkout_failure(&error),
                )
            })?;

        if let CloneOutcome::Unchanged { commit, revision } = &outcome {
            if !content_config_changed(repository, &pass.includes) {
                clear(run, types::FETCH_FAILED);
                let message = format!("stored artifact for revision '{revision}'");
                mark(
                    run,
                    repository,
                    types::ARTIFACT_IN_STORAGE,
                    reasons::SUCCEEDED,
                    &message,
                );
                tracing::debug!(
                    namespace = repository.metadata.namespace.as_deref().unwrap_or_default(),
                    name = repository.metadata.name.as_deref().unwrap_or_default(),
                    "no changes since last reconciliation: observed revision '{revision}'"
                );
                pass.commit = Some(commit.clone());
                pass.revision = revision.clone();
                pass.checked_out = false;
                return Ok(Some(Success::new(message)));
            }
            outcome = self
                .checkout(repository, pass, &auth, None)
                .await
                .map_err(|error| {
                    fail(
                        run,
                        repository,
                        types::FETCH_FAILED,
                        checkout_failure(&error),
                    )
                })?;
        }
        clear(run, types::FETCH_FAILED);
        let revision = outcome.revision().to_string();
        pass.commit = Some(outcome.commit().clone());
        pass.revision = revision.clone();
        pass.checked_out = matches!(outcome, CloneOutcome::Cloned { .. });

        let stored = run.status.artifact.as_ref();
        if !stored.is_some_and(|artifact| artifact.has_revision(&revision)) {
            let message = format!("new upstream revision '{revision}'");
            if stored.is_some() {
                mark(
                    run,
                    repository,
                    types::ARTIFACT_OUTDATED,
                    reasons::NEW_REVISION,
                    &message,
                );
            }
            run.progress = format!("building artifact: {message}");
        }
        Ok(None)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;
    use eddy_api::source::v1::{GitRepositoryRef, GitRepositorySpec};

    #[test]
    fn the_reference_keeps_every_field_for_flux_precedence() {
        let repository = GitRepository::new(
            "n",
            GitRepositorySpec {
                reference: Some(GitRepositoryRef {
                    branch: Some("main".into()),
                    tag: Some("v1".into()),
                    semver: None,
                    name: None,
                    commit: Some("abc".into()),
                }),
                ..Default::default()
            },
        );
        let reference = reference_of(&repository);
        assert_eq!(
            reference.strategy(),
            eddy_git::Strategy::Commit {
                id: "abc".into(),
                branch: Some("main".into())
            }
        );
        assert_eq!(
            reference_of(&GitRepository::new("n", GitRepositorySpec::default())).strategy(),
            eddy_git::Strategy::Branch("master".into())
        );
    }

    #[test]
    fn the_timeout_defaults_to_sixty_seconds() {
        let mut repository = GitRepository::new("n", GitRepositorySpec::default());
        assert_eq!(timeout_of(&repository), Duration::from_secs(60));
        repository.spec.timeout = Some("1m30s".into());
        assert_eq!(timeout_of(&repository), Duration::from_secs(90));
    }

    #[test]
    fn checkout_failures_read_as_fluxs() {
        let missing = checkout_failure(&GitError::ReferenceNotFound {
            reference: "branch 'nope'".into(),
            url: "https://host/repo".into(),
        });
        assert_eq!(missing.reason, "GitOperationFailed");
        assert_eq!(
            missing.message,
            "failed to checkout and determine revision: unable to resolve branch 'nope' on 'https://host/repo': not found"
        );
        let sparse = checkout_failure(&GitError::SparseCheckoutPathNotFound("deploy".into()));
        assert_eq!(
            sparse.message,
            "failed to sparse checkout directories : sparse checkout dir 'deploy' does not exist in repository"
        );
    }
}
