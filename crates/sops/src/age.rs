//! age (https://age-encryption.org/v1, C2SP) decryption for X25519 identities, enough to unwrap
//! the data key SOPS stores under `sops.age[].enc`: ASCII armor, the header with its recipient
//! stanzas and HMAC, and the ChaCha20-Poly1305 STREAM payload.
//!
//! Post-quantum (`mlkem768x25519`), scrypt, SSH and plugin recipients are refused with a clear
//! error rather than half supported.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ring::{aead, hkdf, hmac};
use x25519_dalek::{PublicKey, StaticSecret};

use crate::error::{Error, Result};

/// Largest key text [`Identities::import`] reads (a key file holds ~100 bytes per identity).
pub const MAX_IDENTITY_TEXT: usize = 256 * 1024;
/// Most identities one [`Identities`] holds.
pub const MAX_IDENTITIES: usize = 1024;
/// Largest armored age file read (a SOPS data key file is ~400 bytes).
pub const MAX_ARMORED: usize = 64 * 1024;
/// Most recipient stanzas read from one age header (each costs an X25519 operation per
/// identity, so the bound keeps a hostile document's cost small).
pub const MAX_STANZAS: usize = 64;

const SECRET_KEY_HRP: &str = "age-secret-key-";
const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
const ARMOR_END: &str = "-----END AGE ENCRYPTED FILE-----";
const VERSION_LINE: &[u8] = b"age-encryption.org/v1";
const X25519_INFO: &[u8] = b"age-encryption.org/v1/X25519";
const STREAM_CHUNK: usize = 64 * 1024;
const TAG_LEN: usize = 16;
const FILE_KEY_LEN: usize = 16;

/// One X25519 identity: the secret scalar and the recipient (public key) derived from it.
struct Identity {
    secret: StaticSecret,
    recipient: [u8; 32],
}

/// A set of age X25519 identities (`AGE-SECRET-KEY-1…`). Its `Debug` output never shows keys.
#[derive(Default)]
pub struct Identities {
    keys: Vec<Identity>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identities({} keys)", self.keys.len())
    }
}

impl Identities {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `text` as age-keygen writes it (one identity a line; empty lines and lines
    /// starting with `#` ignored) and adds its identities, as SOPS's `ParsedIdentities.Import`.
    pub fn import(&mut self, text: &str) -> Result<()> {
        if text.len() > MAX_IDENTITY_TEXT {
            return Err(Error::TooLarge {
                what: "age key text",
                size: text.len(),
                limit: MAX_IDENTITY_TEXT,
            });
        }
        let mut parsed = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let invalid = |reason| Error::InvalidIdentity {
                line: index + 1,
                reason,
            };
            if line.starts_with("AGE-SECRET-KEY-PQ-1") {
                return Err(invalid(
                    "post-quantum (ML-KEM) identities are not supported",
                ));
            }
            if line.starts_with("AGE-PLUGIN-") {
                return Err(invalid("age plugin identities are not supported"));
            }
            if !line.starts_with("AGE-SECRET-KEY-1") {
                return Err(invalid("unknown identity type"));
            }
            let bytes = bech32_decode(line, SECRET_KEY_HRP).map_err(invalid)?;
            let scalar: [u8; 32] = bytes
                .try_into()
                .map_err(|_| invalid("an X25519 secret key is 32 bytes"))?;
            let secret = StaticSecret::from(scalar);
            let recipient = PublicKey::from(&secret).to_bytes();
            parsed.push(Identity { secret, recipient });
        }
        if self.keys.len() + parsed.len() > MAX_IDENTITIES {
            return Err(Error::TooLarge {
                what: "age identity set",
                size: self.keys.len() + parsed.len(),
                limit: MAX_IDENTITIES,
            });
        }
        self.keys.extend(parsed);
        Ok(())
    }

