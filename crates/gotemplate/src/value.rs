//! The dynamic value a template works on, modelled on the Go types Helm charts see:
//! `interface{}` holding `nil`, `bool`, `int`, `int64`, `float64`, `string`, `[]byte`,
//! `[]interface{}`, `map[string]interface{}`, or an object with methods.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// A map as Go templates see it: iteration is always in sorted key order.
pub type Map = BTreeMap<String, Value>;

/// A Go map value: a reference, so `set` and `merge` mutate every holder's view, exactly
/// as they do in Go. The lock is only held inside these methods, never across template
/// execution, so re-entrant use from a template cannot deadlock.
#[derive(Clone, Default)]
pub struct SharedMap(Arc<Mutex<Map>>, Option<&'static str>);

impl SharedMap {
    /// A new map holding `map`.
    pub fn new(map: Map) -> Self {
        SharedMap(Arc::new(Mutex::new(map)), None)
    }

    /// The same map seen through a named Go map type (such as Helm's `common.Values`),
    /// which `%T` shows and some functions reject.
    pub fn with_type_name(&self, name: &'static str) -> Self {
        SharedMap(self.0.clone(), Some(name))
    }

    /// The named Go type of this handle, if any.
    pub fn type_name(&self) -> Option<&'static str> {
        self.1
    }

    fn lock(&self) -> MutexGuard<'_, Map> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value at `key`.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.lock().get(key).cloned()
    }

    /// Sets `key`, returning the previous value.
    pub fn insert(&self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.lock().insert(key.into(), value)
    }

    /// Removes `key`.
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.lock().remove(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.lock().contains_key(key)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// A copy of the entries (values still share nested maps).
    pub fn snapshot(&self) -> Map {
        self.lock().clone()
    }

    /// Whether two handles refer to the same map.
    pub fn ptr_eq(&self, other: &SharedMap) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A recursive copy sharing nothing with the original.
    pub fn deep_copy(&self) -> SharedMap {
        SharedMap::new(
            self.snapshot()
                .into_iter()
                .map(|(key, value)| (key, value.deep_copy()))
                .collect(),
        )
    }

    /// Replaces the whole content.
    pub fn replace(&self, map: Map) {
        *self.lock() = map;
    }
}

/// A Go value inside a template.
#[derive(Clone, Default)]
pub enum Value {
    /// A nil interface (a missing map key, `nil`).
    #[default]
    Nil,
    /// Go `bool`.
    Bool(bool),
    /// Go `int` (what `len`, `atoi`, `int` and integer literals produce).
    Int(i64),
    /// Go `int64` (what Sprig's arithmetic and `--set` produce).
    Int64(i64),
    /// Go `float64` (every number decoded from YAML or JSON).
    Float(f64),
    /// Go `string`.
    String(Arc<str>),
    /// Go `[]byte`.
    Bytes(Arc<[u8]>),
    /// Go `[]interface{}` (and other slices).
    List(Arc<Vec<Value>>),
    /// Go `map[string]interface{}`.
    Map(SharedMap),
    /// A value with fields and methods, such as Helm's `.Files`.
    Object(Arc<dyn Object>),
}

/// A Go value with methods or struct fields that templates can call.
pub trait Object: Send + Sync {
    /// The Go type name, as `%T` and error messages print it.
    fn type_name(&self) -> &str;
    /// A field or a method without arguments; `None` when there is no such member.
    fn field(&self, name: &str) -> Option<Value>;
    /// A method call with arguments; `None` when there is no such method.
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let _ = (name, args);
        None
    }
    /// What `fmt.Print` shows for this value.
    fn display(&self) -> String;
    /// The value as data, used when it is serialised (for instance by `toYaml`).
    fn as_data(&self) -> Value {
        Value::String(Arc::from(self.display()))
    }
    /// The concrete object, for functions that need their own types back.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// Go's truthiness of the value (a struct is always true).
    fn is_true(&self) -> bool {
        true
    }
    /// The `reflect.Kind` name `kindOf` prints: most objects are pointers to structs,
    /// values such as `time.Time` are structs.
    fn kind_name(&self) -> &'static str {
        "ptr"
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(formatter, "Nil"),
            Value::Bool(value) => write!(formatter, "Bool({value})"),
            Value::Int(value) => write!(formatter, "Int({value})"),
            Value::Int64(value) => write!(formatter, "Int64({value})"),
            Value::Float(value) => write!(formatter, "Float({value})"),
            Value::String(value) => write!(formatter, "String({value:?})"),
            Value::Bytes(value) => write!(formatter, "Bytes({value:?})"),
            Value::List(value) => formatter.debug_list().entries(value.iter()).finish(),
            Value::Map(value) => formatter
                .debug_map()
                .entries(value.snapshot().iter())
                .finish(),
            Value::Object(object) => write!(formatter, "Object({})", object.type_name()),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(left), Value::Bool(right)) => left == right,
            (Value::Int(left) | Value::Int64(left), Value::Int(right) | Value::Int64(right)) => {
                left == right
            }
            (Value::Float(left), Value::Float(right)) => left == right,
            (Value::String(left), Value::String(right)) => left == right,
            (Value::Bytes(left), Value::Bytes(right)) => left == right,
            (Value::List(left), Value::List(right)) => left == right,
            (Value::Map(left), Value::Map(right)) => {
                left.ptr_eq(right) || left.snapshot() == right.snapshot()
            }
            (Value::Object(left), Value::Object(right)) => Arc::ptr_eq(left, right),
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::String(Arc::from(text))
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::String(Arc::from(text))
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::List(Arc::new(items))
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Self {
        Value::Map(SharedMap::new(map))
    }
}

