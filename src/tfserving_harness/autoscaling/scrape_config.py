"""Prometheus scrape configs from ServiceMonitors and PodMonitors, generated the way prometheus-operator
does it, so a Prometheus the test tier runs scrapes the chart's pods exactly as the operator's would.

Follows prometheus-operator v0.93.0 (the tag of the CRDs vendored in ../crds),
pkg/prometheus/promcfg.go: `generateServiceMonitorConfig` (role `endpoints`, the operator's default
discovery role), `generatePodMonitorConfig` (role `pod`), `generateK8SSDConfig` (namespaces,
`api_server` and its `tls_config` from the Prometheus object's `apiserverConfig`),
`generateRelabelConfig` (the CRD's camelCase relabelings, `action` lower-cased),
`appendShardingRelabelingWithLabel` for one shard, and `initRelabelings`. The `$(SHARD)` the operator
writes is filled in as its config-reloader does for shard 0. tests/harness/test_autoscaling_standins.py
compares the output with the operator's own golden files (pkg/prometheus/testdata) for the same
objects.

Fields the operator supports but this generator does not (authentication, TLS to targets, proxies,
EndpointSlice discovery, role selectors, scrape classes, attach_metadata, limits, native histograms,
scrape protocols) are refused by name rather than silently dropped: the chart renders none of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

#: What the operator's config-reloader substitutes for `$(SHARD)` in the only shard of a Prometheus.
SHARD = "0"

_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")

_ENDPOINT_FIELDS = {"port", "path", "scheme", "params", "interval", "scrapeTimeout", "honorLabels", "honorTimestamps",
                    "relabelings", "metricRelabelings", "filterRunning"}
_SERVICE_ENDPOINT_FIELDS = _ENDPOINT_FIELDS | {"targetPort"}
_POD_ENDPOINT_FIELDS = _ENDPOINT_FIELDS | {"portNumber"}
_SPEC_FIELDS = {"selector", "namespaceSelector", "podTargetLabels", "jobLabel"}
_SERVICE_SPEC_FIELDS = _SPEC_FIELDS | {"endpoints", "targetLabels"}
_POD_SPEC_FIELDS = _SPEC_FIELDS | {"podMetricsEndpoints"}
_RELABEL_KEYS = (("sourceLabels", "source_labels"), ("separator", "separator"), ("targetLabel", "target_label"),
                 ("regex", "regex"), ("modulus", "modulus"), ("replacement", "replacement"), ("action", "action"))


class UnsupportedMonitor(ValueError):
    """A ServiceMonitor/PodMonitor field this generator does not translate."""


@dataclass(frozen=True)
class ApiServer:
    """The Prometheus object's `apiserverConfig`: where Kubernetes service discovery asks, with which client certificate."""

    host: str
    ca_file: str
    cert_file: str
    key_file: str


def sanitize_label_name(name: str) -> str:
    """promcfg.go `sanitizeLabelName`: every character outside [a-zA-Z0-9_] becomes `_`."""
    return _INVALID_LABEL_CHARS.sub("_", name)


def _refuse_unknown(where: str, given: Mapping, known: set[str]) -> None:
    unknown = sorted(set(given) - known)
    if unknown:
        raise UnsupportedMonitor(f"{where}: {', '.join(unknown)} not supported by tfserving_harness.autoscaling.scrape_config "
                                 f"(it translates {', '.join(sorted(known))}); extend it following promcfg.go")


def relabel_configs(relabelings: list[Mapping] | None) -> list[dict]:
    """`generateRelabelConfig`: the CRD's RelabelConfig in Prometheus' spelling, in the operator's key order."""
    out = []
    for relabeling in relabelings or []:
        _refuse_unknown("relabeling", relabeling, {key for key, _ in _RELABEL_KEYS})
        config: dict[str, Any] = {}
        for key, name in _RELABEL_KEYS:
            value = relabeling.get(key)
            if value is None or (key in ("sourceLabels", "targetLabel", "regex", "action") and not value) or (key == "modulus" and value == 0):
                continue
            config[name] = value.lower() if key == "action" else value
        out.append(config)
    return out


def _kubernetes_sd(role: str, monitor: Mapping, api_server: ApiServer | None) -> list[dict]:
    """`generateK8SSDConfig` + `getNamespacesFromNamespaceSelector`."""
    selector = monitor["spec"].get("namespaceSelector") or {}
    _refuse_unknown("spec.namespaceSelector", selector, {"any", "matchNames"})
    config: dict[str, Any] = {"role": role}
    if not selector.get("any"):
        config["namespaces"] = {"names": list(selector.get("matchNames") or [monitor["metadata"]["namespace"]])}
    if api_server is not None:
        config["api_server"] = api_server.host
        config["tls_config"] = {"ca_file": api_server.ca_file, "cert_file": api_server.cert_file, "key_file": api_server.key_file}
    return [config]


