"""Reaching a real cluster and acting on it: discovery (and the reason to skip when there is none),
helm command lines, the objects a ci/ scenario needs before it installs, the vendored CRDs its
custom resources need, waits with progress, and the report (events, helm status) a failure prints.

Everything here that needs no API server is unit-tested (tests/harness/test_cluster_harness.py); the
cluster tier (tests/integration/cluster) and the end-to-end tier (tests/integration/e2e) use it against
real clusters.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from . import release, yamlio
from .paths import REPO_ROOT, chart_dir

POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce"
#: Label of the objects the tiers create outside the chart (prerequisites), so they can be found.
CREATED_BY_LABEL = {"app.kubernetes.io/managed-by": "tfserving-harness"}
CRD_DIR = Path(__file__).parent / "crds"

T = TypeVar("T")


@dataclass(frozen=True)
class ClusterInfo:
    kubeconfig: str
    context: str | None
    server_version: str


def kubeconfig_path() -> str:
    return os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config"))


def find_cluster(context: str | None = None, *, kubeconfig: str | None = None) -> tuple[ClusterInfo | None, str]:
    """(cluster, "") when one answers, else (None, why not and how to provide one). `kubeconfig`:
    that file instead of KUBECONFIG's."""
    path = kubeconfig or kubeconfig_path()
    how = "create one with `scripts/kind.py create` (kind + Docker) or point KUBECONFIG at a cluster"
    if not Path(path.split(os.pathsep)[0]).is_file():
        return None, f"no kubeconfig at {path}: {how}"
    try:
        from kubernetes import client, config

        api_client = config.new_client_from_config(config_file=path, context=context)
        version = client.VersionApi(api_client).get_code(_request_timeout=5)
    except Exception as error:  # any failure to reach the API server means: no cluster here
        return None, f"the cluster in {path} does not answer ({type(error).__name__}: {error}): {how}"
    return ClusterInfo(path, context, version.git_version), ""


#: What a cluster's nodes are, as cluster_kind names them.
STAND_IN_NODES = "k8s-local stand-in nodes"  # pods are marked Running, no container runs
REAL_NODE = "k8s-local real node"  # containers run (containerd + runc); images are imported, never pulled
KIND = "kind"  # containers run; images are pulled or `kind load`ed
OTHER = "other"


def cluster_kind(nodes: Iterable[Any]) -> str:
    """Which of the clusters above `nodes` (kubernetes V1Node objects) belong to: the tiers need
    different ones (the cluster tier three zoned nodes of any kind, the e2e tier nodes that run containers)."""
    nodes = list(nodes)
    if not nodes:
        return OTHER
    if all((n.status.node_info.container_runtime_version or "").startswith("stand-in") for n in nodes):
        return STAND_IN_NODES
    if any((n.metadata.labels or {}).get("node.kubernetes.io/instance-type") == "real-node" for n in nodes):
        return REAL_NODE
    if all((n.spec.provider_id or "").startswith("kind://") for n in nodes):
        return KIND
    return OTHER


# ---- helm command lines ---------------------------------------------------------------------------

def helm_args(
    verb: str,
    release: str,
    namespace: str,
    *,
    kubeconfig: str,
    kube_context: str | None = None,
    chart: str | Path | None = None,
    values_files: Sequence[str | Path] = (),
    set_values: Mapping[str, str] | None = None,
    wait: bool = True,
    timeout: str = "180s",
    extra: Sequence[str] = (),
) -> list[str]:
    """Arguments for `helm VERB` (without the binary: pass them to `helm.run_helm`).

    `install`/`upgrade` take the chart (the working tree's by default) and values; `upgrade` always
    states how values are combined (the caller passes `--reset-values` or
    `--reset-then-reuse-values` in `extra`; plain `--reuse-values` brings back the old chart's
    defaults, see the chart README's Upgrading section). `rollback` takes the revision in `extra`.
    """
    args = [verb, release]
    if verb in ("install", "upgrade"):
        args.append(str(chart or chart_dir()))
        if verb == "upgrade" and not {"--reset-values", "--reset-then-reuse-values", "--reuse-values"} & set(extra):
            raise ValueError("helm upgrade needs --reset-values or --reset-then-reuse-values in extra (say how values combine)")
        for values_file in values_files:
            args += ["--values", str(values_file)]
        for key, value in (set_values or {}).items():
            args += ["--set", f"{key}={value}"]
    args += ["--namespace", namespace, "--kubeconfig", kubeconfig]
    if kube_context:
        args += ["--kube-context", kube_context]
    if wait and verb in ("install", "upgrade", "rollback"):
        args += ["--wait", "--timeout", timeout]
    if verb == "test":
        args += ["--timeout", timeout]  # `--logs` needs a kubelet that serves logs (not k8s-local's stand-in)
    return args + list(extra)


