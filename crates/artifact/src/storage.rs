//! Artifact storage on the local file system, laid out and collected as Flux does it.
//!
//! Every artifact lives at `<kind lowercased>/<namespace>/<name>/<file>` below the storage root
//! (the `status.artifact.path`); its URL is that path under the advertised address. Files are
//! written to a temporary file in the same directory and renamed into place, so a reader sees the
//! old artifact or the new one, never half of one. Garbage collection keeps the current artifact
//! and at most `retention_records` files, deleting files older than `retention_ttl` first.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::archive::{ArchiveError, ArchiveSummary, write_archive};
use crate::ignore::Matcher;

/// Flux's default `--artifact-retention-ttl`.
pub const DEFAULT_RETENTION_TTL: Duration = Duration::from_secs(60);
/// Flux's default `--artifact-retention-records`.
pub const DEFAULT_RETENTION_RECORDS: usize = 2;
/// Flux stops walking an artifact directory for garbage after this many files.
pub const GARBAGE_COUNT_LIMIT: usize = 1000;
/// The name of the deprecated symlink to the current artifact that Flux removes.
pub const LATEST_SYMLINK: &str = "latest.tar.gz";

/// Errors of storage operations.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An artifact path that would leave the storage root or is otherwise unusable.
    #[error("invalid artifact path '{0}'")]
    InvalidPath(String),
    /// Archiving failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A file-system operation failed.
    #[error("{context} '{path}': {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

fn io_error<'a>(
    context: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        context,
        path: path.to_owned(),
        source,
    }
}

/// The relative directory of an object's artifacts: `<kind lowercased>/<namespace>/<name>`.
pub fn artifact_dir(kind: &str, namespace: &str, name: &str) -> String {
    format!("{}/{namespace}/{name}", kind.to_lowercase())
}

/// The relative path of one artifact file: `<kind lowercased>/<namespace>/<name>/<file>`.
pub fn artifact_path(kind: &str, namespace: &str, name: &str, file: &str) -> String {
    format!("{}/{file}", artifact_dir(kind, namespace, name))
}

/// The URL of an artifact path under the advertised storage address: `http://<adv>/<path>`,
/// or `<adv>/<path>` when the address already carries a scheme.
pub fn artifact_url(advertised_address: &str, path: &str) -> String {
    let path = path.trim_start_matches('/');
    if advertised_address.contains("://") {
        format!("{}/{path}", advertised_address.trim_end_matches('/'))
    } else {
        format!("http://{}/{path}", advertised_address.trim_end_matches('/'))
    }
}

/// Flux's `GetAdvertisedAddress`: an explicit address wins; otherwise the storage address with
/// an empty host becomes `localhost`, and `0.0.0.0` becomes the host name.
pub fn advertised_address(storage_address: &str, explicit: Option<&str>, hostname: &str) -> String {
    if let Some(explicit) = explicit.filter(|value| !value.is_empty()) {
        return explicit.to_owned();
    }
    match storage_address.rsplit_once(':') {
        Some(("", port)) => format!("localhost:{port}"),
        Some(("0.0.0.0", port)) => format!("{hostname}:{port}"),
        _ => storage_address.to_owned(),
    }
}

/// A storage root with its retention policy.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    /// Files older than this (except the current artifact) are garbage.
    pub retention_ttl: Duration,
    /// At most this many files are kept per object.
    pub retention_records: usize,
}

impl Storage {
    /// A storage at `root` (created if missing) with Flux's default retention.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io_error("create storage root", &root))?;
        Ok(Self {
            root,
            retention_ttl: DEFAULT_RETENTION_TTL,
            retention_records: DEFAULT_RETENTION_RECORDS,
        })
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local file of a relative artifact path; paths that are absolute or contain `..` are
    /// refused rather than cleaned, since no artifact path legitimately has them.
    pub fn local_path(&self, relative: &str) -> Result<PathBuf, StorageError> {
        let path = Path::new(relative);
        if relative.is_empty()
            || !path
                .components()
                .all(|component| matches!(component, Component::Normal(_)))
        {
            return Err(StorageError::InvalidPath(relative.to_owned()));
        }
        Ok(self.root.join(path))
    }

    /// Whether the artifact file exists.
    pub fn exists(&self, relative: &str) -> bool {
        self.local_path(relative).is_ok_and(|path| path.is_file())
    }

    /// Archives `source` into the artifact file at `relative` atomically (temporary file in the
    /// same directory, mode 0600, rename), returning its digest and size.
    pub fn archive(
        &self,
        relative: &str,
        source: &Path,
        filter: Option<&Matcher>,
    ) -> Result<ArchiveSummary, StorageError> {
        let target = self.local_path(relative)?;
        self.write_atomically(&target, |file| Ok(write_archive(source, filter, file)?))
    }

