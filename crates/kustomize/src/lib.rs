//! A native `kustomize build`.
//!
//! Flux's kustomize-controller renders every Kustomization through kustomize, so Eddy must
//! render the same bytes from the same repository. This crate is that engine, written against
//! kustomize v5.5.0 (the version embedded in kubectl v1.32) as the oracle: the output of
//! [`build`] is compared byte for byte with `kubectl kustomize` over a corpus of several
//! hundred cases taken from kustomize's own tests (see `tests/conformance.rs`).
//!
//! The pipeline mirrors kustomize's: a kustomization's resources (files, directories with their
//! own kustomization, components) are accumulated, generators add ConfigMaps and Secrets, the
//! built-in transformers run in kustomize's fixed order (strategic-merge patches, patches,
//! namespace, prefix, suffix, labels, annotations, JSON 6902 patches, replicas, images,
//! replacements), and at the top level generated names get their content hash, references to
//! renamed objects are fixed up, `$(VARS)` are expanded and the resources are sorted.
//!
//! Output goes through the same two encoders kustomize uses (JSON, then yaml.v2), so the
//! printing rules (sorted keys, quoting, folding, literal blocks) are reproduced in
//! [`yaml::emit`] rather than left to a general-purpose YAML library.
//!
//! It is a pure library: it reads the file system below the kustomization (and nothing else,
//! with [`LoadRestrictor::RootOnly`]) and never touches the network. Helm charts, remote bases
//! and exec/container plugins are refused with an error.

pub mod fieldspec;
pub mod json;
pub mod resource;
pub mod smp;
pub mod value;
pub mod yaml;

mod generators;
mod json6902;
mod kustomization;
mod loader;
mod nameref;
mod patches;
mod plugins;
mod replacements;
mod sort;
mod target;
mod transformers;
mod vars;

use std::path::{Path, PathBuf};

/// Which files a kustomization may read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoadRestrictor {
    /// Only files inside the kustomization's own directory tree (kustomize's default).
    #[default]
    RootOnly,
    /// Any file.
    None,
}

/// Options of one build.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// The load restriction.
    pub load_restrictor: LoadRestrictor,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's explanation.
        message: String,
    },
    /// A file is not valid YAML.
    #[error("MalformedYAMLError: {source} in File: {file}")]
    Yaml {
        /// The file.
        file: String,
        /// The parser's explanation.
        source: yaml::YamlError,
    },
    /// A file or value is well-formed YAML but not acceptable.
    #[error("{file}: {message}")]
    Invalid {
        /// The file (or kustomization) at fault.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A file lies outside the kustomization root under [`LoadRestrictor::RootOnly`].
    #[error("security; file '{path}' is not in or below '{root}'")]
    OutsideRoot {
        /// The refused file.
        path: PathBuf,
        /// The kustomization root.
        root: PathBuf,
    },
    /// A kustomization includes itself, directly or through others.
    #[error("cycle detected: '{0}' includes itself")]
    Cycle(PathBuf),
    /// A feature this engine deliberately does not implement.
    #[error("{0} is not supported by eddy's kustomize engine")]
    Unsupported(String),
    /// Anything else that makes the build fail.
    #[error("{0}")]
    Build(String),
}

/// Builds the kustomization in `dir` and returns the YAML stream `kustomize build` prints.
pub fn build(dir: &Path, options: &BuildOptions) -> Result<String, Error> {
    target::build(dir, options)
}
