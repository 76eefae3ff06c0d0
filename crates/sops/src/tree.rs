//! Walking a document's values in order, decrypting those SOPS encrypted and hashing them into
//! the MAC exactly as getsops/sops `Tree.Decrypt` does (`sops.go`).

use ring::digest;
use serde_json::{Map, Number, Value};

use crate::cipher::{self, Plain};
use crate::error::{Error, Result};
use crate::metadata::{Metadata, Rule};

/// `sha256("sops")`: the MAC of a `mac_only_encrypted` document starts from these bytes so it
/// never equals the MAC over all values.
pub(crate) const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// Deepest nesting walked; deeper documents are refused rather than overflow the stack.
const MAX_DEPTH: usize = 256;

/// Decrypts leaves one by one and accumulates the MAC.
pub(crate) struct Decryptor<'m> {
    metadata: &'m Metadata,
    key: [u8; 32],
    hash: digest::Context,
}

impl<'m> Decryptor<'m> {
    pub(crate) fn new(metadata: &'m Metadata, key: [u8; 32]) -> Self {
        let mut hash = digest::Context::new(&digest::SHA512);
        if metadata.mac_only_encrypted {
            hash.update(&MAC_ONLY_ENCRYPTED_INIT);
        }
        Self {
            metadata,
            key,
            hash,
        }
    }

    /// Decrypts every value of one branch (a top-level mapping) in place.
    pub(crate) fn branch(&mut self, branch: &mut Map<String, Value>) -> Result<()> {
        let mut path = Vec::new();
        self.map(branch, &mut path)
    }

    fn map(&mut self, map: &mut Map<String, Value>, path: &mut Vec<String>) -> Result<()> {
        for (key, value) in map.iter_mut() {
            path.push(key.clone());
            let outcome = self.value(value, path);
            path.pop();
            outcome?;
        }
        Ok(())
    }

    fn value(&mut self, value: &mut Value, path: &mut Vec<String>) -> Result<()> {
        if path.len() > MAX_DEPTH {
            return Err(Error::Parse {
                format: "document",
                reason: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        match value {
            Value::Object(map) => self.map(map, path),
            // Sequence items share their parent's path, as in SOPS.
            Value::Array(items) => items.iter_mut().try_for_each(|item| self.value(item, path)),
            Value::Null => Ok(()),
            _ => self.leaf(value, path),
        }
    }

    /// Decrypts one scalar at `path` (when the rules say it is encrypted) and hashes it.
    pub(crate) fn leaf(&mut self, value: &mut Value, path: &[String]) -> Result<()> {
        let encrypted = should_be_encrypted(&self.metadata.rule, path, value);
        if encrypted {
            let additional_data = format!("{}:", path.join(":"));
            let Value::String(ciphertext) = &*value else {
                return Err(Error::MalformedValue {
                    path: path.join(":"),
                });
            };
            let plain = cipher::decrypt(ciphertext, &self.key, &additional_data)?;
            *value = plain_to_value(plain, path)?;
        }
        if !self.metadata.mac_only_encrypted || encrypted {
            self.hash.update(&mac_bytes(value));
        }
        Ok(())
    }

    /// The MAC over the hashed values: SHA-512, upper-case hex, as SOPS prints it.
    pub(crate) fn mac(&self) -> String {
        let sum = self.hash.clone().finish();
        sum.as_ref()
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect()
    }

    /// Decrypts the stored MAC (additional data: `lastmodified`) and compares.
    pub(crate) fn verify(&self, computed: &str) -> Result<()> {
        let stored = cipher::decrypt(&self.metadata.mac, &self.key, &self.metadata.last_modified)
            .map_err(|_| Error::MacMismatch)?;
        match stored {
            // Compared without an early exit, so timing says nothing about the plaintext hash.
            Plain::Str(stored)
                if stored.len() == computed.len()
                    && stored
                        .bytes()
                        .zip(computed.bytes())
                        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
                        == 0 =>
            {
                Ok(())
            }
            _ => Err(Error::MacMismatch),
        }
    }
}

/// SOPS's `shouldBeEncrypted` for the one rule a document has.
pub(crate) fn should_be_encrypted(rule: &Rule, path: &[String], value: &Value) -> bool {
    match rule {
        Rule::UnencryptedSuffix(suffix) => !path.iter().any(|key| key.ends_with(suffix.as_str())),
        Rule::EncryptedSuffix(suffix) => path.iter().any(|key| key.ends_with(suffix.as_str())),
        Rule::UnencryptedRegex(regex) => !path.iter().any(|key| regex.is_match(key)),
        Rule::EncryptedRegex(regex) => path.iter().any(|key| regex.is_match(key)),
        Rule::CommentRegex => value
            .as_str()
            .is_some_and(|text| text.is_empty() || cipher::is_encrypted_value(text)),
    }
}

fn plain_to_value(plain: Plain, path: &[String]) -> Result<Value> {
    Ok(match plain {
        Plain::Str(text) | Plain::Time(text) | Plain::Comment(text) => Value::String(text),
        Plain::Int(number) => Value::Number(number.into()),
        Plain::Bool(flag) => Value::Bool(flag),
        Plain::Float(number) => {
            Value::Number(Number::from_f64(number).ok_or_else(|| Error::BadValueType {
                path: path.join(":"),
                datatype: "float".to_string(),
            })?)
        }
    })
}

/// SOPS's `ToBytes`: what a value contributes to the MAC.
pub(crate) fn mac_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.as_bytes().to_vec(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(integer), _, _) => integer.to_string().into_bytes(),
            (None, Some(integer), _) => integer.to_string().into_bytes(),
            (None, None, Some(float)) => go_float(float).into_bytes(),
            _ => number.to_string().into_bytes(),
        },
        _ => Vec::new(),
    }
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest digits that read back, never an exponent.
pub(crate) fn go_float(number: f64) -> String {
    if number.is_infinite() {
        return if number > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    format!("{number}")
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_hashed_as_go_formats_them() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(0.1), "0.1");
        assert_eq!(go_float(1e-7), "0.0000001");
        assert_eq!(go_float(1234.56789), "1234.56789");
        assert_eq!(mac_bytes(&serde_json::json!(true)), b"True");
        assert_eq!(mac_bytes(&serde_json::json!(-3)), b"-3");
    }
}
