//! Schema-driven walks over objects, after structured-merge-diff's `typed` package: the set of
//! fields an object sets, merging an applied configuration into a live object, comparing two
//! objects field by field, and removing a set of fields from an object.

use serde_json::{Map, Value};

use super::fieldpath::{FieldSet, Path, PathElement, values_equal};
use super::schema::{Atom, ListKind, Node, Schema};

/// What changed between two objects.
#[derive(Debug, Clone, Default)]
pub(crate) struct Comparison {
    /// Leaves (and containers) present only in the new object.
    pub(crate) added: FieldSet,
    /// Leaves present in both with different values.
    pub(crate) modified: FieldSet,
    /// Leaves (and containers) present only in the old object.
    pub(crate) removed: FieldSet,
}

impl Comparison {
    /// Drops paths at or below members of `ignored`.
    pub(crate) fn exclude(&mut self, ignored: &FieldSet) {
        self.added = self.added.recursive_difference(ignored);
        self.modified = self.modified.recursive_difference(ignored);
        self.removed = self.removed.recursive_difference(ignored);
    }
}

fn same_shape(left: &Value, right: &Value) -> bool {
    matches!(
        (left, right),
        (Value::Object(_), Value::Object(_)) | (Value::Array(_), Value::Array(_))
    ) || (!left.is_object() && !left.is_array() && !right.is_object() && !right.is_array())
}

fn is_empty_container(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Object(map)) => map.is_empty(),
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
    }
}

/// The path element of a list item.
pub(crate) fn item_element(
    schema: &Schema<'_>,
    kind: &ListKind,
    element: &Node<'_>,
    item: &Value,
) -> Result<PathElement, String> {
    match kind {
        ListKind::Keyed(keys) => {
            let Value::Object(map) = item else {
                return Err("associative list with keys may not have non-map elements".into());
            };
            let mut fields = Vec::new();
            for key in keys {
                if let Some(value) = map.get(key) {
                    fields.push((key.clone(), value.clone()));
                } else if let Some(default) = schema.key_default(element, key) {
                    fields.push((key.clone(), default));
                }
            }
            if !keys.is_empty() && fields.is_empty() {
                return Err(format!(
                    "associative list with keys has an element that omits all key fields {keys:?} (and doesn't have default values for any key fields)"
                ));
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(fields))
        }
        ListKind::Set => match item {
            Value::Object(_) | Value::Array(_) | Value::Null => {
                Err("associative list without keys has an element that's not a scalar".into())
            }
            scalar => Ok(PathElement::Value(scalar.clone())),
        },
        ListKind::Atomic => Err("invalid indexing of non-associative list".into()),
    }
}

/// The items of a list by path element; duplicates map to `None`.
struct Indexed<'v> {
    order: Vec<PathElement>,
    observed: Vec<(PathElement, Option<&'v Value>)>,
}

impl<'v> Indexed<'v> {
    fn build(
        schema: &Schema<'_>,
        kind: &ListKind,
        element: &Node<'_>,
        items: &'v [Value],
        allow_duplicates: bool,
    ) -> Result<Self, String> {
        let mut indexed = Indexed {
            order: Vec::with_capacity(items.len()),
            observed: Vec::with_capacity(items.len()),
        };
        for (index, item) in items.iter().enumerate() {
            let element = item_element(schema, kind, element, item)
                .map_err(|error| format!("element {index}: {error}"))?;
            match indexed.position(&element) {
                Some(_) if !allow_duplicates => {
                    return Err(format!("duplicate entries for key {}", element.readable()));
                }
                Some(position) => indexed.observed[position].1 = None,
                None => indexed.observed.push((element.clone(), Some(item))),
            }
            indexed.order.push(element);
        }
        Ok(indexed)
    }

    fn position(&self, element: &PathElement) -> Option<usize> {
        self.observed
            .iter()
            .position(|(seen, _)| seen == element || seen.compare(element).is_eq())
    }

