//! Why a document could not be decrypted.
//!
//! Messages name paths, formats and key kinds, never values, data keys or identities: they end up
//! in Kubernetes conditions and events.

/// A SOPS decryption failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An input is larger than its bound.
    #[error("{what} is too large ({size} bytes, the limit is {limit})")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// An age identity could not be read.
    #[error("invalid age identity on line {line}: {reason}")]
    InvalidIdentity {
        /// 1-based line in the key text.
        line: usize,
        /// What is wrong (never the key).
        reason: &'static str,
    },
    /// The age-encrypted data key could not be read.
    #[error("malformed age file: {0}")]
    MalformedAge(String),
    /// The age file uses a recipient kind this build cannot decrypt.
    #[error("age recipient type '{0}' is not supported")]
    UnsupportedRecipient(String),
    /// None of the identities unwrapped any recipient stanza.
    #[error("no identity matched any of the recipients")]
    NoIdentityMatched,
    /// The age header or payload failed authentication.
    #[error("age decryption failed: {0}")]
    AgeAuthentication(&'static str),
    /// The document has no (usable) `sops` metadata.
    #[error("sops metadata not found")]
    MetadataNotFound,
    /// The `sops` metadata is malformed.
    #[error("invalid sops metadata: {0}")]
    InvalidMetadata(String),
    /// No master key in the metadata yielded the data key.
    #[error("cannot get sops data key: {0}")]
    DataKey(String),
    /// The document could not be parsed in its format.
    #[error("failed to load encrypted {format} data: {reason}")]
    Parse {
        /// The format (YAML, JSON, dotenv, binary).
        format: &'static str,
        /// What is wrong (positions and structure only).
        reason: String,
    },
    /// A value is not in SOPS's `ENC[AES256_GCM,…]` format.
    #[error("value at '{path}' does not match sops' data format")]
    MalformedValue {
        /// The value's path, `:`-joined as SOPS builds its additional data.
        path: String,
    },
    /// A value failed AES-GCM authentication (wrong data key or tampered value or path).
    #[error("could not decrypt value at '{path}' with AES_GCM: message authentication failed")]
    ValueAuthentication {
        /// The value's path.
        path: String,
    },
    /// A decrypted value does not parse as its declared type.
    #[error("value at '{path}' does not parse as its declared type '{datatype}'")]
    BadValueType {
        /// The value's path.
        path: String,
        /// The declared type.
        datatype: String,
    },
    /// The MAC over the decrypted values differs from the stored one.
    #[error("failed to verify sops data integrity: MAC mismatch")]
    MacMismatch,
    /// The decrypted tree cannot be written in the requested output format.
    #[error("failed to emit decrypted data as {format}: {reason}")]
    Emit {
        /// The output format.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
