//! Strategic merge patch, in two dialects, and patch creation.
//!
//! Mappings merge key by key and a `null` in the patch deletes the key. Lists follow the
//! strategy of their field (see [`merge_keys`]): lists with a merge key are merged element by
//! element, lists without one are replaced, and `$patch: delete|replace|merge` is honoured.
//! The dialects differ where kustomize (kyaml's `merge2`) and the API server
//! (apimachinery's `strategicpatch`) differ:
//!
//! * [`Dialect::Kustomize`] (this file): merged lists put the patch's elements first, then the
//!   untouched elements of the original (kyaml's "prepend" direction); `$retainKeys`,
//!   `$deleteFromPrimitiveList/…` and `$setElementOrder/…` are not directives but ordinary
//!   keys, copied into the result as kustomize does.
//! * [`Dialect::ApiServer`] (`apply.rs`): apimachinery's `StrategicMergePatch` — merged lists
//!   keep the server's order with the patch's elements in patch order, and `$retainKeys`,
//!   `$deleteFromPrimitiveList/…` and `$setElementOrder/…` are applied.
//!
//! `diff.rs` creates patches as apimachinery does: two-way ([`create_two_way_patch`]) and
//! three-way with conflict detection ([`create_three_way_patch`], kubectl's client-side
//! apply). `meta.rs` looks up patch strategies and merge keys in the built-in table or in a
//! [`CustomSchema`] (OpenAPI v2 or v3).
//!
//! The module is independent of the rest of the engine so that other crates (the dev cluster's
//! `application/strategic-merge-patch+json` support) can use it: [`merge_object`] takes the
//! target object and the patch as [`Value`]s.

mod apply;
mod builtin_schema;
mod diff;
pub mod merge_keys;
mod meta;

pub use diff::{
    CreatePatchError, create_three_way_patch, create_three_way_patch_with_definition,
    create_two_way_patch, create_two_way_patch_with_definition, sort_merge_lists,
};

use merge_keys::{BuiltinField, ListStrategy};

use crate::value::{Mapping, Value};

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("strategic merge patch: {0}")]
pub struct PatchError(pub String);

/// An OpenAPI document (`definitions`) that replaces the built-in merge-key table, as
/// kustomize's `openapi: {path: ...}` does.
#[derive(Clone, Debug, Default)]
pub struct CustomSchema {
    definitions: Mapping,
}

impl CustomSchema {
    /// Reads a parsed OpenAPI document: v2 (`definitions`) or v3 (`components.schemas`).
    pub fn from_document(document: &Value) -> CustomSchema {
        CustomSchema {
            definitions: document
                .get("definitions")
                .or_else(|| document.get_path(&["components", "schemas"]))
                .and_then(Value::as_map)
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn root_for(&self, group: &str, version: &str, kind: &str) -> Option<&Value> {
        self.definitions.values().find(|definition| {
            definition
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_seq)
                .is_some_and(|gvks| {
                    gvks.iter().any(|gvk| {
                        gvk.get("group").and_then(Value::as_str).unwrap_or("") == group
                            && gvk.get("version").and_then(Value::as_str).unwrap_or("") == version
                            && gvk.get("kind").and_then(Value::as_str).unwrap_or("") == kind
                    })
                })
        })
    }

    fn resolve<'schema>(&'schema self, mut node: &'schema Value) -> &'schema Value {
        for _ in 0..32 {
            // OpenAPI v3 wraps a reference that has siblings in `allOf: [{$ref}]`.
            if let Some(first) = node
                .get("allOf")
                .and_then(Value::as_seq)
                .and_then(|all| all.first())
            {
                node = first;
                continue;
            }
            let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let name = reference.rsplit('/').next().unwrap_or(reference);
            match self.definitions.get(name) {
                Some(next) => node = next,
                None => break,
            }
        }
        node
    }
}

/// Which implementation's behaviour to reproduce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// kustomize v5 (kyaml `merge2`).
    #[default]
    Kustomize,
    /// The Kubernetes API server (`application/strategic-merge-patch+json`).
    ApiServer,
}

/// Where in a schema the merge currently is.
#[derive(Clone, Copy)]
enum Node<'schema> {
    /// No schema: lists are replaced.
    Nothing,
    /// A field of the built-in schema (see [`merge_keys`]).
    Builtin(BuiltinField),
    /// A node of a custom OpenAPI schema.
    Custom(&'schema Value),
}

