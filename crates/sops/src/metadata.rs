//! The `sops` metadata block (getsops/sops `stores/stores.go`, `stores/metadata.go`): which
//! values are encrypted, the MAC, and the master keys that wrap the data key.

use regex::Regex;
use serde_json::{Map, Value};

use crate::age::{self, Identities};
use crate::error::{Error, Result};

/// The key SOPS stores its metadata under.
pub(crate) const METADATA_KEY: &str = "sops";
/// The prefix of flattened metadata keys in dotenv documents.
pub(crate) const FLAT_PREFIX: &str = "sops_";
const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";
/// Most age entries read from one key group, and most key groups: with [`age::MAX_STANZAS`]
/// they bound the X25519 work one document can ask for.
const MAX_AGE_ENTRIES: usize = 64;
const MAX_KEY_GROUPS: usize = 16;

/// Master key kinds SOPS knows besides age, named as in the metadata.
const OTHER_KEY_KINDS: [&str; 6] = ["kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp"];

/// The one rule deciding which values are encrypted (SOPS allows at most one).
#[derive(Debug)]
pub(crate) enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
    /// Comment-driven rules: comments are not kept, so values are recognised by their envelope.
    CommentRegex,
}

/// One key group: the age-wrapped copies of the data key, and other kinds present.
#[derive(Debug, Default)]
pub(crate) struct KeyGroup {
    pub(crate) age: Vec<String>,
    pub(crate) other_kinds: Vec<&'static str>,
}

#[derive(Debug)]
pub(crate) struct Metadata {
    /// `lastmodified` formatted as Go's `time.RFC3339` (the MAC's additional data).
    pub(crate) last_modified: String,
    pub(crate) mac: String,
    pub(crate) rule: Rule,
    pub(crate) mac_only_encrypted: bool,
    pub(crate) groups: Vec<KeyGroup>,
    /// How many key groups' shares make the data key (several groups only).
    pub(crate) shamir_threshold: usize,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidMetadata(reason.into())
}

/// mapstructure's weak typing: scalars of any kind read as text.
fn text(map: &Map<String, Value>, key: &str) -> Result<String> {
    Ok(match map.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(flag)) => (if *flag { "1" } else { "0" }).to_string(),
        Some(_) => return Err(invalid(format!("'{key}' must be a scalar"))),
    })
}

fn flag(map: &Map<String, Value>, key: &str) -> Result<bool> {
    Ok(match map.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::Number(number)) => number.as_f64().is_some_and(|n| n != 0.0),
        // mapstructure's weak decoding of strings into bools is strconv.ParseBool, "" is false.
        Some(Value::String(text)) => match text.as_str() {
            "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
            "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
            _ => return Err(invalid(format!("'{key}' must be a boolean"))),
        },
        Some(_) => return Err(invalid(format!("'{key}' must be a boolean"))),
    })
}

fn list<'v>(map: &'v Map<String, Value>, key: &str) -> Result<&'v [Value]> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(invalid(format!("'{key}' must be a list"))),
    }
}

fn key_group(map: &Map<String, Value>) -> Result<KeyGroup> {
    let mut group = KeyGroup::default();
    let entries = list(map, "age")?;
    if entries.len() > MAX_AGE_ENTRIES {
        return Err(invalid(format!(
            "more than {MAX_AGE_ENTRIES} age keys in one key group"
        )));
    }
    for entry in entries {
        let entry = entry
            .as_object()
            .ok_or_else(|| invalid("an age entry must be a mapping"))?;
        group.age.push(text(entry, "enc")?);
    }
    for kind in OTHER_KEY_KINDS {
        if !list(map, kind)?.is_empty() {
            group.other_kinds.push(kind);
        }
    }
    Ok(group)
}

impl Metadata {
    /// Reads the metadata mapping.
    pub(crate) fn from_value(value: &Value) -> Result<Self> {
        let map = value
            .as_object()
            .ok_or_else(|| invalid("'sops' must be a mapping"))?;
        let last_modified = go_rfc3339(&text(map, "lastmodified")?)
            .ok_or_else(|| invalid("'lastmodified' is not an RFC 3339 time"))?;
        let top = key_group(map)?;
        let groups = if !top.age.is_empty() || !top.other_kinds.is_empty() {
            vec![top]
        } else {
            list(map, "key_groups")?
                .iter()
                .map(|group| {
                    group
                        .as_object()
                        .ok_or_else(|| invalid("a key group must be a mapping"))
                        .and_then(key_group)
                })
                .collect::<Result<Vec<_>>>()?
        };
        if groups.is_empty() {
            return Err(invalid("no keys found in file"));
        }
        if groups.len() > MAX_KEY_GROUPS {
            return Err(invalid(format!("more than {MAX_KEY_GROUPS} key groups")));
        }
        let regex = |pattern: String| {
            Regex::new(&pattern).map_err(|_| invalid("an encryption rule regex does not compile"))
        };
        let mut rules = Vec::new();
        for name in [
            "unencrypted_suffix",
            "encrypted_suffix",
            "unencrypted_regex",
            "encrypted_regex",
            "unencrypted_comment_regex",
            "encrypted_comment_regex",
        ] {
            let setting = text(map, name)?;
            if !setting.is_empty() {
                rules.push(match name {
                    "unencrypted_suffix" => Rule::UnencryptedSuffix(setting),
                    "encrypted_suffix" => Rule::EncryptedSuffix(setting),
                    "unencrypted_regex" => Rule::UnencryptedRegex(regex(setting)?),
                    "encrypted_regex" => Rule::EncryptedRegex(regex(setting)?),
                    _ => Rule::CommentRegex,
                });
            }
        }
        if rules.len() > 1 {
            return Err(invalid(
                "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, \
                 unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file",
            ));
        }
        let rule = rules
            .pop()
            .unwrap_or_else(|| Rule::UnencryptedSuffix(DEFAULT_UNENCRYPTED_SUFFIX.to_string()));
        Ok(Self {
            last_modified,
            mac: text(map, "mac")?,
            rule,
            mac_only_encrypted: flag(map, "mac_only_encrypted")?,
            groups,
            shamir_threshold: text(map, "shamir_threshold")?.parse().unwrap_or(0),
        })
    }