    /// How many identities the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The recipients (`age1…`) of the identities, for diagnostics.
    pub fn recipients(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|key| bech32_encode("age", &key.recipient))
            .collect()
    }
}

/// Decrypts an ASCII-armored age file (SOPS's `enc`) with the first identity that unwraps one of
/// its X25519 stanzas.
pub(crate) fn decrypt_armored(armored: &str, identities: &Identities) -> Result<Vec<u8>> {
    if armored.len() > MAX_ARMORED {
        return Err(Error::TooLarge {
            what: "armored age file",
            size: armored.len(),
            limit: MAX_ARMORED,
        });
    }
    let binary = dearmor(armored)?;
    decrypt_binary(&binary, identities)
}

/// Decrypts a binary age file.
pub(crate) fn decrypt_binary(file: &[u8], identities: &Identities) -> Result<Vec<u8>> {
    let header = parse_header(file)?;
    let file_key = unwrap_file_key(&header.stanzas, identities)?;
    let mac_key = hkdf_sha256(&file_key, &[], b"header")?;
    let mac_key = hmac::Key::new(hmac::HMAC_SHA256, &mac_key);
    hmac::verify(&mac_key, &file[..header.mac_input_len], &header.mac)
        .map_err(|_| Error::AgeAuthentication("header MAC mismatch"))?;
    decrypt_payload(&file_key, &file[header.payload_start..])
}

struct Stanza {
    kind: String,
    args: Vec<String>,
    body: Vec<u8>,
}

struct Header {
    stanzas: Vec<Stanza>,
    /// Bytes covered by the header MAC: everything up to and including `---`.
    mac_input_len: usize,
    mac: Vec<u8>,
    payload_start: usize,
}

fn malformed(reason: &str) -> Error {
    Error::MalformedAge(reason.to_string())
}

fn dearmor(armored: &str) -> Result<Vec<u8>> {
    let text = armored.trim();
    let inner = text
        .strip_prefix(ARMOR_BEGIN)
        .and_then(|rest| rest.strip_suffix(ARMOR_END))
        .ok_or_else(|| malformed("missing armor begin or end line"))?;
    let mut encoded = String::with_capacity(inner.len());
    let lines: Vec<&str> = inner
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.is_empty())
        .collect();
    for (index, line) in lines.iter().enumerate() {
        if line.len() > 64 || (index + 1 < lines.len() && line.len() != 64) {
            return Err(malformed("armor lines must be 64 columns"));
        }
        encoded.push_str(line);
    }
    STANDARD
        .decode(encoded.as_bytes())
        .map_err(|_| malformed("armor is not valid base64"))
}

/// Splits off the next `\n`-terminated line starting at `start`.
fn next_line(file: &[u8], start: usize) -> Result<(&[u8], usize)> {
    let rest = file
        .get(start..)
        .ok_or_else(|| malformed("truncated header"))?;
    let end = rest
        .iter()
        .position(|&byte| byte == b'\n')
        .ok_or_else(|| malformed("truncated header"))?;
    Ok((&rest[..end], start + end + 1))
}

