//! Ed25519 key pairs in OpenSSH's formats: the private key as an unencrypted
//! `openssh-key-v1` PEM block (what `ssh-keygen -t ed25519` writes and source-controller
//! reads), the public key as an `authorized_keys` line to register as a deploy key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};

/// A generated key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct SshKeyPair {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` … block.
    pub private_pem: String,
    /// `ssh-ed25519 AAAA… <comment>`.
    pub public_line: String,
}

impl std::fmt::Debug for SshKeyPair {
    /// Never prints the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshKeyPair")
            .field("public_line", &self.public_line)
            .finish_non_exhaustive()
    }
}

/// The system random generator failed.
#[derive(Debug, thiserror::Error)]
#[error("generating an SSH key: the system random number generator failed")]
pub struct KeyGenerationFailed;

const KEY_TYPE: &[u8] = b"ssh-ed25519";

fn put_string(buffer: &mut Vec<u8>, bytes: &[u8]) {
    let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    buffer.extend_from_slice(&length.to_be_bytes());
    buffer.extend_from_slice(bytes);
}

fn public_blob(public: &[u8]) -> Vec<u8> {
    let mut blob = Vec::new();
    put_string(&mut blob, KEY_TYPE);
    put_string(&mut blob, public);
    blob
}

/// Generates an Ed25519 key pair with `comment` on both halves.
pub fn generate(comment: &str) -> Result<SshKeyPair, KeyGenerationFailed> {
    let random = SystemRandom::new();
    let mut seed = [0u8; 32];
    random.fill(&mut seed).map_err(|_| KeyGenerationFailed)?;
    let mut check = [0u8; 4];
    random.fill(&mut check).map_err(|_| KeyGenerationFailed)?;
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| KeyGenerationFailed)?;
    let public = pair.public_key().as_ref().to_vec();
    Ok(encode(&seed, &public, check, comment))
}

/// Encodes a key pair from its seed and public key (separate from [`generate`] so the format
/// can be checked against known bytes).
fn encode(seed: &[u8; 32], public: &[u8], check: [u8; 4], comment: &str) -> SshKeyPair {
    let blob = public_blob(public);
    let mut private = Vec::new();
    private.extend_from_slice(&check);
    private.extend_from_slice(&check);
    put_string(&mut private, KEY_TYPE);
    put_string(&mut private, public);
    let mut secret = seed.to_vec();
    secret.extend_from_slice(public);
    put_string(&mut private, &secret);
    put_string(&mut private, comment.as_bytes());
    // Unencrypted keys are padded to the cipher block size of "none", 8, with 1, 2, 3, ….
    let mut pad = 1u8;
    while !private.len().is_multiple_of(8) {
        private.push(pad);
        pad = pad.wrapping_add(1);
    }
    let mut body = b"openssh-key-v1\0".to_vec();
    put_string(&mut body, b"none");
    put_string(&mut body, b"none");
    put_string(&mut body, b"");
    body.extend_from_slice(&1u32.to_be_bytes());
    put_string(&mut body, &blob);
    put_string(&mut body, &private);
    let encoded = STANDARD.encode(&body);
    let mut pem = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for line in encoded.as_bytes().chunks(70) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    let mut public_line = format!("ssh-ed25519 {}", STANDARD.encode(&blob));
    if !comment.is_empty() {
        public_line.push(' ');
        public_line.push_str(comment);
    }
    SshKeyPair {
        private_pem: pem,
        public_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_line_is_an_openssh_ed25519_key() {
        let pair = generate("cc").unwrap_or_else(|e| panic!("{e}"));
        let mut parts = pair.public_line.split(' ');
        assert_eq!(parts.next(), Some("ssh-ed25519"));
        let blob = STANDARD
            .decode(parts.next().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(blob.len(), 4 + 11 + 4 + 32);
        assert_eq!(&blob[4..15], b"ssh-ed25519");
        assert_eq!(parts.next(), Some("cc"));
        assert!(
            pair.private_pem
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n")
        );
        assert!(!format!("{pair:?}").contains("PRIVATE"));
    }

    #[test]
    fn the_private_key_embeds_the_public_key_and_is_padded() {
        let seed = [7u8; 32];
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap_or_else(|e| panic!("{e}"));
        let public = pair.public_key().as_ref().to_vec();
        let encoded = encode(&seed, &public, [1, 2, 3, 4], "");
        let body: String = encoded
            .private_pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let bytes = STANDARD.decode(body).unwrap_or_else(|e| panic!("{e}"));
        assert!(bytes.starts_with(b"openssh-key-v1\0"));
        let blob = public_blob(&public);
        assert!(
            bytes
                .windows(blob.len())
                .any(|window| window == blob.as_slice())
        );
        assert_eq!(encoded.public_line.split(' ').count(), 2);
    }

    #[test]
    fn two_generated_keys_differ() {
        let a = generate("").unwrap_or_else(|e| panic!("{e}"));
        let b = generate("").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(a.public_line, b.public_line);
    }
}
