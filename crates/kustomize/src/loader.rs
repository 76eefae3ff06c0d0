//! File access for one kustomization root, with kustomize's load restriction.

use std::path::{Component, Path, PathBuf};

use crate::{Error, LoadRestrictor};

/// Reads files relative to a kustomization root.
#[derive(Clone, Debug)]
pub(crate) struct Loader {
    /// The kustomization's directory (absolute, normalised).
    pub root: PathBuf,
    restrictor: LoadRestrictor,
}

/// Largest file the engine reads, so a hostile repository cannot exhaust memory.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Lexically normalises a path (`a/./b/../c` → `a/c`) without touching the file system.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Loader {
    pub(crate) fn new(root: &Path, restrictor: LoadRestrictor) -> Loader {
        Loader {
            root: root.to_path_buf(),
            restrictor,
        }
    }

    /// The absolute path of an entry written in the kustomization.
    pub(crate) fn resolve(&self, entry: &str) -> PathBuf {
        normalize(&self.root.join(entry))
    }

    /// Refuses paths outside the root when restricted.
    pub(crate) fn check(&self, path: &Path) -> Result<(), Error> {
        if self.restrictor == LoadRestrictor::None {
            return Ok(());
        }
        let real_root = std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        let real_path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if real_path.starts_with(&real_root) {
            Ok(())
        } else {
            Err(Error::OutsideRoot {
                path: path.to_path_buf(),
                root: self.root.clone(),
            })
        }
    }

    /// Reads a file as text after the restriction check.
    pub(crate) fn read(&self, entry: &str) -> Result<(PathBuf, String), Error> {
        let path = self.resolve(entry);
        let bytes = self.read_bytes_at(&path)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Invalid {
            file: path.display().to_string(),
            message: "file is not valid UTF-8".into(),
        })?;
        Ok((path, text))
    }

    /// Reads a file's bytes after the restriction check.
    pub(crate) fn read_bytes_at(&self, path: &Path) -> Result<Vec<u8>, Error> {
        let metadata = std::fs::metadata(path).map_err(|error| Error::Io {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
        self.check(path)?;
        if metadata.len() > MAX_FILE_BYTES {
            return Err(Error::Invalid {
                file: path.display().to_string(),
                message: "file is larger than 64 MiB".into(),
            });
        }
        std::fs::read(path).map_err(|error| Error::Io {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
    }
}
