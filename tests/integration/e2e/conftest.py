"""The end-to-end tier: the chart's pods really run, with real traffic, on k8s-local's real node
(the TF Serving stand-in image) or on kind (the real tensorflow/serving image).

The cluster is TFS_E2E_KUBECONFIG's, else KUBECONFIG's (tfserving_harness.e2e says which context);
`make test` in CI runs the cluster tier on stand-in nodes from KUBECONFIG and this tier on a real
node from TFS_E2E_KUBECONFIG. Without a cluster that runs containers every test is collected and
skipped with the reason; TFS_REQUIRE_E2E=1 (.ci/run) turns that into a failure, and
TFS_REQUIRE_KIND=1 (the GitHub workflow) fails unless the cluster is kind.

Each test says what it needs beyond pods that run, through a fixture that skips with the reason
where the cluster lacks it: `service_load_balancing` (the host's traffic spread over a Service's
pods by kube-proxy: the real node, whose host reaches ClusterIPs; not kind, reached by
port-forward), and, only on the kind cluster of `make kind-up`, `kind_ingress` (ingress-nginx),
`kind_network_policies` (an enforcing network plugin) and `kind_custom_metrics` (metrics-server,
Prometheus, prometheus-adapter).

`e2e_release(name, values_files=(), values=None, ...)` installs the chart into a fresh namespace
that enforces Pod Security `restricted`, with `--wait`, and returns the HelmRelease; on failure the
report gets the namespace's events and helm status. `numbers(text)` records a measurement, printed
in the run's summary ("e2e numbers").
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
import yaml
from kubernetes import client

from tfserving_harness import cluster as harness
from tfserving_harness import e2e, helm, kind
from tfserving_harness.values import merge


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first (marked `minutes(n)`): xdist hands tests out in collection order, and
    a long one handed out last would make the run that much longer."""
    def minutes(item):
        mark = item.get_closest_marker("minutes")
        return -mark.args[0] if mark else 0

    items.sort(key=minutes)


