//! Field paths and sets of them, as server-side apply records ownership: path elements are
//! struct fields, associative-list items by key, set members by value, or list indexes; a set
//! is a tree whose nodes may themselves be members. The wire form is `fieldsV1`
//! (`{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}`) and the readable form is the one
//! conflict messages print (`.spec.containers[name="web"].image`).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PathElement {
    /// A map key or struct field.
    Field(String),
    /// An associative-list item, by its key fields sorted by name.
    Key(Vec<(String, Value)>),
    /// A set member.
    Value(Value),
    /// A list index.
    Index(usize),
}

fn type_rank(value: &Value) -> u8 {
    match value {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// A total order on values in which numbers compare numerically (`1` equals `1.0`).
pub(crate) fn compare_values(left: &Value, right: &Value) -> Ordering {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            a.partial_cmp(&b).unwrap_or(Ordering::Equal)
        }
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Array(a), Value::Array(b)) => {
            for (x, y) in a.iter().zip(b) {
                let order = compare_values(x, y);
                if order != Ordering::Equal {
                    return order;
                }
            }
            a.len().cmp(&b.len())
        }
        (Value::Object(a), Value::Object(b)) => {
            let mut a: Vec<_> = a.iter().collect();
            let mut b: Vec<_> = b.iter().collect();
            a.sort_by(|x, y| x.0.cmp(y.0));
            b.sort_by(|x, y| x.0.cmp(y.0));
            for ((ka, va), (kb, vb)) in a.iter().zip(&b) {
                let order = ka.cmp(kb).then_with(|| compare_values(va, vb));
                if order != Ordering::Equal {
                    return order;
                }
            }
            a.len().cmp(&b.len())
        }
        _ => type_rank(left).cmp(&type_rank(right)),
    }
}

/// Whether two values are equal, numbers compared numerically.
pub(crate) fn values_equal(left: &Value, right: &Value) -> bool {
    compare_values(left, right) == Ordering::Equal
}

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The order structured-merge-diff sorts path elements in.
    pub(crate) fn compare(&self, other: &PathElement) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((na, va), (nb, vb)) in a.iter().zip(b) {
                    let order = na.cmp(nb).then_with(|| compare_values(va, vb));
                    if order != Ordering::Equal {
                        return order;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    /// The `fieldsV1` key: `f:name`, `k:{"name":"a"}`, `v:"a"`, `i:0`.
    pub(crate) fn encode(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let mut map = Map::new();
                for (name, value) in fields {
                    map.insert(name.clone(), value.clone());
                }
                format!("k:{}", Value::Object(map))
            }
            PathElement::Value(value) => format!("v:{value}"),
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    /// Parses a `fieldsV1` key.
    pub(crate) fn decode(text: &str) -> Option<PathElement> {
        let (prefix, rest) = text.split_at_checked(2)?;
        match prefix {
            "f:" => Some(PathElement::Field(rest.to_string())),
            "k:" => {
                let Value::Object(map) = serde_json::from_str(rest).ok()? else {
                    return None;
                };
                let mut fields: Vec<(String, Value)> = map.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Some(PathElement::Key(fields))
            }
            "v:" => serde_json::from_str(rest).ok().map(PathElement::Value),
            "i:" => rest.parse().ok().map(PathElement::Index),
            _ => None,
        }
    }

    /// The readable form: `.name`, `[name="a"]`, `[="a"]`, `[0]`.
    pub(crate) fn readable(&self) -> String {
        match self {
            PathElement::Field(name) => format!(".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={}", readable_value(value)))
                    .collect();
                format!("[{}]", parts.join(","))
            }
            PathElement::Value(value) => format!("[={}]", readable_value(value)),
            PathElement::Index(index) => format!("[{index}]"),
        }
    }
}

fn readable_value(value: &Value) -> String {
    match value {
        Value::Number(number) => match number.as_f64() {
            Some(float) if float.fract() == 0.0 && float.abs() < 1e15 => {
                format!("{}", float as i64)
            }
            _ => number.to_string(),
        },
        other => other.to_string(),
    }
}

/// A path from the root.
pub(crate) type Path = Vec<PathElement>;

/// The readable form of a whole path.
pub(crate) fn readable_path(path: &[PathElement]) -> String {
    path.iter().map(PathElement::readable).collect()
}

/// Orders path elements in maps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ordered(pub(crate) PathElement);

impl Eq for Ordered {}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.compare(&other.0)
    }
}

/// A set of paths, as a tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FieldSet {
    /// Elements that are members of the set (the path ending here is in the set).
    members: BTreeMap<Ordered, ()>,
    /// Elements with paths continuing below them.
    children: BTreeMap<Ordered, FieldSet>,
}

impl FieldSet {
    /// Whether the set holds no path.
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds a path (the empty path is ignored).
    pub(crate) fn insert(&mut self, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let key = Ordered(first.clone());
        if rest.is_empty() {
            self.members.insert(key, ());
        } else {
            self.children.entry(key).or_default().insert(rest);
        }
    }

