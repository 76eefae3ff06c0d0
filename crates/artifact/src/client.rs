//! The consumer side: download an artifact, prove it is the advertised one, unpack it safely.
//!
//! Consumers (kustomize-controller, helm-controller) get a URL, a size and a digest from a
//! source's status. The download is bounded by a size limit while it streams, then its size and
//! `sha256` digest are checked before a single byte is unpacked. Unpacking goes into a fresh
//! temporary directory with limits on total bytes and file count, and refuses absolute paths,
//! `..` components and links that would point outside the directory; every refusal is its own
//! error so the consumer's condition message says exactly what was wrong.

use std::io::{self, Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// Bounds applied while downloading and unpacking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest archive accepted for download, in bytes.
    pub max_download_bytes: u64,
    /// Largest total size of the unpacked files, in bytes.
    pub max_unpacked_bytes: u64,
    /// Most entries (files, directories, links) accepted in the archive.
    pub max_files: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_download_bytes: 100 * 1024 * 1024,
            max_unpacked_bytes: 500 * 1024 * 1024,
            max_files: 100_000,
        }
    }
}

/// Why an artifact could not be fetched or unpacked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP request failed.
    #[error("failed to download artifact from '{url}': {detail}")]
    Download {
        /// The artifact URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The server answered with a non-success status.
    #[error("failed to download artifact from '{url}': status {status}")]
    HttpStatus {
        /// The artifact URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The download is larger than allowed.
    #[error("artifact from '{url}' exceeds the download limit of {limit} bytes")]
    DownloadTooLarge {
        /// The artifact URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The downloaded size differs from the advertised size.
    #[error("artifact size mismatch: advertised {expected} bytes, downloaded {actual} bytes")]
    SizeMismatch {
        /// Advertised size.
        expected: u64,
        /// Downloaded size.
        actual: u64,
    },
    /// The digest's algorithm is not one we can verify.
    #[error("unsupported artifact digest '{0}' (expected sha256:<hex>)")]
    UnsupportedDigest(String),
    /// The downloaded bytes do not have the advertised digest.
    #[error("artifact digest mismatch: advertised {expected}, computed {actual}")]
    DigestMismatch {
        /// Advertised digest.
        expected: String,
        /// Digest of the downloaded bytes.
        actual: String,
    },
    /// An entry has an absolute path.
    #[error("refusing to unpack '{0}': absolute path")]
    AbsolutePath(String),
    /// An entry's path contains `..`.
    #[error("refusing to unpack '{0}': path contains '..'")]
    PathTraversal(String),
    /// A symlink or hard link points outside the directory.
    #[error("refusing to unpack link '{name}' -> '{target}': it points outside the artifact")]
    LinkEscapes {
        /// The link's name.
        name: String,
        /// Where it points.
        target: String,
    },
    /// The unpacked files would exceed the size limit.
    #[error("refusing to unpack: files exceed the limit of {limit} bytes")]
    UnpackedTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The archive holds more entries than allowed.
    #[error("refusing to unpack: more than {limit} entries")]
    TooManyFiles {
        /// The limit.
        limit: u64,
    },
    /// The archive is not a valid tar.gz.
    #[error("invalid artifact archive: {0}")]
    InvalidArchive(String),
    /// Local file trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The underlying error.
        source: io::Error,
    },
}

fn io_error(context: &'static str) -> impl FnOnce(io::Error) -> ClientError {
    move |source| ClientError::Io { context, source }
}

/// An unpacked artifact; the directory is removed when this is dropped.
#[derive(Debug)]
pub struct UnpackedArtifact {
    /// The temporary directory holding the files.
    pub dir: tempfile::TempDir,
    /// Number of regular files unpacked.
    pub files: u64,
    /// Total bytes of the regular files unpacked.
    pub bytes: u64,
}

impl UnpackedArtifact {
    /// The directory holding the files.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Checks that `bytes_digest` (a finished SHA-256) is the advertised `sha256:<hex>` digest.
fn verify_digest(expected: &str, hasher: Sha256) -> Result<(), ClientError> {
    let Some(hex_digest) = expected.strip_prefix("sha256:") else {
        return Err(ClientError::UnsupportedDigest(expected.to_owned()));
    };
    let actual = hex::encode(hasher.finalize());
    if !actual.eq_ignore_ascii_case(hex_digest) {
        return Err(ClientError::DigestMismatch {
            expected: expected.to_owned(),
            actual: format!("sha256:{actual}"),
        });
    }
    Ok(())
}

/// Downloads the artifact at `url`, verifies `size` (when advertised) and `digest`, and unpacks
/// it into a new temporary directory.
pub async fn fetch_artifact(
    client: &reqwest::Client,
    url: &str,
    digest: &str,
    size: Option<u64>,
    limits: Limits,
) -> Result<UnpackedArtifact, ClientError> {
    if !digest.starts_with("sha256:") {
        return Err(ClientError::UnsupportedDigest(digest.to_owned()));
    }
    let download_error = |detail: String| ClientError::Download {
        url: url.to_owned(),
        detail,
    };
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|error| download_error(error.to_string()))?;
    if !response.status().is_success() {
        return Err(ClientError::HttpStatus {
            url: url.to_owned(),
            status: response.status().as_u16(),
        });
    }
    let limit = size.map_or(limits.max_download_bytes, |size| {
        size.min(limits.max_download_bytes)
    });
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(match size {
            Some(expected) if expected <= limits.max_download_bytes => ClientError::SizeMismatch {
                expected,
                actual: response.content_length().unwrap_or_default(),
            },
            _ => ClientError::DownloadTooLarge {
                url: url.to_owned(),
                limit: limits.max_download_bytes,
            },
        });
    }
    let mut file = tempfile::tempfile().map_err(io_error("create download file"))?;
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| download_error(error.to_string()))?
    {
        received += chunk.len() as u64;
        if received > limit {
            return Err(match size {
                Some(expected) if expected <= limits.max_download_bytes => {
                    ClientError::SizeMismatch {
                        expected,
                        actual: received,
                    }
                }
                _ => ClientError::DownloadTooLarge {
                    url: url.to_owned(),
                    limit: limits.max_download_bytes,
                },
            });
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .map_err(io_error("write download file"))?;
    }
    if let Some(expected) = size
        && expected != received
    {
        return Err(ClientError::SizeMismatch {
            expected,
            actual: received,
        });
    }
    verify_digest(digest, hasher)?;
    file.rewind().map_err(io_error("read download file"))?;
    tokio::task::spawn_blocking(move || unpack_into_temporary_dir(file, limits))
        .await
        .map_err(|error| ClientError::Io {
            context: "unpack artifact",
            source: io::Error::other(error),
        })?
}

