"""The autoscaling stand-ins (tfserving_harness.autoscaling) against the real components' recorded
answers and upstream tests (tests/harness/fixtures/autoscaling/README.md says where each is from):
the scrape configs prometheus-operator generates, prometheus-adapter's discovery, queries and
MetricValueLists, metrics-server's decoding, storage and PodMetrics. No cluster needed: Prometheus
is a local stub that answers its HTTP API and records the PromQL it was sent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import yaml

from tfserving_harness import adapter_values, helm
from tfserving_harness.autoscaling import adapter, kubernetes_sd, metrics_server, scrape_config
from tfserving_harness.json_http import reply_json
from tfserving_harness.manifests import one
from tfserving_harness.values import effective_values

FIXTURES = Path(__file__).parent / "fixtures" / "autoscaling"
OPERATOR_CASES = yaml.safe_load((FIXTURES / "prometheus-operator" / "monitors.yaml").read_text())
RPS_METRIC = effective_values()["autoscaling"]["requestsPerSecond"]["metricName"]


# --- prometheus-operator's scrape configs ------------------------------------------------------


@pytest.mark.parametrize("case", OPERATOR_CASES, ids=[c["test"] for c in OPERATOR_CASES])
def test_scrape_configs_equal_the_operators_golden_files(case):
    golden = (FIXTURES / "prometheus-operator" / case["golden"]).read_text().replace("$(SHARD)", scrape_config.SHARD)
    assert scrape_config.scrape_configs(case["monitor"]) == yaml.safe_load(golden)["scrape_configs"]


def _chart_monitor(kind: str, **monitor_values) -> dict:
    key = "serviceMonitor" if kind == "ServiceMonitor" else "podMonitor"
    docs = helm.render_chart({"monitoring": {key: {"enabled": True, "force": True, **monitor_values}}})
    return one(docs, kind, "tfs-tf-serving")


@pytest.mark.parametrize("kind", ["ServiceMonitor", "PodMonitor"])
def test_the_charts_monitor_scrapes_its_port_path_interval_and_pod_labels(kind):
    config, = scrape_config.scrape_configs(_chart_monitor(kind, interval="5s", scrapeTimeout="4s"))
    port_label = "__meta_kubernetes_endpoint_port_name" if kind == "ServiceMonitor" else "__meta_kubernetes_pod_container_port_name"
    assert {"action": "keep", "source_labels": [port_label], "regex": "http"} in config["relabel_configs"]
    assert (config["metrics_path"], config["scrape_interval"], config["scrape_timeout"], config["scheme"]) == (
        effective_values()["metrics"]["path"], "5s", "4s", "http")
    assert config["kubernetes_sd_configs"][0]["namespaces"] == {"names": ["default"]}
    targets = {r["target_label"] for r in config["relabel_configs"]
               if "target_label" in r and r.get("source_labels", [""])[0].startswith("__meta_kubernetes_pod_label_")}
    assert {"app_kubernetes_io_name", "app_kubernetes_io_instance", "tf_serving_io_track"} <= targets
    if kind == "ServiceMonitor":  # only the headless metrics Service, found by its label
        assert {"action": "keep", "source_labels": ["__meta_kubernetes_service_label_tf_serving_io_service",
                                                    "__meta_kubernetes_service_labelpresent_tf_serving_io_service"],
                "regex": "(metrics);true"} in config["relabel_configs"]


def test_debians_prometheus_accepts_the_generated_config_with_the_discovery_standin(tmp_path):
    """Debian's promtool refuses kubernetes_sd_configs (its package has no Kubernetes discovery), so
    the config Prometheus runs has the operator's relabelings with file_sd in its place."""
    if shutil.which("promtool") is None:
        if os.environ.get("TFS_REQUIRE_PROMTOOL") == "1":
            pytest.fail("TFS_REQUIRE_PROMTOOL=1 but promtool is missing (apt-get install prometheus)")
        pytest.skip("needs promtool (Debian's prometheus package)")
    configs = [c for kind in ("ServiceMonitor", "PodMonitor") for c in scrape_config.scrape_configs(_chart_monitor(kind))]
    discovery = kubernetes_sd.KubernetesDiscoveryStandIn(None, tmp_path / "sd")
    discovery.targets = lambda sd_config: []  # no API server here: empty target files
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(scrape_config.prometheus_config(configs)))
    refused = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True)
    assert refused.returncode != 0 and "field kubernetes_sd_configs not found" in refused.stdout + refused.stderr
    converted = kubernetes_sd.with_file_sd(configs, discovery)
    assert [c["relabel_configs"] for c in converted] == [c["relabel_configs"] for c in configs]
    path.write_text(yaml.safe_dump(scrape_config.prometheus_config(converted)))
    checked = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_monitor_fields_the_generator_does_not_translate_are_refused():
    monitor = _chart_monitor("ServiceMonitor")
    monitor = {**monitor, "spec": {**monitor["spec"], "endpoints": [{**monitor["spec"]["endpoints"][0], "tlsConfig": {"insecureSkipVerify": True}}]}}
    with pytest.raises(scrape_config.UnsupportedMonitor, match=r"endpoints\[0\]: tlsConfig not supported"):
        scrape_config.scrape_configs(monitor)


