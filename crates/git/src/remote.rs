//! Listing a remote's references (`git ls-remote`) and resolving a [`Reference`] against them.
//!
//! Shallow clones carry no tags, so tags and semver ranges are resolved from the listing before
//! anything is fetched; the same listing answers "does the reference still point at the stored
//! revision?", which lets an unchanged repository cost one round trip and no clone.

use std::time::Duration;

use gix::remote::Direction;

use crate::auth::AuthOptions;
use crate::error::{GitError, redact_url};
use crate::revision::{Commit, Reference, Strategy};
use crate::semver::{Constraint, latest_matching};
use crate::transport::{Session, Watchdog};

const PEELED_SUFFIX: &str = "^{}";

/// One reference as the remote advertises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// Full name, e.g. `refs/heads/main`.
    pub name: String,
    /// The object the reference points at (an annotated tag's own id for annotated tags).
    pub target: String,
    /// The commit it ends at once tags are peeled.
    pub commit: String,
}

/// Lists every reference of the remote at `url`.
pub fn list_remote_refs(
    url: &str,
    auth: &AuthOptions,
    timeout: Duration,
) -> Result<Vec<RemoteRef>, GitError> {
    let session = Session::new(url, auth, timeout)?;
    list_with_session(&session)
}

pub(crate) fn list_with_session(session: &Session) -> Result<Vec<RemoteRef>, GitError> {
    let scratch = tempfile::Builder::new()
        .prefix("eddy-ls-remote-")
        .tempdir()
        .map_err(|error| GitError::io("create scratch repository", error))?;
    let watchdog = Watchdog::start(session.timeout);
    let map_error = |error: gix::Error| session.error(&error, watchdog.fired());
    let repository = gix::ThreadSafeRepository::init_opts(
        scratch.path(),
        gix::create::Kind::Bare,
        gix::create::Options::default(),
        session.open_options(),
    )
    .map_err(map_error)?
    .to_thread_local();
    let remote = repository
        .remote_at(session.url.as_str())
        .map_err(map_error)?
        .with_fetch_tags(gix::remote::fetch::Tags::None)
        .with_refspecs(["+refs/*:refs/*"], Direction::Fetch)
        .map_err(map_error)?;
    let mut connection = remote.connect(Direction::Fetch).map_err(map_error)?;
    let mut configure = session.connection_configurator();
    configure(&mut connection).map_err(map_error)?;
    let options = gix::remote::ref_map::Options {
        prefix_from_spec_as_filter_on_remote: false,
        ..Default::default()
    };
    let (ref_map, _handshake) = connection
        .ref_map(gix::progress::Discard, options)
        .map_err(map_error)?;
    let mut refs = Vec::with_capacity(ref_map.remote_refs.len());
    for advertised in &ref_map.remote_refs {
        use gix::protocol::handshake::Ref;
        let (name, target, commit) = match advertised {
            Ref::Peeled {
                full_ref_name,
                tag,
                object,
            } => (full_ref_name, *tag, *object),
            Ref::Direct {
                full_ref_name,
                object,
            } => (full_ref_name, *object, *object),
            Ref::Symbolic {
                full_ref_name,
                tag,
                object,
                ..
            } => (full_ref_name, tag.unwrap_or(*object), *object),
            Ref::Unborn { .. } => continue,
        };
        refs.push(RemoteRef {
            name: name.to_string(),
            target: target.to_hex().to_string(),
            commit: commit.to_hex().to_string(),
        });
    }
    Ok(refs)
}

/// Where a [`Reference`] points on the remote right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The commit to fetch.
    pub commit_id: String,
    /// The full reference name the revision is reported with, if any.
    pub reference: Option<String>,
    /// Whether the revision is reported with the full reference (`spec.ref.name`).
    pub absolute: bool,
}

impl Resolved {
    /// The revision string this resolution will be stored as.
    pub fn revision(&self) -> String {
        let commit = self.commit();
        if self.absolute {
            commit.absolute_revision()
        } else {
            commit.revision()
        }
    }