def _unavailable(message: str):
    if os.environ.get("TFS_REQUIRE_E2E") == "1" or os.environ.get("TFS_REQUIRE_KIND") == "1":
        variable = "TFS_REQUIRE_E2E" if os.environ.get("TFS_REQUIRE_E2E") == "1" else "TFS_REQUIRE_KIND"
        pytest.fail(f"{variable}=1 but the end-to-end tier cannot run: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def e2e_cluster() -> e2e.E2ECluster:
    found, why_not = e2e.find_e2e_cluster()
    if found is None:
        _unavailable(f"needs a cluster whose nodes run containers: {why_not}")
    if os.environ.get("TFS_REQUIRE_KIND") == "1" and found.what != harness.KIND:
        pytest.fail(f"TFS_REQUIRE_KIND=1 but {found.source} points at {found.what}, not kind", pytrace=False)
    return found


@pytest.fixture(scope="session")
def e2e_api(e2e_cluster):
    return e2e_cluster.api()


@pytest.fixture(scope="session")
def service_load_balancing(e2e_cluster):
    """Traffic from the test process that kube-proxy spreads over a Service's pods."""
    if e2e_cluster.why_no_service_load_balancing:
        pytest.skip(e2e_cluster.why_no_service_load_balancing)


def _kind_only(e2e_cluster, what: str) -> None:
    if e2e_cluster.what != harness.KIND:
        pytest.skip(f"needs {what}, which only the kind cluster of `make kind-up` has (k8s-local's real node has no ingress "
                    "controller, no Gateway, no NetworkPolicy enforcement, no metrics-server: ../shared/k8s-local/README.md)")


@pytest.fixture(scope="session")
def kind_ingress(e2e_cluster, e2e_api):
    """ingress-nginx, reached through kind's mapping of the control plane's port 80 to 127.0.0.1:KIND_HTTP_PORT."""
    import socket

    _kind_only(e2e_cluster, "ingress-nginx")
    controllers = client.AppsV1Api(e2e_api).list_namespaced_deployment("ingress-nginx", label_selector="app.kubernetes.io/component=controller")
    if not controllers.items:
        pytest.skip("needs ingress-nginx, which only the kind cluster of `make kind-up` has (`make demo` makes a bare one)")
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", kind.HTTP_PORT)) != 0:
            pytest.skip(f"needs the ingress on 127.0.0.1:{kind.HTTP_PORT} (kind's port mapping, KIND_HTTP_PORT): the cluster was made "
                        "without it (by `make demo`) or for another port; `make kind-down` then `make kind-up`")
    return kind.INGRESS_URL


@pytest.fixture(scope="session")
def kind_network_policies(e2e_cluster, e2e_api):
    """A network plugin that enforces NetworkPolicies: kind's kindnet does since kind v0.24."""
    _kind_only(e2e_cluster, "NetworkPolicy enforcement (kindnet)")
    pods = client.CoreV1Api(e2e_api).list_namespaced_pod("kube-system", label_selector="app=kindnet").items
    if not pods:
        pytest.skip("needs NetworkPolicy enforcement (kind's kindnet); this cluster's network plugin is not kindnet")


@pytest.fixture(scope="session")
def kind_custom_metrics(e2e_cluster, e2e_api):
    """metrics-server and prometheus-adapter serving the resource and custom metrics APIs."""
    _kind_only(e2e_cluster, "metrics-server, Prometheus and prometheus-adapter")
    registration = client.ApiregistrationV1Api(e2e_api)
    for name in ("v1beta1.metrics.k8s.io", "v1beta1.custom.metrics.k8s.io"):
        try:
            registration.read_api_service(name)
        except client.ApiException as error:
            if error.status != 404:
                raise
            pytest.skip(f"needs the {name} API (metrics-server, Prometheus + prometheus-adapter): only the kind cluster of `make kind-up` has it")


@pytest.fixture
def numbers(request):
    """`numbers(text)`: one measurement of this test, printed in the run's summary."""
    def record(text: str) -> None:
        request.node.user_properties.append((e2e.NUMBERS_PROPERTY, f"{request.node.name}: {text}"))
        print(f"e2e: {request.node.name}: {text}", flush=True)

    return record


def _crds_for_release(api, values_files, values: dict) -> None:
    """The vendored CRDs of the custom kinds the release renders (ServiceMonitor, HTTPRoute,
    ScaledObject...): the real node's API server serves none of them; nothing acts on them there."""
    documents = helm.render_chart(values, values_files=list(values_files))
    harness.install_crds(api, harness.crds_for(documents))


@pytest.fixture
def e2e_release(request, e2e_cluster, e2e_api, tmp_path, numbers):
    """`e2e_release(name, values_files=(), values=None, *, models="claim", model_path=None,
    sized=True, pod_security="restricted", wait=True, manifests=lambda namespace: [])` ->
    HelmRelease, installed (and waited for) as `tfs` in a fresh namespace, after the objects
    `manifests(namespace)` returns (PersistentVolumes among them are deleted after the test).

    Values, in order: the cluster's image (and the node's busybox for `helm test` on the real
    node), SMALL_RESOURCES unless `sized=False`, the demo model's versions 1 and 2 from the claim
    `demo-models` when `models="claim"` (its volume over `model_path`, default the tier's model
    folder on the node; `models="chart"` leaves the chart's own source, the built-in demo unless
    the values choose another), the values files, `values`, and Ingress hosts of the release's own.
    The values files' `# needs:` PriorityClasses and StorageClasses are created first (shared,
    kept). Installs record the time `helm install --wait` took in `numbers`."""
    core = client.CoreV1Api(e2e_api)
    made: list[str] = []
    volumes: list[str] = []
    request.node.tfs_namespaces = made
    request.node.tfs_cluster = (e2e_api, e2e_cluster.info.kubeconfig)

    def install(name: str, values_files=(), values: dict | None = None, *, models: str = "claim", model_path: str | None = None,
                sized: bool = True, pod_security: str | None = "restricted", wait: bool = True,
                manifests=lambda namespace: []) -> harness.HelmRelease:
        namespace = f"e2e-{name[:40].rstrip('-')}-{uuid.uuid4().hex[:6]}"
        for values_file in values_files:
            for need in harness.scenario_prerequisites(values_file):
                if need.kind in ("PriorityClass", "StorageClass"):
                    for manifest in harness.prerequisite_manifests(need, namespace):
                        harness.create_ignoring_existing(e2e_api, manifest)
        labels = {**harness.CREATED_BY_LABEL, **({harness.POD_SECURITY_ENFORCE: pod_security} if pod_security else {})}
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=labels)))
        made.append(namespace)
        layered = e2e_cluster.base_values()
        if sized:
            layered["resources"] = e2e.SMALL_RESOURCES
        if models == "claim":
            for manifest in kind.model_volume_manifests(namespace, host_path=model_path or e2e_cluster.model_root):
                harness.create_ignoring_existing(e2e_api, manifest)
            volumes.append(f"{namespace}-{kind.MODEL_CLAIM}")
            # Volume and claim name each other; the volume controller marks them Bound at its next pass.
            harness.wait_until(lambda: (core.read_namespaced_persistent_volume_claim(kind.MODEL_CLAIM, namespace).status.phase == "Bound",
                                        "Pending"), what=f"claim {namespace}/{kind.MODEL_CLAIM} to be Bound", timeout=60, interval=0.2)
            layered = merge(layered, e2e.model_claim_values())
            if sized:
                layered["resources"] = e2e.SMALL_RESOURCES
        elif models != "chart":
            raise ValueError(f"models must be 'claim' or 'chart', got {models!r}")
        for manifest in manifests(namespace):
            harness.create_ignoring_existing(e2e_api, manifest)
            if manifest["kind"] == "PersistentVolume":
                volumes.append(manifest["metadata"]["name"])
        layered = merge(merge(layered, dict(values or {})),
                        {"ingress": {"host": kind.ingress_host(namespace), "grpc": {"host": f"grpc.{kind.ingress_host(namespace)}"}}})
        overlay = tmp_path / f"{namespace}-values.yaml"
        overlay.write_text(yaml.safe_dump(layered))
        if e2e_cluster.real_node:
            _crds_for_release(e2e_api, values_files, layered)
        release = harness.HelmRelease("tfs", namespace, e2e_cluster.info.kubeconfig, timeout="600s", context=e2e_cluster.info.context)
        started = time.monotonic()
        release.install([*values_files, overlay], wait=wait)
        if wait:
            numbers(f"helm install --wait (to Ready) {time.monotonic() - started:.1f}s")
        return release

    yield install
    for namespace in made:
        try:
            core.delete_namespace(namespace)
            # A terminating namespace admits no new pods; its pods would otherwise idle through their
            # grace period (60 s by default), holding memory the next tests need.
            core.delete_collection_namespaced_pod(namespace, grace_period_seconds=0)
        except client.ApiException as error:
            if error.status != 404:
                raise
    for name in volumes:
        try:
            core.delete_persistent_volume(name)
        except client.ApiException as error:
            if error.status != 404:
                raise
