#!/usr/bin/env bash
# Whole-process comparison of `eddy kustomize build` with the oracle `kubectl kustomize` over every
# case of the kustomize conformance corpus, measured in the same run. Prints a Markdown row.
# Usage: hack/bench-kustomize.sh [EDDY_BINARY] [CORPUS_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
eddy="${1:-$root/target/release/eddy}"
corpus="${2:-${EDDY_CORPUS_DIR:-$root/../shared/corpus}}/kustomize/cases"
[ -x "$eddy" ] || { echo "build it first: cargo build --release -p eddy-cli" >&2; exit 2; }
[ -d "$corpus" ] || { echo "corpus not found at $corpus" >&2; exit 2; }
command -v kubectl >/dev/null || { echo "kubectl (the oracle) not found" >&2; exit 2; }

time_all() { # $@ = command prefix; prints milliseconds for building every case once
  local start end
  start=$(date +%s%N)
  for case in "$corpus"/*/; do
    "$@" "$case/input/$(cat "$case/build-dir")" >/dev/null 2>&1 || true
  done
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}

cases=$(ls -d "$corpus"/*/ | wc -l)
eddy_ms=$(time_all "$eddy" kustomize build)
kubectl_ms=$(time_all kubectl kustomize)
ratio=$(awk -v a="$kubectl_ms" -v b="$eddy_ms" 'BEGIN { printf "%.1f", a / (b > 0 ? b : 1) }')
echo "| kustomize corpus, $cases builds, one process each | eddy ${eddy_ms} ms | kubectl kustomize ${kubectl_ms} ms | eddy ${ratio}x faster |"

# The synthetic overlay: 2,000 resources, 50 patches, a generator (hack/gen-kustomize-overlay.py).
synthetic="$(mktemp -d)"
trap 'rm -rf "$synthetic"' EXIT
python3 "$root/hack/gen-kustomize-overlay.py" "$synthetic"
time_one() { # $@ = command; prints milliseconds
  local start end
  start=$(date +%s%N)
  "$@" "$synthetic/overlay" >/dev/null
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}
eddy_ms=$(time_one "$eddy" kustomize build)
kubectl_ms=$(time_one kubectl kustomize)
cmp -s <("$eddy" kustomize build "$synthetic/overlay") <(kubectl kustomize "$synthetic/overlay") \
  && same="identical output" || same="OUTPUT DIFFERS"
ratio=$(awk -v a="$kubectl_ms" -v b="$eddy_ms" 'BEGIN { printf "%.1f", a / (b > 0 ? b : 1) }')
echo "| synthetic overlay (2,000 resources, 50 patches, generator), $same | eddy ${eddy_ms} ms | kubectl kustomize ${kubectl_ms} ms | eddy ${ratio}x faster |"
