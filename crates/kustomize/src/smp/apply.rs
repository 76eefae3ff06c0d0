//! Applying a strategic merge patch as the API server does (apimachinery's `mergeMap`), and
//! merging two patches into one (what three-way patch creation needs).
//!
//! Upstream works on Go maps, whose iteration order is random; nothing here depends on key
//! order except where the result keeps the target's key order for readable output.

use super::meta::{Meta, Strategy, lenient_list, lenient_map};
use super::{Context, Node, PatchError};
use crate::value::{Mapping, Value};

pub(super) const DIRECTIVE: &str = "$patch";
pub(super) const RETAIN_KEYS: &str = "$retainKeys";
pub(super) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
pub(super) const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// How [`merge_map`] treats directives and nulls.
#[derive(Clone, Copy, Debug)]
pub(super) struct Options {
    /// Apply `$deleteFromPrimitiveList`, `$setElementOrder` and `$retainKeys` (applying a
    /// patch) rather than carry them over (merging two patches).
    pub(super) parallel_lists: bool,
    /// Drop nulls that delete nothing (applying) rather than keep them (merging patches).
    pub(super) ignore_unmatched_nulls: bool,
}

/// Applying a patch to an object.
pub(super) const APPLY: Options = Options {
    parallel_lists: true,
    ignore_unmatched_nulls: true,
};

/// Merging a patch into another patch.
pub(super) const MERGE_PATCHES: Options = Options {
    parallel_lists: false,
    ignore_unmatched_nulls: false,
};

/// The JSON type of a value, as Go's `reflect.TypeOf` tells them apart after decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Null,
    Bool,
    Int,
    Float,
    String,
    Seq,
    Map,
}

pub(super) fn kind(value: &Value) -> Kind {
    match value {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::UInt(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::String,
        Value::Seq(_) => Kind::Seq,
        Value::Map(_) => Kind::Map,
    }
}

/// Go's `fmt.Sprintf("%v", value)` for the scalars that occur in patches.
pub(super) fn go_text(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Float(number) => go_float_v(*number),
        other => other
            .scalar_text()
            .unwrap_or_else(|| crate::json::to_go_json(other)),
    }
}

/// `%v` of a float64: the shortest digits, in exponent form below 1e-4 or from 1e6 on.
fn go_float_v(number: f64) -> String {
    if !number.is_finite() {
        return if number.is_nan() {
            "NaN".to_string()
        } else if number > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        };
    }
    let scientific = format!("{number:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        return format!("{number}");
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

pub(super) fn no_merge_key(item: &Value, merge_key: &str) -> PatchError {
    PatchError(format!(
        "map: {} does not contain declared merge key: {merge_key}",
        go_text(item)
    ))
}

fn bad_arg(expected: &str, actual: &Value) -> PatchError {
    PatchError(format!(
        "expected a {expected}, but received a {:?}",
        kind(actual)
    ))
}

/// The type of the elements of the lists (apimachinery's `sliceElementType`).
pub(super) fn element_kind(lists: &[&[Value]]) -> Result<Kind, PatchError> {
    let mut found: Option<Kind> = None;
    for item in lists.iter().flat_map(|list| list.iter()) {
        let current = kind(item);
        match found {
            None if current == Kind::Seq => {
                return Err(PatchError("lists of lists are not supported".into()));
            }
            None => found = Some(current),
            Some(previous) if previous != current => {
                return Err(PatchError("list element types are not identical".into()));
            }
            Some(_) => {}
        }
    }
    found.ok_or_else(|| PatchError("no elements in any of the given slices".into()))
}

/// The list field a `$deleteFromPrimitiveList/…` or `$setElementOrder/…` key names.
pub(super) fn extract_key(key: &str, prefix: &str) -> Result<String, PatchError> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field.to_string()),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => {
            Err(PatchError("invalid patch format of primitive list".into()))
        }
        _ => Err(PatchError(
            "invalid patch format of setElementOrder list".into(),
        )),
    }
}

