//! Whether the inputs that shape an artifact's content changed since it was built (Flux's
//! `gitContentConfigChanged` and `artifactSet.Diff`). An unchanged remote revision skips the
//! clone only when none of these changed either.

use eddy_api::meta::Artifact;
use eddy_api::source::v1::GitRepository;

/// Flux's `artifactSet.Diff`: the sets differ in length, or one of `current` has a revision
/// that none of `observed` has.
pub(super) fn includes_differ(current: &[Artifact], observed: Option<&[Artifact]>) -> bool {
    let observed = observed.unwrap_or_default();
    if current.len() != observed.len() {
        return true;
    }
    current.iter().any(|artifact| {
        !observed
            .iter()
            .any(|candidate| candidate.has_revision(&artifact.revision))
    })
}

/// Whether the spec asks for different content than the stored artifact was built from:
/// ignore rules, submodules, includes (and the included artifacts), sparse checkout, or a
/// verification that has not been done yet.
pub(super) fn content_config_changed(repository: &GitRepository, includes: &[Artifact]) -> bool {
    let spec = &repository.spec;
    let default_status = Default::default();
    let status = repository.status.as_ref().unwrap_or(&default_status);
    if spec.ignore != status.observed_ignore {
        return true;
    }
    if spec.recurse_submodules.unwrap_or(false)
        != status.observed_recurse_submodules.unwrap_or(false)
    {
        return true;
    }
    let spec_include = spec.include.as_deref().unwrap_or_default();
    let observed_include = status.observed_include.as_deref().unwrap_or_default();
    if spec_include.len() != observed_include.len() {
        return true;
    }
    if requires_verification(repository) {
        return true;
    }
    let spec_sparse = spec.sparse_checkout.as_deref().unwrap_or_default();
    let observed_sparse = status
        .observed_sparse_checkout
        .as_deref()
        .unwrap_or_default();
    if spec_sparse != observed_sparse {
        return true;
    }
    let observed_artifacts = status.included_artifacts.as_deref().unwrap_or_default();
    if spec_include.len() != includes.len() || spec_include.len() != observed_artifacts.len() {
        return true;
    }
    spec_include
        .iter()
        .zip(observed_include)
        .zip(observed_artifacts.iter().zip(includes))
        .any(|((wanted, observed), (observed_artifact, current))| {
            wanted != observed
                || !observed_artifact.has_revision(&current.revision)
                || observed_artifact.digest != current.digest
        })
}

/// Flux's `requiresVerification`: verification is asked for and the observed mode does not
/// cover it.
fn requires_verification(repository: &GitRepository) -> bool {
    use eddy_api::source::v1::GitVerificationMode as Mode;
    let Some(verification) = &repository.spec.verification else {
        return false;
    };
    let observed = repository
        .status
        .as_ref()
        .and_then(|status| status.source_verification_mode);
    let wanted = verification.effective_mode();
    match observed {
        None => true,
        Some(Mode::Tag) => matches!(wanted, Mode::Head | Mode::TagAndHead),
        Some(Mode::Head | Mode::LegacyHead) => matches!(wanted, Mode::Tag | Mode::TagAndHead),
        Some(Mode::TagAndHead) => false,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;
    use eddy_api::meta::LocalObjectReference;
    use eddy_api::source::v1::{GitRepositoryInclude, GitRepositorySpec, GitRepositoryStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn artifact(revision: &str, digest: &str) -> Artifact {
        Artifact {
            digest: Some(digest.to_string()),
            path: "gitrepository/ns/n/a.tar.gz".into(),
            url: "http://localhost/a.tar.gz".into(),
            revision: revision.to_string(),
            last_update_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
            size: Some(1),
            metadata: None,
        }
    }

    fn include(name: &str) -> GitRepositoryInclude {
        GitRepositoryInclude {
            repository: LocalObjectReference { name: name.into() },
            from_path: None,
            to_path: None,
        }
    }

    fn repository(spec: GitRepositorySpec, status: GitRepositoryStatus) -> GitRepository {
        let mut repository = GitRepository::new("n", spec);
        repository.status = Some(status);
        repository
    }

    #[test]
    fn no_inputs_and_no_observations_is_unchanged() {
        let repository = repository(GitRepositorySpec::default(), GitRepositoryStatus::default());
        assert!(!content_config_changed(&repository, &[]));
    }

    #[test]
    fn a_new_ignore_rule_is_a_change() {
        let repository = repository(
            GitRepositorySpec {
                ignore: Some("*.txt".into()),
                ..Default::default()
            },
            GitRepositoryStatus::default(),
        );
        assert!(content_config_changed(&repository, &[]));
    }

    #[test]
    fn unset_and_false_recurse_submodules_are_the_same() {
        let repository = repository(
            GitRepositorySpec {
                recurse_submodules: Some(false),
                ..Default::default()
            },
            GitRepositoryStatus::default(),
        );
        assert!(!content_config_changed(&repository, &[]));
    }

    #[test]
    fn a_changed_sparse_checkout_is_a_change() {
        let repository = repository(
            GitRepositorySpec {
                sparse_checkout: Some(vec!["deploy".into()]),
                ..Default::default()
            },
            GitRepositoryStatus {
                observed_sparse_checkout: Some(vec!["docs".into()]),
                ..Default::default()
            },
        );
        assert!(content_config_changed(&repository, &[]));
    }

    #[test]
    fn an_included_artifact_with_a_new_digest_is_a_change() {
        let spec = GitRepositorySpec {
            include: Some(vec![include("shared")]),
            ..Default::default()
        };
        let status = GitRepositoryStatus {
            observed_include: Some(vec![include("shared")]),
            included_artifacts: Some(vec![artifact("main@sha1:a", "sha256:1")]),
            ..Default::default()
        };
        let repository = repository(spec, status);
        assert!(!content_config_changed(
            &repository,
            &[artifact("main@sha1:a", "sha256:1")]
        ));
        assert!(content_config_changed(
            &repository,
            &[artifact("main@sha1:a", "sha256:2")]
        ));
        assert!(content_config_changed(
            &repository,
            &[artifact("main@sha1:b", "sha256:1")]
        ));
    }

    #[test]
    fn include_sets_differ_by_length_or_revision() {
        let one = [artifact("main@sha1:a", "sha256:1")];
        assert!(!includes_differ(&[], None));
        assert!(includes_differ(&one, None));
        assert!(!includes_differ(&one, Some(&one)));
        assert!(includes_differ(
            &[artifact("main@sha1:b", "sha256:1")],
            Some(&one)
        ));
    }

    #[test]
    fn verification_not_yet_observed_is_a_change() {
        use eddy_api::source::v1::{GitRepositoryVerification, GitVerificationMode};
        let mut spec = GitRepositorySpec {
            verification: Some(GitRepositoryVerification {
                mode: Some(GitVerificationMode::TagAndHead),
                secret_ref: LocalObjectReference {
                    name: "keys".into(),
                },
            }),
            ..Default::default()
        };
        assert!(content_config_changed(
            &repository(spec.clone(), GitRepositoryStatus::default()),
            &[]
        ));
        let observed = GitRepositoryStatus {
            source_verification_mode: Some(GitVerificationMode::TagAndHead),
            ..Default::default()
        };
        assert!(!content_config_changed(
            &repository(spec.clone(), observed.clone()),
            &[]
        ));
        spec.verification = None;
        assert!(!content_config_changed(&repository(spec, observed), &[]));
    }
}
