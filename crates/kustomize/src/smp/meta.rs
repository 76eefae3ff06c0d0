//! Schema look-ups with apimachinery's semantics: the patch strategy and merge key of a field,
//! and the schema below it, for maps (`LookupPatchMetadataForStruct`) and lists
//! (`LookupPatchMetadataForSlice`).
//!
//! A field that a custom (OpenAPI) schema does not declare is an error here, as upstream: patch
//! creation needs the schema to diff inside a value. The built-in table is trimmed to the types
//! that lead to a patch strategy, so under it (and where there is no schema at all) an unknown
//! field simply has no strategy.

use super::{Context, Node, PatchError, builtin_fallback, items};
use crate::value::Value;

/// A field's strategy apart from `retainKeys`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) enum Strategy {
    /// No strategy: maps merge, lists are replaced.
    #[default]
    None,
    /// `merge`: lists merge (by the merge key for lists of maps).
    Merge,
    /// `replace`: the value is replaced as a whole.
    Replace,
    /// A strategy apimachinery does not interpret.
    Other,
}

/// The patch metadata of one field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Meta {
    pub(super) strategy: Strategy,
    pub(super) retain_keys: bool,
    pub(super) merge_key: String,
}

/// The raw schema node of field `key` below `node`, or an error when a custom schema that
/// declares properties lacks it.
fn field<'schema>(
    context: Context<'schema>,
    node: Node<'schema>,
    key: &str,
) -> Result<Node<'schema>, PatchError> {
    match node {
        Node::Nothing => Ok(Node::Nothing),
        Node::Builtin(field) => Ok(field.property(key).map_or(Node::Nothing, Node::Builtin)),
        Node::Custom(value) => {
            let Some(schema) = context.custom else {
                return Ok(Node::Nothing);
            };
            let child = schema
                .resolve(value)
                .get("properties")
                .and_then(|properties| properties.get(key))
                .ok_or_else(|| PatchError(format!("unable to find api field \"{key}\"")))?;
            Ok(builtin_fallback(schema, child).unwrap_or(Node::Custom(child)))
        }
    }
}

fn meta_of(node: Node<'_>) -> Result<Meta, PatchError> {
    match node {
        Node::Nothing => Ok(Meta::default()),
        Node::Builtin(field) => Ok(match field.strategy_code() {
            1 => Meta {
                strategy: Strategy::Merge,
                retain_keys: false,
                merge_key: field.merge_key().to_string(),
            },
            2 => Meta {
                strategy: Strategy::Merge,
                ..Meta::default()
            },
            3 => Meta {
                strategy: Strategy::Replace,
                ..Meta::default()
            },
            _ => Meta::default(),
        }),
        Node::Custom(value) => {
            let merge_key = value
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let strategies: Vec<&str> = value
                .get("x-kubernetes-patch-strategy")
                .and_then(Value::as_str)
                .map(|text| text.split(',').collect())
                .unwrap_or_default();
            let (retain_keys, strategy) = split_retain_keys(&strategies)?;
            let strategy = match strategy {
                "" => Strategy::None,
                "merge" => Strategy::Merge,
                "replace" => Strategy::Replace,
                _ => Strategy::Other,
            };
            Ok(Meta {
                strategy,
                retain_keys,
                merge_key,
            })
        }
    }
}

/// apimachinery's `extractRetainKeysPatchStrategy`: at most two strategies, one of them
/// `retainKeys`.
fn split_retain_keys<'text>(strategies: &[&'text str]) -> Result<(bool, &'text str), PatchError> {
    match strategies {
        [] => Ok((false, "")),
        ["retainKeys"] => Ok((true, "")),
        [single] => Ok((false, single)),
        ["retainKeys", other] | [other, "retainKeys"] => Ok((true, other)),
        _ => Err(PatchError(format!(
            "unexpected patch strategy: {strategies:?}"
        ))),
    }
}

/// The schema of the map under `key` and the field's metadata.
pub(super) fn lookup_map<'schema>(
    context: Context<'schema>,
    node: Node<'schema>,
    key: &str,
) -> Result<(Node<'schema>, Meta), PatchError> {
    let child = field(context, node, key)?;
    Ok((child, meta_of(child)?))
}

/// The schema of the elements of the list under `key` and the field's metadata.
pub(super) fn lookup_list<'schema>(
    context: Context<'schema>,
    node: Node<'schema>,
    key: &str,
) -> Result<(Node<'schema>, Meta), PatchError> {
    let child = field(context, node, key)?;
    Ok((items(context, child), meta_of(child)?))
}

/// Like [`lookup_map`], but an undeclared field has no schema instead of failing (what
/// applying a patch needs: the API server has already pruned unknown fields).
pub(super) fn lenient_map<'schema>(
    context: Context<'schema>,
    node: Node<'schema>,
    key: &str,
) -> (Node<'schema>, Meta) {
    lookup_map(context, node, key).unwrap_or((Node::Nothing, Meta::default()))
}

/// Like [`lookup_list`], but lenient as [`lenient_map`].
pub(super) fn lenient_list<'schema>(
    context: Context<'schema>,
    node: Node<'schema>,
    key: &str,
) -> (Node<'schema>, Meta) {
    lookup_list(context, node, key).unwrap_or((Node::Nothing, Meta::default()))
}
