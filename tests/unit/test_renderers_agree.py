"""Helm 4 in-process (the harness's default renderer) and the Helm 3.17 binary (the reference) agree:
same objects for the defaults and every ci/ scenario at the oldest and newest supported Kubernetes
version, same NOTES, and refusals that name the same value paths and the same chart message."""

from __future__ import annotations

import pytest

from tfserving_harness import helm
from tfserving_harness.manifests import identity
from tfserving_harness.testing import ci_scenarios, render

# Every test here compares the helm 3.17 binary with Helm 4 in-process.
pytestmark = pytest.mark.helm3

pytest.importorskip("helm_python", reason="helm-python-sdk (Helm 4) is installed by `make setup`")

SCENARIOS = [pytest.param(None, id="defaults"), *ci_scenarios()]


def _outcome(renderer: str, **kwargs):
    """{identity: object} when the chart renders, else ("refused", value paths, chart message)."""
    try:
        docs = render(renderer=renderer, **kwargs)
    except helm.RenderError as error:
        return "refused", helm.deepest_paths(helm.schema_violations(error.stderr)), helm.chart_message(error.stderr)
    by_identity = {identity(doc): doc for doc in docs}
    assert len(by_identity) == len(docs), f"{renderer}: two objects share an identity"
    return by_identity


@pytest.mark.parametrize("kube_version", helm.SUPPORTED_KUBE_VERSIONS)
@pytest.mark.parametrize("values_file", SCENARIOS)
def test_both_renderers_render_the_same_objects(values_file, kube_version):
    kwargs = {"values_files": [values_file] if values_file else [], "kube_version": kube_version}
    sdk, binary = _outcome("sdk", **kwargs), _outcome("binary", **kwargs)
    if isinstance(binary, dict) and isinstance(sdk, dict):
        assert sdk.keys() == binary.keys()
        assert [key for key in binary if sdk[key] != binary[key]] == []
    else:
        assert sdk == binary


def test_capability_gating_agrees():
    """CRD-backed kinds render only when the API is served (no force value set here)."""
    values = {"monitoring": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}}
    for api_versions in ((), ("monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PrometheusRule")):
        sdk, binary = (_outcome(r, values=values, api_versions=api_versions) for r in ("sdk", "binary"))
        assert sdk == binary, api_versions
    assert {"ServiceMonitor", "PrometheusRule"} <= {kind for _, kind, *_ in sdk}


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCont": 2},
        {"image": {"tag": 5}, "replicaCount": "two"},
        {"server": {"restPort": 70000}},
        {"models": []},
        {"models": [{"name": "m"}]},
        {"models": [{"name": "m", "basePath": "/m", "platfrom": "tf", "x": 1}]},
        {"podLabels": {"bad key": "x"}},
        {"commonLabels": {"app.kubernetes.io/name": "x"}},
        {"tracks": {"metrics": {}}},
        {"tracks": {"stable": {"replicaCount": "x"}}},
        {"podDisruptionBudget": {"minAvailable": "half"}},
        {"server": {"grpcPort": 9000, "restPort": 9000}},
        {"batching": {"enabled": True, "allowedBatchSizes": [16, 8, 32]}},
    ],
    ids=lambda values: str(values)[:60],
)
def test_refusals_name_the_same_value_paths_and_message(values):
    sdk, binary = _outcome("sdk", values=values), _outcome("binary", values=values)
    assert sdk[0] == binary[0] == "refused"
    assert sdk == binary


def test_kube_version_below_chart_yaml_is_refused_by_both():
    for renderer in helm.RENDERERS:
        with pytest.raises(helm.RenderError, match="incompatible with Kubernetes v1.28.0"):
            render(kube_version="1.28.0", renderer=renderer)


@pytest.mark.parametrize("values_file", [pytest.param(None, id="defaults"), *ci_scenarios()[:6]])
def test_notes_agree(values_file):
    files = [values_file] if values_file else []
    # The binary path renders NOTES.txt through a define, which drops the file's final newline.
    assert helm.render_notes(values_files=files, renderer="sdk").rstrip("\n") == helm.render_notes(values_files=files, renderer="binary")
