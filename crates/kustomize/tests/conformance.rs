//! Conformance against kustomize v5.5.0: every case of the shared corpus is built and compared
//! byte for byte with `kubectl kustomize`'s output (for error cases, only the fact of failure
//! counts). The test fails when fewer cases pass than the ratchet below; raise it as the engine
//! improves so that regressions show.

use std::path::{Path, PathBuf};

use eddy_kustomize::{BuildOptions, build};

/// Cases that must pass. Raise this whenever the engine passes more.
const RATCHET: usize = 292;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("EDDY_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

enum Outcome {
    Pass,
    Fail(String),
}

fn run_case(case: &Path) -> Outcome {
    let build_dir = match std::fs::read_to_string(case.join("build-dir")) {
        Ok(text) => text.trim().to_string(),
        Err(error) => return Outcome::Fail(format!("no build-dir: {error}")),
    };
    let dir = case.join("input").join(build_dir);
    let result = std::panic::catch_unwind(|| build(&dir, &BuildOptions::default()));
    let result = match result {
        Ok(result) => result,
        Err(_) => return Outcome::Fail("panicked".into()),
    };
    let expected = std::fs::read_to_string(case.join("expected.yaml")).ok();
    // Debugging aid: KUSTOMIZE_DUMP=dir writes each actual output next to nothing else.
    if let (Some(dump), Ok(actual)) = (std::env::var_os("KUSTOMIZE_DUMP"), &result) {
        let name = case
            .file_name()
            .map(|name| name.to_string_lossy().to_string())
            .unwrap_or_default();
        let _ = std::fs::write(Path::new(&dump).join(format!("{name}.yaml")), actual);
    }
    match (expected, result) {
        (None, Err(_)) => Outcome::Pass,
        (None, Ok(_)) => Outcome::Fail("succeeded but kustomize fails".into()),
        (Some(_), Err(error)) => Outcome::Fail(format!("error: {error}")),
        (Some(expected), Ok(actual)) if expected == actual => Outcome::Pass,
        (Some(expected), Ok(actual)) => {
            let line = expected
                .lines()
                .zip(actual.lines())
                .position(|(left, right)| left != right)
                .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
            Outcome::Fail(format!(
                "output differs at line {}: expected {:?}, got {:?}",
                line + 1,
                expected.lines().nth(line).unwrap_or("<end>"),
                actual.lines().nth(line).unwrap_or("<end>")
            ))
        }
    }
}

#[test]
fn kustomize_corpus_builds_byte_identically() {
    let cases_dir = corpus_dir().join("kustomize").join("cases");
    let Ok(entries) = std::fs::read_dir(&cases_dir) else {
        println!(
            "kustomize conformance: corpus not found at {}, skipping",
            cases_dir.display()
        );
        return;
    };
    let mut cases: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    cases.sort();
    let filter = std::env::var("KUSTOMIZE_CASE").unwrap_or_default();
    let verbose = std::env::var_os("KUSTOMIZE_VERBOSE").is_some();
    let mut passed = 0;
    let mut failed = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .map(|name| name.to_string_lossy().to_string())
            .unwrap_or_default();
        if !name.contains(&filter) {
            continue;
        }
        match run_case(case) {
            Outcome::Pass => passed += 1,
            Outcome::Fail(reason) => failed.push((name, reason)),
        }
    }
    println!(
        "kustomize conformance: {passed} passed, {} failed",
        failed.len()
    );
    for (name, reason) in &failed {
        if verbose {
            println!("  FAIL {name}: {reason}");
        } else {
            println!("  FAIL {name}");
        }
    }
    if filter.is_empty() {
        assert!(
            passed >= RATCHET,
            "conformance regressed: {passed} passed, ratchet is {RATCHET}"
        );
    }
}
