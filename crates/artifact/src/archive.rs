//! Deterministic tar.gz archives of a directory, built the way Flux's `Storage.Archive` builds them.
//!
//! Two archives of the same tree are byte-identical: entries come in lexical walk order (as Go's
//! `filepath.Walk`, the root itself first as `.`), names are relative to the root with `/`
//! separators and no trailing slash on directories, owner ids and names are empty, times are
//! zero, and modes are normalised (directories 0750, files with any execute bit 0700, other
//! files 0600). Only regular files and directories are archived: symlinks (wherever they point)
//! and special files are skipped, so nothing outside the tree can end up in an artifact. The
//! digest is the SHA-256 of the compressed bytes, computed while they are written.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::ignore::Matcher;

/// Directory mode inside an archive.
pub const DIR_MODE: u32 = 0o750;
/// Mode of executable files inside an archive.
pub const EXECUTABLE_FILE_MODE: u32 = 0o700;
/// Mode of other files inside an archive.
pub const FILE_MODE: u32 = 0o600;

/// Size and digest of an archive that was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// `sha256:<hex>` of the archive bytes.
    pub digest: String,
    /// Number of archive bytes.
    pub size: u64,
}

/// Why an archive could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The source is not a directory.
    #[error("invalid dir path: {0}")]
    NotADirectory(PathBuf),
    /// Reading the source or writing the archive failed.
    #[error("failed to archive '{path}': {source}")]
    Io {
        /// The file being processed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// A writer that hashes and counts what passes through it.
struct DigestWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let count = self.inner.write(buffer)?;
        self.hasher.update(&buffer[..count]);
        self.written += count as u64;
        Ok(count)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_owned(),
        source,
    }
}

fn header_for(mode: u32, size: u64, entry_type: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(size);
    header.set_entry_type(entry_type);
    // Empty user and group names; writing empty strings cannot fail.
    let _ = header.set_username("");
    let _ = header.set_groupname("");
    header
}

/// Writes a deterministic tar.gz of `root` to `output`, leaving out what `filter` excludes.
pub fn write_archive<W: Write>(
    root: &Path,
    filter: Option<&Matcher>,
    output: W,
) -> Result<ArchiveSummary, ArchiveError> {
    let metadata = fs::metadata(root).map_err(|_| ArchiveError::NotADirectory(root.to_owned()))?;
    if !metadata.is_dir() {
        return Err(ArchiveError::NotADirectory(root.to_owned()));
    }
    let counting = DigestWriter {
        inner: output,
        hasher: Sha256::new(),
        written: 0,
    };
    let encoder = GzEncoder::new(counting, Compression::default());
    let mut builder = tar::Builder::new(encoder);
    builder.mode(tar::HeaderMode::Deterministic);

    // The root entry, named "." as Go's filepath.Rel names it.
    let mut root_header = header_for(DIR_MODE, 0, tar::EntryType::Directory);
    root_header.as_old_mut().name[0] = b'.';
    root_header.set_cksum();
    builder
        .append(&root_header, io::empty())
        .map_err(io_error(root))?;

    let prune = filter.is_some_and(|matcher| !matcher.has_inclusions());
    walk(&mut builder, root, &mut Vec::new(), filter, prune)?;

    let encoder = builder.into_inner().map_err(io_error(root))?;
    let mut counting = encoder.finish().map_err(io_error(root))?;
    counting.flush().map_err(io_error(root))?;
    Ok(ArchiveSummary {
        digest: format!("sha256:{}", hex::encode(counting.hasher.finalize())),
        size: counting.written,
    })
}

