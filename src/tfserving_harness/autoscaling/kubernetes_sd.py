"""STAND-IN for Prometheus' Kubernetes service discovery. Debian's prometheus package is built without
it ("Kubernetes support has been completely removed", its NEWS.Debian since 1.5.0+ds-1; Debian's
`promtool check config` refuses `kubernetes_sd_configs`), and no registry ships upstream's binary.

So the scrape configs prometheus-operator generates (`scrape_config`) keep their relabel_configs
unchanged and only their `kubernetes_sd_configs` entry becomes a `file_sd_configs` entry: this module
lists the API server's objects every `interval` seconds and writes the target groups Prometheus
v2.42.0 builds from them, with the same `__meta_kubernetes_*` labels, to the file
(discovery/kubernetes/endpoints.go `buildEndpoints`, pod.go `buildPod` and `podLabels`, service.go
`serviceLabels`, kubernetes.go `GetControllerOf`): role `endpoints` gives one target per subset
address and port (ready and not-ready addresses, `endpoint_ready` telling them apart), with the
Service's and the Endpoints' labels, the pod's labels and the matching container port's labels, plus
one target per container port of those pods that no endpoint port covers; role `pod` gives one target
per container (init containers too) and port. Each target is written as its own group (its labels
are the group's merged with its own, as the scrape manager merges them); file SD adds
`__meta_filepath`, which no generated relabeling reads.

Not reproduced: watching (a list every `interval`; Prometheus' discovery manager sends updates at
most every 5 s anyway), `attach_metadata` (node labels), the EndpointSlice role, `selectors`,
`api_server`/`tls_config` (the harness's own API client is used).
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from kubernetes import client

META = "__meta_kubernetes_"
_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def _sanitize(name: str) -> str:
    """strutil.SanitizeLabelName."""
    return _INVALID.sub("_", name)


def _join_host_port(host: str, port: int | str) -> str:
    """net.JoinHostPort: IPv6 addresses in brackets."""
    try:
        return f"[{host}]:{port}" if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address) else f"{host}:{port}"
    except ValueError:
        return f"{host}:{port}"


def _labels_and_annotations(prefix: str, meta: Mapping) -> dict[str, str]:
    out = {}
    for key, value in (meta.get("labels") or {}).items():
        out[f"{META}{prefix}_label_{_sanitize(key)}"] = value
        out[f"{META}{prefix}_labelpresent_{_sanitize(key)}"] = "true"
    for key, value in (meta.get("annotations") or {}).items():
        out[f"{META}{prefix}_annotation_{_sanitize(key)}"] = value
        out[f"{META}{prefix}_annotationpresent_{_sanitize(key)}"] = "true"
    return out


def pod_labels(pod: Mapping) -> dict[str, str]:
    """pod.go `podLabels`."""
    meta, status, spec = pod["metadata"], pod.get("status") or {}, pod.get("spec") or {}
    ready = next((c["status"].lower() for c in status.get("conditions") or [] if c["type"] == "Ready"), "unknown")
    labels = {f"{META}pod_name": meta["name"], f"{META}pod_ip": status.get("podIP", ""), f"{META}pod_ready": ready,
              f"{META}pod_phase": status.get("phase", ""), f"{META}pod_node_name": spec.get("nodeName", ""),
              f"{META}pod_host_ip": status.get("hostIP", ""), f"{META}pod_uid": meta.get("uid", "")}
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner is not None:
        if owner.get("kind"):
            labels[f"{META}pod_controller_kind"] = owner["kind"]
        if owner.get("name"):
            labels[f"{META}pod_controller_name"] = owner["name"]
    labels.update(_labels_and_annotations("pod", meta))
    return labels


def endpoints_targets(endpoints: Mapping, service: Mapping | None, pods: Mapping[tuple[str, str], Mapping]) -> list[dict[str, str]]:
    """endpoints.go `buildEndpoints`: every target's full label set, `__address__` included."""
    meta = endpoints["metadata"]
    group = {f"{META}namespace": meta["namespace"], f"{META}endpoints_name": meta["name"]}
    if service is not None:  # addServiceLabels
        group.update({f"{META}service_name": service["metadata"]["name"], f"{META}namespace": service["metadata"]["namespace"]})
        group.update(_labels_and_annotations("service", service["metadata"]))
    for key, value in (meta.get("labels") or {}).items():
        group[f"{META}endpoints_label_{_sanitize(key)}"] = value
        group[f"{META}endpoints_labelpresent_{_sanitize(key)}"] = "true"
    targets: list[dict[str, str]] = []
    seen: dict[tuple[str, str], tuple[Mapping, list[int]]] = {}

    def add(address: Mapping, port: Mapping, ready: str) -> None:
        target = {"__address__": _join_host_port(address["ip"], port["port"]), f"{META}endpoint_port_name": port.get("name", ""),
                  f"{META}endpoint_port_protocol": port.get("protocol", ""), f"{META}endpoint_ready": ready}
        ref = address.get("targetRef")
        if ref:
            target[f"{META}endpoint_address_target_kind"] = ref.get("kind", "")
            target[f"{META}endpoint_address_target_name"] = ref.get("name", "")
        if address.get("nodeName"):
            target[f"{META}endpoint_node_name"] = address["nodeName"]
        if address.get("hostname"):
            target[f"{META}endpoint_hostname"] = address["hostname"]
        pod = pods.get((ref.get("namespace", ""), ref.get("name", ""))) if ref and ref.get("kind") == "Pod" else None
        if pod is None:
            targets.append({**group, **target})
            return
        entry = seen.setdefault((pod["metadata"]["namespace"], pod["metadata"]["name"]), (pod, []))
        target.update(pod_labels(pod))
        for container in pod["spec"]["containers"]:
            matching = next((p for p in container.get("ports") or [] if p["containerPort"] == port["port"]), None)
            if matching is not None:
                target.update({f"{META}pod_container_name": container["name"], f"{META}pod_container_image": container.get("image", ""),
                               f"{META}pod_container_port_name": matching.get("name", ""),
                               f"{META}pod_container_port_number": str(port["port"]),
                               f"{META}pod_container_port_protocol": port.get("protocol", "")})
        entry[1].append(port["port"])
        targets.append({**group, **target})

    for subset in endpoints.get("subsets") or []:
        for port in subset.get("ports") or []:
            for address in subset.get("addresses") or []:
                add(address, port, "true")
            for address in subset.get("notReadyAddresses") or []:
                add(address, port, "false")
    for pod, service_ports in seen.values():
        for container in pod["spec"]["containers"]:
            for port in container.get("ports") or []:
                if port["containerPort"] in service_ports:
                    continue
                targets.append({**group, "__address__": _join_host_port(pod["status"].get("podIP", ""), port["containerPort"]),
                                f"{META}pod_container_name": container["name"], f"{META}pod_container_image": container.get("image", ""),
                                f"{META}pod_container_port_name": port.get("name", ""),
                                f"{META}pod_container_port_number": str(port["containerPort"]),
                                f"{META}pod_container_port_protocol": port.get("protocol", ""), **pod_labels(pod)})
    return targets


