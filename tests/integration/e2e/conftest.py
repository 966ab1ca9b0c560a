"""The end-to-end tier: the chart's pods really run, with real traffic (today on kind with the real
tensorflow/serving image).

Needs a cluster whose nodes run containers and have the TF Serving image and the demo model
(`make kind-up`, i.e. scripts/kind.py create: docker, kind, kubectl). The context is
TFS_KUBE_CONTEXT if set, else kind-$KIND_CLUSTER (default kind-tf-serving) when the kubeconfig has
it, else the current one. Without such a cluster every test is collected and skipped with the
reason; TFS_REQUIRE_KIND=1 turns the skip into a failure (the GitHub workflow sets it). What only
the kind cluster of `make kind-up` has (ingress-nginx on 127.0.0.1:KIND_HTTP_PORT, NetworkPolicy
enforcement, metrics-server + Prometheus + prometheus-adapter) is asked for by the tests that
need it through the fixtures below, which skip with that reason elsewhere.

Fixtures: `kind_cluster` (ClusterInfo), `kind_api`, `kind_release` (a factory that installs the
chart with a scenario's values plus the demo values into a fresh `restricted` namespace, after the
scenario's `# needs:` classes, and returns the HelmRelease; on failure the report gets the
namespace's events and helm status), `kind_ingress` (ingress-nginx reachable through kind's port
mapping), `kind_network_policies` and `kind_custom_metrics`.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest
import yaml
from kubernetes import client, config, utils

from tfserving_harness import cluster as harness
from tfserving_harness import kind


def _unavailable(message: str):
    if os.environ.get("TFS_REQUIRE_KIND") == "1":
        pytest.fail(f"TFS_REQUIRE_KIND=1 but the kind tier cannot run: {message}", pytrace=False)
    pytest.skip(message)


def _context() -> str | None:
    """The context to test against: named, never whatever happens to be current when a kind cluster is there."""
    if os.environ.get("TFS_KUBE_CONTEXT"):
        return os.environ["TFS_KUBE_CONTEXT"]
    wanted = kind.kube_context(os.environ.get("KIND_CLUSTER", kind.CLUSTER_NAME))
    try:
        contexts, _ = config.list_kube_config_contexts(config_file=harness.kubeconfig_path().split(os.pathsep)[0])
    except Exception:  # no kubeconfig: find_cluster says so
        return None
    return wanted if any(c["name"] == wanted for c in contexts) else None


@pytest.fixture(scope="session")
def kind_cluster():
    info, why_not = harness.find_cluster(_context())
    how = "create one with `make kind-up` (needs docker, kind and kubectl)"
    if info is None:
        _unavailable(f"needs a kind cluster running the tensorflow/serving image: {why_not}")
    api = config.new_client_from_config(config_file=info.kubeconfig, context=info.context)
    nodes = client.CoreV1Api(api).list_node().items
    what = harness.cluster_kind(nodes)
    if what == harness.STAND_IN_NODES:
        _unavailable(f"KUBECONFIG points at k8s-local, whose stand-in nodes run no containers (no TF Serving, no traffic): {how}")
    if what != harness.KIND:
        _unavailable(f"the cluster of context {info.context or '(current)'} is {what}, not the kind cluster the e2e tier installs into "
                     f"(it puts the demo model on the nodes): {how}, or set TFS_KUBE_CONTEXT")
    images = {name for n in nodes for image in (n.status.images or []) for name in (image.names or [])}
    if not any(name.endswith(kind.TFS_IMAGE.removeprefix("docker.io/")) or name == kind.TFS_IMAGE for name in images):
        _unavailable(f"the cluster's nodes do not have {kind.TFS_IMAGE}: {how}")
    return info


@pytest.fixture(scope="session")
def kind_api(kind_cluster):
    return config.new_client_from_config(config_file=kind_cluster.kubeconfig, context=kind_cluster.context)


@pytest.fixture(scope="session")
def kind_ingress(kind_api):
    """ingress-nginx, reached through kind's mapping of the control plane's port 80 to 127.0.0.1:KIND_HTTP_PORT."""
    controllers = client.AppsV1Api(kind_api).list_namespaced_deployment("ingress-nginx", label_selector="app.kubernetes.io/component=controller")
    if not controllers.items:
        pytest.skip("needs ingress-nginx, which only the kind cluster of `make kind-up` has (`make demo` makes a bare one)")
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", kind.HTTP_PORT)) != 0:
            pytest.skip(f"needs the ingress on 127.0.0.1:{kind.HTTP_PORT} (kind's port mapping, KIND_HTTP_PORT): the cluster was made "
                        "without it (by `make demo`) or for another port; `make kind-down` then `make kind-up`")
    return kind.INGRESS_URL


@pytest.fixture(scope="session")
def kind_network_policies(kind_cluster, kind_api):
    """A network plugin that enforces NetworkPolicies: kind's kindnet does since kind v0.24."""
    pods = client.CoreV1Api(kind_api).list_namespaced_pod("kube-system", label_selector="app=kindnet").items
    if not pods:
        pytest.skip("needs NetworkPolicy enforcement (kind's kindnet); this cluster's network plugin is not kindnet")


