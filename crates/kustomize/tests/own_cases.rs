//! Eddy's own kustomize cases, one per feature (and the printing rules), with expected output
//! recorded from `kubectl kustomize` (kustomize v5.5.0). Regenerate one case with
//! `kubectl kustomize tests/cases/<case>/input/$(cat tests/cases/<case>/build-dir) > expected.yaml`.

use std::path::Path;

use eddy_kustomize::{BuildOptions, build};

#[test]
fn own_cases_build_like_kubectl_kustomize() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut entries: Vec<_> = std::fs::read_dir(&cases)
        .expect("tests/cases exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    for case in &entries {
        let build_dir = std::fs::read_to_string(case.join("build-dir")).expect("build-dir");
        let dir = case.join("input").join(build_dir.trim());
        let expected = std::fs::read_to_string(case.join("expected.yaml")).expect("expected.yaml");
        let result = build(&dir, &BuildOptions::default());
        if let (Some(dump), Ok(actual)) = (std::env::var_os("KUSTOMIZE_DUMP"), &result) {
            let name = case
                .file_name()
                .map(|name| name.to_string_lossy().to_string());
            let _ = std::fs::write(
                Path::new(&dump).join(format!("{}.yaml", name.unwrap_or_default())),
                actual,
            );
        }
        match result {
            Ok(actual) if actual == expected => {}
            Ok(actual) => failures.push(format!(
                "{}: output differs\n--- expected\n{expected}\n--- actual\n{actual}",
                case.display()
            )),
            Err(error) => failures.push(format!("{}: {error}", case.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        entries.len() >= 8,
        "expected the feature cases to be present"
    );
}
