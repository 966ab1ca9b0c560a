"""Fixtures every tier shares: the one way tests render the chart (`render`, `scenario`), each
render's objects checked against the strict Kubernetes and CRD schemas (tfserving_harness.testing)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tfserving_harness import helm, testing


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Leave the render cache statistics for `make bench` (one file per xdist worker)."""
    stats_dir = os.environ.get("TFS_RENDER_STATS_DIR")
    if stats_dir:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(stats_dir, f"{worker}.json").write_text(json.dumps({"hits": helm.cache_stats.hits, "misses": helm.cache_stats.misses}))


@pytest.fixture(scope="session")
def render():
    """`render(values=None, *, validate=True, **render_chart_kwargs)` -> read-only documents,
    cached across the session and schema-checked; `validate=False` skips the object schemas."""
    return testing.render


@pytest.fixture(scope="session")
def scenario():
    """`scenario("hpa-cpu-memory", values=None, **kwargs)`: ci/hpa-cpu-memory-values.yaml rendered
    like `render`, with `values` on top; a ci/ path (a `ci_scenarios()` param) works too."""
    return testing.scenario


@pytest.fixture(scope="session")
def default_docs():
    return testing.render()
