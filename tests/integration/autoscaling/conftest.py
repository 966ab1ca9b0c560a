"""The autoscaling tier: the whole loop on k8s-local's real node. Locust (loadtests/k8s's master and
worker Jobs) -> the release's Service -> TF Serving stand-in pods -> their metrics -> a real
Prometheus -> the prometheus-adapter stand-in with the chart's rules (or the metrics-server stand-in
over the real kubelet) -> the real HPA controller -> new pods started by the kubelet, Ready through
their probes -> back in when the load stops, judged by tfserving_harness.load.verifier.

Needs a k8s-local cluster with a real node (`REAL_NODE=1 ../shared/k8s-local/up.sh`), from
TFS_E2E_KUBECONFIG or else KUBECONFIG (the e2e tier's, which shares the one real node); the stand-in and Locust images are built and imported
when the node lacks them, for which K8S_LOCAL_DIR must name the cluster's state directory (as for
`make standin-image LOAD=1`). Without such a cluster every test is skipped with the reason;
TFS_REQUIRE_AUTOSCALING=1 turns the skip into a failure (`.ci/run` sets it). Each test writes its
report (timeline.png, summary.json, the Deployment/HPA record) under artifacts/autoscaling/<test>/.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from tfserving_harness import cluster as harness
from tfserving_harness import e2e, helm
from tfserving_harness.autoscaling.stacks import CustomMetrics, ResourceMetrics, say
from tfserving_harness.load import image as locust_image_builder
from tfserving_harness.paths import REPO_ROOT, chart_dir
from tfserving_harness.standin import image as standin_image_builder

#: The adapter's rate window (autoscaling.prometheusAdapter.rateWindow): the releases install it too.
RATE_WINDOW = "20s"


def _unavailable(message: str):
    if os.environ.get("TFS_REQUIRE_AUTOSCALING") == "1":
        pytest.fail(f"TFS_REQUIRE_AUTOSCALING=1 but the autoscaling tier cannot run: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def real_node() -> tuple[str, client.ApiClient]:
    kubeconfig, _ = e2e.e2e_kubeconfig()
    how = "start one with `REAL_NODE=1 ../shared/k8s-local/up.sh` and point TFS_E2E_KUBECONFIG (or KUBECONFIG) at it"
    if not Path(kubeconfig).is_file():
        _unavailable(f"needs k8s-local's real node: no kubeconfig at {kubeconfig}; {how}")
    try:
        api = config.new_client_from_config(config_file=kubeconfig)
        nodes = client.CoreV1Api(api).list_node(_request_timeout=10).items
    except Exception as error:  # noqa: BLE001 - any failure to reach it means: no cluster here
        _unavailable(f"needs k8s-local's real node: the cluster in {kubeconfig} does not answer ({error}); {how}")
    kind = harness.cluster_kind(nodes)
    if kind != harness.REAL_NODE:
        _unavailable(f"needs k8s-local's real node (pods that run, its kubelet and host routes to pod IPs); {kubeconfig} is {kind}; {how}")
    for tool in ("kubectl", "prometheus", "openssl"):
        if shutil.which(tool) is None:
            _unavailable(f"needs `{tool}` on PATH (kubectl: kustomize and cp; prometheus: Debian's package; openssl: serving certificates)")
    return kubeconfig, api


def _ensure_image(api: client.ApiClient, ref: str, build) -> None:
    """Build and import `ref` unless the node has it; one process at a time (xdist workers share the node)."""
    def present() -> bool:
        names = {n for node in client.CoreV1Api(api).list_node().items for i in node.status.images or [] for n in i.names or []}
        return f"docker.io/{ref}" in names

    if present():
        return
    if not os.environ.get("K8S_LOCAL_DIR"):
        _unavailable(f"the real node has no {ref} and K8S_LOCAL_DIR does not name the cluster's state directory to import it into")
    lock_path = REPO_ROOT / ".cache" / "autoscaling-images.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not present():
            say(f"building and importing {ref} (the real node does not have it)")
            build()


@pytest.fixture(scope="session")
def standin_image(real_node) -> str:
    ref = standin_image_builder.IMAGE
    tfs_api = "tensorflow-serving-api==2.20.0"  # the Makefile's TFS_API

    def build():
        archive = standin_image_builder.build(tfs_api, cache_dir=REPO_ROOT / ".cache" / "standin-image")
        standin_image_builder.load(archive, ref)

    _ensure_image(real_node[1], ref, build)
    return ref


@pytest.fixture(scope="session")
def locust_image(real_node) -> str:
    ref = locust_image_builder.image()

    def build():
        archive, built = locust_image_builder.build(cache_dir=REPO_ROOT / ".cache" / "locust-image")
        standin_image_builder.load(archive, built)

    _ensure_image(real_node[1], ref, build)
    return ref


@pytest.fixture(scope="session")
def service_monitor_crd(real_node):
    """The vendored ServiceMonitor CRD (cluster-wide, kept like the cluster tier keeps its CRDs)."""
    kubeconfig, api = real_node
    crds = client.ApiextensionsV1Api(api)
    try:
        crds.read_custom_resource_definition("servicemonitors.monitoring.coreos.com")
    except client.ApiException as error:
        if error.status != 404:
            raise
        path = next(p for (group, kind), p in harness.vendored_crds().items() if kind == "ServiceMonitor")
        crds.create_custom_resource_definition(yaml.safe_load(path.read_text()))
        harness.wait_until(lambda: (any(c.type == "Established" and c.status == "True" for c in
                                        crds.read_custom_resource_definition("servicemonitors.monitoring.coreos.com").status.conditions or []),
                                    "not Established"), what="the ServiceMonitor CRD", timeout=60)


@pytest.fixture(scope="session")
def custom_metrics(real_node, service_monitor_crd):
    """Prometheus + the prometheus-adapter stand-in (the chart's rules), registered as custom.metrics.k8s.io."""
    kubeconfig, api = real_node
    with CustomMetrics(api, kubeconfig, rate_window=RATE_WINDOW, progress=say) as stack:
        yield stack


@pytest.fixture(scope="session")
def resource_metrics(real_node):
    """The metrics-server stand-in over the real kubelet, registered as metrics.k8s.io."""
    kubeconfig, api = real_node
    with ResourceMetrics(api, kubeconfig, progress=say) as stack:
        yield stack


@pytest.fixture(scope="module")
def release_factory(real_node, standin_image, tmp_path_factory):
    """`install(prefix, values)` -> namespace: the chart installed as `tfs` with the stand-in image into a fresh
    `restricted` namespace, waited for. The namespaces are deleted when the module is done."""
    kubeconfig, api = real_node
    core = client.CoreV1Api(api)
    made: list[str] = []
    repository, tag = standin_image.rsplit(":", 1)
    directory = tmp_path_factory.mktemp("values")

    def install(prefix: str, values: dict) -> str:
        namespace = f"{prefix}-{uuid.uuid4().hex[:6]}"
        labels = {**harness.CREATED_BY_LABEL, harness.POD_SECURITY_ENFORCE: "restricted"}
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=labels)))
        made.append(namespace)
        path = directory / f"{namespace}.yaml"
        path.write_text(yaml.safe_dump({"image": {"repository": repository, "tag": tag, "pullPolicy": "Never"}, **values}))
        say(f"helm install tfs into {namespace}")
        done = helm.run_helm(["install", "tfs", str(chart_dir()), "--namespace", namespace, "--values", str(path), "--wait",
                              "--timeout", "180s", "--kubeconfig", kubeconfig], check=False)
        assert done.returncode == 0, f"helm install into {namespace} failed: {done.stderr}"
        return namespace

    yield install
    for namespace in made:  # the release, the Locust Jobs and their pods go with it
        try:
            core.delete_namespace(namespace)
        except client.ApiException as error:
            if error.status != 404:
                raise