/// Removes `$patch` maps (they say what to do, they are not data); `None` when the value
/// itself is one.
pub(super) fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Map(map) => {
            if map.contains_key(DIRECTIVE) {
                return None;
            }
            Some(Value::Map(
                map.into_iter()
                    .filter_map(|(key, child)| remove_directives(child).map(|child| (key, child)))
                    .collect(),
            ))
        }
        Value::Seq(items) => Some(Value::Seq(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

/// Drops null map values at any depth (they would delete nothing); nulls in lists stay.
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Map(map) => {
            map.retain(|_, child| !child.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Seq(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// Merges `patch` into `original` (apimachinery's `mergeMap`).
pub(super) fn merge_map(
    mut original: Mapping,
    mut patch: Mapping,
    context: Context<'_>,
    node: Node<'_>,
    options: Options,
) -> Result<Mapping, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Mapping::new()),
            _ => Err(PatchError(format!(
                "unknown patch type: {} in map",
                go_text(directive)
            ))),
        };
    }
    apply_retain_keys(&mut original, &mut patch, options)?;
    merge_element_orders(&mut original, &mut patch, context, node, options)?;
    for (key, mut patch_value) in patch {
        let mut key = key;
        let mut delete_list = false;
        if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            if !options.parallel_lists {
                original.insert(key, patch_value);
                continue;
            }
            key = extract_key(&key, DELETE_FROM_PRIMITIVE_LIST)?;
            delete_list = true;
        }
        if patch_value.is_null() {
            original.shift_remove(&key);
            if options.ignore_unmatched_nulls {
                continue;
            }
        }
        let Some(existing) = original.get_mut(&key) else {
            if !delete_list {
                if options.ignore_unmatched_nulls {
                    discard_nulls(&mut patch_value);
                }
                if let Some(value) = remove_directives(patch_value) {
                    original.insert(key, value);
                }
            }
            continue;
        };
        if kind(existing) != kind(&patch_value) {
            if !delete_list {
                if options.ignore_unmatched_nulls {
                    discard_nulls(&mut patch_value);
                }
                match remove_directives(patch_value) {
                    Some(value) => *existing = value,
                    None => {
                        original.shift_remove(&key);
                    }
                }
            }
            continue;
        }
        let current = std::mem::replace(existing, Value::Null);
        let merged = match (current, patch_value) {
            (Value::Map(current), Value::Map(patch_map)) => {
                let (child, meta) = lenient_map(context, node, &key);
                if meta.strategy == Strategy::Replace {
                    Some(Value::Map(patch_map))
                } else {
                    Some(Value::Map(merge_map(
                        current, patch_map, context, child, options,
                    )?))
                }
            }
            (Value::Seq(current), Value::Seq(patch_items)) => {
                let (element, meta) = lenient_list(context, node, &key);
                Some(Value::Seq(
                    merge_list_field(
                        current,
                        patch_items,
                        context,
                        element,
                        &meta,
                        delete_list,
                        options,
                    )?
                    .merged,
                ))
            }
            (_, patch_value) => remove_directives(patch_value),
        };
        match merged {
            Some(value) => {
                original.insert(key, value);
            }
            None => {
                original.shift_remove(&key);
            }
        }
    }
    Ok(original)
}

fn apply_retain_keys(
    original: &mut Mapping,
    patch: &mut Mapping,
    options: Options,
) -> Result<(), PatchError> {
    let Some(retained) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    if !options.parallel_lists {
        match original.get(RETAIN_KEYS) {
            Some(existing) if *existing != retained => {
                return Err(PatchError(
                    "the $retainKeys directives of the two patches differ".into(),
                ));
            }
            Some(_) => {}
            None => {
                original.insert(RETAIN_KEYS.to_string(), retained);
            }
        }
        return Ok(());
    }
    let Value::Seq(keep) = retained else {
        return Err(PatchError("invalid patch format of retainKeys".into()));
    };
    let kept = |key: &str| keep.iter().any(|item| item.as_str() == Some(key));
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !kept(key) {
            return Err(PatchError("invalid patch format of retainKeys".into()));
        }
    }
    original.retain(|key, _| kept(key));
    Ok(())
}

