//! Strategic merge patch creation and application with API-server semantics, against
//! Kubernetes' own SMP tests (`/work/shared/corpus/smp`, see its README): every check of every
//! case (two-way and three-way creation, with conflict detection; applying the created patches;
//! the list normalisation; malformed input), once with the OpenAPI v2 schema and once with the
//! OpenAPI v3 schema the corpus gives. Prints `smp: N passed, M failed` and fails below the
//! ratchet.

use std::path::{Path, PathBuf};

use eddy_kustomize::json::to_go_json;
use eddy_kustomize::smp::{
    CreatePatchError, CustomSchema, Dialect, create_three_way_patch_with_definition,
    create_two_way_patch_with_definition, merge_with_definition, sort_merge_lists,
};
use eddy_kustomize::value::Value;
use eddy_kustomize::yaml::parse_documents;

/// Checks that must pass. Raise this whenever more pass.
const RATCHET: usize = 1160;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("EDDY_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

fn load(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    // The v2 merge-item schema has a trailing comma; YAML accepts it where JSON does not.
    parse_documents(&text).ok()?.into_iter().next()
}

/// One way of describing the test schemas.
struct Flavour {
    name: &'static str,
    merge_item: CustomSchema,
    precision_item: CustomSchema,
}

impl Flavour {
    fn schema(&self, root: &str) -> &CustomSchema {
        if root == "precisionItem" {
            &self.precision_item
        } else {
            &self.merge_item
        }
    }
}

/// One case, read from its file, with the helpers every check needs.
struct Case<'flavour> {
    value: Value,
    schema: &'flavour CustomSchema,
    root: String,
    normalized: bool,
}

impl Case<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.value.get(key)
    }

    /// The list normalisation where the case's table uses it, nothing otherwise; `None` when
    /// the value cannot be normalised.
    fn prepare(&self, value: &Value) -> Option<Value> {
        if self.normalized {
            sort_merge_lists(value, self.schema, &self.root).ok()
        } else {
            Some(value.clone())
        }
    }

    /// An input document: absent means `{}`.
    fn input(&self, key: &str) -> Value {
        let value = self
            .get(key)
            .filter(|value| !value.is_null())
            .cloned()
            .unwrap_or(Value::Map(Default::default()));
        self.prepare(&value).unwrap_or(value)
    }

    fn exact_json(&self, key: &str) -> Option<&str> {
        self.value
            .get_path(&["exactJSON", key])
            .and_then(Value::as_str)
    }

    /// Whether `actual` is the expected value under `key` (and its exact JSON, if given).
    fn matches(&self, key: &str, actual: &Value) -> bool {
        let Some(expected) = self.get(key) else {
            return false;
        };
        let (Some(expected), Some(actual)) = (self.prepare(expected), self.prepare(actual)) else {
            return false;
        };
        if actual != expected {
            return false;
        }
        self.exact_json(key)
            .is_none_or(|json| to_go_json(&actual) == json)
    }

    fn apply(&self, target: &Value, patch: &Value) -> Option<Value> {
        merge_with_definition(target, patch, self.schema, &self.root, Dialect::ApiServer)
            .ok()
            .flatten()
    }

    fn two_way(&self) -> Result<Value, CreatePatchError> {
        create_two_way_patch_with_definition(
            &self.input("original"),
            &self.input("modified"),
            self.schema,
            &self.root,
        )
        .map_err(CreatePatchError::from)
    }

    fn three_way(&self, overwrite: bool) -> Result<Value, CreatePatchError> {
        create_three_way_patch_with_definition(
            &self.input("original"),
            &self.input("modified"),
            &self.input("current"),
            self.schema,
            &self.root,
            overwrite,
        )
    }
}

