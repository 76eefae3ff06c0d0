//! Creating strategic merge patches: two-way (original → modified, what `kubectl patch`
//! and kustomize's patch generation compute) and three-way (last-applied → new config, against
//! the live object, what `kubectl apply` sends), with apimachinery's conflict detection.
//!
//! The behaviour follows apimachinery's `CreateTwoWayMergePatch` / `CreateThreeWayMergePatch`:
//! removed keys become `null`, removed elements of merge lists of maps become
//! `{<mergeKey>: v, $patch: delete}`, removed values of merge lists of primitives go into
//! `$deleteFromPrimitiveList/<field>`, every changed merge list gets `$setElementOrder/<field>`,
//! and maps (or list items) whose field has the `retainKeys` strategy get `$retainKeys`.

use super::apply::{
    self, DELETE_FROM_PRIMITIVE_LIST, DIRECTIVE, Kind, RETAIN_KEYS, SET_ELEMENT_ORDER,
    deduplicate_scalars, element_kind, go_text, kind, no_merge_key,
};
use super::meta::{Strategy, lenient_list, lenient_map, lookup_list, lookup_map};
use super::{Context, CustomSchema, Dialect, Node, PatchError, builtin_root};
use crate::value::{Mapping, Value};

/// Why a patch could not be created.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CreatePatchError {
    /// A three-way patch would overwrite a change made to the live object since the last
    /// apply (only reported when not overwriting).
    #[error(
        "strategic merge patch conflict: the patch {patch} changes fields that were changed on the live object: {changed}"
    )]
    Conflict {
        /// The patch, as compact JSON.
        patch: String,
        /// The changes from the last-applied state to the live object, as compact JSON.
        changed: String,
    },
    /// The documents or the schema do not allow a patch.
    #[error(transparent)]
    Invalid(#[from] PatchError),
}

/// What a diff reports.
#[derive(Clone, Copy, Debug, Default)]
struct DiffOptions {
    /// Generate `$setElementOrder` lists.
    set_element_order: bool,
    /// Leave out changes and additions (only deletions).
    ignore_changes: bool,
    /// Leave out deletions.
    ignore_deletions: bool,
    /// Add `$retainKeys` to this map.
    build_retain_keys: bool,
}

const CONTEXT_NONE: Context<'static> = Context {
    dialect: Dialect::ApiServer,
    custom: None,
};

fn as_object(value: &Value, what: &str) -> Result<Mapping, PatchError> {
    match value {
        Value::Null => Ok(Mapping::new()),
        Value::Map(map) => Ok(map.clone()),
        _ => Err(PatchError(format!("the {what} document is not an object"))),
    }
}

/// The built-in schema of the first document that names its `apiVersion` and `kind`.
fn builtin_node(documents: &[&Value]) -> Node<'static> {
    documents
        .iter()
        .find_map(|document| {
            let api_version = document.str_at(&["apiVersion"])?;
            let kind = document.str_at(&["kind"])?;
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            Some(builtin_root(group, version, kind))
        })
        .unwrap_or(Node::Nothing)
}

fn custom_context<'schema>(
    schema: &'schema CustomSchema,
    root: &str,
) -> (Context<'schema>, Node<'schema>) {
    let node = schema
        .definitions
        .get(root)
        .map_or(Node::Nothing, Node::Custom);
    let context = Context {
        dialect: Dialect::ApiServer,
        custom: Some(schema),
    };
    (context, node)
}

/// The patch that turns `original` into `modified`, for a built-in kind (the merge keys come
/// from their `apiVersion` and `kind`; other kinds get a plain JSON-merge-like patch).
pub fn create_two_way_patch(original: &Value, modified: &Value) -> Result<Value, PatchError> {
    two_way(
        original,
        modified,
        CONTEXT_NONE,
        builtin_node(&[modified, original]),
    )
}

/// The patch that turns `original` into `modified`, whose schema is the definition `root`
/// of `schema`.
pub fn create_two_way_patch_with_definition(
    original: &Value,
    modified: &Value,
    schema: &CustomSchema,
    root: &str,
) -> Result<Value, PatchError> {
    let (context, node) = custom_context(schema, root);
    two_way(original, modified, context, node)
}

