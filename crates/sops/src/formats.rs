//! SOPS's document formats (getsops/sops `stores/`): reading an encrypted document into branches
//! plus metadata, and writing decrypted branches back out.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::metadata::{FLAT_PREFIX, METADATA_KEY, unflatten};
use crate::yaml_emit;

/// A SOPS document format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// YAML, possibly several documents.
    Yaml,
    /// One JSON object.
    Json,
    /// `KEY=value` lines.
    Dotenv,
    /// Any bytes, in a JSON envelope `{"data": "ENC[…]", "sops": {…}}` when encrypted.
    Binary,
    /// INI (recognised so that it can be refused clearly).
    Ini,
}

impl Format {
    /// The name SOPS and Flux use in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
            Format::Dotenv => "dotenv",
            Format::Binary => "binary",
            Format::Ini => "INI",
        }
    }

    /// The format of a file by its name, as Flux's `formatForPath`: SOPS's extension rules
    /// (`.yaml`/`.yml`, `.json`, `.env`, `.ini`, else binary) plus `.dockerconfigjson` as JSON.
    pub fn for_path(path: &str) -> Format {
        if path.ends_with(".dockerconfigjson") || path.ends_with(".json") {
            Format::Json
        } else if path.ends_with(".yaml") || path.ends_with(".yml") {
            Format::Yaml
        } else if path.ends_with(".env") {
            Format::Dotenv
        } else if path.ends_with(".ini") {
            Format::Ini
        } else {
            Format::Binary
        }
    }

    /// The marker Flux looks for to decide that data in this format is SOPS encrypted.
    pub fn marker(self) -> &'static [u8] {
        match self {
            Format::Yaml => b"mac: ENC[",
            Format::Json | Format::Binary => b"\"mac\": \"ENC[",
            Format::Dotenv => b"sops_mac=ENC[",
            Format::Ini => b"[sops]",
        }
    }

    /// Flux's `detectFormatFromMarkerBytes`: the format whose marker `data` contains.
    pub fn detect(data: &[u8]) -> Option<Format> {
        [Format::Json, Format::Yaml, Format::Dotenv, Format::Ini]
            .into_iter()
            .find(|format| contains(data, format.marker()))
    }
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// A loaded document: its branches (top-level mappings, `sops` removed) and the metadata.
pub(crate) struct Loaded {
    pub(crate) branches: Vec<Map<String, Value>>,
    pub(crate) metadata: Value,
}

fn parse_error(format: Format, reason: impl Into<String>) -> Error {
    Error::Parse {
        format: format.name(),
        reason: reason.into(),
    }
}

pub(crate) fn load(data: &[u8], format: Format) -> Result<Loaded> {
    match format {
        Format::Json | Format::Binary => {
            let value: Value = serde_json::from_slice(data).map_err(|error| {
                parse_error(
                    format,
                    format!(
                        "invalid JSON at line {} column {}",
                        error.line(),
                        error.column()
                    ),
                )
            })?;
            let Value::Object(map) = value else {
                return Err(parse_error(
                    format,
                    "SOPS only supports JSON files with a top-level object",
                ));
            };
            extract_metadata(vec![map])
        }
        Format::Yaml => {
            let text = std::str::from_utf8(data)
                .map_err(|_| parse_error(format, "the document is not UTF-8"))?;
            let documents = eddy_kustomize::yaml::parse::parse_documents(text)
                .map_err(|error| parse_error(format, format!("yaml: line {}", error.line)))?;
            let mut branches = Vec::with_capacity(documents.len());
            for document in documents {
                match from_kustomize(document) {
                    Value::Object(map) => branches.push(map),
                    Value::Null => branches.push(Map::new()),
                    Value::Array(_) => {
                        return Err(parse_error(
                            format,
                            "YAML documents that are sequences are not supported",
                        ));
                    }
                    _ => {
                        return Err(parse_error(
                            format,
                            "YAML documents that are values are not supported",
                        ));
                    }
                }
            }
            extract_metadata(branches)
        }
        Format::Dotenv => load_dotenv(data),
        Format::Ini => Err(parse_error(format, "the INI format is not supported")),
    }
}

/// SOPS `ExtractMetadata` without flattening: `sops` comes from the first branch and is removed
/// from all of them.
pub(crate) fn extract_metadata(mut branches: Vec<Map<String, Value>>) -> Result<Loaded> {
    let mut metadata = None;
    for (index, branch) in branches.iter_mut().enumerate() {
        if let Some(found) = branch.shift_remove(METADATA_KEY)
            && index == 0
        {
            metadata = Some(found);
        }
    }
    match metadata {
        Some(metadata @ Value::Object(_)) => Ok(Loaded { branches, metadata }),
        Some(_) => Err(Error::InvalidMetadata(
            "found sops entry that is not a mapping".to_string(),
        )),
        None => Err(Error::MetadataNotFound),
    }
}

fn load_dotenv(data: &[u8]) -> Result<Loaded> {
    let text = std::str::from_utf8(data)
        .map_err(|_| parse_error(Format::Dotenv, "the document is not UTF-8"))?;
    let mut branch = Map::new();
    let mut flat_metadata = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| {
            parse_error(
                Format::Dotenv,
                format!("invalid dotenv input on line {}", index + 1),
            )
        })?;
        let value = value.replace("\\n", "\n");
        if let Some(name) = key.strip_prefix(FLAT_PREFIX) {
            flat_metadata.push((name.to_string(), value));
        } else {
            branch.insert(key.to_string(), Value::String(value));
        }
    }
    if flat_metadata.is_empty() {
        return Err(Error::MetadataNotFound);
    }
    Ok(Loaded {
        branches: vec![branch],
        metadata: unflatten(&flat_metadata)?,
    })
}

