//! Reading YAML text into [`Value`]s the way yaml.v3 (kustomize's reader) resolves them.
//!
//! Plain scalars are typed with yaml.v3's rules (which are neither YAML 1.1 nor 1.2 exactly:
//! `012` is octal, `yes` is a string), quoted and block scalars are strings, aliases are
//! expanded with a node budget so that a billion-laughs document fails instead of exhausting
//! memory, and a key repeated in one mapping is an error as in yaml.v3.

use granit_parser::{Event, Parser, ScalarStyle};

use super::number::{parse_go_float, parse_go_int};
use crate::value::{Mapping, Value};

/// The most nodes aliases may add to one YAML stream. Nodes written out in the text are
/// bounded by the file size; aliases are not, so they get their own budget.
const ALIAS_NODE_BUDGET: usize = 1_000_000;

/// Why a YAML text could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("yaml: line {line}: {message}")]
pub struct YamlError {
    /// 1-based line of the problem (0 when unknown).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(Mapping, Option<String>, usize, Vec<Value>),
}

/// Parses every document of a YAML stream; empty documents are returned as `Value::Null`.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    parse_documents_with(text, false)
}

/// Like [`parse_documents`], but a repeated key replaces the earlier value (as the
/// yaml.v2-based kustomization reader does) instead of being an error.
pub fn parse_documents_with(
    text: &str,
    allow_duplicate_keys: bool,
) -> Result<Vec<Value>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut documents = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, (Value, usize)> =
        std::collections::HashMap::new();
    let mut budget = ALIAS_NODE_BUDGET;
    let mut current_document: Option<Value> = None;
    // Counts nodes created under each open collection so an anchored collection knows its size.
    let mut sizes: Vec<usize> = Vec::new();
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|error| YamlError {
            line: error.marker().line(),
            message: error.info().to_string(),
        })?;
        let line = span.start.line();
        let (value, anchor, size) = match event {
            Event::StreamStart | Event::StreamEnd => continue,
            Event::DocumentStart(..) => {
                current_document = None;
                anchors.clear();
                continue;
            }
            Event::DocumentEnd => {
                documents.push(current_document.take().unwrap_or(Value::Null));
                continue;
            }
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                sizes.push(1);
                continue;
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame::Map(Mapping::new(), None, anchor, Vec::new()));
                sizes.push(1);
                continue;
            }
            Event::SequenceEnd => match (stack.pop(), sizes.pop()) {
                (Some(Frame::Seq(items, anchor)), Some(size)) => (Value::Seq(items), anchor, size),
                _ => {
                    return Err(YamlError {
                        line,
                        message: "unbalanced sequence".into(),
                    });
                }
            },
            Event::MappingEnd => match (stack.pop(), sizes.pop()) {
                (Some(Frame::Map(mut map, _, anchor, merges)), Some(size)) => {
                    for merged in merges {
                        merge_into(&mut map, merged);
                    }
                    (Value::Map(map), anchor, size)
                }
                _ => {
                    return Err(YamlError {
                        line,
                        message: "unbalanced mapping".into(),
                    });
                }
            },
            Event::Scalar(text, style, anchor, tag) => {
                let tag_suffix = tag.as_ref().and_then(|tag| {
                    if tag.is_yaml_core_schema() {
                        Some(tag.suffix().to_string())
                    } else {
                        None
                    }
                });
                // kustomize reads annotations back as strings of their source text
                // (`f: 1.50` becomes "1.50"), so keep that text for them.
                let value = if in_root_annotation_value(&stack) {
                    Value::String(if style == ScalarStyle::Plain && is_null_text(&text) {
                        String::new()
                    } else {
                        text.to_string()
                    })
                } else {
                    resolve_scalar(&text, style, tag_suffix.as_deref())
                        .map_err(|message| YamlError { line, message })?
                };
                (value, anchor, 1)
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((value, size)) => {
                    // Charge the expansion before copying anything.
                    budget = budget.checked_sub(*size).ok_or_else(|| YamlError {
                        line,
                        message: "document expands to too many nodes through aliases".into(),
                    })?;
                    (value.clone(), 0, *size)
                }
                None => {
                    return Err(YamlError {
                        line,
                        message: "unknown anchor".into(),
                    });
                }
            },
            _ => continue,
        };
        if let Some(parent) = sizes.last_mut() {
            *parent = parent.saturating_add(size);
        }
        if anchor != 0 {
            anchors.insert(anchor, (value.clone(), size));
        }
        match stack.last_mut() {
            None => current_document = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(map, pending_key, _, merges)) => match pending_key.take() {
                None => {
                    let key = match value {
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(YamlError {
                                line,
                                message: "invalid map key: collection".into(),
                            });
                        }
                        other => other.scalar_text().unwrap_or_default(),
                    };
                    *pending_key = Some(key);
                }
                Some(key) => {
                    if key == "<<" && matches!(value, Value::Map(_) | Value::Seq(_)) {
                        merges.push(value);
                    } else if map.contains_key(&key) && !allow_duplicate_keys {
                        return Err(YamlError {
                            line,
                            message: format!("mapping key \"{key}\" already defined"),
                        });
                    } else {
                        map.insert(key, value);
                    }
                }
            },
        }
    }
    Ok(documents)
}