fn parse_header(file: &[u8]) -> Result<Header> {
    let (version, mut position) = next_line(file, 0)?;
    if version != VERSION_LINE {
        return Err(malformed("unsupported age format version"));
    }
    let mut stanzas = Vec::new();
    loop {
        let line_start = position;
        let (line, after) = next_line(file, position)?;
        position = after;
        if let Some(mac) = line.strip_prefix(b"--- ") {
            let mac = STANDARD_NO_PAD
                .decode(mac)
                .map_err(|_| malformed("header MAC is not valid base64"))?;
            if mac.len() != 32 {
                return Err(malformed("header MAC must be 32 bytes"));
            }
            if stanzas.is_empty() {
                return Err(malformed("header has no recipient stanza"));
            }
            return Ok(Header {
                stanzas,
                mac_input_len: line_start + 3,
                mac,
                payload_start: position,
            });
        }
        let arguments = line
            .strip_prefix(b"-> ")
            .ok_or_else(|| malformed("expected a recipient stanza or the header MAC"))?;
        if stanzas.len() == MAX_STANZAS {
            return Err(Error::TooLarge {
                what: "age header (recipient stanzas)",
                size: MAX_STANZAS + 1,
                limit: MAX_STANZAS,
            });
        }
        let arguments =
            std::str::from_utf8(arguments).map_err(|_| malformed("stanza is not ASCII"))?;
        let mut words = arguments.split(' ');
        let kind = words
            .next()
            .filter(|kind| !kind.is_empty())
            .ok_or_else(|| malformed("stanza without a type"))?
            .to_string();
        let args: Vec<String> = words.map(str::to_string).collect();
        if args.iter().any(String::is_empty) {
            return Err(malformed("empty stanza argument"));
        }
        // The body is base64 in lines of 64 columns; the first shorter line (maybe empty) ends it.
        let mut encoded = Vec::new();
        loop {
            let (body_line, after) = next_line(file, position)?;
            position = after;
            if body_line.len() > 64 {
                return Err(malformed("stanza body line longer than 64 columns"));
            }
            encoded.extend_from_slice(body_line);
            if body_line.len() < 64 {
                break;
            }
            if encoded.len() > MAX_ARMORED {
                return Err(malformed("stanza body too large"));
            }
        }
        let body = STANDARD_NO_PAD
            .decode(&encoded)
            .map_err(|_| malformed("stanza body is not canonical base64"))?;
        stanzas.push(Stanza { kind, args, body });
    }
}

fn unwrap_file_key(stanzas: &[Stanza], identities: &Identities) -> Result<Vec<u8>> {
    let mut unsupported = Vec::new();
    let mut x25519_seen = false;
    for stanza in stanzas {
        match stanza.kind.as_str() {
            "X25519" => {
                x25519_seen = true;
                if stanza.args.len() != 1 {
                    return Err(malformed("X25519 stanza must have one argument"));
                }
                let share: [u8; 32] = STANDARD_NO_PAD
                    .decode(&stanza.args[0])
                    .ok()
                    .and_then(|share| share.try_into().ok())
                    .ok_or_else(|| malformed("X25519 share must be 32 bytes of base64"))?;
                if stanza.body.len() != FILE_KEY_LEN + TAG_LEN {
                    return Err(malformed("X25519 stanza body must be 32 bytes"));
                }
                for identity in &identities.keys {
                    if let Some(file_key) = unwrap_x25519(identity, &share, &stanza.body)? {
                        return Ok(file_key);
                    }
                }
            }
            "scrypt" | "mlkem768x25519" | "ssh-rsa" | "ssh-ed25519" => {
                unsupported.push(stanza.kind.clone());
            }
            kind if kind.starts_with("age-plugin-") => unsupported.push(stanza.kind.clone()),
            // Unknown stanzas (including age's "grease") are skipped, as the spec requires.
            _ => {}
        }
    }
    if !x25519_seen && let Some(kind) = unsupported.into_iter().next() {
        return Err(Error::UnsupportedRecipient(kind));
    }
    Err(Error::NoIdentityMatched)
}

fn unwrap_x25519(identity: &Identity, share: &[u8; 32], body: &[u8]) -> Result<Option<Vec<u8>>> {
    let shared = identity.secret.diffie_hellman(&PublicKey::from(*share));
    if !shared.was_contributory() {
        return Err(malformed("X25519 share is a low-order point"));
    }
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(share);
    salt[32..].copy_from_slice(&identity.recipient);
    let wrap_key = hkdf_sha256(shared.as_bytes(), &salt, X25519_INFO)?;
    let mut buffer = body.to_vec();
    Ok(chacha_open(&wrap_key, [0u8; 12], &mut buffer).map(|plain| plain.to_vec()))
}