# Prometheus v2.42.0 discovery/kubernetes/endpoints_test.go: makeEndpoints() and the pod of TestEndpointsDiscoveryAdd.
_ENDPOINTS = {"metadata": {"name": "testendpoints", "namespace": "default"}, "subsets": [
    {"addresses": [{"ip": "1.2.3.4", "hostname": "testendpoint1", "nodeName": "foobar"}],
     "ports": [{"name": "testport", "port": 9000, "protocol": "TCP"}]},
    {"addresses": [{"ip": "2.3.4.5"}], "notReadyAddresses": [{"ip": "2.3.4.5"}], "ports": [{"name": "testport", "port": 9001, "protocol": "TCP"}]}]}
_POD = {"metadata": {"name": "testpod", "namespace": "default", "uid": "deadbeef"},
        "spec": {"nodeName": "testnode", "containers": [
            {"name": "c1", "image": "c1:latest", "ports": [{"name": "mainport", "containerPort": 9000, "protocol": "TCP"}]},
            {"name": "c2", "image": "c2:latest", "ports": [{"name": "sideport", "containerPort": 9001, "protocol": "TCP"}]}]},
        "status": {"hostIP": "2.3.4.5", "podIP": "1.2.3.4"}}


def test_discovery_standin_builds_prometheus_endpoints_targets_with_service_labels():
    """TestEndpointsDiscoveryWithService: a target per ready and not-ready address, the Service's labels on the group."""
    service = {"metadata": {"name": "testendpoints", "namespace": "default", "labels": {"app/name": "test"}}}
    group = {"__meta_kubernetes_namespace": "default", "__meta_kubernetes_endpoints_name": "testendpoints",
             "__meta_kubernetes_service_label_app_name": "test", "__meta_kubernetes_service_labelpresent_app_name": "true",
             "__meta_kubernetes_service_name": "testendpoints"}
    port = {"__meta_kubernetes_endpoint_port_name": "testport", "__meta_kubernetes_endpoint_port_protocol": "TCP"}
    assert kubernetes_sd.endpoints_targets(_ENDPOINTS, service, {}) == [
        {**group, **port, "__address__": "1.2.3.4:9000", "__meta_kubernetes_endpoint_hostname": "testendpoint1",
         "__meta_kubernetes_endpoint_node_name": "foobar", "__meta_kubernetes_endpoint_ready": "true"},
        {**group, **port, "__address__": "2.3.4.5:9001", "__meta_kubernetes_endpoint_ready": "true"},
        {**group, **port, "__address__": "2.3.4.5:9001", "__meta_kubernetes_endpoint_ready": "false"}]