    /// The data key: from the first age entry an identity decrypts (SOPS tries age first) in
    /// the only key group, or combined from the groups' Shamir shares.
    pub(crate) fn data_key(&self, identities: &Identities) -> Result<[u8; 32]> {
        let key = if let [group] = self.groups.as_slice() {
            group_key(group, identities)?
        } else {
            let mut parts = Vec::new();
            let mut failures = Vec::new();
            for (index, group) in self.groups.iter().enumerate() {
                match group_key(group, identities) {
                    Ok(part) => parts.push(part),
                    Err(error) => failures.push(format!("group {index}: {error}")),
                }
            }
            let threshold = match self.shamir_threshold {
                0 => self.groups.len(),
                threshold => threshold,
            };
            if parts.len() < threshold {
                return Err(Error::DataKey(format!(
                    "decrypted {} of the {threshold} key groups needed ({})",
                    parts.len(),
                    failures.join("; ")
                )));
            }
            crate::shamir::combine(&parts)?
        };
        <[u8; 32]>::try_from(key.as_slice())
            .map_err(|_| Error::DataKey("the decrypted data key is not 32 bytes".to_string()))
    }
}

/// The data key (or this group's share of it) from the group's age entries.
fn group_key(group: &KeyGroup, identities: &Identities) -> Result<Vec<u8>> {
    if group.age.is_empty() {
        return Err(Error::DataKey(format!(
            "the document has no age key, only {} keys, which are not supported",
            group.other_kinds.join(", ")
        )));
    }
    if identities.is_empty() {
        return Err(Error::DataKey(
            "no age identities were provided to decrypt the age keys".to_string(),
        ));
    }
    let mut last_error = Error::NoIdentityMatched;
    for enc in &group.age {
        match age::decrypt_armored(enc, identities) {
            Ok(key) => return Ok(key),
            Err(error) => last_error = error,
        }
    }
    Err(Error::DataKey(format!(
        "failed to decrypt the sops data key with age: {last_error}"
    )))
}

/// Go's `time.Parse(time.RFC3339, s).Format(time.RFC3339)`: fractional seconds dropped and a
/// zero offset written `Z`. `None` when `s` is not RFC 3339.
fn go_rfc3339(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let shape_ok = bytes.len() >= 20
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19);
    if !shape_ok {
        return None;
    }
    let mut rest = &input[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return None;
        }
        rest = &fraction[end..];
    }
    let zone = match rest {
        "Z" | "+00:00" | "-00:00" => "Z".to_string(),
        zone if zone.len() == 6
            && (zone.starts_with('+') || zone.starts_with('-'))
            && zone.as_bytes()[3] == b':'
            && zone[1..3].bytes().all(|b| b.is_ascii_digit())
            && zone[4..6].bytes().all(|b| b.is_ascii_digit()) =>
        {
            zone.to_string()
        }
        _ => return None,
    };
    Some(format!("{}{zone}", &input[..19]))
}

/// Rebuilds the metadata mapping from dotenv's flattened `sops_…` entries
/// (`sops_age__list_0__map_enc`), as SOPS's `unflattenTreeBranch`.
pub(crate) fn unflatten(entries: &[(String, String)]) -> Result<Value> {
    let mut root = Value::Object(Map::new());
    for (key, value) in entries {
        let mut node = &mut root;
        let tokens = tokenize(key)?;
        let last = tokens.len().saturating_sub(1);
        for (index, token) in tokens.into_iter().enumerate() {
            let leaf = index == last;
            node = match token {
                Token::Key(name) => {
                    let map = node
                        .as_object_mut()
                        .ok_or_else(|| invalid(format!("type mismatch unflattening '{key}'")))?;
                    map.entry(name).or_insert_with(|| {
                        if leaf {
                            Value::Null
                        } else {
                            Value::Object(Map::new())
                        }
                    })
                }
                Token::Index(position) => {
                    // Lists are stored as maps keyed by index until every entry is placed.
                    let map = node
                        .as_object_mut()
                        .ok_or_else(|| invalid(format!("type mismatch unflattening '{key}'")))?;
                    map.entry(format!("\u{0}{position}")).or_insert_with(|| {
                        if leaf {
                            Value::Null
                        } else {
                            Value::Object(Map::new())
                        }
                    })
                }
            };
        }
        if !node.is_null() {
            return Err(invalid(format!("duplicate value unflattening '{key}'")));
        }
        *node = Value::String(value.clone());
    }
    lists_from_index_maps(root)
}

