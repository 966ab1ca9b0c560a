"""Every ci/ scenario that can run on kind serves the demo model over REST and gRPC on every
track's Service, with the values the model must return, and passes `helm test`."""

from __future__ import annotations

import pytest
import yaml
from kubernetes import client

from tfserving_harness import demo_model, helm, kind
from tfserving_harness.testing import ci_scenarios, kube_version_tuple, scenario_directives

INPUTS = [1.0, 2.0, 5.0]
LATEST = 2  # demo_values serves versions 1 and 2; a request without a version gets the latest


def unserved_api_versions(api, values_file, overlay: dict, server_version: str) -> list[str]:
    """`apiVersion Kind` of what the scenario renders without any optional API (the objects it forces
    on) that the cluster does not serve."""
    served = {"v1"} | {v.group_version for g in client.ApisApi(api).get_api_versions().groups for v in g.versions}
    documents = helm.render_chart(overlay, values_files=[values_file], kube_version=".".join(map(str, kube_version_tuple(server_version))))
    return sorted({f"{d['apiVersion']} {d['kind']}" for d in documents if d["apiVersion"] not in served})


@pytest.mark.parametrize("values_file", ci_scenarios())
def test_scenario_answers_rest_and_grpc_with_the_expected_values(values_file, kind_cluster, kind_api, kind_release):
    scenario = yaml.safe_load(values_file.read_text()) or {}
    overlay, why_not = kind.kind_overlay(scenario)
    if overlay is None:
        pytest.skip(f"{values_file.name} cannot run on kind: {why_not}")
    minimum = scenario_directives(values_file).get("min-kube-version")
    if minimum and kube_version_tuple(kind_cluster.server_version) < kube_version_tuple(minimum):
        pytest.skip(f"{values_file.name} needs Kubernetes {minimum}+, the cluster runs {kind_cluster.server_version}")
    missing = unserved_api_versions(kind_api, values_file, overlay, kind_cluster.server_version)
    if missing:
        pytest.skip(f"{values_file.name} renders {', '.join(missing)}, which this cluster does not serve: `make kind-up` installs the "
                    "add-ons and CRDs (a `make demo` cluster has none)")
    release = kind_release(values_file.name.removesuffix("-values.yaml"), [values_file], overlay)
    assert "Phase:          Succeeded" in release.test().stdout
    expected = [demo_model.expected_output(LATEST, x) for x in INPUTS]
    core = client.CoreV1Api(kind_api)
    services = [s.metadata.name for s in core.list_namespaced_service(release.namespace, label_selector="app.kubernetes.io/instance=tfs").items
                if s.spec.cluster_ip != "None"]
    assert services
    for service in services:
        with kind.port_forward(kind_cluster.kubeconfig, release.namespace, f"service/{service}", ["http", "grpc"],
                               context=kind_cluster.context) as ports:
            rest = kind.rest_predict(f"http://127.0.0.1:{ports['http']}", demo_model.MODEL_NAME, INPUTS)
            grpc = kind.grpc_predict(f"127.0.0.1:{ports['grpc']}", demo_model.MODEL_NAME, INPUTS)
        assert rest == pytest.approx(expected), f"{service} REST"
        assert grpc == pytest.approx(expected), f"{service} gRPC"
