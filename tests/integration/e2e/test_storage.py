"""Models from a claim: a static hostPath PersistentVolume on the node holding the demo model,
bound to the claim before any pod exists (so no pod waits for binding), mounted read-only, read by
the server as UID 10001; for a claim the user made (`existingClaim`) and for the one the chart makes
(`pvc`)."""

from __future__ import annotations

import subprocess

import pytest
from kubernetes import client

from tfserving_harness import e2e
from tfserving_harness.cluster import CREATED_BY_LABEL

#: A class without a provisioner: the test plays the provisioner and binds its own volume.
STATIC_CLASS = "tfs-e2e-static"
CHART_CLAIM = "tfs-tf-serving-models"


def pvc_source_manifests(cluster: e2e.E2ECluster, namespace: str) -> list[dict]:
    """The class of the chart's claim and a volume bound to that claim by name (claimRef)."""
    return [
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": STATIC_CLASS, "labels": dict(CREATED_BY_LABEL)},
         "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "Immediate", "reclaimPolicy": "Retain"},
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"{namespace}-{CHART_CLAIM}", "labels": dict(CREATED_BY_LABEL)},
         "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadOnlyMany"], "storageClassName": STATIC_CLASS,
                  "persistentVolumeReclaimPolicy": "Retain", "claimRef": {"namespace": namespace, "name": CHART_CLAIM},
                  "hostPath": {"path": cluster.model_root, "type": "Directory"}}},
    ]


def in_server(cluster: e2e.E2ECluster, namespace: str, pod: str, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run([*cluster.kubectl(), "-n", namespace, "exec", pod, "-c", e2e.CONTAINER, "--", *command],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("source", ["existingClaim", "pvc"])
def test_models_from_a_claim_mounted_read_only_as_uid_10001(source, e2e_cluster, e2e_api, e2e_release):
    if source == "existingClaim":
        release = e2e_release("claim-existing")  # the tier's claim `demo-models`, volume and claim naming each other
        claim = "demo-models"
    else:
        values = {"modelStorage": {"source": "pvc", "mountPath": "/models",
                                   "pvc": {"storageClassName": STATIC_CLASS, "size": "1Gi", "accessModes": ["ReadOnlyMany"]}},
                  "models": e2e.model_claim_values()["models"]}
        release = e2e_release("claim-pvc", values=values, models="chart",
                              manifests=lambda namespace: pvc_source_manifests(e2e_cluster, namespace))
        claim = CHART_CLAIM
    core = client.CoreV1Api(e2e_api)
    bound = core.read_namespaced_persistent_volume_claim(claim, release.namespace)
    assert bound.status.phase == "Bound" and bound.spec.volume_name == f"{release.namespace}-{claim}"
    (pod,) = [p.metadata.name for p in core.list_namespaced_pod(release.namespace, label_selector="tf-serving.io/track").items]
    if source == "existingClaim":  # bound before the install; the chart's own claim is bound once the chart made it
        waited = [e.message for e in core.list_namespaced_event(release.namespace).items if e.reason == "FailedScheduling"]
        assert waited == [], "the pod must not wait for its claim to bind"

    status = in_server(e2e_cluster, release.namespace, pod, "cat", "/proc/1/status").stdout
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert uids == ["10001"] * 4, f"the server runs as {uids}"
    mounts = in_server(e2e_cluster, release.namespace, pod, "cat", "/proc/1/mountinfo").stdout
    (models_mount,) = [line.split() for line in mounts.splitlines() if line.split()[4] == "/models"]
    assert "ro" in models_mount[5].split(","), f"/models is mounted {models_mount[5]}"
    write = in_server(e2e_cluster, release.namespace, pod, "bash", "-c", "echo x > /models/half_plus_two/written-by-the-server")
    assert write.returncode != 0 and "Read-only file system" in write.stderr, write.stderr
    listing = in_server(e2e_cluster, release.namespace, pod, "ls", "/models/half_plus_two").stdout.split()
    assert {"1", "2"} <= set(listing), listing
    assert e2e.wrong_answers(e2e_cluster, core, release.namespace, version=2, scalar=False) == []
