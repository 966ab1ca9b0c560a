"""Assertions shared by the test tiers."""

from __future__ import annotations

from typing import Mapping, Sequence

from . import checks, helm


def assert_no_problems(docs: Sequence[Mapping], kube_version: str = helm.NEWEST_KUBE_VERSION, **kwargs) -> None:
    """Fail with every problem listed (object, field, message), not just the first."""
    problems = checks.check_documents(docs, kube_version, **kwargs)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(str(p) for p in problems)


def ci_scenarios() -> list:
    """The chart's ci/*-values.yaml as pytest params, named without the suffix."""
    import pytest

    from .paths import ci_values_files

    return [pytest.param(path, id=path.name.removesuffix("-values.yaml")) for path in ci_values_files()]