    /// Writes `contents` to the artifact file at `relative` atomically.
    pub fn write_bytes(&self, relative: &str, contents: &[u8]) -> Result<(), StorageError> {
        let target = self.local_path(relative)?;
        self.write_atomically(&target, |file| {
            io::Write::write_all(file, contents).map_err(io_error("write artifact", &target))
        })
    }

    fn write_atomically<T>(
        &self,
        target: &Path,
        write: impl FnOnce(&mut fs::File) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let dir = target
            .parent()
            .ok_or_else(|| StorageError::InvalidPath(target.display().to_string()))?;
        fs::create_dir_all(dir).map_err(io_error("create artifact directory", dir))?;
        let mut temporary = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(io_error("create temporary file in", dir))?;
        let value = write(temporary.as_file_mut())?;
        temporary
            .as_file()
            .sync_all()
            .map_err(io_error("sync", target))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(temporary.path(), fs::Permissions::from_mode(0o600))
                .map_err(io_error("chmod", target))?;
        }
        temporary
            .persist(target)
            .map_err(|error| StorageError::Io {
                context: "rename artifact into place",
                path: target.to_owned(),
                source: error.error,
            })?;
        Ok(value)
    }

    /// Removes the deprecated `latest.tar.gz` symlink next to an artifact, if there is one (Flux
    /// used to maintain it and now deletes it); regular files of that name are left alone.
    pub fn remove_latest_symlink(&self, relative: &str) -> Result<bool, StorageError> {
        let target = self.local_path(relative)?;
        let Some(dir) = target.parent() else {
            return Ok(false);
        };
        let link = dir.join(LATEST_SYMLINK);
        match fs::symlink_metadata(&link) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                fs::remove_file(&link).map_err(io_error("remove symlink", &link))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Removes every artifact of an object (when the object is deleted).
    pub fn remove_all(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<bool, StorageError> {
        let dir = self.local_path(&artifact_dir(kind, namespace, name))?;
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(io_error("remove artifact directory", &dir)(error)),
        }
    }

    /// The files garbage collection would delete next to the current artifact `relative`.
    pub fn garbage_files(
        &self,
        relative: &str,
        now: SystemTime,
    ) -> Result<Vec<PathBuf>, StorageError> {
        let current = self.local_path(relative)?;
        let Some(dir) = current.parent() else {
            return Ok(Vec::new());
        };
        let mut files: Vec<(SystemTime, PathBuf)> = Vec::new();
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io_error("read artifact directory", dir)(error)),
        };
        for entry in entries {
            if files.len() >= GARBAGE_COUNT_LIMIT {
                break;
            }
            let entry = entry.map_err(io_error("read artifact directory", dir))?;
            let path = entry.path();
            let metadata = fs::symlink_metadata(&path).map_err(io_error("stat", &path))?;
            let is_lock = path
                .extension()
                .is_some_and(|extension| extension == "lock");
            if !metadata.is_file() || is_lock {
                continue;
            }
            let modified = metadata.modified().map_err(io_error("stat", &path))?;
            files.push((modified, path));
        }
        files.sort();
        let expired = |modified: &SystemTime| {
            now.duration_since(*modified)
                .is_ok_and(|age| age > self.retention_ttl)
        };
        let mut garbage: Vec<PathBuf> = files
            .iter()
            .filter(|(modified, path)| *path != current && expired(modified))
            .map(|(_, path)| path.clone())
            .collect();
        let mut remaining = files.len() - garbage.len();
        for (_, path) in &files {
            if remaining <= self.retention_records {
                break;
            }
            if *path != current && !garbage.contains(path) {
                garbage.push(path.clone());
                remaining -= 1;
            }
        }
        Ok(garbage)
    }

    /// Deletes the garbage next to the current artifact (and their `.lock` files); returns what
    /// was deleted.
    pub fn garbage_collect(&self, relative: &str) -> Result<Vec<PathBuf>, StorageError> {
        let garbage = self.garbage_files(relative, SystemTime::now())?;
        for file in &garbage {
            fs::remove_file(file).map_err(io_error("remove garbage", file))?;
            let mut lock = file.clone().into_os_string();
            lock.push(".lock");
            let _ = fs::remove_file(PathBuf::from(lock));
        }
        Ok(garbage)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    fn set_age(path: &Path, age: Duration) {
        let file = fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn layout_lowercases_the_kind() {
        assert_eq!(
            artifact_path("GitRepository", "flux-system", "podinfo", "abc.tar.gz"),
            "gitrepository/flux-system/podinfo/abc.tar.gz"
        );
    }

    #[test]
    fn urls_follow_the_advertised_address() {
        let path = "gitrepository/ns/n/a.tar.gz";
        assert_eq!(
            artifact_url("source-controller.flux-system.svc.cluster.local.", path),
            "http://source-controller.flux-system.svc.cluster.local./gitrepository/ns/n/a.tar.gz"
        );
        assert_eq!(
            artifact_url("https://files.example/", path),
            "https://files.example/gitrepository/ns/n/a.tar.gz"
        );
        assert_eq!(advertised_address(":9090", None, "pod"), "localhost:9090");
        assert_eq!(advertised_address("0.0.0.0:9090", None, "pod"), "pod:9090");
        assert_eq!(advertised_address(":9090", Some("svc."), "pod"), "svc.");
    }

    #[test]
    fn paths_leaving_the_root_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path()).unwrap();
        for bad in ["../etc/passwd", "/etc/passwd", "a/../../b", "", "./a"] {
            assert!(
                matches!(storage.local_path(bad), Err(StorageError::InvalidPath(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn archive_is_written_atomically_with_mode_0600() {
        let root = tempfile::tempdir().unwrap();
        let source = tempfile::tempdir().unwrap();
        fs::write(source.path().join("a.yaml"), "a").unwrap();
        let storage = Storage::new(root.path()).unwrap();
        let path = artifact_path("GitRepository", "ns", "name", "c1.tar.gz");
        let summary = storage.archive(&path, source.path(), None).unwrap();
        let local = storage.local_path(&path).unwrap();
        assert_eq!(fs::metadata(&local).unwrap().len(), summary.size);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&local).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let leftovers: Vec<_> = fs::read_dir(local.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn garbage_collection_keeps_the_current_artifact_and_the_record_count() {
        let root = tempfile::tempdir().unwrap();
        let mut storage = Storage::new(root.path()).unwrap();
        storage.retention_ttl = Duration::from_secs(3600);
        storage.retention_records = 2;
        for (index, file) in ["1.tar.gz", "2.tar.gz", "3.tar.gz", "4.tar.gz"]
            .iter()
            .enumerate()
        {
            let path = artifact_path("GitRepository", "ns", "n", file);
            storage.write_bytes(&path, b"x").unwrap();
            set_age(
                &storage.local_path(&path).unwrap(),
                Duration::from_secs(100 - index as u64 * 10),
            );
        }
        let current = artifact_path("GitRepository", "ns", "n", "1.tar.gz");
        let deleted = storage.garbage_collect(&current).unwrap();
        let names: Vec<String> = deleted
            .iter()
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["2.tar.gz", "3.tar.gz"]);
        assert!(storage.exists(&current));
        assert!(storage.exists(&artifact_path("GitRepository", "ns", "n", "4.tar.gz")));
    }

    #[test]
    fn garbage_collection_deletes_expired_files_but_never_the_current_one() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path()).unwrap();
        let old = artifact_path("GitRepository", "ns", "n", "old.tar.gz");
        let current = artifact_path("GitRepository", "ns", "n", "current.tar.gz");
        storage.write_bytes(&old, b"x").unwrap();
        storage.write_bytes(&current, b"y").unwrap();
        fs::write(root.path().join("gitrepository/ns/n/old.tar.gz.lock"), "").unwrap();
        set_age(&storage.local_path(&old).unwrap(), Duration::from_secs(120));
        set_age(
            &storage.local_path(&current).unwrap(),
            Duration::from_secs(120),
        );
        let deleted = storage.garbage_collect(&current).unwrap();
        assert_eq!(deleted, [storage.local_path(&old).unwrap()]);
        assert!(storage.exists(&current));
        assert!(
            !root
                .path()
                .join("gitrepository/ns/n/old.tar.gz.lock")
                .exists()
        );
    }

    #[cfg(unix)]
    #[test]
    fn deprecated_latest_symlink_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path()).unwrap();
        let current = artifact_path("GitRepository", "ns", "n", "c.tar.gz");
        storage.write_bytes(&current, b"x").unwrap();
        let link = root.path().join("gitrepository/ns/n/latest.tar.gz");
        std::os::unix::fs::symlink("c.tar.gz", &link).unwrap();
        assert!(storage.remove_latest_symlink(&current).unwrap());
        assert!(fs::symlink_metadata(&link).is_err());
        assert!(!storage.remove_latest_symlink(&current).unwrap());
    }

    #[test]
    fn remove_all_deletes_the_object_directory() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::new(root.path()).unwrap();
        storage
            .write_bytes(&artifact_path("GitRepository", "ns", "n", "c.tar.gz"), b"x")
            .unwrap();
        assert!(storage.remove_all("GitRepository", "ns", "n").unwrap());
        assert!(!root.path().join("gitrepository/ns/n").exists());
        assert!(!storage.remove_all("GitRepository", "ns", "n").unwrap());
    }
}
