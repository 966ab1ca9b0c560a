"""The autoscaling verifier against the real HPA controller (kube-controller-manager of the API server
under test): the chart's HPA on a Pods metric (`autoscaling.requestsPerSecond`) is fed by this test,
which serves `custom.metrics.k8s.io` over HTTPS on 127.0.0.1 (an ExternalName Service and an
APIService with insecureSkipTLSVerify, as ../shared/k8s-local/README.md describes). The served
per-pod rate is a total request rate spread over the track's pods, like real traffic behind the
Service: low (half a target on one pod), high (2.5 targets: the HPA must choose 3), then low again.
The verifier records the Deployment and HPA and judges against its timing model, with the short
stabilization windows set in this test's values.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

from kubernetes import client, config

from tfserving_harness import helm
from tfserving_harness.json_http import reply_json
from tfserving_harness.load import shapes, verifier
from tfserving_harness.paths import chart_dir
from tfserving_harness.values import effective_values

# The Pods metric the chart's HPA asks for: autoscaling.requestsPerSecond.metricName by default.
METRIC = effective_values()["autoscaling"]["requestsPerSecond"]["metricName"]
TARGET = 10  # requests/s per pod
GROUP_VERSION = "custom.metrics.k8s.io/v1beta2"
LOW_SECONDS, HOLD_SECONDS, OBSERVE_SECONDS = 30, 65, 70  # two HPA syncs at least in each; hold and observe past the model's bounds
SAMPLE_SECONDS = 3


class CustomMetrics(ThreadingHTTPServer):
    """custom.metrics.k8s.io for one metric: `total` requests/s divided over the pods the query selects."""

    def __init__(self, core: client.CoreV1Api, certfile: str, keyfile: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.core, self.total = core, 0.0
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        self.socket = context.wrap_socket(self.socket, server_side=True)


class _Handler(BaseHTTPRequestHandler):
    server: CustomMetrics

    def log_message(self, *args) -> None:  # the apiserver polls often; keep pytest's output readable
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        parts = unquote(url.path).strip("/").split("/")  # the apiserver sends pods/%2A/... for all pods
        if url.path.rstrip("/") == f"/apis/{GROUP_VERSION}":
            body = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": [
                {"name": f"pods/{METRIC}", "singularName": "", "namespaced": True, "kind": "MetricValueList", "verbs": ["get"]}]}
        elif len(parts) == 8 and parts[3] == "namespaces" and parts[5] == "pods" and parts[7] == METRIC:
            namespace = parts[4]
            selector = parse_qs(url.query).get("labelSelector", [""])[0]
            pods = [p.metadata.name for p in self.server.core.list_namespaced_pod(namespace, label_selector=selector).items
                    if parts[6] in ("*", p.metadata.name)]
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            per_pod = f"{int(self.server.total * 1000 / max(len(pods), 1))}m"
            body = {"kind": "MetricValueList", "apiVersion": GROUP_VERSION, "metadata": {}, "items": [
                {"describedObject": {"kind": "Pod", "namespace": namespace, "name": pod, "apiVersion": "/v1"},
                 "metric": {"name": METRIC}, "timestamp": now, "windowSeconds": 60, "value": per_pod} for pod in pods]}
        else:
            self.send_response(404)
            self.end_headers()
            return
        reply_json(self, 200, body)


def _self_signed(directory) -> tuple[str, str]:
    cert, key = str(directory / "tls.crt"), str(directory / "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def test_verifier_judges_the_real_hpa_controller(cluster, tmp_path):
    api = config.new_client_from_config(config_file=cluster.kubeconfig)
    core, registration = client.CoreV1Api(api), client.ApiregistrationV1Api(api)
    namespace, release = f"hpa-{uuid.uuid4().hex[:8]}", "scaling"
    server = CustomMetrics(core, *_self_signed(tmp_path))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    apiservice = "v1beta2.custom.metrics.k8s.io"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    values = tmp_path / "values.yaml"
    behavior = {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleDown": {"stabilizationWindowSeconds": 30, "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
    }
    values.write_text(json.dumps({"autoscaling": {
        "enabled": True, "minReplicas": 1, "maxReplicas": 4, "cpu": {"enabled": False},
        "requestsPerSecond": {"enabled": True, "averageValue": str(TARGET)}, "behavior": behavior}}))
    try:
        core.create_namespaced_service(namespace, client.V1Service(
            metadata=client.V1ObjectMeta(name="custom-metrics"),
            spec=client.V1ServiceSpec(type="ExternalName", external_name="localhost",
                                      ports=[client.V1ServicePort(port=server.server_address[1])])))
        registration.create_api_service(client.V1APIService(
            metadata=client.V1ObjectMeta(name=apiservice),
            spec=client.V1APIServiceSpec(group="custom.metrics.k8s.io", version="v1beta2", insecure_skip_tls_verify=True,
                                         group_priority_minimum=100, version_priority=100,
                                         service=client.ApiregistrationV1ServiceReference(
                                             namespace=namespace, name="custom-metrics", port=server.server_address[1]))))
        low, high = shapes.autoscale_rates(TARGET, min_replicas=1, expect_replicas=3)
        server.total = low
        install = helm.run_helm(["install", release, str(chart_dir()), "--namespace", namespace, "--values", str(values),
                                 "--wait", "--timeout", "120s", "--kubeconfig", cluster.kubeconfig], check=False)
        assert install.returncode == 0, install.stderr

        recorder = verifier.Recorder(namespace=namespace, release=release, kubeconfig=cluster.kubeconfig)
        min_replicas, recorded_behavior = recorder.hpa_spec()
        model = verifier.TimingModel(min_replicas=min_replicas, expect_replicas=3, scrape_interval=0, rate_window=0,
                                     adapter_interval=0, pod_start=15, behavior=recorded_behavior, sample_interval=SAMPLE_SECONDS)
        print(model.describe())
        phases = {"low": 0.0, "high": LOW_SECONDS, "drop": LOW_SECONDS + HOLD_SECONDS, "end": LOW_SECONDS + HOLD_SECONDS + OBSERVE_SECONDS}
        recorder.start = time.monotonic()
        while (t := time.monotonic() - recorder.start) < phases["end"]:
            server.total = high if phases["high"] <= t < phases["drop"] else low
            sample = recorder.sample()
            print(f"+{sample.t:5.1f} s  rate {server.total:4.1f}  desired {sample.hpa_desired}  ready {sample.ready_replicas}  "
                  f"{sample.hpa_metrics}  {sample.hpa_conditions}", flush=True)
            time.sleep(SAMPLE_SECONDS)
        recorder.write(tmp_path / "record")
        verdicts = verifier.judge(recorder.samples, model, phases)
        for verdict in verdicts:
            print(verdict.line())
        assert all(v.ok for v in verdicts), "\n".join(v.line() for v in verdicts)
        assert (tmp_path / "record" / "replicas.csv").read_text().count("\n") == len(recorder.samples) + 1
    finally:
        server.shutdown()
        helm.run_helm(["uninstall", release, "--namespace", namespace, "--kubeconfig", cluster.kubeconfig], check=False)
        registration.delete_api_service(apiservice, _request_timeout=10) if _exists(registration, apiservice) else None
        core.delete_namespace(namespace)


def _exists(registration: client.ApiregistrationV1Api, name: str) -> bool:
    try:
        registration.read_api_service(name, _request_timeout=10)
        return True
    except client.ApiException:
        return False
