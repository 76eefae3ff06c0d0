//! Times rendering every case of the Helm corpus (render calls only: loading the chart and
//! parsing values are outside the timer, as in `hack/helm-oracle-bench.py`).
//! Usage: cargo run --release -p eddy-helm --example bench_corpus -- [CORPUS_DIR] [PASSES]
//! `EDDY_BENCH_EXCLUDE=nginx,opentelemetry` leaves out cases whose id contains one of the
//! comma-separated substrings (`^nginx__` : whose id starts with it), for timing or
//! profiling the cases that generate no RSA keys; `EDDY_BENCH_ONLY` keeps only the cases
//! matching one of its parts.

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let corpus = args
        .get(1)
        .map_or_else(|| PathBuf::from("../shared/corpus/helm"), PathBuf::from);
    let passes: usize = args.get(2).and_then(|text| text.parse().ok()).unwrap_or(3);
    let Ok(text) = std::fs::read_to_string(corpus.join("manifest.json")) else {
        eprintln!("no manifest.json under {}", corpus.display());
        std::process::exit(2);
    };
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let exclude: Vec<String> = std::env::var("EDDY_BENCH_EXCLUDE")
        .unwrap_or_default()
        .split(',')
        .filter(|part| !part.is_empty())
        .map(str::to_string)
        .collect();
    let only: Vec<String> = std::env::var("EDDY_BENCH_ONLY")
        .unwrap_or_default()
        .split(',')
        .filter(|part| !part.is_empty())
        .map(str::to_string)
        .collect();
    let matches = |id: &str, part: &String| match part.strip_prefix('^') {
        Some(prefix) => id.starts_with(prefix),
        None => id.contains(part.as_str()),
    };
    let cases: Vec<serde_json::Value> = manifest
        .get("cases")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|case| {
            let id = case
                .get("id")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            !exclude.iter().any(|part| matches(id, part))
                && (only.is_empty() || only.iter().any(|part| matches(id, part)))
        })
        .collect();
    let field = |case: &serde_json::Value, key: &str| {
        case.get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut best = f64::MAX;
    let mut slowest: Vec<(f64, String)> = Vec::new();
    for pass in 0..passes {
        let mut elapsed = 0.0;
        slowest.clear();
        for case in &cases {
            let values_text = std::fs::read_to_string(corpus.join(field(case, "values_file")))
                .unwrap_or_default();
            let options = eddy_helm::TemplateOptions {
                release_name: field(case, "release_name"),
                namespace: field(case, "namespace"),
                ..eddy_helm::TemplateOptions::default()
            };
            // As for Helm, loading the chart and parsing values are outside the timer.
            let loaded = eddy_helm::chart::load(&corpus.join(field(case, "chart_dir")));
            let values = eddy_helm::read_values_text(&values_text, "values.yaml");
            let start = Instant::now();
            let result = loaded.and_then(|chart| {
                values.and_then(|values| eddy_helm::render_chart(chart, &values, &options))
            });
            let took = start.elapsed().as_secs_f64();
            elapsed += took;
            slowest.push((took, field(case, "id")));
            if let Err(error) = result {
                eprintln!("{}: {error}", field(case, "id"));
            }
        }
        println!(
            "pass {pass}: {} cases in {:.1} ms",
            cases.len(),
            elapsed * 1000.0
        );
        best = best.min(elapsed);
    }
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (took, id) in slowest.iter().take(8) {
        println!("  slowest: {id} {:.1} ms", took * 1000.0);
    }
    println!(
        "eddy-helm best pass: {:.1} ms for {} cases",
        best * 1000.0,
        cases.len()
    );
}
