//! `toToml` as Helm's BurntSushi/toml encoder writes it: sorted keys, plain values
//! before tables, tables indented by depth, `[[arrays]]` of tables, floats always with a
//! decimal point or exponent, nil values left out.

use eddy_gotemplate::{Map, Value};

fn is_table(value: &Value) -> bool {
    matches!(value, Value::Map(_))
}

fn is_table_array(value: &Value) -> bool {
    matches!(value, Value::List(items) if !items.is_empty() && items.iter().all(is_table))
}

fn quote_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        quote(key)
    }
}

fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            character if (character as u32) < 0x20 || character == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", character as u32));
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

fn float(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        };
    }
    let text = eddy_gotemplate::fmt::format_float(value, 'g', -1);
    if text.contains(['.', 'e']) {
        text
    } else {
        format!("{text}.0")
    }
}

fn inline(value: &Value) -> String {
    match value {
        Value::Nil => String::new(),
        Value::Bool(flag) => flag.to_string(),
        Value::Int(number) | Value::Int64(number) => number.to_string(),
        Value::Float(number) => float(*number),
        Value::String(text) => quote(text),
        Value::List(items) => {
            let parts: Vec<String> = items
                .iter()
                .filter(|item| !item.is_nil())
                .map(inline)
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Map(map) => {
            let parts: Vec<String> = map
                .snapshot()
                .iter()
                .filter(|(_, item)| !item.is_nil())
                .map(|(key, item)| format!("{} = {}", quote_key(key), inline(item)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => quote(&other.to_go_string()),
    }
}

fn write_table(out: &mut String, path: &[String], map: &Map) {
    let indent = "  ".repeat(path.len());
    for (key, value) in map {
        if value.is_nil() || is_table(value) || is_table_array(value) {
            continue;
        }
        out.push_str(&format!("{indent}{} = {}\n", quote_key(key), inline(value)));
    }
    for (key, value) in map {
        let mut child = path.to_vec();
        child.push(quote_key(key));
        let header_indent = "  ".repeat(path.len());
        match value {
            Value::Map(inner) => {
                if path.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("{header_indent}[{}]\n", child.join(".")));
                write_table(out, &child, &inner.snapshot());
            }
            Value::List(items) if is_table_array(value) => {
                for item in items.iter() {
                    if let Value::Map(inner) = item {
                        out.push('\n');
                        out.push_str(&format!("{header_indent}[[{}]]\n", child.join(".")));
                        write_table(out, &child, &inner.snapshot());
                    }
                }
            }
            _ => {}
        }
    }
}

/// Helm's `toToml`.
pub fn to_toml(value: &Value) -> String {
    match crate::json::normalize(value) {
        Value::Map(map) => {
            let mut out = String::new();
            write_table(&mut out, &[], &map.snapshot());
            out
        }
        other => inline(&other),
    }
}
