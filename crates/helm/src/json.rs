//! JSON as Go's `encoding/json` writes and reads it for templates: object keys sorted,
//! `<`, `>` and `&` escaped, floats in Go's shortest form (`1e+21`, `1e-7`), and every
//! number read back as a `float64`.

use std::fmt::Write as _;

use base64::Engine as _;
use eddy_gotemplate::{Map, Value};

/// The value as plain data: objects replaced by their data, byte slices by base64
/// strings (what `json.Marshal` does with `[]byte`).
pub fn normalize(value: &Value) -> Value {
    match value {
        Value::Object(object) => normalize(&object.as_data()),
        Value::Bytes(bytes) => Value::from(base64::engine::general_purpose::STANDARD.encode(bytes)),
        Value::List(items) => Value::from(items.iter().map(normalize).collect::<Vec<_>>()),
        Value::Map(map) => Value::from(
            map.snapshot()
                .into_iter()
                .map(|(key, item)| (key, normalize(&item)))
                .collect::<Map>(),
        ),
        other => other.clone(),
    }
}

/// `json.Marshal` (with `escape_html`) or `json.MarshalIndent(v, "", indent)`.
pub fn encode(value: &Value, escape_html: bool, indent: Option<&str>) -> Result<String, String> {
    let mut out = String::new();
    write(&mut out, &normalize(value), escape_html, indent, 0)?;
    Ok(out)
}

fn newline(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(indent) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    }
}

fn write(
    out: &mut String,
    value: &Value,
    escape_html: bool,
    indent: Option<&str>,
    depth: usize,
) -> Result<(), String> {
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        Value::Int(value) | Value::Int64(value) => {
            let _ = write!(out, "{value}");
        }
        Value::Float(value) => out.push_str(&float(*value)?),
        Value::String(text) => string(out, text, escape_html),
        Value::List(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write(out, item, escape_html, indent, depth + 1)?;
            }
            newline(out, indent, depth);
            out.push(']');
        }
        Value::Map(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (index, (key, item)) in map.snapshot().iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                string(out, key, escape_html);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write(out, item, escape_html, indent, depth + 1)?;
            }
            newline(out, indent, depth);
            out.push('}');
        }
        Value::Bytes(_) | Value::Object(_) => {
            write(out, &normalize(value), escape_html, indent, depth)?;
        }
    }
    Ok(())
}

/// Go's float encoding in `encoding/json`.
pub fn float(value: f64) -> Result<String, String> {
    if !value.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            eddy_gotemplate::fmt::format_float(value, 'g', -1)
        ));
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let mut text = eddy_gotemplate::fmt::format_float(value, 'e', -1);
        // Go trims "e-09" to "e-9".
        let bytes = text.as_bytes();
        let length = bytes.len();
        if length >= 4
            && bytes[length - 4] == b'e'
            && bytes[length - 3] == b'-'
            && bytes[length - 2] == b'0'
        {
            text.remove(length - 2);
        }
        return Ok(text);
    }
    Ok(eddy_gotemplate::fmt::format_float(value, 'f', -1))
}

fn string(out: &mut String, text: &str, escape_html: bool) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => {
                let _ = write!(out, "\\u{:04x}", character as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", character as u32);
            }
            character if (character as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", character as u32);
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// `json.Unmarshal` into `interface{}`: numbers become `float64`.
pub fn decode(text: &str) -> Result<Value, String> {
    let parsed: serde_json::Value =
        serde_json::from_str(text).map_err(|error| go_json_error(text, &error))?;
    Ok(from_json(parsed))
}

/// Go's `encoding/json` wording for a syntax error.
fn go_json_error(text: &str, error: &serde_json::Error) -> String {
    if error.is_eof() {
        return "unexpected end of JSON input".to_string();
    }
    let line = text
        .lines()
        .nth(error.line().saturating_sub(1))
        .unwrap_or_default();
    let character = line
        .chars()
        .nth(error.column().saturating_sub(1))
        .unwrap_or(' ');
    let message = error.to_string();
    let context = if message.starts_with("trailing characters") {
        "after top-level value"
    } else if message.starts_with("key must be a string") {
        "looking for beginning of object key string"
    } else if message.starts_with("expected `:`") {
        "after object key"
    } else if message.starts_with("expected `,` or `}`") {
        "after object key:value pair"
    } else if message.starts_with("expected `,` or `]`") {
        "after array element"
    } else {
        "looking for beginning of value"
    };
    format!("invalid character {} {context}", go_quote_char(character))
}

fn go_quote_char(character: char) -> String {
    match character {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        other => format!("'{other}'"),
    }
}

fn from_json(value: serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(value) => Value::Bool(value),
        serde_json::Value::Number(number) => Value::Float(number.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(text) => Value::from(text),
        serde_json::Value::Array(items) => {
            Value::from(items.into_iter().map(from_json).collect::<Vec<_>>())
        }
        serde_json::Value::Object(map) => Value::from(
            map.into_iter()
                .map(|(key, item)| (key, from_json(item)))
                .collect::<Map>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_and_html_are_encoded_like_go() {
        let value =
            decode(r#"{"b":1000000,"a":"<x>","c":1e-7,"d":[1.5,null]}"#).unwrap_or_default();
        assert_eq!(
            encode(&value, true, None).ok().as_deref(),
            Some(r#"{"a":"\u003cx\u003e","b":1000000,"c":1e-7,"d":[1.5,null]}"#)
        );
    }
}
