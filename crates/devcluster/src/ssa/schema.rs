//! What server-side apply needs to know about a type: which maps are granular and which
//! atomic, which lists are atomic, sets, or maps keyed by some of their items' fields.
//!
//! Sources, in the order kube-apiserver would consult them:
//! - built-in kinds: the strategic-merge table shared with the kustomize engine
//!   (`eddy_kustomize::smp::merge_keys`) — lists with a merge key are associative lists keyed by
//!   it (ports by port *and* protocol, as the OpenAPI list-map-keys say), primitive merge lists
//!   are sets, everything else is atomic; label selectors are atomic structs;
//! - custom resources: their openAPIV3Schema's `x-kubernetes-list-type`,
//!   `x-kubernetes-list-map-keys` and `x-kubernetes-map-type`;
//! - anything else: structured-merge-diff's deduced schema (maps granular, lists atomic).
//!
//! `metadata` is always ObjectMeta (labels and annotations granular, owner references keyed by
//! uid, finalizers a set).

use eddy_kustomize::smp::merge_keys::{self, BuiltinField, ListStrategy};
use serde_json::Value;

/// A type source.
#[derive(Debug, Clone)]
pub(crate) enum Schema<'a> {
    /// No schema: maps granular, lists atomic.
    Deduced,
    /// A built-in kind.
    Builtin(Option<BuiltinField>),
    /// A custom resource's structural schema.
    Openapi(&'a Value),
    /// A structured-merge-diff schema document (`types:`) and its root type (test corpus).
    #[cfg(test)]
    Smd(&'a Value, &'a str),
}

/// A position in a schema.
#[derive(Debug, Clone)]
pub(crate) enum Node<'a> {
    /// Deduced: maps granular, lists atomic.
    Deduced,
    /// Everything below is atomic (inside a deduced list).
    Atomic,
    /// A built-in field; `selector` marks label selectors (atomic structs).
    Builtin(BuiltinField, bool),
    /// A built-in field the merge table does not describe: a struct, or (when `true`) a map
    /// with arbitrary keys such as `labels` or `data`.
    BuiltinLoose(bool),
    /// An OpenAPI v3 schema node.
    Openapi(&'a Value),
    /// A structured-merge-diff type reference.
    #[cfg(test)]
    Smd(&'a Value, &'a Value),
}

/// How a list merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// Replaced whole.
    Atomic,
    /// A set of scalars.
    Set,
    /// A map keyed by these fields of its items.
    Keyed(Vec<String>),
}

/// The shape of a value at a node.
#[derive(Debug, Clone)]
pub(crate) enum Atom<'a> {
    /// A leaf.
    Scalar,
    /// A map, owned whole when atomic.
    Map(bool),
    /// A list and its element type.
    List(ListKind, Node<'a>),
}

/// Fields of built-in types that are maps with arbitrary keys (the merge table only describes
/// types on the way to merge-keyed lists; everything else of a built-in type is a struct).
const FREE_FORM_MAPS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "binaryData",
    "stringData",
    "nodeSelector",
    "matchLabels",
    "limits",
    "requests",
    "capacity",
    "allocatable",
    "hard",
    "used",
    "parameters",
    "overhead",
    "volumeAttributes",
    "attributes",
    "selector",
];

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