fn decrypt_payload(file_key: &[u8], payload: &[u8]) -> Result<Vec<u8>> {
    const NONCE_LEN: usize = 16;
    if payload.len() > MAX_ARMORED {
        return Err(malformed("payload too large"));
    }
    if payload.len() < NONCE_LEN + TAG_LEN {
        return Err(malformed("truncated payload"));
    }
    let (nonce, mut rest) = payload.split_at(NONCE_LEN);
    let key = hkdf_sha256(file_key, nonce, b"payload")?;
    let mut plaintext = Vec::new();
    let mut counter: u64 = 0;
    loop {
        let take = rest.len().min(STREAM_CHUNK + TAG_LEN);
        let (chunk, after) = rest.split_at(take);
        let last = after.is_empty();
        if chunk.len() < TAG_LEN || (last && chunk.len() == TAG_LEN && counter > 0) {
            return Err(malformed("truncated or empty final payload chunk"));
        }
        let mut nonce = [0u8; 12];
        nonce[3..11].copy_from_slice(&counter.to_be_bytes());
        nonce[11] = u8::from(last);
        let mut buffer = chunk.to_vec();
        let opened = chacha_open(&key, nonce, &mut buffer)
            .ok_or(Error::AgeAuthentication("payload authentication failed"))?;
        plaintext.extend_from_slice(opened);
        if last {
            return Ok(plaintext);
        }
        counter += 1;
        rest = after;
    }
}

fn chacha_open<'b>(key: &[u8; 32], nonce: [u8; 12], buffer: &'b mut [u8]) -> Option<&'b mut [u8]> {
    let key = aead::UnboundKey::new(&aead::CHACHA20_POLY1305, key).ok()?;
    let key = aead::LessSafeKey::new(key);
    key.open_in_place(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::empty(),
        buffer,
    )
    .ok()
    .map(|plain| &mut plain[..])
}

struct OutputLength(usize);

impl hkdf::KeyType for OutputLength {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA-256 with a 32-byte output, as every age key derivation uses.
pub(crate) fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8]) -> Result<[u8; 32]> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    let okm = prk
        .expand(&info, OutputLength(32))
        .map_err(|_| Error::AgeAuthentication("key derivation failed"))?;
    let mut out = [0u8; 32];
    okm.fill(&mut out)
        .map_err(|_| Error::AgeAuthentication("key derivation failed"))?;
    Ok(out)
}

const BECH32_CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GENERATOR: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let mut checksum: u32 = 1;
    for value in values {
        let top = checksum >> 25;
        checksum = ((checksum & 0x1ffffff) << 5) ^ u32::from(value);
        for (bit, generator) in GENERATOR.iter().enumerate() {
            if (top >> bit) & 1 == 1 {
                checksum ^= generator;
            }
        }
    }
    checksum
}

fn hrp_expand(hrp: &[u8]) -> impl Iterator<Item = u8> + '_ {
    hrp.iter()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.iter().map(|c| c & 31))
}

/// Decodes Bech32 (BIP 173, without its 90-character limit, as age does) with the expected
/// human-readable part, returning the 8-bit payload.
fn bech32_decode(text: &str, expected_hrp: &str) -> Result<Vec<u8>, &'static str> {
    let has_lower = text.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = text.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        return Err("mixed case");
    }
    let lower = text.to_ascii_lowercase();
    let separator = lower.rfind('1').ok_or("missing separator")?;
    let (hrp, data) = (&lower[..separator], &lower[separator + 1..]);
    if hrp != expected_hrp {
        return Err("unexpected type prefix");
    }
    if data.len() < 6 {
        return Err("too short");
    }
    let values = data
        .bytes()
        .map(|c| {
            BECH32_CHARSET
                .iter()
                .position(|&d| d == c)
                .map(|p| p as u8)
                .ok_or("invalid character")
        })
        .collect::<Result<Vec<u8>, _>>()?;
    if bech32_polymod(hrp_expand(hrp.as_bytes()).chain(values.iter().copied())) != 1 {
        return Err("invalid checksum");
    }
    let values = &values[..values.len() - 6];
    let mut out = Vec::with_capacity(values.len() * 5 / 8);
    let (mut accumulator, mut bits) = (0u32, 0u32);
    for value in values {
        accumulator = (accumulator << 5) | u32::from(*value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((accumulator >> bits) as u8);
        }
    }
    if bits >= 5 || (accumulator & ((1 << bits) - 1)) != 0 {
        return Err("invalid padding");
    }
    Ok(out)
}

