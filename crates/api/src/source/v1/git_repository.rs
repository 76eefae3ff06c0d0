//! `GitRepository`: produces an artifact from a Git repository at a branch, tag, semver range,
//! named reference or commit.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{Artifact, LocalObjectReference};

/// Desired state of a [`GitRepository`].
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "GitRepository",
    plural = "gitrepositories",
    namespaced,
    status = "GitRepositoryStatus",
    shortname = "gitrepo",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-sources",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "message": "serviceAccountName can only be set when provider is 'azure' or 'aws'",
    "rule": "!has(self.serviceAccountName) || (has(self.provider) && (self.provider == 'azure' || self.provider == 'aws'))"
}]))]
pub struct GitRepositorySpec {
    /// HTTP/S or SSH address of the repository.
    #[schemars(regex(pattern = r"^(http|https|ssh)://.*$"))]
    pub url: String,
    /// Secret with credentials: `username`/`password` or `bearerToken` for HTTPS,
    /// `identity` and `known_hosts` for SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Authentication provider; `generic` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<GitProvider>,
    /// ServiceAccount whose workload identity authenticates to the repository (`azure` and
    /// `aws` providers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// How often the repository is checked for new revisions (approximate, jittered).
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,
    /// Timeout of Git operations such as clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"), extend("default" = "60s"))]
    pub timeout: Option<String>,
    /// Git reference to check out and watch; the `master` branch when unset.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<GitRepositoryRef>,
    /// Verification of commit or tag signatures.
    #[serde(rename = "verify", default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<GitRepositoryVerification>,
    /// Secret with the proxy configuration for talking to the Git server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Exclusion patterns in `.sourceignore` (gitignore) format, replacing the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Stops reconciliation of this object while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Initializes all submodules with their default settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurse_submodules: Option<bool>,
    /// Other GitRepositories whose artifact contents are included in this artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<GitRepositoryInclude>>,
    /// Directories to check out; only these end up in the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse_checkout: Option<Vec<String>>,
}

/// Authentication provider of a [`GitRepository`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GitProvider {
    /// Credentials from `secretRef`.
    #[default]
    Generic,
    /// AWS CodeCommit with IAM credentials.
    Aws,
    /// Azure DevOps with workload identity.
    Azure,
    /// GitHub App authentication.
    Github,
}

/// A GitRepository whose artifact is copied into this one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryInclude {
    /// The GitRepository to include.
    pub repository: LocalObjectReference,
    /// Path in the included artifact to copy from; the root when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_path: Option<String>,
    /// Path in this artifact to copy to; the included repository's name when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_path: Option<String>,
}

impl GitRepositoryInclude {
    /// The path to copy from (empty means the artifact root).
    pub fn from_path(&self) -> &str {
        self.from_path.as_deref().unwrap_or_default()
    }

    /// The path to copy to, falling back to the included repository's name as Flux does.
    pub fn to_path(&self) -> &str {
        match self.to_path.as_deref() {
            Some(path) if !path.is_empty() => path,
            _ => &self.repository.name,
        }
    }
}