#[derive(Clone, Copy)]
struct Context<'schema> {
    /// Whose semantics apply.
    dialect: Dialect,
    /// The custom schema in force, if any.
    custom: Option<&'schema CustomSchema>,
}

/// Applies `patch` to `target` with the built-in merge keys. Returns `None` when the patch
/// deletes the whole object.
pub fn merge_object(target: &Value, patch: &Value) -> Result<Option<Value>, PatchError> {
    merge_object_with(target, patch, None)
}

/// Applies `patch` to a built-in object with the given dialect's semantics.
pub fn merge_object_as(
    target: &Value,
    patch: &Value,
    dialect: Dialect,
) -> Result<Option<Value>, PatchError> {
    let api_version = target.str_at(&["apiVersion"]).unwrap_or("");
    let kind = target.str_at(&["kind"]).unwrap_or("");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let context = Context {
        dialect,
        custom: None,
    };
    merge_root(target, patch, context, builtin_root(group, version, kind))
}

/// Applies `patch` to `target` whose schema is the definition `root` of `schema` (for types
/// that carry no group/version/kind, such as test schemas).
pub fn merge_with_definition(
    target: &Value,
    patch: &Value,
    schema: &CustomSchema,
    root: &str,
    dialect: Dialect,
) -> Result<Option<Value>, PatchError> {
    let node = schema
        .definitions
        .get(root)
        .map_or(Node::Nothing, Node::Custom);
    let context = Context {
        dialect,
        custom: Some(schema),
    };
    merge_root(target, patch, context, node)
}

fn builtin_root(group: &str, version: &str, kind: &str) -> Node<'static> {
    merge_keys::root_of(group, version, kind).map_or(Node::Nothing, Node::Builtin)
}

fn merge_root(
    target: &Value,
    patch: &Value,
    context: Context<'_>,
    node: Node<'_>,
) -> Result<Option<Value>, PatchError> {
    if context.dialect == Dialect::ApiServer {
        return match (target, patch) {
            (Value::Map(target), Value::Map(patch)) => Ok(Some(Value::Map(apply::merge_map(
                target.clone(),
                patch.clone(),
                context,
                node,
                apply::APPLY,
            )?))),
            (Value::Null, Value::Map(patch)) => Ok(Some(Value::Map(apply::merge_map(
                Mapping::new(),
                patch.clone(),
                context,
                node,
                apply::APPLY,
            )?))),
            (_, Value::Null) => Ok(Some(target.clone())),
            _ => Err(PatchError(
                "both the object and the patch must be mappings".into(),
            )),
        };
    }
    match (target, patch) {
        (Value::Map(target), Value::Map(patch)) => {
            Ok(merge_map(target, patch, context, node)?.map(Value::Map))
        }
        (Value::Null, Value::Map(patch)) => {
            Ok(merge_map(&Mapping::new(), patch, context, node)?.map(Value::Map))
        }
        (_, Value::Null) => Ok(Some(target.clone())),
        _ => Err(PatchError(
            "both the object and the patch must be mappings".into(),
        )),
    }
}

/// Applies `patch` to `target`, taking merge keys from `custom` when given (built-in kinds
/// then have no schema, exactly as in kustomize).
pub fn merge_object_with(
    target: &Value,
    patch: &Value,
    custom: Option<&CustomSchema>,
) -> Result<Option<Value>, PatchError> {
    let api_version = target.str_at(&["apiVersion"]).unwrap_or("");
    let kind = target.str_at(&["kind"]).unwrap_or("");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let context = Context {
        dialect: Dialect::Kustomize,
        custom,
    };
    let node = match custom {
        Some(schema) => schema
            .root_for(group, version, kind)
            .map_or(Node::Nothing, Node::Custom),
        None => builtin_root(group, version, kind),
    };
    merge_root(target, patch, context, node)
}

fn directive(map: &Mapping) -> Option<&str> {
    map.get("$patch").and_then(Value::as_str)
}

/// The patch value with every directive removed, as it is stored when nothing is merged.
pub fn strip_directives(value: &Value) -> Option<Value> {
    strip(value, Dialect::ApiServer)
}

