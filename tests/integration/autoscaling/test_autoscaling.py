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
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import pytest
from kubernetes import client

from tfserving_harness import adapter_values, helm, quantity
from tfserving_harness.autoscaling import cpu_cost, metrics_server
from tfserving_harness.autoscaling.incluster import LocustRun, overlay
from tfserving_harness.autoscaling.pods import REQUEST_COUNT, PodReadiness, requests_in_phase
from tfserving_harness.autoscaling.stacks import CustomMetrics, say
from tfserving_harness.demo_model import MODEL_NAME
from tfserving_harness.load import report, shapes, verifier
from tfserving_harness.paths import REPO_ROOT, chart_dir

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
                    title: str, users: int, connection_max_age: float = 0, hold_extra: float = 0,
                    rates: tuple[float, float] | None = None) -> dict:
    """Run loadtests/k8s with the autoscale profile against the release in `namespace`; the master's summary.json.
    `rates`: the low and high phases' requests/s (--low-rate, --high-rate) instead of those from `target_per_pod`."""
    hold, observe = math.ceil(model.scale_out_ready_by + hold_extra) + 5, math.ceil(model.scale_in_by) + 5
    low, high = rates or shapes.autoscale_rates(target_per_pod, MIN, model.expect_replicas)
    say(f"{title}\n{model.describe()}\nphases: warm-up {WARMUP} s, low {LOW} s at {low:g} req/s, high {hold} s at {high:g} req/s, "
        f"after the drop {observe} s at {low:g} req/s")
    options = {
        "LOCUST_HOST": "http://tfs-tf-serving:8501", "TFS_GRPC_TARGET": "tfs-tf-serving:8500", "LOCUST_USER_CLASSES": "RestUser",
        "LOCUST_EXPECT_WORKERS": WORKERS, "LOCUST_USERS": users, "TFS_LOAD_PROFILE": "autoscale", "TFS_RELEASE": "tfs",
        "TFS_WARMUP": WARMUP, "TFS_LOW_SECONDS": LOW, "TFS_HOLD_SECONDS": hold, "TFS_OBSERVE_SECONDS": observe,
        "TFS_TARGET_PER_POD": target_per_pod, "TFS_MIN_REPLICAS": MIN, "TFS_EXPECT_REPLICAS": model.expect_replicas,
        "TFS_SCRAPE_INTERVAL": model.scrape_interval, "TFS_RATE_WINDOW": model.rate_window, "TFS_ADAPTER_INTERVAL": model.adapter_interval,
        "TFS_POD_START_SECONDS": POD_START, "TFS_KUBE_INTERVAL": SAMPLE, "TFS_MAX_FAIL_RATIO": 0, "LOCUST_AUTOQUIT": 45,
        "TFS_REPORT_TITLE": title, "TFS_REST_CONNECTION_MAX_AGE": connection_max_age, "TFS_LOW_RATE": low, "TFS_HIGH_RATE": high,
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
    rates: tuple[float, float] | None = None  # (low, high) requests/s, instead of those from target_per_pod


RPS = Scenario(
    "rps", "test_requests_per_second_hpa_scales_out_and_back_in",
    "HPA on requests/s per pod (Prometheus + prometheus-adapter stand-in), k8s-local real node", "custom_metrics",
    {"autoscaling": {"enabled": True, "minReplicas": MIN, "maxReplicas": 4, "cpu": {"enabled": False}, "behavior": BEHAVIOR,
                     "requestsPerSecond": {"enabled": True, "averageValue": "10"}, "prometheusAdapter": {"rateWindow": "<the adapter's>"}},
     "monitoring": {"serviceMonitor": {"enabled": True, "interval": "5s", "scrapeTimeout": "4s"}},
     "resources": {"requests": {"cpu": "30m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "2Gi"}}},
    target_per_pod=10.0, connection_max_age=CONNECTION_MAX_AGE, check_serving=True)
# CPU: what a REST predict costs the stand-in depends on the machine's moment (0.5 to 2.2 ms of CPU per
# request across runs on the project's VM, and less per request the more there are: 28m at 10 req/s,
# 57m at 30, 87m at 90 on one slow morning), so no CPU target fixed in advance separates a low rate from a
# high one on every run: at 45 % of 100m, 30 req/s asked for one pod on fast runs and for two on slow ones.
# The test therefore installs the release with a target the HPA cannot reach (1000 %), measures the pod's
# CPU idle and at the two rates it will send (cpu_cost.measure, from the kubelet's counter the HPA reads),
# sets the target in between with `helm upgrade` (cpu_cost.one_to_two_and_back: the HPA's own arithmetic)
# and fails early when the measured CPU leaves no margin. The low and high rates are 9x apart because the
# cost per request falls with the rate: at 3x (the requests/s profile's spacing) the CPU only doubles,
# which leaves each HPA decision a margin of about x1.2 at best; here it is about x1.5.
# maxReplicas 2: the high rate's CPU may then exceed two pods' worth without asking for a third.
# Its users keep one connection each (no connection_max_age), so the pod the HPA adds serves no request:
# the HPA averages CPU over the pods and the margins above count the second pod idle; new connections
# would cost the stand-in CPU the HPA reads as load. The requests/s test proves the spread (check_serving).
CPU_REQUEST = "100m"
CPU_UNREACHABLE_TARGET = 1000  # percent: the schema's maximum
CPU_MIN_MARGIN = 1.15  # below this a run would judge the machine's noise, not the HPA
CPU = Scenario(
    "cpu", "test_cpu_hpa_scales_out_and_back_in",
    "HPA on CPU utilisation (metrics-server stand-in over the kubelet), k8s-local real node", "resource_metrics",
    {"autoscaling": {"enabled": True, "minReplicas": MIN, "maxReplicas": 2, "behavior": BEHAVIOR,
                     "cpu": {"enabled": True, "averageUtilization": CPU_UNREACHABLE_TARGET}},
     "resources": {"requests": {"cpu": CPU_REQUEST, "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "2Gi"}}},
    target_per_pod=0, expect=2, users=120, rates=(10.0, 90.0))


def _await_pod_metrics_after(api, namespace: str, pod: str, moment: float, report, timeout: float = 60) -> None:
    """Until the pod's PodMetrics (what the HPA reads) cover a window that starts after `moment`: the HPA's next
    reading, with the target about to be set, must not include the measurement's high rate."""
    say(f"waiting up to {timeout:g} s for metrics.k8s.io to read pod {pod} over a window after the measurement")
    deadline, last = time.monotonic() + timeout, "no answer"
    while time.monotonic() < deadline:
        try:
            metrics = client.CustomObjectsApi(api).get_namespaced_custom_object(metrics_server.GROUP, metrics_server.VERSION,
                                                                                namespace, "pods", pod, _request_timeout=10)
        except client.ApiException as error:  # 404 until the stand-in holds two samples of the pod
            last = f"HTTP {error.status} {error.reason}"
        else:
            end = datetime.fromisoformat(metrics["timestamp"].replace("Z", "+00:00")).timestamp()
            start = end - metrics_server.parse_go_duration(metrics["window"])
            if start >= moment:
                return
            last = f"a {metrics['window']} window that starts {moment - start:.1f} s before the measurement ended"
        time.sleep(1)
    raise AssertionError(f"metrics.k8s.io did not read pod {pod} over a window after the CPU measurement within {timeout:g} s; "
                         f"the last answer: {last}\n{report()}")


def _set_cpu_target(stack, real_node, namespace: str, scenario: Scenario, artifacts) -> None:
    """Measure the release's one pod idle and at the scenario's rates, then `helm upgrade` the HPA's CPU target to
    the one that gives the scale-out and the scale-in the same margin (cpu_cost.one_to_two_and_back), rounded to the
    whole percent the chart takes; the measurement and the choice go to cpu_target.json."""
    kubeconfig, api = real_node
    core = client.CoreV1Api(api)
    pods = core.list_namespaced_pod(namespace, label_selector=RELEASE_PODS).items
    assert len(pods) == 1, f"the CPU cost is measured on minReplicas' one pod; {namespace} has {[p.metadata.name for p in pods]}"
    pod = pods[0]
    service_ip = core.read_namespaced_service("tfs-tf-serving", namespace).spec.cluster_ip
    low, high = scenario.rates
    # The HPA at 1000 % acts on neither rate; the wait below keeps its first reading under the real target clear of both.
    cost = cpu_cost.measure(cpu_cost.kubelet_sampler(stack.metrics_server, namespace, pod.metadata.name),
                            cpu_cost.rest_predict_sender(f"http://{service_ip}:8501", f"/v1/models/{MODEL_NAME}"), [high, low])
    _await_pod_metrics_after(api, namespace, pod.metadata.name, time.time(), stack.report)
    request = float(quantity.parse(CPU_REQUEST))
    percent = round(cpu_cost.one_to_two_and_back(cost, low, high).cores / request * 100)
    target = cpu_cost.at_target(cost, low, high, percent / 100 * request)
    say(f"CPU measured: {cost.describe()}\nCPU target: {target.describe()} -> averageUtilization {percent} % of {CPU_REQUEST}")
    (artifacts / "cpu_target.json").write_text(json.dumps({"idle_cores": cost.idle_cores, "cores_at": cost.cores_at,
                                                           "target_cores": target.cores, "margins": target.margins,
                                                           "averageUtilization": percent}, indent=1))
    assert min(target.margins.values()) >= CPU_MIN_MARGIN, (
        f"the pod's measured CPU ({cost.describe()}) leaves the HPA's decisions less than a x{CPU_MIN_MARGIN} margin "
        f"({target.describe()}): the run would judge this machine's noise; change the scenario's rates")
    done = helm.run_helm(["upgrade", "tfs", str(chart_dir()), "--namespace", namespace, "--reuse-values", "--wait", "--timeout", "120s",
                          "--set", f"autoscaling.cpu.averageUtilization={percent}", "--kubeconfig", kubeconfig], check=False)
    assert done.returncode == 0, f"helm upgrade of the CPU target in {namespace} failed: {done.stderr}"


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
    if scenario is CPU:
        _set_cpu_target(stack, real_node, outcome.namespace, scenario, artifacts)
    readiness = PodReadiness(api, outcome.namespace, RELEASE_PODS) if scenario.check_serving else None
    with readiness or contextlib.nullcontext():
        outcome.summary = run_autoscaling(api=api, kubeconfig=kubeconfig, namespace=outcome.namespace, locust_image=locust_image,
                                          tmp_path=tmp_path / scenario.name, artifacts=artifacts, model=outcome.model,
                                          target_per_pod=scenario.target_per_pod, title=scenario.title, users=scenario.users,
                                          connection_max_age=scenario.connection_max_age, rates=scenario.rates,
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
