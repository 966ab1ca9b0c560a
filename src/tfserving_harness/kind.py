"""The kind tier's cluster: pinned versions, the kind config, the add-ons (metrics-server,
ingress-nginx, Envoy Gateway, Prometheus + prometheus-adapter from the chart's generated rules),
the demo model on the nodes, port-forwards, and requests through the ingress (the clients
themselves are in tfserving_harness.clients).

scripts/kind.py, `make demo` and tests/integration/e2e use this module; the parts that need no cluster
(versions, config, command lines, request bodies, answers) are unit-tested (tests/harness/test_kind.py).

Support table (each line checked against the upstream file named, at the pinned tag):

    Kubernetes   kind v0.29.0 node image   ingress-nginx 4.13.9   Envoy Gateway v1.4   metrics-server 0.7
    1.29         none (v1.29.14 is v0.27.0's)  yes                no (1.30-1.33)       yes
    1.30-1.33    yes (release notes)           yes (1.29-1.33)    yes                  yes (1.19+)

kind v0.29.0's release notes list node images for 1.30-1.33 only; ingress-nginx's README
"Supported Versions table" (helm-chart-4.13.9) gives 1.29-1.33 for controller v1.13; Envoy
Gateway's site/content/en/news/releases/matrix.md (v1.4.1) gives 1.30-1.33 for v1.4;
metrics-server's README "Compatibility Matrix" (metrics-server-helm-chart-3.12.2) gives 1.19+ for
0.7.x. So the kind tier runs 1.30 to 1.33; the chart's kubeVersion (>=1.29) is rendered and
schema-checked on 1.29 by the unit tier, not run on kind.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .paths import REPO_ROOT

#: kind release whose node images are pinned below (https://github.com/kubernetes-sigs/kind/releases/tag/v0.29.0).
KIND_VERSION = "v0.29.0"
#: Kubernetes minor -> the node image kind v0.29.0 published for it (its release notes), by digest.
#: kind supports an image only with the release that published it.
NODE_IMAGES = {
    "1.30": "kindest/node:v1.30.13@sha256:397209b3d947d154f6641f2d0ce8d473732bd91c87d9575ade99049aa33cd648",
    "1.31": "kindest/node:v1.31.9@sha256:b94a3a6c06198d17f59cca8c6f486236fa05e2fb359cbd75dabbfc348a10b211",
    "1.32": "kindest/node:v1.32.5@sha256:e3b2327e3a5ab8c76f5ece68936e4cafaa82edf58486b769727ab0b3b97a5b0d",
    "1.33": "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f",
}
DEFAULT_KUBERNETES = "1.33"
CLUSTER_NAME = "tf-serving"
#: The TF Serving image the demo and the kind tier run (the chart's appVersion). Published for
#: linux/amd64 only: tensorflow_serving/tools/docker/Dockerfile.devel (2.20.0) builds with the
#: x86_64 Bazel installer and .bazelrc's `--config=release` (-mavx -msse4.2).
TFS_IMAGE = "docker.io/tensorflow/serving:2.20.0"
TFS_IMAGE_PLATFORM = "linux/amd64"
#: Where the demo model is built on the host, and where it is copied to inside every node (a copy,
#: not a mount: `make clean` may delete the host folder under a live cluster).
HOST_MODEL_DIR = REPO_ROOT / ".demo" / "models"
NODE_MODEL_DIR = "/srv/tf-serving-models"
#: The claim (and its hostPath volume) through which pods read the demo model: modelStorage.source existingClaim.
MODEL_CLAIM = "demo-models"
DEMO_NAMESPACE = "tf-serving-demo"
#: Host port (on 127.0.0.1) that kind maps to the ingress controller's port 80 on the
#: control-plane node; KIND_HTTP_PORT overrides it. Only a cluster made for the add-ons has it.
HTTP_PORT = int(os.environ.get("KIND_HTTP_PORT", "8080"))


def kube_context(cluster: str = CLUSTER_NAME) -> str:
    """The kubeconfig context `kind create cluster` writes for `cluster`: every command names it,
    so a reused cluster never receives what was meant for whatever context is current."""
    return f"kind-{cluster}"


@dataclass(frozen=True)
class Addon:
    """One pinned Helm chart the kind cluster runs. `values` go to helm as a YAML document on stdin
    (`--values -`), never `--set`: `--set key=true` makes a boolean where Kubernetes wants a string
    (node selectors, labels, annotations), and the API server refuses the object."""

    release: str
    namespace: str
    chart: str
    version: str
    repo: str = ""  # empty: `chart` is an OCI reference
    values: Mapping[str, Any] = field(default_factory=dict)
    values_files: tuple[Path, ...] = ()
    #: Kubernetes minors the add-on's upstream supports at this version (oldest, newest; None: no upper bound stated).
    kubernetes: tuple[str, str | None] = ("1.19", None)


ADDONS = (
    # Compatibility Matrix in metrics-server's README: 0.7.x (chart 3.12.x) supports 1.19+.
    Addon("metrics-server", "kube-system", "metrics-server", "3.12.2", "https://kubernetes-sigs.github.io/metrics-server/",
          {"args": ["--kubelet-insecure-tls"]}),
    # kind's ingress recipe: the controller on the control-plane node (labelled ingress-ready by
    # kind_config), on its host port 80, which kind maps to 127.0.0.1:HTTP_PORT. Controller v1.13
    # supports 1.29-1.33 (README "Supported Versions table"); ingress-nginx was retired in March 2026.
    Addon("ingress-nginx", "ingress-nginx", "ingress-nginx", "4.13.9", "https://kubernetes.github.io/ingress-nginx",
          {"controller": {"hostPort": {"enabled": True}, "service": {"type": "ClusterIP"},
                          "nodeSelector": {"ingress-ready": "true"},
                          "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]}},
          kubernetes=("1.29", "1.33")),
    # Installs its own Gateway API CRDs (v1.3.0, charts/gateway-helm/crds/gatewayapi-crds.yaml).
    Addon("envoy-gateway", "envoy-gateway-system", "oci://docker.io/envoyproxy/gateway-helm", "v1.4.1", kubernetes=("1.30", "1.33")),
    # The chart's ServiceMonitor, PodMonitor and PrometheusRule carry no `release` label: select them all.
    Addon("prometheus", "monitoring", "kube-prometheus-stack", "72.6.2", "https://prometheus-community.github.io/helm-charts",
          {"grafana": {"enabled": False}, "alertmanager": {"enabled": False},
           "prometheus": {"prometheusSpec": {"serviceMonitorSelectorNilUsesHelmValues": False, "podMonitorSelectorNilUsesHelmValues": False,
                                             "ruleSelectorNilUsesHelmValues": False}}}),
    # The chart's own generated rules (scripts/gen_adapter_values.py), so the HPA metrics are the chart's defaults.
    Addon("prometheus-adapter", "monitoring", "prometheus-adapter", "4.14.1", "https://prometheus-community.github.io/helm-charts",
          values_files=(REPO_ROOT / "charts" / "tf-serving" / "examples" / "prometheus-adapter-values.yaml",)),
)


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def supports(addon: Addon, kubernetes: str) -> bool:
    """Whether `kubernetes` (a minor or full version) is inside the add-on's supported range."""
    oldest, newest = addon.kubernetes
    return _minor(oldest) <= _minor(kubernetes) and (newest is None or _minor(kubernetes) <= _minor(newest))