def pod_targets(pod: Mapping) -> list[dict[str, str]]:
    """pod.go `buildPod`."""
    status = pod.get("status") or {}
    if not status.get("podIP"):
        return []
    group = {**pod_labels(pod), f"{META}namespace": pod["metadata"]["namespace"]}
    containers = [(c, False) for c in pod["spec"]["containers"]] + [(c, True) for c in pod["spec"].get("initContainers") or []]
    targets = []
    for container, is_init in containers:
        statuses = status.get("initContainerStatuses" if is_init else "containerStatuses") or []
        container_id = next((s.get("containerID", "") for s in statuses if s["name"] == container["name"]), "")
        common = {f"{META}pod_container_name": container["name"], f"{META}pod_container_id": container_id,
                  f"{META}pod_container_image": container.get("image", ""), f"{META}pod_container_init": str(is_init).lower()}
        if not container.get("ports"):
            targets.append({**group, "__address__": status["podIP"], **common})
            continue
        for port in container["ports"]:
            targets.append({**group, "__address__": _join_host_port(status["podIP"], port["containerPort"]), **common,
                            f"{META}pod_container_port_number": str(port["containerPort"]),
                            f"{META}pod_container_port_name": port.get("name", ""),
                            f"{META}pod_container_port_protocol": port.get("protocol", "")})
    return targets