/// Encodes `data` as Bech32 with the given human-readable part (lowercase).
pub(crate) fn bech32_encode(hrp: &str, data: &[u8]) -> String {
    let mut values = Vec::with_capacity(data.len() * 8 / 5 + 1);
    let (mut accumulator, mut bits) = (0u32, 0u32);
    for byte in data {
        accumulator = (accumulator << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            values.push(((accumulator >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        values.push(((accumulator << (5 - bits)) & 31) as u8);
    }
    let checksum_input = hrp_expand(hrp.as_bytes())
        .chain(values.iter().copied())
        .chain([0u8; 6]);
    let polymod = bech32_polymod(checksum_input) ^ 1;
    let mut out = String::with_capacity(hrp.len() + 1 + values.len() + 6);
    out.push_str(hrp);
    out.push('1');
    for value in values
        .iter()
        .copied()
        .chain((0..6).map(|i| ((polymod >> (5 * (5 - i))) & 31) as u8))
    {
        out.push(BECH32_CHARSET[usize::from(value)] as char);
    }
    out
}

#[cfg(any(test, feature = "testing"))]
pub(crate) mod encrypt {
    //! age encryption to X25519 recipients, for tests only (randomness from `ring`).
    use super::*;
    use ring::rand::{SecureRandom, SystemRandom};

    pub(crate) fn random<const N: usize>() -> [u8; N] {
        let mut out = [0u8; N];
        // SystemRandom only fails when the OS has no randomness, which tests cannot work without.
        #[allow(clippy::expect_used)]
        SystemRandom::new()
            .fill(&mut out)
            .expect("system randomness");
        out
    }

    /// A new identity as age-keygen prints it, and its recipient.
    pub(crate) fn generate_identity() -> (String, String) {
        let scalar: [u8; 32] = random();
        let secret = StaticSecret::from(scalar);
        let recipient = PublicKey::from(&secret).to_bytes();
        (
            bech32_encode(SECRET_KEY_HRP, &scalar).to_ascii_uppercase(),
            bech32_encode("age", &recipient),
        )
    }

    fn chacha_seal(key: &[u8; 32], nonce: [u8; 12], plaintext: &[u8]) -> Vec<u8> {
        let mut buffer = plaintext.to_vec();
        #[allow(clippy::expect_used)]
        let key = aead::LessSafeKey::new(
            aead::UnboundKey::new(&aead::CHACHA20_POLY1305, key).expect("32-byte key"),
        );
        #[allow(clippy::expect_used)]
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::empty(),
            &mut buffer,
        )
        .expect("sealing");
        buffer
    }

    /// Encrypts `plaintext` (at most one STREAM chunk) to an `age1…` recipient, armored.
    pub(crate) fn encrypt_armored(recipient: &str, plaintext: &[u8]) -> String {
        #[allow(clippy::expect_used)]
        let recipient: [u8; 32] = bech32_decode(recipient, "age")
            .expect("recipient")
            .try_into()
            .expect("32-byte recipient");
        let file_key: [u8; 16] = random();
        let ephemeral: [u8; 32] = random();
        let ephemeral = StaticSecret::from(ephemeral);
        let share = PublicKey::from(&ephemeral).to_bytes();
        let shared = ephemeral.diffie_hellman(&PublicKey::from(recipient));
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(&share);
        salt[32..].copy_from_slice(&recipient);
        #[allow(clippy::expect_used)]
        let wrap_key = hkdf_sha256(shared.as_bytes(), &salt, X25519_INFO).expect("hkdf");
        let body = chacha_seal(&wrap_key, [0u8; 12], &file_key);
        let mut header = format!(
            "age-encryption.org/v1\n-> X25519 {}\n{}\n---",
            STANDARD_NO_PAD.encode(share),
            STANDARD_NO_PAD.encode(body)
        );
        #[allow(clippy::expect_used)]
        let mac_key = hkdf_sha256(&file_key, &[], b"header").expect("hkdf");
        let mac = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &mac_key),
            header.as_bytes(),
        );
        header.push_str(&format!(" {}\n", STANDARD_NO_PAD.encode(mac.as_ref())));
        let nonce: [u8; 16] = random();
        #[allow(clippy::expect_used)]
        let payload_key = hkdf_sha256(&file_key, &nonce, b"payload").expect("hkdf");
        let mut stream_nonce = [0u8; 12];
        stream_nonce[11] = 1;
        let mut file = header.into_bytes();
        file.extend_from_slice(&nonce);
        file.extend_from_slice(&chacha_seal(&payload_key, stream_nonce, plaintext));
        let encoded = STANDARD.encode(file);
        let mut armored = format!("{ARMOR_BEGIN}\n");
        for line in encoded.as_bytes().chunks(64) {
            armored.push_str(&String::from_utf8_lossy(line));
            armored.push('\n');
        }
        armored.push_str(ARMOR_END);
        armored.push('\n');
        armored
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn bech32_round_trips_and_rejects_a_changed_character() {
        let data = [7u8; 32];
        let encoded = bech32_encode("age", &data);
        assert_eq!(bech32_decode(&encoded, "age"), Ok(data.to_vec()));
        let mut broken = encoded.into_bytes();
        let last = broken.len() - 1;
        broken[last] = if broken[last] == b'q' { b'p' } else { b'q' };
        let broken = String::from_utf8(broken).unwrap_or_default();
        assert_eq!(bech32_decode(&broken, "age"), Err("invalid checksum"));
    }

    #[test]
    fn identities_skip_comments_and_blank_lines_and_name_the_bad_line() {
        let key = bech32_encode(SECRET_KEY_HRP, &[9u8; 32]).to_ascii_uppercase();
        let mut identities = Identities::new();
        let text = format!("# created: now\n# public key: x\n\n{key}\n");
        assert!(identities.import(&text).is_ok());
        assert_eq!(identities.len(), 1);
        let error = identities.import("# c\nAGE-SECRET-KEY-1QQQ\n").unwrap_err();
        assert!(
            matches!(error, Error::InvalidIdentity { line: 2, .. }),
            "{error}"
        );
        assert!(!error.to_string().contains("QQQ"));
        let error = identities.import("AGE-SECRET-KEY-PQ-1ABC").unwrap_err();
        assert!(error.to_string().contains("post-quantum"), "{error}");
        assert_eq!(format!("{identities:?}"), "Identities(1 keys)");
    }

    #[test]
    fn oversized_key_text_is_refused() {
        let text = "#".repeat(MAX_IDENTITY_TEXT + 1);
        let error = Identities::new().import(&text).unwrap_err();
        assert!(matches!(error, Error::TooLarge { .. }));
    }

    #[test]
    fn garbage_armor_is_malformed() {
        let identities = Identities::new();
        assert!(matches!(
            decrypt_armored("hello", &identities),
            Err(Error::MalformedAge(_))
        ));
        let armored = format!("{ARMOR_BEGIN}\nAAAA\n{ARMOR_END}\n");
        assert!(matches!(
            decrypt_armored(&armored, &identities),
            Err(Error::MalformedAge(_))
        ));
    }
}
