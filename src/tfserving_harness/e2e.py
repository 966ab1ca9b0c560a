"""The end-to-end tier's clusters and tools: pods that really run (tests/integration/e2e).

Two kinds of cluster run the tier, told apart by `cluster.cluster_kind`:

- **k8s-local's real node** (the project's machines and CI): the TF Serving stand-in image
  (`make standin-image LOAD=1`), the node's own busybox for `helm test`, model folders on the host
  mounted through hostPath volumes, Services reached from the host at their ClusterIP and pods at
  their IP (the node routes both to its bridge), through kube-proxy's iptables rules.
- **kind** (users with Docker, GitHub): the real `tensorflow/serving` image, the model folders that
  scripts/kind.py copies into the nodes, Services and pods reached through `kubectl port-forward`.
  A forward pins one pod, so the tests that need kube-proxy to spread connections over the pods
  of a Service (the zero-failure tests) skip there.

Which cluster: `TFS_E2E_KUBECONFIG` when set, else `KUBECONFIG` (so one `make test` runs the cluster
tier on stand-in nodes from KUBECONFIG and this tier on a real node); the context
`TFS_KUBE_CONTEXT`, else `kind-$KIND_CLUSTER` when the kubeconfig has it, else its current one.

Also here: what each test layers over the chart (`E2ECluster.base_values`), what a ci/ scenario
needs to run (`scenario_overlay`), model folders a test may write (`ModelFolder`), clients of a
Service at a steady rate (`ServiceLoad`), and `TerminationWatch`, which follows every pod that
terminates during a test and counts the client connections it still holds when, by the chart's
shutdown rule, none may be left. `judge_shutdown` turns both into the verdict. The parts that need
no cluster are unit-tested (tests/harness/test_e2e.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from . import cluster as harness
from . import kind
from .clients import PredictClient
from .paths import REPO_ROOT
from .standin.image import IMAGE as STANDIN_IMAGE_NAME
from .traffic import LoadRun, steady_load

STANDIN_IMAGE = f"docker.io/{STANDIN_IMAGE_NAME}"
#: The busybox every k8s-local real node has (Debian's busybox-static): the chart's digest-pinned
#: one can never be pulled there.
REAL_NODE_TEST_IMAGE = {"repository": "k8s-local/busybox", "tag": "latest", "digest": "", "pullPolicy": "Never"}
#: Requests small enough for a 2-CPU node running several releases at once (an idle stand-in uses a
#: few millicores; its start, TensorFlow's import, a few CPU-seconds); the 1 CPU limit keeps the
#: chart's derived TensorFlow thread counts small, and 1 GiB holds the stand-in with TensorFlow.
SMALL_RESOURCES = {"requests": {"cpu": "10m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
#: The chart's serving container, whose connections TerminationWatch reads.
CONTAINER = "tf-serving"
GRPC_PORT, REST_PORT = 8500, 8501
#: Where the real node's model folders live on the host: readable by UID 10001 all the way down.
HOST_MODEL_ROOT = Path(tempfile.gettempdir()) / "tfs-e2e-models"
MODEL_VERSIONS = (1, 2, 3)
#: The user_properties key under which the tier's tests record measurements (printed at the end of the run).
NUMBERS_PROPERTY = "e2e-number"


def e2e_kubeconfig() -> tuple[str, str]:
    """(kubeconfig path, the variable it came from)."""
    if os.environ.get("TFS_E2E_KUBECONFIG"):
        return os.environ["TFS_E2E_KUBECONFIG"], "TFS_E2E_KUBECONFIG"
    return harness.kubeconfig_path(), "KUBECONFIG"


def e2e_context(kubeconfig: str) -> str | None:
    """The context to test in: named, never whatever happens to be current when a kind cluster is there."""
    if os.environ.get("TFS_KUBE_CONTEXT"):
        return os.environ["TFS_KUBE_CONTEXT"]
    from kubernetes import config

    wanted = kind.kube_context(os.environ.get("KIND_CLUSTER", kind.CLUSTER_NAME))
    try:
        contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig.split(os.pathsep)[0])
    except Exception:  # no kubeconfig or no contexts: find_cluster says so
        return None
    return wanted if any(c["name"] == wanted for c in contexts) else None


HOW = ("start k8s-local with a real node (`REAL_NODE=1 ../shared/k8s-local/up.sh`, then `make standin-image LOAD=1`) and point "
       "TFS_E2E_KUBECONFIG (or KUBECONFIG) at it, or create a kind cluster with `make kind-up` (docker, kind, kubectl)")


def classify(what: str, node_images: set[str], context: str | None) -> str:
    """Why the tier cannot run on a cluster of kind `what` whose nodes hold `node_images`, or ""."""
    if what == harness.STAND_IN_NODES:
        return f"the cluster is k8s-local with stand-in nodes, which run no containers (no TF Serving, no traffic): {HOW}"
    if what == harness.REAL_NODE:
        if STANDIN_IMAGE not in node_images:
            return f"the real node does not have {STANDIN_IMAGE}: `make standin-image LOAD=1 K8S_LOCAL_DIR=<its state dir>` imports it"
        return ""
    if what == harness.KIND:
        if not any(name == kind.TFS_IMAGE or name.endswith(kind.TFS_IMAGE.removeprefix("docker.io/")) for name in node_images):
            return f"the kind nodes do not have {kind.TFS_IMAGE}: `make kind-up` loads it"
        return ""
    return f"the cluster of context {context or '(current)'} is neither kind nor k8s-local's real node: {HOW}, or set TFS_KUBE_CONTEXT"


@dataclass(frozen=True)
class Endpoint:
    """How the test process reaches one Service's (or pod's) REST and gRPC ports."""

    rest_url: str
    grpc_target: str


@dataclass(frozen=True)
class E2ECluster:
    info: harness.ClusterInfo
    what: str  # harness.REAL_NODE or harness.KIND
    source: str  # the variable the kubeconfig came from

    @property
    def real_node(self) -> bool:
        return self.what == harness.REAL_NODE

    @property
    def image(self) -> dict:
        """The chart's `image` values: the stand-in on the real node, the real image on kind, both
        already on the nodes (`IfNotPresent`: nothing can be pulled on the real node)."""
        repository, tag = (STANDIN_IMAGE if self.real_node else kind.TFS_IMAGE).rsplit(":", 1)
        return {"repository": repository.removeprefix("docker.io/"), "tag": tag, "digest": "", "pullPolicy": "IfNotPresent"}

    def schedulable_nodes(self, core) -> int:
        """Nodes a serving pod may land on: no NoSchedule or NoExecute taint (kind's control plane has one)."""
        return sum(1 for node in core.list_node().items
                   if not any(t.effect in ("NoSchedule", "NoExecute") for t in node.spec.taints or []))

    @property
    def model_root(self) -> str:
        """The folder on the node(s) that holds half_plus_two/1, /2 and (real node) /3."""
        return str(host_models()) if self.real_node else kind.NODE_MODEL_DIR

    def base_values(self) -> dict:
        """What every release of the tier gets: the image the nodes have, for the test pod too."""
        values: dict[str, Any] = {"image": self.image, "imagePullSecrets": []}
        if self.real_node:
            values["helmTest"] = {"image": dict(REAL_NODE_TEST_IMAGE)}
        return values

    def api(self):
        from kubernetes import config

        return config.new_client_from_config(config_file=self.info.kubeconfig, context=self.info.context)

    def kubectl(self) -> list[str]:
        return ["kubectl", "--kubeconfig", self.info.kubeconfig, *(["--context", self.info.context] if self.info.context else [])]

    @property
    def why_no_service_load_balancing(self) -> str:
        """Why the host cannot send traffic that kube-proxy spreads over a Service's pods, or ""."""
        if self.real_node:
            return ""
        return ("on kind the host reaches a Service only through `kubectl port-forward`, which pins one pod (the one a rollout "
                "deletes): the zero-failure tests through a ClusterIP Service need k8s-local's real node, whose host reaches "
                "ClusterIPs; test_traffic.py covers a switch and a rollout through ingress-nginx on kind")

    @contextlib.contextmanager
    def reach_service(self, core, namespace: str, name: str) -> Iterator[Endpoint]:
        """The Service's ClusterIP (real node), or a port-forward to one of its pods (kind)."""
        if self.real_node:
            ip = core.read_namespaced_service(name, namespace).spec.cluster_ip
            yield Endpoint(f"http://{ip}:{REST_PORT}", f"{ip}:{GRPC_PORT}")
            return
        with kind.port_forward(self.info.kubeconfig, namespace, f"service/{name}", ["http", "grpc"], context=self.info.context) as ports:
            yield Endpoint(f"http://127.0.0.1:{ports['http']}", f"127.0.0.1:{ports['grpc']}")

    @contextlib.contextmanager
    def reach_pod(self, pod) -> Iterator[Endpoint]:
        """One pod's ports: its IP (real node), or a port-forward (kind)."""
        if self.real_node:
            yield Endpoint(f"http://{pod.status.pod_ip}:{REST_PORT}", f"{pod.status.pod_ip}:{GRPC_PORT}")
            return
        with kind.port_forward(self.info.kubeconfig, pod.metadata.namespace, f"pod/{pod.metadata.name}", [REST_PORT, GRPC_PORT],
                               context=self.info.context) as ports:
            yield Endpoint(f"http://127.0.0.1:{ports[REST_PORT]}", f"127.0.0.1:{ports[GRPC_PORT]}")


def find_e2e_cluster() -> tuple[E2ECluster | None, str]:
    """(cluster, "") when a cluster that runs the tier answers, else (None, why not and what to do)."""
    from kubernetes import client, config

    kubeconfig, source = e2e_kubeconfig()
    context = e2e_context(kubeconfig)
    info, why_not = harness.find_cluster(context, kubeconfig=kubeconfig)
    if info is None:
        return None, f"no cluster from {source}: {why_not}; {HOW}"
    nodes = client.CoreV1Api(config.new_client_from_config(config_file=info.kubeconfig, context=info.context)).list_node().items
    what = harness.cluster_kind(nodes)
    images = {name for n in nodes for image in (n.status.images or []) for name in (image.names or [])}
    why_not = classify(what, images, context)
    if why_not:
        return None, f"{source}={kubeconfig}: {why_not}"
    return E2ECluster(info, what, source), ""


# ---- model folders --------------------------------------------------------------------------------

def _model_source_hash() -> str:
    return hashlib.sha256((Path(__file__).parent / "demo_model.py").read_bytes()).hexdigest()[:12]


def host_models(root: Path = HOST_MODEL_ROOT) -> Path:
    """A folder on this host holding half_plus_two/1, /2 and /3 of the demo model, built once (in a
    separate process: TensorFlow stays out of the test workers) and kept, keyed by demo_model.py's
    hash; concurrent callers (xdist workers) wait for the one that builds."""
    import fcntl

    final = root / _model_source_hash()
    if (final / "half_plus_two" / str(MODEL_VERSIONS[-1])).is_dir():
        return final
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait for it (xdist workers)
        if not (final / "half_plus_two" / str(MODEL_VERSIONS[-1])).is_dir():
            staging = Path(tempfile.mkdtemp(dir=root, prefix=".build-"))
            print(f"building the demo model versions {list(MODEL_VERSIONS)} for the real node under {final} (TensorFlow's import "
                  "takes a few seconds)", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "build_demo_model.py"), "--dir", str(staging), "--versions",
                            *map(str, MODEL_VERSIONS)], check=True, capture_output=True, text=True)
            _readable_by_all(staging)
            staging.rename(final)
    return final