/// The Git reference to resolve and check out.
///
/// Precedence, highest first: `commit`, `name`, `semver`, `tag`, `branch`; see
/// [`GitRepositoryRef::effective`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GitRepositoryRef {
    /// Branch to check out; `master` when no other field is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag to check out; wins over `branch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Semver range of tags, the highest match is checked out; wins over `tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Full Git reference name such as `refs/pull/420/head`; wins over `branch`, `tag` and
    /// `semver`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Commit SHA to check out; wins over every other field, but may be combined with
    /// `branch` to shallow-clone that branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The one reference a [`GitRepositoryRef`] resolves to once precedence is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EffectiveGitRef<'a> {
    /// A commit, optionally on a branch that is cloned to find it.
    Commit {
        /// The commit SHA.
        commit: &'a str,
        /// The branch to clone, when given alongside the commit.
        branch: Option<&'a str>,
    },
    /// A full reference name (`refs/...`).
    Name(&'a str),
    /// The highest tag matching a semver range.
    Semver(&'a str),
    /// A tag.
    Tag(&'a str),
    /// A branch.
    Branch(&'a str),
}

/// A field's value when it is present and not empty.
fn non_empty(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|value| !value.is_empty())
}

/// The branch Flux checks out when a GitRepository names no reference.
pub const DEFAULT_GIT_BRANCH: &str = "master";

impl GitRepositoryRef {
    /// Applies Flux's precedence (commit > name > semver > tag > branch); empty strings count
    /// as unset, as they do in Flux's Go types.
    pub fn effective(&self) -> EffectiveGitRef<'_> {
        if let Some(commit) = non_empty(&self.commit) {
            EffectiveGitRef::Commit {
                commit,
                branch: non_empty(&self.branch),
            }
        } else if let Some(name) = non_empty(&self.name) {
            EffectiveGitRef::Name(name)
        } else if let Some(semver) = non_empty(&self.semver) {
            EffectiveGitRef::Semver(semver)
        } else if let Some(tag) = non_empty(&self.tag) {
            EffectiveGitRef::Tag(tag)
        } else {
            EffectiveGitRef::Branch(non_empty(&self.branch).unwrap_or(DEFAULT_GIT_BRANCH))
        }
    }
}

/// Which Git objects to verify the signature of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum GitVerificationMode {
    /// Legacy spelling of `HEAD`, kept for backwards compatibility.
    #[serde(rename = "head")]
    LegacyHead,
    /// The commit HEAD points to after checkout.
    #[default]
    #[serde(rename = "HEAD")]
    Head,
    /// The tag object named in the reference.
    Tag,
    /// Both the tag object and the commit it points to.
    #[serde(rename = "TagAndHEAD")]
    TagAndHead,
}

/// Signature verification of a [`GitRepository`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryVerification {
    /// Which objects to verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "HEAD"))]
    pub mode: Option<GitVerificationMode>,
    /// Secret with trusted public keys: PGP keys under `*.asc`, SSH keys under `*.sshpub`.
    pub secret_ref: LocalObjectReference,
}

impl GitRepositoryVerification {
    /// The mode in effect; `head` and unset both mean `HEAD`.
    pub fn effective_mode(&self) -> GitVerificationMode {
        match self.mode {
            None | Some(GitVerificationMode::LegacyHead) => GitVerificationMode::Head,
            Some(mode) => mode,
        }
    }

    /// Whether the commit at HEAD must be verified.
    pub fn verifies_head(&self) -> bool {
        matches!(
            self.effective_mode(),
            GitVerificationMode::Head | GitVerificationMode::TagAndHead
        )
    }

    /// Whether the tag object must be verified.
    pub fn verifies_tag(&self) -> bool {
        matches!(
            self.effective_mode(),
            GitVerificationMode::Tag | GitVerificationMode::TagAndHead
        )
    }
}

/// Observed state of a [`GitRepository`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryStatus {
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions of the object (`Ready`, `Reconciling`, `Stalled`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// The artifact of the last successful reconciliation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Artifacts of the included repositories used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_artifacts: Option<Vec<Artifact>>,
    /// Exclusion patterns used to build the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// `recurseSubmodules` used to build the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_recurse_submodules: Option<bool>,
    /// Includes used to build the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_include: Option<Vec<GitRepositoryInclude>>,
    /// Sparse checkout directories used to build the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_sparse_checkout: Option<Vec<String>>,
    /// The verification mode last used, i.e. which objects were verified.
    // Flux's status schema declares this as a plain string (the enum is on the spec field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub source_verification_mode: Option<GitVerificationMode>,
    /// The `reconcile.fluxcd.io/requestedAt` value last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

crate::impl_status_fields!(GitRepositoryStatus);

impl GitRepository {
    /// The authentication provider in effect (`generic` when unset).
    pub fn provider(&self) -> GitProvider {
        self.spec.provider.unwrap_or_default()
    }

    /// The reference in effect, applying Flux's precedence and the `master` default.
    pub fn effective_ref(&self) -> EffectiveGitRef<'_> {
        match &self.spec.reference {
            Some(reference) => reference.effective(),
            None => EffectiveGitRef::Branch(DEFAULT_GIT_BRANCH),
        }
    }

    /// The timeout of Git operations as written (`60s` when unset).
    pub fn timeout(&self) -> &str {
        self.spec
            .timeout
            .as_deref()
            .unwrap_or(super::DEFAULT_TIMEOUT)
    }

    /// The stored artifact, if any.
    pub fn artifact(&self) -> Option<&Artifact> {
        self.status
            .as_ref()
            .and_then(|status| status.artifact.as_ref())
    }
}

