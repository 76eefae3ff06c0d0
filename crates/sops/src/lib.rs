//! SOPS decryption as Flux's kustomize-controller does it, without Kubernetes and without I/O.
//!
//! - [`Identities`]: age X25519 identities (`AGE-SECRET-KEY-1…`, as in `*.agekey` Secret
//!   entries) that unwrap the data key from `sops.age[].enc`.
//! - [`decrypt`]: a YAML, JSON, dotenv or binary document in, the plaintext document out (in the
//!   same or another format, as Flux's `SopsDecryptWithFormat`).
//! - [`decrypt_value`]: an already parsed object (a Kubernetes resource) decrypted in place,
//!   key order kept and the `sops` metadata removed.
//! - [`verify_mac`](Options::verify_mac): the MAC check SOPS does, on by default. Flux skips it for
//!   resources, because kustomize adds fields (labels, namespaces) the MAC did not cover.
//!
//! Errors never contain plaintext, data keys or identities.

mod age;
mod cipher;
mod error;
mod formats;
mod metadata;
mod shamir;
mod tree;
mod yaml_emit;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests;

use serde_json::{Map, Value};

pub use age::{Identities, MAX_ARMORED, MAX_IDENTITIES, MAX_IDENTITY_TEXT, MAX_STANZAS};
pub use error::{Error, Result};
pub use formats::Format;

/// Largest document [`decrypt`] reads (Flux's `maxEncryptedFileSize`, 5 MiB).
pub const MAX_DOCUMENT_SIZE: usize = 5 << 20;

/// How strictly to decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Recompute the MAC over the decrypted values and fail when it differs from the stored one.
    pub verify_mac: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { verify_mac: true }
    }
}

/// Decrypts a SOPS document of format `input` and writes the plaintext as `output`.
pub fn decrypt(
    data: &[u8],
    input: Format,
    output: Format,
    identities: &Identities,
    options: Options,
) -> Result<Vec<u8>> {
    if data.len() > MAX_DOCUMENT_SIZE {
        return Err(Error::TooLarge {
            what: "encrypted document",
            size: data.len(),
            limit: MAX_DOCUMENT_SIZE,
        });
    }
    let mut loaded = formats::load(data, input)?;
    decrypt_branches(&mut loaded.branches, &loaded.metadata, identities, options)?;
    formats::emit(&loaded.branches, output)
}

/// Decrypts a parsed SOPS JSON/YAML document (a mapping with a top-level `sops` key) in place.
/// The document is left untouched when decryption fails.
pub fn decrypt_value(
    document: &mut Value,
    identities: &Identities,
    options: Options,
) -> Result<()> {
    let Value::Object(map) = document else {
        return Err(Error::MetadataNotFound);
    };
    let size = serde_json::to_vec(map)
        .map(|bytes| bytes.len())
        .unwrap_or(0);
    if size > MAX_DOCUMENT_SIZE {
        return Err(Error::TooLarge {
            what: "encrypted document",
            size,
            limit: MAX_DOCUMENT_SIZE,
        });
    }
    let mut loaded = formats::extract_metadata(vec![map.clone()])?;
    decrypt_branches(&mut loaded.branches, &loaded.metadata, identities, options)?;
    if let Some(decrypted) = loaded.branches.pop() {
        *map = decrypted;
    }
    Ok(())
}

fn decrypt_branches(
    branches: &mut [Map<String, Value>],
    metadata: &Value,
    identities: &Identities,
    options: Options,
) -> Result<()> {
    let metadata = metadata::Metadata::from_value(metadata)?;
    let key = metadata.data_key(identities)?;
    let mut decryptor = tree::Decryptor::new(&metadata, key);
    for branch in branches.iter_mut() {
        decryptor.branch(branch)?;
    }
    if options.verify_mac {
        decryptor.verify(&decryptor.mac())?;
    }
    Ok(())
}

/// Flux's `isSOPSEncryptedResource`: a top-level `sops` mapping with a non-empty `mac`.
pub fn is_encrypted_document(object: &Value) -> bool {
    object
        .get(metadata::METADATA_KEY)
        .and_then(|sops| sops.get("mac"))
        .is_some_and(|mac| match mac {
            Value::Null => false,
            Value::String(text) => !text.is_empty(),
            _ => true,
        })
}

/// Flux's `IsEncryptedSecret`: a core `v1` Secret with a top-level `sops` field.
pub fn is_encrypted_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && object.get(metadata::METADATA_KEY).is_some()
}

/// Whether `data` carries the SOPS marker of `format` (Flux decrypts files only when it does).
pub fn has_marker(data: &[u8], format: Format) -> bool {
    formats::contains(data, format.marker())
}