fn list_at(map: &Mapping, key: &str) -> Result<Option<Vec<Value>>, PatchError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Seq(items)) => Ok(Some(items.clone())),
        Some(other) => Err(bad_arg("list", other)),
    }
}

/// `mergePatchIntoOriginal`: merges each list that has a `$setElementOrder` and puts its
/// elements in that order.
fn merge_element_orders(
    original: &mut Mapping,
    patch: &mut Mapping,
    context: Context<'_>,
    node: Node<'_>,
    options: Options,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|key| key.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(order_value) = patch.shift_remove(&key) else {
            continue;
        };
        if !options.parallel_lists {
            match original.get(&key) {
                Some(existing) if *existing != order_value => {
                    return Err(PatchError(
                        "invalid patch format of setElementOrder list".into(),
                    ));
                }
                Some(_) => {}
                None => {
                    original.insert(key.clone(), order_value.clone());
                }
            }
        }
        let Value::Seq(order) = order_value else {
            return Err(bad_arg("list", &order_value));
        };
        let field = extract_key(&key, SET_ELEMENT_ORDER)?;
        let original_list = list_at(original, &field)?;
        let patch_list = list_at(patch, &field)?;
        let (element, meta) = lenient_list(context, node, &field);
        let merge_key = meta.merge_key.clone();
        validate_order(patch_list.as_deref().unwrap_or(&[]), &order, &merge_key)?;
        // The merge may have edited the original list in place (see `GoSlice`); upstream
        // then orders server-only elements by what the original list has become.
        let (merged, original_items) = match (&original_list, &patch_list) {
            (Some(existing), None) => (existing.clone(), existing.clone()),
            (None, Some(items)) => (
                items
                    .iter()
                    .cloned()
                    .filter_map(remove_directives)
                    .collect(),
                Vec::new(),
            ),
            (Some(existing), Some(items)) => {
                let result = merge_list_field(
                    existing.clone(),
                    items.clone(),
                    context,
                    element,
                    &meta,
                    false,
                    options,
                )?;
                (result.merged, result.original_view)
            }
            (None, None) => continue,
        };
        let (in_order, server_only) = partition(merged, &order, &merge_key)?;
        let kind = element_kind(&[
            original_list.as_deref().unwrap_or(&[]),
            patch_list.as_deref().unwrap_or(&[]),
        ])?;
        let ordered = normalize_element_order(
            in_order,
            server_only,
            &order,
            &original_items,
            &merge_key,
            kind,
        )?;
        original.insert(field.clone(), Value::Seq(ordered));
        patch.shift_remove(&field);
    }
    Ok(())
}

fn contains_directive(item: &Value) -> bool {
    item.as_map().is_some_and(|map| map.contains_key(DIRECTIVE))
}

/// Splits a list of maps into the elements to keep and those marked `$patch: delete`.
fn split_deletions(items: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut keep = Vec::new();
    let mut delete = Vec::new();
    for item in items {
        let Value::Map(map) = &item else {
            return Err(bad_arg("map", &item));
        };
        if map.get(DIRECTIVE).and_then(Value::as_str) == Some("delete") {
            delete.push(item);
        } else {
            keep.push(item);
        }
    }
    Ok((keep, delete))
}

fn merge_key_values_equal(
    left: &Value,
    right: &Value,
    merge_key: &str,
) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let left_value = left
        .as_map()
        .ok_or_else(|| bad_arg("map", left))?
        .get(merge_key)
        .ok_or_else(|| no_merge_key(left, merge_key))?;
    let right_value = right
        .as_map()
        .ok_or_else(|| bad_arg("map", right))?
        .get(merge_key)
        .ok_or_else(|| no_merge_key(right, merge_key))?;
    Ok(left_value == right_value)
}