crate::impl_reconciled!(GitRepository, GitRepositoryStatus);

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(fields: &[(&str, &str)]) -> GitRepositoryRef {
        let mut reference = GitRepositoryRef::default();
        for (field, value) in fields {
            let value = Some((*value).to_string());
            match *field {
                "branch" => reference.branch = value,
                "tag" => reference.tag = value,
                "semver" => reference.semver = value,
                "name" => reference.name = value,
                "commit" => reference.commit = value,
                other => panic!("unknown field {other}"),
            }
        }
        reference
    }

    #[test]
    fn commit_wins_over_every_other_reference_and_keeps_its_branch() {
        let all = reference(&[
            ("branch", "main"),
            ("tag", "v1"),
            ("semver", ">=1"),
            ("name", "refs/heads/x"),
            ("commit", "abc"),
        ]);
        assert_eq!(
            all.effective(),
            EffectiveGitRef::Commit {
                commit: "abc",
                branch: Some("main")
            }
        );
    }

    #[test]
    fn name_then_semver_then_tag_then_branch() {
        let named = reference(&[
            ("branch", "main"),
            ("tag", "v1"),
            ("semver", "1.x"),
            ("name", "refs/pull/1/head"),
        ]);
        assert_eq!(named.effective(), EffectiveGitRef::Name("refs/pull/1/head"));
        let semver = reference(&[("branch", "main"), ("tag", "v1"), ("semver", "1.x")]);
        assert_eq!(semver.effective(), EffectiveGitRef::Semver("1.x"));
        let tag = reference(&[("branch", "main"), ("tag", "v1")]);
        assert_eq!(tag.effective(), EffectiveGitRef::Tag("v1"));
        let branch = reference(&[("branch", "main")]);
        assert_eq!(branch.effective(), EffectiveGitRef::Branch("main"));
    }

    #[test]
    fn an_empty_reference_means_the_master_branch() {
        assert_eq!(
            GitRepositoryRef::default().effective(),
            EffectiveGitRef::Branch("master")
        );
        assert_eq!(
            reference(&[("tag", "")]).effective(),
            EffectiveGitRef::Branch("master")
        );
    }

    #[test]
    fn legacy_head_mode_verifies_head_only() {
        let verification = GitRepositoryVerification {
            mode: Some(GitVerificationMode::LegacyHead),
            secret_ref: LocalObjectReference {
                name: "keys".into(),
            },
        };
        assert_eq!(verification.effective_mode(), GitVerificationMode::Head);
        assert!(verification.verifies_head());
        assert!(!verification.verifies_tag());
    }

    #[test]
    fn tag_and_head_mode_verifies_both() {
        let verification = GitRepositoryVerification {
            mode: Some(GitVerificationMode::TagAndHead),
            secret_ref: LocalObjectReference {
                name: "keys".into(),
            },
        };
        assert!(verification.verifies_head());
        assert!(verification.verifies_tag());
    }

    #[test]
    fn include_copies_to_the_repository_name_by_default() {
        let include = GitRepositoryInclude {
            repository: LocalObjectReference {
                name: "shared".into(),
            },
            ..Default::default()
        };
        assert_eq!(include.to_path(), "shared");
        assert_eq!(include.from_path(), "");
    }
}