# ---- scenario prerequisites -----------------------------------------------------------------------

@dataclass(frozen=True)
class Prerequisite:
    """One object a ci/ scenario expects in the cluster, from its `# needs: Kind/name` directive."""

    kind: str
    name: str


PREREQUISITE_KINDS = ("PriorityClass", "PersistentVolumeClaim", "StorageClass", "GPUNode")


def parse_needs(text: str) -> list[Prerequisite]:
    """`PriorityClass/model-serving, PersistentVolumeClaim/models` -> prerequisites, in order."""
    needs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, name = item.partition("/")
        if not sep or not name or kind not in PREREQUISITE_KINDS:
            raise ValueError(f"`# needs: {text}`: {item!r} is not Kind/name with Kind one of {', '.join(PREREQUISITE_KINDS)}")
        needs.append(Prerequisite(kind, name))
    return needs


def scenario_prerequisites(values_file: str | Path) -> list[Prerequisite]:
    from .testing import scenario_directives

    return parse_needs(scenario_directives(values_file).get("needs", ""))


def stand_in_volume(name: str, claim_namespace: str, claim_name: str, storage_class: str, size: str, access_modes: Sequence[str]) -> dict:
    """A PersistentVolume pre-bound to one claim: the test plays the storage provisioner. The NFS
    source is never mounted on the local control plane (no container runs)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": dict(CREATED_BY_LABEL)},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": list(access_modes),
            "persistentVolumeReclaimPolicy": "Delete" if storage_class else "Retain",
            "storageClassName": storage_class,
            "claimRef": {"namespace": claim_namespace, "name": claim_name},
            "nfs": {"server": "127.0.0.1", "path": f"/stand-in/{claim_namespace}/{claim_name}"},
        },
    }


def prerequisite_manifests(prerequisite: Prerequisite, namespace: str) -> list[dict]:
    """The objects that satisfy one prerequisite for a release in `namespace`. Cluster-scoped ones
    (PriorityClass, StorageClass) are shared by every test and kept; a claim gets its own volume."""
    labels = dict(CREATED_BY_LABEL)
    if prerequisite.kind == "PriorityClass":
        return [{
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": prerequisite.name, "labels": labels},
            "value": 1000, "globalDefault": False, "description": "created by the tf-serving cluster tier",
        }]
    if prerequisite.kind == "StorageClass":
        # Static provisioning: tests create a volume for every claim the chart renders (volumes_for_claims).
        return [{
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": prerequisite.name, "labels": labels},
            "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "Immediate", "reclaimPolicy": "Delete",
        }]
    if prerequisite.kind == "PersistentVolumeClaim":
        claim = {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": prerequisite.name, "namespace": namespace, "labels": labels},
            "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "", "resources": {"requests": {"storage": "1Gi"}}},
        }
        volume = stand_in_volume(f"{namespace}-{prerequisite.name}"[:253], namespace, prerequisite.name, "", "1Gi", ["ReadOnlyMany"])
        return [volume, claim]
    if prerequisite.kind == "GPUNode":
        return []  # not an object: the tier labels a stand-in node (gpu_node_patch)
    raise ValueError(f"unknown prerequisite kind {prerequisite.kind}")


def gpu_node_patch(prerequisite: Prerequisite, gpus: int = 4) -> tuple[dict, dict]:
    """(metadata patch, status patch) that make a stand-in node look like the GPU node pool the
    scenario selects: its label and `nvidia.com/gpu` capacity. Only for stand-in nodes."""
    key, sep, value = prerequisite.name.partition("=")
    if not sep:
        raise ValueError(f"GPUNode/{prerequisite.name}: expected GPUNode/label-key=label-value")
    status = {"status": {"capacity": {"nvidia.com/gpu": str(gpus)}, "allocatable": {"nvidia.com/gpu": str(gpus)}}}
    return {"metadata": {"labels": {key: value}}}, status


def volumes_for_claims(documents: Iterable[Mapping], namespace: str) -> list[dict]:
    """One pre-bound stand-in volume per PersistentVolumeClaim the chart renders (the provisioner's job)."""
    volumes = []
    for doc in documents:
        if doc.get("kind") != "PersistentVolumeClaim":
            continue
        spec = doc["spec"]
        name = doc["metadata"]["name"]
        volumes.append(stand_in_volume(f"{namespace}-{name}"[:253], namespace, name, spec.get("storageClassName", ""),
                                       spec["resources"]["requests"]["storage"], spec["accessModes"]))
    return volumes


def create_ignoring_existing(api_client: Any, manifest: dict) -> None:
    """Create one object; one that exists already (a shared PriorityClass, StorageClass or CRD) is fine."""
    from kubernetes import utils

    try:
        utils.create_from_dict(api_client, manifest)
    except utils.FailToCreateError as error:
        if any(getattr(e, "status", None) != 409 for e in error.api_exceptions):
            raise


# ---- CRDs ---------------------------------------------------------------------------------------

def vendored_crds() -> dict[tuple[str, str], Path]:
    """(group, kind) -> vendored CRD file."""
    found = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for doc in yamlio.load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                found[(doc["spec"]["group"], doc["spec"]["names"]["kind"])] = path
    return found


def crds_for(documents: Iterable[Mapping]) -> list[Path]:
    """The vendored CRD files that define the custom kinds among rendered documents; a custom kind
    with no vendored CRD is an error (the install would fail later with a vaguer message)."""
    known = vendored_crds()
    needed: dict[Path, None] = {}
    for doc in documents:
        group = doc.get("apiVersion", "").rpartition("/")[0]
        path = known.get((group, doc["kind"]))
        if path is not None:
            needed[path] = None
        elif "." in group and not group.endswith(".k8s.io"):  # built-in groups: none, apps, *.k8s.io
            raise LookupError(f"{doc['apiVersion']} {doc['kind']} is rendered but no CRD for it is vendored in {CRD_DIR}")
    return list(needed)


def install_crds(api_client: Any, paths: Iterable[Path]) -> None:
    """Create the CRDs of the given vendored files (kept: cluster-scoped, shared by every test) and
    wait until they are Established."""
    from kubernetes import client

    extensions = client.ApiextensionsV1Api(api_client)
    names = []
    for path in paths:
        for doc in yamlio.load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                names.append(doc["metadata"]["name"])
                create_ignoring_existing(api_client, doc)

    def established():
        pending = [n for n in names if not any(
            c.type == "Established" and c.status == "True" for c in (extensions.read_custom_resource_definition(n).status.conditions or []))]
        return not pending, pending

    wait_until(established, what=f"CRDs {names} to be Established", timeout=60)


# ---- events, status and waits -------------------------------------------------------------------

def failed_creates(events: Iterable[Any]) -> list[str]:
    """`Kind/name: message` for every FailedCreate event (a ReplicaSet whose pods admission refused)."""
    return [f"{e.involved_object.kind}/{e.involved_object.name}: {e.message}" for e in events if e.reason == "FailedCreate"]


def format_events(events: Iterable[Any]) -> str:
    def when(event):
        return str(event.last_timestamp or event.event_time or event.metadata.creation_timestamp or "")

    lines = [f"{when(e)[:19]:19}  {e.type or '':7} {e.reason or '':22} {e.involved_object.kind}/{e.involved_object.name}: {e.message}"
             for e in sorted(events, key=when)]
    return "\n".join(lines) or "(no events)"


def namespace_report(api_client: Any, namespace: str, kubeconfig: str) -> str:
    """What a failed test prints for its namespace: every event, then `helm list` and `helm status`."""
    from kubernetes import client

    from .helm import run_helm

    parts = [f"==== events in {namespace}"]
    try:
        parts.append(format_events(client.CoreV1Api(api_client).list_namespaced_event(namespace).items))
    except Exception as error:  # the report must never hide the original failure
        parts.append(f"(events unavailable: {error})")
    releases = run_helm(["list", "--namespace", namespace, "--kubeconfig", kubeconfig, "--all", "-q"], check=False).stdout.split()
    for name in releases:
        status = run_helm(["status", name, "--namespace", namespace, "--kubeconfig", kubeconfig, "--show-resources"], check=False)
        history = run_helm(["history", name, "--namespace", namespace, "--kubeconfig", kubeconfig], check=False)
        parts += [f"==== helm status {name}", status.stdout + status.stderr, f"==== helm history {name}", history.stdout + history.stderr]
    if not releases:
        parts.append(f"==== no helm release in {namespace}")
    return "\n".join(parts)


class WaitTimeout(AssertionError):
    """A wait gave up: the message says what was awaited, for how long, and the last state seen."""


def wait_until(
    check: Callable[[], tuple[bool, T]],
    *,
    what: str,
    timeout: float,
    interval: float = 1.0,
    progress_every: float = 10.0,
    out=None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Poll `check()` -> (done, state) until done; print progress every `progress_every` seconds;
    on timeout raise WaitTimeout naming `what`, the timeout and the last state."""
    start = clock()
    next_report = start + progress_every
    while True:
        done, state = check()
        if done:
            return state
        now = clock()
        if now - start >= timeout:
            raise WaitTimeout(f"gave up after {timeout:.0f}s waiting for {what}; last state: {state}")
        if now >= next_report:
            print(f"waiting for {what}: {now - start:.0f}s of {timeout:.0f}s, now {state}", file=out or sys.stderr, flush=True)
            next_report = now + progress_every
        sleep(interval)


def replica_sets_never_below(samples: Iterable[Mapping[str, int]], desired: int) -> list[str]:
    """Given samples of {ReplicaSet name: ready replicas} taken during a rollout, the samples where
    the total ready count fell below `desired` (maxUnavailable 0 means: none)."""
    return [f"sample {i}: {sum(s.values())} ready < {desired} ({dict(s)})" for i, s in enumerate(samples) if sum(s.values()) < desired]


class HelmFailed(AssertionError):
    """A helm command failed: the message holds the command, exit code, stdout and stderr."""


@dataclass(frozen=True)
class HelmRelease:
    """One release under test: `install`, `upgrade`, `test`, `rollback` with the tiers' defaults
    (--wait, a timeout, the kubeconfig); each raises HelmFailed with helm's output, or returns it."""

    name: str
    namespace: str
    kubeconfig: str
    chart: str | Path | None = None
    timeout: str = "180s"
    context: str | None = None  # the kubeconfig context; None: its current one

    def helm(self, verb: str, *, check: bool = True, **kwargs) -> Any:
        from .helm import run_helm

        kwargs.setdefault("chart", self.chart)
        args = helm_args(verb, self.name, self.namespace, kubeconfig=self.kubeconfig, kube_context=self.context, timeout=self.timeout,
                         **kwargs)
        result = run_helm(args, check=False)
        if check and result.returncode != 0:
            raise HelmFailed(f"helm {' '.join(args)}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def install(self, values_files: Sequence[str | Path] = (), set_values: Mapping[str, str] | None = None, **kwargs) -> Any:
        return self.helm("install", values_files=values_files, set_values=set_values, **kwargs)

    def upgrade(self, values_files: Sequence[str | Path] = (), set_values: Mapping[str, str] | None = None, *,
                reset: str = "--reset-values", **kwargs) -> Any:
        return self.helm("upgrade", values_files=values_files, set_values=set_values, extra=[reset, *kwargs.pop("extra", ())], **kwargs)

    def test(self, **kwargs) -> Any:
        return self.helm("test", **kwargs)

    def rollback(self, revision: int, **kwargs) -> Any:
        return self.helm("rollback", extra=[str(revision)], **kwargs)

    def status(self) -> tuple[int, str]:
        """(revision, status) of the release, e.g. (1, "deployed")."""
        import json

        info = json.loads(self.helm("status", extra=["-o", "json"]).stdout)
        return info["version"], info["info"]["status"]


# ---- the previous chart version ------------------------------------------------------------------

def _git(*args: str) -> str:
    result = release.git(REPO_ROOT, *args)
    result.check_returncode()
    return result.stdout.strip()


@functools.lru_cache(maxsize=None)
def previous_chart_commit(chart: str = "charts/tf-serving", *, before: str | None = None) -> tuple[str, str]:
    """(git revision, version) of the release before `before` (default: the chart's current version): the
    tag `tf-serving-<version>` of the newest older version when one exists (chart-releaser's naming).
    Without tags: the newest commit before the one that set `before` that still has the previous version
    and an empty `## [Unreleased]` in the chart CHANGELOG (every chart change lands there first, so that
    is the release as it was cut), else the bump commit's parent."""
    current = before or yamlio.load(_git("show", f"HEAD:{chart}/Chart.yaml"))["version"]
    from .testing import kube_version_tuple as version_tuple

    tags = [t for t in _git("tag", "--list", "tf-serving-*").split() if t.removeprefix("tf-serving-") != current]
    older = [t for t in tags if version_tuple(t.removeprefix("tf-serving-")) < version_tuple(current)]
    if older:
        newest = max(older, key=lambda t: version_tuple(t.removeprefix("tf-serving-")))
        return newest, newest.removeprefix("tf-serving-")
    bumps = _git("log", "--format=%H", "-S", f"version: {current}", "--", f"{chart}/Chart.yaml").split()
    if not bumps:
        raise LookupError(f"no commit sets version {current} in {chart}/Chart.yaml and no older tf-serving-* tag")
    parent = f"{bumps[-1]}^"
    previous = yamlio.load(_git("show", f"{parent}:{chart}/Chart.yaml"))["version"]
    for revision in _git("log", "--first-parent", "--format=%H", parent, "--", chart).split():
        if yamlio.load(_git("show", f"{revision}:{chart}/Chart.yaml"))["version"] != previous:
            break
        # A revision from before the CHANGELOG existed has none: `git show` fails, and nothing is unreleased.
        changelog = release.git(REPO_ROOT, "show", f"{revision}:{chart}/CHANGELOG.md").stdout
        if not release.has_unreleased_changes(changelog):
            return revision, previous
    return parent, previous


def export_chart(revision: str, destination: str | Path, chart: str = "charts/tf-serving") -> Path:
    """The chart directory as it was at `revision`, written under `destination`; returns its path."""
    import io
    import subprocess
    import tarfile

    from .paths import REPO_ROOT

    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", "--format=tar", revision, chart],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return Path(destination) / chart