/// The patch list's elements must appear in the same relative order as in the order list.
fn validate_order(patch: &[Value], order: &[Value], merge_key: &str) -> Result<(), PatchError> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let kept = if merge_key.is_empty() {
        patch.to_vec()
    } else {
        split_deletions(patch.to_vec())?.0
    };
    let (mut patch_index, mut order_index) = (0, 0);
    while patch_index < kept.len() && order_index < order.len() {
        if contains_directive(&kept[patch_index]) {
            patch_index += 1;
            continue;
        }
        if merge_key_values_equal(&kept[patch_index], &order[order_index], merge_key)? {
            patch_index += 1;
        }
        order_index += 1;
    }
    if patch_index < kept.len() && order_index >= order.len() {
        return Err(PatchError(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            crate::json::to_go_json(&Value::Seq(patch.to_vec())),
            crate::json::to_go_json(&Value::Seq(order.to_vec())),
        )));
    }
    Ok(())
}

/// Splits `items` into those present in `by` (by merge key for maps) and the others.
fn partition(
    items: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut present = Vec::new();
    let mut absent = Vec::new();
    for item in items {
        let found = if merge_key.is_empty() {
            by.contains(&item)
        } else {
            let value = item
                .as_map()
                .ok_or_else(|| bad_arg("map", &item))?
                .get(merge_key)
                .ok_or_else(|| no_merge_key(&item, merge_key))?;
            let mut found = false;
            for candidate in by {
                let map = candidate
                    .as_map()
                    .ok_or_else(|| PatchError("value in the list is not a map".into()))?;
                if map.get(merge_key) == Some(value) {
                    found = true;
                    break;
                }
            }
            found
        };
        if found {
            present.push(item);
        } else {
            absent.push(item);
        }
    }
    Ok((present, absent))
}

/// The position of `item` in `list`, by merge key for maps.
fn position(list: &[Value], item: &Value, merge_key: &str, kind: Kind) -> Option<usize> {
    if kind == Kind::Map {
        let wanted = item.as_map().and_then(|map| map.get(merge_key));
        list.iter()
            .position(|candidate| candidate.as_map().and_then(|map| map.get(merge_key)) == wanted)
    } else {
        list.iter().position(|candidate| candidate == item)
    }
}

/// `normalizeSliceOrder`: sorts `items` by their position in `order`; deletions go last.
fn normalize_slice_order(
    items: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let (mut items, deletions) = if kind == Kind::Map {
        for item in items.iter().chain(order.iter()) {
            let map = item.as_map().ok_or_else(|| bad_arg("map", item))?;
            if !map.contains_key(merge_key) {
                return Err(no_merge_key(item, merge_key));
            }
        }
        split_deletions(items)?
    } else {
        (items, Vec::new())
    };
    let positions: Vec<Option<usize>> = items
        .iter()
        .map(|item| position(order, item, merge_key, kind))
        .collect();
    if positions.iter().all(Option::is_some) {
        let mut indexed: Vec<(Option<usize>, Value)> = positions.into_iter().zip(items).collect();
        indexed.sort_by_key(|(position, _)| *position);
        items = indexed.into_iter().map(|(_, item)| item).collect();
    } else {
        // Upstream's comparator calls an element that is not in `order` smaller than any
        // other; reproduce what Go's insertion sort makes of that.
        let less = |left: &Value, right: &Value| match (
            position(order, left, merge_key, kind),
            position(order, right, merge_key, kind),
        ) {
            (Some(left), Some(right)) => left < right,
            _ => true,
        };
        for start in 1..items.len() {
            let mut index = start;
            while index > 0 && less(&items[index], &items[index - 1]) {
                items.swap(index, index - 1);
                index -= 1;
            }
        }
    }
    items.extend(deletions);
    Ok(items)
}

/// `normalizeElementOrder` + `mergeSortedSlice`: the patch's elements in `patch_order`, the
/// server-only ones in `server_order`, interleaved by their positions in `server_order`.
pub(super) fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let right = normalize_slice_order(patch, patch_order, merge_key, kind)?;
    let left = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(left_item), Some(right_item)) => matches!(
                (
                    position(server_order, left_item, merge_key, kind),
                    position(server_order, right_item, merge_key, kind),
                ),
                (Some(left_position), Some(right_position)) if left_position < right_position
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    Ok(out)
}