    /// The commit, without a summary (nothing was fetched yet).
    pub fn commit(&self) -> Commit {
        Commit {
            id: self.commit_id.clone(),
            reference: self.reference.clone(),
            summary: String::new(),
        }
    }
}

fn find<'a>(refs: &'a [RemoteRef], name: &str) -> Option<&'a RemoteRef> {
    refs.iter().find(|candidate| candidate.name == name)
}

/// Resolves `reference` against a listing, with Flux's precedence and error messages.
pub fn resolve(url: &str, refs: &[RemoteRef], reference: &Reference) -> Result<Resolved, GitError> {
    let not_found = |what: String| GitError::ReferenceNotFound {
        reference: what,
        url: redact_url(url),
    };
    match reference.strategy() {
        Strategy::Branch(branch) => {
            let name = format!("refs/heads/{branch}");
            let found = find(refs, &name).ok_or_else(|| not_found(format!("branch '{branch}'")))?;
            Ok(Resolved {
                commit_id: found.commit.clone(),
                reference: Some(name),
                absolute: false,
            })
        }
        Strategy::Tag(tag) => {
            let name = format!("refs/tags/{tag}");
            let found = find(refs, &name).ok_or_else(|| not_found(format!("tag '{tag}'")))?;
            Ok(Resolved {
                commit_id: found.commit.clone(),
                reference: Some(name),
                absolute: false,
            })
        }
        Strategy::Name(name) => {
            let lookup = name.strip_suffix(PEELED_SUFFIX).unwrap_or(&name);
            if lookup.starts_with('/') || lookup.ends_with('/') {
                return Err(GitError::InvalidUrl {
                    url: redact_url(url),
                    reason: format!(
                        "ref {name} is invalid; Git refs cannot begin or end with a slash '/'"
                    ),
                });
            }
            let found = find(refs, lookup).ok_or_else(|| not_found(format!("ref '{name}'")))?;
            Ok(Resolved {
                commit_id: found.commit.clone(),
                reference: Some(name),
                absolute: true,
            })
        }
        Strategy::Semver(text) => {
            let constraint = Constraint::parse(&text)
                .map_err(|error| GitError::InvalidSemver(error.to_string()))?;
            let tags = refs
                .iter()
                .filter_map(|candidate| candidate.name.strip_prefix("refs/tags/"));
            let version =
                latest_matching(&constraint, tags).ok_or(GitError::NoSemverMatch(text))?;
            let name = format!("refs/tags/{}", version.original);
            let found = find(refs, &name).ok_or_else(|| not_found(format!("tag '{version}'")))?;
            Ok(Resolved {
                commit_id: found.commit.clone(),
                reference: Some(name),
                absolute: false,
            })
        }
        Strategy::Commit { id, branch } => {
            let reference = match branch {
                Some(branch) => {
                    let name = format!("refs/heads/{branch}");
                    find(refs, &name).ok_or_else(|| not_found(format!("branch '{branch}'")))?;
                    Some(name)
                }
                None => None,
            };
            Ok(Resolved {
                commit_id: id,
                reference,
                absolute: false,
            })
        }
    }
}

/// Where `reference` points on the remote now, without fetching anything: the cheap check before
/// a clone. A commit reference without a branch needs no network at all.
pub fn resolve_remote(
    url: &str,
    reference: &Reference,
    auth: &AuthOptions,
    timeout: Duration,
) -> Result<Resolved, GitError> {
    let session = Session::new(url, auth, timeout)?;
    resolve_with_session(&session, reference)
}

