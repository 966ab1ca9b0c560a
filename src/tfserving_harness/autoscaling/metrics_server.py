"""STAND-IN for metrics-server (test tooling: metrics-server cannot be had on the project's machines;
kind runs the real one). It serves `metrics.k8s.io/v1beta1` PodMetrics, computed from the real
kubelets' `/metrics/resource`, for the HPA's Resource metrics (CPU and memory utilisation).

Followed, at metrics-server v0.7.2 (what the kind tier's metrics-server chart 3.12.2 runs):
- scraping (pkg/scraper, cmd options): every `resolution` (`--metric-resolution`, at least 10 s;
  the chart sets 15 s) each node's kubelet at its InternalIP and the port in its status
  (`--kubelet-preferred-address-types=InternalIP,...`, `--kubelet-use-node-status-port`, as the
  chart sets them), authenticated with a client certificate;
- decoding (pkg/scraper/client/resource/decode.go): `container_cpu_usage_seconds_total` (seconds ->
  nano core-seconds), `container_memory_working_set_bytes`, `container_start_time_seconds`, each
  sample's own timestamp (milliseconds; the scrape time when it has none); a pod whose container
  reports 0 CPU or 0 memory is dropped whole (`checkContainerMetrics`);
- storage (pkg/storage/pod.go, types.go): the last two points per container; a point newer than the
  stored one moves it to `prev`; a container restarted since (start time after the stored point)
  starts again; a fresh container (started 10 s to `resolution` ago) gets a synthetic previous
  point at its start time with 0 CPU; usage = CPU delta / time delta (truncated to nanocores,
  DecimalSI) and the last working set (BinarySI); a pod's timestamp and window are those of its
  container with the earliest timestamp; a pod is served only when every container has two points;
- the API (pkg/api/pod.go, informer.go): pods are those the API server lists with
  `status.phase=Running`, filtered by the request's label selector; the list is sorted by
  namespace and name; a pod without metrics is left out of a list and is a 404 on its own.

Not served: NodeMetrics (`nodes`; the HPA reads pods only), field selectors, tables, protobuf,
authentication and authorization (delegated to the API server by the real one).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from fractions import Fraction
from typing import Any, Callable, Mapping

import requests

from ..quantity import canonical
from .aggregated import api_group, not_found, rfc3339

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
MIN_RESOLUTION = 10.0  # cmd/metrics-server/app/options: "metric-resolution should be a time duration at least 10s"
FRESH_CONTAINER_MIN_SECONDS = 10  # storage/pod.go freshContainerMinMetricsResolution
NANOS = 10**9

_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(?:\s+(-?\d+))?\s*$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def go_duration(nanoseconds: int) -> str:
    """time.Duration.String(), which metav1.Duration writes to JSON (`10.004s`, `1m0.5s`, `500ms`)."""
    if nanoseconds == 0:
        return "0s"
    sign, n = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)

    def fraction(value: int, digits: int) -> str:
        whole, part = divmod(value, 10**digits)
        text = f"{part:0{digits}d}".rstrip("0") if digits else ""
        return f"{whole}.{text}" if text else str(whole)

    if n < NANOS:
        digits, unit = (0, "ns") if n < 1000 else (3, "µs") if n < 10**6 else (6, "ms")
        return f"{sign}{fraction(n, digits)}{unit}"
    seconds, rest = divmod(n, NANOS)
    text = fraction((seconds % 60) * NANOS + rest, 9) + "s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


_GO_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?)(ms|µs|us|ns|h|m|s)")
_GO_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}


def parse_go_duration(text: str) -> float:
    """Seconds in a time.Duration string (`10.004s`, `1m0.5s`: a PodMetrics window), as time.ParseDuration reads it."""
    sign, body = (-1.0, text[1:]) if text.startswith("-") else (1.0, text.lstrip("+"))
    parts = _GO_DURATION_PART.findall(body)
    if body == "0":
        return 0.0
    if not parts or "".join(n + u for n, u in parts) != body:
        raise ValueError(f"time: invalid duration {text!r}")
    return sign * sum(float(n) * _GO_UNIT_SECONDS[u] for n, u in parts)


@dataclass(frozen=True)
class Point:
    """storage.MetricsPoint: times in nanoseconds since the epoch, CPU in nano core-seconds, memory in bytes."""

    start_time: int = 0
    timestamp: int = 0
    cpu: int = 0
    memory: int = 0


#: (namespace, pod) -> container -> Point
Batch = dict[tuple[str, str], dict[str, Point]]


def decode(text: str, scrape_time_ns: int) -> Batch:
    """decode.go `decodeBatch`, pods only."""
    pods: dict[tuple[str, str], dict[str, Point]] = {}
    default_ms = scrape_time_ns // 10**6
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        found = _SERIES.match(line)
        if not found:
            raise ValueError(f"failed parsing metrics: {line!r}")
        name, labels_text, raw, timestamp_ms = found.groups()
        if name not in ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "container_start_time_seconds"):
            continue
        labels = dict(_LABEL.findall(labels_text or ""))
        key, container = (labels.get("namespace", ""), labels.get("pod", "")), labels.get("container", "")
        point = pods.setdefault(key, {}).get(container, Point())
        value, stamp = float(raw), int(timestamp_ms if timestamp_ms is not None else default_ms) * 10**6
        if name == "container_cpu_usage_seconds_total":
            point = replace(point, cpu=int(value * 1e9), timestamp=stamp)
        elif name == "container_memory_working_set_bytes":
            point = replace(point, memory=int(value), timestamp=stamp)
        else:
            point = replace(point, start_time=int(value * 1e9))
        pods[key][container] = point
    batch: Batch = {}
    for key, containers in pods.items():
        kept = {}
        for container, point in containers.items():
            if point == Point():
                continue
            if point.cpu == 0 or point.memory == 0:  # checkContainerMetrics: the whole pod is dropped
                kept = None
                break
            kept[container] = point
        if kept is not None and containers:
            batch[key] = kept
    return batch


@dataclass
class PodStorage:
    """storage/pod.go podStorage: the last two points of every container."""

    resolution_ns: int
    last: Batch = field(default_factory=dict)
    prev: Batch = field(default_factory=dict)

    def store(self, batch: Batch) -> None:
        last: Batch = {}
        prev: Batch = {}
        for key, containers in batch.items():
            new_last, new_prev = {}, {}
            for name, point in containers.items():
                new_last[name] = point
                age = point.timestamp - point.start_time
                if point.start_time < point.timestamp and age < self.resolution_ns and age >= FRESH_CONTAINER_MIN_SECONDS * NANOS:
                    new_prev[name] = replace(point, timestamp=point.start_time, cpu=0)
                elif key in self.last:
                    stored = self.last[key].get(name)
                    # Keep the previous point while the container has not restarted since it.
                    if stored is not None and point.start_time < stored.timestamp:
                        if point.timestamp > stored.timestamp:
                            new_prev[name] = stored
                        elif key in self.prev and name in self.prev[key] and self.prev[key][name].timestamp < point.timestamp:
                            new_prev[name] = self.prev[key][name]
            if new_prev:
                prev[key] = new_prev
            last[key] = new_last
        self.last, self.prev = last, prev

    def pod_metrics(self, namespace: str, name: str, labels: Mapping[str, str] | None, now: datetime) -> dict | None:
        """storage/pod.go `GetMetrics` for one pod: the PodMetrics object, or None without two points of every container."""
        last, prev = self.last.get((namespace, name)), self.prev.get((namespace, name))
        if last is None or prev is None:
            return None
        containers, earliest = [], None
        for container, point in last.items():
            before = prev.get(container)
            if before is None:
                return None  # allContainersPresent = false
            if point.start_time < before.start_time or point.cpu < before.cpu:
                continue  # resourceUsage errors: "Skipping container usage metric"
            window = point.timestamp - before.timestamp
            nanocores = int((point.cpu - before.cpu) / (window / NANOS))
            containers.append({"name": container, "usage": {"cpu": canonical(Fraction(nanocores, NANOS)),
                                                            "memory": canonical(point.memory, binary=True)}})
            if earliest is None or earliest[0] > point.timestamp:
                earliest = (point.timestamp, window)
        timestamp, window = earliest or (0, 0)
        metadata: dict[str, Any] = {"name": name, "namespace": namespace, "creationTimestamp": rfc3339(now)}
        if labels:
            metadata["labels"] = dict(labels)
        return {"metadata": metadata, "timestamp": rfc3339(datetime.fromtimestamp(timestamp / NANOS, timezone.utc)),
                "window": go_duration(window), "containers": sorted(containers, key=lambda c: c["name"])}


@dataclass
class MetricsServerStandIn:
    """metrics.k8s.io/v1beta1 pods. `kubelets()` lists (node name, base URL) of the nodes' kubelets;
    `running_pods(namespace, label_selector)` lists (namespace, name, labels) of Running pods
    (`namespace` "" for all); `session` carries the kubelet client certificate and CA."""

    kubelets: Callable[[], list[tuple[str, str]]]
    running_pods: Callable[[str, str], list[tuple[str, str, Mapping[str, str]]]]
    session: requests.Session
    resolution: float = 15.0
    storage: PodStorage = field(init=False)
    scrape_errors: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.resolution < MIN_RESOLUTION:
            raise ValueError(f"metric-resolution should be a time duration at least 10s, but value {self.resolution:g}s provided")
        self.storage = PodStorage(int(self.resolution * NANOS))
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def scrape(self) -> None:
        """One scrape of every kubelet, stored as one batch."""
        batch = self.read_kubelets()
        with self._lock:
            self.storage.store(batch)

    def read_kubelets(self) -> Batch:
        """Every kubelet's `/metrics/resource` now, decoded (scraper.go: a node that fails is left out of the batch)."""
        batch: Batch = {}
        for node, url in self.kubelets():
            started = time.time_ns()
            try:
                answer = self.session.get(f"{url}/metrics/resource", timeout=self.resolution * 0.9)
                answer.raise_for_status()
                batch.update(decode(answer.text, started))
                self.scrape_errors.pop(node, None)
            except Exception as error:  # noqa: BLE001 - the real scraper logs a failed node and stores the others
                self.scrape_errors[node] = str(error)
        return batch

    def run(self) -> MetricsServerStandIn:
        def loop() -> None:
            while not self._stop.is_set():
                started = time.monotonic()
                self.scrape()
                self._stop.wait(max(self.resolution - (time.monotonic() - started), 0))

        threading.Thread(target=loop, name="metrics-server-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _metrics(self, pods: list[tuple[str, str, Mapping[str, str]]]) -> list[dict]:
        now = datetime.now(timezone.utc)
        with self._lock:
            found = [m for namespace, name, labels in pods if (m := self.storage.pod_metrics(namespace, name, labels, now))]
        return sorted(found, key=lambda m: (m["metadata"]["namespace"], m["metadata"]["name"]))

    def route(self, segments: list[str], query: dict[str, str]) -> tuple[int, Any]:
        if segments == ["apis"]:
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [api_group(GROUP, [VERSION])]}
        if segments == ["apis", GROUP]:
            return 200, api_group(GROUP, [VERSION])
        if segments[:3] != ["apis", GROUP, VERSION]:
            return not_found("the server could not find the requested resource")
        rest = segments[3:]
        if not rest:
            return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{GROUP}/{VERSION}", "resources": [
                {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]}]}
        selector = query.get("labelSelector", "")
        if rest == ["pods"]:
            return 200, self._list(self.running_pods("", selector))
        if len(rest) == 3 and rest[0] == "namespaces" and rest[2] == "pods":
            return 200, self._list(self.running_pods(rest[1], selector))
        if len(rest) == 4 and rest[0] == "namespaces" and rest[2] == "pods":
            namespace, name = rest[1], rest[3]
            pods = [p for p in self.running_pods(namespace, "") if p[1] == name]
            if not pods:
                return _not_found_object("pods", "", name)
            items = self._metrics(pods)
            if not items:
                return _not_found_object("pods", GROUP, f"{namespace}/{name}")
            return 200, {"kind": "PodMetrics", "apiVersion": f"{GROUP}/{VERSION}", **items[0]}
        return not_found("the server could not find the requested resource (the stand-in serves pods only)")

    def _list(self, pods: list[tuple[str, str, Mapping[str, str]]]) -> dict:
        return {"kind": "PodMetricsList", "apiVersion": f"{GROUP}/{VERSION}", "metadata": {}, "items": self._metrics(pods)}


def _not_found_object(resource: str, group: str, name: str) -> tuple[int, dict]:
    """apierrors.NewNotFound(group resource, name)."""
    qualified = f"{resource}.{group}" if group else resource
    code, body = not_found(f'{qualified} "{name}" not found')
    body["details"] = {"name": name, **({"group": group} if group else {}), "kind": resource}
    return code, body