    fn get(&self, element: &PathElement) -> Option<Option<&'v Value>> {
        self.position(element)
            .map(|position| self.observed[position].1)
    }
}

/// The walks, over one schema.
pub(crate) struct Typed<'s, 'a> {
    /// The schema.
    pub(crate) schema: &'s Schema<'a>,
}

impl<'a> Typed<'_, 'a> {
    /// The fields `value` sets (structured-merge-diff's `ToFieldSet`).
    pub(crate) fn field_set(&self, value: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        let mut path = Vec::new();
        self.collect(&self.schema.root(), value, &mut path, &mut set);
        set
    }

    fn collect(&self, node: &Node<'a>, value: &Value, path: &mut Path, set: &mut FieldSet) {
        match self.schema.atom(node, value) {
            Atom::Scalar | Atom::Map(true) | Atom::List(ListKind::Atomic, _) => set.insert(path),
            Atom::Map(false) => {
                let Value::Object(map) = value else { return };
                for (key, child) in map {
                    let (child_node, declared) = self.schema.field(node, key, path.is_empty());
                    path.push(PathElement::Field(key.clone()));
                    self.collect(&child_node, child, path, set);
                    let empty_map = child.as_object().is_some_and(Map::is_empty);
                    if child.is_null() || empty_map || !declared {
                        set.insert(path);
                    }
                    path.pop();
                }
            }
            Atom::List(kind, element) => {
                let Value::Array(items) = value else { return };
                let mut seen: Vec<PathElement> = Vec::new();
                let mut duplicates: Vec<PathElement> = Vec::new();
                let elements: Vec<Option<PathElement>> = items
                    .iter()
                    .map(|item| item_element(self.schema, &kind, &element, item).ok())
                    .collect();
                for pe in elements.iter().flatten() {
                    if seen.contains(pe) {
                        if !duplicates.contains(pe) {
                            path.push(pe.clone());
                            set.insert(path);
                            path.pop();
                            duplicates.push(pe.clone());
                        }
                    } else {
                        seen.push(pe.clone());
                    }
                }
                for (item, pe) in items.iter().zip(elements) {
                    let Some(pe) = pe else { continue };
                    if duplicates.contains(&pe) {
                        continue;
                    }
                    path.push(pe);
                    self.collect(&element, item, path, set);
                    set.insert(path);
                    path.pop();
                }
            }
        }
    }

    /// Merges `rhs` (an applied configuration) into `lhs` (the live object).
    pub(crate) fn merge(&self, lhs: &Value, rhs: &Value) -> Result<Value, String> {
        Ok(self
            .merge_at(&self.schema.root(), Some(lhs), Some(rhs), true)?
            .unwrap_or(Value::Null))
    }

    fn merge_at(
        &self,
        node: &Node<'a>,
        lhs: Option<&Value>,
        rhs: Option<&Value>,
        root: bool,
    ) -> Result<Option<Value>, String> {
        let Some(rhs) = rhs else {
            return Ok(lhs.cloned());
        };
        // An explicit null applied over a map or list merges nothing into it (it only claims
        // the field), as in structured-merge-diff.
        if rhs.is_null()
            && !is_empty_container(lhs)
            && lhs.is_some_and(|l| l.is_object() || l.is_array())
        {
            return Ok(lhs.cloned());
        }
        let lhs = match lhs {
            Some(lhs) if same_shape(lhs, rhs) => Some(lhs),
            _ => None,
        };
        match self.schema.atom(node, rhs) {
            Atom::Scalar | Atom::Map(true) | Atom::List(ListKind::Atomic, _) => {
                Ok(Some(rhs.clone()))
            }
            _ if is_empty_container(lhs) && is_empty_container(Some(rhs)) => Ok(Some(rhs.clone())),
            Atom::Map(false) => {
                let empty = Map::new();
                let left = lhs.and_then(Value::as_object).unwrap_or(&empty);
                let right = rhs.as_object().unwrap_or(&empty);
                let mut out = Map::new();
                for (key, value) in left {
                    let (child, _) = self.schema.field(node, key, root);
                    if let Some(merged) =
                        self.merge_at(&child, Some(value), right.get(key), false)?
                    {
                        out.insert(key.clone(), merged);
                    }
                }
                for (key, value) in right {
                    if left.contains_key(key) {
                        continue;
                    }
                    let (child, _) = self.schema.field(node, key, root);
                    if let Some(merged) = self.merge_at(&child, None, Some(value), false)? {
                        out.insert(key.clone(), merged);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            Atom::List(kind, element) => {
                let empty = Vec::new();
                let left = lhs.and_then(Value::as_array).unwrap_or(&empty);
                let right = rhs.as_array().unwrap_or(&empty);
                self.merge_list(&kind, &element, left, right).map(Some)
            }
        }
    }

    /// structured-merge-diff's list merge: the live order, with applied items placed where the
    /// applied configuration orders them relative to the items both share.
    fn merge_list(
        &self,
        kind: &ListKind,
        element: &Node<'a>,
        lhs: &[Value],
        rhs: &[Value],
    ) -> Result<Value, String> {
        let right = Indexed::build(self.schema, kind, element, rhs, false)?;
        let left = Indexed::build(self.schema, kind, element, lhs, true)?;
        let mut shared: std::collections::VecDeque<&PathElement> = right
            .order
            .iter()
            .filter(|pe| left.get(pe).is_some())
            .collect();
        let mut next_shared = shared.pop_front();
        let mut merged_rhs: Vec<PathElement> = Vec::new();
        let mut out = Vec::new();
        let (left_len, right_len) = (left.order.len(), right.order.len());
        let (mut l, mut r) = (0, 0);
        while l < left_len || r < right_len {
            if l < left_len && r < right_len {
                let pe = &left.order[l];
                if pe.compare(&right.order[r]).is_eq() {
                    merged_rhs.push(pe.clone());
                    let l_child = left.get(pe).flatten();
                    let r_child = right.get(pe).flatten();
                    if let Some(item) = self.merge_at(element, l_child, r_child, false)? {
                        out.push(item);
                    }
                    l += 1;
                    r += 1;
                    next_shared = shared.pop_front();
                    continue;
                }
                if right.get(pe).is_some()
                    && next_shared.is_some_and(|next| !next.compare(pe).is_eq())
                {
                    l += 1;
                    continue;
                }
            }
            if l < left_len {
                let pe = &left.order[l];
                if right.get(pe).is_none() {
                    out.push(lhs[l].clone());
                    l += 1;
                    continue;
                } else if merged_rhs.iter().any(|done| done.compare(pe).is_eq()) {
                    l += 1;
                }
            }
            if r < right_len {
                let pe = &right.order[r];
                merged_rhs.push(pe.clone());
                let l_child = left.get(pe).flatten();
                let r_child = right.get(pe).flatten();
                if let Some(item) = self.merge_at(element, l_child, r_child, false)? {
                    out.push(item);
                }
                r += 1;
                if next_shared.is_some_and(|next| next.compare(pe).is_eq()) {
                    next_shared = shared.pop_front();
                }
            }
        }
        Ok(Value::Array(out))
    }

    /// Compares two objects (either may be absent).
    pub(crate) fn compare(&self, lhs: Option<&Value>, rhs: Option<&Value>) -> Comparison {
        let mut comparison = Comparison::default();
        let mut path = Vec::new();
        self.compare_at(&self.schema.root(), lhs, rhs, &mut path, &mut comparison);
        comparison
    }

    fn leaf(lhs: Option<&Value>, rhs: Option<&Value>, path: &Path, comparison: &mut Comparison) {
        match (lhs, rhs) {
            (None, Some(_)) => comparison.added.insert(path),
            (Some(_), None) => comparison.removed.insert(path),
            (Some(a), Some(b)) if !values_equal(a, b) => comparison.modified.insert(path),
            _ => {}
        }
    }

    fn compare_at(
        &self,
        node: &Node<'a>,
        lhs: Option<&Value>,
        rhs: Option<&Value>,
        path: &mut Path,
        comparison: &mut Comparison,
    ) {
        // A null on one side of a non-empty map or list is an empty one: its children are
        // added or removed, the container itself is not (structured-merge-diff's nil maps).
        let (empty_map, empty_list) = (Value::Object(Map::new()), Value::Array(Vec::new()));
        let container = |value: &Value| -> Option<&Value> {
            match value {
                Value::Object(map) if !map.is_empty() => Some(&empty_map),
                Value::Array(items) if !items.is_empty() => Some(&empty_list),
                _ => None,
            }
        };
        let (lhs, rhs) = match (lhs, rhs) {
            (Some(Value::Null), Some(right)) if container(right).is_some() => {
                (container(right), Some(right))
            }
            (Some(left), Some(Value::Null)) if container(left).is_some() => {
                (Some(left), container(left))
            }
            other => other,
        };
        let Some(shape) = rhs.or(lhs) else { return };
        if let (Some(a), Some(b)) = (lhs, rhs)
            && !same_shape(a, b)
        {
            // A value that changes shape: whatever was below the old one is removed and
            // whatever is below the new one added; the field itself is modified.
            if a.is_object() || a.is_array() {
                self.compare_at(node, Some(a), None, path, comparison);
            }
            if b.is_object() || b.is_array() {
                self.compare_at(node, None, Some(b), path, comparison);
            }
            comparison.modified.insert(path);
            return;
        }
        let atom = self.schema.atom(node, shape);
        let leaf = matches!(
            atom,
            Atom::Scalar | Atom::Map(true) | Atom::List(ListKind::Atomic, _)
        ) || (is_empty_container(lhs) && is_empty_container(rhs));
        if leaf {
            Self::leaf(lhs, rhs, path, comparison);
            return;
        }
        match atom {
            Atom::Map(_) => {
                let empty = Map::new();
                let left = lhs.and_then(Value::as_object).unwrap_or(&empty);
                let right = rhs.and_then(Value::as_object).unwrap_or(&empty);
                let root = path.is_empty();
                for (key, value) in left {
                    let (child, _) = self.schema.field(node, key, root);
                    path.push(PathElement::Field(key.clone()));
                    self.compare_at(&child, Some(value), right.get(key), path, comparison);
                    path.pop();
                }
                for (key, value) in right {
                    if left.contains_key(key) {
                        continue;
                    }
                    let (child, _) = self.schema.field(node, key, root);
                    path.push(PathElement::Field(key.clone()));
                    self.compare_at(&child, None, Some(value), path, comparison);
                    path.pop();
                }
            }
            Atom::List(kind, element) => {
                let empty = Vec::new();
                let left = lhs.and_then(Value::as_array).unwrap_or(&empty);
                let right = rhs.and_then(Value::as_array).unwrap_or(&empty);
                let index = |items: &[Value]| -> Vec<(PathElement, Option<Value>)> {
                    let mut grouped: Vec<(PathElement, Vec<&Value>)> = Vec::new();
                    for item in items {
                        let Ok(pe) = item_element(self.schema, &kind, &element, item) else {
                            continue;
                        };
                        match grouped
                            .iter_mut()
                            .find(|(seen, _)| seen.compare(&pe).is_eq())
                        {
                            Some(entry) => entry.1.push(item),
                            None => grouped.push((pe, vec![item])),
                        }
                    }
                    // Duplicated items compare as one opaque value holding all of them.
                    grouped
                        .into_iter()
                        .map(|(pe, group)| match group.as_slice() {
                            [single] => (pe, Some((*single).clone())),
                            many => {
                                let all = Value::Array(many.iter().map(|v| (*v).clone()).collect());
                                (pe, Some(Value::String(format!("\u{0}duplicates{all}"))))
                            }
                        })
                        .collect()
                };
                let (left, right) = (index(left), index(right));
                for (pe, value) in &left {
                    let other = right.iter().find(|(seen, _)| seen.compare(pe).is_eq());
                    path.push(pe.clone());
                    self.compare_at(
                        &element,
                        value.as_ref(),
                        other.and_then(|(_, v)| v.as_ref()),
                        path,
                        comparison,
                    );
                    path.pop();
                }
                for (pe, value) in &right {
                    if left.iter().any(|(seen, _)| seen.compare(pe).is_eq()) {
                        continue;
                    }
                    path.push(pe.clone());
                    self.compare_at(&element, None, value.as_ref(), path, comparison);
                    path.pop();
                }
            }
            Atom::Scalar => {}
        }
        match (lhs, rhs) {
            (None, Some(_)) => comparison.added.insert(path),
            (Some(_), None) => comparison.removed.insert(path),
            _ => {}
        }
    }

    /// `value` without the fields in `set`. A container emptied by the removal becomes
    /// `null` when `keep_nulls` (structured-merge-diff's behaviour) and disappears otherwise.
    pub(crate) fn remove(&self, value: &Value, set: &FieldSet, keep_nulls: bool) -> Value {
        self.remove_at(&self.schema.root(), value, set, keep_nulls, true)
            .unwrap_or(Value::Null)
    }

    fn remove_at(
        &self,
        node: &Node<'a>,
        value: &Value,
        set: &FieldSet,
        keep_nulls: bool,
        root: bool,
    ) -> Option<Value> {
        match self.schema.atom(node, value) {
            Atom::Scalar => Some(value.clone()),
            Atom::Map(atomic) => {
                let map = value.as_object()?;
                if map.is_empty() || atomic {
                    return None;
                }
                let mut out = Map::new();
                for (key, child) in map {
                    let pe = PathElement::Field(key.clone());
                    if set.has_member(&pe) {
                        continue;
                    }
                    match set.with_prefix(&pe).filter(|subset| !subset.is_empty()) {
                        Some(subset) => {
                            let (child_node, _) = self.schema.field(node, key, root);
                            match self.remove_at(&child_node, child, subset, keep_nulls, false) {
                                Some(kept) => {
                                    out.insert(key.clone(), kept);
                                }
                                None if keep_nulls => {
                                    out.insert(key.clone(), Value::Null);
                                }
                                None => {}
                            }
                        }
                        None => {
                            out.insert(key.clone(), child.clone());
                        }
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Atom::List(kind, element) => {
                let items = value.as_array()?;
                if items.is_empty() || kind == ListKind::Atomic {
                    return None;
                }
                let mut out = Vec::new();
                for item in items {
                    let Ok(pe) = item_element(self.schema, &kind, &element, item) else {
                        out.push(item.clone());
                        continue;
                    };
                    if set.has_member(&pe) {
                        continue;
                    }
                    match set.with_prefix(&pe).filter(|subset| !subset.is_empty()) {
                        Some(subset) => {
                            if let Some(kept) =
                                self.remove_at(&element, item, subset, keep_nulls, false)
                            {
                                out.push(kept);
                            }
                        }
                        None => out.push(item.clone()),
                    }
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
        }
    }

    /// Only the fields in `set` of `value` (structured-merge-diff's `ExtractItems`).
    #[cfg(test)]
    pub(crate) fn extract(&self, value: &Value, set: &FieldSet) -> Value {
        self.extract_at(&self.schema.root(), value, set, true)
            .unwrap_or(Value::Null)
    }

    #[cfg(test)]
    fn extract_at(
        &self,
        node: &Node<'a>,
        value: &Value,
        set: &FieldSet,
        root: bool,
    ) -> Option<Value> {
        match self.schema.atom(node, value) {
            Atom::Scalar => Some(value.clone()),
            Atom::Map(atomic) => {
                let map = value.as_object()?;
                if map.is_empty() || atomic {
                    return Some(value.clone());
                }
                let mut out = Map::new();
                for (key, child) in map {
                    let pe = PathElement::Field(key.clone());
                    let (child_node, _) = self.schema.field(node, key, root);
                    if set.has_member(&pe) {
                        let kept = self
                            .extract_at(&child_node, child, set, false)
                            .unwrap_or(Value::Null);
                        out.insert(key.clone(), kept);
                        continue;
                    }
                    if let Some(subset) = set.with_prefix(&pe).filter(|s| !s.is_empty()) {
                        let kept = self
                            .extract_at(&child_node, child, subset, false)
                            .unwrap_or(Value::Null);
                        out.insert(key.clone(), kept);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Atom::List(kind, element) => {
                let items = value.as_array()?;
                if items.is_empty() || kind == ListKind::Atomic {
                    return Some(value.clone());
                }
                let mut out = Vec::new();
                for item in items {
                    let Ok(pe) = item_element(self.schema, &kind, &element, item) else {
                        continue;
                    };
                    let exact = set.has_member(&pe);
                    let subset = set.with_prefix(&pe).filter(|s| !s.is_empty());
                    let mut kept = item.clone();
                    if let Some(subset) = subset {
                        kept = self
                            .extract_at(&element, item, subset, false)
                            .unwrap_or(Value::Null);
                    }
                    if exact || subset.is_some() {
                        out.push(kept);
                    }
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
        }
    }

    /// A manager's set brought in line with the schema: ownership of fields inside what is now
    /// an atomic map or list becomes ownership of that map or list (structured-merge-diff's
    /// reconciliation after schema changes).
    pub(crate) fn reconcile(&self, live: &Value, set: &FieldSet) -> Option<FieldSet> {
        let mut changed = false;
        let mut out = FieldSet::default();
        for path in set.paths() {
            match self.atomic_prefix(live, &path) {
                Some(length) if length < path.len() => {
                    out.insert(&path[..length]);
                    changed = true;
                }
                _ => out.insert(&path),
            }
        }
        changed.then_some(out)
    }

    fn atomic_prefix(&self, live: &Value, path: &[PathElement]) -> Option<usize> {
        let mut node = self.schema.root();
        let mut value = live;
        for (depth, element) in path.iter().enumerate() {
            let atom = self.schema.atom(&node, value);
            if matches!(atom, Atom::Map(true) | Atom::List(ListKind::Atomic, _)) {
                return Some(depth);
            }
            match (element, atom) {
                (PathElement::Field(name), Atom::Map(false)) => {
                    node = self.schema.field(&node, name, depth == 0).0;
                    value = value.get(name)?;
                }
                (element, Atom::List(kind, item_node)) => {
                    let items = value.as_array()?;
                    value = items.iter().find(|item| {
                        item_element(self.schema, &kind, &item_node, item)
                            .is_ok_and(|pe| pe.compare(element).is_eq())
                    })?;
                    node = item_node;
                }
                _ => return None,
            }
        }
        None
    }

    /// `set` plus, as members, every declared struct field on the way to its paths
    /// (structured-merge-diff's `EnsureNamedFieldsAreMembers`).
    pub(crate) fn with_named_fields(&self, set: &FieldSet) -> FieldSet {
        let mut out = FieldSet::default();
        for path in set.paths() {
            out.insert(&path);
            let mut node = self.schema.root();
            for (depth, element) in path.iter().enumerate() {
                node = match element {
                    PathElement::Field(name) => {
                        let (child, declared) = self.schema.field(&node, name, depth == 0);
                        if declared && depth + 1 < path.len() {
                            out.insert(&path[..=depth]);
                        }
                        child
                    }
                    _ => match self.schema.atom(&node, &Value::Array(Vec::new())) {
                        Atom::List(_, element) => element,
                        _ => Node::Deduced,
                    },
                };
            }
        }
        out
    }
}