def _readable_by_all(root: Path) -> None:
    """Pods run as UID 10001: every folder traversable, every file readable."""
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


class ModelFolder:
    """A model root of one test's own, on the node(s), to which versions can be added while pods
    serve it (hot reload): half_plus_two/<version>, copied from the tier's shared model folder.
    A version appears at once, whole (copied beside it, then renamed: TF Serving never sees half a
    folder). On the real node it is a host folder; on kind a folder inside every node container."""

    def __init__(self, cluster: E2ECluster, name: str, node_names: Sequence[str] = ()):
        self.cluster = cluster
        self.nodes = list(node_names)
        if cluster.real_node:
            self.path = str(HOST_MODEL_ROOT / "work" / name)
            Path(self.path, "half_plus_two").mkdir(parents=True, exist_ok=True)
            for folder in (HOST_MODEL_ROOT, HOST_MODEL_ROOT / "work", Path(self.path), Path(self.path, "half_plus_two")):
                folder.chmod(0o755)
        else:
            self.path = f"{kind.NODE_MODEL_DIR}-work/{name}"
            self._on_nodes(f"mkdir -p {self.path}/half_plus_two && chmod -R a+rX {kind.NODE_MODEL_DIR}-work")

    def _on_nodes(self, script: str) -> None:
        for node in self.nodes:
            subprocess.run(["docker", "exec", node, "sh", "-c", script], check=True, capture_output=True, text=True)

    def add_version(self, version: int) -> None:
        source = f"{self.cluster.model_root}/half_plus_two/{version}"
        target = f"{self.path}/half_plus_two/{version}"
        if self.cluster.real_node:
            staging = Path(f"{self.path}/half_plus_two/.{version}.partial")
            shutil.copytree(source, staging)
            _readable_by_all(staging)
            staging.rename(target)
        else:
            self._on_nodes(f"cp -r {source} {self.path}/half_plus_two/.{version}.partial && chmod -R a+rX {self.path} "
                           f"&& mv {self.path}/half_plus_two/.{version}.partial {target}")

    def remove(self) -> None:
        if self.cluster.real_node:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self._on_nodes(f"rm -rf {self.path}")


