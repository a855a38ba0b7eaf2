# The project's one entry point. `make` builds .venv/; `make test` runs lint, types and every test tier.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all venv lint types unit integration e2e test bench cluster-up cluster-down kubeconfig demo manifests clean

all: venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH" >&2; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,exporter]'
	# tensorflow-serving-api pins the full `tensorflow`; we already have tensorflow-cpu, so no deps.
	$(BIN)/pip install -q --no-deps 'tensorflow-serving-api==2.21.*'
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check operator exporter_job tests hack

types: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests/unit

integration: venv
	$(BIN)/pytest -q tests/integration

e2e: venv
	$(BIN)/pytest -q tests/e2e

# All tiers in one pytest run so the summary line counts everything. Without KUBECONFIG the e2e tier
# uses the local cluster: build its binaries first, here, where the cold build's progress shows.
test: lint types
	@if [ -z "$$KUBECONFIG" ]; then bash hack/cluster/build.sh; fi
	$(BIN)/pytest tests

bench: venv
	$(BIN)/python -m tests.bench

cluster-up: venv
	@bash hack/cluster/up.sh

cluster-down:
	@bash hack/cluster/down.sh

kubeconfig:
	@bash hack/cluster/kubeconfig.sh

demo: venv
	@bash hack/demo.sh

manifests:
	bash hack/render-install.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