@pytest.fixture(scope="session")
def kind_custom_metrics(kind_api):
    """metrics-server and prometheus-adapter serving the resource and custom metrics APIs."""
    registration = client.ApiregistrationV1Api(kind_api)
    for name in ("v1beta1.metrics.k8s.io", "v1beta1.custom.metrics.k8s.io"):
        try:
            registration.read_api_service(name)
        except client.ApiException as error:
            if error.status != 404:
                raise
            pytest.skip(f"needs the {name} API (metrics-server, Prometheus + prometheus-adapter): only the kind cluster of `make kind-up` has it")


def _create_ignoring_existing(api, manifest: dict) -> None:
    try:
        utils.create_from_dict(api, manifest)
    except utils.FailToCreateError as error:
        if any(getattr(e, "status", None) != 409 for e in error.api_exceptions):
            raise


@pytest.fixture
def kind_release(request, kind_cluster, kind_api, tmp_path):
    """`kind_release(name, values_files=(), values=None, pod_security="restricted")` -> HelmRelease
    installed and waited for, serving the demo model from the `demo-models` claim, its Ingress
    hosts its own (kind.release_values). The values files' `# needs:` priority and storage classes
    are created first (shared, kept); their claims are replaced by the demo claim (kind_overlay)."""
    core = client.CoreV1Api(kind_api)
    made: list[str] = []
    request.node.tfs_namespaces = made
    request.node.tfs_cluster = (kind_api, kind_cluster.kubeconfig)

    def install(name: str, values_files=(), values: dict | None = None, pod_security: str | None = "restricted", wait: bool = True):
        namespace = f"{name[:40]}-{uuid.uuid4().hex[:6]}"
        for values_file in values_files:
            for need in harness.scenario_prerequisites(values_file):
                if need.kind in ("PriorityClass", "StorageClass"):
                    for manifest in harness.prerequisite_manifests(need, namespace):
                        _create_ignoring_existing(kind_api, manifest)
        labels = {**harness.CREATED_BY_LABEL, **({harness.POD_SECURITY_ENFORCE: pod_security} if pod_security else {})}
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=labels)))
        made.append(namespace)
        for manifest in kind.model_volume_manifests(namespace):
            utils.create_from_dict(kind_api, manifest)
        overlay = tmp_path / f"{namespace}-values.yaml"
        overlay.write_text(yaml.safe_dump(kind.release_values(namespace, values)))
        release = harness.HelmRelease("tfs", namespace, kind_cluster.kubeconfig, timeout="600s", context=kind_cluster.context)
        release.install([*values_files, overlay], wait=wait)
        return release

    yield install
    for namespace in made:
        core.delete_namespace(namespace)
        try:
            core.delete_persistent_volume(f"{namespace}-{kind.MODEL_CLAIM}")
        except client.ApiException as error:
            if error.status != 404:
                raise
