"""Fixtures for the render-and-assert tier. Every test renders through tfserving_harness.helm.render_chart."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tfserving_harness import helm


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Leave the render cache statistics for `make bench` (one file per xdist worker)."""
    stats_dir = os.environ.get("TFS_RENDER_STATS_DIR")
    if stats_dir:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(stats_dir, f"{worker}.json").write_text(json.dumps({"hits": helm.cache_stats.hits, "misses": helm.cache_stats.misses}))


@pytest.fixture(scope="session")
def render():
    """`render(values=None, **kwargs)` -> read-only documents (cached across the session)."""
    return helm.render_chart


@pytest.fixture(scope="session")
def default_docs():
    return helm.render_chart()
