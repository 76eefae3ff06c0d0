//! SOPS and age encryption for tests of this crate and of its callers (feature `testing`).
//! Production code only decrypts; these helpers write documents the way `sops --encrypt` does so
//! tests need no fixtures copied from elsewhere.

use ring::digest;
use serde_json::{Map, Value, json};

use crate::Format;
use crate::cipher::{self, Plain};
use crate::metadata::{FLAT_PREFIX, METADATA_KEY, Metadata};
use crate::tree::{mac_bytes, should_be_encrypted};

/// The `lastmodified` every helper writes (the MAC's additional data).
pub const LAST_MODIFIED: &str = "2026-01-02T03:04:05Z";

/// Which values to encrypt and how to compute the MAC (SOPS's creation rules).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `encrypted_regex` (e.g. `^(data|stringData)$`); otherwise the default
    /// `unencrypted_suffix` rule applies.
    pub encrypted_regex: Option<String>,
    /// `mac_only_encrypted`.
    pub mac_only_encrypted: bool,
}

/// A new age identity as `age-keygen` prints it, and its `age1…` recipient.
pub fn generate_identity() -> (String, String) {
    crate::age::encrypt::generate_identity()
}

/// A random 32-byte SOPS data key.
pub fn random_data_key() -> [u8; 32] {
    crate::age::encrypt::random()
}

/// Encrypts `plaintext` to an `age1…` recipient, ASCII-armored (as `age -a -r`).
pub fn age_encrypt(recipient: &str, plaintext: &[u8]) -> String {
    crate::age::encrypt::encrypt_armored(recipient, plaintext)
}

/// Encrypts a mapping as SOPS does for JSON/YAML, adding the `sops` metadata. `age_keys` are the
/// `(recipient, enc)` entries holding `data_key` wrapped by age.
pub fn encrypt_value(
    document: &Value,
    data_key: &[u8; 32],
    age_keys: &[(String, String)],
    settings: &Settings,
) -> Value {
    let mut branches = match document {
        Value::Object(map) => vec![map.clone()],
        _ => vec![Map::new()],
    };
    let metadata = encrypt_branches(&mut branches, data_key, age_keys, settings);
    let mut out = branches.pop().unwrap_or_default();
    out.insert(METADATA_KEY.to_string(), metadata);
    Value::Object(out)
}

/// Encrypts `document` with a fresh data key wrapped for `recipient` by this crate's age code.
pub fn encrypt_value_for(document: &Value, recipient: &str, settings: &Settings) -> Value {
    let key = random_data_key();
    let enc = age_encrypt(recipient, &key);
    encrypt_value(document, &key, &[(recipient.to_string(), enc)], settings)
}

/// Encrypts a plaintext file of `format` as `sops --encrypt` would write it (binary files go
/// into the JSON envelope).
pub fn encrypt_bytes(
    plain: &[u8],
    format: Format,
    data_key: &[u8; 32],
    age_keys: &[(String, String)],
    settings: &Settings,
) -> Vec<u8> {
    let text = String::from_utf8_lossy(plain).into_owned();
    let mut branches: Vec<Map<String, Value>> = match format {
        Format::Json => match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => vec![map],
            _ => vec![Map::new()],
        },
        Format::Yaml => eddy_kustomize::yaml::parse::parse_documents(&text)
            .unwrap_or_default()
            .into_iter()
            .map(|document| match to_json(document) {
                Value::Object(map) => map,
                _ => Map::new(),
            })
            .collect(),
        Format::Dotenv => vec![
            text.split('\n')
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .filter_map(|line| line.split_once('='))
                .map(|(key, value)| (key.to_string(), Value::String(value.replace("\\n", "\n"))))
                .collect(),
        ],
        Format::Binary | Format::Ini => {
            let mut map = Map::new();
            map.insert("data".to_string(), Value::String(text));
            vec![map]
        }
    };
    let metadata = encrypt_branches(&mut branches, data_key, age_keys, settings);
    match format {
        Format::Dotenv => {
            let mut out = String::new();
            if let Some(branch) = branches.first() {
                for (key, value) in branch {
                    out.push_str(&format!("{key}={}\n", value.as_str().unwrap_or_default()));
                }
            }
            let mut flat = Vec::new();
            flatten(&metadata, String::new(), &mut flat);
            for (key, value) in flat {
                out.push_str(&format!(
                    "{FLAT_PREFIX}{key}={}\n",
                    value.replace('\n', "\\n")
                ));
            }
            out.into_bytes()
        }
        Format::Yaml => {
            for branch in &mut branches {
                branch.insert(METADATA_KEY.to_string(), metadata.clone());
            }
            crate::yaml_emit::documents(&branches).into_bytes()
        }
        _ => {
            let mut branch = branches.pop().unwrap_or_default();
            branch.insert(METADATA_KEY.to_string(), metadata);
            let mut out = serde_json::to_string_pretty(&Value::Object(branch)).unwrap_or_default();
            out.push('\n');
            out.into_bytes()
        }
    }
}

