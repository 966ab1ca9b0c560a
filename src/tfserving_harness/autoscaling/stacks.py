"""The metrics pipelines the HPA reads on k8s-local's real node, each started and stopped as one piece:

- `CustomMetrics`: a real Prometheus (with the Kubernetes discovery stand-in) scraping what the
  release's ServiceMonitor/PodMonitor selects, the prometheus-adapter stand-in with the chart's
  adapter rules, served as `custom.metrics.k8s.io` v1beta1 (registered like the prometheus-adapter
  chart registers it) and v1beta2;
- `ResourceMetrics`: the metrics-server stand-in over the real kubelet, served as `metrics.k8s.io/v1beta1`.

Both print what they wait for and how long it took. `with CustomMetrics(...) as stack:` starts one and
stops every part it started, also when start() fails half way.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import requests
from kubernetes import client

from .. import adapter_values
from . import adapter, aggregated, kubernetes_sd, metrics_server, scrape_config
from .prometheus import LocalPrometheus, api_server_from_kubeconfig


def say(message: str) -> None:
    """Progress of the autoscaling tier, flushed at once (pytest -s shows it as it happens)."""
    print(f"[autoscaling] {message}", flush=True)


class _Stack:
    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class CustomMetrics(_Stack):
    """`adapter_config`: prometheus-adapter's config file; by default the chart's own rules rendered with
    `rate_window` (autoscaling.prometheusAdapter.rateWindow, which the releases it serves must use too)."""

    api: client.ApiClient
    kubeconfig: str
    rate_window: str = "2m"
    adapter_config: Mapping | None = None
    relist_interval: float = 5.0
    progress: Callable[[str], None] = say
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tfs-custom-metrics-")))

    def start(self) -> CustomMetrics:
        if self.adapter_config is None:
            self.adapter_config = adapter_values.rendered_config({"prometheusAdapter": {"rateWindow": self.rate_window}})
        self.credentials = api_server_from_kubeconfig(self.kubeconfig, self.root / "kube")
        self.discovery = kubernetes_sd.KubernetesDiscoveryStandIn(self.api, self.root / "sd").run(on_error=self.progress)
        self.prometheus = LocalPrometheus(root=self.root / "prometheus").start(progress=self.progress)
        core = client.CoreV1Api(self.api)

        def list_objects(resource: str, namespace: str, selector: str) -> list[str]:
            found = core.list_namespaced_pod(namespace, label_selector=selector, _request_timeout=10) if resource == "pods" else \
                core.list_namespace(label_selector=selector, _request_timeout=10)
            return [item.metadata.name for item in found.items]

        self.adapter = adapter.PrometheusAdapterStandIn(self.adapter_config, self.prometheus.url, list_objects,
                                                        relist_interval=self.relist_interval).run()
        self.server = aggregated.AggregatedServer(self.adapter.route, self.root / "tls", "custom-metrics-standin").start()
        # The prometheus-adapter chart registers v1beta1 only (templates/custom-metrics-apiservice.yaml), so the HPA asks v1beta1.
        self.registration = aggregated.Registration(self.api, adapter.GROUP, ["v1beta1"], self.server.port).register(progress=self.progress)
        return self

    def scrape(self, monitors: list[Mapping]) -> None:
        """Scrape what these ServiceMonitors/PodMonitors select, as prometheus-operator would configure it."""
        configs = [c for monitor in monitors for c in scrape_config.scrape_configs(monitor, self.credentials)]
        self.prometheus.set_scrape_configs(kubernetes_sd.with_file_sd(configs, self.discovery))

    def wait_for_targets(self, count: int, timeout: float = 90) -> list[dict]:
        started = time.monotonic()
        self.progress(f"waiting for Prometheus to scrape {count} target(s) successfully")
        while time.monotonic() - started < timeout:
            targets = [t for t in self.prometheus.targets() if t["health"] == "up"]
            if len(targets) >= count:
                self.progress(f"{len(targets)} target(s) up after {time.monotonic() - started:.0f} s: "
                              f"{', '.join(t['labels'].get('pod', t['scrapeUrl']) for t in targets)}")
                return targets
            time.sleep(1)
        raise TimeoutError(f"Prometheus scraped {len(targets)} of {count} targets within {timeout:.0f} s: "
                           f"{[(t['scrapeUrl'], t['health'], t['lastError']) for t in self.prometheus.targets()]}; "
                           f"discovery stand-in: {self.discovery.last_error or 'no error'}")

    def report(self) -> str:
        return "\n".join([f"adapter stand-in relist error: {self.adapter.last_relist_error or 'none'}",
                          f"metrics known to the adapter stand-in: {[(i.resource, i.metric) for i in self.adapter.metrics()]}",
                          "last requests to custom.metrics.k8s.io:", *list(self.server.requests)[-30:],
                          "Prometheus log:", self.prometheus.log_tail(2000)])

    def stop(self) -> None:
        _stop_all(self, ("registration", "unregister"), ("server", "stop"), ("adapter", "stop"), ("discovery", "stop"), ("prometheus", "remove"))


def kubelet_session(kubeconfig: str, directory: Path) -> requests.Session:
    """A session that authenticates to kubelets with the kubeconfig's client certificate and checks them against its CA."""
    credentials = api_server_from_kubeconfig(kubeconfig, directory)
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override `verify` (requests merges it in per request)
    session.cert = (credentials.cert_file, credentials.key_file)
    session.verify = credentials.ca_file
    return session


