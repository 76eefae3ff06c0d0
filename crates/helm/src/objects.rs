//! The Go objects Helm puts into a template's data: `.Files` (with `Get`, `Glob`,
//! `AsConfig`, ...), `.Capabilities.KubeVersion` and `.Capabilities.APIVersions`.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use eddy_gotemplate::{Map, Object, Value};

/// Helm's `engine.files`: the chart's non-template files by path.
pub struct Files {
    files: BTreeMap<String, Arc<[u8]>>,
}

impl Files {
    /// Files from (path, contents) pairs.
    pub fn new(files: BTreeMap<String, Arc<[u8]>>) -> Self {
        Files { files }
    }

    fn to_yaml_of(&self, encode: impl Fn(&[u8]) -> String) -> String {
        if self.files.is_empty() {
            return String::new();
        }
        let mut map = Map::new();
        for (name, data) in &self.files {
            let base = name.rsplit('/').next().unwrap_or(name);
            map.insert(base.to_string(), Value::from(encode(data)));
        }
        let text = crate::yaml_emit::to_yaml(&Value::from(map));
        text.strip_suffix('\n').unwrap_or(&text).to_string()
    }
}

impl Object for Files {
    fn type_name(&self) -> &str {
        "engine.files"
    }

    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let text_arg = || match args.first() {
            Some(Value::String(text)) => Ok(text.to_string()),
            Some(other) => Err(format!(
                "wrong type for value; expected string; got {}",
                other.type_name()
            )),
            None => Err(format!("wrong number of args for {name}: want 1 got 0")),
        };
        Some(match name {
            "Get" => text_arg().map(|path| {
                Value::from(
                    self.files
                        .get(&path)
                        .map(|data| String::from_utf8_lossy(data).to_string())
                        .unwrap_or_default(),
                )
            }),
            "GetBytes" => text_arg().map(|path| {
                Value::Bytes(
                    self.files
                        .get(&path)
                        .cloned()
                        .unwrap_or_else(|| Arc::from(Vec::new())),
                )
            }),
            "Lines" => text_arg().map(|path| {
                let Some(data) = self.files.get(&path) else {
                    return Value::from(Vec::new());
                };
                let mut text = String::from_utf8_lossy(data).to_string();
                if text.ends_with('\n') {
                    text.pop();
                }
                Value::from(text.split('\n').map(Value::from).collect::<Vec<_>>())
            }),
            "Glob" => text_arg().and_then(|pattern| {
                let matcher = glob_regex(&pattern)?;
                let files = self
                    .files
                    .iter()
                    .filter(|(name, _)| matcher.is_match(name))
                    .map(|(name, data)| (name.clone(), data.clone()))
                    .collect();
                Ok(Value::Object(Arc::new(Files { files })))
            }),
            "AsConfig" => {
                Ok(Value::from(self.to_yaml_of(|data| {
                    String::from_utf8_lossy(data).to_string()
                })))
            }
            "AsSecrets" => Ok(Value::from(self.to_yaml_of(|data| {
                base64::engine::general_purpose::STANDARD.encode(data)
            }))),
            _ => return None,
        })
    }

    fn display(&self) -> String {
        let mut out = String::from("map[");
        for (index, (name, data)) in self.files.iter().enumerate() {
            if index > 0 {
                out.push(' ');
            }
            out.push_str(name);
            out.push(':');
            out.push_str(&Value::Bytes(data.clone()).to_go_string());
        }
        out.push(']');
        out
    }

    fn as_data(&self) -> Value {
        Value::from(
            self.files
                .iter()
                .map(|(name, data)| (name.clone(), Value::Bytes(data.clone())))
                .collect::<Map>(),
        )
    }

    fn is_true(&self) -> bool {
        !self.files.is_empty()
    }
}

/// gobwas/glob with `/` as separator: `**` crosses directories, `*` does not,
/// `{a,b}` alternates.
pub fn glob_regex(pattern: &str) -> Result<regex::Regex, String> {
    let mut out = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut index = 0;
    let mut in_braces = 0;
    while index < chars.len() {
        let character = chars[index];
        match character {
            '*' => {
                if chars.get(index + 1) == Some(&'*') {
                    out.push_str(".*");
                    index += 1;
                } else {
                    out.push_str("[^/]*");
                }
            }
            '?' => out.push_str("[^/]"),
            '[' => {
                let mut class = String::from("[");
                index += 1;
                if chars.get(index) == Some(&'!') {
                    class.push('^');
                    index += 1;
                }
                while index < chars.len() && chars[index] != ']' {
                    if chars[index] == '\\' || chars[index] == '[' {
                        class.push('\\');
                    }
                    class.push(chars[index]);
                    index += 1;
                }
                class.push(']');
                out.push_str(&class);
            }
            '{' => {
                in_braces += 1;
                out.push_str("(?:");
            }
            '}' if in_braces > 0 => {
                in_braces -= 1;
                out.push(')');
            }
            ',' if in_braces > 0 => out.push('|'),
            '\\' if index + 1 < chars.len() => {
                index += 1;
                out.push_str(&regex::escape(&chars[index].to_string()));
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
        index += 1;
    }
    out.push('$');
    regex::Regex::new(&out).map_err(|error| error.to_string())
}

/// `.Capabilities.KubeVersion`.
pub struct KubeVersion {
    /// `v1.36.0`.
    pub version: String,
    /// `1`.
    pub major: String,
    /// `36`.
    pub minor: String,
}

impl KubeVersion {
    /// Parses `v1.36.0` (or `1.36`) into its parts.
    pub fn parse(text: &str) -> KubeVersion {
        let trimmed = text.trim_start_matches('v');
        let mut parts = trimmed.split('.');
        let major = parts.next().unwrap_or("0").to_string();
        let minor = parts.next().unwrap_or("0").to_string();
        let patch = parts.next();
        let version = match patch {
            Some(patch) => format!("v{major}.{minor}.{patch}"),
            None => format!("v{major}.{minor}.0"),
        };
        KubeVersion {
            version,
            major,
            minor,
        }
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> &str {
        "*common.KubeVersion"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(Value::from(match name {
            "Version" | "GitVersion" | "String" => self.version.clone(),
            "Major" => self.major.clone(),
            "Minor" => self.minor.clone(),
            _ => return None,
        }))
    }

    fn display(&self) -> String {
        self.version.clone()
    }
}

/// `.Capabilities.APIVersions`.
pub struct ApiVersions {
    /// Group/versions and group/version/kinds the cluster serves.
    pub versions: Vec<String>,
}

impl Object for ApiVersions {
    fn type_name(&self) -> &str {
        "common.VersionSet"
    }

    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if name != "Has" {
            return None;
        }
        Some(match args {
            [Value::String(wanted)] => Ok(Value::Bool(
                self.versions.iter().any(|version| version == &**wanted),
            )),
            [other] => Err(format!(
                "wrong type for value; expected string; got {}",
                other.type_name()
            )),
            _ => Err(format!(
                "wrong number of args for Has: want 1 got {}",
                args.len()
            )),
        })
    }

    fn display(&self) -> String {
        format!("[{}]", self.versions.join(" "))
    }

    fn as_data(&self) -> Value {
        Value::from(
            self.versions
                .iter()
                .map(|version| Value::from(version.as_str()))
                .collect::<Vec<_>>(),
        )
    }
}