def test_discovery_standin_adds_pod_labels_and_uncovered_container_ports():
    """TestEndpointsDiscoveryAdd: the endpoint's pod labels and container port; the pod's other port as its own target."""
    endpoints = {"metadata": {"name": "testendpoints", "namespace": "default"}, "subsets": [
        {"addresses": [{"ip": "4.3.2.1", "targetRef": {"kind": "Pod", "name": "testpod", "namespace": "default"}}],
         "ports": [{"name": "testport", "port": 9000, "protocol": "TCP"}]}]}
    group = {"__meta_kubernetes_endpoints_name": "testendpoints", "__meta_kubernetes_namespace": "default"}
    pod = {"__meta_kubernetes_pod_name": "testpod", "__meta_kubernetes_pod_ip": "1.2.3.4", "__meta_kubernetes_pod_ready": "unknown",
           "__meta_kubernetes_pod_phase": "", "__meta_kubernetes_pod_node_name": "testnode", "__meta_kubernetes_pod_host_ip": "2.3.4.5",
           "__meta_kubernetes_pod_uid": "deadbeef"}
    assert kubernetes_sd.endpoints_targets(endpoints, None, {("default", "testpod"): _POD}) == [
        {**group, **pod, "__address__": "4.3.2.1:9000", "__meta_kubernetes_endpoint_port_name": "testport",
         "__meta_kubernetes_endpoint_port_protocol": "TCP", "__meta_kubernetes_endpoint_ready": "true",
         "__meta_kubernetes_endpoint_address_target_kind": "Pod", "__meta_kubernetes_endpoint_address_target_name": "testpod",
         "__meta_kubernetes_pod_container_name": "c1", "__meta_kubernetes_pod_container_image": "c1:latest",
         "__meta_kubernetes_pod_container_port_name": "mainport", "__meta_kubernetes_pod_container_port_number": "9000",
         "__meta_kubernetes_pod_container_port_protocol": "TCP"},
        {**group, **pod, "__address__": "1.2.3.4:9001", "__meta_kubernetes_pod_container_name": "c2",
         "__meta_kubernetes_pod_container_image": "c2:latest", "__meta_kubernetes_pod_container_port_name": "sideport",
         "__meta_kubernetes_pod_container_port_number": "9001", "__meta_kubernetes_pod_container_port_protocol": "TCP"}]


def test_discovery_standin_builds_pod_role_targets():
    """pod.go buildPod: one target per container port, with the container's init flag and ID; no IP, no target."""
    running = {**_POD, "status": {**_POD["status"], "containerStatuses": [{"name": "c1", "containerID": "containerd://abc"}]}}
    targets = kubernetes_sd.pod_targets(running)
    assert [(t["__address__"], t["__meta_kubernetes_pod_container_id"], t["__meta_kubernetes_pod_container_init"],
             t["__meta_kubernetes_namespace"]) for t in targets] == [("1.2.3.4:9000", "containerd://abc", "false", "default"),
                                                                   ("1.2.3.4:9001", "", "false", "default")]
    assert kubernetes_sd.pod_targets({**_POD, "status": {}}) == []


# --- prometheus-adapter ---------------------------------------------------------------------


class _PrometheusStub(ThreadingHTTPServer):
    """/api/v1/series and /api/v1/query with canned answers; remembers every query."""

    def __init__(self, series: list[dict], vector: list[dict] | None = None, fail: bool = False):
        super().__init__(("127.0.0.1", 0), _PrometheusHandler)
        self.series, self.vector, self.fail, self.queries = series, vector or [], fail, []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _PrometheusHandler(BaseHTTPRequestHandler):
    server: _PrometheusStub

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        params = parse_qs(url.query)
        if url.path == "/api/v1/series":
            body = {"status": "success", "data": self.server.series}
        elif self.server.fail:
            body = {"status": "error", "errorType": "bad_data", "error": "parse error"}
        else:
            self.server.queries.append(params["query"][0])
            body = {"status": "success", "data": {"resultType": "vector", "result": self.server.vector}}
        reply_json(self, 200, body)


@pytest.fixture
def prometheus_stub():
    made = []

    def make(*args, **kwargs) -> _PrometheusStub:
        made.append(_PrometheusStub(*args, **kwargs))
        return made[-1]

    yield make
    for server in made:
        server.shutdown()
        server.server_close()


CHART_RULES = adapter_values.rendered_config({"prometheusAdapter": {"rateWindow": "20s"}})
REQUEST_COUNT = ":tensorflow:serving:request_count"
PODS = {"app=tfs": ["tfs-a", "tfs-b"], "app=none": []}