/// Converts a value read by the kustomize engine's yaml.v3-compatible reader (which types
/// scalars exactly as SOPS's yaml.v3 does).
fn from_kustomize(value: eddy_kustomize::value::Value) -> Value {
    use eddy_kustomize::value::Value as K;
    match value {
        K::Null => Value::Null,
        K::Bool(flag) => Value::Bool(flag),
        K::Int(number) => Value::Number(number.into()),
        K::UInt(number) => Value::Number(number.into()),
        K::Float(number) => serde_json::Number::from_f64(number)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(crate::tree::go_float(number))),
        K::String(text) => Value::String(text),
        K::Seq(items) => Value::Array(items.into_iter().map(from_kustomize).collect()),
        K::Map(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, from_kustomize(value)))
                .collect(),
        ),
    }
}

pub(crate) fn emit(branches: &[Map<String, Value>], format: Format) -> Result<Vec<u8>> {
    let emit_error = |reason: &str| Error::Emit {
        format: format.name(),
        reason: reason.to_string(),
    };
    let first = || {
        branches
            .first()
            .ok_or_else(|| emit_error("the document is empty"))
    };
    match format {
        Format::Json => {
            let mut out = String::new();
            write_json(&Value::Object(first()?.clone()), 0, &mut out);
            out.push('\n');
            Ok(out.into_bytes())
        }
        Format::Yaml => Ok(yaml_emit::documents(branches).into_bytes()),
        Format::Dotenv => {
            let mut out = String::new();
            for (key, value) in first()? {
                let text = match value {
                    Value::String(text) => text.replace('\n', "\\n"),
                    Value::Array(_) | Value::Object(_) => {
                        return Err(emit_error("cannot use complex value in dotenv file"));
                    }
                    other => value_to_string(other),
                };
                out.push_str(key);
                out.push('=');
                out.push_str(&text);
                out.push('\n');
            }
            Ok(out.into_bytes())
        }
        Format::Binary => match first()?.get("data") {
            Some(Value::String(text)) => Ok(text.clone().into_bytes()),
            Some(_) => Err(emit_error(
                "'data' key in tree does not have a string value",
            )),
            None => Err(emit_error("no binary data found in tree")),
        },
        Format::Ini => Err(emit_error("the INI format is not supported")),
    }
}

/// SOPS `stores.ValToString` for dotenv scalars.
fn value_to_string(value: &Value) -> String {
    match value {
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or_default();
            let text = yaml_emit::go_format_g(float).to_ascii_uppercase();
            if text.contains('.') || text.contains('E') {
                text
            } else {
                format!("{text}.0")
            }
        }
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        Value::Array(_) | Value::Object(_) => String::new(),
    }
}

/// JSON as SOPS writes it: Go's escaping and number format, indented with tabs
/// (`json.Indent(…, "\t")`).
fn write_json(value: &Value, depth: usize, out: &mut String) {
    let newline_indent = |depth: usize, out: &mut String| {
        out.push('\n');
        out.push_str(&"\t".repeat(depth));
    };
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                newline_indent(depth + 1, out);
                eddy_kustomize::json::write_string(key, out);
                out.push_str(": ");
                write_json(item, depth + 1, out);
            }
            newline_indent(depth, out);
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                newline_indent(depth + 1, out);
                write_json(item, depth + 1, out);
            }
            newline_indent(depth, out);
            out.push(']');
        }
        Value::String(text) => eddy_kustomize::json::write_string(text, out),
        Value::Number(number) if number.is_f64() => {
            let float = eddy_kustomize::value::Value::Float(number.as_f64().unwrap_or_default());
            out.push_str(&eddy_kustomize::json::to_go_json(&float));
        }
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_flux_for_paths_and_markers() {
        assert_eq!(Format::for_path("a/secret.enc.yaml"), Format::Yaml);
        assert_eq!(Format::for_path(".dockerconfigjson"), Format::Json);
        assert_eq!(Format::for_path("app.env"), Format::Dotenv);
        assert_eq!(Format::for_path("key.pem"), Format::Binary);
        assert_eq!(Format::detect(b"x\nsops_mac=ENC[AES"), Some(Format::Dotenv));
        assert_eq!(Format::detect(b"    mac: ENC[AES"), Some(Format::Yaml));
        assert_eq!(Format::detect(b"plain"), None);
    }

    #[test]
    fn json_is_written_with_tabs_and_go_escaping() {
        let value = serde_json::json!({"a": "<b>", "n": [1, 2.5], "e": {}});
        let mut out = String::new();
        write_json(&value, 0, &mut out);
        assert_eq!(
            out,
            "{\n\t\"a\": \"\\u003cb\\u003e\",\n\t\"n\": [\n\t\t1,\n\t\t2.5\n\t],\n\t\"e\": {}\n}"
        );
    }

    #[test]
    fn dotenv_values_are_written_back_with_escaped_newlines() {
        let mut branch = Map::new();
        branch.insert("A".into(), Value::String("x\ny".into()));
        branch.insert("B".into(), serde_json::json!(2.0));
        let out = emit(&[branch], Format::Dotenv).unwrap_or_default();
        assert_eq!(String::from_utf8_lossy(&out), "A=x\\ny\nB=2.0\n");
    }
}
