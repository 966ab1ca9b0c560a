"""The HPA scales the release out under the load test's `autoscale` shape and back in, on real pods,
judged by the project's verifier (tfserving_harness.load.verifier) against its timing model: on the
Pods metric `autoscaling.requestsPerSecond` (Prometheus + the prometheus-adapter stand-in with the
chart's rules) and on CPU utilisation (the metrics-server stand-in over the kubelet). The load comes
from loadtests/k8s's master and worker Jobs in the release's namespace, through its Service.

Every time constant is short so both tests take a few minutes: Prometheus scrapes every 5 s
(monitoring.serviceMonitor.interval), the adapter rate window is 20 s
(autoscaling.prometheusAdapter.rateWindow), metrics-server's resolution is 10 s (its minimum), the
HPA behaviour scales up by 4 pods per 15 s without a window and down by 100 % per 15 s after a 20 s
window. The phases last as long as the timing model's bounds, which the test prints.

The pods the HPA adds must take a share of the load, not only start: kube-proxy balances a ClusterIP
Service's connections, not its requests, and Locust's users connect when the run starts, when one pod
exists. So the requests/s test's users end their keep-alive connections as servers make real clients
do (nginx's `keepalive_time`, here `--rest-connection-max-age`), and it asserts that every pod Ready
long enough in the high phase served requests in it (Prometheus' per-pod `request_count`). The CPU
test keeps one connection per user (see CPU below).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from kubernetes import client

from tfserving_harness import adapter_values
from tfserving_harness.autoscaling.incluster import LocustRun, overlay
from tfserving_harness.autoscaling.pods import REQUEST_COUNT, PodReadiness, requests_in_phase
from tfserving_harness.autoscaling.stacks import CustomMetrics, say
from tfserving_harness.load import report, shapes, verifier
from tfserving_harness.paths import REPO_ROOT

ARTIFACTS = REPO_ROOT / "artifacts" / "autoscaling"

BEHAVIOR = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
    "scaleDown": {"stabilizationWindowSeconds": 20, "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
}
MIN = 1
WARMUP, LOW = 15, 30
POD_START = 40  # the stand-in imports TensorFlow before it answers (7-18 s alone; more on a busy 2-core node)
SAMPLE = 3  # --kube-interval: the master's Deployment/HPA samples
WORKERS = 2
#: Locust's pods ask for a tenth of this: the node has two cores for everything.
LOCUST_CPU = "10m"
#: --rest-connection-max-age: each user ends its connection with its first request 10 s after it opened, and
#: its next request connects again, through kube-proxy, to any Ready pod. At the high rate (25 req/s over 40
#: users) a user sends every 1.6 s, so within ~12 s of a pod's Ready every user has connected again.
CONNECTION_MAX_AGE = 10
#: A pod Ready this long in the high phase must have served requests in it: one connection age and its
#: last request (12 s), kube-proxy's update (a few s) and the 5 s scrape that sees the counter, twice over
#: for the busy node. The requests/s scenario holds the high phase this much longer than its timing bound,
#: so every pod that meets the bound is checked.
SERVING_AFTER_READY = 25
#: The release's pods (the chart's labels; Locust's pods have none of them).
RELEASE_PODS = "app.kubernetes.io/instance=tfs,tf-serving.io/track=main"


def _model(expect: int, scrape: float, window: float, adapter: float) -> verifier.TimingModel:
    return verifier.TimingModel(min_replicas=MIN, expect_replicas=expect, scrape_interval=scrape, rate_window=window,
                                adapter_interval=adapter, pod_start=POD_START, behavior=BEHAVIOR, sample_interval=SAMPLE)


def _status(api: client.ApiClient, namespace: str):
    def status() -> str:
        hpa = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler("tfs-tf-serving", namespace, _request_timeout=10)
        deployment = client.AppsV1Api(api).read_namespaced_deployment("tfs-tf-serving", namespace, _request_timeout=10)
        metrics = api.sanitize_for_serialization(hpa.status.current_metrics or [])
        current = [m.get(m["type"][0].lower() + m["type"][1:], {}).get("current", {}) for m in metrics if m.get("type")]
        return (f"HPA desired {hpa.status.desired_replicas} current {hpa.status.current_replicas} {current}; "
                f"ready pods {deployment.status.ready_replicas or 0}")
    return status


def run_autoscaling(*, api, kubeconfig, namespace, locust_image, tmp_path, artifacts, model: verifier.TimingModel, target_per_pod: float,
                    title: str, users: int, connection_max_age: float = 0, hold_extra: float = 0) -> dict:
    """Run loadtests/k8s with the autoscale profile against the release in `namespace`; the master's summary.json."""
    hold, observe = math.ceil(model.scale_out_ready_by + hold_extra) + 5, math.ceil(model.scale_in_by) + 5
    low, high = shapes.autoscale_rates(target_per_pod, MIN, model.expect_replicas)
    say(f"{title}\n{model.describe()}\nphases: warm-up {WARMUP} s, low {LOW} s at {low:g} req/s, high {hold} s at {high:g} req/s, "
        f"after the drop {observe} s at {low:g} req/s")
    options = {
        "LOCUST_HOST": "http://tfs-tf-serving:8501", "TFS_GRPC_TARGET": "tfs-tf-serving:8500", "LOCUST_USER_CLASSES": "RestUser",
        "LOCUST_EXPECT_WORKERS": WORKERS, "LOCUST_USERS": users, "TFS_LOAD_PROFILE": "autoscale", "TFS_RELEASE": "tfs",
        "TFS_WARMUP": WARMUP, "TFS_LOW_SECONDS": LOW, "TFS_HOLD_SECONDS": hold, "TFS_OBSERVE_SECONDS": observe,
        "TFS_TARGET_PER_POD": target_per_pod, "TFS_MIN_REPLICAS": MIN, "TFS_EXPECT_REPLICAS": model.expect_replicas,
        "TFS_SCRAPE_INTERVAL": model.scrape_interval, "TFS_RATE_WINDOW": model.rate_window, "TFS_ADAPTER_INTERVAL": model.adapter_interval,
        "TFS_POD_START_SECONDS": POD_START, "TFS_KUBE_INTERVAL": SAMPLE, "TFS_MAX_FAIL_RATIO": 0, "LOCUST_AUTOQUIT": 45,
        "TFS_REPORT_TITLE": title, "TFS_REST_CONNECTION_MAX_AGE": connection_max_age,
        # Read through the Service, TF Serving's metrics are those of whichever pod a read reaches; the
        # server-side view per pod is Prometheus' (requests_per_pod.json).
        "TFS_METRICS_URL": "none",
    }
    run = LocustRun(api, kubeconfig, namespace, overlay(tmp_path / "locust", namespace=namespace, image=locust_image,
                                                         options={k: str(v) for k, v in options.items()}, cpu_request=LOCUST_CPU),
                    progress=say)
    run.apply()
    logs = run.wait_for_verdicts(timeout=WARMUP + LOW + hold + observe + 240, status=_status(api, namespace))
    (artifacts / "master.log").write_text(logs)
    run.copy_report(artifacts)
    result = run.master_job_result()
    summary = json.loads((artifacts / "summary.json").read_text())
    summary["master_job"] = result
    return summary