def _series(pods: list[str], namespace: str = "ml") -> list[dict]:
    return [{"__name__": REQUEST_COUNT, "namespace": namespace, "pod": pod, "model_name": "half_plus_two", "status": "OK"} for pod in pods]


def _adapter(stub: _PrometheusStub, config: dict = CHART_RULES) -> adapter.PrometheusAdapterStandIn:
    standin = adapter.PrometheusAdapterStandIn(config, stub.url, lambda resource, namespace, selector: PODS[selector])
    standin.relist()
    return standin


def _get(standin, path: str, **query):
    return standin.route([p for p in path.strip("/").split("/") if p], query)


def test_adapter_discovery_lists_what_a_real_adapter_lists(prometheus_stub):
    """Issue #490's rule: overrides namespace and pod, `as` a fixed name; its series carry both labels."""
    rule = {"seriesQuery": 'nats_stream_total_messages{is_stream_leader="true",stream_name="avic"} ',
            "name": {"as": "nats_stream_total_messages"},
            "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
            "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"}
    stub = prometheus_stub([{"__name__": "nats_stream_total_messages", "namespace": "nats", "pod": "mynats-0", "is_stream_leader": "true"}])
    code, body = _get(_adapter(stub, {"rules": [rule]}), f"/apis/{adapter.GROUP}/v1beta1")
    assert code == 200
    assert body == json.loads((FIXTURES / "prometheus-adapter" / "discovery-v1beta1-issue-490.json").read_text())


def test_adapter_names_the_charts_metric_and_sends_the_charts_query(prometheus_stub):
    stub = prometheus_stub(_series(["tfs-a", "tfs-b"]), [{"metric": {"pod": "tfs-a"}, "value": [1.0, "2.5"]},
                                                          {"metric": {"pod": "tfs-b"}, "value": [1.0, "NaN"]}])
    standin = _adapter(stub)
    assert [(i.resource, i.namespaced, i.metric) for i in standin.metrics()] == [("namespaces", False, RPS_METRIC), ("pods", True, RPS_METRIC)]
    code, body = _get(standin, f"/apis/{adapter.GROUP}/v1beta2/namespaces/ml/pods/*/{RPS_METRIC}", labelSelector="app=tfs")
    assert code == 200, body
    # metrics_query.go Build: namespace first, then the pods as one regex; GroupBy the pod label.
    matchers = 'namespace="ml",pod=~"tfs-a|tfs-b"'
    assert stub.queries == [f'sum(rate({REQUEST_COUNT}{{{matchers}}}[20s])) by (pod) or sum(0 * (up{{{matchers}}} == 1)) by (pod)']
    assert [(i["describedObject"]["name"], i["value"]) for i in body["items"]] == [("tfs-a", "2500m"), ("tfs-b", "0")]


def test_adapter_answers_the_v1beta1_and_v1beta2_shapes(prometheus_stub):
    """k8s.io/metrics v0.30.0 types: v1beta1 has `metricName` and a `selector` that is null without a
    metric selector (prometheus-adapter PR #348); v1beta2 has `metric: {name}`; both describe the pod
    with apiVersion "/v1" (helpers.ReferenceFor: group + "/" + version) and carry no window."""
    stub = prometheus_stub(_series(["tfs-a"]), [{"metric": {"pod": "tfs-a"}, "value": [1.0, "12.3456"]}])
    standin = _adapter(stub)
    described = {"kind": "Pod", "namespace": "ml", "name": "tfs-a", "apiVersion": "/v1"}
    code, v1 = _get(standin, f"/apis/{adapter.GROUP}/v1beta1/namespaces/ml/pods/*/{RPS_METRIC}", labelSelector="app=tfs")
    item, = v1["items"]
    assert (code, v1["kind"], v1["apiVersion"], v1["metadata"]) == (200, "MetricValueList", f"{adapter.GROUP}/v1beta1", {})
    assert {k: v for k, v in item.items() if k != "timestamp"} == {"describedObject": described, "metricName": RPS_METRIC,
                                                                   "value": "12345m", "selector": None}
    code, v2 = _get(standin, f"/apis/{adapter.GROUP}/v1beta2/namespaces/ml/pods/tfs-a/{RPS_METRIC}", metricLabelSelector="status=OK")
    item, = v2["items"]
    assert {k: v for k, v in item.items() if k != "timestamp"} == {
        "describedObject": described, "metric": {"name": RPS_METRIC, "selector": {"matchLabels": {"status": "OK"}}}, "value": "12345m"}
    matchers = 'status="OK",namespace="ml",pod="tfs-a"'
    assert stub.queries[-1] == f'sum(rate({REQUEST_COUNT}{{{matchers}}}[20s])) by (pod) or sum(0 * (up{{{matchers}}} == 1)) by (pod)'
    assert item["timestamp"].endswith("Z") and len(item["timestamp"]) == 20


