//! Small helpers over JSON objects: metadata access, timestamps, uids, generated names and
//! the name rules kube-apiserver enforces.

use rand::Rng;
use serde_json::{Map, Value};

use crate::kinds::NameRule;

/// The current time as kube-apiserver writes timestamps (RFC 3339, whole seconds, UTC).
pub(crate) fn timestamp(now: jiff::Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random version-4 UUID.
pub(crate) fn new_uid() -> String {
    let bits: u128 = rand::rng().random();
    let bits = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A `generateName` completion: five characters from the alphabet apimachinery uses.
pub(crate) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut random = rand::rng();
    (0..5)
        .map(|_| ALPHABET[random.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The metadata map, created if missing; `None` only when `object` is not a JSON object.
pub(crate) fn metadata_mut(object: &mut Value) -> Option<&mut Map<String, Value>> {
    let map = object.as_object_mut()?;
    let metadata = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    metadata.as_object_mut()
}

/// A string metadata field, empty when absent.
pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|metadata| metadata.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `metadata.finalizers` as strings.
pub(crate) fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Replaces `metadata.finalizers`, dropping the field when empty.
pub(crate) fn set_finalizers(object: &mut Value, finalizers: &[String]) {
    let Some(metadata) = metadata_mut(object) else {
        return;
    };
    if finalizers.is_empty() {
        metadata.remove("finalizers");
    } else {
        metadata.insert(
            "finalizers".into(),
            Value::Array(finalizers.iter().cloned().map(Value::String).collect()),
        );
    }
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn is_deleting(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|value| !value.is_null())
}

/// The uids named by `metadata.ownerReferences`.
pub(crate) fn owner_uids(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|owners| {
            owners
                .iter()
                .filter_map(|owner| owner.get("uid").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Shapes an object the way kube-apiserver's Go types serialize it: metadata drops empty maps,
/// lists and strings (`omitempty`), and built-in kinds drop `null` anywhere (Go decodes `null`
/// to a zero value and omits it). Custom resources keep their nulls; their schema decides.
pub(crate) fn normalize(object: &mut Value, builtin: bool) {
    if builtin {
        drop_nulls(object);
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.retain(|_, value| match value {
            Value::Null => false,
            Value::String(text) => !text.is_empty(),
            Value::Array(items) => !items.is_empty(),
            Value::Object(map) => !map.is_empty(),
            _ => true,
        });
    }
}

fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, child| !child.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const RFC1035_MESSAGE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Why `name` breaks `rule`, in kube-apiserver's words, or `None` if it is valid.
pub(crate) fn name_problem(name: &str, rule: NameRule) -> Option<String> {
    match rule {
        NameRule::Subdomain => {
            if name.len() > 253 {
                Some("must be no more than 253 characters".into())
            } else if name.split('.').all(is_label) {
                None
            } else {
                Some(SUBDOMAIN_MESSAGE.into())
            }
        }
        NameRule::Label => {
            if name.len() > 63 {
                Some("must be no more than 63 characters".into())
            } else if is_label(name) {
                None
            } else {
                Some(LABEL_MESSAGE.into())
            }
        }
        NameRule::Rfc1035Label => {
            if name.len() > 63 {
                Some("must be no more than 63 characters".into())
            } else if is_label(name) && name.as_bytes()[0].is_ascii_lowercase() {
                None
            } else {
                Some(RFC1035_MESSAGE.into())
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                Some(format!("may not be '{name}'"))
            } else if name.contains('/') || name.contains('%') {
                Some("may not contain '/' or '%'".into())
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_version_four_uuids() {
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
        assert!(matches!(&uid[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn names_follow_their_kind_rule() {
        assert_eq!(name_problem("web.example", NameRule::Subdomain), None);
        assert!(name_problem("Bad_Name", NameRule::Subdomain).is_some());
        assert!(name_problem("a.b", NameRule::Label).is_some());
        assert!(name_problem("1web", NameRule::Rfc1035Label).is_some());
        assert_eq!(name_problem("system:admin", NameRule::PathSegment), None);
    }

    #[test]
    fn normalizing_drops_empty_metadata_and_builtin_nulls() {
        let mut object = serde_json::json!({
            "metadata": {"name": "a", "annotations": {}, "labels": {"x": "y"}, "finalizers": [], "generateName": ""},
            "spec": {"gone": null, "kept": [null, 1]}
        });
        normalize(&mut object, true);
        assert_eq!(
            object,
            serde_json::json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"kept": [null, 1]}})
        );
    }

    #[test]
    fn metadata_is_created_when_missing() {
        let mut object = serde_json::json!({"kind": "X"});
        if let Some(metadata) = metadata_mut(&mut object) {
            metadata.insert("name".into(), "a".into());
        }
        assert_eq!(meta_str(&object, "name"), "a");
    }
}
