//! Shallow, single-commit clones into a work tree, as source-controller needs them.
//!
//! The reference is resolved from a ref listing first ([`crate::remote`]); if it still points at
//! the revision already stored, nothing is fetched. Otherwise exactly that commit is fetched at
//! depth 1 (`with_revision`, a detached HEAD, no tags, no remote-tracking refs) and checked out.
//! Sparse checkout keeps only the listed directories in the work tree; submodules are cloned the
//! same way, at the commit the superproject records, with the same credentials (as go-git does).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::auth::AuthOptions;
use crate::error::{GitError, redact_url};
use crate::remote::resolve_with_session;
use crate::revision::{Commit, Reference, transform_revision};
use crate::transport::{Session, Watchdog};

/// What to clone and how.
#[derive(Debug, Clone)]
pub struct CloneOptions {
    /// The reference to check out (`spec.ref`).
    pub reference: Reference,
    /// Credentials and TLS/SSH settings.
    pub auth: AuthOptions,
    /// Bound on the whole operation (`spec.timeout`, Flux default 60 s).
    pub timeout: Duration,
    /// Directories to keep (`spec.sparseCheckout`); empty keeps everything.
    pub sparse_checkout: Vec<String>,
    /// Clone submodules too (`spec.recurseSubmodules`).
    pub recurse_submodules: bool,
    /// The revision of the stored artifact; when the reference still points at it, nothing is
    /// cloned.
    pub last_observed_revision: Option<String>,
}

impl Default for CloneOptions {
    fn default() -> Self {
        Self {
            reference: Reference::default(),
            auth: AuthOptions::default(),
            timeout: Duration::from_secs(60),
            sparse_checkout: Vec::new(),
            recurse_submodules: false,
            last_observed_revision: None,
        }
    }
}

/// The result of [`clone`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloneOutcome {
    /// The reference still points at the last observed revision; the directory was not touched.
    Unchanged {
        /// The commit (without summary) and its revision string.
        commit: Commit,
        /// The revision string, equal to the last observed one.
        revision: String,
    },
    /// The commit was checked out into the directory.
    Cloned {
        /// The commit checked out.
        commit: Commit,
        /// Its revision string (absolute for `spec.ref.name`).
        revision: String,
    },
}

impl CloneOutcome {
    /// The revision string in either case.
    pub fn revision(&self) -> &str {
        match self {
            Self::Unchanged { revision, .. } | Self::Cloned { revision, .. } => revision,
        }
    }

    /// The commit in either case.
    pub fn commit(&self) -> &Commit {
        match self {
            Self::Unchanged { commit, .. } | Self::Cloned { commit, .. } => commit,
        }
    }
}

/// Clones `url` at `options.reference` into `dir` (which must be empty or absent). Blocking: call
/// it from `tokio::task::spawn_blocking`.
pub fn clone(url: &str, dir: &Path, options: &CloneOptions) -> Result<CloneOutcome, GitError> {
    let session = Session::new(url, &options.auth, options.timeout)?;
    let resolved = resolve_with_session(&session, &options.reference)?;
    let revision = resolved.revision();
    if let Some(last) = options.last_observed_revision.as_deref()
        && transform_revision(last) == revision
    {
        return Ok(CloneOutcome::Unchanged {
            commit: resolved.commit(),
            revision,
        });
    }
    let summary = fetch_commit(&session, dir, &resolved.commit_id)?;
    if options.recurse_submodules {
        clone_submodules(&session, dir, options, 0)?;
    }
    if !options.sparse_checkout.is_empty() {
        apply_sparse_checkout(dir, &options.sparse_checkout)?;
    }
    let commit = Commit {
        summary,
        ..resolved.commit()
    };
    Ok(CloneOutcome::Cloned { commit, revision })
}