@pytest.mark.parametrize(("selector", "matchers"), [
    # prometheus-adapter v0.12.0 pkg/naming/metrics_query_test.go (TestBuildSelector, TestBuildExternalSelector)
    ("", 'resource=~"bar|baz"'),
    ("metric1=value1", 'metric1="value1",resource=~"bar|baz"'),
    ("foo=bar,qux in (bar,baz)", 'foo="bar",qux=~"bar|baz",resource=~"bar|baz"'),
    ("foo!=bar,!gone,present", 'foo!="bar",gone="",present!="",resource=~"bar|baz"'),
])
def test_adapter_label_matchers_follow_metrics_query_go(selector, matchers):
    namer = adapter.Namer("x", "<<.LabelMatchers>>", None, "$0", [], {"resource": "resource"})
    assert namer.query("series", "resource", "", adapter.parse_label_selector(selector), ["bar", "baz"]) == matchers
    assert adapter.Namer("x", "<<.GroupBy>> <<.Series>>", None, "$0", [], {"resource": "resource"}).query(
        "foo", "resource", "", [], ["bar"]) == "resource foo"


@pytest.mark.parametrize(("pattern", "template", "name", "expanded"), [
    ("^(.*)_total$", "${1}_per_second", "http_requests_total", "http_requests_per_second"),  # the adapter's docs/config.md example
    ("^(.*)_total$", "$1_per_second", "http_requests_total", ""),  # Go reads `$1_per_second` as the group named "1_per_second"
    ("^(?P<base>.*)_seconds_total$", "$base", "cpu_seconds_total", "cpu"),
    ("^x$", "$$x", "x", "$x"),
    ("^x$", "${bad-name}", "x", "${bad-name}"),
])
def test_adapter_name_as_is_expanded_like_gos_regexp(pattern, template, name, expanded):
    import re

    assert adapter.go_expand(template, re.search(pattern, name)) == expanded


def test_adapter_errors_are_the_custom_metrics_apiservers(prometheus_stub):
    stub = prometheus_stub(_series(["tfs-a"]), [])
    standin = _adapter(stub)
    base = f"/apis/{adapter.GROUP}/v1beta2/namespaces/ml/pods"
    cases = {
        f"{base}/*/unknown_metric?app=tfs": (404, "the server could not find the metric unknown_metric for pods"),
        f"{base}/*/{RPS_METRIC}?app=none": (404, f"the server could not find the metric {RPS_METRIC} for pods"),
        f"{base}/tfs-a/{RPS_METRIC}": (404, f"the server could not find the metric {RPS_METRIC} for pods tfs-a"),
        f"{base}/bar": (404, None),  # apiserver_test.go: "GET at namespaced resource leaf"
    }
    for path, (code, message) in cases.items():
        path, _, selector = path.partition("?")
        got, body = _get(standin, path, labelSelector=selector)
        assert got == code, (path, body)
        assert body["kind"] == "Status" and body["reason"] == "NotFound"
        if message:
            assert body["message"] == message
    failing = _adapter(prometheus_stub(_series(["tfs-a"]), fail=True))
    code, body = _get(failing, f"{base}/*/{RPS_METRIC}", labelSelector="app=tfs")
    assert (code, body["reason"], body["message"]) == (500, "InternalError", "Internal error occurred: unable to fetch metrics")