def _pods_in_high_phase(stack: CustomMetrics, readiness: PodReadiness, namespace: str, summary: dict, artifacts, title: str) -> dict:
    """Per pod: the seconds it was Ready in the high phase, its requests in it and over the run; written to
    requests_per_pod.json, and each pod's rate to requests_per_pod.png."""
    phases = summary["phases"]
    high = next(p for p in phases if p["name"] == "high")
    in_high = requests_in_phase(stack.prometheus, namespace, high["start"], high["end"])
    ready = readiness.ready_seconds(high["start"], high["end"])
    series = f'{REQUEST_COUNT}{{namespace="{namespace}"}}'
    total = {s["metric"]["pod"]: float(s["value"][1]) for s in stack.prometheus.query(f"sum by (pod) (max_over_time({series}[15m]))")}
    pods = {pod: {"ready_seconds_in_high_phase": ready.get(pod, 0.0), "requests_in_high_phase": in_high.get(pod, 0.0),
                  "requests": total.get(pod, 0.0)} for pod in sorted(set(ready) | set(in_high) | set(total))}
    (artifacts / "requests_per_pod.json").write_text(json.dumps({"high_phase": high, "pods": pods}, indent=1))
    rates = stack.prometheus.query_range(f"sum by (pod) (rate({series}[{stack.rate_window}]))", phases[0]["start"], phases[-1]["end"], 5)
    report.plot_requests_per_pod(artifacts, {s["metric"]["pod"]: [(t, float(v)) for t, v in s["values"]] for s in rates},
                                 readiness.intervals, phases, title)
    return pods


