"""The header directives ci/ scenarios use to declare a minimum Kubernetes version or a Pod Security
exception, and the version parsing behind them."""

from __future__ import annotations

import pytest

from tfserving_harness.paths import ci_values_files
from tfserving_harness.testing import kube_version_tuple, scenario_directives


def test_directives_are_read_from_the_leading_comment_only(tmp_path):
    scenario = tmp_path / "x-values.yaml"
    scenario.write_text(
        "# What it shows.\n# min-kube-version: 1.31.0\n# pod-security-exception: nfs volume\n# note: ignored\nimage: {}\n# min-kube-version: 9.9.9\n"
    )
    assert scenario_directives(scenario) == {"min-kube-version": "1.31.0", "pod-security-exception": "nfs volume"}


def test_a_scenario_without_directives_has_none(tmp_path):
    scenario = tmp_path / "y-values.yaml"
    scenario.write_text("# Plain.\n{}\n")
    assert scenario_directives(scenario) == {}


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.37.0", (1, 37, 0)), ("v1.29.14", (1, 29, 14)), ("v1.31.2-gke.1001", (1, 31, 2)), ("v1.30.4+k3s1", (1, 30, 4)), ("1.33", (1, 33, 0))],
)
def test_kube_versions_compare_numerically(version, expected):
    assert kube_version_tuple(version) == expected
    assert kube_version_tuple("1.9.0") < kube_version_tuple("1.31.0")


def test_the_chart_uses_the_directives_it_documents():
    """Exactly the scenarios that need them declare them, each with a reason."""
    declared = {path.name: scenario_directives(path) for path in ci_values_files()}
    assert declared["storage-image-values.yaml"]["min-kube-version"] == "1.35.0"
    exceptions = {name for name, d in declared.items() if "pod-security-exception" in d}
    assert {"storage-nfs-values.yaml", "storage-image-values.yaml"} <= exceptions
    assert all(len(declared[name]["pod-security-exception"]) > 20 for name in exceptions), "say why"