def model_claim_values(versions: Sequence[int] = (1, 2), *, replicas: int = 1) -> dict:
    """Chart values that serve the demo model's `versions` from the `demo-models` claim (kind.demo_values)."""
    return kind.demo_values(replicas=replicas, versions=versions)


# ---- ci/ scenarios --------------------------------------------------------------------------------

#: Model sources no cluster of the tier provides (the storage itself is what those scenarios show).
EXTERNAL_SOURCES = {"gcs": "Google Cloud Storage", "s3": "an S3 store and an S3-enabled image", "nfs": "an NFS server",
                    "initContainer": "the object store the init container downloads from",
                    "image": "image volumes (Kubernetes 1.35+ with containerd 2.1+) and an OCI model image"}
#: Sources whose models the tier replaces by the demo model on its own claim.
CLAIM_SOURCES = ("existingClaim", "pvc")


def scenario_overlay(scenario: Mapping[str, Any], image: Mapping[str, Any], nodes: int) -> tuple[dict | None, str]:
    """(values layered over a ci/ scenario so that it runs on the tier's cluster of `nodes`
    schedulable nodes, "") or (None, why it cannot). Every image becomes `image` (the one the nodes
    have, pull policy included), every resources block SMALL_RESOURCES and every replica count 1, or
    2 where a PodDisruptionBudget's minAvailable needs two (one node of 2 CPUs runs the whole tier;
    a further identical pod of a track shows nothing the first does not, and the rollout tests run
    several); a scenario whose models come from a claim
    serves the demo model's versions 1 and 2 from the tier's claim instead (every track and colour
    too); a scenario on the built-in demo keeps it. Everything else (tracks, probes, shutdown,
    autoscaling objects and their minimum replicas, policies, Ingress and routes, which nothing
    here routes through) stays the scenario's."""
    source = (scenario.get("modelStorage") or {}).get("source", "demo")
    if source in EXTERNAL_SOURCES:
        return None, f"its model source `{source}` needs {EXTERNAL_SOURCES[source]}, which the tier's clusters do not have"
    if (scenario.get("gpu") or {}).get("enabled"):
        return None, "it needs GPU nodes (nvidia.com/gpu), which the tier's clusters do not have"
    if (scenario.get("scheduling") or {}).get("podAntiAffinity") == "hard":
        replicas = [scenario.get("replicaCount", 1)] + [t.get("replicaCount", scenario.get("replicaCount", 1))
                                                         for t in (scenario.get("tracks") or {}).values() if isinstance(t, dict)]
        if max(replicas) > nodes:
            return None, (f"its hard pod anti-affinity puts one pod of a track per node and a track has {max(replicas)} replicas: "
                          f"the cluster has {nodes} schedulable node(s)")
    # The chart refuses a PDB minAvailable that protects a track's only pod: such scenarios keep two.
    pdb = scenario.get("podDisruptionBudget") or {}
    fewest = 2 if pdb.get("enabled") and pdb.get("minAvailable") is not None else 1
    overlay: dict[str, Any] = {"image": dict(image), "imagePullSecrets": [], "resources": SMALL_RESOURCES,
                               "replicaCount": min(scenario.get("replicaCount", 1), fewest)}
    if source in CLAIM_SOURCES:
        overlay.update(model_claim_values())
        overlay["resources"] = SMALL_RESOURCES
    for group in ("tracks", "blueGreen"):
        for name, track in (scenario.get(group) or {}).items():
            if not isinstance(track, dict) or name in ("enabled", "active", "preview"):
                continue
            own: dict[str, Any] = {"image": dict(image)}
            if "resources" in track:
                own["resources"] = SMALL_RESOURCES
            if "replicaCount" in track:
                own["replicaCount"] = min(track["replicaCount"], fewest)
            if "models" in track and source in CLAIM_SOURCES:
                own["models"] = overlay["models"]
            overlay.setdefault(group, {})[name] = own
    return overlay, ""