@dataclass
class ResourceMetrics(_Stack):
    api: client.ApiClient
    kubeconfig: str
    resolution: float = 10.0
    progress: Callable[[str], None] = say
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tfs-resource-metrics-")))

    def start(self) -> ResourceMetrics:
        core = client.CoreV1Api(self.api)

        def kubelets() -> list[tuple[str, str]]:
            # --kubelet-preferred-address-types=InternalIP,... and --kubelet-use-node-status-port, as the metrics-server chart sets.
            out = []
            for node in core.list_node(_request_timeout=10).items:
                address = next((a.address for a in node.status.addresses or [] if a.type == "InternalIP"), None)
                if address:
                    out.append((node.metadata.name, f"https://{address}:{node.status.daemon_endpoints.kubelet_endpoint.port}"))
            return out

        def running_pods(namespace: str, selector: str) -> list[tuple[str, str, Mapping[str, str]]]:
            kwargs = {"label_selector": selector, "field_selector": "status.phase=Running", "_request_timeout": 10}
            found = core.list_namespaced_pod(namespace, **kwargs) if namespace else core.list_pod_for_all_namespaces(**kwargs)
            return [(p.metadata.namespace, p.metadata.name, p.metadata.labels or {}) for p in found.items]

        self.metrics_server = metrics_server.MetricsServerStandIn(kubelets, running_pods, kubelet_session(self.kubeconfig, self.root / "kube"),
                                                                  resolution=self.resolution).run()
        self.server = aggregated.AggregatedServer(self.metrics_server.route, self.root / "tls", "metrics-server-standin").start()
        self.registration = aggregated.Registration(self.api, metrics_server.GROUP, [metrics_server.VERSION],
                                                    self.server.port).register(progress=self.progress)
        return self

    def report(self) -> str:
        return "\n".join([f"kubelet scrape errors: {self.metrics_server.scrape_errors or 'none'}",
                          "last requests to metrics.k8s.io:", *list(self.server.requests)[-30:]])

    def stop(self) -> None:
        _stop_all(self, ("registration", "unregister"), ("server", "stop"), ("metrics_server", "stop"))


def _stop_all(stack, *steps: tuple[str, str]) -> None:
    """Every part that start() got to, each stopped even when an earlier one fails, then the stack's folder
    (the client certificate copied from the kubeconfig is in it); the first failure is raised after."""
    errors = []
    for attribute, method in steps:
        part = getattr(stack, attribute, None)
        if part is None:  # start() stopped half way
            continue
        try:
            getattr(part, method)()
        except Exception as error:  # noqa: BLE001 - the Prometheus process and the APIService must go even so
            errors.append(error)
    shutil.rmtree(stack.root, ignore_errors=True)
    if errors:
        raise errors[0]
