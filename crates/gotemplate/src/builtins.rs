//! Go's predefined template functions (`len`, `index`, `eq`, `printf`, ...); `and` and `or`
//! live in the executor because they short-circuit.

use std::sync::Arc;

use crate::exec::State;
use crate::value::Value;
use crate::{Function, FunctionMap};

fn function(
    body: impl Fn(&mut State, &[Value]) -> Result<Value, String> + Send + Sync + 'static,
) -> Function {
    Arc::new(body)
}

/// Go's builtin functions.
pub(crate) fn builtins() -> FunctionMap {
    let mut map = FunctionMap::default();
    map.insert("and".into(), function(|_, _| Ok(Value::Nil)));
    map.insert("or".into(), function(|_, _| Ok(Value::Nil)));
    map.insert(
        "not".into(),
        function(|_, args| {
            expect_args("not", args, 1)?;
            Ok(Value::Bool(!args[0].is_true()))
        }),
    );
    map.insert(
        "len".into(),
        function(|_, args| {
            expect_args("len", args, 1)?;
            length(&args[0]).map(|length| Value::Int(length as i64))
        }),
    );
    map.insert("index".into(), function(|_, args| index(args)));
    map.insert("slice".into(), function(|_, args| slice(args)));
    map.insert(
        "print".into(),
        function(|_, args| Ok(Value::from(crate::fmt::sprint(args)))),
    );
    map.insert(
        "println".into(),
        function(|_, args| Ok(Value::from(crate::fmt::sprintln(args)))),
    );
    map.insert(
        "printf".into(),
        function(|_, args| {
            let Some(format) = args.first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".to_string());
            };
            let Value::String(format) = format else {
                return Err(format!(
                    "wrong type for value; expected string; got {}",
                    format.type_name()
                ));
            };
            Ok(Value::from(crate::fmt::sprintf(format, &args[1..])))
        }),
    );
    map.insert("eq".into(), function(|_, args| eq(args).map(Value::Bool)));
    map.insert(
        "ne".into(),
        function(|_, args| {
            expect_args("ne", args, 2)?;
            eq(args).map(|equal| Value::Bool(!equal))
        }),
    );
    map.insert(
        "lt".into(),
        function(|_, args| ordered("lt", args, |o| o.is_lt())),
    );
    map.insert(
        "le".into(),
        function(|_, args| ordered("le", args, |o| o.is_le())),
    );
    map.insert(
        "gt".into(),
        function(|_, args| ordered("gt", args, |o| o.is_gt())),
    );
    map.insert(
        "ge".into(),
        function(|_, args| ordered("ge", args, |o| o.is_ge())),
    );
    map.insert(
        "html".into(),
        function(|_, args| Ok(Value::from(html_escape(&crate::fmt::sprint(args))))),
    );
    map.insert(
        "js".into(),
        function(|_, args| Ok(Value::from(js_escape(&crate::fmt::sprint(args))))),
    );
    map.insert(
        "urlquery".into(),
        function(|_, args| Ok(Value::from(query_escape(&crate::fmt::sprint(args))))),
    );
    map
}

