"""Tests that need a cluster, one folder per tier: `cluster/` (real installs on any API server:
k8s-local's stand-in nodes in CI), `e2e/` (pods that really run: kind with the real image, or
k8s-local's real node with the TF Serving stand-in image) and `autoscaling/` (the HPA loop with
Locust, Prometheus and the metrics stand-ins on k8s-local's real node). `pytest tests/integration -m cluster`
(or `-m e2e`) selects a tier; each folder's conftest says which cluster it needs and skips, with
the reason, on any other (tfserving_harness.cluster.cluster_kind tells them apart).

On failure, a test's report gets the events and helm status of every namespace it made (a fixture
records them on the test item as `tfs_namespaces`, with `tfs_cluster` = (ApiClient, kubeconfig)).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tfserving_harness import cluster as harness
from tfserving_harness import e2e

TIERS = {"cluster": pytest.mark.cluster, "e2e": pytest.mark.e2e, "autoscaling": pytest.mark.autoscaling}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        path = Path(item.path)
        if here in path.parents:
            tier = path.relative_to(here).parts[0]
            if tier in TIERS:
                item.add_marker(TIERS[tier])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    namespaces = getattr(item, "tfs_namespaces", ())
    if report.failed and namespaces:
        api, kubeconfig = item.tfs_cluster
        for name in namespaces:
            report.sections.append((f"events and helm status of namespace {name}", harness.namespace_report(api, name, kubeconfig)))


def pytest_terminal_summary(terminalreporter):
    """The e2e tier's measurements (`numbers`), here because under xdist the controller loads only this conftest."""
    lines = [value for report in terminalreporter.getreports("passed") + terminalreporter.getreports("failed")
             for key, value in getattr(report, "user_properties", ()) if key == e2e.NUMBERS_PROPERTY]
    if lines:
        terminalreporter.section("e2e numbers")
        for line in sorted(lines):
            terminalreporter.write_line(line)