fn walk<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &Path,
    relative: &mut Vec<String>,
    filter: Option<&Matcher>,
    prune: bool,
) -> Result<(), ArchiveError> {
    let current = relative
        .iter()
        .fold(dir.to_owned(), |path, element| path.join(element));
    let mut names: Vec<String> = Vec::new();
    for entry in fs::read_dir(&current).map_err(io_error(&current))? {
        let entry = entry.map_err(io_error(&current))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    // filepath.Walk visits names in lexical (byte) order.
    names.sort();
    for name in names {
        let path = current.join(&name);
        let metadata = fs::symlink_metadata(&path).map_err(io_error(&path))?;
        let file_type = metadata.file_type();
        if !(file_type.is_file() || file_type.is_dir()) {
            continue;
        }
        relative.push(name);
        let elements: Vec<&str> = relative.iter().map(String::as_str).collect();
        let excluded =
            filter.is_some_and(|matcher| matcher.is_excluded(&elements, file_type.is_dir()));
        let archive_name = elements.join("/");
        if file_type.is_dir() {
            if !excluded {
                let mut header = header_for(DIR_MODE, 0, tar::EntryType::Directory);
                builder
                    .append_data(&mut header, &archive_name, io::empty())
                    .map_err(io_error(&path))?;
            }
            if !(excluded && prune) {
                walk(builder, dir, relative, filter, prune)?;
            }
        } else if !excluded {
            let mode = if executable(&metadata) {
                EXECUTABLE_FILE_MODE
            } else {
                FILE_MODE
            };
            let mut header = header_for(mode, metadata.len(), tar::EntryType::Regular);
            let file = fs::File::open(&path).map_err(io_error(&path))?;
            builder
                .append_data(&mut header, &archive_name, file)
                .map_err(io_error(&path))?;
        }
        relative.pop();
    }
    Ok(())
}

#[cfg(unix)]
fn executable(metadata: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_metadata: &fs::Metadata) -> bool {
    false
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;
    use std::io::Read;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("deploy/nested")).unwrap();
        fs::write(dir.path().join("deploy/app.yaml"), "kind: ConfigMap\n").unwrap();
        fs::write(dir.path().join("deploy/nested/b.yaml"), "b\n").unwrap();
        fs::write(dir.path().join("README.md"), "readme\n").unwrap();
        fs::write(dir.path().join("run.sh"), "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.path().join("run.sh"), fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        dir
    }

    fn entries(archive: &[u8]) -> Vec<(String, u32, u64, u64, bool)> {
        let mut reader = tar::Archive::new(flate2::read::GzDecoder::new(archive));
        reader
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
                    header.mode().unwrap(),
                    header.uid().unwrap(),
                    header.mtime().unwrap(),
                    header.entry_type().is_dir(),
                )
            })
            .collect()
    }

    #[test]
    fn same_tree_twice_gives_byte_identical_archives() {
        let dir = tree();
        let mut first = Vec::new();
        let mut second = Vec::new();
        let summary_one = write_archive(dir.path(), None, &mut first).unwrap();
        // Touching times must not matter.
        fs::write(dir.path().join("README.md"), "readme\n").unwrap();
        let summary_two = write_archive(dir.path(), None, &mut second).unwrap();
        assert_eq!(first, second);
        assert_eq!(summary_one, summary_two);
        assert_eq!(summary_one.size, first.len() as u64);
        assert_eq!(
            summary_one.digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&first)))
        );
    }

    #[test]
    fn entries_are_sorted_with_normalised_modes_and_zero_times() {
        let dir = tree();
        let mut archive = Vec::new();
        write_archive(dir.path(), None, &mut archive).unwrap();
        let listed = entries(&archive);
        let names: Vec<&str> = listed.iter().map(|entry| entry.0.as_str()).collect();
        assert_eq!(
            names,
            [
                ".",
                "README.md",
                "deploy",
                "deploy/app.yaml",
                "deploy/nested",
                "deploy/nested/b.yaml",
                "run.sh"
            ]
        );
        for (name, mode, uid, mtime, is_dir) in &listed {
            assert_eq!((*uid, *mtime), (0, 0), "{name}");
            let expected = if *is_dir {
                DIR_MODE
            } else if name == "run.sh" {
                EXECUTABLE_FILE_MODE
            } else {
                FILE_MODE
            };
            assert_eq!(*mode, expected, "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_never_archived_even_when_pointing_outside() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "private key").unwrap();
        let dir = tree();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("leak")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("leakdir")).unwrap();
        std::os::unix::fs::symlink("README.md", dir.path().join("inside-link")).unwrap();
        let mut archive = Vec::new();
        write_archive(dir.path(), None, &mut archive).unwrap();
        let names: Vec<String> = entries(&archive).into_iter().map(|entry| entry.0).collect();
        assert!(
            !names
                .iter()
                .any(|name| name.contains("leak") || name.contains("inside-link")),
            "{names:?}"
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(&archive[..])
            .read_to_string(&mut text)
            .unwrap();
        assert!(!text.contains("private key"));
    }

    #[test]
    fn excluded_paths_are_left_out() {
        let dir = tree();
        fs::create_dir_all(dir.path().join(".git")).unwrap();
        fs::write(dir.path().join(".git/HEAD"), "ref").unwrap();
        fs::write(dir.path().join("logo.png"), "png").unwrap();
        let matcher = Matcher::for_source(Vec::new(), None);
        let mut archive = Vec::new();
        write_archive(dir.path(), Some(&matcher), &mut archive).unwrap();
        let names: Vec<String> = entries(&archive).into_iter().map(|entry| entry.0).collect();
        assert!(
            !names
                .iter()
                .any(|name| name.starts_with(".git") || name == "logo.png"),
            "{names:?}"
        );
        assert!(names.contains(&"deploy/app.yaml".to_owned()));
    }

    #[test]
    fn a_file_is_not_a_directory_to_archive() {
        let dir = tree();
        let error = write_archive(&dir.path().join("README.md"), None, Vec::new()).unwrap_err();
        assert!(matches!(error, ArchiveError::NotADirectory(_)));
    }
}
