"""The chart's defaults install for real: helm install --wait into a namespace that enforces Pod
Security `restricted`, with every pod admitted (the ReplicaSet records no FailedCreate)."""

from __future__ import annotations

import uuid

from kubernetes import client, config

from tfserving_harness import helm
from tfserving_harness.paths import chart_dir


def test_defaults_install_and_pods_are_admitted_under_restricted(cluster):
    api = config.new_client_from_config(config_file=cluster.kubeconfig)
    core = client.CoreV1Api(api)
    namespace = f"smoke-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=namespace, labels={"pod-security.kubernetes.io/enforce": "restricted"})))
    try:
        result = helm.run_helm(
            ["install", "smoke", str(chart_dir()), "--namespace", namespace, "--wait", "--timeout", "120s",
             "--kubeconfig", cluster.kubeconfig],
            check=False,
        )
        events = core.list_namespaced_event(namespace).items
        refused = [f"{e.involved_object.kind}/{e.involved_object.name}: {e.message}" for e in events if e.reason == "FailedCreate"]
        assert result.returncode == 0, result.stderr
        assert not refused, refused
        pods = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/instance=smoke").items
        assert pods and all(p.status.phase == "Running" for p in pods), [(p.metadata.name, p.status.phase) for p in pods]
    finally:
        helm.run_helm(["uninstall", "smoke", "--namespace", namespace, "--kubeconfig", cluster.kubeconfig], check=False)
        core.delete_namespace(namespace)
