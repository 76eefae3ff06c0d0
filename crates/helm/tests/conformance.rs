//! Conformance against real Helm v4: renders every case of the shared corpus
//! (`shared/corpus/helm`, or `$EDDY_CORPUS_DIR/helm`) and compares each template's output
//! byte for byte with what Helm produced, skipping templates the manifest marks as
//! nondeterministic. Cases Helm refuses to render must fail here too.
//!
//! Set `EDDY_HELM_VERBOSE=1` to see the first difference of every failing case, and
//! `EDDY_HELM_CASE=<substring>` to run only matching cases.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use eddy_helm::TemplateOptions;

/// Cases that must pass; raise it as the renderer improves, never lower it.
const RATCHET: usize = 94;

/// Expected failures (cases Helm refuses) that must be refused here too.
const REFUSED_RATCHET: usize = 3;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("EDDY_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

fn first_difference(expected: &str, actual: &str) -> String {
    for (index, (left, right)) in expected.lines().zip(actual.lines()).enumerate() {
        if left != right {
            return format!(
                "line {}:\n  expected: {left:?}\n  actual:   {right:?}",
                index + 1
            );
        }
    }
    format!(
        "lengths differ: expected {} lines / {} bytes, actual {} lines / {} bytes",
        expected.lines().count(),
        expected.len(),
        actual.lines().count(),
        actual.len()
    )
}

fn text_field<'a>(case: &'a serde_json::Value, key: &str) -> &'a str {
    case.get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}

fn render_case(
    corpus: &Path,
    chart_dir: &str,
    values_text: &str,
    case: &serde_json::Value,
) -> Result<eddy_helm::Rendered, eddy_helm::Error> {
    let values = eddy_helm::read_values_text(values_text, "values.yaml")?;
    let options = TemplateOptions {
        release_name: case
            .get("release_name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("demo")
            .to_string(),
        namespace: case
            .get("namespace")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("demo-ns")
            .to_string(),
        revision: case
            .get("revision")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(1),
        ..TemplateOptions::default()
    };
    eddy_helm::render_with_values(&corpus.join(chart_dir), &values, &options)
}

/// Compares one case; `Ok(())` when every deterministic template matches.
fn check_case(corpus: &Path, case: &serde_json::Value) -> Result<(), String> {
    let values_text = std::fs::read_to_string(corpus.join(text_field(case, "values_file")))
        .map_err(|error| error.to_string())?;
    let rendered = render_case(corpus, text_field(case, "chart_dir"), &values_text, case)
        .map_err(|error| format!("render failed: {error}"))?;
    let skipped: BTreeSet<&str> = case
        .get("nondeterministic_templates")
        .and_then(serde_json::Value::as_array)
        .map(|items| items.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    let expected_keys: BTreeSet<&str> = case
        .get("templates")
        .and_then(serde_json::Value::as_array)
        .map(|items| items.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    let actual_keys: BTreeSet<&str> = rendered.templates.keys().map(String::as_str).collect();
    if expected_keys != actual_keys {
        let missing: Vec<_> = expected_keys.difference(&actual_keys).collect();
        let extra: Vec<_> = actual_keys.difference(&expected_keys).collect();
        return Err(format!(
            "template keys differ: missing {missing:?}, extra {extra:?}"
        ));
    }
    let expected_dir = corpus
        .join(text_field(case, "values_file"))
        .with_file_name("expected");

    if case
        .get("all_manifest_deterministic")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
    {
        let expected = std::fs::read_to_string(corpus.join(text_field(case, "all_manifest")))
            .map_err(|error| error.to_string())?;
        let release = rendered
            .release()
            .map_err(|error| format!("release failed: {error}"))?;
        let actual = release.manifest();
        if expected != actual {
            return Err(format!(
                "ALL.yaml: {}",
                first_difference(&expected, &actual)
            ));
        }
    }
    for key in expected_keys {
        if skipped.contains(key) {
            continue;
        }
        let expected = std::fs::read_to_string(expected_dir.join(key))
            .map_err(|error| format!("{key}: {error}"))?;
        let actual = &rendered.templates[key];
        if &expected != actual {
            return Err(format!("{key}: {}", first_difference(&expected, actual)));
        }
    }
    Ok(())
}

#[test]
fn helm_corpus_renders_like_helm() {
    let corpus = corpus_dir().join("helm");
    let Ok(manifest_text) = std::fs::read_to_string(corpus.join("manifest.json")) else {
        eprintln!(
            "helm conformance: corpus not found at {}; skipping",
            corpus.display()
        );
        return;
    };
    let manifest: serde_json::Value = match serde_json::from_str(&manifest_text) {
        Ok(manifest) => manifest,
        Err(error) => panic!("manifest.json is not JSON: {error}"),
    };
    let verbose = std::env::var_os("EDDY_HELM_VERBOSE").is_some();
    let filter = std::env::var("EDDY_HELM_CASE").ok();
    let mut passed = 0;
    let mut failed = 0;
    let cases = manifest
        .get("cases")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    for case in &cases {
        let id = text_field(case, "id");
        if filter.as_deref().is_some_and(|filter| !id.contains(filter)) {
            continue;
        }
        match check_case(&corpus, case) {
            Ok(()) => passed += 1,
            Err(reason) => {
                failed += 1;
                if verbose {
                    eprintln!("FAIL {id}: {reason}");
                }
            }
        }
    }
    let failures = manifest
        .get("expected_failures")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut refused = 0;
    let mut same_message = 0;
    for failure in &failures {
        let chart = text_field(failure, "chart");
        if filter
            .as_deref()
            .is_some_and(|filter| !chart.contains(filter))
        {
            continue;
        }
        match render_case(&corpus, &format!("charts/{chart}"), "{}", failure) {
            Err(error) => {
                refused += 1;
                if error.to_string() == text_field(failure, "reason") {
                    same_message += 1;
                }
                if verbose {
                    eprintln!(
                        "refused {chart} as expected: {error}\n  helm said: {}",
                        text_field(failure, "reason")
                    );
                }
            }
            Ok(_) => {
                if verbose {
                    eprintln!(
                        "FAIL {chart}: rendered, but Helm refuses: {}",
                        text_field(failure, "reason")
                    );
                }
            }
        }
    }
    println!("helm conformance: {passed} passed, {failed} failed");
    println!(
        "helm conformance: {refused} of {} expected failures refused, {same_message} with Helm's exact message",
        failures.len()
    );
    assert!(
        refused >= REFUSED_RATCHET,
        "helm conformance: only {refused} expected failures refused (ratchet {REFUSED_RATCHET})"
    );
    assert!(
        passed >= RATCHET,
        "helm conformance fell below the ratchet: {passed} < {RATCHET}"
    );
}