def serves_built_in_demo(scenario: Mapping[str, Any]) -> bool:
    """True when the scenario (after scenario_overlay) serves the chart's demo: TF Serving's
    half_plus_two version 1, one float per instance; else the demo model's versions 1 and 2 in rows."""
    return (scenario.get("modelStorage") or {}).get("source", "demo") == "demo"


# ---- a release that serves ------------------------------------------------------------------------

SERVING_PODS = "app.kubernetes.io/instance=tfs,tf-serving.io/track"
INPUTS = (1.0, 2.0, 5.0)


def not_ready_through_probes(core, namespace: str, selector: str = SERVING_PODS) -> list[str]:
    """Problems with the serving pods: each must be Ready, through a readiness probe the kubelet
    ran, and never have restarted."""
    pods = [p for p in core.list_namespaced_pod(namespace, label_selector=selector).items if p.metadata.deletion_timestamp is None]
    if not pods:
        return [f"no serving pod in {namespace}"]
    problems = []
    for pod in pods:
        ready = next((c.status for c in pod.status.conditions or [] if c.type == "Ready"), None)
        probe = next(c for c in pod.spec.containers if c.name == CONTAINER).readiness_probe
        restarts = sum(s.restart_count for s in pod.status.container_statuses or [])
        if ready != "True" or probe is None or restarts:
            problems.append(f"{pod.metadata.name}: Ready={ready}, readiness probe {probe is not None}, restarts {restarts}")
    return problems