def _assert_every_ready_pod_served(outcome: Outcome) -> None:
    pods = outcome.pods
    table = "\n".join(f"  {pod}: Ready {n['ready_seconds_in_high_phase']:g} s of the high phase, {n['requests_in_high_phase']:g} "
                      f"requests in it, {n['requests']:g} in the run" for pod, n in pods.items())
    say(f"requests per pod:\n{table}")
    checked = {pod: n for pod, n in pods.items() if n["ready_seconds_in_high_phase"] >= SERVING_AFTER_READY}
    idle = sorted(pod for pod, n in checked.items() if n["requests_in_high_phase"] <= 0)
    assert not idle, (f"pods Ready for {SERVING_AFTER_READY} s or more of the high phase served no request in it: {', '.join(idle)}; "
                      f"the load never reached them (keep-alive connections stay on the pod they were opened to):\n{table}")
    assert len(checked) >= outcome.model.expect_replicas, (
        f"expected the {outcome.model.expect_replicas} replicas of the scale-out Ready for {SERVING_AFTER_READY} s or more of the high "
        f"phase (it is held that much past the timing bound), found {len(checked)}{'; ' + outcome.readiness_error if outcome.readiness_error else ''}:"
        f"\n{table}")


def _verdict_lines(summary: dict) -> str:
    return "\n".join(v["line"] for v in summary["verdicts"])


def _assert_passed(summary: dict, model: verifier.TimingModel, report: str) -> None:
    lines = _verdict_lines(summary)
    say(f"verdicts:\n{lines}")
    autoscaling = {v["name"] for v in summary["verdicts"]}
    assert {"no scale-out in the low phase", "scale-out (desired)", "scale-out (ready pods)", "no flapping under load",
            "scale-in to minReplicas", "failure ratio"} <= autoscaling, f"verdicts missing: {lines}"
    failed = [v["line"] for v in summary["verdicts"] if not v["ok"]]
    assert not failed and summary["master_job"] == "Complete", f"{lines}\n{model.describe()}\n{report}"


@dataclass(frozen=True)
class Scenario:
    """One HPA under the autoscale profile: the chart values, the metrics pipeline it needs, the timing model."""

    name: str
    test: str
    title: str
    metrics_fixture: str
    values: dict
    target_per_pod: float
    expect: int = 3  # the replicas the high phase must reach
    users: int = 40  # requests in flight over both workers (-u): rate x the slowest latencies on this busy node
    connection_max_age: float = 0  # TFS_REST_CONNECTION_MAX_AGE; 0: each user keeps one connection
    check_serving: bool = False  # every pod Ready long enough in the high phase served requests (needs Prometheus)


