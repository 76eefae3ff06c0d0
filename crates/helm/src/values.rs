//! Helm's value coalescing: user values over chart defaults over subchart defaults,
//! `null` deleting a default, globals flowing down into every subchart, and the
//! dependency switches (`condition`, `tags`) that remove disabled subcharts.

use eddy_gotemplate::{Map, SharedMap, Value};

use crate::chart::Chart;

/// Removes nil entries recursively (chart defaults of subcharts never leak nils).
fn clean_nils(map: &SharedMap) {
    for key in map.keys() {
        match map.get(&key) {
            Some(Value::Nil) => {
                map.remove(&key);
            }
            Some(Value::Map(inner)) => clean_nils(&inner),
            _ => {}
        }
    }
}

/// Merges `source` (lower priority) into `destination`; with `merge` false, a nil in
/// `destination` deletes a non-nil default. Values taken from `source` are copied.
pub fn coalesce_tables(destination: &SharedMap, source: &SharedMap, merge: bool) {
    let mut source = source.snapshot();
    let original_non_nil: std::collections::HashSet<String> = source
        .iter()
        .filter(|(_, value)| !value.is_nil())
        .map(|(key, _)| key.clone())
        .collect();
    for (key, value) in destination.snapshot() {
        if value.is_nil() {
            source.insert(key, Value::Nil);
        }
    }
    for (key, value) in source {
        match destination.get(&key) {
            Some(existing) if !merge && existing.is_nil() && original_non_nil.contains(&key) => {
                destination.remove(&key);
            }
            None => {
                destination.insert(key, value.deep_copy());
            }
            Some(existing) => {
                if let (Value::Map(source_map), Value::Map(destination_map)) = (&value, existing) {
                    coalesce_tables(&destination_map, source_map, merge);
                }
            }
        }
    }
}

/// Coalesces `chart`'s defaults (and its subcharts') under `values` (Helm's
/// `CoalesceValues`); `values` must not share maps with anything the caller keeps.
pub fn coalesce(
    chart: &Chart,
    values: &SharedMap,
    prefix: &str,
    merge: bool,
) -> Result<(), String> {
    coalesce_values(chart, values, merge);
    coalesce_dependencies(chart, values, prefix, merge)
}

fn coalesce_values(chart: &Chart, values: &SharedMap, merge: bool) {
    for (key, default) in &chart.values {
        match values.get(key) {
            Some(existing) => {
                if existing.is_nil() && !merge {
                    values.remove(key);
                } else if let Value::Map(destination) = existing
                    && let Value::Map(source) = default
                {
                    let child_merge =
                        merge || chart.dependencies.iter().any(|sub| &sub.name == key);
                    let source = source.deep_copy();
                    if !child_merge {
                        clean_nils(&source);
                    }
                    coalesce_tables(&destination, &source, child_merge);
                }
            }
            None => {
                let copy = default.deep_copy();
                if !merge {
                    if copy.is_nil() {
                        continue;
                    }
                    if let Value::Map(inner) = &copy {
                        clean_nils(inner);
                    }
                }
                values.insert(key.clone(), copy);
            }
        }
    }
}

fn coalesce_dependencies(
    chart: &Chart,
    values: &SharedMap,
    prefix: &str,
    merge: bool,
) -> Result<(), String> {
    for sub in &chart.dependencies {
        let sub_values = match values.get(&sub.name) {
            None => SharedMap::default(),
            Some(Value::Map(map)) => map,
            Some(other) => {
                return Err(format!(
                    "type mismatch on {}: %!t({}={})",
                    sub.name,
                    other.type_name(),
                    other.to_go_string()
                ));
            }
        };
        values.insert(sub.name.clone(), Value::Map(sub_values.clone()));
        let sub_prefix = if prefix.is_empty() {
            chart.name.clone()
        } else {
            format!("{prefix}.{}", chart.name)
        };
        coalesce_globals(&sub_values, values);
        coalesce(sub, &sub_values, &sub_prefix, merge)?;
    }
    Ok(())
}

fn coalesce_globals(destination: &SharedMap, source: &SharedMap) {
    let destination_globals = match destination.get("global") {
        None => SharedMap::default(),
        Some(Value::Map(map)) => map,
        Some(_) => return,
    };
    let source_globals = match source.get("global") {
        None => Map::new(),
        Some(Value::Map(map)) => map.snapshot(),
        Some(_) => return,
    };
    for (key, value) in source_globals {
        if let Value::Map(table) = &value {
            let copy = SharedMap::new(table.snapshot());
            match destination_globals.get(&key) {
                None => {
                    destination_globals.insert(key, Value::Map(copy));
                }
                Some(Value::Map(existing)) => {
                    coalesce_tables(&copy, &existing, true);
                    destination_globals.insert(key, Value::Map(copy));
                }
                Some(_) => {}
            }
        } else if matches!(destination_globals.get(&key), Some(Value::Map(_))) {
            // A table in the subchart is not replaced by a scalar global.
        } else {
            destination_globals.insert(key, value);
        }
    }
    destination.insert("global", Value::Map(destination_globals));
}

/// Looks up a dotted path (`a.b.c`) in `values`.
pub fn path_value(values: &SharedMap, path: &str) -> Option<Value> {
    let mut current = values.clone();
    let parts: Vec<&str> = path.split('.').collect();
    for (index, part) in parts.iter().enumerate() {
        let value = current.get(part)?;
        if index + 1 == parts.len() {
            return Some(value);
        }
        let Value::Map(next) = value else {
            return None;
        };
        current = next;
    }
    None
}

