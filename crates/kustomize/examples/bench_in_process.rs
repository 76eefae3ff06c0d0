//! In-process timing of the engine: every corpus case built once per pass through the library
//! (no process start-up), and optionally one more directory (the synthetic overlay of
//! `hack/gen-kustomize-overlay.py`). `hack/bench-kustomize.sh` prints the whole-process figures
//! against `kubectl kustomize` in the same `make bench` run.
//!
//! Usage: cargo run --release -p eddy-kustomize --example bench_in_process -- CORPUS_CASES [EXTRA_DIR] [PASSES]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use eddy_kustomize::{BuildOptions, build};

fn main() -> ExitCode {
    let mut arguments = std::env::args().skip(1);
    let Some(cases) = arguments.next().map(PathBuf::from) else {
        eprintln!("usage: bench_in_process CORPUS_CASES [EXTRA_DIR] [PASSES]");
        return ExitCode::FAILURE;
    };
    let extra = arguments.next().map(PathBuf::from);
    let passes: u32 = arguments
        .next()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3);
    let mut directories = Vec::new();
    let Ok(entries) = std::fs::read_dir(&cases) else {
        eprintln!("cannot read {}", cases.display());
        return ExitCode::FAILURE;
    };
    for entry in entries.flatten() {
        let case = entry.path();
        if let Ok(build_dir) = std::fs::read_to_string(case.join("build-dir")) {
            directories.push(case.join("input").join(build_dir.trim()));
        }
    }
    directories.sort();
    let options = BuildOptions::default();
    let best_of = |dirs: &[PathBuf]| {
        (0..passes)
            .map(|_| {
                let start = Instant::now();
                for dir in dirs {
                    let _ = build(dir, &options);
                }
                start.elapsed()
            })
            .min()
            .unwrap_or(Duration::ZERO)
    };
    let corpus = best_of(&directories);
    println!(
        "| kustomize corpus, {} builds in process (best of {passes}) | eddy {} ms |",
        directories.len(),
        corpus.as_millis()
    );
    if let Some(extra) = extra {
        let elapsed = best_of(std::slice::from_ref(&extra));
        println!(
            "| {} in process (best of {passes}) | eddy {} ms |",
            extra.display(),
            elapsed.as_millis()
        );
    }
    ExitCode::SUCCESS
}
