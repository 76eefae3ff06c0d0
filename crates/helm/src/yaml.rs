//! Reading YAML the way Helm does: `sigs.k8s.io/yaml`, which parses with go-yaml v2
//! (YAML 1.1 scalars: `yes`/`on`/`n` are booleans, also as keys) and then round-trips
//! through JSON, so every number becomes a `float64` and every key a string.

use std::collections::HashMap;

use eddy_gotemplate::{Map, Value};
use granit_parser::{Event, Parser, ScalarStyle};

/// A YAML document that could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("yaml: line {line}: {message}")]
pub struct YamlError {
    /// 1-based line of the problem.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// How plain scalars resolve.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Numbers {
    /// Through JSON: every number is a `float64` (sigs.k8s.io/yaml).
    Json,
    /// go-yaml v2 into `interface{}`: integers stay `int`.
    Native,
}

/// Parses every document of `text` (an empty stream gives no documents).
pub fn parse_documents(text: &str, numbers: Numbers) -> Result<Vec<Value>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder {
        anchors: HashMap::new(),
        numbers,
    };
    let mut documents = Vec::new();
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|error| YamlError {
            line: error.marker().line(),
            message: error.info(),
        })?;
        if !is_structural(&event) {
            continue;
        }
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(..) => {
                let value = builder.node(&mut parser, None)?;
                documents.push(value);
            }
            Event::StreamStart | Event::DocumentEnd => {}
            _ => {
                return Err(YamlError {
                    line: span.start.line(),
                    message: "unexpected event".to_string(),
                });
            }
        }
    }
    Ok(documents)
}

/// Parses the first document of `text` as sigs.k8s.io/yaml's `Unmarshal` does; an empty
/// text gives `Nil`.
pub fn parse(text: &str) -> Result<Value, YamlError> {
    Ok(parse_documents(text, Numbers::Json)?
        .into_iter()
        .next()
        .unwrap_or(Value::Nil))
}

struct Builder {
    anchors: HashMap<usize, Value>,
    numbers: Numbers,
}

impl Builder {
    /// Reads one node; `first` is an already-read event.
    fn node<'a>(
        &mut self,
        parser: &mut Parser<'a, granit_parser::StrInput<'a>>,
        first: Option<(Event<'a>, usize)>,
    ) -> Result<Value, YamlError> {
        let (event, line) = match first {
            Some(pair) => pair,
            None => next_event(parser)?,
        };
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tag_suffix = tag.as_ref().map(|tag| tag.suffix().to_string());
                let value = self.scalar(&text, style, tag_suffix.as_deref(), line)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                Ok(value)
            }
            Event::Alias(anchor) => Ok(self.anchors.get(&anchor).cloned().unwrap_or(Value::Nil)),
            Event::SequenceStart(_, anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, line) = next_event(parser)?;
                    if let Event::SequenceEnd = event {
                        break;
                    }
                    items.push(self.node(parser, Some((event, line)))?);
                }
                let value = Value::from(items);
                if anchor > 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                Ok(value)
            }
            Event::MappingStart(_, anchor, _) => {
                let mut map = Map::new();
                let mut merges: Vec<Value> = Vec::new();
                loop {
                    let (event, line) = next_event(parser)?;
                    if let Event::MappingEnd = event {
                        break;
                    }
                    let is_merge = matches!(&event, Event::Scalar(text, ScalarStyle::Plain, _, None) if text == "<<");
                    let key = self.node(parser, Some((event, line)))?;
                    let value = self.node(parser, None)?;
                    if is_merge {
                        merges.push(value);
                        continue;
                    }
                    map.insert(key_string(&key), value);
                }
                for merge in merges {
                    let sources = match merge {
                        Value::List(items) => items.iter().cloned().collect(),
                        other => vec![other],
                    };
                    for source in sources {
                        if let Value::Map(source) = source {
                            for (key, value) in source.snapshot() {
                                map.entry(key).or_insert(value);
                            }
                        }
                    }
                }
                let value = Value::from(map);
                if anchor > 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                Ok(value)
            }
            _ => Err(YamlError {
                line,
                message: "did not find expected node content".to_string(),
            }),
        }
    }

    fn scalar(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&str>,
        line: usize,
    ) -> Result<Value, YamlError> {
        if let Some(tag) = tag {
            return match tag {
                "str" => Ok(Value::from(text)),
                "int" | "float" => match resolve_plain(text, self.numbers) {
                    value @ (Value::Float(_) | Value::Int(_)) => Ok(value),
                    _ => Err(YamlError {
                        line,
                        message: format!("cannot decode !!{tag} `{text}`"),
                    }),
                },
                "bool" => match resolve_plain(text, self.numbers) {
                    value @ Value::Bool(_) => Ok(value),
                    _ => Err(YamlError {
                        line,
                        message: format!("cannot decode !!bool `{text}`"),
                    }),
                },
                "null" => Ok(Value::Nil),
                "binary" => Ok(Value::from(text)),
                _ => Ok(resolve_plain(text, self.numbers)),
            };
        }
        if style != ScalarStyle::Plain {
            return Ok(Value::from(text));
        }
        Ok(resolve_plain(text, self.numbers))
    }
}