/// Helm's `processDependencyEnabled`: drops subcharts switched off by `condition` or
/// `tags`, applies aliases, recursively.
pub fn enable_dependencies(
    chart: &mut Chart,
    user_values: &SharedMap,
    path: &str,
) -> Result<(), String> {
    // Charts under charts/ that Chart.yaml does not mention stay; declared ones are
    // instantiated (under their alias, possibly several times).
    let mut kept: Vec<Chart> = Vec::new();
    for existing in &chart.dependencies {
        if !chart
            .declared
            .iter()
            .any(|declared| declared.name == existing.name)
        {
            kept.push(existing.clone());
        }
    }
    let mut declared = chart.declared.clone();
    for declaration in &mut declared {
        if let Some(found) = chart
            .dependencies
            .iter()
            .find(|sub| sub.name == declaration.name)
        {
            let mut copy = found.clone();
            if let Some(alias) = &declaration.alias {
                copy.name = alias.clone();
                copy.metadata
                    .insert("Name".to_string(), Value::from(alias.as_str()));
            }
            kept.push(copy);
        }
        if let Some(alias) = &declaration.alias {
            declaration.name = alias.clone();
        }
    }
    chart.dependencies = kept;
    let coalesced = user_values.deep_copy();
    coalesce(chart, &coalesced, "", false)?;
    let tags = match coalesced.get("tags") {
        Some(Value::Map(map)) => Some(map),
        _ => None,
    };
    let mut disabled = Vec::new();
    for declaration in &declared {
        let mut enabled = true;
        if let Some(tags) = &tags {
            let mut has_true = false;
            let mut has_false = false;
            for tag in &declaration.tags {
                if let Some(Value::Bool(value)) = tags.get(tag) {
                    if value {
                        has_true = true;
                    } else {
                        has_false = true;
                    }
                }
            }
            if !has_true && has_false {
                enabled = false;
            }
        }
        for condition in declaration.condition.trim().split(',') {
            let condition = condition.trim();
            if condition.is_empty() {
                continue;
            }
            if let Some(Value::Bool(value)) = path_value(&coalesced, &format!("{path}{condition}"))
            {
                enabled = value;
                break;
            }
        }
        if !enabled {
            disabled.push(declaration.name.clone());
        }
    }
    chart
        .dependencies
        .retain(|sub| !disabled.contains(&sub.name));
    chart.declared = declared
        .into_iter()
        .filter(|declaration| !disabled.contains(&declaration.name))
        .collect();
    for sub in &mut chart.dependencies {
        let sub_path = format!("{path}{}.", sub.name);
        enable_dependencies(sub, &coalesced, &sub_path)?;
    }
    Ok(())
}

/// Builds `{a: {b: data}}` for the path `a.b` (`.` means the root).
fn path_to_map(path: &str, data: SharedMap) -> SharedMap {
    if path == "." {
        return data;
    }
    let mut current = data;
    for part in path.split('.').rev().filter(|part| !part.is_empty()) {
        let outer = SharedMap::default();
        outer.insert(part, Value::Map(current));
        current = outer;
    }
    current
}

/// Helm's `processDependencyImportValues` (with merge): children first, then each chart
/// with dependencies gets its merged values, with imported tables under it.
pub fn import_values(chart: &mut Chart) -> Result<(), String> {
    for sub in &mut chart.dependencies {
        import_values(sub)?;
    }
    if chart.declared.is_empty() {
        return Ok(());
    }
    let merged = SharedMap::default();
    coalesce(chart, &merged, "", true)?;
    let imported = SharedMap::default();
    for declaration in &chart.declared {
        for entry in &declaration.import_values {
            let (child, parent) = match entry {
                Value::String(name) => (format!("exports.{name}"), ".".to_string()),
                Value::Map(map) => {
                    let text = |key: &str| {
                        map.get(key)
                            .map(|value| value.to_go_string())
                            .unwrap_or_default()
                    };
                    (text("child"), text("parent"))
                }
                _ => continue,
            };
            let Some(Value::Map(table)) =
                path_value(&merged, &format!("{}.{child}", declaration.name))
            else {
                continue;
            };
            coalesce_tables(&imported, &path_to_map(&parent, table.deep_copy()), true);
        }
    }
    let values = merged.deep_copy();
    coalesce_tables(&values, &imported, true);
    chart.values = values.snapshot();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> SharedMap {
        match crate::yaml::parse(text) {
            Ok(Value::Map(map)) => map,
            _ => SharedMap::default(),
        }
    }

    #[test]
    fn user_nulls_delete_defaults_and_maps_merge() {
        let destination = map("a: null\nb: {x: 1}\nc: user\n");
        coalesce_tables(
            &destination,
            &map("a: 1\nb: {z: 2}\nc: default\nd: new\n"),
            false,
        );
        assert_eq!(
            Value::Map(destination).to_go_string(),
            "map[b:map[x:1 z:2] c:user d:new]"
        );
    }

    #[test]
    fn merging_keeps_nulls() {
        let destination = map("a: null\n");
        coalesce_tables(&destination, &map("a: 1\n"), true);
        assert_eq!(Value::Map(destination).to_go_string(), "map[a:<nil>]");
    }

    #[test]
    fn dotted_paths_find_nested_values() {
        let values = map("a: {b: {c: true}}\n");
        assert_eq!(path_value(&values, "a.b.c"), Some(Value::Bool(true)));
        assert_eq!(path_value(&values, "a.x.c"), None);
    }
}
