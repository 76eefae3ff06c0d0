//! Persistence under a data directory: a write-ahead log of changes plus a snapshot, and the
//! credentials a kubeconfig depends on.
//!
//! Every change the store records (the same change watches see) is appended to
//! `changes.log` and flushed to disk with `fdatasync` before the lock is released, so before
//! the response that acknowledges it. Each record is framed as a 4-byte little-endian length,
//! the first 8 bytes of the payload's SHA-256 and the JSON payload; a record cut short by a
//! crash mid-append, or whose checksum does not match, ends the log there and is truncated
//! away on the next start (it was never acknowledged). When the log grows past a threshold,
//! and at every start, the whole state (every object, the resourceVersion counter and the
//! last [`PERSISTED_HISTORY`] changes, so watches resume across restarts) is written to
//! `state.json.tmp`, synced, renamed over `state.json`, and the log is emptied. A crash
//! between the rename and the truncation leaves log records the snapshot already covers;
//! replay skips them by resourceVersion.
//!
//! `ca.pem`, `ca-key.pem`, `serving-key.pem` and `token` are created once (mode 0600) and
//! reused, so a kubeconfig written before a restart still verifies the server and
//! authenticates after it. An exclusive lock on `lock` keeps a second server out.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::store::{Change, EventType, ObjectKey};
use crate::tls::KeyMaterial;

const SNAPSHOT: &str = "state.json";
const SNAPSHOT_TEMPORARY: &str = "state.json.tmp";
const LOG: &str = "changes.log";
const TOKEN: &str = "token";
const AUTHORITY_CERTIFICATE: &str = "ca.pem";
const AUTHORITY_KEY: &str = "ca-key.pem";
const SERVING_KEY: &str = "serving-key.pem";
const LOCK: &str = "lock";
const FORMAT: u32 = 1;

/// The largest log record read back; one object is at most a few MiB (request bodies are
/// limited), so anything larger is corruption.
const MAX_RECORD_BYTES: u32 = 64 * 1024 * 1024;
/// The largest snapshot read back.
const MAX_SNAPSHOT_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// The largest credential file read back.
const MAX_SECRET_BYTES: u64 = 64 * 1024;
/// The log is compacted into the snapshot once it holds this many bytes...
const COMPACT_AFTER_BYTES: u64 = 64 * 1024 * 1024;
/// ...or this many records.
const COMPACT_AFTER_RECORDS: u64 = 20_000;
/// How many of the latest changes the snapshot keeps for watches resuming after a restart.
pub(crate) const PERSISTED_HISTORY: usize = 10_000;
const HEADER_BYTES: usize = 12;

/// Why the data directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Reading or writing a file failed.
    #[error("data directory: {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// Another server holds the data directory.
    #[error("data directory {path} is in use by another dev cluster")]
    InUse {
        /// The directory.
        path: String,
    },
    /// A file holds something the server did not write.
    #[error("data directory: {path}: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn corrupt(path: &Path, message: impl Into<String>) -> DataDirError {
    DataDirError::Corrupt {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// A change as stored on disk.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredChange {
    #[serde(rename = "resourceVersion")]
    pub(crate) resource_version: u64,
    #[serde(rename = "type")]
    pub(crate) event_type: StoredEvent,
    pub(crate) key: ObjectKey,
    pub(crate) object: Value,
}

#[derive(Serialize)]
struct ChangeRef<'a> {
    #[serde(rename = "resourceVersion")]
    resource_version: u64,
    #[serde(rename = "type")]
    event_type: StoredEvent,
    key: &'a ObjectKey,
    object: &'a Value,
}

/// The event type as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoredEvent {
    /// Created.
    #[serde(rename = "ADDED")]
    Added,
    /// Changed.
    #[serde(rename = "MODIFIED")]
    Modified,
    /// Removed.
    #[serde(rename = "DELETED")]
    Deleted,
}

impl From<EventType> for StoredEvent {
    fn from(event_type: EventType) -> Self {
        match event_type {
            EventType::Added => StoredEvent::Added,
            EventType::Modified => StoredEvent::Modified,
            EventType::Deleted => StoredEvent::Deleted,
        }
    }
}

impl From<StoredEvent> for EventType {
    fn from(event_type: StoredEvent) -> Self {
        match event_type {
            StoredEvent::Added => EventType::Added,
            StoredEvent::Modified => EventType::Modified,
            StoredEvent::Deleted => EventType::Deleted,
        }
    }
}