/// The next structural event (comments and presentation metadata are skipped).
fn next_event<'a>(
    parser: &mut Parser<'a, granit_parser::StrInput<'a>>,
) -> Result<(Event<'a>, usize), YamlError> {
    loop {
        match parser.next_event() {
            Some(Ok((event, span))) => {
                if is_structural(&event) {
                    return Ok((event, span.start.line()));
                }
            }
            Some(Err(error)) => {
                return Err(YamlError {
                    line: error.marker().line(),
                    message: error.info(),
                });
            }
            None => {
                return Err(YamlError {
                    line: 0,
                    message: "unexpected end of stream".to_string(),
                });
            }
        }
    }
}

fn is_structural(event: &Event<'_>) -> bool {
    matches!(
        event,
        Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(..)
            | Event::DocumentEnd
            | Event::Alias(_)
            | Event::Scalar(..)
            | Event::SequenceStart(..)
            | Event::SequenceEnd
            | Event::MappingStart(..)
            | Event::MappingEnd
    )
}

/// How sigs.k8s.io/yaml turns a non-string key into a JSON object key.
fn key_string(key: &Value) -> String {
    match key {
        Value::String(text) => text.to_string(),
        Value::Nil => "null".to_string(),
        Value::Bool(value) => value.to_string(),
        Value::Int(value) | Value::Int64(value) => value.to_string(),
        Value::Float(value) => {
            if value.fract() == 0.0 && value.abs() < 1e15 {
                format!("{}", *value as i64)
            } else {
                eddy_gotemplate::fmt::format_float(*value, 'g', -1)
            }
        }
        other => other.to_go_string(),
    }
}

/// go-yaml v2's resolution of a plain scalar.
pub fn resolve_plain(text: &str, numbers: Numbers) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Nil,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Value::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first == b'.' {
        if let Ok(float) = text.parse::<f64>() {
            return Value::Float(float);
        }
        return Value::from(text);
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Value::from(text);
    }
    let plain = text.replace('_', "");
    if let Some(integer) = parse_go_int(&plain) {
        return match numbers {
            Numbers::Json => Value::Float(integer as f64),
            Numbers::Native => match i64::try_from(integer) {
                Ok(small) => Value::Int(small),
                Err(_) => Value::Float(integer as f64),
            },
        };
    }
    if is_yaml_float(&plain)
        && let Ok(float) = plain.parse::<f64>()
    {
        return Value::Float(float);
    }
    Value::from(text)
}

/// `strconv.ParseInt(text, 0, 64)` (and `ParseUint`), widened to i128.
fn parse_go_int(text: &str) -> Option<i128> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (digits, radix) = if let Some(rest) = lower.strip_prefix("0x") {
        (rest, 16)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (rest, 8)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (rest, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    let value = i128::from(magnitude);
    if negative {
        if value > i128::from(i64::MAX) + 1 {
            return None;
        }
        Some(-value)
    } else {
        Some(value)
    }
}

/// go-yaml v2's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut index = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        index += 1;
    }
    let digits_start = index;
    while index < bytes.len() && bytes[index].is_ascii_digit() {
        index += 1;
    }
    let integer_digits = index - digits_start;
    if index < bytes.len() && bytes[index] == b'.' {
        index += 1;
        let fraction_start = index;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            index += 1;
        }
        if integer_digits == 0 && index == fraction_start {
            return false;
        }
    } else if integer_digits == 0 {
        return false;
    }
    if index < bytes.len() && (bytes[index] == b'e' || bytes[index] == b'E') {
        index += 1;
        if index < bytes.len() && (bytes[index] == b'+' || bytes[index] == b'-') {
            index += 1;
        }
        let exponent_start = index;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            index += 1;
        }
        if index == exponent_start {
            return false;
        }
    }
    index == bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_one_one_booleans_apply_to_keys_and_values() {
        let value = parse("n: yes\nport: 8080\nbig: 1000000\nname: '1'\n").ok();
        let text = value.map(|value| value.to_go_string());
        assert_eq!(
            text.as_deref(),
            Some("map[big:1e+06 false:true name:1 port:8080]")
        );
    }

    #[test]
    fn anchors_aliases_and_merges_resolve() {
        let value = parse("a: &x {k: 1}\nb: *x\nc:\n  <<: *x\n  j: 2\n").ok();
        let text = value.map(|value| value.to_go_string());
        assert_eq!(
            text.as_deref(),
            Some("map[a:map[k:1] b:map[k:1] c:map[j:2 k:1]]")
        );
    }
}