fn expect_args(name: &str, args: &[Value], count: usize) -> Result<(), String> {
    if args.len() != count {
        return Err(format!(
            "wrong number of args for {name}: want {count} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// Go's `len` of a value.
pub fn length(value: &Value) -> Result<usize, String> {
    match value {
        Value::String(text) => Ok(text.len()),
        Value::Bytes(bytes) => Ok(bytes.len()),
        Value::List(items) => Ok(items.len()),
        Value::Map(map) => Ok(map.len()),
        Value::Nil => Err("len of nil pointer".to_string()),
        Value::Object(object) => match object.as_data() {
            Value::List(items) => Ok(items.len()),
            Value::Map(map) => Ok(map.len()),
            _ => Err(format!("len of type {}", object.type_name())),
        },
        other => Err(format!("len of type {}", other.type_name())),
    }
}

fn index_number(value: &Value) -> Result<i64, String> {
    match value {
        Value::Int(number) | Value::Int64(number) => Ok(*number),
        Value::Nil => Err("cannot index slice/array with nil".to_string()),
        other => Err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
    }
}

fn index(args: &[Value]) -> Result<Value, String> {
    let Some(first) = args.first() else {
        return Err("wrong number of args for index: want at least 1 got 0".to_string());
    };
    let mut item = first.clone();
    for key in &args[1..] {
        item = match &item {
            Value::List(items) => {
                let position = index_number(key)?;
                if position < 0 || position as usize >= items.len() {
                    return Err(format!("index out of range: {position}"));
                }
                items[position as usize].clone()
            }
            Value::Bytes(bytes) => {
                let position = index_number(key)?;
                if position < 0 || position as usize >= bytes.len() {
                    return Err(format!("index out of range: {position}"));
                }
                Value::Int(i64::from(bytes[position as usize]))
            }
            Value::String(text) => {
                let position = index_number(key)?;
                if position < 0 || position as usize >= text.len() {
                    return Err(format!("index out of range: {position}"));
                }
                Value::Int(i64::from(text.as_bytes()[position as usize]))
            }
            Value::Map(map) => match key {
                Value::String(name) => map.get(name).unwrap_or(Value::Nil),
                Value::Nil => return Err("value is nil; should be of type string".to_string()),
                other => {
                    return Err(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    ));
                }
            },
            Value::Nil => return Err("index of untyped nil".to_string()),
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(args: &[Value]) -> Result<Value, String> {
    let Some(first) = args.first() else {
        return Err("wrong number of args for slice: want at least 1 got 0".to_string());
    };
    let mut bounds = Vec::new();
    for arg in &args[1..] {
        bounds.push(index_number(arg)?);
    }
    if bounds.len() > 3 {
        return Err(format!("too many slice indexes: {}", bounds.len()));
    }
    let length = match first {
        Value::String(text) => text.len(),
        Value::List(items) => items.len(),
        Value::Nil => return Err("slice of untyped nil".to_string()),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let start = bounds.first().copied().unwrap_or(0);
    let end = bounds.get(1).copied().unwrap_or(length as i64);
    if start < 0 || end < start || end as usize > length {
        return Err(format!("invalid slice index: {start} > {end}"));
    }
    let (start, end) = (start as usize, end as usize);
    Ok(match first {
        Value::String(text) => Value::from(text.get(start..end).unwrap_or_default()),
        Value::List(items) => Value::from(items[start..end].to_vec()),
        _ => Value::Nil,
    })
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum BasicKind {
    Invalid,
    Bool,
    Int,
    Float,
    String,
    Other,
}

fn basic_kind(value: &Value) -> BasicKind {
    match value {
        Value::Nil => BasicKind::Invalid,
        Value::Bool(_) => BasicKind::Bool,
        Value::Int(_) | Value::Int64(_) => BasicKind::Int,
        Value::Float(_) => BasicKind::Float,
        Value::String(_) => BasicKind::String,
        _ => BasicKind::Other,
    }
}

/// Go's `eq`: true when the first argument equals any of the others.
pub fn eq(args: &[Value]) -> Result<bool, String> {
    let Some(first) = args.first() else {
        return Err("wrong number of args for eq: want at least 1 got 0".to_string());
    };
    if args.len() < 2 {
        return Err("missing argument for comparison".to_string());
    }
    let first_kind = basic_kind(first);
    for other in &args[1..] {
        let other_kind = basic_kind(other);
        let truth = if first_kind != other_kind {
            if first_kind != BasicKind::Invalid && other_kind != BasicKind::Invalid {
                return Err(format!(
                    "incompatible types for comparison: {} and {}",
                    first.type_name(),
                    other.type_name()
                ));
            }
            false
        } else {
            match (first, other) {
                (Value::Nil, Value::Nil) => true,
                (Value::List(_) | Value::Map(_) | Value::Bytes(_), _) => {
                    return Err(format!(
                        "non-comparable type {}: {}",
                        first.to_go_string(),
                        first.type_name()
                    ));
                }
                _ => first == other,
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn ordered(
    name: &str,
    args: &[Value],
    accept: fn(std::cmp::Ordering) -> bool,
) -> Result<Value, String> {
    expect_args(name, args, 2)?;
    let (left, right) = (&args[0], &args[1]);
    let (left_kind, right_kind) = (basic_kind(left), basic_kind(right));
    if matches!(
        left_kind,
        BasicKind::Invalid | BasicKind::Bool | BasicKind::Other
    ) || matches!(
        right_kind,
        BasicKind::Invalid | BasicKind::Bool | BasicKind::Other
    ) {
        return Err("invalid type for comparison".to_string());
    }
    if left_kind != right_kind {
        return Err(format!(
            "incompatible types for comparison: {} and {}",
            left.type_name(),
            right.type_name()
        ));
    }
    let ordering = match (left, right) {
        (Value::Int(a) | Value::Int64(a), Value::Int(b) | Value::Int64(b)) => a.cmp(b),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
        (Value::String(a), Value::String(b)) => a.cmp(b),
        _ => return Err("invalid type for comparison".to_string()),
    };
    Ok(Value::Bool(accept(ordering)))
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            other => out.push(other),
        }
    }
    out
}

fn js_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            character if (character as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04X}", character as u32))
            }
            other => out.push(other),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