/// Fetches `commit_id` at depth 1 into `dir` and checks it out; returns the commit's summary line.
fn fetch_commit(session: &Session, dir: &Path, commit_id: &str) -> Result<String, GitError> {
    let watchdog = Watchdog::start(session.timeout);
    let map_error = |error: gix::Error| session.error(&error, watchdog.fired());
    let depth = NonZeroU32::MIN;
    let mut prepare = gix::clone::PrepareFetch::new(
        session.url.as_str(),
        dir,
        gix::create::Kind::WithWorktree,
        gix::create::Options::default(),
        session.open_options(),
    )
    .map_err(map_error)?
    .with_in_memory_config_overrides(session.config_overrides())
    .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(depth))
    .with_revision(Some(commit_id))
    .map_err(map_error)?
    .configure_remote(|remote| Ok(remote.with_fetch_tags(gix::remote::fetch::Tags::None)))
    .configure_connection(session.connection_configurator());
    let (mut checkout, _) = prepare
        .fetch_then_checkout(gix::progress::Discard, watchdog.flag())
        .map_err(map_error)?;
    let (repository, _) = checkout
        .main_worktree(gix::progress::Discard, watchdog.flag())
        .map_err(map_error)?;
    if watchdog.fired() {
        return Err(GitError::Timeout {
            url: redact_url(&session.url),
            after: session.timeout,
        });
    }
    let head = repository
        .head_commit()
        .map_err(|error| GitError::Operation {
            url: redact_url(&session.url),
            detail: format!("unable to resolve HEAD after checkout: {error}"),
        })?;
    let head_id = head.id.to_hex().to_string();
    if head_id != commit_id {
        return Err(GitError::Operation {
            url: redact_url(&session.url),
            detail: format!("checked out commit {head_id} instead of {commit_id}"),
        });
    }
    let summary = head
        .message()
        .map(|message| message.summary().to_string())
        .unwrap_or_default();
    Ok(summary)
}

/// go-git's default recursion depth for submodules.
const MAX_SUBMODULE_DEPTH: usize = 10;

fn submodule_url(parent_url: &str, url: &str) -> String {
    // Relative submodule URLs are relative to the superproject's URL, as `git submodule` does it.
    if !(url.starts_with("./") || url.starts_with("../")) {
        return url.to_owned();
    }
    let mut base = parent_url.trim_end_matches('/').to_owned();
    let mut rest = url;
    loop {
        if let Some(stripped) = rest.strip_prefix("./") {
            rest = stripped;
        } else if let Some(stripped) = rest.strip_prefix("../") {
            if let Some(index) = base.rfind('/') {
                base.truncate(index);
            }
            rest = stripped;
        } else {
            break;
        }
    }
    format!("{base}/{rest}")
}

fn clone_submodules(
    session: &Session,
    dir: &Path,
    options: &CloneOptions,
    depth: usize,
) -> Result<(), GitError> {
    if depth >= MAX_SUBMODULE_DEPTH {
        return Ok(());
    }
    let url = redact_url(&session.url);
    let operation = |detail: String| GitError::Operation {
        url: url.clone(),
        detail,
    };
    let repository = gix::open_opts(dir, session.open_options())
        .map_err(|error| operation(format!("unable to open clone: {error}")))?;
    let Some(submodules) = repository
        .submodules()
        .map_err(|error| operation(format!("unable to read .gitmodules: {error}")))?
    else {
        return Ok(());
    };
    let mut pending = Vec::new();
    for submodule in submodules {
        let name = submodule.name().to_string();
        let path = submodule
            .path()
            .map_err(|error| operation(format!("submodule '{name}': {error}")))?
            .to_string();
        let submodule_url_text = submodule
            .url()
            .map_err(|error| operation(format!("submodule '{name}': {error}")))?
            .to_bstring()
            .to_string();
        let Some(id) = submodule
            .index_id()
            .map_err(|error| operation(format!("submodule '{name}': {error}")))?
        else {
            continue;
        };
        pending.push((
            path,
            submodule_url(&session.url, &submodule_url_text),
            id.to_hex().to_string(),
        ));
    }
    drop(repository);
    for (path, submodule_url, id) in pending {
        let target = dir.join(&path);
        if target.exists() {
            std::fs::remove_dir_all(&target)
                .map_err(|error| GitError::io(format!("prepare submodule path '{path}'"), error))?;
        }
        let child = Session::new(&submodule_url, &options.auth, options.timeout)?;
        fetch_commit(&child, &target, &id)?;
        clone_submodules(&child, &target, options, depth + 1)?;
    }
    Ok(())
}

