"""The defaults and every ci/ scenario the cluster can run: installed with `--wait` into a namespace
that enforces Pod Security `restricted`, Ready through the kubelet's own probes, REST and gRPC
predictions with the values the model must return through every Service of the release (its
ClusterIP on the real node, a port-forward on kind), and `helm test` passes."""

from __future__ import annotations

import pytest
import yaml
from kubernetes import client

from tfserving_harness import demo_model, e2e, helm
from tfserving_harness.testing import ci_scenarios, kube_version_tuple, scenario_directives


def test_the_defaults_serve_the_built_in_demo(e2e_cluster, e2e_api, e2e_release):
    """No values but the image the nodes have (and, on the real node, its busybox for helm test)."""
    release = e2e_release("defaults", models="chart", sized=False)
    core = client.CoreV1Api(e2e_api)
    assert e2e.not_ready_through_probes(core, release.namespace) == []
    assert "Phase:          Succeeded" in release.test().stdout
    assert e2e.wrong_answers(e2e_cluster, core, release.namespace, version=demo_model.CHART_DEMO_VERSION, scalar=True) == []


def unserved_api_versions(api, values_file, overlay: dict, server_version: str) -> list[str]:
    """`apiVersion Kind` of what the scenario renders that the cluster does not serve (kind: `make
    kind-up` installs the add-ons and CRDs, a `make demo` cluster has none)."""
    served = {"v1"} | {v.group_version for g in client.ApisApi(api).get_api_versions().groups for v in g.versions}
    documents = helm.render_chart(overlay, values_files=[values_file], kube_version=".".join(map(str, kube_version_tuple(server_version))))
    return sorted({f"{d['apiVersion']} {d['kind']}" for d in documents if d["apiVersion"] not in served})


@pytest.mark.parametrize("values_file", ci_scenarios())
def test_scenario_answers_rest_and_grpc_with_the_expected_values(values_file, e2e_cluster, e2e_api, e2e_release):
    scenario = yaml.safe_load(values_file.read_text()) or {}
    core = client.CoreV1Api(e2e_api)
    overlay, why_not = e2e.scenario_overlay(scenario, e2e_cluster.image, e2e_cluster.schedulable_nodes(core))
    if overlay is None:
        pytest.skip(f"{values_file.name} cannot run on {e2e_cluster.what}: {why_not}")
    minimum = scenario_directives(values_file).get("min-kube-version")
    if minimum and kube_version_tuple(e2e_cluster.info.server_version) < kube_version_tuple(minimum):
        pytest.skip(f"{values_file.name} needs Kubernetes {minimum}+, the cluster runs {e2e_cluster.info.server_version}")
    if not e2e_cluster.real_node:  # the real node gets the vendored CRDs (e2e_release); a user's kind cluster is left alone
        missing = unserved_api_versions(e2e_api, values_file, overlay, e2e_cluster.info.server_version)
        if missing:
            pytest.skip(f"{values_file.name} renders {', '.join(missing)}, which this cluster does not serve: `make kind-up` installs "
                        "the add-ons and CRDs (a `make demo` cluster has none)")
    built_in = e2e.serves_built_in_demo(scenario)
    release = e2e_release(values_file.name.removesuffix("-values.yaml"), [values_file], overlay, models="chart" if built_in else "claim")
    assert e2e.not_ready_through_probes(core, release.namespace) == []
    assert "Phase:          Succeeded" in release.test().stdout
    # The claim holds versions 1 and 2 and the overlay serves both: a request without a version gets 2.
    assert e2e.wrong_answers(e2e_cluster, core, release.namespace, version=1 if built_in else 2, scalar=built_in) == []
