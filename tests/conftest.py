"""Fixtures every tier shares: the one way tests render the chart (`render`, `scenario`), each
render's objects checked against the strict Kubernetes and CRD schemas (tfserving_harness.testing)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tfserving_harness import helm, promtool

#: Go's collector in the in-process Helm 4 runs every few MB at Go's default GOGC=100; at 400 a
#: render measured ~20% less CPU for ~20 MB more memory. Go reads GOGC once, from the environment
#: its process started with, so setting it here reaches the xdist workers (started after this,
#: with this environment), where the renders run; a run with `-n 0` keeps the GOGC it was started
#: with. A GOGC you set wins. The helm 3.17 binary runs without a collector (helm.run_helm).
IN_PROCESS_GOGC = "400"


def pytest_configure(config: pytest.Config) -> None:
    """With pytest-xdist, the workers' GOGC, and a folder they share renders through
    (helm.SHARE_DIR_ENV): each scenario is rendered once per run, not once per worker that needs it."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", 0):
        return
    os.environ.setdefault("GOGC", IN_PROCESS_GOGC)
    if os.environ.get(helm.SHARE_DIR_ENV):
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
