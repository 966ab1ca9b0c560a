"""The chart's NetworkPolicy is enforced (kind's kindnet enforces NetworkPolicies since kind
v0.24): a client in an allowed namespace gets a prediction, a client in any other namespace
does not get through."""

from __future__ import annotations

import uuid

from kubernetes import client

from tfserving_harness import kind
from tfserving_harness.cluster import CREATED_BY_LABEL, POD_SECURITY_ENFORCE, wait_until
from tfserving_harness.paths import chart_dir
from tfserving_harness.yamlio import load

ALLOWED_LABEL = {"tf-serving.io/client": "allowed"}


def client_pod_phase(core, namespace, url) -> str:
    """Run a restricted busybox pod (the helm test image) that POSTs one prediction; its phase."""
    test_image = load((chart_dir() / "values.yaml").read_text())["helmTest"]["image"]
    name = f"client-{uuid.uuid4().hex[:6]}"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{"name": "client", "image": f"{test_image['repository']}@{test_image['digest']}",
                                    "command": ["wget", "-q", "-T", "5", "-O", "-", "--header", "Content-Type: application/json",
                                                "--post-data", kind.rest_predict_body([1.0]), url],
                                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}}
    core.create_namespaced_pod(namespace, pod)

    def finished():
        phase = core.read_namespaced_pod(name, namespace).status.phase
        return phase in ("Succeeded", "Failed"), phase

    return wait_until(finished, what=f"client pod {namespace}/{name}", timeout=120, interval=2)


def test_network_policy_admits_the_allowed_namespace_and_blocks_another(e2e_api, kind_network_policies, e2e_release):
    core = client.CoreV1Api(e2e_api)
    namespaces = {}
    for role, labels in (("allowed", ALLOWED_LABEL), ("other", {})):
        name = f"np-{role}-{uuid.uuid4().hex[:6]}"
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
            name=name, labels={**CREATED_BY_LABEL, POD_SECURITY_ENFORCE: "restricted", **labels})))
        namespaces[role] = name
    try:
        release = e2e_release("network-policy", values={"networkPolicy": {
            "enabled": True, "clients": [{"namespaceSelector": {"matchLabels": ALLOWED_LABEL}}]}})
        url = f"http://tfs-tf-serving.{release.namespace}.svc:8501/v1/models/half_plus_two:predict"
        assert client_pod_phase(core, namespaces["allowed"], url) == "Succeeded", "a client from the allowed namespace must get through"
        assert client_pod_phase(core, namespaces["other"], url) == "Failed", "a client from another namespace must be blocked"
    finally:
        for name in namespaces.values():
            core.delete_namespace(name)