def node_image(kubernetes: str | None = None) -> str:
    version = kubernetes or os.environ.get("KIND_KUBERNETES", DEFAULT_KUBERNETES)
    minor = ".".join(version.lstrip("v").split(".")[:2])
    if minor not in NODE_IMAGES:
        raise ValueError(f"no kind {KIND_VERSION} node image for Kubernetes {version}: choose one of {', '.join(NODE_IMAGES)} (KIND_KUBERNETES)")
    return NODE_IMAGES[minor]


def kind_config(*, kubernetes: str | None = None, workers: int = 1, http_port: int | None = HTTP_PORT) -> dict:
    """The kind Cluster config: a control-plane node and `workers` worker nodes. With `http_port`,
    the control plane is labelled `ingress-ready` (the ingress controller's node selector) and
    its port 80 is mapped to 127.0.0.1:`http_port`; without it (the demo) no host port is taken."""
    image = node_image(kubernetes)
    control_plane: dict[str, Any] = {"role": "control-plane", "image": image}
    if http_port is not None:
        control_plane["labels"] = {"ingress-ready": "true"}
        control_plane["extraPortMappings"] = [{"containerPort": 80, "hostPort": http_port, "listenAddress": "127.0.0.1", "protocol": "TCP"}]
    return {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4",
            "nodes": [control_plane] + [{"role": "worker", "image": image} for _ in range(workers)]}


