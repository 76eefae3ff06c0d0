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

/// Helm's `fromToml`: a TOML document as a map (integers as `int64`, dates as
/// `time.Time`), or `{"Error": message}` when it does not parse. The message is
/// toml_edit's, not BurntSushi/toml's.
pub fn from_toml(text: &str) -> Value {
    match text.parse::<toml_edit::DocumentMut>() {
        Ok(document) => Value::from(table_to_map(document.as_table())),
        Err(error) => {
            let mut map = Map::new();
            let message = error.to_string();
            map.insert(
                "Error".to_string(),
                Value::from(message.trim_end().to_string()),
            );
            Value::from(map)
        }
    }
}

fn table_to_map(table: &toml_edit::Table) -> Map {
    table
        .iter()
        .filter_map(|(key, item)| item_to_value(item).map(|value| (key.to_string(), value)))
        .collect()
}

fn item_to_value(item: &toml_edit::Item) -> Option<Value> {
    Some(match item {
        toml_edit::Item::None => return None,
        toml_edit::Item::Value(value) => toml_value(value),
        toml_edit::Item::Table(table) => Value::from(table_to_map(table)),
        toml_edit::Item::ArrayOfTables(tables) => Value::from(
            tables
                .iter()
                .map(|table| Value::from(table_to_map(table)))
                .collect::<Vec<_>>(),
        ),
    })
}

fn toml_value(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(text) => Value::from(text.value().as_str()),
        toml_edit::Value::Integer(number) => Value::Int64(*number.value()),
        toml_edit::Value::Float(number) => Value::Float(*number.value()),
        toml_edit::Value::Boolean(flag) => Value::Bool(*flag.value()),
        toml_edit::Value::Datetime(datetime) => toml_datetime(datetime.value()),
        toml_edit::Value::Array(items) => {
            Value::from(items.iter().map(toml_value).collect::<Vec<_>>())
        }
        toml_edit::Value::InlineTable(table) => Value::from(
            table
                .iter()
                .map(|(key, value)| (key.to_string(), toml_value(value)))
                .collect::<Map>(),
        ),
    }
}

/// BurntSushi/toml decodes every date and time kind into a `time.Time`.
fn toml_datetime(datetime: &toml_edit::Datetime) -> Value {
    let text = datetime.to_string().replacen(' ', "T", 1);
    let layout = match (datetime.date, datetime.time, datetime.offset) {
        (Some(_), Some(_), Some(_)) => "2006-01-02T15:04:05.999999999Z07:00",
        (Some(_), Some(_), None) => "2006-01-02T15:04:05.999999999",
        (Some(_), None, _) => "2006-01-02",
        _ => "15:04:05.999999999",
    };
    match crate::time_parse::parse_local(layout, &text) {
        Ok(time) => Value::Object(std::sync::Arc::new(time)),
        Err(_) => Value::from(text),
    }
}
