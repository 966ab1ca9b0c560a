"""Fixtures every tier shares: the one way tests render the chart (`render`, `scenario`), each
render's objects checked against the strict Kubernetes and CRD schemas (tfserving_harness.testing)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tfserving_harness import helm, promtool, testing


def pytest_configure(config: pytest.Config) -> None:
    """With pytest-xdist, a folder the workers share renders through (helm.SHARE_DIR_ENV): each
    scenario is rendered once per run, not once per worker that needs it. Workers inherit it."""
    if hasattr(config, "workerinput") or os.environ.get(helm.SHARE_DIR_ENV) or not getattr(config.option, "numprocesses", 0):
        return
    config._tfs_render_share_dir = tempfile.mkdtemp(prefix="tfs-renders-")  # type: ignore[attr-defined]
    os.environ[helm.SHARE_DIR_ENV] = config._tfs_render_share_dir  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    share_dir = getattr(config, "_tfs_render_share_dir", None)
    if share_dir:
        os.environ.pop(helm.SHARE_DIR_ENV, None)
        shutil.rmtree(share_dir, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Leave the render cache statistics for `make bench` (one file per xdist worker)."""
    stats_dir = os.environ.get("TFS_RENDER_STATS_DIR")
    if stats_dir:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        stats = helm.cache_stats
        Path(stats_dir, f"{worker}.json").write_text(json.dumps({"hits": stats.hits, "shared_hits": stats.shared_hits, "misses": stats.misses}))


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


@pytest.fixture(scope="session")
def promtool_available():
    """Skips, with how to install it, when promtool is missing; with TFS_REQUIRE_PROMTOOL=1 (.ci/run) fails instead."""
    if promtool.find_promtool() is None:
        reason = f"promtool is not on PATH: {promtool.INSTALL_HINT}"
        if os.environ.get("TFS_REQUIRE_PROMTOOL") == "1":
            pytest.fail(f"TFS_REQUIRE_PROMTOOL=1 and {reason}", pytrace=False)
        pytest.skip(reason)
