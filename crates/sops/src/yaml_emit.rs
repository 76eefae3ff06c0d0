//! Writing decrypted YAML close to SOPS's output (yaml.v3, four-space indentation, key order
//! kept). Strings that could read back as another type, or that a plain scalar cannot hold, are
//! double-quoted; multi-line strings become literal blocks. Comments are not kept.

use serde_json::{Map, Value};

const INDENT: usize = 4;

/// Writes each branch as one YAML document, separated by `---` as yaml.v3's encoder does.
pub(crate) fn documents(branches: &[Map<String, Value>]) -> String {
    let mut out = String::new();
    for (index, branch) in branches.iter().enumerate() {
        if index > 0 {
            out.push_str("---\n");
        }
        if branch.is_empty() {
            out.push_str("{}\n");
        } else {
            write_map(branch, 0, &mut out);
        }
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn write_map(map: &Map<String, Value>, indent: usize, out: &mut String) {
    for (index, (key, value)) in map.iter().enumerate() {
        // The first key of a mapping inside a sequence item follows the "- " on its line.
        if index > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        write_string(key, indent, out);
        out.push(':');
        write_nested(value, indent, out);
    }
}

/// Writes what follows `key:` (a scalar on the same line, or a block below it).
fn write_nested(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(map, indent + INDENT, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(items, indent + INDENT, out);
        }
        _ => {
            out.push(' ');
            write_scalar(value, indent + INDENT, out);
            out.push('\n');
        }
    }
}

fn write_seq(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        pad(out, indent);
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(map, indent + 2, out),
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(inner, indent + 2, out);
            }
            _ => {
                write_scalar(item, indent + 2, out);
                out.push('\n');
            }
        }
    }
}

fn write_scalar(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or_default();
            out.push_str(&match go_format_g(float).as_str() {
                "+Inf" => ".inf".to_string(),
                "-Inf" => "-.inf".to_string(),
                "NaN" => ".nan".to_string(),
                text => text.to_string(),
            });
        }
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => write_string(text, indent, out),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`.
pub(crate) fn go_format_g(number: f64) -> String {
    if number.is_nan() {
        return "NaN".to_string();
    }
    if number.is_infinite() {
        return if number > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if number == 0.0 {
        return if number.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e6".
    let scientific = format!("{number:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    format!("{number}")
}

fn needs_quotes(text: &str) -> bool {
    const RESERVED: [&str; 10] = [
        "null", "true", "false", "yes", "no", "on", "off", "y", "n", "~",
    ];
    let first = text.chars().next();
    text.is_empty()
        || text.trim() != text
        || RESERVED.contains(&text.to_ascii_lowercase().as_str())
        || first.is_some_and(|c| c.is_ascii_digit() || "-+.?:,[]{}#&*!|>'\"%@`=<".contains(c))
        || text.contains(": ")
        || text.contains(" #")
        || text.ends_with(':')
        || text.chars().any(|c| c.is_control() || c == '\u{feff}')
}

fn write_string(text: &str, indent: usize, out: &mut String) {
    let literal_ok = text.contains('\n')
        && !text.starts_with([' ', '\n'])
        && !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
        && !text.split('\n').any(|line| line.ends_with(' '));
    if literal_ok {
        let body = text.trim_end_matches('\n');
        let trailing = text.len() - body.len();
        out.push_str(match trailing {
            0 => "|-",
            1 => "|",
            _ => "|+",
        });
        for line in text[..body.len() + trailing.saturating_sub(1)].split('\n') {
            out.push('\n');
            if !line.is_empty() {
                pad(out, indent);
                out.push_str(line);
            }
        }
        // The caller ends the line.
        return;
    }
    if !needs_quotes(text) {
        out.push_str(text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    fn emit(value: Value) -> String {
        match value {
            Value::Object(map) => documents(&[map]),
            _ => String::new(),
        }
    }

    #[test]
    fn nested_values_are_indented_by_four_and_keep_their_order() {
        let text = emit(serde_json::json!({
            "z": "plain", "a": {"num": 1, "f": 1.5, "t": true},
            "list": ["x", {"k": "v", "k2": "v2"}], "quoted": "true", "empty": ""
        }));
        assert_eq!(
            text,
            "z: plain\na:\n    num: 1\n    f: 1.5\n    t: true\nlist:\n    - x\n    - k: v\n      k2: v2\nquoted: \"true\"\nempty: \"\"\n"
        );
    }

    #[test]
    fn multi_line_strings_become_literal_blocks() {
        let text = emit(serde_json::json!({"key": "line1\nline2\n", "one": "a\nb"}));
        assert_eq!(
            text,
            "key: |\n    line1\n    line2\none: |-\n    a\n    b\n"
        );
    }

    #[test]
    fn floats_use_go_g_format() {
        assert_eq!(go_format_g(1234567.0), "1.234567e+06");
        assert_eq!(go_format_g(0.5), "0.5");
        assert_eq!(go_format_g(1e-5), "1e-05");
    }
}
