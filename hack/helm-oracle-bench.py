#!/usr/bin/env python3
"""Times Helm v4 (helm-python-sdk) rendering every case of the Helm corpus, timing only
the render calls (chart loading and value parsing are outside the timer), for comparison
with `cargo run --release -p eddy-helm --example bench_corpus`.

Usage: python3 hack/helm-oracle-bench.py [CORPUS_DIR] [PASSES]
EDDY_BENCH_EXCLUDE works as for bench_corpus: comma-separated id substrings to leave out
(`^prefix` matches the start of the id); EDDY_BENCH_ONLY keeps only matching cases.
"""
import json
import os
import sys
import time

import helm_python as helm

corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpus", "helm")
passes = int(sys.argv[2]) if len(sys.argv) > 2 else 3
manifest = json.load(open(os.path.join(corpus, "manifest.json")))
exclude = [part for part in os.environ.get("EDDY_BENCH_EXCLUDE", "").split(",") if part]
only = [part for part in os.environ.get("EDDY_BENCH_ONLY", "").split(",") if part]


def matches(case_id, parts):
    return any(case_id.startswith(part[1:]) if part.startswith("^") else part in case_id for part in parts)


manifest["cases"] = [
    case for case in manifest["cases"]
    if not matches(case["id"], exclude) and (not only or matches(case["id"], only))
]
best = None
for number in range(passes):
    elapsed = 0.0
    for case in manifest["cases"]:
        values = helm.values_from_yaml(open(os.path.join(corpus, case["values_file"])).read())
        with helm.Chart.load(os.path.join(corpus, case["chart_dir"])) as chart:
            start = time.perf_counter()
            chart.render(values, name=case["release_name"], namespace=case["namespace"])
            elapsed += time.perf_counter() - start
    print(f"pass {number}: {len(manifest['cases'])} cases in {elapsed * 1000:.1f} ms")
    best = elapsed if best is None else min(best, elapsed)
print(f"helm v4 best pass: {best * 1000:.1f} ms for {len(manifest['cases'])} cases")