    /// Whether the exact path is a member.
    pub(crate) fn has(&self, path: &[PathElement]) -> bool {
        let Some((first, rest)) = path.split_first() else {
            return false;
        };
        let key = Ordered(first.clone());
        if rest.is_empty() {
            self.members.contains_key(&key)
        } else {
            self.children.get(&key).is_some_and(|child| child.has(rest))
        }
    }

    /// The paths below `element`, with `element` stripped.
    pub(crate) fn with_prefix(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(&Ordered(element.clone()))
    }

    /// Whether `element` is a member here.
    pub(crate) fn has_member(&self, element: &PathElement) -> bool {
        self.members.contains_key(&Ordered(element.clone()))
    }

    /// Every path in the set.
    pub(crate) fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        let mut keys: Vec<&Ordered> = self.members.keys().chain(self.children.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            prefix.push(key.0.clone());
            if self.members.contains_key(key) {
                out.push(prefix.clone());
            }
            if let Some(child) = self.children.get(key) {
                child.collect(prefix, out);
            }
            prefix.pop();
        }
    }

    /// Union.
    pub(crate) fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        for key in other.members.keys() {
            out.members.insert(key.clone(), ());
        }
        for (key, child) in &other.children {
            let merged = match out.children.get(key) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(key.clone(), merged);
        }
        out
    }

    /// Paths in both sets.
    pub(crate) fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::default();
        for key in self.members.keys() {
            if other.members.contains_key(key) {
                out.members.insert(key.clone(), ());
            }
        }
        for (key, child) in &self.children {
            if let Some(theirs) = other.children.get(key) {
                let common = child.intersection(theirs);
                if !common.is_empty() {
                    out.children.insert(key.clone(), common);
                }
            }
        }
        out
    }

    /// Paths in this set but not in `other` (exact paths; children of a removed member stay).
    pub(crate) fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::default();
        for key in self.members.keys() {
            if !other.members.contains_key(key) {
                out.members.insert(key.clone(), ());
            }
        }
        for (key, child) in &self.children {
            let rest = match other.children.get(key) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(key.clone(), rest);
            }
        }
        out
    }

    /// Paths in this set that are neither in `other` nor below a member of `other`.
    pub(crate) fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::default();
        for key in self.members.keys() {
            if !other.members.contains_key(key) {
                out.members.insert(key.clone(), ());
            }
        }
        for (key, child) in &self.children {
            if other.members.contains_key(key) {
                continue;
            }
            let rest = match other.children.get(key) {
                Some(theirs) => child.recursive_difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(key.clone(), rest);
            }
        }
        out
    }

    /// Leaves only: members that have no children (used by extract-style reads).
    #[cfg(test)]
    pub(crate) fn leaves(&self) -> FieldSet {
        let mut out = FieldSet::default();
        for key in self.members.keys() {
            if self.children.get(key).is_none_or(FieldSet::is_empty) {
                out.members.insert(key.clone(), ());
            }
        }
        for (key, child) in &self.children {
            let leaves = child.leaves();
            if !leaves.is_empty() {
                out.children.insert(key.clone(), leaves);
            }
        }
        out
    }

    /// The `fieldsV1` encoding.
    pub(crate) fn to_fields_v1(&self) -> Value {
        self.encode(false)
    }

    fn encode(&self, include_self: bool) -> Value {
        let mut map = Map::new();
        if include_self && !self.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        let mut keys: Vec<&Ordered> = self.members.keys().chain(self.children.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let member = self.members.contains_key(key);
            let encoded = match self.children.get(key).filter(|child| !child.is_empty()) {
                Some(child) => child.encode(member),
                None if member => Value::Object(Map::new()),
                None => continue,
            };
            map.insert(key.0.encode(), encoded);
        }
        Value::Object(map)
    }

    /// Parses `fieldsV1`; unparsable keys are skipped.
    pub(crate) fn from_fields_v1(value: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        let Value::Object(map) = value else {
            return set;
        };
        for (key, child) in map {
            if key == "." {
                continue;
            }
            let Some(element) = PathElement::decode(key) else {
                continue;
            };
            let ordered = Ordered(element);
            let child_map = child.as_object();
            let has_children = child_map.is_some_and(|m| m.keys().any(|k| k != "."));
            let is_member = !has_children || child_map.is_some_and(|m| m.contains_key("."));
            if is_member {
                set.members.insert(ordered.clone(), ());
            }
            if has_children {
                set.children
                    .insert(ordered, FieldSet::from_fields_v1(child));
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trips_with_self_markers_and_keys() {
        let encoded = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}},
                        "f:finalizers": {"v:\"a\"": {}}}
        });
        let set = FieldSet::from_fields_v1(&encoded);
        assert!(set.has(&[
            PathElement::Field("metadata".into()),
            PathElement::Field("labels".into())
        ]));
        assert!(set.has(&[
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
            PathElement::Key(vec![("name".into(), json!("web"))]),
        ]));
        assert_eq!(set.to_fields_v1(), encoded);
        let readable: Vec<String> = set.paths().iter().map(|p| readable_path(p)).collect();
        assert!(readable.contains(&".spec.containers[name=\"web\"].image".to_string()));
        assert!(readable.contains(&".spec.finalizers[=\"a\"]".to_string()));
    }
}