/// Go's in-place de-duplication, which moves the last element into each removed slot.
pub(super) fn deduplicate_scalars(mut items: Vec<Value>) -> Vec<Value> {
    let mut index = 0;
    while index < items.len() {
        let mut other = index + 1;
        while other < items.len() {
            if items[index] == items[other] {
                items.swap_remove(other);
            } else {
                other += 1;
            }
        }
        index += 1;
    }
    items
}

/// The capacity Go's JSON decoder leaves on a decoded list of `len` elements (it appends one
/// element at a time, doubling).
fn go_capacity(len: usize) -> usize {
    if len == 0 || len > 256 {
        len
    } else {
        len.next_power_of_two()
    }
}

/// A Go slice over a shared backing array. Upstream's list merge edits the original list in
/// place (deleting by shifting, appending into spare capacity, de-duplicating by moving the
/// last element), and the caller later reads the original list — now partly overwritten — as
/// the server's element order. Reproducing that aliasing is what makes the element order of
/// merged lists come out as upstream's.
struct GoSlice {
    /// The backing array, including the spare capacity.
    backing: Vec<Value>,
    /// The length of the slice.
    len: usize,
    /// Whether an append outgrew the backing array (later writes go to `own`).
    own: Option<Vec<Value>>,
}

impl GoSlice {
    fn new(items: &[Value], extra: &[Value]) -> GoSlice {
        let mut backing = items.to_vec();
        backing.resize(go_capacity(items.len()), Value::Null);
        let mut slice = GoSlice {
            backing,
            len: items.len(),
            own: None,
        };
        for item in extra {
            slice.push(item.clone());
        }
        slice
    }

    fn items(&self) -> &[Value] {
        match &self.own {
            Some(own) => own,
            None => &self.backing[..self.len],
        }
    }

    fn set(&mut self, index: usize, value: Value) {
        match &mut self.own {
            Some(own) => own[index] = value,
            None => self.backing[index] = value,
        }
    }

    fn push(&mut self, value: Value) {
        match &mut self.own {
            Some(own) => own.push(value),
            None if self.len < self.backing.len() => {
                self.backing[self.len] = value;
                self.len += 1;
            }
            None => {
                let mut own = self.backing[..self.len].to_vec();
                own.push(value);
                self.own = Some(own);
            }
        }
    }

    /// Removes the element at `index` by shifting the rest left, in place.
    fn remove(&mut self, index: usize) {
        match &mut self.own {
            Some(own) => {
                own.remove(index);
            }
            None => {
                for slot in index..self.len.saturating_sub(1) {
                    self.backing[slot] = self.backing[slot + 1].clone();
                }
                self.len -= 1;
            }
        }
    }

    /// Go's `deduplicateScalars`, in place: a duplicate's slot receives the last element.
    fn deduplicate(&mut self) {
        let mut index = 0;
        while index < self.items().len() {
            let mut other = index + 1;
            while other < self.items().len() {
                if self.items()[index] == self.items()[other] {
                    let last = self.items().len() - 1;
                    let moved = self.items()[last].clone();
                    self.set(other, moved);
                    match &mut self.own {
                        Some(own) => own.truncate(last),
                        None => self.len = last,
                    }
                } else {
                    other += 1;
                }
            }
            index += 1;
        }
    }

    /// The first `len` slots of the backing array: what a slice header taken before the
    /// edits now shows.
    fn view(&self, len: usize) -> Vec<Value> {
        self.backing[..len.min(self.backing.len())].to_vec()
    }
}

/// What merging two lists gives: the merged list and the original list as the caller's slice
/// now shows it.
struct MergedList {
    merged: Vec<Value>,
    original_view: Vec<Value>,
}

/// `mergeSliceHandler`: merge lists (and deletion lists) merge, other lists are replaced.
fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    context: Context<'_>,
    element: Node<'_>,
    meta: &Meta,
    delete_list: bool,
    options: Options,
) -> Result<MergedList, PatchError> {
    if meta.strategy == Strategy::Merge || delete_list {
        merge_list(
            original,
            patch,
            context,
            element,
            &meta.merge_key,
            options,
            delete_list,
        )
    } else {
        Ok(MergedList {
            merged: patch,
            original_view: original,
        })
    }
}

