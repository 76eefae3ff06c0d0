//! JSON text as Go's `encoding/json` writes it, which the generator name hash is computed over.

use crate::value::Value;

/// Encodes a value compactly with Go's escaping (`<`, `>`, `&` as `\u003c`…) and sorted keys.
pub fn to_go_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Int(number) => out.push_str(&number.to_string()),
        Value::UInt(number) => out.push_str(&number.to_string()),
        Value::Float(number) => out.push_str(&crate::yaml::number::go_json_float(*number)),
        Value::String(text) => write_string(text, out),
        Value::Seq(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                if let Some(item) = map.get(key) {
                    write_value(item, out);
                }
            }
            out.push('}');
        }
    }
}

/// Writes a JSON string literal with Go's escaping rules.
pub fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", character as u32));
            }
            control if (control as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", control as u32));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Mapping;

    #[test]
    fn keys_are_sorted_and_html_is_escaped() {
        let mut map = Mapping::new();
        map.insert("b".into(), Value::String("<x>&".into()));
        map.insert("a".into(), Value::Int(1));
        assert_eq!(
            to_go_json(&Value::Map(map)),
            "{\"a\":1,\"b\":\"\\u003cx\\u003e\\u0026\"}"
        );
    }
}
