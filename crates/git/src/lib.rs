//! Git for Eddy's source-controller, on gix, behaving as Flux's fluxcd/pkg/git does.
//!
//! A GitRepository names a URL (`http`, `https` or `ssh`), credentials, and a reference (commit >
//! name > semver > tag > branch, default branch `master`). This crate turns that into a checked-out
//! work tree and a revision string in Flux's exact format (`main@sha1:<hex>`), as cheaply as
//! possible:
//!
//! 1. [`remote::resolve_remote`] lists the remote's references once (`ls-remote`) and resolves the
//!    reference against them — tags and semver ranges need this because shallow clones carry no
//!    tags, and it answers the reconciler's "has anything changed?" without fetching objects;
//! 2. [`clone::clone`] skips everything when the reference still points at the stored revision,
//!    and otherwise fetches exactly the resolved commit at depth 1 and checks it out, then applies
//!    sparse checkout and recurses into submodules if asked.
//!
//! Transports: HTTP/S through gix's reqwest backend with rustls on the ring provider (the one
//! provider the process uses; see [`ensure_crypto_provider`]), basic auth answered from memory,
//! bearer tokens as an extra header, extra CA certificates; SSH through the system `ssh` client
//! with the identity and `known_hosts` written to private temporary files and unknown host keys
//! refused. Nothing consults the machine's Git configuration, credential helpers or a terminal.
//!
//! Every error is a [`GitError`] whose message is safe for a condition: URLs lose their
//! passwords and every credential given is scrubbed from transport messages. Everything here is
//! blocking; the async reconciler runs it on `spawn_blocking`.

pub mod auth;
pub mod clone;
pub mod error;
pub mod remote;
pub mod revision;
pub mod semver;
mod transport;

pub use auth::{AuthOptions, ProxyOptions, Scheme};
pub use clone::{CloneOptions, CloneOutcome, clone};
pub use error::GitError;
pub use remote::{RemoteRef, Resolved, list_remote_refs, resolve, resolve_remote};
pub use revision::{Commit, DEFAULT_BRANCH, Reference, Strategy};
pub use transport::ensure_crypto_provider;