def _selector_relabelings(selector: Mapping, meta: str) -> list[dict]:
    """Keep/drop rules for the monitor's label selector (`SelectorMechanismRelabel`, the default)."""
    _refuse_unknown("spec.selector", selector, {"matchLabels", "matchExpressions"})
    rules: list[dict] = []
    labels = selector.get("matchLabels") or {}
    for key in sorted(labels):
        name = sanitize_label_name(key)
        rules.append({"action": "keep", "source_labels": [f"{meta}_label_{name}", f"{meta}_labelpresent_{name}"],
                      "regex": f"({labels[key]});true"})
    for expression in selector.get("matchExpressions") or []:
        name, operator, values = sanitize_label_name(expression["key"]), expression["operator"], expression.get("values") or []
        if operator in ("In", "NotIn"):
            rules.append({"action": "keep" if operator == "In" else "drop",
                          "source_labels": [f"{meta}_label_{name}", f"{meta}_labelpresent_{name}"], "regex": f"({'|'.join(values)});true"})
        elif operator in ("Exists", "DoesNotExist"):
            rules.append({"action": "keep" if operator == "Exists" else "drop", "source_labels": [f"{meta}_labelpresent_{name}"],
                          "regex": "true"})
    return rules


def _endpoint_settings(config: dict, endpoint: Mapping) -> None:
    for key, name in (("interval", "scrape_interval"), ("scrapeTimeout", "scrape_timeout"), ("path", "metrics_path"),
                      ("params", "params"), ("scheme", "scheme")):
        if endpoint.get(key):
            config[name] = endpoint[key]


def _sharding(relabelings: list[dict], shards: int = 1) -> list[dict]:
    """`appendShardingRelabelingWithLabel` on `__address__`, `$(SHARD)` substituted."""
    return relabelings + [
        {"source_labels": ["__address__", "__tmp_hash"], "target_label": "__tmp_hash", "regex": "(.+);", "replacement": "$1",
         "action": "replace"},
        {"source_labels": ["__tmp_hash"], "target_label": "__tmp_hash", "modulus": shards, "action": "hashmod"},
        {"source_labels": ["__tmp_hash", "__tmp_disable_sharding"], "regex": f"{SHARD};|.+;.+", "action": "keep"},
    ]


def _pod_target_labels(monitor: Mapping) -> list[dict]:
    return [{"source_labels": [f"__meta_kubernetes_pod_label_{sanitize_label_name(label)}"], "target_label": sanitize_label_name(label),
             "regex": "(.+)", "replacement": "${1}"} for label in monitor["spec"].get("podTargetLabels") or []]


def _head(job: str, endpoint: Mapping) -> dict:
    config: dict[str, Any] = {"job_name": job, "honor_labels": bool(endpoint.get("honorLabels", False))}
    if "honorTimestamps" in endpoint:
        config["honor_timestamps"] = bool(endpoint["honorTimestamps"])
    return config


