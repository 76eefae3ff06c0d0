# Eddy: a Flux v2 compatible GitOps controller suite in Rust.
# `make help` lists the targets.

SHELL := /bin/bash
CARGO ?= cargo
# nextest runs test binaries in parallel and reports failures clearly; cargo test is the fallback.
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)
CRD_DIR := charts/eddy/crds

.PHONY: help
help: ## Show this help.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build every binary (debug profile).
	$(CARGO) build --workspace --bins

.PHONY: test
test: ## Run every test: unit, integration, conformance and e2e.
	$(CARGO) build --workspace --bins
ifeq ($(NEXTEST),yes)
	$(CARGO) nextest run --workspace --no-fail-fast --failure-output final
else
	$(CARGO) test --workspace --no-fail-fast
endif

# Where `make run` keeps the dev environment (cluster data, demo repository, logs, dev.json).
DEV_DATA_DIR ?= $(CURDIR)/.eddy/dev

.PHONY: run
run: ## Build, then start the dev cluster, every controller and the demo repository (eddy dev up).
	$(CARGO) build --workspace --bins
	./target/debug/eddy dev up --data-dir $(DEV_DATA_DIR)

.PHONY: down
down: ## Stop what `make run` started (the state in .eddy/dev is kept).
	./target/debug/eddy dev down --data-dir $(DEV_DATA_DIR)

.PHONY: crds
crds: ## Regenerate charts/eddy/crds from the API types.
	$(CARGO) run --quiet -p eddy-crdgen -- $(CRD_DIR)

.PHONY: fmt
fmt: ## Format the code.
	$(CARGO) fmt --all

.PHONY: verify
verify: ## Check formatting, clippy -D warnings and that generated files are up to date.
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) run --quiet -p eddy-crdgen -- --check $(CRD_DIR)

.PHONY: bench
bench: ## Run the benchmarks against their oracles in one run; figures belong in docs/benchmarks.md.
	$(CARGO) build --release -p eddy-cli
	hack/bench-kustomize.sh target/release/eddy
	python3 hack/gen-kustomize-overlay.py target/bench-overlay
	$(CARGO) run --release -q -p eddy-kustomize --example bench_in_process -- ../shared/corpus/kustomize/cases target/bench-overlay/overlay
	$(CARGO) run --release -q -p eddy-helm --example bench_corpus
	-python3 hack/helm-oracle-bench.py
	$(CARGO) bench -p eddy-devcluster --bench throughput
	$(CARGO) bench -p source-controller --bench fetch_and_package
	$(CARGO) bench -p kustomize-controller --bench many_kustomizations