def addon_helm_args(addon: Addon, *, kubeconfig: str, context: str) -> list[str]:
    """`helm upgrade --install` arguments for one add-on, version pinned, waited for; its `values`
    are read from stdin (pass `addon_values_yaml(addon)`)."""
    args = ["upgrade", "--install", addon.release, addon.chart, "--version", addon.version, "--namespace", addon.namespace,
            "--create-namespace", "--kubeconfig", kubeconfig, "--kube-context", context, "--wait", "--timeout", "600s"]
    if addon.repo:
        args += ["--repo", addon.repo]
    if addon.values:
        args += ["--values", "-"]
    for path in addon.values_files:
        args += ["--values", str(path)]
    return args


def addon_values_yaml(addon: Addon) -> str | None:
    import yaml

    return yaml.safe_dump(dict(addon.values), sort_keys=False) if addon.values else None


def crds_to_apply(vendored: Mapping[tuple[str, str], Path], served: set[tuple[str, str]]) -> list[Path]:
    """The vendored CRD files for custom kinds the cluster does not serve yet. Applied after the
    add-ons: a CRD that exists before `helm install` makes Helm skip the chart's own copy (crds/
    are created only when absent), which would leave the add-on on our version of its CRD."""
    return list(dict.fromkeys(path for key, path in vendored.items() if key not in served))


def copy_model_commands(node: str, host_dir: Path | None = None) -> list[list[str]]:
    """Commands that put the demo model into one kind node at NODE_MODEL_DIR, readable by any UID
    (pods run as 10001). Run after every create or reuse: the copy survives `make clean`, a bind
    mount of the host folder would not."""
    return [["docker", "exec", node, "mkdir", "-p", NODE_MODEL_DIR],
            ["docker", "cp", f"{host_dir or HOST_MODEL_DIR}/.", f"{node}:{NODE_MODEL_DIR}"],
            ["docker", "exec", node, "chmod", "-R", "a+rX", NODE_MODEL_DIR]]


def model_volume_manifests(namespace: str, host_path: str = NODE_MODEL_DIR, claim: str = MODEL_CLAIM) -> list[dict]:
    """A hostPath PersistentVolume over the nodes' model folder (`host_path`) and the claim the
    chart reads (modelStorage.source existingClaim), ReadOnlyMany: every pod on every node sees the
    same files. The volume names the claim and the claim the volume (pre-bound): the pod never waits
    for binding."""
    volume_name = f"{namespace}-{claim}"
    return [
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": volume_name},
         "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadOnlyMany"], "storageClassName": "",
                  "persistentVolumeReclaimPolicy": "Retain", "claimRef": {"namespace": namespace, "name": claim},
                  "hostPath": {"path": host_path, "type": "Directory"}}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim, "namespace": namespace},
         "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "", "volumeName": volume_name,
                  "resources": {"requests": {"storage": "1Gi"}}}},
    ]


def demo_values(*, replicas: int = 1, versions: Sequence[int] = (1, 2)) -> dict:
    """Chart values that serve the demo model from the claim: the versions given (default both,
    so version labels and splits can be measured from the answers)."""
    from . import clients, demo_model

    return {
        "replicaCount": replicas,
        "modelStorage": {"source": "existingClaim", "mountPath": "/models", "existingClaim": {"claimName": MODEL_CLAIM, "subPath": ""}},
        "models": [{"name": demo_model.MODEL_NAME, "basePath": f"/models/{demo_model.MODEL_NAME}",
                    "versionPolicy": {"specific": {"versions": list(versions)}}}],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        # The demo signature takes x of shape [-1, 1] (TF Serving's own half_plus_two takes [-1]).
        "helmTest": {"requests": {demo_model.MODEL_NAME: clients.rest_predict_body([1.0, 2.0, 5.0])}},
    }


def missing_tools(tools: Sequence[str] = ("docker", "kind", "kubectl")) -> list[str]:
    return [tool for tool in tools if shutil.which(tool) is None]


TOOL_HINTS = {
    "docker": "Docker Engine or Docker Desktop: https://docs.docker.com/get-docker/",
    "kind": f"kind {KIND_VERSION}: https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    "kubectl": "kubectl: https://kubernetes.io/docs/tasks/tools/",
}


