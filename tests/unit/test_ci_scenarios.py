"""charts/tf-serving/ci/*-values.yaml: each renders, passes every check, and `helm lint --strict`."""

from __future__ import annotations

import pytest

from tfserving_harness import helm
from tfserving_harness.testing import assert_no_problems, ci_scenarios
from tfserving_harness.values import effective_values

SCENARIOS = ci_scenarios()


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 2


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_scenario_passes_every_check(values_file, scenario):
    assert_no_problems(scenario(values_file), values=effective_values([values_file]))


@pytest.mark.parametrize("values_file", SCENARIOS)
@pytest.mark.helm3
def test_scenario_passes_helm_lint_strict(values_file):
    result = helm.lint([values_file])
    assert result.returncode == 0, result.stdout + result.stderr
