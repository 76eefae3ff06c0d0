//! JSON encoded byte for byte as Go's `encoding/json` encodes it, so payloads and signatures match
//! what Flux sends.
//!
//! Go escapes `<`, `>` and `&` (and U+2028, U+2029) inside strings so JSON can be embedded in
//! HTML; serde_json does not. The difference matters twice: receivers that compare payloads byte
//! for byte, and `generic-hmac`, whose signature covers the exact body. Field order is the
//! declaration order of the serialized structs (as Go's), and maps are serialized sorted by key
//! (use `BTreeMap`), as Go sorts map keys.

use serde::Serialize;
use std::io::Write;

/// Serializes `value` as Go's `json.Marshal` would.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value.serialize(&mut serializer)?;
    Ok(out)
}

/// A serde_json formatter producing Go's compact output with Go's HTML-safe string escaping.
#[derive(Clone, Copy, Debug, Default)]
pub struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (index, character) in fragment.char_indices() {
            let escape = match character {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..index])?;
            writer.write_all(escape.as_bytes())?;
            start = index + character.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn html_characters_are_escaped_as_go_does() {
        let text = "health check <failed> & \u{2028}done\n\"quoted\"";
        let encoded = String::from_utf8(to_vec(text).expect("encodes")).expect("utf-8");
        assert_eq!(
            encoded,
            r#""health check \u003cfailed\u003e \u0026 \u2028done\n\"quoted\"""#
        );
    }

    #[test]
    fn maps_are_sorted_and_output_is_compact() {
        let map = BTreeMap::from([("b", "2"), ("a", "1")]);
        assert_eq!(to_vec(&map).expect("encodes"), br#"{"a":"1","b":"2"}"#);
    }
}