fn to_json(value: eddy_kustomize::value::Value) -> Value {
    use eddy_kustomize::value::Value as K;
    match value {
        K::Null => Value::Null,
        K::Bool(flag) => Value::Bool(flag),
        K::Int(number) => json!(number),
        K::UInt(number) => json!(number),
        K::Float(number) => json!(number),
        K::String(text) => Value::String(text),
        K::Seq(items) => Value::Array(items.into_iter().map(to_json).collect()),
        K::Map(map) => Value::Object(map.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
    }
}

fn flatten(value: &Value, prefix: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}__map_{key}")
                };
                flatten(item, path, out);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                flatten(item, format!("{prefix}__list_{index}"), out);
            }
        }
        Value::String(text) => out.push((prefix, text.clone())),
        Value::Bool(flag) => out.push((prefix, flag.to_string())),
        other => out.push((prefix, other.to_string())),
    }
}

fn age_entries(age_keys: &[(String, String)]) -> Value {
    Value::Array(
        age_keys
            .iter()
            .map(|(recipient, enc)| json!({"recipient": recipient, "enc": enc}))
            .collect(),
    )
}

/// Encrypts a mapping with a data key split into one Shamir share per recipient (one key group
/// each), `threshold` of which recover it (`sops --shamir-secret-sharing-threshold`).
pub fn encrypt_value_with_key_groups(
    document: &Value,
    recipients: &[String],
    threshold: u8,
    settings: &Settings,
) -> Value {
    let data_key = random_data_key();
    let shares = crate::shamir::split(&data_key, recipients.len() as u8, threshold);
    let groups: Vec<Value> = recipients
        .iter()
        .zip(&shares)
        .map(|(recipient, share)| {
            json!({"age": age_entries(&[(recipient.clone(), age_encrypt(recipient, share))])})
        })
        .collect();
    let mut keys = Map::new();
    keys.insert("key_groups".to_string(), Value::Array(groups));
    keys.insert("shamir_threshold".to_string(), json!(threshold));
    let mut branches = match document {
        Value::Object(map) => vec![map.clone()],
        _ => vec![Map::new()],
    };
    let metadata = encrypt_branches_with(&mut branches, &data_key, keys, settings);
    let mut out = branches.pop().unwrap_or_default();
    out.insert(METADATA_KEY.to_string(), metadata);
    Value::Object(out)
}

fn encrypt_branches(
    branches: &mut [Map<String, Value>],
    data_key: &[u8; 32],
    age_keys: &[(String, String)],
    settings: &Settings,
) -> Value {
    let mut keys = Map::new();
    keys.insert("age".to_string(), age_entries(age_keys));
    encrypt_branches_with(branches, data_key, keys, settings)
}

fn encrypt_branches_with(
    branches: &mut [Map<String, Value>],
    data_key: &[u8; 32],
    keys: Map<String, Value>,
    settings: &Settings,
) -> Value {
    let mut metadata = keys;
    metadata.insert("lastmodified".to_string(), json!(LAST_MODIFIED));
    metadata.insert("mac".to_string(), json!(""));
    if let Some(regex) = &settings.encrypted_regex {
        metadata.insert("encrypted_regex".to_string(), json!(regex));
    }
    if settings.mac_only_encrypted {
        metadata.insert("mac_only_encrypted".to_string(), json!(true));
    }
    metadata.insert("version".to_string(), json!("3.9.0"));
    let mut metadata = Value::Object(metadata);
    let rule = match Metadata::from_value(&metadata) {
        Ok(parsed) => parsed.rule,
        Err(error) => panic!("test metadata is invalid: {error}"),
    };
    let mut hash = digest::Context::new(&digest::SHA512);
    if settings.mac_only_encrypted {
        hash.update(&crate::tree::MAC_ONLY_ENCRYPTED_INIT);
    }
    let mut walk = Walk {
        rule: &rule,
        key: data_key,
        settings,
        hash: &mut hash,
    };
    for branch in branches.iter_mut() {
        let mut path = Vec::new();
        for (key, value) in branch.iter_mut() {
            path.push(key.clone());
            walk.value(value, &mut path);
            path.pop();
        }
    }
    let mac: String = hash
        .finish()
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect();
    metadata["mac"] = json!(cipher::encrypt(&Plain::Str(mac), data_key, LAST_MODIFIED));
    metadata
}

struct Walk<'a> {
    rule: &'a crate::metadata::Rule,
    key: &'a [u8; 32],
    settings: &'a Settings,
    hash: &'a mut digest::Context,
}

impl Walk<'_> {
    fn value(&mut self, value: &mut Value, path: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    path.push(key.clone());
                    self.value(item, path);
                    path.pop();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.value(item, path)),
            Value::Null => {}
            _ => {
                let encrypted = should_be_encrypted(self.rule, path, value);
                if !self.settings.mac_only_encrypted || encrypted {
                    self.hash.update(&mac_bytes(value));
                }
                if encrypted {
                    let plain = match &*value {
                        Value::Bool(flag) => Plain::Bool(*flag),
                        Value::Number(number) => match number.as_i64() {
                            Some(integer) => Plain::Int(integer),
                            None => Plain::Float(number.as_f64().unwrap_or_default()),
                        },
                        other => Plain::Str(other.as_str().unwrap_or_default().to_string()),
                    };
                    let additional_data = format!("{}:", path.join(":"));
                    *value = Value::String(cipher::encrypt(&plain, self.key, &additional_data));
                }
            }
        }
    }
}