impl Value {
    /// A string value.
    pub fn string(text: impl Into<Arc<str>>) -> Self {
        Value::String(text.into())
    }

    /// Go's truth: false, 0, nil, and empty strings, slices and maps are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(value) => *value,
            Value::Int(value) | Value::Int64(value) => *value != 0,
            Value::Float(value) => *value != 0.0,
            Value::String(value) => !value.is_empty(),
            Value::Bytes(value) => !value.is_empty(),
            Value::List(value) => !value.is_empty(),
            Value::Map(value) => !value.is_empty(),
            Value::Object(object) => object.is_true(),
        }
    }

    /// The Go type name as `%T` prints it.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".to_string(),
            Value::Bool(_) => "bool".to_string(),
            Value::Int(_) => "int".to_string(),
            Value::Int64(_) => "int64".to_string(),
            Value::Float(_) => "float64".to_string(),
            Value::String(_) => "string".to_string(),
            Value::Bytes(_) => "[]uint8".to_string(),
            Value::List(_) => "[]interface {}".to_string(),
            Value::Map(map) => map
                .type_name()
                .unwrap_or("map[string]interface {}")
                .to_string(),
            Value::Object(object) => object.type_name().to_string(),
        }
    }

    /// The Go kind name as Sprig's `kindOf` reports it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) | Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(object) => object.kind_name(),
        }
    }

    /// The string inside, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// A copy in which no map is shared with the original.
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::Map(map) => Value::Map(map.deep_copy()),
            Value::List(items) => {
                Value::from(items.iter().map(Value::deep_copy).collect::<Vec<_>>())
            }
            other => other.clone(),
        }
    }

    /// Whether this is a nil interface.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// What `fmt.Sprint` produces for this value alone.
    pub fn to_go_string(&self) -> String {
        let mut out = String::new();
        write_value(&mut out, self, true);
        out
    }
}

/// Appends `value` as Go's `%v` prints it. `top` is false inside slices and maps, where
/// a nil prints as `<nil>` and byte slices print as numbers.
pub(crate) fn write_value(out: &mut String, value: &Value, top: bool) {
    let _ = top;
    match value {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        Value::Int(value) | Value::Int64(value) => out.push_str(&value.to_string()),
        Value::Float(value) => out.push_str(&crate::fmt::format_float_g(*value, -1, 'e')),
        Value::String(text) => out.push_str(text),
        Value::Bytes(bytes) => {
            out.push('[');
            for (index, byte) in bytes.iter().enumerate() {
                if index > 0 {
                    out.push(' ');
                }
                out.push_str(&byte.to_string());
            }
            out.push(']');
        }
        Value::List(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(' ');
                }
                write_value(out, item, false);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push_str("map[");
            for (index, (key, item)) in map.snapshot().iter().enumerate() {
                if index > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write_value(out, item, false);
            }
            out.push(']');
        }
        Value::Object(object) => out.push_str(&object.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_collections_and_zero_numbers_are_false() {
        assert!(!Value::from(Vec::new()).is_true());
        assert!(!Value::Float(0.0).is_true());
        assert!(!Value::from("").is_true());
        assert!(Value::from("x").is_true());
        assert!(!Value::Nil.is_true());
    }

    #[test]
    fn maps_print_sorted_like_go() {
        let mut map = Map::new();
        map.insert("b".into(), Value::Float(1_000_000.0));
        map.insert("a".into(), Value::from(vec![Value::Nil, Value::from("x")]));
        assert_eq!(Value::from(map).to_go_string(), "map[a:[<nil> x] b:1e+06]");
    }
}
