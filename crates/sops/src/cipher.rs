//! SOPS's value cipher: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, AES-256-GCM with SOPS's
//! 32-byte nonces and the value's path as additional data (getsops/sops `aes/cipher.go`).

use std::sync::LazyLock;

use aes_gcm::aead::consts::{U12, U32};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, AesGcm};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use regex::Regex;

use crate::error::{Error, Result};

/// The same pattern SOPS matches (unanchored at the end, as there).
static ENCRYPTED_VALUE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]").ok());

/// A decrypted value, typed by the `type:` field of its envelope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plain {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// `type:time` (RFC 3339 text, kept as written).
    Time(String),
    Comment(String),
}

/// Whether `value` is a SOPS-encrypted value envelope.
pub(crate) fn is_encrypted_value(value: &str) -> bool {
    ENCRYPTED_VALUE
        .as_ref()
        .is_some_and(|pattern| pattern.is_match(value))
}

/// Decrypts one value; `path` is the `:`-joined path SOPS authenticates (ends with `:`), used
/// both as the additional data and, without the trailing `:`, in error messages.
pub(crate) fn decrypt(value: &str, key: &[u8; 32], additional_data: &str) -> Result<Plain> {
    if value.is_empty() {
        return Ok(Plain::Str(String::new()));
    }
    let path = || additional_data.trim_end_matches(':').to_string();
    let captures = ENCRYPTED_VALUE
        .as_ref()
        .and_then(|pattern| pattern.captures(value))
        .ok_or_else(|| Error::MalformedValue { path: path() })?;
    let field = |index: usize| {
        captures
            .get(index)
            .map(|capture| capture.as_str())
            .unwrap_or_default()
    };
    let decode = |index: usize| {
        STANDARD
            .decode(field(index))
            .map_err(|_| Error::MalformedValue { path: path() })
    };
    let (data, iv, tag) = (decode(1)?, decode(2)?, decode(3)?);
    let datatype = field(4);
    if tag.len() != 16 {
        return Err(Error::MalformedValue { path: path() });
    }
    let mut sealed = data;
    sealed.extend_from_slice(&tag);
    let payload = Payload {
        msg: &sealed,
        aad: additional_data.as_bytes(),
    };
    let opened = match iv.len() {
        32 => AesGcm::<aes_gcm::aes::Aes256, U32>::new(key.into())
            .decrypt(aes_gcm::Nonce::<U32>::from_slice(&iv), payload),
        12 => Aes256Gcm::new(key.into()).decrypt(aes_gcm::Nonce::<U12>::from_slice(&iv), payload),
        _ => return Err(Error::MalformedValue { path: path() }),
    }
    .map_err(|_| Error::ValueAuthentication { path: path() })?;
    let bad_type = || Error::BadValueType {
        path: path(),
        datatype: datatype.to_string(),
    };
    let text = String::from_utf8(opened).map_err(|_| bad_type())?;
    Ok(match datatype {
        "str" | "bytes" => Plain::Str(text),
        "int" => Plain::Int(parse_go_int(&text).ok_or_else(bad_type)?),
        "float" => Plain::Float(text.parse::<f64>().map_err(|_| bad_type())?),
        "bool" => Plain::Bool(parse_go_bool(&text).ok_or_else(bad_type)?),
        "time" => Plain::Time(text),
        "comment" => Plain::Comment(text),
        _ => return Err(bad_type()),
    })
}

/// `strconv.Atoi`: optional sign, decimal digits.
fn parse_go_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()
}

/// `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(any(test, feature = "testing"))]
pub(crate) fn encrypt(plain: &Plain, key: &[u8; 32], additional_data: &str) -> String {
    let (text, datatype) = match plain {
        Plain::Str(text) => (text.clone(), "str"),
        Plain::Int(number) => (number.to_string(), "int"),
        Plain::Float(number) => (crate::tree::go_float(*number), "float"),
        Plain::Bool(flag) => ((if *flag { "True" } else { "False" }).to_string(), "bool"),
        Plain::Time(text) => (text.clone(), "time"),
        Plain::Comment(text) => (text.clone(), "comment"),
    };
    if text.is_empty() {
        return String::new();
    }
    let iv: [u8; 32] = crate::age::encrypt::random();
    let payload = Payload {
        msg: text.as_bytes(),
        aad: additional_data.as_bytes(),
    };
    #[allow(clippy::expect_used)]
    let sealed = AesGcm::<aes_gcm::aes::Aes256, U32>::new(key.into())
        .encrypt(aes_gcm::Nonce::<U32>::from_slice(&iv), payload)
        .expect("AES-GCM sealing");
    let (data, tag) = sealed.split_at(sealed.len() - 16);
    format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{datatype}]",
        STANDARD.encode(data),
        STANDARD.encode(iv),
        STANDARD.encode(tag)
    )
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_decrypt_to_empty_strings() {
        assert_eq!(decrypt("", &[0; 32], "a:"), Ok(Plain::Str(String::new())));
    }

    #[test]
    fn a_value_that_is_not_an_envelope_is_malformed_without_echoing_it() {
        let error = decrypt("hunter2", &[0; 32], "password:").unwrap_err();
        assert_eq!(
            error,
            Error::MalformedValue {
                path: "password".into()
            }
        );
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn go_number_and_bool_parsers_follow_strconv() {
        assert_eq!(parse_go_int("-12"), Some(-12));
        assert_eq!(parse_go_int("1.5"), None);
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("yes"), None);
    }
}