def wrong_answers(cluster: E2ECluster, core, namespace: str, *, version: int, scalar: bool, release: str = "tfs") -> list[str]:
    """Ask every Service of the release (with a ClusterIP) for a REST and a gRPC prediction of
    INPUTS; what did not come back as `version` of the demo model would answer."""
    from . import clients, demo_model

    services = [s.metadata.name for s in core.list_namespaced_service(namespace, label_selector=f"app.kubernetes.io/instance={release}").items
                if s.spec.cluster_ip != "None"]
    if not services:
        return [f"the release has no Service with a ClusterIP in {namespace}"]
    expected = [demo_model.expected_output(version, x) for x in INPUTS]
    problems = []
    for service in services:
        with cluster.reach_service(core, namespace, service) as endpoint:
            answers = {"REST": clients.rest_predict(endpoint.rest_url, demo_model.MODEL_NAME, INPUTS, scalar=scalar),
                       "gRPC": clients.grpc_predict(endpoint.grpc_target, demo_model.MODEL_NAME, INPUTS, scalar=scalar)}
        for protocol, answer in answers.items():
            if len(answer) != len(expected) or any(abs(a - b) > 1e-4 for a, b in zip(answer, expected, strict=False)):
                problems.append(f"{service} {protocol}: {answer}, expected {expected} (version {version})")
    return problems


# ---- the pods' side of shutdown -------------------------------------------------------------------

def established_peers(proc_net_tcp: str, port: int) -> set[str]:
    """Remote `address:port` (kernel hex) of every ESTABLISHED connection on local `port`, from the
    text of /proc/net/tcp and /proc/net/tcp6 (state 01 is TCP_ESTABLISHED)."""
    peers = set()
    for line in proc_net_tcp.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] == "sl" or ":" not in fields[1]:
            continue
        local, remote, state = fields[1], fields[2], fields[3]
        if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
            peers.add(remote)
    return peers


def _container(pod: Mapping[str, Any], name: str = CONTAINER) -> Mapping[str, Any]:
    return next(c for c in pod["spec"]["containers"] if c["name"] == name)


def channel_arguments(pod: Mapping[str, Any]) -> dict[str, str]:
    """The serving container's `--grpc_channel_arguments`, as TF Serving splits them (`k=v,k=v`)."""
    for arg in _container(pod).get("args", []):
        if arg.startswith("--grpc_channel_arguments="):
            return dict(item.split("=", 1) for item in arg.split("=", 1)[1].split(",") if "=" in item)
    return {}