#[derive(Serialize)]
struct ObjectRef<'a> {
    key: &'a ObjectKey,
    object: &'a Value,
}

#[derive(Deserialize)]
struct StoredObject {
    key: ObjectKey,
    object: Value,
}

#[derive(Serialize)]
struct SnapshotRef<'a> {
    format: u32,
    #[serde(rename = "resourceVersion")]
    resource_version: u64,
    #[serde(rename = "logFloor")]
    log_floor: u64,
    objects: Vec<ObjectRef<'a>>,
    changes: Vec<ChangeRef<'a>>,
}

#[derive(Deserialize)]
struct SnapshotFile {
    format: u32,
    #[serde(rename = "resourceVersion")]
    resource_version: u64,
    #[serde(rename = "logFloor")]
    log_floor: u64,
    objects: Vec<StoredObject>,
    changes: Vec<StoredChange>,
}

/// The state read back from a data directory.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// The last resourceVersion handed out.
    pub(crate) resource_version: u64,
    /// Every change above this resourceVersion is in `changes`.
    pub(crate) log_floor: u64,
    /// Every object.
    pub(crate) objects: BTreeMap<ObjectKey, Value>,
    /// Recent changes, oldest first.
    pub(crate) changes: Vec<StoredChange>,
}

impl Loaded {
    fn apply(&mut self, change: StoredChange) {
        match change.event_type {
            StoredEvent::Deleted => {
                self.objects.remove(&change.key);
            }
            StoredEvent::Added | StoredEvent::Modified => {
                self.objects
                    .insert(change.key.clone(), change.object.clone());
            }
        }
        self.resource_version = change.resource_version;
        self.changes.push(change);
    }
}

/// The open write-ahead log of a data directory.
pub(crate) struct Journal {
    directory: PathBuf,
    /// Holds an exclusive lock on the directory's lock file while the journal is open: two
    /// servers appending to one log would corrupt it.
    _lock: File,
    log: File,
    log_bytes: u64,
    log_records: u64,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Journal")
            .field("directory", &self.directory)
            .finish_non_exhaustive()
    }
}

fn create_private_directory(directory: &Path) -> Result<(), DataDirError> {
    std::fs::create_dir_all(directory).map_err(io_error(directory))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))
            .map_err(io_error(directory))?;
    }
    Ok(())
}

fn sync_directory(directory: &Path) -> Result<(), DataDirError> {
    // Makes a rename durable; directories can be opened read-only and synced on Unix.
    #[cfg(unix)]
    File::open(directory)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error(directory))?;
    Ok(())
}

fn read_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, DataDirError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(path)(error)),
    };
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(path))?;
    if bytes.len() as u64 > limit {
        return Err(corrupt(path, format!("larger than {limit} bytes")));
    }
    Ok(Some(bytes))
}

