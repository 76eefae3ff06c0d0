//! Runs the structured-merge-diff golden corpus (`/work/shared/corpus/ssa`, or
//! `$EDDY_SSA_CORPUS`) through the engine and prints `N passed, M failed`.

use std::collections::BTreeSet;
use std::path::{Path as FsPath, PathBuf};

use serde_json::{Value, json};

use super::fieldpath::{FieldSet, PathElement, readable_path, values_equal};
use super::schema::Schema;
use super::{ApplyError, Managers, Owned, Updater};

fn corpus_dir() -> PathBuf {
    std::env::var_os("EDDY_SSA_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/corpus/ssa"))
}

fn yaml(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_saphyr::from_str(text).map_err(|error| format!("yaml: {error}"))
}

fn read_yaml(path: &FsPath) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("{path:?}: {error}"))?;
    yaml(&text)
}

/// Parses the simple readable paths ignoredFields use (`.a.b`).
fn parse_fields(path: &str) -> Vec<PathElement> {
    path.split('.')
        .filter(|part| !part.is_empty())
        .map(|part| PathElement::Field(part.to_string()))
        .collect()
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Equality as the harness compares objects: plain data, numbers numerically, list order kept.
fn same_data(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, value)| y.get(key).is_some_and(|other| same_data(value, other)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_data(p, q))
        }
        _ => values_equal(a, b),
    }
}

fn managed_view(
    managers: &Managers,
    operations: &std::collections::HashMap<String, &str>,
) -> Value {
    let mut out = serde_json::Map::new();
    for (manager, owned) in managers {
        let fields: BTreeSet<String> = owned.set.paths().iter().map(|p| readable_path(p)).collect();
        out.insert(
            manager.clone(),
            json!({
                "operation": operations.get(manager).copied().unwrap_or(""),
                "apiVersion": owned.api_version,
                "fields": fields,
            }),
        );
    }
    Value::Object(out)
}

fn expected_managed(expected: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (manager, entry) in expected.as_object().into_iter().flatten() {
        let fields: BTreeSet<String> = entry
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|path| {
                // Normalise numbers written as floats (`1.0`) the way the engine prints them.
                path.replace(".0]", "]").replace(".0,", ",")
            })
            .collect();
        if fields.is_empty() {
            continue;
        }
        out.insert(
            manager.clone(),
            json!({
                "operation": text(entry, "operation"),
                "apiVersion": text(entry, "apiVersion"),
                "fields": fields,
            }),
        );
    }
    Value::Object(out)
}

