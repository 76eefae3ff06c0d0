//! eddy-helm's own cases (`tests/cases/<case>/chart` + `values.yaml`), whose expected
//! outputs were produced by real Helm v4 with `hack/helm-oracle.py`. Each case either
//! renders every template byte for byte like Helm, or fails with Helm's message
//! (`expected/ERROR`).

use std::collections::BTreeMap;
use std::path::Path;

fn read_expected(directory: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().to_string();
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if entry.path().is_dir() {
            read_expected(&entry.path(), &key, out);
        } else if let Ok(text) = std::fs::read_to_string(entry.path()) {
            out.insert(key, text);
        }
    }
}

fn same_lines(left: &str, right: &str) -> bool {
    let mut left: Vec<&str> = left.lines().collect();
    let mut right: Vec<&str> = right.lines().collect();
    left.sort_unstable();
    right.sort_unstable();
    left == right
}

fn check(case: &Path) -> Result<(), String> {
    let values_text =
        std::fs::read_to_string(case.join("values.yaml")).unwrap_or_else(|_| "{}".to_string());
    let mut expected = BTreeMap::new();
    read_expected(&case.join("expected"), "", &mut expected);
    let options = eddy_helm::TemplateOptions {
        release_name: "demo".to_string(),
        namespace: "demo-ns".to_string(),
        ..eddy_helm::TemplateOptions::default()
    };
    let result = eddy_helm::read_values_text(&values_text, "values.yaml")
        .and_then(|values| eddy_helm::render_with_values(&case.join("chart"), &values, &options));
    if let Some(message) = expected.get("ERROR") {
        return match result {
            Ok(_) => Err(format!("rendered, but Helm fails with: {message}")),
            Err(error) if error.to_string() == *message => Ok(()),
            // Helm's schema validator reports violations in map order; compare as sets.
            Err(error)
                if message.starts_with("values don't meet")
                    && same_lines(&error.to_string(), message) =>
            {
                Ok(())
            }
            Err(error) => Err(format!(
                "wrong error:\n  expected: {message}\n  actual:   {error}"
            )),
        };
    }
    let rendered = result.map_err(|error| format!("render failed: {error}"))?;
    let mut problems = Vec::new();
    for (key, text) in &expected {
        match rendered.templates.get(key) {
            None => problems.push(format!("{key}: missing")),
            Some(actual) if actual != text => {
                let line = text
                    .lines()
                    .zip(actual.lines())
                    .position(|(left, right)| left != right)
                    .map_or_else(
                        || "length".to_string(),
                        |index| format!("line {}", index + 1),
                    );
                let expected_line = text
                    .lines()
                    .nth(
                        line.trim_start_matches("line ")
                            .parse::<usize>()
                            .unwrap_or(1)
                            .saturating_sub(1),
                    )
                    .unwrap_or_default();
                let actual_line = actual
                    .lines()
                    .nth(
                        line.trim_start_matches("line ")
                            .parse::<usize>()
                            .unwrap_or(1)
                            .saturating_sub(1),
                    )
                    .unwrap_or_default();
                problems.push(format!(
                    "{key}: {line}\n    expected: {expected_line:?}\n    actual:   {actual_line:?}"
                ));
            }
            Some(_) => {}
        }
    }
    for key in rendered.templates.keys() {
        if !expected.contains_key(key) {
            problems.push(format!("{key}: not rendered by Helm"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n  "))
    }
}

#[test]
fn own_cases_render_like_helm() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let Ok(entries) = std::fs::read_dir(&root) else {
        panic!("no cases under {}", root.display());
    };
    let mut cases: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(problem) = check(case) {
            failures.push(format!(
                "{}:\n  {problem}",
                case.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Helm:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
