"""The kind tier: real tests against a real cluster, skipped with the reason when none answers."""

from __future__ import annotations

import pytest

from tfserving_harness.cluster import find_cluster


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--kube-context", default=None, help="kubeconfig context to test against (default: current)")


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest):
    info, why_not = find_cluster(request.config.getoption("--kube-context"))
    if info is None:
        pytest.skip(f"needs a Kubernetes cluster: {why_not}")
    return info