def test_adapter_refuses_rule_features_it_does_not_implement():
    with pytest.raises(adapter.UnsupportedRule, match="resources.template"):
        adapter.Namer.from_rule({"seriesQuery": "x", "metricsQuery": "x", "resources": {"template": "<<.Resource>>"}}, "rules[0]")
    with pytest.raises(adapter.UnsupportedRule, match=r"<<\.LabelValuesByName>>"):
        adapter.Namer.from_rule({"seriesQuery": "x", "metricsQuery": "<<.LabelValuesByName>>"}, "rules[0]")


# --- metrics-server -------------------------------------------------------------------------

NS = 10**9


def test_decode_follows_metrics_servers_decode_test():
    """metrics-server v0.7.2 decode_test.go "Normal" and "Without timestamp uses defaultTime" (pods only)."""
    labels = 'container="coredns",namespace="kube-system",pod="coredns-558bd4d5db-4dpjz"'
    text = (f"container_cpu_usage_seconds_total{{{labels}}} 4.710169 1633253812125\n"
            f"container_memory_working_set_bytes{{{labels}}} 1.253376e+07 1633253812125\n"
            f"container_start_time_seconds{{{labels}}} 1.633252712e+9 1633253812125\nnode_cpu_usage_seconds_total 357.35491 1633253809720\n")
    point = metrics_server.Point(start_time=1633252712 * NS, timestamp=1633253812125 * 10**6, cpu=4710169000, memory=12533760)
    assert metrics_server.decode(text, 0) == {("kube-system", "coredns-558bd4d5db-4dpjz"): {"coredns": point}}
    untimed = "\n".join(" ".join(line.split()[:2]) for line in text.splitlines())
    decoded = metrics_server.decode(untimed, 3392953627 * NS)  # 2077-07-07T07:07:07Z
    assert decoded[("kube-system", "coredns-558bd4d5db-4dpjz")]["coredns"].timestamp == 3392953627 * NS


def _point(start: float, at: float, cpu_seconds: float, memory: int) -> metrics_server.Point:
    return metrics_server.Point(int(start * NS), int(at * NS), int(cpu_seconds * NS), memory)


MIB = 2**20


@pytest.mark.parametrize(("batches", "expected"), [
    # metrics-server v0.7.2 pkg/storage/pod_test.go, resolution 60 s; times in seconds after the container start
    ([[(0, 120, 1, 4 * MIB)], [(0, 125, 6, 5 * MIB)]], ("125", "5s", "1", "5Mi")),  # provides pod metrics from stored batches
    ([[(0, 110, 1, 4 * MIB)], [(0, 110, 1, 4 * MIB)]], None),  # handle repeated pod metric point
    ([[(0, 10, 1, 4 * MIB)], [(15, 25, 5, 5 * MIB)]], ("25", "10s", "500m", "5Mi")),  # container restart: window from start time
    ([[(0, 1115, 20, 4 * MIB)], [(0, 1125, 40, 4 * MIB)], [(0, 115, 10, 4 * MIB)]], None),  # metrics older than prev
    ([[(0, 115, 10, 4 * MIB)], [(0, 125, 50, 5 * MIB)], [(0, 120, 35, 5 * MIB)]], ("120", "5s", "5", "5Mi")),  # prev.ts < new.ts < last.ts
    ([[(0, 120, 1, 4 * MIB)]], None),  # long-running container: no metric from one point
    ([[(0, 10, 10, 4 * MIB)]], ("10", "10s", "1", "4Mi")),  # fresh container: start time is the previous point
    ([[(0, 9, 10, 4 * MIB)]], None),  # fresh container younger than 10 s
])
def test_pod_storage_follows_metrics_servers_pod_test(batches, expected):
    start = 1_700_000_000
    storage = metrics_server.PodStorage(60 * NS)
    for (s, t, cpu, memory), in batches:  # one container per batch
        storage.store({("ns1", "pod1"): {"container1": _point(start + s, start + t, cpu, memory)}})
    got = storage.pod_metrics("ns1", "pod1", {}, datetime.now(timezone.utc))
    if expected is None:
        assert got is None
        return
    at, window, cpu, memory = expected
    assert got["timestamp"] == metrics_server.rfc3339(datetime.fromtimestamp(start + int(at), timezone.utc))
    assert (got["window"], got["containers"]) == (window, [{"name": "container1", "usage": {"cpu": cpu, "memory": memory}}])


