"""The cluster tier: real installs against any Kubernetes API server (../shared/k8s-local in CI).

The API server comes from KUBECONFIG (pytest-helm-charts' `--kube-config` option works too). Without
one that answers, every test here is skipped with the reason; with TFS_REQUIRE_CLUSTER=1 (set by
.ci/run) a missing API server fails the tier instead, so CI can never pass by skipping it.
"""

from __future__ import annotations

import os

import pytest

from tfserving_harness.cluster import find_cluster


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster():
    """The API server under test, or a skip saying how to provide one."""
    info, why_not = find_cluster()
    if info is None:
        message = f"needs a Kubernetes API server: {why_not}, or start ../shared/k8s-local/up.sh"
        if os.environ.get("TFS_REQUIRE_CLUSTER") == "1":
            pytest.fail(f"TFS_REQUIRE_CLUSTER=1 but the cluster tier cannot run: {message}", pytrace=False)
        pytest.skip(message)
    return info