enum Token {
    Key(String),
    Index(usize),
}

/// The deepest `sops_…` key accepted: SOPS's own metadata nests at most five levels
/// (`sops_key_groups__list_0__map_age__list_0__map_enc`). The bound also keeps a hostile key
/// from costing quadratic time here or deep recursion when the tree is rebuilt.
const MAX_METADATA_TOKENS: usize = 16;

fn tokenize(path: &str) -> Result<Vec<Token>> {
    const MAP: &str = "__map_";
    const LIST: &str = "__list_";
    let mut tokens = Vec::new();
    let mut rest = path;
    let mut current_is_list = false;
    loop {
        if tokens.len() >= MAX_METADATA_TOKENS {
            return Err(invalid(format!(
                "metadata key nests deeper than {MAX_METADATA_TOKENS} levels"
            )));
        }
        let next_map = rest.find(MAP);
        let next_list = rest.find(LIST);
        let (end, separator_is_list, separator_len) = match (next_map, next_list) {
            (Some(m), Some(l)) if l < m => (l, true, LIST.len()),
            (Some(m), _) => (m, false, MAP.len()),
            (None, Some(l)) => (l, true, LIST.len()),
            (None, None) => (rest.len(), false, 0),
        };
        let part = &rest[..end];
        tokens.push(if current_is_list {
            Token::Index(part.parse().unwrap_or(0))
        } else {
            Token::Key(part.to_string())
        });
        if separator_len == 0 {
            return Ok(tokens);
        }
        current_is_list = separator_is_list;
        rest = &rest[end + separator_len..];
    }
}

fn lists_from_index_maps(value: Value) -> Result<Value> {
    let Value::Object(map) = value else {
        return Ok(value);
    };
    let is_list = !map.is_empty() && map.keys().all(|key| key.starts_with('\u{0}'));
    if map.keys().any(|key| key.starts_with('\u{0}')) && !is_list {
        return Err(invalid("type mismatch unflattening metadata"));
    }
    if is_list {
        let mut items: Vec<(usize, Value)> = Vec::with_capacity(map.len());
        for (key, item) in map {
            let position: usize = key[1..].parse().unwrap_or(usize::MAX);
            items.push((position, lists_from_index_maps(item)?));
        }
        items.sort_by_key(|(position, _)| *position);
        if items
            .iter()
            .enumerate()
            .any(|(index, (position, _))| index != *position)
        {
            return Err(invalid("incomplete list unflattening metadata"));
        }
        return Ok(Value::Array(items.into_iter().map(|(_, v)| v).collect()));
    }
    let mut out = Map::new();
    for (key, item) in map {
        out.insert(key, lists_from_index_maps(item)?);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_reformatted_as_go_does() {
        assert_eq!(
            go_rfc3339("2024-01-02T03:04:05Z").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            go_rfc3339("2024-01-02T03:04:05.123+00:00").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            go_rfc3339("2024-01-02T03:04:05+02:00").as_deref(),
            Some("2024-01-02T03:04:05+02:00")
        );
        assert_eq!(go_rfc3339("yesterday"), None);
    }

    #[test]
    fn flattened_dotenv_metadata_unflattens_into_lists_and_maps() {
        let entries = vec![
            ("age__list_0__map_enc".to_string(), "E0".to_string()),
            ("age__list_0__map_recipient".to_string(), "R0".to_string()),
            ("age__list_1__map_enc".to_string(), "E1".to_string()),
            ("mac".to_string(), "M".to_string()),
        ];
        let value = unflatten(&entries).unwrap_or_default();
        assert_eq!(
            value,
            serde_json::json!({"age": [{"enc": "E0", "recipient": "R0"}, {"enc": "E1"}], "mac": "M"})
        );
    }

    #[test]
    fn two_encryption_rules_are_refused() {
        let value = serde_json::json!({
            "lastmodified": "2024-01-02T03:04:05Z", "mac": "", "age": [{"enc": "x"}],
            "encrypted_regex": "^data$", "unencrypted_suffix": "_plain"
        });
        let error = Metadata::from_value(&value).unwrap_err();
        assert!(error.to_string().contains("more than one"), "{error}");
    }

    #[test]
    fn a_document_with_only_kms_keys_names_them() {
        let value = serde_json::json!({
            "lastmodified": "2024-01-02T03:04:05Z", "mac": "", "kms": [{"arn": "a", "enc": "x"}]
        });
        let metadata = Metadata::from_value(&value).unwrap_or_else(|e| panic!("{e}"));
        let error = metadata.data_key(&Identities::new()).unwrap_err();
        assert!(error.to_string().contains("kms"), "{error}");
    }
}