def test_cpu_decrease_leaves_the_container_out():
    """pod_test.go "should return pod empty metrics if decreased data point reported": the pod, without containers."""
    storage = metrics_server.PodStorage(60 * NS)
    storage.store({("ns1", "pod1"): {"c": _point(0, 110, 20, MIB)}})
    storage.store({("ns1", "pod1"): {"c": _point(0, 120, 10, MIB)}})
    assert storage.pod_metrics("ns1", "pod1", {}, datetime.now(timezone.utc))["containers"] == []


def test_recorded_kubelet_scrapes_give_the_busy_pods_cpu():
    """Two real scrapes of k8s-local's kubelet: the first alone serves the busy pod (started 12.3 s
    before it, a fresh container at resolution 15 s), the second gives the rate between the two."""
    first, second = (metrics_server.decode((FIXTURES / "metrics-server" / f"kubelet-metrics-resource-{i}.txt").read_text(), 0) for i in (1, 2))
    storage = metrics_server.PodStorage(15 * NS)
    now = datetime.now(timezone.utc)
    storage.store(first)
    fresh = storage.pod_metrics("as-rec", "bb", {"run": "bb"}, now)
    started, cpu = 1.7964308013250792e+09, 9.242674269
    assert fresh["window"] == metrics_server.go_duration(1796430813625 * 10**6 - int(started * 1e9))
    assert fresh["containers"][0]["usage"]["cpu"] == f"{int(int(cpu * 1e9) / ((1796430813625 * 10**6 - int(started * 1e9)) / NS))}n"
    assert storage.pod_metrics("e2e-manual-1", "tfs-tf-serving-9b54bbfd8-m762c", {}, now) is None  # long running: needs two points
    storage.store(second)
    later = storage.pod_metrics("as-rec", "bb", {"run": "bb"}, now)
    assert (later["window"], later["timestamp"], later["metadata"]["labels"]) == ("11.036s", "2026-12-05T00:33:44Z", {"run": "bb"})
    # (18.568464646 - 9.242674269) core-seconds over 11.036 s, truncated to nanocores; 393216 bytes.
    assert later["containers"] == [{"name": "bb", "usage": {"cpu": f"{int(9325790377 / 11.036)}n", "memory": "384Ki"}}]
    assert storage.pod_metrics("e2e-manual-1", "tfs-tf-serving-9b54bbfd8-m762c", {}, now) is not None


def test_pod_metrics_has_the_shape_of_a_real_metrics_servers():
    recorded = json.loads((FIXTURES / "metrics-server" / "podmetrics-kubernetes-docs.json").read_text())
    storage = metrics_server.PodStorage(15 * NS)
    storage.store({("kube-system", "s"): {"kube-scheduler": _point(0, 1000, 1, 22244 * 1024)}})
    storage.store({("kube-system", "s"): {"kube-scheduler": _point(0, 1030, 1.28678890, 22244 * 1024)}})
    standin = metrics_server.MetricsServerStandIn(lambda: [], lambda ns, selector: [("kube-system", "s", {})], requests.Session())
    standin.storage = storage
    code, body = standin.route(["apis", "metrics.k8s.io", "v1beta1", "namespaces", "kube-system", "pods", "s"], {})
    assert code == 200
    assert set(body) == set(recorded) and set(body["metadata"]) == set(recorded["metadata"]) - {"selfLink"}
    assert (body["window"], body["containers"]) == (recorded["window"], [{"name": "kube-scheduler", "usage": {"cpu": "9559630n", "memory": "22244Ki"}}])
    code, listed = standin.route(["apis", "metrics.k8s.io", "v1beta1", "namespaces", "kube-system", "pods"], {"labelSelector": "x=y"})
    assert (code, listed["kind"], [i["metadata"]["name"] for i in listed["items"]]) == (200, "PodMetricsList", ["s"])
    code, missing = standin.route(["apis", "metrics.k8s.io", "v1beta1", "namespaces", "kube-system", "pods", "gone"], {})
    assert (code, missing["message"]) == (404, 'pods "gone" not found')


