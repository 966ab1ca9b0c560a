"""Fixtures every tier shares: the one way tests render the chart (`render`, `scenario`), each
render's objects checked against the strict Kubernetes and CRD schemas (tfserving_harness.testing)."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import pytest

from tfserving_harness import helm, promtool

#: Go's collector in the in-process Helm 4 runs every few MB at Go's default GOGC=100; at 400 a
#: render measured ~20% less CPU for ~20 MB more memory. Go reads GOGC once, from the environment
#: its process started with, so setting it here reaches the xdist workers (started after this,
#: with this environment), where the renders run; a run with `-n 0` keeps the GOGC it was started
#: with. A GOGC you set wins. The helm 3.17 binary runs without a collector (helm.run_helm).
IN_PROCESS_GOGC = "400"

#: Python's cyclic collector in a test process: the render caches keep thousands of documents alive
#: for the whole run, and at CPython's thresholds (700, 10, 10) its full collections walked them again
#: and again (11 per xdist worker, ~0.5 s of its CPU). Ten times the first threshold makes every
#: collection ten times rarer; what collection built (modules, ~2,000 test items) is frozen after it,
#: so no collection walks it at all. A run holds a few MB more garbage at a time.
GC_THRESHOLDS = (7000, 10, 10)


def pytest_configure(config: pytest.Config) -> None:
    """The collector thresholds (GC_THRESHOLDS) and, with pytest-xdist, the workers' GOGC."""
    gc.set_threshold(*GC_THRESHOLDS)
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", 0):
        return
    os.environ.setdefault("GOGC", IN_PROCESS_GOGC)


@pytest.hookimpl(trylast=True)  # after -k/-m deselected
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The value sets the collected tests are parametrized with (`values`), announced to the
    in-process renderer: the refusals among them cost it one schema compile, not one each."""
    helm.expect_values(item.callspec.params["values"] for item in items if "values" in getattr(getattr(item, "callspec", None), "params", {}))


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.freeze()  # see GC_THRESHOLDS


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Leave the render cache statistics for `make bench` (one file per xdist worker)."""
    stats_dir = os.environ.get("TFS_RENDER_STATS_DIR")
    if stats_dir:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        stats = helm.cache_stats
        Path(stats_dir, f"{worker}.json").write_text(json.dumps({"hits": stats.hits, "misses": stats.misses}))


@pytest.fixture(scope="session")
def render():
    """`render(values=None, *, validate=True, **render_chart_kwargs)` -> read-only documents,
    cached across the session and schema-checked; `validate=False` skips the object schemas."""
    # Imported where used: the xdist controller never renders, and its imports delay the workers' start.
    from tfserving_harness import testing

    return testing.render


@pytest.fixture(scope="session")
def scenario():
    """`scenario("hpa-cpu-memory", values=None, **kwargs)`: ci/hpa-cpu-memory-values.yaml rendered
    like `render`, with `values` on top; a ci/ path (a `ci_scenarios()` param) works too."""
    from tfserving_harness import testing

    return testing.scenario


@pytest.fixture(scope="session")
def default_docs(render):
    return render()


@pytest.fixture(scope="session")
def promtool_available():
    """Skips, with how to install it, when promtool is missing; with TFS_REQUIRE_PROMTOOL=1 (.ci/run) fails instead."""
    if promtool.find_promtool() is None:
        reason = f"promtool is not on PATH: {promtool.INSTALL_HINT}"
        if os.environ.get("TFS_REQUIRE_PROMTOOL") == "1":
            pytest.fail(f"TFS_REQUIRE_PROMTOOL=1 and {reason}", pytrace=False)
        pytest.skip(reason)
