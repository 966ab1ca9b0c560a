"""Every rendered object against the real Kubernetes schemas (strict, oldest and newest supported
version) and custom resources against the vendored CRDs with their objects closed."""

from __future__ import annotations

import pytest

from tfserving_harness import checks, crds, helm, k8s_schema
from tfserving_harness.frozen import thaw
from tfserving_harness.manifests import one
from tfserving_harness.testing import ci_scenarios, kube_version_tuple, scenario_directives

SCENARIOS = ci_scenarios()


def test_supported_versions_have_schemas():
    shipped = k8s_schema.available_versions()
    for version in helm.SUPPORTED_KUBE_VERSIONS:
        assert version.rsplit(".", 1)[0] in shipped
    assert helm.NEWEST_KUBE_VERSION.rsplit(".", 1)[0] == shipped[-1], "validate against the newest Kubernetes kubernetes-validate ships"


@pytest.mark.parametrize("kube_version", helm.SUPPORTED_KUBE_VERSIONS)
@pytest.mark.parametrize("values_file", SCENARIOS)
def test_every_object_is_valid_for_each_supported_kubernetes(values_file, kube_version, scenario):
    """A scenario marked `# min-kube-version: X` must instead fail below X, with a message."""
    minimum = scenario_directives(values_file).get("min-kube-version")
    if minimum and kube_version_tuple(kube_version) < kube_version_tuple(minimum):
        with pytest.raises(helm.RenderError) as failed:
            scenario(values_file, kube_version=kube_version)
        assert "tf-serving: " in failed.value.stderr and minimum.rsplit(".", 1)[0] in failed.value.stderr, failed.value.stderr
        return
    docs = scenario(values_file, kube_version=kube_version, validate=False)  # this test reports the problems itself
    problems = checks.schema_problems(docs, kube_version)
    assert not problems, "\n".join(map(str, problems))


def test_strict_schema_catches_a_misspelled_field_at_its_own_path(default_docs):
    """The problem names the unknown field itself, so it reads like the value the user wrote, and
    lists the fields that object does have."""
    deployment = thaw(one(default_docs, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    problems = k8s_schema.validate(deployment, helm.NEWEST_KUBE_VERSION)
    assert [p.field for p in problems] == ["spec.template.spec.containers[0].imagePulPolicy"]
    assert "unknown field" in problems[0].message and "imagePullPolicy" in problems[0].message


def test_schema_lists_every_error_not_just_the_first(default_docs):
    deployment = thaw(one(default_docs, "Deployment"))
    deployment["spec"]["replicas"] = "two"
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "grpc"
    fields = {p.field for p in k8s_schema.validate(deployment, helm.NEWEST_KUBE_VERSION)}
    assert {"spec.replicas", "spec.template.spec.containers[0].ports[0].containerPort"} <= fields


def test_kind_missing_from_a_kubernetes_version_has_no_schema():
    assert k8s_schema.validator_for("1.29.0", "resource.k8s.io/v1", "ResourceClaim") is None
    assert k8s_schema.validator_for("1.37.0", "resource.k8s.io/v1", "ResourceClaim") is not None


def test_vendored_crds_cover_every_kind_the_chart_may_render():
    kinds = {kind for _, kind in crds.known_kinds()}
    assert {"ServiceMonitor", "PodMonitor", "PrometheusRule", "HTTPRoute", "GRPCRoute", "ScaledObject", "VerticalPodAutoscaler"} <= kinds


SERVICE_MONITOR = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "tfs"},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "tf-serving"}},
        "endpoints": [{"port": "http", "path": "/monitoring/prometheus/metrics", "interval": "30s"}],
    },
}


def test_closed_crd_schema_accepts_a_valid_custom_resource():
    assert crds.validate(SERVICE_MONITOR) == []


def test_closed_crd_schema_rejects_a_misspelled_field():
    typo = thaw(SERVICE_MONITOR)
    typo["spec"]["endpoints"][0]["scrapeInterval"] = typo["spec"]["endpoints"][0].pop("interval")
    problems = crds.validate(typo)
    assert [p.field for p in problems] == ["spec.endpoints[0].scrapeInterval"]
    assert "unknown field" in problems[0].message and "interval" in problems[0].message


def test_unknown_kind_is_a_problem_not_a_silent_pass():
    problems = checks.schema_problems([{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}], helm.NEWEST_KUBE_VERSION)
    assert len(problems) == 1 and "no schema" in problems[0].message