impl<'a> Schema<'a> {
    /// The schema for a built-in kind, if the table knows it.
    pub(crate) fn builtin(api_version: &str, kind: &str) -> Schema<'static> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        Schema::Builtin(merge_keys::root_of(group, version, kind))
    }

    /// The root node.
    pub(crate) fn root(&self) -> Node<'a> {
        match self {
            Schema::Deduced => Node::Deduced,
            Schema::Builtin(None) => Node::BuiltinLoose(false),
            Schema::Builtin(Some(root)) => Node::Builtin(*root, false),
            Schema::Openapi(root) => Node::Openapi(root),
            #[cfg(test)]
            Schema::Smd(document, root) => {
                smd::named(document, root).map_or(Node::Deduced, |t| Node::Smd(document, t))
            }
        }
    }

    /// The node of a map entry, and whether it is a declared field (rather than an entry of a
    /// map with arbitrary keys).
    pub(crate) fn field(&self, node: &Node<'a>, name: &str, root: bool) -> (Node<'a>, bool) {
        if root && name == "metadata" && !matches!(node, Node::Atomic) {
            #[cfg(test)]
            if matches!(self, Schema::Smd(..)) {
                return self.plain_field(node, name);
            }
            if let Some(meta) = merge_keys::type_named(OBJECT_META) {
                return (Node::Builtin(meta, false), true);
            }
        }
        self.plain_field(node, name)
    }

    fn plain_field(&self, node: &Node<'a>, name: &str) -> (Node<'a>, bool) {
        match node {
            Node::Deduced => (Node::Deduced, false),
            Node::Atomic => (Node::Atomic, false),
            Node::Builtin(field, _) => match field.property(name) {
                Some(child) => (Node::Builtin(child, name == "selector"), true),
                None => (Node::BuiltinLoose(FREE_FORM_MAPS.contains(&name)), true),
            },
            Node::BuiltinLoose(true) => (Node::BuiltinLoose(false), false),
            Node::BuiltinLoose(false) => (Node::BuiltinLoose(FREE_FORM_MAPS.contains(&name)), true),
            Node::Openapi(schema) => {
                if let Some(child) = schema.get("properties").and_then(|p| p.get(name)) {
                    return (Node::Openapi(child), true);
                }
                match schema.get("additionalProperties") {
                    Some(child @ Value::Object(_)) => (Node::Openapi(child), false),
                    _ => (Node::Deduced, false),
                }
            }
            #[cfg(test)]
            Node::Smd(document, reference) => smd::field(document, reference, name),
        }
    }

    /// The shape of `value` at `node`.
    pub(crate) fn atom(&self, node: &Node<'a>, value: &Value) -> Atom<'a> {
        match node {
            Node::Atomic => match value {
                Value::Object(_) => Atom::Map(true),
                Value::Array(_) => Atom::List(ListKind::Atomic, Node::Atomic),
                _ => Atom::Scalar,
            },
            Node::Deduced | Node::BuiltinLoose(_) => match value {
                Value::Object(_) => Atom::Map(false),
                Value::Array(_) => Atom::List(ListKind::Atomic, Node::Atomic),
                _ => Atom::Scalar,
            },
            Node::Builtin(field, selector) => match value {
                Value::Object(map) => {
                    let is_selector = *selector
                        && (map.contains_key("matchLabels")
                            || map.contains_key("matchExpressions"));
                    Atom::Map(is_selector)
                }
                Value::Array(_) => {
                    let element = Node::Builtin(field.element(), false);
                    let kind = match field.strategy() {
                        ListStrategy::MergeByKey(key) => match key.as_str() {
                            "containerPort" | "port" => {
                                ListKind::Keyed(vec![key, "protocol".to_string()])
                            }
                            _ => ListKind::Keyed(vec![key]),
                        },
                        ListStrategy::MergePrimitives => ListKind::Set,
                        ListStrategy::Replace => ListKind::Atomic,
                    };
                    let kind = if field.is_replace() {
                        ListKind::Atomic
                    } else {
                        kind
                    };
                    Atom::List(kind, element)
                }
                _ => Atom::Scalar,
            },
            Node::Openapi(schema) => {
                let text = |key: &str| schema.get(key).and_then(Value::as_str);
                match value {
                    Value::Object(_) => Atom::Map(
                        text("x-kubernetes-map-type") == Some("atomic")
                            || schema
                                .get("x-kubernetes-int-or-string")
                                .and_then(Value::as_bool)
                                .unwrap_or(false),
                    ),
                    Value::Array(_) => {
                        let element = schema
                            .get("items")
                            .filter(|items| items.is_object())
                            .map_or(Node::Atomic, Node::Openapi);
                        let kind = match text("x-kubernetes-list-type") {
                            Some("map") => ListKind::Keyed(
                                schema
                                    .get("x-kubernetes-list-map-keys")
                                    .and_then(Value::as_array)
                                    .map(|keys| {
                                        keys.iter()
                                            .filter_map(Value::as_str)
                                            .map(String::from)
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                            ),
                            Some("set") => ListKind::Set,
                            _ => ListKind::Atomic,
                        };
                        Atom::List(kind, element)
                    }
                    _ => Atom::Scalar,
                }
            }
            #[cfg(test)]
            Node::Smd(document, reference) => smd::atom(document, reference, value),
        }
    }

    /// The default of a list key field, for items that leave the key out.
    pub(crate) fn key_default(&self, element: &Node<'a>, key: &str) -> Option<Value> {
        match element {
            Node::Builtin(..) if key == "protocol" => Some(Value::String("TCP".into())),
            Node::Openapi(schema) => schema
                .get("properties")
                .and_then(|p| p.get(key))
                .and_then(|p| p.get("default"))
                .cloned(),
            #[cfg(test)]
            Node::Smd(document, reference) => smd::key_default(document, reference, key),
            _ => None,
        }
    }
}

/// The structured-merge-diff schema language, for the golden corpus.
#[cfg(test)]
pub(crate) mod smd {
    use super::{Atom, ListKind, Node};
    use serde_json::Value;

    /// A named type's definition.
    pub(crate) fn named<'a>(document: &'a Value, name: &str) -> Option<&'a Value> {
        document
            .get("types")?
            .as_array()?
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
    }

    /// The definition a reference points to, and the reference's relationship override.
    fn resolve<'a>(document: &'a Value, reference: &'a Value) -> (&'a Value, Option<&'a str>) {
        let relationship = reference.get("elementRelationship").and_then(Value::as_str);
        match reference.get("namedType").and_then(Value::as_str) {
            Some(name) => (named(document, name).unwrap_or(reference), relationship),
            None => (reference, relationship),
        }
    }

    pub(crate) fn field<'a>(
        document: &'a Value,
        reference: &'a Value,
        name: &str,
    ) -> (Node<'a>, bool) {
        let (definition, _) = resolve(document, reference);
        let Some(map) = definition.get("map") else {
            return (Node::Deduced, false);
        };
        if let Some(field) = map
            .get("fields")
            .and_then(Value::as_array)
            .and_then(|fields| {
                fields
                    .iter()
                    .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
            })
            && let Some(reference) = field.get("type")
        {
            return (Node::Smd(document, reference), true);
        }
        match map.get("elementType") {
            Some(element) => (Node::Smd(document, element), false),
            None => (Node::Deduced, false),
        }
    }

    pub(crate) fn atom<'a>(document: &'a Value, reference: &'a Value, value: &Value) -> Atom<'a> {
        let (definition, relationship) = resolve(document, reference);
        match value {
            Value::Object(_) if definition.get("map").is_some() => {
                let declared = definition
                    .pointer("/map/elementRelationship")
                    .and_then(Value::as_str);
                Atom::Map(relationship.or(declared) == Some("atomic"))
            }
            Value::Array(_) if definition.get("list").is_some() => {
                let list = &definition["list"];
                let declared = list.get("elementRelationship").and_then(Value::as_str);
                let element = list
                    .get("elementType")
                    .map_or(Node::Atomic, |e| Node::Smd(document, e));
                let keys: Vec<String> = list
                    .get("keys")
                    .and_then(Value::as_array)
                    .map(|k| {
                        k.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                let kind = match relationship.or(declared) {
                    Some("associative") if keys.is_empty() => ListKind::Set,
                    Some("associative") => ListKind::Keyed(keys),
                    _ => ListKind::Atomic,
                };
                Atom::List(kind, element)
            }
            Value::Object(_) => Atom::Map(true),
            Value::Array(_) => Atom::List(ListKind::Atomic, Node::Atomic),
            _ => Atom::Scalar,
        }
    }

    pub(crate) fn key_default(document: &Value, reference: &Value, key: &str) -> Option<Value> {
        let (definition, _) = resolve(document, reference);
        definition
            .pointer("/map/fields")
            .and_then(Value::as_array)?
            .iter()
            .find(|f| f.get("name").and_then(Value::as_str) == Some(key))?
            .get("default")
            .cloned()
    }
}