def gateway_manifests() -> list[dict]:
    """The Gateway the ci/ scenarios attach their routes to (`public` in `gateways`), served by Envoy Gateway."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gateways"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "envoy"},
         "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "public", "namespace": "gateways"},
         "spec": {"gatewayClassName": "envoy", "listeners": [
             {"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": {"from": "All"}}},
             {"name": "https", "protocol": "HTTP", "port": 8443, "allowedRoutes": {"namespaces": {"from": "All"}}}]}},
    ]


def port_forward(kubeconfig: str, namespace: str, target: str, remote_ports: Sequence[int | str], *, context: str | None = None):
    """Context manager: `kubectl port-forward` to `target` (e.g. service/x) on free local ports;
    yields {remote port: local port} once the first one accepts connections."""
    import contextlib
    import socket
    import subprocess

    from .cluster import wait_until

    @contextlib.contextmanager
    def forward():
        local = {}
        for remote in remote_ports:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                local[remote] = s.getsockname()[1]
        process = subprocess.Popen(["kubectl", "--kubeconfig", kubeconfig, *(["--context", context] if context else []), "-n", namespace,
                                    "port-forward", target,
                                    *(f"{port}:{remote}" for remote, port in local.items())],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def listening():
            if process.poll() is not None:
                raise RuntimeError(f"kubectl port-forward {target} exited: {process.stderr.read()}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", next(iter(local.values())))) == 0, "not yet"

        try:
            wait_until(listening, what=f"kubectl port-forward {target}", timeout=30, interval=0.5)
            yield local
        finally:
            process.terminate()
            process.wait(timeout=10)

    return forward()


# ---- through the ingress controller (kind maps 127.0.0.1:HTTP_PORT to it) -------------------------

INGRESS_URL = f"http://127.0.0.1:{HTTP_PORT}"
#: Chart values that publish the REST API through ingress-nginx; the host is the release's own
#: (release_values): ingress-nginx refuses a second Ingress for a host and path another one
#: still holds, e.g. in the previous test's namespace while it is being deleted.
INGRESS_VALUES = {"ingress": {"enabled": True, "className": "nginx", "path": "/v1/models", "pathType": "Prefix"}}


def ingress_host(namespace: str) -> str:
    """The Ingress host of the release in `namespace` (a name nothing resolves: requests carry it as Host)."""
    return f"{namespace}.kind.test"


def release_values(namespace: str, values: Mapping[str, Any] | None = None) -> dict:
    """What the e2e tier layers over a test's values files: the demo model on the claim, the
    test's values, and hosts of the release's own for every Ingress the chart may render."""
    from .values import merge

    hosts = {"ingress": {"host": ingress_host(namespace), "grpc": {"host": f"grpc.{ingress_host(namespace)}"}}}
    return merge(merge(demo_values(), dict(values or {})), hosts)


def demo_models(version: int) -> list[dict]:
    """`models` that serve only `version` of the demo model (tracks that differ in their answers)."""
    from . import demo_model

    return [{"name": demo_model.MODEL_NAME, "basePath": f"/models/{demo_model.MODEL_NAME}", "versionPolicy": {"specific": {"versions": [version]}}}]


def ask_ingress(host: str, headers: dict | None = None, inputs: Sequence[float] = (1.0,), timeout: float = 10.0) -> int:
    """One REST prediction through the ingress for `host`; the demo model version that answered."""
    from . import clients, demo_model

    predictions = clients.rest_predict(INGRESS_URL, demo_model.MODEL_NAME, inputs, headers={"Host": host, **(headers or {})}, timeout=timeout)
    return clients.version_of_answer(inputs, predictions)


def wait_for_ingress(host: str, expect_version: int | None = None, *, headers: dict | None = None, timeout: float = 120) -> int:
    """Poll until the ingress answers for `host` (with `headers`), from `expect_version` if given."""
    from .cluster import wait_until

    def answers():
        try:
            version = ask_ingress(host, headers)
        except Exception as error:  # not routed yet: 404/503 from nginx, connection refused
            return False, f"{type(error).__name__}: {error}"
        return expect_version is None or version == expect_version, f"version {version}"

    what = f"the ingress to answer for {host}" + (f" with {headers}" if headers else "") + (f" from version {expect_version}" if expect_version else "")
    wait_until(answers, what=what, timeout=timeout, interval=1)
    return ask_ingress(host, headers)