/// `mergeSlice`: merges two lists of a `merge` field.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    context: Context<'_>,
    element: Node<'_>,
    merge_key: &str,
    options: Options,
    delete_list: bool,
) -> Result<MergedList, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(MergedList {
            merged: original.clone(),
            original_view: original,
        });
    }
    let kind = element_kind(&[&original, &patch])?;
    let original_len = original.len();
    if kind != Kind::Map {
        if options.parallel_lists && delete_list {
            let merged = original
                .iter()
                .filter(|item| !patch.contains(item))
                .cloned()
                .collect();
            return Ok(MergedList {
                merged,
                original_view: original,
            });
        }
        let mut both = GoSlice::new(&original, &patch);
        both.deduplicate();
        let server_order = both.view(original_len);
        let merged = both.items().to_vec();
        let (in_patch, server_only) = partition(merged, &patch, merge_key)?;
        let merged = normalize_element_order(
            in_patch,
            server_only,
            &patch,
            &server_order,
            merge_key,
            kind,
        )?;
        return Ok(MergedList {
            merged,
            original_view: server_order,
        });
    }
    if merge_key.is_empty() {
        return Err(PatchError(
            "cannot merge lists without merge key".to_string(),
        ));
    }
    let mut slice = GoSlice::new(&original, &[]);
    let (plain, replacement) = merge_special_elements(&mut slice, patch, merge_key)?;
    let (server_order, patch, merged) = match replacement {
        // `$patch: replace`: the patch's other elements become the list.
        Some(replacement) => (replacement.clone(), Vec::new(), replacement),
        None => {
            let kept_len = slice.len;
            merge_plain_elements(&mut slice, &plain, merge_key, context, element, options)?;
            (slice.view(kept_len), plain, slice.items().to_vec())
        }
    };
    let (in_patch, server_only) = partition(merged, &patch, merge_key)?;
    let merged = normalize_element_order(
        in_patch,
        server_only,
        &patch,
        &server_order,
        merge_key,
        kind,
    )?;
    Ok(MergedList {
        merged,
        original_view: slice.view(original_len),
    })
}

/// Applies the `$patch` elements of a list patch: deletions by merge key (in place), and
/// `replace`, which makes the other patch elements the list. Returns the other elements, and
/// them again as the replacement when replacing.
fn merge_special_elements(
    original: &mut GoSlice,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Option<Vec<Value>>), PatchError> {
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.as_map().and_then(|map| map.get(DIRECTIVE)) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let value = item
                    .get(merge_key)
                    .ok_or_else(|| no_merge_key(&item, merge_key))?;
                while let Some(index) = original
                    .items()
                    .iter()
                    .position(|existing| existing.get(merge_key) == Some(value))
                {
                    original.remove(index);
                }
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(PatchError(
                    "merging lists cannot yet be specified in the patch".into(),
                ));
            }
            _ => {
                return Err(PatchError(format!(
                    "unknown patch type: {} in map",
                    go_text(directive)
                )));
            }
        }
    }
    if replace {
        return Ok((Vec::new(), Some(plain)));
    }
    Ok((plain, None))
}

/// Merges each patch element into the element with the same merge key, or appends it.
fn merge_plain_elements(
    original: &mut GoSlice,
    patch: &[Value],
    merge_key: &str,
    context: Context<'_>,
    element: Node<'_>,
    options: Options,
) -> Result<(), PatchError> {
    for item in patch {
        let Value::Map(item_map) = item else {
            return Err(bad_arg("map", item));
        };
        let value = item_map
            .get(merge_key)
            .ok_or_else(|| no_merge_key(item, merge_key))?;
        let found = original
            .items()
            .iter()
            .position(|existing| existing.get(merge_key) == Some(value));
        match found {
            Some(index) => {
                let existing = match &original.items()[index] {
                    Value::Map(map) => map.clone(),
                    other => return Err(bad_arg("map", other)),
                };
                let merged = merge_map(existing, item_map.clone(), context, element, options)?;
                original.set(index, Value::Map(merged));
            }
            None => original.push(item.clone()),
        }
    }
    Ok(())
}