RPS = Scenario(
    "rps", "test_requests_per_second_hpa_scales_out_and_back_in",
    "HPA on requests/s per pod (Prometheus + prometheus-adapter stand-in), k8s-local real node", "custom_metrics",
    {"autoscaling": {"enabled": True, "minReplicas": MIN, "maxReplicas": 4, "cpu": {"enabled": False}, "behavior": BEHAVIOR,
                     "requestsPerSecond": {"enabled": True, "averageValue": "10"}, "prometheusAdapter": {"rateWindow": "<the adapter's>"}},
     "monitoring": {"serviceMonitor": {"enabled": True, "interval": "5s", "scrapeTimeout": "4s"}},
     "resources": {"requests": {"cpu": "30m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "2Gi"}}},
    target_per_pod=10.0, connection_max_age=CONNECTION_MAX_AGE, check_serving=True)
# CPU: 45 % of a 100m request is 45m per pod. The stand-in uses ~2m idle and 0.5-1 ms of CPU per REST
# prediction (0.6 ms at 60 req/s on an idle node, up to 1 ms on a busy one), so the low phase (30 req/s,
# ~26m, ~0.6 of a target) stays at one pod and the high one (90 req/s, ~50-80m, 1.1-1.8 targets) asks for
# two. With three replicas expected, ~2.5 targets, the spread of CPU per request (an idle floor, cheaper
# requests when busy, dearer ones when the node is) left no margin: a first run scaled out in the low
# phase (24m for 20 m) and, after the drop, stayed at two (one busy pod and two idle floors over 20m).
# maxReplicas 2 keeps a busier moment from asking for more.
# Its users keep one connection each (no connection_max_age), so the pod the HPA adds serves no request:
# the HPA averages CPU over the pods, which is the same wherever the requests go, and new connections cost
# the stand-in CPU the HPA reads as load. With a 10 s age (120 users: ~10 new connections/s) the low phase
# read 36m and the phase after the drop 32-39m, against 30-33m and 27-31m without, for a target of 45m
# that the HPA's 10 % tolerance turns into 49.5m. The requests/s test proves the spread (check_serving).
CPU = Scenario(
    "cpu", "test_cpu_hpa_scales_out_and_back_in",
    "HPA on CPU utilisation (metrics-server stand-in over the kubelet), k8s-local real node", "resource_metrics",
    {"autoscaling": {"enabled": True, "minReplicas": MIN, "maxReplicas": 2, "behavior": BEHAVIOR,
                     "cpu": {"enabled": True, "averageUtilization": 45}},
     "resources": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "2Gi"}}},
    target_per_pod=60.0, expect=2, users=120)


def _scenario_model(scenario: Scenario, stack) -> verifier.TimingModel:
    if scenario is RPS:
        # The adapter answers each HPA query from Prometheus at that moment; only its relist (5 s) finds new metric names.
        return _model(scenario.expect, scrape=5, window=float(stack.rate_window.rstrip("s")), adapter=0)
    # metrics-server: a sample every resolution (10 s), the CPU rate over the 10 s between two samples,
    # and the kubelet's own stats refresh (cAdvisor housekeeping, up to ~10 s) before that.
    return _model(scenario.expect, scrape=stack.resolution, window=stack.resolution, adapter=10)


@dataclass
class Outcome:
    namespace: str = ""
    summary: dict | None = None
    model: verifier.TimingModel | None = None
    report: str = ""
    pods: dict | None = None  # with check_serving: _pods_in_high_phase
    readiness_error: str = ""


def _run_scenario(scenario: Scenario, stack, install, real_node, locust_image, tmp_path, outcome: Outcome) -> None:
    kubeconfig, api = real_node
    values = scenario.values
    if scenario is RPS:  # the adapter's rules and the release use one rate window
        values = {**values, "autoscaling": {**values["autoscaling"], "prometheusAdapter": {"rateWindow": stack.rate_window}}}
    outcome.namespace = install(f"as-{scenario.name}", values)
    if scenario is RPS:
        monitor = client.CustomObjectsApi(api).get_namespaced_custom_object("monitoring.coreos.com", "v1", outcome.namespace,
                                                                           "servicemonitors", "tfs-tf-serving")
        stack.scrape([monitor])
        stack.wait_for_targets(1)
    outcome.model = _scenario_model(scenario, stack)
    artifacts = ARTIFACTS / scenario.test
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    readiness = PodReadiness(api, outcome.namespace, RELEASE_PODS) if scenario.check_serving else None
    with readiness or contextlib.nullcontext():
        outcome.summary = run_autoscaling(api=api, kubeconfig=kubeconfig, namespace=outcome.namespace, locust_image=locust_image,
                                          tmp_path=tmp_path / scenario.name, artifacts=artifacts, model=outcome.model,
                                          target_per_pod=scenario.target_per_pod, title=scenario.title, users=scenario.users,
                                          connection_max_age=scenario.connection_max_age,
                                          hold_extra=SERVING_AFTER_READY if scenario.check_serving else 0)
    if readiness is not None:
        outcome.readiness_error = readiness.error
        outcome.pods = _pods_in_high_phase(stack, readiness, outcome.namespace, outcome.summary, artifacts, scenario.title)
    outcome.report = stack.report()


@pytest.fixture(scope="module")
def runs(request, real_node, locust_image, release_factory, tmp_path_factory):
    """Every scenario selected in this session, run at the same time (each in its own namespace, with its own
    metrics pipeline and Locust Jobs): the tier takes as long as the longest one. Each test waits for its own."""
    selected = {item.originalname for item in request.session.items}
    scenarios = [s for s in (RPS, CPU) if s.test in selected]
    stacks = {s.name: request.getfixturevalue(s.metrics_fixture) for s in scenarios}
    outcomes = {s.name: Outcome() for s in scenarios}
    pool = ThreadPoolExecutor(max_workers=max(len(scenarios), 1), thread_name_prefix="autoscaling")
    futures = {s.name: pool.submit(_run_scenario, s, stacks[s.name], release_factory, real_node, locust_image,
                                   tmp_path_factory.mktemp("autoscaling"), outcomes[s.name]) for s in scenarios}
    yield {name: (future, outcomes[name]) for name, future in futures.items()}
    pool.shutdown(wait=True)


def _outcome(request, runs, scenario: Scenario) -> Outcome:
    future, outcome = runs[scenario.name]
    try:
        future.result()
    finally:
        if outcome.namespace:  # the namespace's events and helm status go into the report of a failed test
            request.node.tfs_namespaces = [outcome.namespace]
            request.node.tfs_cluster = (request.getfixturevalue("real_node")[1], request.getfixturevalue("real_node")[0])
    return outcome


def test_requests_per_second_hpa_scales_out_and_back_in(request, runs):
    outcome = _outcome(request, runs, RPS)
    _assert_passed(outcome.summary, outcome.model, outcome.report)
    _assert_every_ready_pod_served(outcome)


def test_cpu_hpa_scales_out_and_back_in(request, runs):
    outcome = _outcome(request, runs, CPU)
    _assert_passed(outcome.summary, outcome.model, outcome.report)


@pytest.mark.skipif(os.environ.get("TFS_AUTOSCALING_BROKEN") != "1",
                    reason="a deliberately broken configuration, 4 more minutes: run with TFS_AUTOSCALING_BROKEN=1 (make test-autoscaling)")
def test_an_adapter_rule_for_a_metric_the_server_does_not_export_fails_the_verifier(request, runs, real_node, locust_image,
                                                                                     release_factory, tmp_path):
    """The chart's request-rate rule pointed at `:tensorflow:serving:request_total`, which TF Serving does
    not export: the adapter never lists the metric, the HPA cannot read it and never scales, and the
    verifier must say so (and the master Job fail), while the rest of the run is the passing one's."""
    for future, _ in runs.values():  # the scenarios share the custom.metrics.k8s.io registration this test takes over
        future.exception()
    kubeconfig, api = real_node
    rate_window = "20s"
    config = adapter_values.rendered_config({"prometheusAdapter": {"rateWindow": rate_window}})
    broken = {**config, "rules": [{**rule, "seriesQuery": rule["seriesQuery"].replace("request_count", "request_total"),
                                   "name": {**rule["name"], "matches": rule["name"]["matches"].replace("request_count", "request_total")}}
                                  for rule in config["rules"]]}
    with CustomMetrics(api, kubeconfig, rate_window=rate_window, adapter_config=broken, progress=say) as stack:
        values = {**RPS.values, "autoscaling": {**RPS.values["autoscaling"], "prometheusAdapter": {"rateWindow": rate_window}}}
        namespace = release_factory("as-broken", values)
        request.node.tfs_namespaces, request.node.tfs_cluster = [namespace], (api, kubeconfig)
        monitor = client.CustomObjectsApi(api).get_namespaced_custom_object("monitoring.coreos.com", "v1", namespace, "servicemonitors",
                                                                           "tfs-tf-serving")
        stack.scrape([monitor])
        stack.wait_for_targets(1)
        artifacts = ARTIFACTS / "broken_adapter_rule"
        shutil.rmtree(artifacts, ignore_errors=True)
        artifacts.mkdir(parents=True)
        model = _model(RPS.expect, scrape=5, window=20, adapter=0)
        summary = run_autoscaling(api=api, kubeconfig=kubeconfig, namespace=namespace, locust_image=locust_image, tmp_path=tmp_path,
                                  artifacts=artifacts, model=model, target_per_pod=RPS.target_per_pod, users=RPS.users,
                                  connection_max_age=RPS.connection_max_age,
                                  title="BROKEN on purpose: the adapter rule reads :tensorflow:serving:request_total (not exported)")
    say(f"verdicts (expected to fail):\n{_verdict_lines(summary)}")
    verdicts = {v["name"]: v["ok"] for v in summary["verdicts"]}
    assert verdicts["scale-out (desired)"] is False and verdicts["scale-in to minReplicas"] is False, _verdict_lines(summary)
    assert summary["master_job"] == "Failed", "the master's exit code must carry the failed verdicts"