fn run_case(root: &FsPath, case: &Value) -> Result<(), String> {
    let mut schema_document = read_yaml(&root.join(text(&case["schema"], "file")))?;
    let type_name = text(case, "typeName").to_string();
    let mut ignored = FieldSet::default();
    if let Some(versions) = case.get("ignoredFields").and_then(Value::as_object) {
        for paths in versions.values() {
            for path in paths
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                ignored.insert(&parse_fields(path));
            }
        }
    }
    let mut live: Option<Value> = None;
    let mut managers = Managers::new();
    let mut operations = std::collections::HashMap::new();
    let mut failed_op = false;
    for (index, op) in case["ops"].as_array().into_iter().flatten().enumerate() {
        let kind = text(op, "kind");
        if kind == "changeSchema" {
            schema_document = read_yaml(&root.join(text(&op["schema"], "file")))?;
            continue;
        }
        let schema = Schema::Smd(&schema_document, &type_name);
        let updater = Updater::new(&schema, ignored.clone(), true);
        let manager = text(op, "manager");
        let version = text(op, "apiVersion");
        let object = yaml(text(op, "object"))?;
        match kind {
            "update" => {
                let _changed =
                    updater.update(live.as_ref(), &object, version, &mut managers, manager);
                live = Some(object);
                operations.insert(manager.to_string(), "Update");
            }
            "apply" | "forceApply" | "extractApply" => {
                let mut config = if object.is_null() { json!({}) } else { object };
                let mut force = kind == "forceApply";
                if kind == "extractApply" {
                    force = true;
                    if let (Some(current), Some(owned)) = (&live, managers.get(manager)) {
                        let extracted = extract(&updater, current, owned);
                        config = updater
                            .typed()
                            .merge(&extracted, &config)
                            .map_err(|error| format!("op {index}: extract merge: {error}"))?;
                    }
                }
                let expected: BTreeSet<(String, String)> = op
                    .get("expectedConflicts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|c| (text(c, "manager").to_string(), text(c, "path").to_string()))
                    .collect();
                let result = updater.apply(
                    live.as_ref(),
                    &config,
                    version,
                    &mut managers,
                    manager,
                    force,
                );
                match result {
                    Ok(new) => {
                        if !expected.is_empty() {
                            return Err(format!("op {index}: expected conflicts {expected:?}"));
                        }
                        live = Some(new);
                        operations.insert(manager.to_string(), "Apply");
                    }
                    Err(ApplyError::Conflicts(conflicts)) => {
                        let got: BTreeSet<(String, String)> = conflicts
                            .iter()
                            .map(|c| (c.manager.clone(), readable_path(&c.path)))
                            .collect();
                        if got != expected {
                            return Err(format!(
                                "op {index}: conflicts {got:?}, expected {expected:?}"
                            ));
                        }
                    }
                    Err(ApplyError::Invalid(error)) => {
                        if case.get("expectedError").and_then(Value::as_bool) == Some(true) {
                            failed_op = true;
                            break;
                        }
                        return Err(format!("op {index}: {error}"));
                    }
                }
            }
            other => return Err(format!("unknown op {other}")),
        }
    }
    if case.get("expectedError").and_then(Value::as_bool) == Some(true) {
        return if failed_op {
            Ok(())
        } else {
            Err("expected an error".into())
        };
    }
    if let Some(expected) = case.get("expectedObject").and_then(Value::as_str) {
        let expected = yaml(expected)?;
        let actual = live.clone().unwrap_or(Value::Null);
        let matches = same_data(&actual, &expected)
            || (expected.is_null() && actual.as_object().is_some_and(|m| m.is_empty()));
        if !matches {
            return Err(format!("object {actual} != expected {expected}"));
        }
    }
    if let Some(expected) = case.get("expectedManaged") {
        let expected = expected_managed(expected);
        let actual = managed_view(&managers, &operations);
        if actual != expected {
            return Err(format!("managed {actual} != expected {expected}"));
        }
    }
    Ok(())
}

/// The live object reduced to what `owned` holds (client-side extract).
fn extract(updater: &Updater<'_, '_>, live: &Value, owned: &Owned) -> Value {
    match updater.typed().extract(live, &owned.set.leaves()) {
        Value::Null => json!({}),
        extracted => extracted,
    }
}

#[test]
fn the_structured_merge_diff_corpus_passes() {
    let root = corpus_dir();
    let manifest = match std::fs::read_to_string(root.join("manifest.json")) {
        Ok(text) => text,
        Err(_) => {
            eprintln!("no SSA corpus at {root:?}; skipping");
            return;
        }
    };
    let manifest: Value = serde_json::from_str(&manifest).expect("manifest parses");
    let (mut passed, mut failed) = (0, Vec::new());
    for entry in manifest.as_array().into_iter().flatten() {
        let file = text(entry, "file");
        let outcome = read_yaml(&root.join(file)).and_then(|case| run_case(&root, &case));
        match outcome {
            Ok(()) => passed += 1,
            Err(error) => failed.push(format!("{file}: {error}")),
        }
    }
    for failure in &failed {
        eprintln!("FAILED {failure}");
    }
    println!("{passed} passed, {} failed", failed.len());
    eprintln!("{passed} passed, {} failed", failed.len());
    assert!(
        failed.is_empty(),
        "{} SSA corpus cases failed",
        failed.len()
    );
    assert!(passed > 0, "the SSA corpus is empty");
}