@pytest.mark.parametrize(("nanoseconds", "text"), [(0, "0s"), (5 * NS, "5s"), (11_036_000_000, "11.036s"), (60_500_000_000, "1m0.5s"),
                                                   (3_600 * NS + 5 * NS, "1h0m5s"), (500_000_000, "500ms"), (1500, "1.5µs")])
def test_windows_are_written_and_read_like_go_durations(nanoseconds, text):
    assert metrics_server.go_duration(nanoseconds) == text
    assert metrics_server.parse_go_duration(text) == pytest.approx(nanoseconds / NS)


def test_a_window_that_is_no_go_duration_is_refused():
    with pytest.raises(ValueError, match="invalid duration '10 s'"):
        metrics_server.parse_go_duration("10 s")


def test_metric_resolution_below_ten_seconds_is_refused():
    with pytest.raises(ValueError, match="at least 10s"):
        metrics_server.MetricsServerStandIn(lambda: [], lambda ns, s: [], requests.Session(), resolution=5)


# --- loadtests/k8s as the autoscaling tier applies it ----------------------------------------


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (its built-in kustomize) renders loadtests/k8s: install kubectl")
def test_the_tiers_overlay_changes_only_image_options_and_cpu_requests(tmp_path):
    from tfserving_harness.autoscaling import incluster

    directory = incluster.overlay(tmp_path / "o", namespace="as-x", image="tfserving-harness/tfs-locust:abc",
                                  options={"LOCUST_EXPECT_WORKERS": "3", "TFS_LOAD_PROFILE": "autoscale"}, cpu_request="10m")
    docs = [d for d in yaml.safe_load_all(incluster.render(directory)) if d]
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Job"}
    options = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert {d["metadata"].get("namespace") for d in docs} == {"as-x"}
    assert (options["TFS_LOAD_PROFILE"], options["LOCUST_EXPECT_WORKERS"], jobs["locust-worker"]["spec"]["parallelism"]) == ("autoscale", "3", 3)
    for job in jobs.values():
        container, = job["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "tfserving-harness/tfs-locust:abc"
        assert container["resources"]["requests"]["cpu"] == "10m"
        assert container["resources"]["requests"]["memory"]  # everything else as the manifest has it
    assert options["TFS_REPORT_DIR"] == "/reports" and options["LOCUST_AUTOSTART"] == "true"


# --- which pods were Ready when: the tier's check that added pods served --------------------------


def test_pod_readiness_keeps_each_pods_ready_intervals_and_clips_them_to_a_phase(monkeypatch):
    from kubernetes import client

    from tfserving_harness.autoscaling import pods as pods_module

    def pod(name: str, ready: str, since: int, terminating: bool = False) -> client.V1Pod:
        condition = client.V1PodCondition(type="Ready", status=ready, last_transition_time=datetime.fromtimestamp(since, timezone.utc))
        return client.V1Pod(metadata=client.V1ObjectMeta(name=name, deletion_timestamp=datetime.now(timezone.utc) if terminating else None),
                            status=client.V1PodStatus(conditions=[condition]))

    listed: list[list[client.V1Pod]] = []
    now = [0.0]

    class Core:
        def __init__(self, _api):
            pass

        def list_namespaced_pod(self, namespace, label_selector, _request_timeout):
            assert (namespace, label_selector) == ("ns", "app=x")
            return client.V1PodList(items=listed[-1])

    monkeypatch.setattr(pods_module.client, "CoreV1Api", Core)
    monkeypatch.setattr(pods_module.time, "time", lambda: now[0])
    readiness = pods_module.PodReadiness(None, "ns", "app=x")
    for t, items in [(110, [pod("a", "True", 100), pod("b", "False", 105)]),
                     (130, [pod("a", "True", 100), pod("b", "True", 120)]),
                     (150, [pod("a", "True", 100), pod("b", "True", 120, terminating=True)]),  # a scale-in: no longer counts
                     (170, [pod("a", "True", 100), pod("c", "False", 160)])]:
        now[0] = t
        listed.append(items)
        readiness.poll()
    assert readiness.intervals == {"a": [[100, None]], "b": [[120, 150]]}  # c never Ready
    assert readiness.ready_seconds(110, 140) == {"a": 30, "b": 20}
    assert readiness.ready_seconds(160, 200) == {"a": 40, "b": 0}