fn two_way(
    original: &Value,
    modified: &Value,
    context: Context<'_>,
    node: Node<'_>,
) -> Result<Value, PatchError> {
    let options = DiffOptions {
        set_element_order: true,
        ..DiffOptions::default()
    };
    let original = as_object(original, "original")?;
    let modified = as_object(modified, "modified")?;
    Ok(Value::Map(diff_maps(
        &original, &modified, context, node, options,
    )?))
}

/// The patch `kubectl apply` sends for a built-in kind: it applies `modified`'s changes to
/// `current` and deletes what `original` (the last-applied configuration) had and `modified`
/// dropped. Without `overwrite`, a patch that would change something that was changed on the
/// live object since `original` fails with [`CreatePatchError::Conflict`].
pub fn create_three_way_patch(
    original: &Value,
    modified: &Value,
    current: &Value,
    overwrite: bool,
) -> Result<Value, CreatePatchError> {
    three_way(
        original,
        modified,
        current,
        overwrite,
        CONTEXT_NONE,
        builtin_node(&[modified, current, original]),
    )
}

/// [`create_three_way_patch`] for documents whose schema is the definition `root` of `schema`.
pub fn create_three_way_patch_with_definition(
    original: &Value,
    modified: &Value,
    current: &Value,
    schema: &CustomSchema,
    root: &str,
    overwrite: bool,
) -> Result<Value, CreatePatchError> {
    let (context, node) = custom_context(schema, root);
    three_way(original, modified, current, overwrite, context, node)
}

fn three_way(
    original: &Value,
    modified: &Value,
    current: &Value,
    overwrite: bool,
    context: Context<'_>,
    node: Node<'_>,
) -> Result<Value, CreatePatchError> {
    let original = as_object(original, "original")?;
    let modified = as_object(modified, "modified")?;
    let current = as_object(current, "current")?;
    // The patch is the change from current to modified without deletions, plus the deletions
    // from original to modified: the first merged into the second as a patch.
    let delta = diff_maps(
        &current,
        &modified,
        context,
        node,
        DiffOptions {
            ignore_deletions: true,
            set_element_order: true,
            ..DiffOptions::default()
        },
    )?;
    let deletions = diff_maps(
        &original,
        &modified,
        context,
        node,
        DiffOptions {
            ignore_changes: true,
            set_element_order: true,
            ..DiffOptions::default()
        },
    )?;
    let patch = apply::merge_map(deletions, delta, context, node, apply::MERGE_PATCHES)?;
    if !overwrite {
        let changed = diff_maps(&original, &current, context, node, DiffOptions::default())?;
        let (patch_value, changed_value) = (Value::Map(patch), Value::Map(changed));
        if values_conflict(
            &patch_value,
            &changed_value,
            context,
            node,
            Strategy::None,
            "",
        )? {
            return Err(CreatePatchError::Conflict {
                patch: crate::json::to_go_json(&patch_value),
                changed: crate::json::to_go_json(&changed_value),
            });
        }
        return Ok(patch_value);
    }
    Ok(Value::Map(patch))
}