def prestop_seconds(pod: Mapping[str, Any]) -> float:
    """The preStop pause of the serving container: the `sleep` action or `exec: [sleep, N]`."""
    pre_stop = ((_container(pod).get("lifecycle") or {}).get("preStop")) or {}
    if "sleep" in pre_stop:
        return float(pre_stop["sleep"]["seconds"])
    command = (pre_stop.get("exec") or {}).get("command") or []
    return float(command[-1]) if command[:1] == ["sleep"] else 0.0


def grpc_connections_end_within(pod: Mapping[str, Any]) -> float | None:
    """Seconds after a pod's deletion by which every gRPC connection to it has ended, by the chart's
    shutdown rule: the preStop pause (new connections may arrive until endpoint removal reaches
    kube-proxy, within it) + 1.1 x grpc.max_connection_age_ms (the GOAWAY, with gRPC's jitter) +
    grpc.max_connection_age_grace_ms (calls in flight finish, then the connection is closed). None
    when the pod has no max age: nothing then ends a connection before SIGKILL."""
    arguments = channel_arguments(pod)
    if "grpc.max_connection_age_ms" not in arguments:
        return None
    age = int(arguments["grpc.max_connection_age_ms"]) / 1000
    grace = int(arguments.get("grpc.max_connection_age_grace_ms", "0")) / 1000
    return prestop_seconds(pod) + math.ceil(1.1 * age + grace)


@dataclass
class PodEnd:
    """One pod that terminated during a test, as TerminationWatch saw it (times: time.time())."""

    name: str
    deleted_at: float  # when its deletion was seen (at most one poll interval late)
    kill_at: float  # its deletionTimestamp: the grace period's end, SIGKILL for TF Serving (it ignores SIGTERM)
    checked_after: float | None = None  # seconds after deletion of the connection check (the rule's bound, or just before SIGKILL)
    grpc_connections: int | None = None  # client connections to the gRPC port in both samples of the check
    rest_connections: int | None = None
    check_error: str = ""
    gone_at: float | None = None

    def line(self) -> str:
        check = (f"{self.grpc_connections} gRPC and {self.rest_connections} REST client connections {self.checked_after:.1f}s after "
                 "deletion" if self.grpc_connections is not None else f"connections not checked ({self.check_error or 'pod gone first'})")
        gone = f"gone {self.gone_at - self.deleted_at:.0f}s after deletion" if self.gone_at else "not gone"
        return f"{self.name}: SIGKILL {self.kill_at - self.deleted_at:.0f}s after deletion, {check}, {gone}"