/// Removes `$patch` (and, for the API server, every `$` key); `None` for deleted elements.
fn strip(value: &Value, dialect: Dialect) -> Option<Value> {
    match value {
        Value::Map(map) => {
            if directive(map) == Some("delete") {
                return None;
            }
            let mut out = Mapping::new();
            for (key, child) in map {
                let is_directive =
                    key == "$patch" || (dialect == Dialect::ApiServer && key.starts_with('$'));
                if is_directive {
                    continue;
                }
                // The API server drops nulls from values it adds rather than merges.
                if dialect == Dialect::ApiServer && child.is_null() {
                    continue;
                }
                if let Some(child) = strip(child, dialect) {
                    out.insert(key.clone(), child);
                }
            }
            Some(Value::Map(out))
        }
        Value::Seq(items) => Some(Value::Seq(
            items
                .iter()
                .filter(|item| !matches!(item, Value::Map(map) if directive(map).is_some()))
                .filter_map(|item| strip(item, dialect))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// The node a `$ref` points at when the custom schema lacks it but the built-in schema has it.
fn builtin_fallback<'schema>(schema: &CustomSchema, node: &Value) -> Option<Node<'schema>> {
    let reference = node.get("$ref").and_then(Value::as_str)?;
    let name = reference.rsplit('/').next().unwrap_or(reference);
    if schema.definitions.contains_key(name) {
        return None;
    }
    // A custom schema may point at Kubernetes' own types without defining them; kustomize
    // then uses its built-in schema for that subtree.
    Some(merge_keys::type_named(name).map_or(Node::Nothing, Node::Builtin))
}

fn property<'schema>(context: Context<'schema>, node: Node<'schema>, key: &str) -> Node<'schema> {
    match node {
        Node::Nothing => Node::Nothing,
        Node::Builtin(field) => field.property(key).map_or(Node::Nothing, Node::Builtin),
        Node::Custom(value) => {
            let Some(schema) = context.custom else {
                return Node::Nothing;
            };
            let Some(child) = schema
                .resolve(value)
                .get("properties")
                .and_then(|properties| properties.get(key))
            else {
                return Node::Nothing;
            };
            // The raw property keeps its patch strategy, which sits beside any `$ref`.
            builtin_fallback(schema, child).unwrap_or(Node::Custom(child))
        }
    }
}

fn items<'schema>(context: Context<'schema>, node: Node<'schema>) -> Node<'schema> {
    match node {
        Node::Nothing => Node::Nothing,
        Node::Builtin(field) => Node::Builtin(field.element()),
        Node::Custom(value) => {
            let Some(schema) = context.custom else {
                return Node::Nothing;
            };
            // A list declared as a single object (`$ref` without `items`) merges elements of
            // that object's type.
            let element = value.get("items").unwrap_or(value);
            builtin_fallback(schema, element).unwrap_or(Node::Custom(element))
        }
    }
}

/// kyaml's map merge (the API server's is [`apply::merge_map`]).
fn merge_map(
    target: &Mapping,
    patch: &Mapping,
    context: Context<'_>,
    node: Node<'_>,
) -> Result<Option<Mapping>, PatchError> {
    match directive(patch) {
        // kyaml removes the map.
        Some("delete") => return Ok(None),
        Some("replace") => {
            return Ok(strip(&Value::Map(patch.clone()), context.dialect)
                .and_then(|value| value.as_map().cloned()));
        }
        _ => {}
    }
    let mut out = target.clone();
    for (key, patch_value) in patch {
        if key == "$patch" {
            continue;
        }
        if patch_value.is_null() {
            out.shift_remove(key);
            continue;
        }
        let child = property(context, node, key);
        let merged =
            match (out.get(key), patch_value) {
                (Some(Value::Map(existing)), Value::Map(patch_map)) => {
                    merge_map(existing, patch_map, context, child)?.map(Value::Map)
                }
                (Some(Value::Seq(existing)), Value::Seq(patch_items)) => Some(Value::Seq(
                    merge_list(existing, patch_items, context, child)?,
                )),
                _ => strip(patch_value, context.dialect),
            };
        match merged {
            Some(value) => {
                out.insert(key.clone(), value);
            }
            None => {
                out.shift_remove(key);
            }
        }
    }
    Ok(Some(out))
}

fn key_text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::scalar_text)
}

fn list_strategy_of(node: Node<'_>) -> ListStrategy {
    match node {
        Node::Nothing => ListStrategy::Replace,
        Node::Builtin(field) => field.strategy(),
        Node::Custom(node) => {
            let merge = node
                .get("x-kubernetes-patch-strategy")
                .and_then(Value::as_str)
                .is_some_and(|strategy| strategy.split(',').any(|part| part.trim() == "merge"));
            match (
                merge,
                node.get("x-kubernetes-patch-merge-key")
                    .and_then(Value::as_str),
            ) {
                (true, Some(key)) => ListStrategy::MergeByKey(key.to_string()),
                (true, None) => ListStrategy::MergePrimitives,
                _ => ListStrategy::Replace,
            }
        }
    }
}

/// kyaml's list merge: the patch's elements (merged) first, then the untouched originals.
fn merge_list(
    target: &[Value],
    patch: &[Value],
    context: Context<'_>,
    node: Node<'_>,
) -> Result<Vec<Value>, PatchError> {
    let replace_whole = patch
        .iter()
        .any(|item| matches!(item, Value::Map(map) if directive(map) == Some("replace")));
    let strategy = list_strategy_of(node);
    let element = items(context, node);
    let dialect = context.dialect;
    if replace_whole || strategy == ListStrategy::Replace {
        return Ok(strip(&Value::Seq(patch.to_vec()), dialect)
            .and_then(|value| value.as_seq().cloned())
            .unwrap_or_default());
    }
    if patch.is_empty() {
        return Ok(target.to_vec());
    }
    let ListStrategy::MergeByKey(merge_key) = strategy else {
        // Set-like lists of primitives: the union, without duplicates.
        let mut out: Vec<Value> = Vec::new();
        for item in patch.iter().chain(target.iter()) {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
        return Ok(out);
    };
    let mut touched = vec![false; target.len()];
    let mut out: Vec<Value> = Vec::new();
    for item in patch {
        let Value::Map(item_map) = item else {
            out.push(item.clone());
            continue;
        };
        let key = key_text(item, &merge_key);
        let position = key.as_ref().and_then(|key| {
            (0..target.len()).find(|&index| {
                !touched[index] && key_text(&target[index], &merge_key).as_ref() == Some(key)
            })
        });
        if directive(item_map) == Some("delete") {
            if let Some(index) = position {
                touched[index] = true;
            }
            continue;
        }
        let merged = match position {
            Some(index) => {
                touched[index] = true;
                match &target[index] {
                    Value::Map(existing) => {
                        merge_map(existing, item_map, context, element)?.map(Value::Map)
                    }
                    _ => strip(item, dialect),
                }
            }
            None => strip(item, dialect),
        };
        out.extend(merged);
    }
    for (index, existing) in target.iter().enumerate() {
        if !touched[index] {
            out.push(existing.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn first(text: &str) -> Value {
        parse_documents(text)
            .unwrap_or_default()
            .into_iter()
            .next()
            .unwrap_or(Value::Null)
    }

    #[test]
    fn containers_merge_by_name_with_patch_elements_first() {
        let target = first(
            "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n  - name: c\n    image: c\n",
        );
        let patch = first("spec:\n  containers:\n  - name: c\n    image: new\n  - name: z\n");
        let merged = merge_object(&target, &patch)
            .unwrap_or_default()
            .unwrap_or(Value::Null);
        let names: Vec<String> = merged
            .get_path(&["spec", "containers"])
            .and_then(Value::as_seq)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| key_text(item, "name"))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(names, vec!["c", "z", "a"]);
    }

    #[test]
    fn lists_of_unknown_kinds_are_replaced() {
        let target = first("apiVersion: x/v1\nkind: Foo\nitems:\n- name: a\n");
        let patch = first("items:\n- name: b\n");
        let merged = merge_object(&target, &patch)
            .unwrap_or_default()
            .unwrap_or(Value::Null);
        assert_eq!(
            merged.get("items").and_then(Value::as_seq).map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn delete_directive_removes_the_object() {
        let target = first("apiVersion: v1\nkind: ConfigMap\n");
        let patch = first("$patch: delete\n");
        assert_eq!(merge_object(&target, &patch), Ok(None));
    }
}