_RUNNING_FILTER = {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"}


def service_monitor_scrape_configs(monitor: Mapping, api_server: ApiServer | None = None) -> list[dict]:
    """One scrape config per endpoint of a ServiceMonitor (`generateServiceMonitorConfig`, role endpoints)."""
    spec, meta = monitor["spec"], monitor["metadata"]
    _refuse_unknown("ServiceMonitor spec", spec, _SERVICE_SPEC_FIELDS)
    configs = []
    for index, endpoint in enumerate(spec.get("endpoints") or []):
        _refuse_unknown(f"ServiceMonitor spec.endpoints[{index}]", endpoint, _SERVICE_ENDPOINT_FIELDS)
        config = _head(f"serviceMonitor/{meta['namespace']}/{meta['name']}/{index}", endpoint)
        config["kubernetes_sd_configs"] = _kubernetes_sd("endpoints", monitor, api_server)
        _endpoint_settings(config, endpoint)
        relabelings = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
        relabelings += _selector_relabelings(spec.get("selector") or {}, "__meta_kubernetes_service")
        target_port = endpoint.get("targetPort")
        if endpoint.get("port"):
            relabelings.append({"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": endpoint["port"]})
        elif isinstance(target_port, str) and target_port:
            relabelings.append({"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": target_port})
        elif target_port:
            relabelings.append({"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": target_port})
        address = ["__meta_kubernetes_endpoint_address_target_kind", "__meta_kubernetes_endpoint_address_target_name"]
        relabelings += [
            {"source_labels": address, "separator": ";", "regex": "Node;(.*)", "replacement": "${1}", "target_label": "node"},
            {"source_labels": address, "separator": ";", "regex": "Pod;(.*)", "replacement": "${1}", "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        ]
        if endpoint.get("filterRunning", True):
            relabelings.append(dict(_RUNNING_FILTER))
        relabelings += [{"source_labels": [f"__meta_kubernetes_service_label_{sanitize_label_name(label)}"],
                         "target_label": sanitize_label_name(label), "regex": "(.+)", "replacement": "${1}"}
                        for label in spec.get("targetLabels") or []]
        relabelings += _pod_target_labels(monitor)
        relabelings.append({"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"})
        if spec.get("jobLabel"):
            relabelings.append({"source_labels": [f"__meta_kubernetes_service_label_{sanitize_label_name(spec['jobLabel'])}"],
                                "target_label": "job", "regex": "(.+)", "replacement": "${1}"})
        if endpoint.get("port"):
            relabelings.append({"target_label": "endpoint", "replacement": endpoint["port"]})
        elif target_port:
            relabelings.append({"target_label": "endpoint", "replacement": str(target_port)})
        relabelings += relabel_configs(endpoint.get("relabelings"))
        config["relabel_configs"] = _sharding(relabelings)
        if endpoint.get("metricRelabelings"):
            config["metric_relabel_configs"] = relabel_configs(endpoint["metricRelabelings"])
        configs.append(config)
    return configs


def pod_monitor_scrape_configs(monitor: Mapping, api_server: ApiServer | None = None) -> list[dict]:
    """One scrape config per podMetricsEndpoint of a PodMonitor (`generatePodMonitorConfig`, role pod)."""
    spec, meta = monitor["spec"], monitor["metadata"]
    _refuse_unknown("PodMonitor spec", spec, _POD_SPEC_FIELDS)
    configs = []
    for index, endpoint in enumerate(spec.get("podMetricsEndpoints") or []):
        _refuse_unknown(f"PodMonitor spec.podMetricsEndpoints[{index}]", endpoint, _POD_ENDPOINT_FIELDS)
        config = _head(f"podMonitor/{meta['namespace']}/{meta['name']}/{index}", endpoint)
        config["kubernetes_sd_configs"] = _kubernetes_sd("pod", monitor, api_server)
        _endpoint_settings(config, endpoint)
        relabelings = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
        if endpoint.get("filterRunning", True):
            relabelings.append(dict(_RUNNING_FILTER))
        relabelings += _selector_relabelings(spec.get("selector") or {}, "__meta_kubernetes_pod")
        if endpoint.get("port"):
            relabelings.append({"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": endpoint["port"]})
        elif endpoint.get("portNumber"):
            relabelings.append({"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_number"],
                                "regex": endpoint["portNumber"]})
        relabelings += [
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        ]
        relabelings += _pod_target_labels(monitor)
        relabelings.append({"target_label": "job", "replacement": f"{meta['namespace']}/{meta['name']}"})
        if spec.get("jobLabel"):
            relabelings.append({"source_labels": [f"__meta_kubernetes_pod_label_{sanitize_label_name(spec['jobLabel'])}"],
                                "target_label": "job", "regex": "(.+)", "replacement": "${1}"})
        if endpoint.get("port"):
            relabelings.append({"target_label": "endpoint", "replacement": endpoint["port"]})
        relabelings += relabel_configs(endpoint.get("relabelings"))
        config["relabel_configs"] = _sharding(relabelings)
        if endpoint.get("metricRelabelings"):
            config["metric_relabel_configs"] = relabel_configs(endpoint["metricRelabelings"])
        configs.append(config)
    return configs


def scrape_configs(monitor: Mapping, api_server: ApiServer | None = None) -> list[dict]:
    """The scrape configs of a ServiceMonitor or PodMonitor."""
    if monitor.get("kind") == "ServiceMonitor":
        return service_monitor_scrape_configs(monitor, api_server)
    if monitor.get("kind") == "PodMonitor":
        return pod_monitor_scrape_configs(monitor, api_server)
    raise UnsupportedMonitor(f"{monitor.get('kind')}: only ServiceMonitor and PodMonitor are translated")


def prometheus_config(configs: list[dict], *, scrape_interval: str = "30s", evaluation_interval: str = "30s") -> dict:
    """The whole config file: the operator's `global` defaults (a Prometheus object without
    scrapeInterval/evaluationInterval) and the scrape configs."""
    return {"global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval}, "scrape_configs": configs}