impl Journal {
    /// Opens (creating when absent) a data directory and reads back its state. The log tail
    /// a crash left half-written is cut off.
    pub(crate) fn open(directory: &Path) -> Result<(Journal, Loaded), DataDirError> {
        create_private_directory(directory)?;
        let lock_path = directory.join(LOCK);
        let lock = private_options()
            .write(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(DataDirError::InUse {
                    path: directory.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(io_error(&lock_path)(error)),
        }
        let mut loaded = read_snapshot(&directory.join(SNAPSHOT))?;
        let log_path = directory.join(LOG);
        let valid_bytes = replay_log(&log_path, &mut loaded)?;
        let log = private_options()
            .append(true)
            .open(&log_path)
            .map_err(io_error(&log_path))?;
        let length = log.metadata().map_err(io_error(&log_path))?.len();
        if length > valid_bytes {
            tracing::warn!(
                path = %log_path.display(),
                dropped_bytes = length - valid_bytes,
                "cutting off an incomplete or damaged tail of the change log (an unacknowledged write)"
            );
            log.set_len(valid_bytes).map_err(io_error(&log_path))?;
            log.sync_all().map_err(io_error(&log_path))?;
        }
        Ok((
            Journal {
                directory: directory.to_path_buf(),
                _lock: lock,
                log,
                log_bytes: valid_bytes,
                log_records: 0,
            },
            loaded,
        ))
    }

    /// Appends one change and flushes it to disk.
    pub(crate) fn append(&mut self, change: &Change) -> Result<(), DataDirError> {
        let payload = serde_json::to_vec(&ChangeRef {
            resource_version: change.resource_version,
            event_type: change.event_type.into(),
            key: &change.key,
            object: &change.object,
        })
        .map_err(|error| corrupt(&self.directory.join(LOG), error.to_string()))?;
        let length = u32::try_from(payload.len())
            .ok()
            .filter(|length| *length <= MAX_RECORD_BYTES)
            .ok_or_else(|| {
                corrupt(
                    &self.directory.join(LOG),
                    format!("a change of {} bytes is too large to log", payload.len()),
                )
            })?;
        let mut record = Vec::with_capacity(HEADER_BYTES + payload.len());
        record.extend_from_slice(&length.to_le_bytes());
        record.extend_from_slice(&checksum(&payload));
        record.extend_from_slice(&payload);
        let path = self.directory.join(LOG);
        self.log.write_all(&record).map_err(io_error(&path))?;
        self.log.sync_data().map_err(io_error(&path))?;
        self.log_bytes += record.len() as u64;
        self.log_records += 1;
        Ok(())
    }

    /// Whether the log has grown enough to fold into the snapshot.
    pub(crate) fn wants_compaction(&self) -> bool {
        self.log_bytes >= COMPACT_AFTER_BYTES || self.log_records >= COMPACT_AFTER_RECORDS
    }

    /// Writes a snapshot of the whole state and empties the log.
    pub(crate) fn compact<'a>(
        &mut self,
        resource_version: u64,
        log_floor: u64,
        objects: impl Iterator<Item = (&'a ObjectKey, &'a Value)>,
        changes: impl Iterator<Item = &'a Change>,
    ) -> Result<(), DataDirError> {
        let snapshot = SnapshotRef {
            format: FORMAT,
            resource_version,
            log_floor,
            objects: objects
                .map(|(key, object)| ObjectRef { key, object })
                .collect(),
            changes: changes
                .map(|change| ChangeRef {
                    resource_version: change.resource_version,
                    event_type: change.event_type.into(),
                    key: &change.key,
                    object: &change.object,
                })
                .collect(),
        };
        let temporary = self.directory.join(SNAPSHOT_TEMPORARY);
        let file = private_options()
            .write(true)
            .truncate(true)
            .open(&temporary)
            .map_err(io_error(&temporary))?;
        let mut writer = BufWriter::new(file);
        serde_json::to_writer(&mut writer, &snapshot)
            .map_err(|error| corrupt(&temporary, error.to_string()))?;
        let file = writer
            .into_inner()
            .map_err(|error| io_error(&temporary)(error.into_error()))?;
        file.sync_all().map_err(io_error(&temporary))?;
        drop(file);
        let target = self.directory.join(SNAPSHOT);
        std::fs::rename(&temporary, &target).map_err(io_error(&target))?;
        sync_directory(&self.directory)?;
        let log_path = self.directory.join(LOG);
        self.log.set_len(0).map_err(io_error(&log_path))?;
        self.log.sync_all().map_err(io_error(&log_path))?;
        self.log_bytes = 0;
        self.log_records = 0;
        Ok(())
    }
}

fn checksum(payload: &[u8]) -> [u8; 8] {
    let digest = Sha256::digest(payload);
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&digest[..8]);
    sum
}

fn read_snapshot(path: &Path) -> Result<Loaded, DataDirError> {
    let Some(bytes) = read_bounded(path, MAX_SNAPSHOT_BYTES)? else {
        return Ok(Loaded::default());
    };
    let snapshot: SnapshotFile = serde_json::from_slice(&bytes)
        .map_err(|error| corrupt(path, format!("unreadable snapshot: {error}")))?;
    if snapshot.format != FORMAT {
        return Err(corrupt(
            path,
            format!("unknown snapshot format {}", snapshot.format),
        ));
    }
    Ok(Loaded {
        resource_version: snapshot.resource_version,
        log_floor: snapshot.log_floor,
        objects: snapshot
            .objects
            .into_iter()
            .map(|stored| (stored.key, stored.object))
            .collect(),
        changes: snapshot.changes,
    })
}