fn normalise_sparse_directory(directory: &str) -> String {
    directory
        .trim_start_matches("./")
        .trim_matches('/')
        .to_owned()
}

/// Keeps only the listed directories (and `.git`) in the work tree, after checking each exists.
fn apply_sparse_checkout(dir: &Path, directories: &[String]) -> Result<(), GitError> {
    let keep: Vec<String> = directories
        .iter()
        .map(|directory| normalise_sparse_directory(directory))
        .collect();
    for directory in &keep {
        if directory.is_empty() {
            return Ok(());
        }
        if !dir.join(directory).is_dir() {
            return Err(GitError::SparseCheckoutPathNotFound(directory.clone()));
        }
    }
    prune(dir, Path::new(""), &keep)
}

fn prune(root: &Path, relative: &Path, keep: &[String]) -> Result<(), GitError> {
    let current: PathBuf = root.join(relative);
    let entries = std::fs::read_dir(&current)
        .map_err(|error| GitError::io("apply sparse checkout", error))?;
    for entry in entries {
        let entry = entry.map_err(|error| GitError::io("apply sparse checkout", error))?;
        let path = relative.join(entry.file_name());
        let text = path.to_string_lossy().replace('\\', "/");
        if text == ".git" {
            continue;
        }
        let kept = keep
            .iter()
            .any(|directory| text == *directory || text.starts_with(&format!("{directory}/")));
        if kept {
            continue;
        }
        let leads_to_kept = keep
            .iter()
            .any(|directory| directory.starts_with(&format!("{text}/")));
        let file_type = entry
            .file_type()
            .map_err(|error| GitError::io("apply sparse checkout", error))?;
        if leads_to_kept && file_type.is_dir() {
            prune(root, &path, keep)?;
        } else if file_type.is_dir() {
            std::fs::remove_dir_all(root.join(&path))
                .map_err(|error| GitError::io("apply sparse checkout", error))?;
        } else {
            std::fs::remove_file(root.join(&path))
                .map_err(|error| GitError::io("apply sparse checkout", error))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn relative_submodule_urls_resolve_against_the_superproject() {
        assert_eq!(
            submodule_url("https://h/git/super.git", "../sub.git"),
            "https://h/git/sub.git"
        );
        assert_eq!(
            submodule_url("https://h/git/super.git", "./sub.git"),
            "https://h/git/super.git/sub.git"
        );
        assert_eq!(
            submodule_url("https://h/git/super.git", "ssh://other/sub"),
            "ssh://other/sub"
        );
    }

    #[test]
    fn sparse_checkout_keeps_only_listed_directories() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "deploy/app/a.yaml",
            "deploy/b.yaml",
            "docs/readme.md",
            "root.txt",
            ".git/HEAD",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        apply_sparse_checkout(dir.path(), &["./deploy/app".into()]).unwrap();
        assert!(dir.path().join("deploy/app/a.yaml").exists());
        assert!(!dir.path().join("deploy/b.yaml").exists());
        assert!(!dir.path().join("docs").exists());
        assert!(!dir.path().join("root.txt").exists());
        assert!(dir.path().join(".git/HEAD").exists());
    }

    #[test]
    fn sparse_checkout_of_a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let error = apply_sparse_checkout(dir.path(), &["nope".into()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "sparse checkout directory 'nope' does not exist in the repository"
        );
    }
}
