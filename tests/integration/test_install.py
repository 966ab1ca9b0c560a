"""The chart against a real API server: every ci/ scenario passes a server-side dry-run install,
which runs the cluster's own admission and OpenAPI validation (what the unit tier approximates)."""

from __future__ import annotations

import pytest

from tfserving_harness import helm
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import ci_scenarios, kube_version_tuple, scenario_directives

pytestmark = pytest.mark.cluster

SCENARIOS = ci_scenarios()


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_scenario_passes_server_side_dry_run(cluster, values_file):
    minimum = scenario_directives(values_file).get("min-kube-version")
    if minimum and kube_version_tuple(cluster.server_version) < kube_version_tuple(minimum):
        pytest.skip(f"{values_file.name} needs Kubernetes {minimum}+, the cluster runs {cluster.server_version} (the unit tier checks that the chart refuses it there)")
    result = helm.run_helm(
        ["install", "dry-run-check", str(chart_dir()), "--namespace", "default", "--dry-run=server",
         "--kubeconfig", cluster.kubeconfig, "--values", str(values_file)],
        check=False,
    )
    assert result.returncode == 0, result.stderr