/// Applies the log's records newer than the snapshot; returns how many leading bytes of the
/// log are whole, valid records.
fn replay_log(path: &Path, loaded: &mut Loaded) -> Result<u64, DataDirError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(io_error(path)(error)),
    };
    let mut reader = BufReader::new(file);
    let mut valid = 0u64;
    loop {
        let mut header = [0u8; HEADER_BYTES];
        match read_full(&mut reader, &mut header).map_err(io_error(path))? {
            0 => return Ok(valid),
            read if read < HEADER_BYTES => return Ok(valid),
            _ => {}
        }
        let mut length = [0u8; 4];
        length.copy_from_slice(&header[..4]);
        let length = u32::from_le_bytes(length);
        if length > MAX_RECORD_BYTES {
            return Ok(valid);
        }
        let mut payload = vec![0u8; length as usize];
        if read_full(&mut reader, &mut payload).map_err(io_error(path))? < payload.len() {
            return Ok(valid);
        }
        if checksum(&payload) != header[4..] {
            return Ok(valid);
        }
        let Ok(change) = serde_json::from_slice::<StoredChange>(&payload) else {
            return Ok(valid);
        };
        valid += (HEADER_BYTES + payload.len()) as u64;
        // Records the snapshot already holds (a crash after compaction's rename but before
        // the log was emptied) are skipped.
        if change.resource_version > loaded.resource_version {
            loaded.apply(change);
        }
    }
}

