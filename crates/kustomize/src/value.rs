//! The document model: a JSON-like tree whose mappings keep their insertion order.
//!
//! kustomize round-trips every resource through JSON before printing it, so scalar styles and
//! comments never reach the output; what matters is the data type of each scalar as yaml.v3
//! resolved it. Mapping order still matters while transforming (strategic merge appends new
//! keys and list items in a defined order), hence `IndexMap`.

use indexmap::IndexMap;

/// An ordered mapping from string keys to values.
pub type Mapping = IndexMap<String, Value>;

/// One node of a YAML or JSON document.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`, `~` or an empty plain scalar.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer that fits 64 bits.
    Int(i64),
    /// An unsigned integer too large for `i64`.
    UInt(u64),
    /// A floating point number.
    Float(f64),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<Value>),
    /// A mapping.
    Map(Mapping),
}

impl Value {
    /// The string content, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The mapping, when this is one.
    pub fn as_map(&self) -> Option<&Mapping> {
        match self {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// The mapping for modification, when this is one.
    pub fn as_map_mut(&mut self) -> Option<&mut Mapping> {
        match self {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// The sequence, when this is one.
    pub fn as_seq(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value under `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|map| map.get(key))
    }

    /// The value under `key` for modification when this is a mapping.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_map_mut().and_then(|map| map.get_mut(key))
    }

    /// Follows a path of mapping keys.
    pub fn get_path(&self, path: &[&str]) -> Option<&Value> {
        let mut current = self;
        for key in path {
            current = current.get(key)?;
        }
        Some(current)
    }

    /// The string at a path of mapping keys.
    pub fn str_at(&self, path: &[&str]) -> Option<&str> {
        self.get_path(path).and_then(Value::as_str)
    }

    /// Whether this is a mapping, sequence or null rather than a plain scalar.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text a scalar would have as an unquoted YAML/JSON token; `None` for collections.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Null => Some(String::new()),
            Value::Bool(flag) => Some(flag.to_string()),
            Value::Int(number) => Some(number.to_string()),
            Value::UInt(number) => Some(number.to_string()),
            Value::Float(number) => Some(crate::yaml::number::go_json_float(*number)),
            Value::String(text) => Some(text.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// Ensures a mapping exists under `key` (replacing a null) and returns it.
    pub fn map_entry<'map>(map: &'map mut Mapping, key: &str) -> Option<&'map mut Mapping> {
        let entry = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Map(Mapping::new()));
        if entry.is_null() {
            *entry = Value::Map(Mapping::new());
        }
        entry.as_map_mut()
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::String(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::String(text)
    }
}