fn is_null_text(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// Whether the next scalar is a value directly under a document's `metadata.annotations`.
fn in_root_annotation_value(stack: &[Frame]) -> bool {
    let [
        Frame::Map(_, root_key, ..),
        Frame::Map(_, metadata_key, ..),
        Frame::Map(_, own_key, ..),
    ] = stack
    else {
        return false;
    };
    root_key.as_deref() == Some("metadata")
        && metadata_key.as_deref() == Some("annotations")
        && own_key.is_some()
}

/// Adds the keys of a `<<` merge source that the mapping does not define itself.
fn merge_into(map: &mut Mapping, merged: Value) {
    match merged {
        Value::Map(source) => {
            for (key, value) in source {
                map.entry(key).or_insert(value);
            }
        }
        Value::Seq(sources) => {
            for source in sources {
                merge_into(map, source);
            }
        }
        _ => {}
    }
}

/// Types one scalar as yaml.v3 does when decoding into an untyped value.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    if let Some(tag) = tag {
        return match tag {
            "str" => Ok(Value::String(text.to_string())),
            "null" => Ok(Value::Null),
            "bool" | "int" | "float" => {
                let value = resolve_plain(text)?;
                match (tag, &value) {
                    ("bool", Value::Bool(_))
                    | ("int", Value::Int(_) | Value::UInt(_))
                    | ("float", Value::Float(_)) => Ok(value),
                    ("float", Value::Int(number)) => Ok(Value::Float(*number as f64)),
                    _ => Err(format!("cannot decode {text:?} as !!{tag}")),
                }
            }
            _ => Ok(Value::String(text.to_string())),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    resolve_plain(text)
}

/// Types a plain scalar.
pub(crate) fn resolve_plain(text: &str) -> Result<Value, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => {
            return Err(format!("json: unsupported value: {text}"));
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.') {
        let cleaned = text.replace('_', "");
        if let Some(value) = parse_go_int(&cleaned) {
            return Ok(value);
        }
        if let Some(number) = parse_go_float(&cleaned) {
            return Ok(Value::Float(number));
        }
        if let Some(timestamp) = resolve_timestamp(text) {
            return Ok(Value::String(timestamp));
        }
    }
    Ok(Value::String(text.to_string()))
}

/// yaml.v3 turns plain dates into `time.Time`, which JSON prints as RFC 3339.
fn resolve_timestamp(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let is_date = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(index, byte)| index == 4 || index == 7 || byte.is_ascii_digit());
    if is_date {
        return Some(format!("{text}T00:00:00Z"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_are_typed_like_yaml_v3() {
        let documents =
            parse_documents("a: 012\nb: yes\nc: 0x10\nd: 1e3\ne: '1'\nf: ~\n").unwrap_or_default();
        let map = documents[0].as_map().cloned().unwrap_or_default();
        assert_eq!(map["a"], Value::Int(10));
        assert_eq!(map["b"], Value::String("yes".into()));
        assert_eq!(map["c"], Value::Int(16));
        assert_eq!(map["d"], Value::Float(1000.0));
        assert_eq!(map["e"], Value::String("1".into()));
        assert_eq!(map["f"], Value::Null);
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        assert!(parse_documents("a: 1\na: 2\n").is_err());
    }

    #[test]
    fn alias_bombs_exhaust_the_budget_instead_of_memory() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let previous = level - 1;
            text.push_str(&format!(
                "a{level}: &a{level} [*a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}]\n"
            ));
        }
        assert!(parse_documents(&text).is_err());
    }

    #[test]
    fn several_documents_are_returned_in_order() {
        let documents = parse_documents("a: 1\n---\nb: 2\n").unwrap_or_default();
        assert_eq!(documents.len(), 2);
    }
}