/// Reads until `buffer` is full or the end of the input; returns how much was read.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Serves the resources of every stored CustomResourceDefinition again.
pub(crate) fn register_definitions(inner: &mut crate::store::Inner) {
    let definitions: Vec<Value> = inner
        .list("apiextensions.k8s.io", "customresourcedefinitions", None)
        .map(|(_, definition)| definition.clone())
        .collect();
    for definition in definitions {
        let text = |pointer: &str| {
            definition
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (group, plural) = (text("/spec/group"), text("/spec/names/plural"));
        inner
            .registry
            .replace(&group, &plural, crate::crd::resource_types(&definition));
    }
}

/// Options creating files only the owner can read: objects include Secrets, and the
/// credentials files are credentials.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn write_private(path: &Path, contents: &str) -> Result<(), DataDirError> {
    let mut file = private_options()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(io_error(path))?;
    file.write_all(contents.as_bytes())
        .map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

fn read_text(path: &Path) -> Result<Option<String>, DataDirError> {
    read_bounded(path, MAX_SECRET_BYTES)?
        .map(|bytes| String::from_utf8(bytes).map_err(|_| corrupt(path, "not UTF-8 text")))
        .transpose()
}

/// The bearer token: `explicit` when given (and stored for later starts), else the stored one,
/// else `generated` (stored).
pub(crate) fn token(
    directory: &Path,
    explicit: Option<&str>,
    generated: &str,
) -> Result<String, DataDirError> {
    create_private_directory(directory)?;
    let path = directory.join(TOKEN);
    if let Some(token) = explicit {
        write_private(&path, token)?;
        return Ok(token.to_string());
    }
    if let Some(stored) = read_text(&path)? {
        let stored = stored.trim();
        if !stored.is_empty() {
            return Ok(stored.to_string());
        }
    }
    write_private(&path, generated)?;
    Ok(generated.to_string())
}

/// The CA and serving key: the stored ones, or new ones (stored).
pub(crate) fn key_material(directory: &Path) -> Result<KeyMaterial, DataDirError> {
    create_private_directory(directory)?;
    let paths =
        [AUTHORITY_CERTIFICATE, AUTHORITY_KEY, SERVING_KEY].map(|name| directory.join(name));
    let stored: Vec<Option<String>> = paths
        .iter()
        .map(|path| read_text(path))
        .collect::<Result<_, _>>()?;
    if let [Some(certificate), Some(key), Some(serving)] = stored.as_slice() {
        return Ok(KeyMaterial {
            authority_certificate_pem: certificate.clone(),
            authority_key_pem: key.clone(),
            serving_key_pem: serving.clone(),
        });
    }
    let material = crate::tls::new_key_material()
        .map_err(|error| corrupt(directory, format!("cannot generate certificates: {error}")))?;
    write_private(&paths[0], &material.authority_certificate_pem)?;
    write_private(&paths[1], &material.authority_key_pem)?;
    write_private(&paths[2], &material.serving_key_pem)?;
    Ok(material)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn directory(name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "eddy-persist-{name}-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let _ = std::fs::remove_dir_all(&path);
        path
    }

    fn change(resource_version: u64, name: &str) -> Change {
        Change {
            resource_version,
            event_type: EventType::Added,
            key: ObjectKey::new("", "configmaps", "default", name),
            object: json!({"metadata": {"name": name, "resourceVersion": resource_version.to_string()}}),
            previous: None,
        }
    }

    #[test]
    fn appended_changes_are_read_back_after_reopening() {
        let path = directory("reopen");
        let Ok((mut journal, _)) = Journal::open(&path) else {
            panic!("open failed");
        };
        for (version, name) in [(1, "a"), (2, "b")] {
            assert!(journal.append(&change(version, name)).is_ok());
        }
        drop(journal);
        let Ok((_, loaded)) = Journal::open(&path) else {
            panic!("reopen failed");
        };
        assert_eq!(loaded.resource_version, 2);
        assert_eq!(loaded.objects.len(), 2);
        assert_eq!(loaded.changes.len(), 2);
        let _ = std::fs::remove_dir_all(&path);
    }

    #[test]
    fn a_torn_record_at_the_end_is_cut_off() {
        let path = directory("torn");
        let Ok((mut journal, _)) = Journal::open(&path) else {
            panic!("open failed");
        };
        assert!(journal.append(&change(1, "a")).is_ok());
        assert!(journal.append(&change(2, "b")).is_ok());
        drop(journal);
        let log = path.join(LOG);
        let length = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let file = OpenOptions::new().write(true).open(&log);
        assert!(file.and_then(|file| file.set_len(length - 5)).is_ok());
        let Ok((mut journal, loaded)) = Journal::open(&path) else {
            panic!("reopen failed");
        };
        assert_eq!(loaded.resource_version, 1);
        assert!(journal.append(&change(2, "c")).is_ok());
        drop(journal);
        let Ok((_, loaded)) = Journal::open(&path) else {
            panic!("third open failed");
        };
        let names: Vec<&str> = loaded.objects.keys().map(|key| key.name.as_str()).collect();
        assert_eq!(names, vec!["a", "c"]);
        let _ = std::fs::remove_dir_all(&path);
    }

    #[test]
    fn compaction_keeps_the_state_and_empties_the_log() {
        let path = directory("compact");
        let Ok((mut journal, _)) = Journal::open(&path) else {
            panic!("open failed");
        };
        let first = Arc::new(change(1, "a"));
        assert!(journal.append(&first).is_ok());
        let objects = BTreeMap::from([(first.key.clone(), first.object.clone())]);
        assert!(
            journal
                .compact(1, 0, objects.iter(), std::iter::once(first.as_ref()))
                .is_ok()
        );
        assert_eq!(
            std::fs::metadata(path.join(LOG)).map(|m| m.len()).ok(),
            Some(0)
        );
        assert!(journal.append(&change(2, "b")).is_ok());
        drop(journal);
        let Ok((_, loaded)) = Journal::open(&path) else {
            panic!("reopen failed");
        };
        assert_eq!(loaded.resource_version, 2);
        assert_eq!(loaded.objects.len(), 2);
        assert_eq!(loaded.changes.len(), 2);
        let _ = std::fs::remove_dir_all(&path);
    }

    #[test]
    fn a_directory_in_use_is_refused_until_its_journal_closes() {
        let path = directory("lock");
        let Ok((journal, _)) = Journal::open(&path) else {
            panic!("open failed");
        };
        assert!(matches!(
            Journal::open(&path),
            Err(DataDirError::InUse { .. })
        ));
        drop(journal);
        assert!(Journal::open(&path).is_ok());
        let _ = std::fs::remove_dir_all(&path);
    }

    #[test]
    fn a_stored_token_is_reused_unless_another_is_given() {
        let path = directory("token");
        assert_eq!(token(&path, None, "first").ok().as_deref(), Some("first"));
        assert_eq!(token(&path, None, "second").ok().as_deref(), Some("first"));
        assert_eq!(
            token(&path, Some("given"), "third").ok().as_deref(),
            Some("given")
        );
        assert_eq!(token(&path, None, "fourth").ok().as_deref(), Some("given"));
        let _ = std::fs::remove_dir_all(&path);
    }
}