/// Unpacks a tar.gz stream into a new temporary directory under the limits.
pub fn unpack_into_temporary_dir(
    archive: impl Read,
    limits: Limits,
) -> Result<UnpackedArtifact, ClientError> {
    let dir = tempfile::Builder::new()
        .prefix("eddy-artifact-")
        .tempdir()
        .map_err(io_error("create unpack directory"))?;
    let (files, bytes) = unpack(archive, dir.path(), limits)?;
    Ok(UnpackedArtifact { dir, files, bytes })
}

/// Checks an entry name: relative, no `..`; returns it as a relative path (without `.` parts).
fn safe_relative_path(name: &str) -> Result<PathBuf, ClientError> {
    if name.starts_with('/') || name.starts_with('\\') || Path::new(name).has_root() {
        return Err(ClientError::AbsolutePath(name.to_owned()));
    }
    let mut path = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(ClientError::PathTraversal(name.to_owned())),
            Component::RootDir | Component::Prefix(_) => {
                return Err(ClientError::AbsolutePath(name.to_owned()));
            }
        }
    }
    Ok(path)
}

/// Whether a link at `link_path` (relative to the root) pointing at `target` stays inside.
fn link_stays_inside(link_path: &Path, target: &str) -> bool {
    if target.starts_with('/') || Path::new(target).has_root() {
        return false;
    }
    let mut depth: i64 = link_path.components().count() as i64 - 1;
    for component in Path::new(target).components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Unpacks a tar.gz stream into `destination` under the limits; returns (files, bytes).
pub fn unpack(
    archive: impl Read,
    destination: &Path,
    limits: Limits,
) -> Result<(u64, u64), ClientError> {
    let invalid = |error: io::Error| ClientError::InvalidArchive(error.to_string());
    let mut reader = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut entries_seen: u64 = 0;
    let mut files: u64 = 0;
    let mut bytes: u64 = 0;
    for entry in reader.entries().map_err(invalid)? {
        let mut entry = entry.map_err(invalid)?;
        entries_seen += 1;
        if entries_seen > limits.max_files {
            return Err(ClientError::TooManyFiles {
                limit: limits.max_files,
            });
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let relative = safe_relative_path(&name)?;
        let entry_type = entry.header().entry_type();
        let target = destination.join(&relative);
        if entry_type.is_dir() {
            std::fs::create_dir_all(&target).map_err(io_error("create directory"))?;
            continue;
        }
        if relative.as_os_str().is_empty() {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io_error("create directory"))?;
        }
        if entry_type.is_symlink() || entry_type.is_hard_link() {
            let link_target = entry
                .link_name_bytes()
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default();
            let inside = if entry_type.is_hard_link() {
                // Hard-link targets are archive paths, relative to the root.
                safe_relative_path(&link_target).is_ok()
            } else {
                link_stays_inside(&relative, &link_target)
            };
            if !inside {
                return Err(ClientError::LinkEscapes {
                    name,
                    target: link_target,
                });
            }
            if entry_type.is_hard_link() {
                let source = destination.join(safe_relative_path(&link_target)?);
                std::fs::hard_link(source, &target).map_err(io_error("create hard link"))?;
            } else {
                #[cfg(unix)]
                std::os::unix::fs::symlink(&link_target, &target)
                    .map_err(io_error("create symlink"))?;
            }
            continue;
        }
        if !entry_type.is_file() {
            // Devices, FIFOs and the like have no place in an artifact; skip them as Flux does.
            continue;
        }
        let size = entry.header().size().map_err(invalid)?;
        if bytes.saturating_add(size) > limits.max_unpacked_bytes {
            return Err(ClientError::UnpackedTooLarge {
                limit: limits.max_unpacked_bytes,
            });
        }
        // An earlier link entry must not redirect this write outside the root.
        if std::fs::symlink_metadata(&target).is_ok() {
            std::fs::remove_file(&target).map_err(io_error("replace file"))?;
        }
        let mut output = std::fs::File::create(&target).map_err(io_error("create file"))?;
        let copied = io::copy(&mut (&mut entry).take(size), &mut output).map_err(invalid)?;
        bytes += copied;
        files += 1;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = entry.header().mode().unwrap_or(0o600) & 0o755;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode | 0o600))
                .map_err(io_error("set file mode"))?;
        }
    }
    Ok((files, bytes))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    enum Item<'a> {
        File(&'a str, &'a [u8]),
        Symlink(&'a str, &'a str),
        HardLink(&'a str, &'a str),
        RawName(&'a [u8], &'a [u8]),
    }

    fn archive(items: &[Item<'_>]) -> Vec<u8> {
        let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut builder = tar::Builder::new(encoder);
        for item in items {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o600);
            match item {
                Item::File(name, data) => {
                    header.set_size(data.len() as u64);
                    header.set_entry_type(tar::EntryType::Regular);
                    builder.append_data(&mut header, name, *data).unwrap();
                }
                Item::Symlink(name, target) | Item::HardLink(name, target) => {
                    header.set_size(0);
                    header.set_entry_type(if matches!(item, Item::Symlink(..)) {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    });
                    builder.append_link(&mut header, name, target).unwrap();
                }
                Item::RawName(name, data) => {
                    // Bypasses the builder's own path checks to forge hostile names.
                    header.as_old_mut().name[..name.len()].copy_from_slice(name);
                    header.set_size(data.len() as u64);
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_cksum();
                    builder.append(&header, *data).unwrap();
                }
            }
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn unpack_items(items: &[Item<'_>], limits: Limits) -> Result<UnpackedArtifact, ClientError> {
        unpack_into_temporary_dir(&archive(items)[..], limits)
    }

    #[test]
    fn regular_archive_unpacks() {
        let unpacked = unpack_items(
            &[
                Item::File("deploy/app.yaml", b"kind: x\n"),
                Item::Symlink("deploy/link", "app.yaml"),
            ],
            Limits::default(),
        )
        .unwrap();
        assert_eq!((unpacked.files, unpacked.bytes), (1, 8));
        assert_eq!(
            std::fs::read(unpacked.path().join("deploy/link")).unwrap(),
            b"kind: x\n"
        );
    }

    #[test]
    fn absolute_paths_are_refused() {
        let error =
            unpack_items(&[Item::RawName(b"/etc/evil", b"x")], Limits::default()).unwrap_err();
        assert!(matches!(error, ClientError::AbsolutePath(_)), "{error}");
    }

    #[test]
    fn parent_directory_components_are_refused() {
        let error =
            unpack_items(&[Item::RawName(b"a/../../evil", b"x")], Limits::default()).unwrap_err();
        assert!(matches!(error, ClientError::PathTraversal(_)), "{error}");
    }

    #[test]
    fn symlinks_escaping_the_directory_are_refused() {
        for target in ["../../outside", "/etc/passwd", "a/../../../outside"] {
            let error =
                unpack_items(&[Item::Symlink("dir/link", target)], Limits::default()).unwrap_err();
            assert!(
                matches!(error, ClientError::LinkEscapes { .. }),
                "{target}: {error}"
            );
        }
    }

    #[test]
    fn hard_links_escaping_the_directory_are_refused() {
        let error =
            unpack_items(&[Item::HardLink("link", "../outside")], Limits::default()).unwrap_err();
        assert!(matches!(error, ClientError::LinkEscapes { .. }), "{error}");
    }

    #[test]
    fn total_size_limit_is_enforced() {
        let limits = Limits {
            max_unpacked_bytes: 10,
            ..Limits::default()
        };
        let error = unpack_items(
            &[Item::File("a", b"123456"), Item::File("b", b"123456")],
            limits,
        )
        .unwrap_err();
        assert!(
            matches!(error, ClientError::UnpackedTooLarge { limit: 10 }),
            "{error}"
        );
    }

    #[test]
    fn file_count_limit_is_enforced() {
        let limits = Limits {
            max_files: 2,
            ..Limits::default()
        };
        let error = unpack_items(
            &[
                Item::File("a", b"1"),
                Item::File("b", b"2"),
                Item::File("c", b"3"),
            ],
            limits,
        )
        .unwrap_err();
        assert!(
            matches!(error, ClientError::TooManyFiles { limit: 2 }),
            "{error}"
        );
    }

    #[test]
    fn garbage_is_an_invalid_archive() {
        let error =
            unpack_into_temporary_dir(&b"not a tarball"[..], Limits::default()).unwrap_err();
        assert!(matches!(error, ClientError::InvalidArchive(_)), "{error}");
    }

    #[test]
    fn digest_must_be_sha256_and_match() {
        let mut hasher = Sha256::new();
        hasher.update(b"abc");
        let good = format!("sha256:{}", hex::encode(Sha256::digest(b"abc")));
        assert!(verify_digest(&good, hasher.clone()).is_ok());
        assert!(matches!(
            verify_digest("sha256:00", hasher.clone()),
            Err(ClientError::DigestMismatch { .. })
        ));
        assert!(matches!(
            verify_digest("md5:00", hasher),
            Err(ClientError::UnsupportedDigest(_))
        ));
    }
}
