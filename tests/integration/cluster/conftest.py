"""The cluster tier: real installs against any Kubernetes API server (../shared/k8s-local in CI).

The API server comes from KUBECONFIG (pytest-helm-charts' `--kube-config` option works too). Without
one that answers, every test here is skipped with the reason; with TFS_REQUIRE_CLUSTER=1 (set by
.ci/run) a missing API server fails the tier instead, so CI can never pass by skipping it.

Fixtures: `cluster` (ClusterInfo or skip), `kube_api` (a kubernetes ApiClient), `kube_config` and
`kube_cluster` (pytest-helm-charts', bound to the same cluster), `namespace` (a factory: a fresh
namespace enforcing Pod Security `restricted` by default; on failure the test's report gets every
event and the helm status of each namespace it made), `install_prerequisites` (a scenario's
`# needs:` objects and the vendored CRDs its custom resources need).
"""

from __future__ import annotations

import os
import uuid

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tfserving_harness import cluster as harness
from tfserving_harness.cluster import find_cluster


@pytest.fixture(scope="session")
def cluster():
    """The API server under test, or a skip saying how to provide one."""
    info, why_not = find_cluster()
    if info is None:
        message = f"needs a Kubernetes API server: {why_not}, or start ../shared/k8s-local/up.sh"
        if os.environ.get("TFS_REQUIRE_CLUSTER") == "1":
            pytest.fail(f"TFS_REQUIRE_CLUSTER=1 but the cluster tier cannot run: {message}", pytrace=False)
        pytest.skip(message)
    nodes = client.CoreV1Api(config.new_client_from_config(config_file=info.kubeconfig, context=info.context)).list_node().items
    if harness.cluster_kind(nodes) == harness.REAL_NODE:
        # Every scenario names the real tensorflow/serving image, which a real node here cannot pull.
        message = ("KUBECONFIG points at k8s-local's real node, which cannot pull tensorflow/serving; the cluster tier needs "
                   "stand-in nodes (../shared/k8s-local/up.sh without REAL_NODE=1)")
        if os.environ.get("TFS_REQUIRE_CLUSTER") == "1":
            pytest.fail(f"TFS_REQUIRE_CLUSTER=1 but the cluster tier cannot run: {message}", pytrace=False)
        pytest.skip(message)
    return info


@pytest.fixture(scope="session")
def kube_api(cluster):
    return config.new_client_from_config(config_file=cluster.kubeconfig, context=cluster.context)


@pytest.fixture(scope="module")
def kube_config(cluster) -> str:
    """pytest-helm-charts' kubeconfig fixture, from the same discovery (so it skips the same way)."""
    return cluster.kubeconfig


@pytest.fixture
def namespace(request, cluster, kube_api):
    """`namespace(prefix, pod_security="restricted")` -> name of a new namespace that enforces that
    Pod Security level (None: no label). Deleted after the test without waiting for the namespace
    controller (pytest-helm-charts' namespace_factory waits, which costs seconds per scenario)."""
    core = client.CoreV1Api(kube_api)
    made: list[str] = []
    request.node.tfs_namespaces = made
    request.node.tfs_cluster = (kube_api, cluster.kubeconfig)

    def make(prefix: str, pod_security: str | None = "restricted") -> str:
        name = f"{prefix[:40].rstrip('-')}-{uuid.uuid4().hex[:6]}"
        labels = {**harness.CREATED_BY_LABEL, **({harness.POD_SECURITY_ENFORCE: pod_security} if pod_security else {})}
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
        made.append(name)
        return name

    yield make
    for name in made:
        try:
            core.delete_namespace(name)
        except ApiException as error:
            if error.status != 404:
                raise


@pytest.fixture
def install_prerequisites(kube_api, request):
    """`install_prerequisites(values_file, namespace, documents)`: the scenario's `# needs:` objects,
    a stand-in volume for every claim the chart renders, and the vendored CRDs of its custom kinds
    (Established before returning). Volumes are deleted after the test; cluster-scoped classes stay."""
    core = client.CoreV1Api(kube_api)
    volumes: list[str] = []

    def install(values_file, namespace: str, documents) -> None:
        manifests = []
        for need in harness.scenario_prerequisites(values_file):
            if need.kind == "GPUNode":
                label_gpu_node(core, need)
            manifests += harness.prerequisite_manifests(need, namespace)
        manifests += harness.volumes_for_claims(documents, namespace)
        for manifest in manifests:
            harness.create_ignoring_existing(kube_api, manifest)
            if manifest["kind"] == "PersistentVolume":
                volumes.append(manifest["metadata"]["name"])
        harness.install_crds(kube_api, harness.crds_for(documents))

    yield install
    for name in volumes:
        try:
            core.delete_persistent_volume(name)
        except ApiException as error:
            if error.status != 404:
                raise


def label_gpu_node(core, need) -> None:
    nodes = core.list_node().items
    stand_ins = [n for n in nodes if n.metadata.labels.get("node.kubernetes.io/instance-type") == "stand-in"]
    if not stand_ins:
        pytest.skip(f"needs a GPU node ({need.name}); the tier labels only k8s-local's stand-in nodes, never a real cluster's")
    metadata, status = harness.gpu_node_patch(need)
    core.patch_node(stand_ins[0].metadata.name, metadata)
    core.patch_node_status(stand_ins[0].metadata.name, status)