pub(crate) fn resolve_with_session(
    session: &Session,
    reference: &Reference,
) -> Result<Resolved, GitError> {
    if let Strategy::Commit { branch: None, .. } = reference.strategy() {
        return resolve(&session.url, &[], reference);
    }
    let refs = list_with_session(session)?;
    resolve(&session.url, &refs, reference)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    fn listing() -> Vec<RemoteRef> {
        let entry = |name: &str, target: &str, commit: &str| RemoteRef {
            name: name.into(),
            target: target.repeat(40),
            commit: commit.repeat(40),
        };
        vec![
            entry("HEAD", "a", "a"),
            entry("refs/heads/main", "a", "a"),
            entry("refs/heads/feature/x", "b", "b"),
            entry("refs/tags/v1.0.0", "c", "d"),
            entry("refs/tags/v1.1.0", "e", "e"),
            entry("refs/tags/v2.0.0-rc.1", "f", "0"),
            entry("refs/pull/1/head", "b", "b"),
        ]
    }

    fn resolve_reference(reference: Reference) -> Result<Resolved, GitError> {
        resolve("https://host/repo", &listing(), &reference)
    }

    #[test]
    fn branch_resolves_to_its_tip() {
        let resolved = resolve_reference(Reference::branch("feature/x")).unwrap();
        assert_eq!(
            resolved.revision(),
            format!("feature/x@sha1:{}", "b".repeat(40))
        );
    }

    #[test]
    fn annotated_tag_resolves_to_the_peeled_commit() {
        let reference = Reference {
            tag: Some("v1.0.0".into()),
            ..Reference::default()
        };
        let resolved = resolve_reference(reference).unwrap();
        assert_eq!(
            resolved.revision(),
            format!("v1.0.0@sha1:{}", "d".repeat(40))
        );
    }

    #[test]
    fn semver_picks_the_highest_release_tag() {
        let reference = Reference {
            semver: Some(">=1.0.0".into()),
            ..Reference::default()
        };
        assert_eq!(
            resolve_reference(reference).unwrap().reference.as_deref(),
            Some("refs/tags/v1.1.0")
        );
        let pre = Reference {
            semver: Some(">=2.0.0-0".into()),
            ..Reference::default()
        };
        assert_eq!(
            resolve_reference(pre).unwrap().reference.as_deref(),
            Some("refs/tags/v2.0.0-rc.1")
        );
    }

    #[test]
    fn name_is_reported_with_the_absolute_reference() {
        let reference = Reference {
            name: Some("refs/pull/1/head".into()),
            ..Reference::default()
        };
        let resolved = resolve_reference(reference).unwrap();
        assert_eq!(
            resolved.revision(),
            format!("refs/pull/1/head@sha1:{}", "b".repeat(40))
        );
    }

    #[test]
    fn missing_branch_is_a_clear_error() {
        let error = resolve_reference(Reference::branch("nope")).unwrap_err();
        assert!(matches!(error, GitError::ReferenceNotFound { .. }));
        assert_eq!(
            error.to_string(),
            "unable to resolve branch 'nope' on 'https://host/repo': not found"
        );
    }

    #[test]
    fn default_reference_is_master_which_this_listing_lacks() {
        let error = resolve_reference(Reference::default()).unwrap_err();
        assert!(error.to_string().contains("branch 'master'"), "{error}");
    }

    #[test]
    fn unmatched_semver_names_the_constraint() {
        let reference = Reference {
            semver: Some(">=9.0.0".into()),
            ..Reference::default()
        };
        assert_eq!(
            resolve_reference(reference).unwrap_err().to_string(),
            "no match found for semver: >=9.0.0"
        );
    }

    #[test]
    fn commit_with_branch_is_reported_with_the_branch() {
        let id = "9".repeat(40);
        let reference = Reference {
            commit: Some(id.clone()),
            branch: Some("main".into()),
            ..Reference::default()
        };
        assert_eq!(
            resolve_reference(reference).unwrap().revision(),
            format!("main@sha1:{id}")
        );
        let bare = Reference {
            commit: Some(id.clone()),
            ..Reference::default()
        };
        assert_eq!(
            resolve("u", &[], &bare).unwrap().revision(),
            format!("sha1:{id}")
        );
    }
}
