//! Applying strategic merge patches with API-server semantics, against the apply halves of
//! Kubernetes' own SMP tests (`/work/shared/corpus/smp`): a two-way patch applied to
//! `original` gives `twoWayResult` (or `modified`), a three-way patch applied to `current`
//! gives `result`. Patch *creation* is not implemented, so those checks are not run.
//! Prints `smp apply: N passed, M failed` and fails below the ratchet.

use std::path::{Path, PathBuf};

use eddy_kustomize::smp::{CustomSchema, Dialect, merge_with_definition};
use eddy_kustomize::value::Value;
use eddy_kustomize::yaml::parse_documents;

/// Apply checks that must pass. Raise this whenever more pass.
const RATCHET: usize = 285;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("EDDY_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

fn load(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_documents(&text).ok()?.into_iter().next()
}

/// The definition a property refers to (`$ref`, or its `items`' `$ref`).
fn referenced<'schema>(definitions: &'schema Value, property: &Value) -> Option<&'schema Value> {
    let reference = property
        .get("$ref")
        .or_else(|| property.get("items").and_then(|items| items.get("$ref")))
        .and_then(Value::as_str)?;
    definitions.get(reference.rsplit('/').next()?)
}

/// The corpus' list normalisation for `listOrder: normalized` cases: merge lists sorted by
/// the text of their merge key (scalars by their text, deduplicated).
fn normalize(value: &Value, definition: Option<&Value>, definitions: &Value) -> Value {
    let Value::Map(map) = value else {
        return value.clone();
    };
    let mut out = map.clone();
    for (key, child) in out.iter_mut() {
        let property = definition.and_then(|definition| definition.get_path(&["properties", key]));
        let child_definition = property.and_then(|property| referenced(definitions, property));
        let merge = property
            .and_then(|property| property.get("x-kubernetes-patch-strategy"))
            .and_then(Value::as_str)
            .is_some_and(|strategy| strategy.contains("merge"));
        if key.starts_with("$retainKeys") || key.starts_with("$deleteFromPrimitiveList") {
            if let Value::Seq(items) = child {
                items.sort_by_key(|item| item.scalar_text().unwrap_or_default());
            }
            continue;
        }
        match child {
            Value::Seq(items) => {
                let mut normalized: Vec<Value> = items
                    .iter()
                    .map(|item| normalize(item, child_definition, definitions))
                    .collect();
                if merge {
                    let merge_key = property
                        .and_then(|property| property.get("x-kubernetes-patch-merge-key"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    normalized.sort_by_key(|item| match item {
                        Value::Map(_) => item
                            .get(merge_key)
                            .and_then(Value::scalar_text)
                            .unwrap_or_default(),
                        other => other.scalar_text().unwrap_or_default(),
                    });
                    normalized
                        .dedup_by(|left, right| !matches!(left, Value::Map(_)) && left == right);
                }
                *child = Value::Seq(normalized);
            }
            Value::Map(_) => *child = normalize(child, child_definition, definitions),
            _ => {}
        }
    }
    Value::Map(out)
}

#[test]
fn api_server_dialect_applies_kubernetes_smp_cases() {
    let root = corpus_dir().join("smp");
    let Ok(entries) = std::fs::read_dir(root.join("cases")) else {
        println!("smp corpus not found at {}, skipping", root.display());
        return;
    };
    let Some(swagger) = load(&root.join("testdata/swagger-merge-item.json")) else {
        panic!("cannot read swagger-merge-item.json");
    };
    let definitions = swagger.get("definitions").cloned().unwrap_or(Value::Null);
    let schema = CustomSchema::from_document(&swagger);
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    files.sort();
    let verbose = std::env::var_os("SMP_VERBOSE").is_some();
    let (mut passed, mut failed) = (0, Vec::new());
    for file in files {
        let Some(case) = load(&file) else { continue };
        if case.get("schema").and_then(Value::as_str) != Some("mergeItem")
            || case.get("kind").and_then(Value::as_str) != Some("smp")
            || case.get("expectedError") == Some(&Value::Bool(true))
        {
            continue;
        }
        let checks: Vec<String> = case
            .get("checks")
            .and_then(Value::as_seq)
            .map(|items| items.iter().filter_map(Value::scalar_text).collect())
            .unwrap_or_default();
        let normalized = case.get("listOrder").and_then(Value::as_str) == Some("normalized");
        let root_definition = definitions.get("mergeItem");
        let prepare = |value: Option<&Value>| {
            let value = value
                .filter(|value| !value.is_null())
                .cloned()
                .unwrap_or(Value::Map(Default::default()));
            if normalized {
                normalize(&value, root_definition, &definitions)
            } else {
                value
            }
        };
        let mut runs = Vec::new();
        if checks.iter().any(|check| check == "twoWayApply") {
            let expected = case.get("twoWayResult").or_else(|| case.get("modified"));
            runs.push((
                "twoWay",
                prepare(case.get("original")),
                case.get("twoWay"),
                prepare(expected),
            ));
        }
        if checks.iter().any(|check| check == "threeWayApply") && case.get("threeWay").is_some() {
            runs.push((
                "threeWay",
                prepare(case.get("current")),
                case.get("threeWay"),
                prepare(case.get("result")),
            ));
        }
        for (label, target, patch, expected) in runs {
            let patch = prepare(patch);
            let actual =
                merge_with_definition(&target, &patch, &schema, "mergeItem", Dialect::ApiServer)
                    .ok()
                    .flatten()
                    .map(|value| {
                        if normalized {
                            normalize(&value, root_definition, &definitions)
                        } else {
                            value
                        }
                    });
            let name = file
                .file_name()
                .map(|name| name.to_string_lossy().to_string())
                .unwrap_or_default();
            if actual.as_ref() == Some(&expected) {
                passed += 1;
            } else {
                if verbose {
                    println!("  {name} {label}: expected {expected:?}\n    got {actual:?}");
                }
                failed.push(format!("{name} ({label})"));
            }
        }
    }
    println!("smp apply: {passed} passed, {} failed", failed.len());
    for name in &failed {
        println!("  FAIL {name}");
    }
    assert!(
        passed >= RATCHET,
        "smp apply regressed: {passed} passed, ratchet is {RATCHET}"
    );
}