/// `diffMaps`: the (recursive) patch from `original` to `modified`.
fn diff_maps(
    original: &Mapping,
    modified: &Mapping,
    context: Context<'_>,
    node: Node<'_>,
    options: DiffOptions,
) -> Result<Mapping, PatchError> {
    let mut patch = Mapping::new();
    let mut retained: Vec<Value> = Vec::new();
    for (key, modified_value) in modified {
        if options.build_retain_keys && !modified_value.is_null() {
            retained.push(Value::String(key.clone()));
        }
        let Some(original_value) = original.get(key) else {
            if !options.ignore_changes {
                patch.insert(key.clone(), modified_value.clone());
            }
            continue;
        };
        if key == DIRECTIVE {
            let (Some(before), Some(after)) = (original_value.as_str(), modified_value.as_str())
            else {
                return Err(PatchError(format!(
                    "invalid value for special key: {DIRECTIVE}"
                )));
            };
            if before != after {
                patch.insert(key.clone(), modified_value.clone());
            }
            continue;
        }
        if kind(original_value) != kind(modified_value) {
            if !options.ignore_changes {
                patch.insert(key.clone(), modified_value.clone());
            }
            continue;
        }
        match (original_value, modified_value) {
            (Value::Map(before), Value::Map(after)) => {
                diff_map_field(key, before, after, &mut patch, context, node, options)?;
            }
            (Value::Seq(before), Value::Seq(after)) => {
                diff_list_field(key, before, after, &mut patch, context, node, options)?;
            }
            _ => {
                if !options.ignore_changes && original_value != modified_value {
                    patch.insert(key.clone(), modified_value.clone());
                }
            }
        }
    }
    if !options.ignore_deletions {
        for key in original.keys() {
            if !modified.contains_key(key) {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }
    // `$retainKeys` goes in when the patch says something or the original has keys to clear.
    let clears_keys = original
        .iter()
        .any(|(key, value)| !value.is_null() && !modified.contains_key(key));
    if !retained.is_empty() && (!patch.is_empty() || clears_keys) {
        patch.insert(RETAIN_KEYS.to_string(), Value::Seq(sort_scalars(retained)));
    }
    Ok(patch)
}

/// `handleMapDiff`.
fn diff_map_field(
    key: &str,
    before: &Mapping,
    after: &Mapping,
    patch: &mut Mapping,
    context: Context<'_>,
    node: Node<'_>,
    mut options: DiffOptions,
) -> Result<(), PatchError> {
    let (child, meta) = match lookup_map(context, node, key) {
        Ok(found) => found,
        // Without a schema, equal values need no patch; different ones cannot be diffed.
        Err(_) if before == after => return Ok(()),
        Err(error) => return Err(error),
    };
    options.build_retain_keys = meta.retain_keys;
    if meta.strategy == Strategy::Replace {
        if !options.ignore_changes {
            patch.insert(key.to_string(), Value::Map(after.clone()));
        }
        return Ok(());
    }
    let child_patch = diff_maps(before, after, context, child, options)?;
    if !child_patch.is_empty() {
        patch.insert(key.to_string(), Value::Map(child_patch));
    }
    Ok(())
}

/// `handleSliceDiff`.
fn diff_list_field(
    key: &str,
    before: &[Value],
    after: &[Value],
    patch: &mut Mapping,
    context: Context<'_>,
    node: Node<'_>,
    mut options: DiffOptions,
) -> Result<(), PatchError> {
    let (element, meta) = match lookup_list(context, node, key) {
        Ok(found) => found,
        Err(_) if before == after => return Ok(()),
        Err(error) => return Err(error),
    };
    if meta.strategy != Strategy::Merge {
        if !options.ignore_changes && before != after {
            patch.insert(key.to_string(), Value::Seq(after.to_vec()));
        }
        return Ok(());
    }
    options.build_retain_keys = meta.retain_keys;
    let (additions, deletions, order) =
        diff_lists(before, after, context, element, &meta.merge_key, options)?;
    if !additions.is_empty() {
        patch.insert(key.to_string(), Value::Seq(additions));
    }
    if !deletions.is_empty() {
        patch.insert(
            format!("{DELETE_FROM_PRIMITIVE_LIST}/{key}"),
            Value::Seq(deletions),
        );
    }
    if !order.is_empty() {
        patch.insert(format!("{SET_ELEMENT_ORDER}/{key}"), Value::Seq(order));
    }
    Ok(())
}

type ListDiff = (Vec<Value>, Vec<Value>, Vec<Value>);

/// `diffLists`: the patch list, the `$deleteFromPrimitiveList` list and the
/// `$setElementOrder` list of a merge list.
fn diff_lists(
    original: &[Value],
    modified: &[Value],
    context: Context<'_>,
    element: Node<'_>,
    merge_key: &str,
    options: DiffOptions,
) -> Result<ListDiff, PatchError> {
    if original.is_empty() {
        if modified.is_empty() || options.ignore_changes {
            return Ok((Vec::new(), Vec::new(), Vec::new()));
        }
        return Ok((modified.to_vec(), Vec::new(), Vec::new()));
    }
    match element_kind(&[original, modified])? {
        Kind::Map => {
            let (changes, deletions) =
                diff_lists_of_maps(original, modified, context, element, merge_key, options)?;
            let mut patch_list = order_like(changes, modified, merge_key, Kind::Map)?;
            let order_same = same_order(original, modified, merge_key)?;
            patch_list.extend(deletions);
            let mut order = Vec::new();
            if options.set_element_order
                && ((!options.ignore_changes && (!patch_list.is_empty() || !order_same))
                    || (!options.ignore_deletions && !patch_list.is_empty()))
            {
                for item in modified {
                    let mut stub = Mapping::new();
                    stub.insert(
                        merge_key.to_string(),
                        item.get(merge_key).cloned().unwrap_or(Value::Null),
                    );
                    order.push(Value::Map(stub));
                }
            }
            Ok((patch_list, Vec::new(), order))
        }
        Kind::Seq => Err(PatchError("lists of lists are not supported".into())),
        scalar_kind => {
            let (additions, deletions) = diff_lists_of_scalars(original, modified, options);
            let additions = order_like(additions, modified, merge_key, scalar_kind)?;
            let order = if options.set_element_order
                && ((!options.ignore_deletions && !deletions.is_empty())
                    || (!options.ignore_changes && original != modified))
            {
                modified.to_vec()
            } else {
                Vec::new()
            };
            Ok((additions, deletions, order))
        }
    }
}

/// Sorts `items` by their position in `order` (apimachinery's `normalizeSliceOrder` with no
/// server-only items).
fn order_like(
    items: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    apply::normalize_element_order(items, Vec::new(), order, &[], merge_key, kind)
}

fn same_order(original: &[Value], modified: &[Value], merge_key: &str) -> Result<bool, PatchError> {
    if original.len() != modified.len() {
        return Ok(false);
    }
    for (before, after) in original.iter().zip(modified) {
        let before_key = before
            .get(merge_key)
            .ok_or_else(|| no_merge_key(before, merge_key))?;
        let after_key = after
            .get(merge_key)
            .ok_or_else(|| no_merge_key(after, merge_key))?;
        if before_key != after_key {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Sorts scalars by their text (Go's `sortScalars`).
fn sort_scalars(mut items: Vec<Value>) -> Vec<Value> {
    sort_like_go(&mut items, go_text);
    items
}

/// Go's `sort.Sort` with a `<=` comparator, as upstream sorts: by `text`, with elements of
/// equal text in reverse order (what its insertion sort makes of `<=`).
fn sort_like_go(items: &mut [Value], text: impl Fn(&Value) -> String) {
    let mut keyed: Vec<(String, Value)> = items
        .iter()
        .map(|item| (text(item), item.clone()))
        .collect();
    keyed.sort_by(|left, right| left.0.cmp(&right.0));
    let mut start = 0;
    while start < keyed.len() {
        let mut end = start + 1;
        while end < keyed.len() && keyed[end].0 == keyed[start].0 {
            end += 1;
        }
        keyed[start..end].reverse();
        start = end;
    }
    for (slot, (_, item)) in items.iter_mut().zip(keyed) {
        *slot = item;
    }
}

/// `diffListsOfScalars`: additions and (de-duplicated) deletions, by sorted text.
fn diff_lists_of_scalars(
    original: &[Value],
    modified: &[Value],
    options: DiffOptions,
) -> (Vec<Value>, Vec<Value>) {
    let original = sort_scalars(original.to_vec());
    let modified = sort_scalars(modified.to_vec());
    let (mut before, mut after) = (0, 0);
    let mut additions = Vec::new();
    let mut deletions = Vec::new();
    while before < original.len() || after < modified.len() {
        let before_text = original.get(before).map(go_text);
        let after_text = modified.get(after).map(go_text);
        match (before_text, after_text) {
            (Some(left), Some(right)) if left == right => {
                before += 1;
                after += 1;
            }
            (Some(left), Some(right)) if left < right => {
                if !options.ignore_deletions {
                    deletions.push(original[before].clone());
                }
                before += 1;
            }
            (Some(_), None) => {
                if !options.ignore_deletions {
                    deletions.push(original[before].clone());
                }
                before += 1;
            }
            _ => {
                if !options.ignore_changes {
                    additions.push(modified[after].clone());
                }
                after += 1;
            }
        }
    }
    (additions, deduplicate_scalars(deletions))
}

fn merge_key_text(item: &Value, merge_key: &str) -> Result<String, PatchError> {
    let Value::Map(map) = item else {
        return Err(PatchError(format!(
            "expected a map, but received {}",
            go_text(item)
        )));
    };
    map.get(merge_key)
        .map(go_text)
        .ok_or_else(|| no_merge_key(item, merge_key))
}

/// `diffListsOfMaps`: the changed and added elements, and deletion directives for removed
/// ones, matched by merge key.
fn diff_lists_of_maps(
    original: &[Value],
    modified: &[Value],
    context: Context<'_>,
    element: Node<'_>,
    merge_key: &str,
    options: DiffOptions,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let sort = |list: &[Value]| -> Result<Vec<Value>, PatchError> {
        let mut sorted = list.to_vec();
        if list.is_empty() {
            return Ok(sorted);
        }
        element_kind(&[list])?;
        sort_like_go(&mut sorted, |item| {
            item.get(merge_key)
                .map(go_text)
                .unwrap_or_else(|| "<nil>".into())
        });
        Ok(sorted)
    };
    let original = sort(original)?;
    let modified = sort(modified)?;
    let mut patch = Vec::new();
    let mut deletions = Vec::new();
    let (mut before, mut after) = (0, 0);
    while before < original.len() || after < modified.len() {
        let before_text = original
            .get(before)
            .map(|item| merge_key_text(item, merge_key))
            .transpose()?;
        let after_text = modified
            .get(after)
            .map(|item| merge_key_text(item, merge_key))
            .transpose()?;
        match (before_text, after_text) {
            (Some(left), Some(right)) if left == right => {
                let (Value::Map(before_map), Value::Map(after_map)) =
                    (&original[before], &modified[after])
                else {
                    return Err(PatchError("list element is not a map".into()));
                };
                let mut element_patch =
                    diff_maps(before_map, after_map, context, element, options)?;
                if !element_patch.is_empty() {
                    let value = after_map.get(merge_key).cloned().unwrap_or(Value::Null);
                    element_patch.insert(merge_key.to_string(), value);
                    patch.push(Value::Map(element_patch));
                }
                before += 1;
                after += 1;
            }
            (None, Some(_)) => {
                if !options.ignore_changes {
                    patch.push(modified[after].clone());
                }
                after += 1;
            }
            (Some(left), Some(right)) if left > right => {
                if !options.ignore_changes {
                    patch.push(modified[after].clone());
                }
                after += 1;
            }
            _ => {
                if !options.ignore_deletions {
                    let value = original[before]
                        .get(merge_key)
                        .cloned()
                        .unwrap_or(Value::Null);
                    let mut directive = Mapping::new();
                    directive.insert(merge_key.to_string(), value);
                    directive.insert(DIRECTIVE.to_string(), Value::from("delete"));
                    deletions.push(Value::Map(directive));
                }
                before += 1;
            }
        }
    }
    Ok((patch, deletions))
}

/// `MergingMapsHaveConflicts` for two maps.
fn maps_conflict(
    left: &Mapping,
    right: &Mapping,
    context: Context<'_>,
    node: Node<'_>,
) -> Result<bool, PatchError> {
    for (key, left_value) in left {
        if key == DIRECTIVE || key == RETAIN_KEYS {
            continue;
        }
        let Some(right_value) = right.get(key) else {
            continue;
        };
        let (child, strategy, merge_key) = match left_value {
            Value::Seq(_) => {
                let (child, meta) = lookup_list(context, node, key)?;
                (child, meta.strategy, meta.merge_key)
            }
            Value::Map(_) => {
                let (child, meta) = lookup_map(context, node, key)?;
                (child, meta.strategy, meta.merge_key)
            }
            _ => (Node::Nothing, Strategy::None, String::new()),
        };
        if values_conflict(
            left_value,
            right_value,
            context,
            child,
            strategy,
            &merge_key,
        )? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `mergingMapFieldsHaveConflicts`.
fn values_conflict(
    left: &Value,
    right: &Value,
    context: Context<'_>,
    node: Node<'_>,
    strategy: Strategy,
    merge_key: &str,
) -> Result<bool, PatchError> {
    match left {
        Value::Map(left_map) => {
            let Value::Map(right_map) = right else {
                return Ok(true);
            };
            let left_directive = left_map.get(DIRECTIVE);
            let right_directive = right_map.get(DIRECTIVE);
            // A directive acts on the whole map, so it conflicts with any other change to it.
            if (left_directive.is_some() || right_directive.is_some())
                && left_directive != right_directive
            {
                return Ok(true);
            }
            if strategy == Strategy::Replace {
                return Ok(false);
            }
            maps_conflict(left_map, right_map, context, node)
        }
        Value::Seq(left_items) => {
            let Value::Seq(right_items) = right else {
                return Ok(true);
            };
            lists_conflict(left_items, right_items, context, node, strategy, merge_key)
        }
        _ => Ok(left != right),
    }
}

/// `slicesHaveConflicts`.
fn lists_conflict(
    left: &[Value],
    right: &[Value],
    context: Context<'_>,
    node: Node<'_>,
    strategy: Strategy,
    merge_key: &str,
) -> Result<bool, PatchError> {
    let element = element_kind(&[left, right])?;
    if strategy == Strategy::Merge {
        // Merging lists of scalars cannot conflict.
        if element != Kind::Map {
            return Ok(false);
        }
        let by_key = |items: &[Value]| -> Result<Vec<(String, Value)>, PatchError> {
            items
                .iter()
                .map(|item| {
                    let key = item.get(merge_key).map(go_text).ok_or_else(|| {
                        PatchError(format!(
                            "cannot find merge key `{merge_key}` in merging list element"
                        ))
                    })?;
                    Ok((key, item.clone()))
                })
                .collect()
        };
        let left_items = by_key(left)?;
        let right_items = by_key(right)?;
        for (key, left_item) in &left_items {
            // Go builds a map, so the last element with a key wins.
            if let Some((_, right_item)) = right_items.iter().rev().find(|(other, _)| other == key)
            {
                let left_item = left_items
                    .iter()
                    .rev()
                    .find(|(other, _)| other == key)
                    .map_or(left_item, |(_, item)| item);
                if values_conflict(left_item, right_item, context, node, Strategy::None, "")? {
                    return Ok(true);
                }
            }
        }
        return Ok(false);
    }
    if left.len() != right.len() {
        return Ok(true);
    }
    let (left, right) = if element == Kind::Map {
        (left.to_vec(), right.to_vec())
    } else {
        (
            sort_scalars(deduplicate_scalars(left.to_vec())),
            sort_scalars(deduplicate_scalars(right.to_vec())),
        )
    };
    for (left_item, right_item) in left.iter().zip(right.iter()) {
        if values_conflict(left_item, right_item, context, node, Strategy::None, "")? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Sorts every merge list of `value` (whose schema is the definition `root` of `schema`) by
/// merge key, and merge lists of primitives by text without duplicates, as apimachinery's
/// `sortMergeListsByName` does to compare patches regardless of list order. `$retainKeys` and
/// `$deleteFromPrimitiveList` values are sorted too; `$setElementOrder` and other lists are
/// left alone.
pub fn sort_merge_lists(
    value: &Value,
    schema: &CustomSchema,
    root: &str,
) -> Result<Value, PatchError> {
    let (context, node) = custom_context(schema, root);
    match value {
        Value::Map(map) => Ok(Value::Map(sort_map(map, context, node)?)),
        other => Ok(other.clone()),
    }
}

fn sort_map(map: &Mapping, context: Context<'_>, node: Node<'_>) -> Result<Mapping, PatchError> {
    let mut out = Mapping::new();
    for (key, value) in map {
        let sorted = if key == RETAIN_KEYS || key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            let Value::Seq(items) = value else {
                return Err(PatchError(format!("invalid patch format of {key}")));
            };
            Value::Seq(sort_scalars(items.clone()))
        } else if key.starts_with(SET_ELEMENT_ORDER) || key == DIRECTIVE {
            value.clone()
        } else {
            match value {
                Value::Map(child) => {
                    let (child_node, _) = lenient_map(context, node, key);
                    Value::Map(sort_map(child, context, child_node)?)
                }
                Value::Seq(items) => {
                    let (element, meta) = lenient_list(context, node, key);
                    if meta.strategy == Strategy::Merge {
                        Value::Seq(sort_list(items, context, element, &meta.merge_key)?)
                    } else {
                        value.clone()
                    }
                }
                other => other.clone(),
            }
        };
        out.insert(key.clone(), sorted);
    }
    Ok(out)
}

fn sort_list(
    items: &[Value],
    context: Context<'_>,
    element: Node<'_>,
    merge_key: &str,
) -> Result<Vec<Value>, PatchError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    if element_kind(&[items])? != Kind::Map {
        return Ok(sort_scalars(deduplicate_scalars(items.to_vec())));
    }
    let mut sorted = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Map(map) => sorted.push(Value::Map(sort_map(map, context, element)?)),
            other => sorted.push(other.clone()),
        }
    }
    sort_like_go(&mut sorted, |item| {
        item.get(merge_key)
            .map(go_text)
            .unwrap_or_else(|| "<nil>".into())
    });
    Ok(sorted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smp::{Dialect, merge_object_as};
    use crate::yaml::parse_documents;

    fn yaml(text: &str) -> Value {
        parse_documents(text)
            .unwrap_or_default()
            .into_iter()
            .next()
            .unwrap_or(Value::Null)
    }

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: app:1\n        env:\n        - name: A\n          value: a\n        - name: B\n          value: b\n      - name: sidecar\n        image: sidecar:1\n";

    #[test]
    fn a_two_way_patch_of_a_deployment_merges_containers_and_env_by_name() {
        let original = yaml(DEPLOYMENT);
        let modified = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: app:2\n        env:\n        - name: A\n          value: a\n",
        );
        let patch = create_two_way_patch(&original, &modified).unwrap_or(Value::Null);
        let expected = yaml(
            "spec:\n  template:\n    spec:\n      $setElementOrder/containers:\n      - name: app\n      containers:\n      - name: app\n        image: app:2\n        $setElementOrder/env:\n        - name: A\n        env:\n        - name: B\n          $patch: delete\n      - name: sidecar\n        $patch: delete\n",
        );
        assert_eq!(patch, expected);
        let applied = merge_object_as(&original, &patch, Dialect::ApiServer);
        assert_eq!(applied, Ok(Some(modified)));
    }

    #[test]
    fn identical_documents_give_an_empty_patch() {
        let original = yaml(DEPLOYMENT);
        let patch = create_two_way_patch(&original, &original).unwrap_or(Value::Null);
        assert_eq!(patch, Value::Map(Mapping::new()));
    }

    #[test]
    fn a_three_way_patch_keeps_what_only_the_live_object_has() {
        let last_applied = yaml("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: '1'\n  b: '2'\n");
        let config = yaml("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: '1'\n");
        let live = yaml(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  uid: x\ndata:\n  a: '1'\n  b: '2'\n  c: '3'\n",
        );
        let patch = create_three_way_patch(&last_applied, &config, &live, false);
        assert_eq!(patch, Ok(yaml("data:\n  b: null\n")));
    }

    #[test]
    fn a_three_way_patch_over_a_live_change_conflicts_unless_overwriting() {
        let last_applied = yaml("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: '1'\n");
        let config = yaml("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: '2'\n");
        let live = yaml("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: edited\n");
        let plain = create_three_way_patch(&last_applied, &config, &live, false);
        assert!(matches!(plain, Err(CreatePatchError::Conflict { .. })));
        let forced = create_three_way_patch(&last_applied, &config, &live, true);
        assert_eq!(forced, Ok(yaml("data:\n  a: '2'\n")));
    }

    #[test]
    fn documents_that_are_not_objects_are_refused() {
        let result = create_two_way_patch(&Value::from("text"), &yaml("a: 1\n"));
        assert!(result.is_err());
    }
}