class TerminationWatch:
    """Follows the pods of `namespace` that match `selector` (in a thread, every `interval` s). For
    each pod that starts terminating it checks, inside the pod, which client connections are still
    ESTABLISHED when by the chart's rule none of the gRPC ones may be (grpc_connections_end_within,
    but at the latest 1.5 s before SIGKILL), in two samples one second apart, so that the kubelet's
    probe connections (short-lived, from the node's address) are not counted. REST connections are
    counted the same way: TF Serving never closes an idle keep-alive connection, so those are still
    there, and each may carry one request when SIGKILL comes (the budget, judge_shutdown)."""

    def __init__(self, cluster: E2ECluster, api, namespace: str, selector: str, *, interval: float = 0.5):
        self.cluster, self.api, self.namespace, self.selector, self.interval = cluster, api, namespace, selector, interval
        self.ends: dict[str, PodEnd] = {}
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __enter__(self) -> TerminationWatch:
        self._poll()  # the pods before the test acts
        thread = threading.Thread(target=self._run, name=f"watch-{self.namespace}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._poll()
            except Exception as error:  # an API hiccup must not end the watch; the next poll retries
                print(f"TerminationWatch {self.namespace}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)

    def _poll(self) -> None:
        from kubernetes import client

        pods = client.CoreV1Api(self.api).list_namespaced_pod(self.namespace, label_selector=self.selector).items
        now = time.time()
        present = {p.metadata.name for p in pods}
        with self._lock:
            self.seen |= present
            for name, end in self.ends.items():
                if end.gone_at is None and name not in present:
                    end.gone_at = now
            for pod in pods:
                if pod.metadata.deletion_timestamp is None or pod.metadata.name in self.ends:
                    continue
                end = PodEnd(pod.metadata.name, deleted_at=now, kill_at=pod.metadata.deletion_timestamp.timestamp())
                self.ends[end.name] = end
                spec = self.api.sanitize_for_serialization(pod)
                thread = threading.Thread(target=self._check, args=(end, grpc_connections_end_within(spec)), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _connections(self, name: str) -> str:
        result = subprocess.run([*self.cluster.kubectl(), "-n", self.namespace, "exec", name, "-c", CONTAINER, "--", "cat",
                                 "/proc/net/tcp", "/proc/net/tcp6"], capture_output=True, text=True, timeout=20)
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip() or f"kubectl exec exited {result.returncode}")
        return result.stdout

    def _check(self, end: PodEnd, bound: float | None) -> None:
        latest = end.kill_at - end.deleted_at - 1.5
        when = latest if bound is None else min(bound, latest)
        samples = []
        try:
            for at in (when - 1.0, when):
                delay = end.deleted_at + at - time.time()
                if delay > 0 and self._stop.wait(delay):
                    return
                samples.append(self._connections(end.name))
        except Exception as error:  # the pod may be gone already: the verdict says it was not checked
            end.check_error = f"{type(error).__name__}: {error}"[:300]
            return
        end.checked_after = when
        end.grpc_connections = len(established_peers(samples[0], GRPC_PORT) & established_peers(samples[1], GRPC_PORT))
        end.rest_connections = len(established_peers(samples[0], REST_PORT) & established_peers(samples[1], REST_PORT))

    def wait_gone(self, names: Sequence[str], *, timeout: float, what: str = "") -> None:
        """Until every pod of `names` has been deleted and is gone (SIGKILL at the latest), with progress."""
        def gone():
            with self._lock:
                left = [n for n in names if n not in self.ends or self.ends[n].gone_at is None]
            return not left, f"{len(left)} of {len(names)} left: {', '.join(left)}"

        harness.wait_until(gone, what=what or f"pods {', '.join(names)} in {self.namespace} to terminate and be gone", timeout=timeout)


# ---- steady clients of one Service ----------------------------------------------------------------

#: How many clients of each kind ServiceLoad runs: several long-lived ones, so that each pod of a
#: Service holds some of them, and one client that opens a fresh connection per request per protocol.
STANDARD_CLIENTS = {"grpc long-lived": 4, "rest keep-alive": 4, "grpc fresh": 1, "rest fresh": 1}


@dataclass
class ServiceLoad:
    """Clients of one Service (`Endpoint`), each sending one request at a time at `rate` per
    second, in the background until stop(). runs: {client id: LoadRun}."""

    endpoint: Endpoint
    rate: float = 5.0
    clients: Mapping[str, int] = field(default_factory=lambda: dict(STANDARD_CLIENTS))
    scalar: bool = False
    label: str | None = None
    max_seconds: float = 1800
    runs: dict[str, LoadRun] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _clients: list[PredictClient] = field(default_factory=list)

    def start(self) -> ServiceLoad:
        total = sum(self.clients.values())
        for kind_name, count in self.clients.items():
            protocol, habit = kind_name.split(" ", 1)
            connection = "fresh" if habit == "fresh" else "long-lived"
            for n in range(count):
                predict = PredictClient(protocol, connection, self.endpoint.rest_url, self.endpoint.grpc_target, scalar=self.scalar,
                                        label=self.label)
                run = self.runs[f"{kind_name} #{n + 1}"] = LoadRun()
                self._clients.append(predict)
                # Clients spread over the interval between two requests, not in lockstep: independent
                # clients do not all have a request in flight at the same instant (a SIGKILL's).
                offset = len(self._threads) / (total * self.rate)
                thread = threading.Thread(target=self._client, args=(predict, run, offset), daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def _client(self, predict: PredictClient, run: LoadRun, offset: float) -> None:
        if self._stop.wait(offset):
            return
        steady_load(predict.send, rate=self.rate, seconds=self.max_seconds, stop=self._stop, workers=1, into=run,
                    max_requests=int(self.rate * self.max_seconds))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        for predict in self._clients:
            predict.close()

    def __enter__(self) -> ServiceLoad:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def by_kind(self) -> dict[str, list[LoadRun]]:
        grouped: dict[str, list[LoadRun]] = {}
        for client_id, run in self.runs.items():
            grouped.setdefault(client_id.split(" #")[0], []).append(run)
        return grouped

    def progress(self) -> str:
        return ", ".join(f"{kind_name} {sum(len(r.outcomes) for r in runs)} sent / {sum(len(r.failures) for r in runs)} failed"
                         for kind_name, runs in self.by_kind().items())


def wait_for_service(endpoint: Endpoint, *, scalar: bool = False, label: str | None = None, in_a_row: int = 10,
                     timeout: float = 60) -> None:
    """Until `in_a_row` fresh REST and gRPC requests in a row succeed through `endpoint`. `helm
    install --wait` returns when the pods are Ready; kube-proxy programs the Service a moment later
    (a Service without endpoints refuses connections), and the tests measure changes, not that."""
    streak = {"n": 0}
    fresh = [PredictClient(protocol, "fresh", endpoint.rest_url, endpoint.grpc_target, scalar=scalar, label=label, timeout=5)
             for protocol in ("rest", "grpc")]

    def answering():
        try:
            for predict in fresh:
                predict.send()
            streak["n"] += 1
        except Exception as error:  # refused until kube-proxy has the endpoints
            streak["n"] = 0
            return False, f"{type(error).__name__}: {error}"[:200]
        return streak["n"] >= in_a_row, f"{streak['n']} in a row"

    harness.wait_until(answering, what=f"the Service at {endpoint.rest_url} to answer", timeout=timeout, interval=0.1)


# ---- the verdict ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShutdownVerdict:
    problems: list[str]
    rows: list[dict]  # per client kind: sent, failed, allowed
    ends: list[str]  # PodEnd lines

    def report(self) -> str:
        table = "\n".join(f"  {r['client']:16} {r['sent']:6} sent {r['failed']:4} failed (allowed {r['allowed']})" for r in self.rows)
        return "\n".join([table, *(f"  {line}" for line in self.ends), *(f"PROBLEM: {p}" for p in self.problems)])


def judge_shutdown(runs_by_kind: Mapping[str, Sequence[LoadRun]], ends: Sequence[PodEnd], *, expect_ends: int | None = None) -> ShutdownVerdict:
    """Zero failed requests for gRPC clients (long-lived channels and fresh ones) and fresh REST
    connections; keep-alive REST clients at most one failed request per connection a deleted pod
    still held at its check (that connection's request in flight at SIGKILL: TF Serving never
    closes it, kube-proxy keeps it to the terminating pod, and the client reconnects after it
    breaks); no deleted pod holding a gRPC connection when the shutdown rule says all have ended;
    every deleted pod checked (`expect_ends`: how many pods the test deletes, when it knows)."""
    problems = []
    if expect_ends is not None and len(ends) != expect_ends:
        problems.append(f"{len(ends)} pods terminated during the load, the test expected {expect_ends}")
    for end in ends:
        if end.grpc_connections is None:
            problems.append(f"{end.name}: its connections were not checked before SIGKILL ({end.check_error or 'gone first'})")
        elif end.grpc_connections:
            problems.append(f"{end.name}: {end.grpc_connections} gRPC client connection(s) still open {end.checked_after:.1f}s after its "
                            f"deletion, when the shutdown rule has them all ended ({end.kill_at - end.deleted_at:.0f}s grace): "
                            "their calls meet SIGKILL")
    keep_alive_budget = sum(end.rest_connections or 0 for end in ends)
    start = min((r.started_at for runs in runs_by_kind.values() for r in runs), default=0.0)
    rows = []
    for kind_name, runs in runs_by_kind.items():
        sent = sum(len(r.outcomes) for r in runs)
        failures = [o for r in runs for o in r.failures]
        allowed = keep_alive_budget if kind_name == "rest keep-alive" else 0
        rows.append({"client": kind_name, "sent": sent, "failed": len(failures), "allowed": allowed})
        if not sent:
            problems.append(f"{kind_name}: no request was sent")
        if len(failures) > allowed:
            first = "; ".join(f"at {r.started_at + o.t - start:+.1f}s {o.detail}" for r in runs for o in r.failures[:1])[:1500]
            problems.append(f"{kind_name}: {len(failures)} of {sent} requests failed, {allowed} allowed; each client's first failure "
                            f"(seconds after the load started): {first}")
    return ShutdownVerdict(problems, rows, [end.line() for end in ends])