def file_sd_groups(targets: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One file_sd target group per target."""
    return [{"targets": [t["__address__"]], "labels": {k: v for k, v in t.items() if k != "__address__"}} for t in targets]


@dataclass
class KubernetesDiscoveryStandIn:
    """Keeps one file_sd file per registered kubernetes_sd_configs entry current."""

    api: client.ApiClient
    directory: Path
    interval: float = 2.0
    sources: dict[Path, Mapping] = field(default_factory=dict)
    last_error: str = ""

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def file_sd_config(self, job_name: str, sd_config: Mapping) -> dict:
        """Register a kubernetes_sd_configs entry; the file_sd_configs entry that replaces it."""
        if sd_config.get("role") not in ("endpoints", "pod"):
            raise ValueError(f"{job_name}: role {sd_config.get('role')!r}: the discovery stand-in lists endpoints and pods only")
        unsupported = sorted(set(sd_config) - {"role", "namespaces", "api_server", "tls_config"})
        if unsupported:
            raise ValueError(f"{job_name}: kubernetes_sd_configs {', '.join(unsupported)} not supported by the discovery stand-in")
        path = self.directory / (re.sub(r"[^A-Za-z0-9_.-]", "_", job_name) + ".json")
        with self._lock:
            self.sources[path] = sd_config
        self.refresh_one(path, sd_config)
        return {"files": [str(path)], "refresh_interval": "5s"}

    def _list(self, kind: str, namespace: str | None) -> list[dict]:
        core = client.CoreV1Api(self.api)
        call = {"endpoints": (core.list_namespaced_endpoints, core.list_endpoints_for_all_namespaces),
                "services": (core.list_namespaced_service, core.list_service_for_all_namespaces),
                "pods": (core.list_namespaced_pod, core.list_pod_for_all_namespaces)}[kind]
        found = call[0](namespace, _request_timeout=10) if namespace else call[1](_request_timeout=10)
        return [self.api.sanitize_for_serialization(item) for item in found.items]

    def targets(self, sd_config: Mapping) -> list[dict[str, str]]:
        namespaces = (sd_config.get("namespaces") or {}).get("names") or [None]
        targets: list[dict[str, str]] = []
        for namespace in namespaces:
            pods = self._list("pods", namespace)
            if sd_config["role"] == "pod":
                targets += [t for pod in pods for t in pod_targets(pod)]
                continue
            by_name = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
            services = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in self._list("services", namespace)}
            for endpoints in self._list("endpoints", namespace):
                key = (endpoints["metadata"]["namespace"], endpoints["metadata"]["name"])
                targets += endpoints_targets(endpoints, services.get(key), by_name)
        return targets

    def refresh_one(self, path: Path, sd_config: Mapping) -> None:
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(file_sd_groups(self.targets(sd_config)), indent=1, sort_keys=True))
        partial.rename(path)  # file SD must never read half a file

    def run(self, on_error: Callable[[str], None] | None = None) -> KubernetesDiscoveryStandIn:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                with self._lock:
                    sources = dict(self.sources)
                for path, sd_config in sources.items():
                    try:
                        self.refresh_one(path, sd_config)
                        self.last_error = ""
                    except Exception as error:  # noqa: BLE001 - the next round tries again; Prometheus keeps the last file
                        self.last_error = f"{path.name}: {error}"
                        if on_error:
                            on_error(self.last_error)

        threading.Thread(target=loop, name="kubernetes-sd-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()


def with_file_sd(configs: list[Mapping], discovery: KubernetesDiscoveryStandIn) -> list[dict]:
    """The scrape configs with each `kubernetes_sd_configs` entry replaced by the stand-in's file_sd entry (same place, same relabelings)."""
    out = []
    for config in configs:
        replaced: dict[str, Any] = {}
        for key, value in config.items():
            if key == "kubernetes_sd_configs":
                value = [discovery.file_sd_config(f"{config['job_name']}-{i}", sd) for i, sd in enumerate(value)]
                key = "file_sd_configs"
            replaced[key] = value
        out.append(replaced)
    return out
