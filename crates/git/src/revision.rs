//! Commits, revision strings and the reference a GitRepository asks for.
//!
//! Revision strings are the contract between source-controller and its consumers (they land in
//! `status.artifact.revision` and are compared byte for byte), so they follow fluxcd/pkg/git's
//! `Commit.String`: the reference minus its first two path segments, `@`, then `<algorithm>:<hex>`.

use std::fmt;

/// The branch Flux checks out when a GitRepository names no reference.
pub const DEFAULT_BRANCH: &str = "master";

/// A commit that was fetched, with the reference that led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The commit id in lowercase hex (40 characters for SHA-1, 64 for SHA-256).
    pub id: String,
    /// The full reference name (`refs/heads/main`, `refs/tags/v1.0.0`, `refs/pull/1/head`), if any.
    pub reference: Option<String>,
    /// The first line of the commit message, for events (empty when the commit was not fetched).
    pub summary: String,
}

/// The hash algorithm name Flux prints for a commit id of this length.
fn algorithm(id: &str) -> &'static str {
    match id.len() {
        40 => "sha1",
        64 => "sha256",
        _ => "unknown",
    }
}

/// `<algorithm>:<hex>`, e.g. `sha1:0123…`.
pub fn digest_of(id: &str) -> String {
    format!("{}:{id}", algorithm(id))
}

impl Commit {
    /// The revision as Flux stores it: `main@sha1:<hex>`, `v1.0.0@sha1:<hex>`, `feature/x@sha1:<hex>`,
    /// or `sha1:<hex>` without a reference.
    pub fn revision(&self) -> String {
        match self
            .reference
            .as_deref()
            .map(|reference| reference.splitn(3, '/').collect::<Vec<_>>())
        {
            Some(parts) if parts.len() == 3 => format!("{}@{}", parts[2], digest_of(&self.id)),
            _ => digest_of(&self.id),
        }
    }

    /// The revision with the full reference (`refs/pull/1/head@sha1:<hex>`), which Flux uses when the
    /// GitRepository selected its reference with `spec.ref.name`.
    pub fn absolute_revision(&self) -> String {
        match &self.reference {
            Some(reference) if !reference.is_empty() => {
                format!("{reference}@{}", digest_of(&self.id))
            }
            _ => digest_of(&self.id),
        }
    }
}

impl fmt::Display for Commit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.revision())
    }
}

/// Rewrites a legacy revision (`main/<hex>`, `<hex>`) to the current format (`main@sha1:<hex>`),
/// leaving current-format revisions untouched, as fluxcd/pkg/git's `TransformRevision` does.
pub fn transform_revision(revision: &str) -> String {
    if revision.is_empty() || revision.contains(':') {
        return revision.to_owned();
    }
    match revision.rsplit_once('/') {
        Some((reference, id)) => format!("{reference}@{}", digest_of(id)),
        None => digest_of(revision),
    }
}

/// The commit id inside a revision string of either format.
pub fn commit_id_of_revision(revision: &str) -> &str {
    let tail = revision.rsplit_once('@').map_or(revision, |(_, tail)| tail);
    let tail = tail.rsplit_once('/').map_or(tail, |(_, tail)| tail);
    tail.rsplit_once(':').map_or(tail, |(_, hex)| hex)
}

/// What a GitRepository's `spec.ref` asks for, in Flux's precedence order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reference {
    /// `spec.ref.branch`.
    pub branch: Option<String>,
    /// `spec.ref.tag`.
    pub tag: Option<String>,
    /// `spec.ref.semver`, a Masterminds constraint over the remote's tags.
    pub semver: Option<String>,
    /// `spec.ref.name`, a full reference such as `refs/pull/420/head`.
    pub name: Option<String>,
    /// `spec.ref.commit`, a full commit id.
    pub commit: Option<String>,
}

/// The one way of choosing a commit that a [`Reference`] comes down to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// An exact commit; the branch, when given, only names the revision.
    Commit {
        /// The commit id.
        id: String,
        /// The branch the commit is on, if the GitRepository named one.
        branch: Option<String>,
    },
    /// A full reference name.
    Name(String),
    /// The highest tag matching a constraint.
    Semver(String),
    /// A tag.
    Tag(String),
    /// A branch (the default strategy, with [`DEFAULT_BRANCH`]).
    Branch(String),
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.is_empty())
}