/// The outcome of each check of one case: (check name, passed, detail for failures).
fn run_case(case: &Case<'_>, checks: &[String]) -> Vec<(String, bool, String)> {
    let mut out = Vec::new();
    let has = |name: &str| checks.iter().any(|check| check == name);
    let flag = |key: &str| case.get(key) == Some(&Value::Bool(true));
    let stage = case.get("errorStage").and_then(Value::as_str).unwrap_or("");
    let expected_error = flag("expectedError");
    let create_fails = expected_error && stage == "create";

    if case.get("kind").and_then(Value::as_str) == Some("sortMergeLists") {
        let sorted = sort_merge_lists(&case.input("original"), case.schema, &case.root);
        let passed = sorted.as_ref().ok() == case.get("sorted");
        out.push(("sort".into(), passed, format!("{sorted:?}")));
        return out;
    }

    if has("apply") {
        // Malformed input: the raw bytes are not a JSON object, so applying must fail.
        let raw = |key: &str| {
            let text = case.get(key).and_then(Value::as_str).unwrap_or("");
            parse_documents(text)
                .ok()
                .and_then(|documents| documents.into_iter().next())
                .unwrap_or(Value::Null)
        };
        let result = merge_with_definition(
            &raw("rawOriginal"),
            &raw("rawPatch"),
            case.schema,
            &case.root,
            Dialect::ApiServer,
        );
        out.push(("apply".into(), result.is_err(), format!("{result:?}")));
    }

    // Two-way.
    let mut two_way_patch = None;
    if has("twoWayCreate") {
        let created = case.two_way();
        let passed = match &created {
            Err(_) if create_fails => true,
            // Either outcome is accepted where the case lists an expected patch too.
            Ok(patch) => case.matches("twoWay", patch),
            Err(_) => false,
        };
        out.push(("twoWayCreate".into(), passed, format!("{created:?}")));
        two_way_patch = created.ok();
    } else if !create_fails {
        two_way_patch = case.get("twoWay").and_then(|patch| case.prepare(patch));
    }
    if has("twoWayApply") && two_way_patch.is_none() && !create_fails {
        out.push(("twoWayApply".into(), false, "no patch to apply".into()));
    }
    if has("twoWayApply")
        && let Some(patch) = &two_way_patch
    {
        let applied = case.apply(&case.input("original"), patch);
        let passed = if expected_error && stage == "apply" {
            applied.is_none()
        } else if case.get("twoWayResult").is_some() {
            applied
                .as_ref()
                .is_some_and(|value| case.matches("twoWayResult", value))
        } else {
            applied
                .as_ref()
                .is_some_and(|value| case.matches("modified", value))
        };
        out.push((
            "twoWayApply".into(),
            passed,
            format!("patch {patch:?}\n      applied {applied:?}"),
        ));
    }

    // Three-way.
    let mut three_way_patch = None;
    if has("threeWayCreate") {
        let conflict = flag("expectConflict");
        let plain = case.three_way(false);
        let (passed, detail) = match &plain {
            Err(_) if create_fails => (true, String::new()),
            Err(CreatePatchError::Conflict { .. }) if conflict => {
                let forced = case.three_way(true);
                let passed = forced
                    .as_ref()
                    .is_ok_and(|patch| case.matches("threeWay", patch));
                three_way_patch = forced.as_ref().ok().cloned();
                (passed, format!("forced {forced:?}"))
            }
            Ok(patch) if !conflict => {
                three_way_patch = Some(patch.clone());
                (case.matches("threeWay", patch), String::new())
            }
            _ => (false, String::new()),
        };
        out.push((
            "threeWayCreate".into(),
            passed,
            format!("{plain:?} {detail}"),
        ));
    }
    if has("threeWayApply") && three_way_patch.is_none() && !create_fails {
        out.push(("threeWayApply".into(), false, "no patch to apply".into()));
    }
    if has("threeWayApply")
        && let Some(patch) = &three_way_patch
    {
        let applied = case.apply(&case.input("current"), patch);
        let passed = applied
            .as_ref()
            .is_some_and(|value| case.matches("result", value));
        out.push((
            "threeWayApply".into(),
            passed,
            format!("patch {patch:?}\n      applied {applied:?}"),
        ));
    }
    out
}

#[test]
fn kubernetes_smp_cases_create_and_apply_like_the_api_server() {
    let root = corpus_dir().join("smp");
    let Ok(entries) = std::fs::read_dir(root.join("cases")) else {
        println!("smp corpus not found at {}, skipping", root.display());
        return;
    };
    let schema = |file: &str| {
        let Some(document) = load(&root.join("testdata").join(file)) else {
            panic!("cannot read {file}");
        };
        CustomSchema::from_document(&document)
    };
    let flavours = [
        Flavour {
            name: "openapi-v2",
            merge_item: schema("swagger-merge-item.json"),
            precision_item: schema("swagger-precision-item.json"),
        },
        Flavour {
            name: "openapi-v3",
            merge_item: schema("swagger-merge-item-v3.json"),
            precision_item: schema("swagger-precision-item-v3.json"),
        },
    ];
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    files.sort();
    let verbose = std::env::var_os("SMP_VERBOSE").is_some();
    let (mut passed, mut failed) = (0, Vec::new());
    for file in &files {
        let Some(value) = load(file) else {
            failed.push(format!("{} (unreadable)", file.display()));
            continue;
        };
        let name = file
            .file_name()
            .map(|name| name.to_string_lossy().to_string())
            .unwrap_or_default();
        let checks: Vec<String> = value
            .get("checks")
            .and_then(Value::as_seq)
            .map(|items| items.iter().filter_map(Value::scalar_text).collect())
            .unwrap_or_default();
        let root_name = value
            .get("schema")
            .and_then(Value::as_str)
            .unwrap_or("mergeItem")
            .to_string();
        let normalized = value.get("listOrder").and_then(Value::as_str) == Some("normalized");
        for flavour in &flavours {
            let case = Case {
                value: value.clone(),
                schema: flavour.schema(&root_name),
                root: root_name.clone(),
                normalized,
            };
            let outcomes = run_case(&case, &checks);
            if outcomes.is_empty() {
                failed.push(format!("{name} [{}] (no check ran)", flavour.name));
            }
            for (check, ok, detail) in outcomes {
                if ok {
                    passed += 1;
                } else {
                    if verbose {
                        println!("  {name} [{}] {check}:\n      {detail}", flavour.name);
                    }
                    failed.push(format!("{name} [{}] {check}", flavour.name));
                }
            }
        }
    }
    println!("smp: {passed} passed, {} failed", failed.len());
    for name in &failed {
        println!("  FAIL {name}");
    }
    assert!(
        passed >= RATCHET,
        "smp regressed: {passed} passed, ratchet is {RATCHET}"
    );
}
