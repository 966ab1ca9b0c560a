"""Every ci/ scenario for real, in one lifecycle per scenario (one namespace, one release):

install --wait into a namespace that enforces Pod Security `restricted` (a scenario with a
`pod-security-exception` gets `baseline` and says why) -> every pod admitted (no ReplicaSet
FailedCreate) and Running -> `helm test` (its hook pod admitted too) -> upgrade to the chart's
defaults with --reset-values -> back to the scenario with --reset-values -> `helm rollback` to the
defaults revision. The scenario's `# needs:` objects and the CRDs it renders are created first.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from tfserving_harness import helm
from tfserving_harness.cluster import HelmRelease, failed_creates, wait_until
from tfserving_harness.testing import ci_scenarios, kube_version_tuple, scenario_directives

RELEASE = "tfs"


def assert_pods_admitted_and_running(core, namespace, step):
    refused = failed_creates(core.list_namespaced_event(namespace).items)
    assert not refused, f"{step}: admission refused pods: {refused}"

    def serving_pods_running():
        pods = core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/instance={RELEASE},tf-serving.io/track").items
        live = [p for p in pods if not p.metadata.deletion_timestamp]
        states = sorted((p.metadata.name, p.status.phase) for p in live)
        return bool(live) and all(phase == "Running" for _, phase in states), states

    wait_until(serving_pods_running, what=f"{step}: serving pods Running", timeout=60)


def assert_stored_as_rendered(apps, namespace, documents):
    """The API server keeps what the chart renders: a field it does not know (a feature gate that is
    off) is dropped silently, and the pods then start without it."""
    for doc in (d for d in documents if d["kind"] == "Deployment"):
        stored = apps.read_namespaced_deployment(doc["metadata"]["name"], namespace).spec.template.spec
        rendered = doc["spec"]["template"]["spec"]
        assert sorted(v.name for v in stored.volumes or []) == sorted(v["name"] for v in rendered.get("volumes", [])), doc["metadata"]["name"]
        for stored_container, container in zip(stored.containers, rendered["containers"], strict=True):
            assert stored_container.args == container.get("args"), doc["metadata"]["name"]


@pytest.mark.parametrize("values_file", ci_scenarios())
def test_scenario_installs_tests_upgrades_and_rolls_back(values_file, cluster, kube_api, namespace, install_prerequisites):
    directives = scenario_directives(values_file)
    minimum = directives.get("min-kube-version")
    if minimum and kube_version_tuple(cluster.server_version) < kube_version_tuple(minimum):
        pytest.skip(f"{values_file.name} needs Kubernetes {minimum}+ (default feature gates), the cluster runs "
                    f"{cluster.server_version}; the unit tier checks that the chart refuses it there")
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    exception = directives.get("pod-security-exception")
    ns = namespace(values_file.name.removesuffix("-values.yaml"), pod_security="baseline" if exception else "restricted")
    server = ".".join(map(str, kube_version_tuple(cluster.server_version)))
    documents = helm.render_chart(values_files=[values_file], name=RELEASE, namespace=ns, kube_version=server)
    install_prerequisites(values_file, ns, documents)
    release = HelmRelease(RELEASE, ns, cluster.kubeconfig)

    release.install([values_file])
    assert_pods_admitted_and_running(core, ns, "install")
    assert_stored_as_rendered(apps, ns, documents)

    tested = release.test()
    assert "Phase:          Succeeded" in tested.stdout, tested.stdout
    assert not failed_creates(core.list_namespaced_event(ns).items)

    release.upgrade()
    assert_pods_admitted_and_running(core, ns, "upgrade to the defaults")
    release.upgrade([values_file])
    assert_pods_admitted_and_running(core, ns, "upgrade back to the scenario")
    release.rollback(2)
    assert_pods_admitted_and_running(core, ns, "rollback to the defaults revision")
    assert release.status() == (4, "deployed")