impl Reference {
    /// A reference to one branch.
    pub fn branch(name: impl Into<String>) -> Self {
        Self {
            branch: Some(name.into()),
            ..Self::default()
        }
    }

    /// The strategy Flux applies: commit > name > semver > tag > branch, default branch `master`.
    pub fn strategy(&self) -> Strategy {
        if let Some(id) = present(&self.commit) {
            return Strategy::Commit {
                id: id.to_ascii_lowercase(),
                branch: present(&self.branch).map(str::to_owned),
            };
        }
        if let Some(name) = present(&self.name) {
            return Strategy::Name(name.to_owned());
        }
        if let Some(semver) = present(&self.semver) {
            return Strategy::Semver(semver.to_owned());
        }
        if let Some(tag) = present(&self.tag) {
            return Strategy::Tag(tag.to_owned());
        }
        Strategy::Branch(present(&self.branch).unwrap_or(DEFAULT_BRANCH).to_owned())
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef01234567";

    fn commit(reference: Option<&str>) -> Commit {
        Commit {
            id: ID.to_owned(),
            reference: reference.map(str::to_owned),
            summary: String::new(),
        }
    }

    #[test]
    fn revision_drops_the_first_two_reference_segments() {
        assert_eq!(
            commit(Some("refs/heads/main")).revision(),
            format!("main@sha1:{ID}")
        );
        assert_eq!(
            commit(Some("refs/tags/v1.0.0")).revision(),
            format!("v1.0.0@sha1:{ID}")
        );
        assert_eq!(
            commit(Some("refs/heads/feature/x")).revision(),
            format!("feature/x@sha1:{ID}")
        );
        assert_eq!(
            commit(Some("refs/pull/1/head")).revision(),
            format!("1/head@sha1:{ID}")
        );
    }

    #[test]
    fn revision_without_reference_is_the_digest_alone() {
        assert_eq!(commit(None).revision(), format!("sha1:{ID}"));
        assert_eq!(commit(None).absolute_revision(), format!("sha1:{ID}"));
    }

    #[test]
    fn absolute_revision_keeps_the_whole_reference() {
        assert_eq!(
            commit(Some("refs/pull/1/head")).absolute_revision(),
            format!("refs/pull/1/head@sha1:{ID}")
        );
    }

    #[test]
    fn sha256_commits_are_labelled_sha256() {
        let id = "a".repeat(64);
        assert_eq!(digest_of(&id), format!("sha256:{id}"));
    }

    #[test]
    fn legacy_revisions_are_transformed() {
        assert_eq!(
            transform_revision(&format!("main/{ID}")),
            format!("main@sha1:{ID}")
        );
        assert_eq!(transform_revision(ID), format!("sha1:{ID}"));
        let current = format!("main@sha1:{ID}");
        assert_eq!(transform_revision(&current), current);
        assert_eq!(commit_id_of_revision(&current), ID);
        assert_eq!(commit_id_of_revision(&format!("main/{ID}")), ID);
    }

    #[test]
    fn strategy_follows_flux_precedence() {
        let all = Reference {
            branch: Some("main".into()),
            tag: Some("v1".into()),
            semver: Some(">=1".into()),
            name: Some("refs/pull/1/head".into()),
            commit: Some(ID.to_uppercase()),
        };
        assert_eq!(
            all.strategy(),
            Strategy::Commit {
                id: ID.into(),
                branch: Some("main".into())
            }
        );
        let no_commit = Reference {
            commit: None,
            ..all.clone()
        };
        assert_eq!(
            no_commit.strategy(),
            Strategy::Name("refs/pull/1/head".into())
        );
        let no_name = Reference {
            name: None,
            ..no_commit
        };
        assert_eq!(no_name.strategy(), Strategy::Semver(">=1".into()));
        let no_semver = Reference {
            semver: None,
            ..no_name
        };
        assert_eq!(no_semver.strategy(), Strategy::Tag("v1".into()));
        let no_tag = Reference {
            tag: None,
            ..no_semver
        };
        assert_eq!(no_tag.strategy(), Strategy::Branch("main".into()));
        assert_eq!(
            Reference::default().strategy(),
            Strategy::Branch("master".into())
        );
    }
}
