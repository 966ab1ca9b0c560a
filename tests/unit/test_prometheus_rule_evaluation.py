"""The PrometheusRule evaluated, not only parsed: Prometheus' own rule engine (`promtool test rules`,
through tfserving_harness.promtool) runs every alert and recording rule the chart renders, and the
queries KEDA and prometheus-adapter send for the HPAs, on the defaults and ci/ scenarios rendered with
the rule turned on (EVALUATED: between them every distinct rule a scenario renders), so their
tracks, models, autoscalers and alert settings are what gets evaluated. Each case below reads: input series, then what the rules must make of them. Times are
promtool's evaluation times; every series has one sample a minute and the rules are evaluated once
a minute.

The input series are what Prometheus stores with the chart's scrape setup (docs/design.md,
Monitoring), with the names and labels the exporters emit:
- TF Serving 2.20.0 (tensorflow_serving/): util/prometheus_exporter.cc turns `/tensorflow/serving/x`
  into `:tensorflow:serving:x` and prints bucket bounds with six significant digits;
  servables/tensorflow/util.cc has request_count{model_name,status} and
  request_latency{model_name,API,entrypoint} in microseconds with buckets Exponential(10, 1.8, 33);
  batching/batching_util.h the label-less batching_session:{input,processed}_batch_size; TensorFlow's
  cc/saved_model/loader.cc counts load_attempt_count{model_path,status} with status "success" or
  "fail" and model_path the version folder. The ServiceMonitor adds the target labels namespace,
  pod, container, endpoint, instance, job, service and the podTargetLabels (pod labels, with every
  character outside [a-zA-Z0-9_] as `_`): app_kubernetes_io_name, app_kubernetes_io_instance,
  tf_serving_io_track.
- kube-state-metrics as kube-prometheus-stack scrapes it, with honorLabels: a series' own namespace,
  pod and container win and the target's labels fill in the rest, so a Deployment's or an HPA's
  series carries the kube-state-metrics pod as `pod`.
- cAdvisor through the kubelet: container_memory_working_set_bytes per container, and the pod's own
  cgroup with container="".
"""

from __future__ import annotations

import functools
import math
import re
import uuid
import zlib
from dataclasses import dataclass, replace
from typing import Callable, Mapping

import pytest

from tfserving_harness import promql, promtool, quantity, testing, tfs_config
from tfserving_harness.manifests import of_kind, one, pod_template, server_container
from tfserving_harness.paths import chart_dir
from tfserving_harness.promtool import MINUTE, Alert, RuleTest, SamplesAt, Series, fires, returns, silent
from tfserving_harness.values import effective_values

#: Every scenario is rendered with the PrometheusRule on, and the prometheus-adapter rules as a ConfigMap.
OVERLAY = {"monitoring": {"prometheusRule": {"enabled": True, "force": True}}, "autoscaling": {"prometheusAdapter": {"configMap": {"enabled": True}}}}
SCENARIOS = [pytest.param(None, id="defaults"), *testing.ci_scenarios()]
#: The scenarios promtool evaluates: between them every PrometheusRule a scenario renders (the
#: other scenarios render one of these, test_every_scenario_renders_a_rule_that_promtool_evaluates
#: checks), several models per server, several tracks, per-track HPAs, KEDA and alert settings.
EVALUATED = [pytest.param(None, id="defaults")] + [
    pytest.param(testing.scenario_file(name), id=name)
    for name in ("multi-model", "tracks-canary", "blue-green", "multi-version", "hpa-cpu-memory", "hpa-custom-metric",
                 "hpa-external-metric", "keda", "monitoring-stack")
]

REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
BATCHING = ":tensorflow:serving:batching_session"
LOAD_ATTEMPTS = ":tensorflow:cc:saved_model:load_attempt_count"
#: request_latency's bucket bounds (µs) as the exporter prints them: absl::StrCat(double), six significant digits.
LATENCY_BOUNDS = [f"{10 * 1.8**i:.6g}" for i in range(33)] + ["+Inf"]
#: The chart's podTargetLabels (tf-serving.podTargetLabels; test_monitoring checks the ServiceMonitor lists them).
POD_TARGET_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "tf-serving.io/track")
KUBE_STATE_METRICS_TARGET = {
    "container": "kube-state-metrics",
    "endpoint": "http",
    "instance": "10.244.0.17:8080",
    "job": "kube-state-metrics",
    "namespace": "monitoring",
    "pod": "kube-prometheus-stack-kube-state-metrics-5689dc5579-zmwdx",
    "service": "kube-prometheus-stack-kube-state-metrics",
}
KUBELET_TARGET = {
    "endpoint": "https-metrics",
    "instance": "192.168.10.21:10250",
    "job": "kubelet",
    "metrics_path": "/metrics/cadvisor",
    "node": "node-a",
    "service": "kube-prometheus-stack-kubelet",
}
#: The values key (monitoring.prometheusRule.alerts.<key>) of each alert.
ALERT_VALUES = {
    "TFServingHighLatencyP99": "highLatency",
    "TFServingHighErrorRatio": "errorRatio",
    "TFServingNoTraffic": "noTraffic",
    "TFServingModelLoadFailed": "modelLoadFailures",
    "TFServingAutoscalerAtMaxReplicas": "hpaMaxedOut",
    "TFServingReplicasUnavailable": "replicasUnavailable",
    "TFServingPodRestarting": "podRestarts",
    "TFServingOOMKilled": "oomKilled",
    "TFServingMemoryNearLimit": "memoryNearLimit",
}


# --- The release a scenario renders, as Prometheus sees it ----------------------------------------


@dataclass(frozen=True)
class Track:
    """One Deployment's serving pods: the labels their scraped series carry, their models, limits."""

    namespace: str
    deployment: str
    job: str  # the ServiceMonitor's job: the headless metrics Service
    container: str
    target_labels: Mapping[str, str]  # podTargetLabels as Prometheus labels
    models: tuple[tuple[str, str], ...]  # (name, base_path) from the track's models.config
    memory_limit: int  # bytes

    @property
    def name(self) -> str:
        return self.target_labels["tf_serving_io_track"]

    @property
    def instance(self) -> str:
        return self.target_labels["app_kubernetes_io_instance"]

    @property
    def pods(self) -> tuple[str, str]:
        """Two pods, named like the ReplicaSet controller names them: <deployment>-<hash>-<suffix>."""
        return f"{self.deployment}-7d9f8c6b5f-x2k9p", f"{self.deployment}-7d9f8c6b5f-q7m4t"

    def recorded(self, model: str | None = None) -> dict[str, str]:
        """Labels of this track's recording-rule series (per model when `model` is given)."""
        labels = {"namespace": self.namespace, "app_kubernetes_io_instance": self.instance, "tf_serving_io_track": self.name}
        return {**labels, "model_name": model} if model else labels


@dataclass(frozen=True)
class Release:
    scenario: str
    rule: Mapping  # the rendered PrometheusRule
    namespace: str
    name: str
    tracks: tuple[Track, ...]
    hpas: tuple[str, ...]  # HPAs of the release; KEDA names its HPA keda-hpa-<ScaledObject>
    values: Mapping  # the scenario's values (with OVERLAY)
    docs: tuple  # the whole render (the autoscalers and the adapter rules)

    @property
    def settings(self) -> Mapping:
        return self.values["monitoring"]["prometheusRule"]

    def track(self, deployment: str) -> Track:
        return next(t for t in self.tracks if t.deployment == deployment)

    def alert(self, alertname: str) -> Mapping:
        return self.settings["alerts"][ALERT_VALUES[alertname]]

    def firing(self, alertname: str, labels: Mapping[str, str], **annotations: str) -> Alert:
        """The alert as promtool reports it: the series' labels plus severity and alertLabels; the
        given annotations plus the runbook link."""
        alert = self.alert(alertname)
        url = alert.get("runbookUrl") or (f"{self.settings['runbookBaseUrl'].rstrip('/')}#{alertname.lower()}" if self.settings.get("runbookBaseUrl") else "")
        return Alert(
            {**labels, "severity": alert["severity"], **self.settings.get("alertLabels", {})},
            {**annotations, **({"runbook_url": url} if url else {})},
        )

    def neighbours(self) -> tuple[Track, Track]:
        """Pods that must never count: another release in this namespace, and a release of this name
        in another namespace, each with this release's first track's name and models."""
        track = self.tracks[0]
        other = replace(track, deployment="other-tf-serving", job="other-tf-serving-metrics", target_labels={**track.target_labels, "app_kubernetes_io_instance": "other"})
        return other, replace(track, namespace="staging")


def _prometheus_label(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _track(deployment: Mapping, configmaps: Mapping[str, Mapping], job: str) -> Track:
    template = pod_template(deployment)
    container = server_container(deployment)
    [config] = [configmaps[v["configMap"]["name"]]["data"]["models.config"] for v in template["spec"]["volumes"]
                if "configMap" in v and "models.config" in configmaps.get(v["configMap"]["name"], {}).get("data", {})]
    models = tfs_config.parse_model_server_config(config).model_config_list.config
    return Track(
        namespace=deployment["metadata"]["namespace"],
        deployment=deployment["metadata"]["name"],
        job=job,
        container=container["name"],
        target_labels={_prometheus_label(k): template["metadata"]["labels"][k] for k in POD_TARGET_LABELS},
        models=tuple((m.name, m.base_path) for m in models),
        memory_limit=int(quantity.parse(container["resources"]["limits"]["memory"])),
    )


@functools.cache
def release(values_file) -> Release:
    files = [values_file] if values_file else []
    docs = testing.scenario(values_file, OVERLAY) if values_file else testing.render(OVERLAY)
    rule = one(docs, "PrometheusRule")
    configmaps = {c["metadata"]["name"]: c for c in of_kind(docs, "ConfigMap")}
    return Release(
        scenario=values_file.name if values_file else "defaults",
        rule=rule,
        namespace=rule["metadata"]["namespace"],
        name=rule["metadata"]["labels"]["app.kubernetes.io/instance"],
        tracks=tuple(_track(d, configmaps, f"{rule['metadata']['name']}-metrics") for d in of_kind(docs, "Deployment")),
        hpas=tuple(sorted([h["metadata"]["name"] for h in of_kind(docs, "HorizontalPodAutoscaler")]
                          + [f"keda-hpa-{s['metadata']['name']}" for s in of_kind(docs, "ScaledObject")])),
        values=effective_values(files, OVERLAY),
        docs=docs,
    )


# --- Series as the exporters and Prometheus' scrape write them --------------------------------------


def constant(value, samples: int) -> str:
    return f"{value}x{samples - 1}"


def rising(start, per_minute, samples: int) -> str:
    return f"{start}+{per_minute}x{samples - 1}"


def absent(samples: int) -> str:
    return f"_x{samples}"


def then(*parts: str) -> str:
    return " ".join(parts)


def _ip(pod: str) -> str:
    checksum = zlib.crc32(pod.encode())
    return f"10.244.{checksum % 250 + 1}.{checksum // 250 % 250 + 2}"


def tfs(track: Track, pod: str, metric: str, values: str, **labels: str) -> Series:
    """A TF Serving series scraped from `pod` through the chart's ServiceMonitor."""
    target = {"namespace": track.namespace, "pod": pod, "container": track.container, "endpoint": "http",
              "instance": f"{_ip(pod)}:8501", "job": track.job, "service": track.job, **track.target_labels}
    return Series(metric, {**labels, **target}, values)


def ksm(metric: str, values: str, **labels: str) -> Series:
    """A kube-state-metrics series (honorLabels: its own labels win over the target's)."""
    return Series(metric, {**KUBE_STATE_METRICS_TARGET, **labels}, values)


def ksm_container(track: Track, pod: str) -> dict[str, str]:
    """kube-state-metrics' labels of a pod's serving container (kube_pod_container_* series)."""
    return {"namespace": track.namespace, "pod": pod, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, pod)), "container": track.container}


def ksm_alert_labels(**labels: str) -> dict[str, str]:
    """What an alert on a kube-state-metrics series carries: the scrape target's labels under the series' own."""
    return {**KUBE_STATE_METRICS_TARGET, **labels}


def working_set(track: Track, pod: str, container: str, values: str) -> Series:
    """cAdvisor's working set of one container (container="" is the pod's own cgroup)."""
    uid = uuid.uuid5(uuid.NAMESPACE_DNS, pod)
    cgroup = f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{str(uid).replace('-', '_')}.slice"
    labels = {"container": container, "id": cgroup + (f"/cri-containerd-{uid.hex}.scope" if container else ""),
              "image": "docker.io/tensorflow/serving:2.20.0" if container else "", "name": uid.hex if container else "",
              "namespace": track.namespace, "pod": pod}
    return Series("container_memory_working_set_bytes", {**KUBELET_TARGET, **labels}, values)


def latency_histogram(track: Track, pod: str, model: str, api: str, entrypoint: str, per_minute: Mapping[str, int], samples: int) -> list[Series]:
    """TF Serving's request_latency of one (model, API, entrypoint) cell: `per_minute` requests land
    in the bucket of each given upper bound every minute; every bucket is printed, cumulative."""
    unknown = set(per_minute) - set(LATENCY_BOUNDS)
    assert not unknown, f"not TF Serving bucket bounds: {unknown}"
    labels = {"model_name": model, "API": api, "entrypoint": entrypoint}
    series, cumulative, total_us = [], 0, 0.0
    for bound in LATENCY_BOUNDS:
        cumulative += per_minute.get(bound, 0)
        total_us += per_minute.get(bound, 0) * (float(bound) if bound != "+Inf" else 0)
        series.append(tfs(track, pod, f"{REQUEST_LATENCY}_bucket", rising(0, cumulative, samples), **labels, le=bound))
    series.append(tfs(track, pod, f"{REQUEST_LATENCY}_sum", rising(0, total_us, samples), **labels))
    series.append(tfs(track, pod, f"{REQUEST_LATENCY}_count", rising(0, cumulative, samples), **labels))
    return series


#: 3000 requests a minute (50/s) per cell: 50, 90, 95 and 99 % within 612.22, 1102, 1983.59 and 3570.47 µs,
#: so histogram_quantile's interpolation ends exactly on those bucket bounds.
FAST = {"612.22": 1500, "1102": 1200, "1983.59": 150, "3570.47": 120, "6426.84": 30}
FAST_MS = {"0.5": 0.61222, "0.9": 1.102, "0.95": 1.98359, "0.99": 3.57047}
#: 3000 requests a minute per cell; p99 exactly 708235 µs = 708.235 ms.
SLOW = {"218591": 2700, "393464": 240, "708235": 30, "1.27482e+06": 30}
SLOW_P99_MS, SLOW_P99_HUMANIZED = 708.235, "708.2"


def firing_from(start: float, hold: str) -> float:
    """The first evaluation at which an alert whose expression holds from `start` on fires: `for:` later, on the minute grid."""
    return start + math.ceil(promtool.seconds(hold) / MINUTE) * MINUTE


def minutes(at: float) -> int:
    return int(at // MINUTE)


# --- Recording rules: what the dashboard, the alerts and a user's queries read ---------------------


def traffic_is_recorded_per_track_and_model(r: Release) -> list[RuleTest]:
    """Per track and model, summed over the track's pods: requests/s of every status, errors/s
    (status != OK) and their ratio. Another release's series, and this release's name in another
    namespace, are left out."""
    series, requests, errors, ratio = [], [], [], []
    for track in r.tracks:
        a, b = track.pods
        for model, _ in track.models:
            series += [
                tfs(track, a, REQUEST_COUNT, rising(0, 360, 11), model_name=model, status="OK"),  # 6/s
                tfs(track, b, REQUEST_COUNT, rising(0, 210, 11), model_name=model, status="OK"),  # 3.5/s
                tfs(track, b, REQUEST_COUNT, rising(0, 30, 11), model_name=model, status="NOT_FOUND"),  # 0.5/s
            ]
            requests.append(("tf_serving:requests:rate5m", track.recorded(model), 10))
            errors.append(("tf_serving:errors:rate5m", track.recorded(model), 0.5))
            ratio.append(("tf_serving:error_ratio:rate5m", track.recorded(model), 0.05))
    for neighbour in r.neighbours():
        model = neighbour.models[0][0]
        series += [tfs(neighbour, neighbour.pods[0], REQUEST_COUNT, rising(0, 6000, 11), model_name=model, status=status) for status in ("OK", "INTERNAL")]
    at = 10 * MINUTE
    return [RuleTest(
        "10 requests/s per model and track (6 + 3.5 OK, 0.5 NOT_FOUND on two pods) -> rate 10, errors 0.5, ratio 0.05",
        tuple(series),
        (returns("tf_serving:requests:rate5m", at, requests), returns("tf_serving:errors:rate5m", at, errors),
         returns("tf_serving:error_ratio:rate5m", at, ratio)),
    )]


def no_failed_request_is_a_zero_error_ratio(r: Release) -> list[RuleTest]:
    """Without any non-OK series the error ratio is 0, not absent (a panel shows 0, not "no data")."""
    series, ratio = [], []
    for track in r.tracks:
        for model, _ in track.models:
            series += [tfs(track, pod, REQUEST_COUNT, rising(0, 300, 11), model_name=model, status="OK") for pod in track.pods]
            ratio.append(("tf_serving:error_ratio:rate5m", track.recorded(model), 0))
    at = 10 * MINUTE
    return [RuleTest("only status OK -> no errors series, error ratio 0", tuple(series),
                     (returns("tf_serving:errors:rate5m", at, []), returns("tf_serving:error_ratio:rate5m", at, ratio)))]


def an_idle_release_records_zero_rates_and_no_ratios(r: Release) -> list[RuleTest]:
    """Counters that stopped: rates 0, and no error ratio or batch size mean (0/0 is dropped, never NaN)."""
    series, requests = [], []
    for track in r.tracks:
        for pod in track.pods:
            series += [tfs(track, pod, f"{BATCHING}:{m}_{part}", constant(500, 11)) for m in ("input_batch_size", "processed_batch_size") for part in ("sum", "count")]
        for model, _ in track.models:
            series += [tfs(track, pod, REQUEST_COUNT, constant(1000, 11), model_name=model, status="OK") for pod in track.pods]
            series.append(tfs(track, track.pods[0], REQUEST_COUNT, constant(3, 11), model_name=model, status="NOT_FOUND"))
            requests.append(("tf_serving:requests:rate5m", track.recorded(model), 0))
    at = 10 * MINUTE
    errors = [("tf_serving:errors:rate5m", labels, 0) for _, labels, _ in requests]
    return [RuleTest(
        "flat counters -> rates 0, no error ratio, no batch size means",
        tuple(series),
        (returns("tf_serving:requests:rate5m", at, requests), returns("tf_serving:errors:rate5m", at, errors),
         returns("tf_serving:error_ratio:rate5m", at, []), returns("tf_serving:input_batch_size:mean5m", at, []),
         returns("tf_serving:processed_batch_size:mean5m", at, [])),
    )]


def latency_quantiles_are_recorded_in_milliseconds(r: Release) -> list[RuleTest]:
    """The quantiles of TF Serving's microsecond histogram, in milliseconds, per track and model,
    over both pods and both entrypoints (REST `predict`, gRPC `Predict`). Other releases are slow
    and must not move them."""
    series, quantiles = [], []
    for track in r.tracks:
        a, b = track.pods
        for model, _ in track.models:
            series += latency_histogram(track, a, model, "predict", "REST", FAST, 11)
            series += latency_histogram(track, b, model, "Predict", "GRPC", FAST, 11)
            for quantile in ("0.5", "0.9", "0.99"):
                quantiles.append(("tf_serving:request_latency_milliseconds:quantile5m", {**track.recorded(model), "quantile": quantile}, FAST_MS[quantile]))
    for neighbour in r.neighbours():
        series += latency_histogram(neighbour, neighbour.pods[0], neighbour.models[0][0], "predict", "REST", SLOW, 11)
    return [RuleTest(
        "50/90/99 % of requests within 612.22/1102/3570.47 µs -> p50 0.61222, p90 1.102, p99 3.57047 ms",
        tuple(series),
        (returns("tf_serving:request_latency_milliseconds:quantile5m", 10 * MINUTE, quantiles),),
    )]


def batch_sizes_are_recorded_per_track(r: Release) -> list[RuleTest]:
    """Mean batch sizes per track, over its pods (the batching histograms carry no model label)."""
    series, inputs, processed = [], [], []
    for track in r.tracks:
        a, b = track.pods
        for pod, input_size, padded_size in ((a, 4, 8), (b, 8, 16)):  # one batch a second on each pod
            series += [
                tfs(track, pod, f"{BATCHING}:input_batch_size_sum", rising(0, 60 * input_size, 11)),
                tfs(track, pod, f"{BATCHING}:input_batch_size_count", rising(0, 60, 11)),
                tfs(track, pod, f"{BATCHING}:processed_batch_size_sum", rising(0, 60 * padded_size, 11)),
                tfs(track, pod, f"{BATCHING}:processed_batch_size_count", rising(0, 60, 11)),
            ]
        inputs.append(("tf_serving:input_batch_size:mean5m", track.recorded(), 6))
        processed.append(("tf_serving:processed_batch_size:mean5m", track.recorded(), 12))
    at = 10 * MINUTE
    return [RuleTest(
        "batches of 4 and 8 inputs padded to 8 and 16, one a second per pod -> means 6 and 12",
        tuple(series),
        (returns("tf_serving:input_batch_size:mean5m", at, inputs), returns("tf_serving:processed_batch_size:mean5m", at, processed)),
    )]


# --- Alerts: fire on what should fire them, after `for:`, and stay silent otherwise ----------------

#: The first 5m rate (two samples) of series starting at 0 is at 1m: rate-based expressions hold from then.
FIRST_RATE = MINUTE


def high_latency(r: Release) -> list[RuleTest]:
    name = "TFServingHighLatencyP99"
    threshold = r.alert(name)["threshold"]
    assert threshold < SLOW_P99_MS, f"the slow profile's p99 ({SLOW_P99_MS} ms) must exceed {r.scenario}'s threshold {threshold} ms"
    fire_at = firing_from(FIRST_RATE, r.alert(name)["for"])
    samples = minutes(fire_at) + 2
    slow, (model, _) = r.tracks[0], r.tracks[0].models[0]
    series = latency_histogram(slow, slow.pods[0], model, "predict", "REST", SLOW, samples)
    series += latency_histogram(slow, slow.pods[1], model, "Predict", "GRPC", SLOW, samples)
    for track in r.tracks:
        for other, _ in track.models:
            if (track, other) != (slow, model):
                series += latency_histogram(track, track.pods[0], other, "predict", "REST", FAST, samples)
    for neighbour in r.neighbours():
        series += latency_histogram(neighbour, neighbour.pods[0], model, "predict", "REST", SLOW, samples)
    alert = r.firing(
        name, {**slow.recorded(model), "quantile": "0.99"},
        summary=f"p99 latency of model {model} (track {slow.name}) is above {threshold} ms",
        description=f"The p99 latency of successful requests over 5m is {SLOW_P99_HUMANIZED} ms (threshold {threshold} ms) in {r.namespace}/{r.name}.",
    )
    return [RuleTest(
        f"p99 {SLOW_P99_MS} ms on {model} of track {slow.name}, 3.57 ms elsewhere and slow neighbours -> one alert from {minutes(fire_at)}m",
        tuple(series),
        (silent(name, fire_at - MINUTE), fires(name, fire_at, alert)),
    )]


def error_ratio(r: Release) -> list[RuleTest]:
    name = "TFServingHighErrorRatio"
    threshold = r.alert(name)["threshold"]
    assert threshold < 0.1, f"the failing model's error ratio (0.1) must exceed {r.scenario}'s threshold {threshold}"
    fire_at = firing_from(FIRST_RATE, r.alert(name)["for"])
    samples = minutes(fire_at) + 2
    failing, (model, _) = r.tracks[0], r.tracks[0].models[0]
    a, b = failing.pods
    series = [
        tfs(failing, a, REQUEST_COUNT, rising(0, 30, samples), model_name=model, status="OK"),  # 0.5/s
        tfs(failing, b, REQUEST_COUNT, rising(0, 24, samples), model_name=model, status="OK"),  # 0.4/s
        tfs(failing, b, REQUEST_COUNT, rising(0, 6, samples), model_name=model, status="INVALID_ARGUMENT"),  # 0.1/s
    ]
    for track in r.tracks:
        for other, _ in track.models:
            if (track, other) != (failing, model):
                series.append(tfs(track, track.pods[0], REQUEST_COUNT, rising(0, 60, samples), model_name=other, status="OK"))
    for neighbour in r.neighbours():
        series += [tfs(neighbour, neighbour.pods[0], REQUEST_COUNT, rising(0, 60, samples), model_name=model, status=s) for s in ("OK", "INTERNAL")]
    alert = r.firing(
        name, failing.recorded(model),
        summary=f"More than {threshold * 100:g}% of requests to model {model} fail (status != OK)",
        description=f"10% of requests to {model} (track {failing.name}) in {r.namespace}/{r.name} returned a non-OK status over 5m.",
    )
    return [RuleTest(
        f"1 request in 10 to {model} of track {failing.name} is INVALID_ARGUMENT, none elsewhere, neighbours fail half -> one alert from {minutes(fire_at)}m",
        tuple(series),
        (silent(name, fire_at - MINUTE), fires(name, fire_at, alert)),
    )]


def no_traffic(r: Release) -> list[RuleTest]:
    name = "TFServingNoTraffic"
    fire_at = firing_from(0, r.alert(name)["for"])
    samples = minutes(fire_at) + 2
    available = [ksm("kube_deployment_status_replicas_available", constant(2, samples), namespace=t.namespace, deployment=t.deployment) for t in r.tracks]
    stopped = [tfs(t, pod, REQUEST_COUNT, constant(1000, samples), model_name=m, status="OK") for t in r.tracks for m, _ in t.models for pod in t.pods]
    neighbours_serving = [tfs(n, n.pods[0], REQUEST_COUNT, rising(0, 600, samples), model_name=n.models[0][0], status="OK") for n in r.neighbours()]
    first = r.tracks[0]
    serving = tfs(first, first.pods[0], REQUEST_COUNT, rising(0, 6, samples), model_name=first.models[0][0], status="OK")
    alert = r.firing(
        name, {},
        summary=f"{r.namespace}/{r.name} has available replicas but serves no requests",
        description="Pods are up but no request reached TF Serving; check the Service, Ingress/route, NetworkPolicy and clients, and that metrics are scraped.",
        requires="kube-state-metrics",
    )
    down = [ksm("kube_deployment_status_replicas_available", constant(0, samples), namespace=t.namespace, deployment=t.deployment) for t in r.tracks]
    return [
        RuleTest(f"available replicas, counters that stopped, busy neighbours -> fires from {minutes(fire_at)}m",
                 tuple(available + stopped + neighbours_serving), (silent(name, fire_at - MINUTE), fires(name, fire_at, alert))),
        RuleTest(f"available replicas that never served (no TF Serving series at all) -> fires from {minutes(fire_at)}m",
                 tuple(available), (silent(name, fire_at - MINUTE), fires(name, fire_at, alert))),
        RuleTest("0.1 request/s to one model -> silent", tuple(available + stopped[1:] + [serving]), (silent(name, fire_at),)),
        RuleTest("no available replica (TFServingReplicasUnavailable's case) -> silent", tuple(down), (silent(name, fire_at),)),
    ]


def model_load_failed(r: Release) -> list[RuleTest]:
    """A version whose load fails: counted per attempt under its version folder (model_path)."""
    name = "TFServingModelLoadFailed"
    hold = r.alert(name)["for"]
    failing, (model, base_path) = r.tracks[0], r.tracks[0].models[0]
    pod = failing.pods[0]
    loaded = [tfs(t, p, LOAD_ATTEMPTS, constant(1, 30), model_path=f"{path}/1", status="success") for t in r.tracks for _, path in t.models for p in t.pods]
    # Every pod loaded version 1; the exact expectations below also say their success series raise nothing.
    alert = r.firing(
        name, {"namespace": failing.namespace, "pod": pod, "model_path": f"{base_path}/2"},
        summary=f"Pod {pod} failed to load a SavedModel from {base_path}/2",
        description=(
            "A SavedModel load attempt failed in the last 15m; the version stays unavailable (check the pod log, storage "
            "credentials and memory). It cannot see a failed initial load (the server exits before its metrics port opens; "
            "TFServingPodRestarting does) nor failures after LoadSavedModel (batching wrap, warmup), which are not counted here."
        ),
    )
    # Version 2 appears at 5m and fails: once, or once and then 5 retries a minute apart (--max_num_load_retries=5).
    retried = then(absent(5), rising(1, 1, 6), constant(6, 19))
    once = then(absent(5), constant(1, 25))
    fire_at = firing_from(5 * MINUTE, hold)
    assert fire_at <= 19 * MINUTE, f"{r.scenario}: a single failure is visible for 15m (5m..19m): `for: {hold}` leaves no evaluation in which it fires"

    def failures(values: str) -> list[Series]:
        series = [tfs(failing, pod, LOAD_ATTEMPTS, values, model_path=f"{base_path}/2", status="fail")]
        return series + [tfs(n, n.pods[0], LOAD_ATTEMPTS, values, model_path=f"{base_path}/2", status="fail") for n in r.neighbours()]

    return [
        RuleTest(f"version 2 of {model} fails 6 times from 5m to 10m -> fires from {minutes(fire_at)}m to 24m (the last increase leaves the 15m window at 25m)",
                 tuple(loaded + failures(retried)),
                 (silent(name, fire_at - MINUTE), fires(name, fire_at, alert), fires(name, 24 * MINUTE, alert), silent(name, 25 * MINUTE))),
        RuleTest(f"version 2 of {model} fails once at 5m (a counter born at 1 has no increase) -> fires from {minutes(fire_at)}m to 19m",
                 tuple(loaded + failures(once)),
                 (silent(name, fire_at - MINUTE), fires(name, fire_at, alert), fires(name, 19 * MINUTE, alert), silent(name, 20 * MINUTE))),
    ]


def autoscaler_at_max_replicas(r: Release) -> list[RuleTest]:
    name = "TFServingAutoscalerAtMaxReplicas"
    fire_at = firing_from(5 * MINUTE, r.alert(name)["for"])
    samples = minutes(fire_at) + 2
    at_max_from_5m = then(constant(4, 5), constant(10, samples - 5))
    series = []
    for namespace, hpa in [(r.namespace, h) for h in r.hpas] + [(r.namespace, "other-tf-serving"), ("staging", r.hpas[0])]:
        series += [
            ksm("kube_horizontalpodautoscaler_spec_max_replicas", constant(10, samples), namespace=namespace, horizontalpodautoscaler=hpa),
            ksm("kube_horizontalpodautoscaler_status_current_replicas", at_max_from_5m, namespace=namespace, horizontalpodautoscaler=hpa),
        ]
    alerts = [r.firing(
        name, {"namespace": r.namespace, "horizontalpodautoscaler": hpa},  # `>= on (...)` keeps only those
        summary=f"HPA {hpa} has been at its maximum replicas",
        description="The autoscaler cannot add capacity; raise autoscaling.maxReplicas (and the node pool) or reduce load.",
        requires="kube-state-metrics",
    ) for hpa in r.hpas]
    return [RuleTest(
        f"every HPA of the release ({', '.join(r.hpas)}) and two neighbours' at 10 of 10 replicas from 5m -> one alert per release HPA from {minutes(fire_at)}m",
        tuple(series),
        (silent(name, fire_at - MINUTE), fires(name, fire_at, *alerts)),
    )]


def replicas_unavailable(r: Release) -> list[RuleTest]:
    name = "TFServingReplicasUnavailable"
    fire_at = firing_from(2 * MINUTE, r.alert(name)["for"])
    samples = minutes(fire_at) + 2
    down, series = r.tracks[0], []  # the neighbours' Deployments go down too
    for track in (*r.tracks, *r.neighbours()):
        available = constant(3, samples) if track in r.tracks[1:] else then(constant(3, 2), constant(1, samples - 2))
        series += [
            ksm("kube_deployment_spec_replicas", constant(3, samples), namespace=track.namespace, deployment=track.deployment),
            ksm("kube_deployment_status_replicas_available", available, namespace=track.namespace, deployment=track.deployment),
        ]
    alert = r.firing(
        name, {"namespace": r.namespace, "deployment": down.deployment},  # `< on (namespace, deployment)` keeps only those
        summary=f"Deployment {down.deployment} has fewer available replicas than desired",
        description="Pods are not becoming Ready (model load, image pull, scheduling or OOM); this lasts longer than a model load should.",
        requires="kube-state-metrics",
    )
    return [RuleTest(
        f"{down.deployment} and the neighbours' Deployments at 1 of 3 available from 2m, other tracks 3 of 3 -> one alert from {minutes(fire_at)}m",
        tuple(series),
        (silent(name, fire_at - MINUTE), fires(name, fire_at, alert)),
    )]


def pod_restarting(r: Release) -> list[RuleTest]:
    name = "TFServingPodRestarting"
    threshold = r.alert(name)["threshold"]
    restarts_needed = math.floor(threshold) + 1
    # One restart a minute from 2m on (a crash loop): the count passes the threshold at (restarts_needed + 1)m.
    fire_at = firing_from((restarts_needed + 1) * MINUTE, r.alert(name)["for"])
    samples = minutes(fire_at) + 2
    crash_loop = then(constant(0, 1), rising(0, 1, samples - 1))
    track = r.tracks[0]
    crashing, steady = track.pods
    series = [ksm("kube_pod_container_status_restarts_total", crash_loop, **ksm_container(track, crashing)),
              ksm("kube_pod_container_status_restarts_total", constant(0, samples), **ksm_container(track, steady))]
    series += [ksm("kube_pod_container_status_restarts_total", crash_loop, **ksm_container(n, n.pods[0])) for n in r.neighbours()]
    alert = r.firing(
        name, ksm_alert_labels(**ksm_container(track, crashing)),
        summary=f"Pod {crashing} restarted more than {threshold} times in 15m",
        description=(
            "The TF Serving container keeps restarting (a model that fails its initial load makes the server exit, a startup "
            "budget too short for the load, OOM or a failing liveness probe); check `kubectl logs --previous`."
        ),
        requires="kube-state-metrics",
    )
    return [RuleTest(
        f"{crashing} restarts once a minute from 2m, neighbours too -> fires once it has restarted {restarts_needed} times, from {minutes(fire_at)}m",
        tuple(series),
        (silent(name, fire_at - MINUTE), fires(name, fire_at, alert)),
    )]


def oom_killed(r: Release) -> list[RuleTest]:
    name = "TFServingOOMKilled"
    fire_at = firing_from(5 * MINUTE, r.alert(name)["for"])
    assert fire_at <= 19 * MINUTE, f"{r.scenario}: a restart counts for 15m (5m..19m): `for: {r.alert(name)['for']}` leaves no evaluation in which it fires"
    track = r.tracks[0]
    killed, errored = track.pods
    restart_at_5m = then(constant(0, 5), constant(1, 25))
    reason_from_5m = then(absent(5), constant(1, 25))
    series = []
    for pod_track, pod, reason in ((track, killed, "OOMKilled"), (track, errored, "Error"), *((n, n.pods[0], "OOMKilled") for n in r.neighbours())):
        series += [ksm("kube_pod_container_status_restarts_total", restart_at_5m, **ksm_container(pod_track, pod)),
                   ksm("kube_pod_container_status_last_terminated_reason", reason_from_5m, **ksm_container(pod_track, pod), reason=reason)]
    alert = r.firing(
        name, ksm_alert_labels(**ksm_container(track, killed), reason="OOMKilled"),
        summary=f"Pod {killed} was OOM-killed",
        description="Memory roughly doubles while a new model version loads next to the old one; size the memory limit for two versions.",
        requires="kube-state-metrics",
    )
    return [RuleTest(
        f"{killed} restarts at 5m after OOMKilled, {errored} after Error, neighbours OOMKilled -> one alert from {minutes(fire_at)}m to 19m (the restart leaves the 15m window at 20m)",
        tuple(series),
        (silent(name, fire_at - MINUTE), fires(name, fire_at, alert), fires(name, 19 * MINUTE, alert), silent(name, 20 * MINUTE)),
    )]


def memory_near_limit(r: Release) -> list[RuleTest]:
    name = "TFServingMemoryNearLimit"
    threshold = r.alert(name)["threshold"]
    assert threshold < 0.95, f"the full pod's 95% of its limit must exceed {r.scenario}'s threshold {threshold}"
    fire_at = firing_from(0, r.alert(name)["for"])
    samples = minutes(fire_at) + 2
    track = r.tracks[0]
    full, half = track.pods
    series = []
    for pod_track, pod, used in ((track, full, 0.95), (track, half, 0.5), *((n, n.pods[0], 0.99) for n in r.neighbours())):
        limit = pod_track.memory_limit
        series += [
            working_set(pod_track, pod, pod_track.container, constant(int(limit * used), samples)),
            working_set(pod_track, pod, "", constant(limit + 2**20, samples)),  # the pod's cgroup: every container, no limit of its own
            ksm("kube_pod_container_resource_limits", constant(limit, samples), **ksm_container(pod_track, pod), node="node-a", resource="memory", unit="byte"),
            ksm("kube_pod_container_resource_limits", constant(2, samples), **ksm_container(pod_track, pod), node="node-a", resource="cpu", unit="core"),
        ]
    alert = r.firing(
        name, {"namespace": track.namespace, "pod": full, "container": track.container},
        summary=f"Pod {full} uses more than {threshold * 100:g}% of its memory limit",
        description="The next model version load (both versions resident) may OOM-kill this pod; raise the memory limit.",
        requires="kube-state-metrics, cAdvisor (kubelet)",
    )
    return [RuleTest(
        f"{full} at 95% of its {track.memory_limit} B limit, {half} at 50%, neighbours at 99% -> one alert from {minutes(fire_at)}m",
        tuple(series),
        (silent(name, fire_at - MINUTE), fires(name, fire_at, alert)),
    )]


# --- What the autoscalers read: KEDA's trigger and prometheus-adapter's queries --------------------


def _new_pod(track: Track) -> str:
    """A third pod of the track that has not served a request yet (a scale-out's new pod)."""
    return f"{track.deployment}-7d9f8c6b5f-n3w0p"


def autoscaler_queries(r: Release) -> list[RuleTest]:
    """The queries KEDA and prometheus-adapter send Prometheus for the release's autoscalers, on
    series where each model of a busy track gets 6 requests/s on one pod and 4 on the other (3.5 OK,
    0.5 NOT_FOUND: rejected requests are load too) with FAST latencies; with several tracks the last
    is idle (counters stopped, its targets up), and each track has a third pod that has served no
    request (scraped, no request_count series yet): the adapter's rule answers 0 for it. Neighbours
    are busier and must not count."""
    busy = r.tracks[:-1] if len(r.tracks) > 1 else r.tracks
    series = []
    for track in r.tracks:
        a, b = track.pods
        per_minute = {"a": 360, "b": 210, "b rejected": 30} if track in busy else {"a": 0, "b": 0, "b rejected": 0}
        for model, _ in track.models:
            series += [
                tfs(track, a, REQUEST_COUNT, rising(1000, per_minute["a"], 11), model_name=model, status="OK"),
                tfs(track, b, REQUEST_COUNT, rising(1000, per_minute["b"], 11), model_name=model, status="OK"),
                tfs(track, b, REQUEST_COUNT, rising(10, per_minute["b rejected"], 11), model_name=model, status="NOT_FOUND"),
            ]
            series += latency_histogram(track, a, model, "predict", "REST", FAST if track in busy else {}, 11)
        series += [tfs(track, pod, "up", constant(1, 11)) for pod in (*track.pods, _new_pod(track))]  # Prometheus' own series per target
    for neighbour in r.neighbours():
        series.append(tfs(neighbour, neighbour.pods[0], REQUEST_COUNT, rising(0, 6000, 11), model_name=neighbour.models[0][0], status="OK"))
        series += latency_histogram(neighbour, neighbour.pods[0], neighbour.models[0][0], "predict", "REST", SLOW, 11)

    at, expect = 10 * MINUTE, []
    adapter = promql.adapter_config_from_configmap(next(c for c in of_kind(r.docs, "ConfigMap") if "config.yaml" in c.get("data", {})))
    for scaled_object in of_kind(r.docs, "ScaledObject"):
        track = r.track(scaled_object["spec"]["scaleTargetRef"]["name"])
        total = 10 * len(track.models) if track in busy else 0
        # KEDA's AverageValue divides this by the replicas: the threshold is requests/s per pod.
        expect += [returns(t["metadata"]["query"], at, [("", {}, total)]) for t in scaled_object["spec"]["triggers"] if t["type"] == "prometheus"]
    for hpa in of_kind(r.docs, "HorizontalPodAutoscaler"):
        track = r.track(hpa["spec"]["scaleTargetRef"]["name"])
        a, b = track.pods
        for metric in hpa["spec"]["metrics"]:
            if metric["type"] == "Pods":
                [rule] = [rule for rule in adapter["rules"] if rule["name"]["as"] == metric["pods"]["metric"]["name"]]
                new = _new_pod(track)
                query = promql.expand_adapter_query(rule["metricsQuery"], promql.series_name(rule["seriesQuery"]),
                                                    label_matchers=f'namespace="{track.namespace}",pod=~"{a}|{b}|{new}"', group_by="pod")
                per_pod = (6, 4) if track in busy else (0, 0)
                expect.append(returns(query, at, [("", {"pod": a}, per_pod[0] * len(track.models)), ("", {"pod": b}, per_pod[1] * len(track.models)),
                                                  ("", {"pod": new}, 0)]))
            elif metric["type"] == "External":
                external = metric["external"]["metric"]
                [rule] = [rule for rule in adapter["externalRules"] if rule["name"]["as"] == external["name"]]
                selector = ",".join(f'{k}="{v}"' for k, v in external["selector"]["matchLabels"].items())
                query = promql.expand_adapter_query(rule["metricsQuery"], promql.series_name(rule["seriesQuery"]),
                                                    label_matchers=f'{selector},namespace="{track.namespace}"')
                quantile = str(r.values["autoscaling"]["latency"]["quantile"])
                assert quantile in FAST_MS, f"{r.scenario}: no FAST latency known for quantile {quantile}; add it to FAST_MS"
                expect.append(returns(query, at, [("", {}, FAST_MS[quantile] if track in busy else 0)]))
    if not expect:
        return []
    return [RuleTest(
        "10 requests/s per model of each busy track (6 + 4 on two pods), an idle last track -> KEDA: the track's total; "
        "adapter: each pod's rate (0 for a pod without requests yet), the latency quantile in ms (0 for the idle track, whose targets are up)",
        tuple(series), tuple(expect),
    )]


#: Every case, with the alert it needs turned on (None: recording rules, always rendered).
CASES: list[tuple[str | None, Callable[[Release], list[RuleTest]]]] = [
    (None, traffic_is_recorded_per_track_and_model),
    (None, no_failed_request_is_a_zero_error_ratio),
    (None, an_idle_release_records_zero_rates_and_no_ratios),
    (None, latency_quantiles_are_recorded_in_milliseconds),
    (None, batch_sizes_are_recorded_per_track),
    ("TFServingHighLatencyP99", high_latency),
    ("TFServingHighErrorRatio", error_ratio),
    ("TFServingNoTraffic", no_traffic),
    ("TFServingModelLoadFailed", model_load_failed),
    ("TFServingAutoscalerAtMaxReplicas", autoscaler_at_max_replicas),
    ("TFServingReplicasUnavailable", replicas_unavailable),
    ("TFServingPodRestarting", pod_restarting),
    ("TFServingOOMKilled", oom_killed),
    ("TFServingMemoryNearLimit", memory_near_limit),
    (None, autoscaler_queries),
]


def rule_tests(r: Release) -> list[RuleTest]:
    """The cases that apply to the release: an alert's when its values turn it on (and, for the
    autoscaler alert, when the release has an HPA)."""
    tests = []
    for alertname, case in CASES:
        if alertname and not (r.alert(alertname)["enabled"] and (alertname != "TFServingAutoscalerAtMaxReplicas" or r.hpas)):
            continue
        tests += case(r)
    return tests


# --- The tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("values_file", EVALUATED)
def test_promtool_check_rules_accepts_the_rule(values_file, promtool_available):
    promtool.check_rules(release(values_file).rule)


@pytest.mark.parametrize("values_file", EVALUATED)
def test_each_rule_makes_of_its_series_what_the_case_says(values_file, promtool_available):
    r = release(values_file)
    failures = promtool.run(r.rule, rule_tests(r))
    assert not failures, f"{r.scenario}: {len(failures)} promtool case(s) failed:\n" + "\n".join(map(str, failures))


def _rendered_rules(rule: Mapping) -> set[tuple]:
    """Each rule of a PrometheusRule: ("alert", name) or ("record", name, its static labels)."""
    return {("alert", r["alert"]) if "alert" in r else ("record", r["record"], tuple(sorted((r.get("labels") or {}).items())))
            for g in rule["spec"]["groups"] for r in g["rules"]}


def _covered(r: Release, tests: list[RuleTest]) -> set[tuple]:
    """The rules a case proves something about: an alert expected to fire; a recording rule whose
    series an expression reads and is expected to return samples of."""
    covered = set()
    for expectation in (e for t in tests for e in t.expect):
        if isinstance(expectation, SamplesAt):
            if expectation.samples:
                for selector in promql.selectors(expectation.expr):
                    covered |= {rule for rule in _rendered_rules(r.rule) if rule[0] == "record" and rule[1] == selector.name
                                and all(selector.matcher(k) in (None, ("=", v)) for k, v in rule[2])}
        elif expectation.firing:
            covered.add(("alert", expectation.alertname))
    return covered


@pytest.mark.parametrize("values_file", EVALUATED)
def test_every_rendered_rule_has_a_promtool_case(values_file):
    """A rule the chart renders that no case makes fire (alert) or return samples (record) fails here."""
    r = release(values_file)
    uncovered = _rendered_rules(r.rule) - _covered(r, rule_tests(r))
    assert not uncovered, f"{r.scenario}: rules rendered but evaluated by no promtool case; add a case to CASES: {sorted(uncovered)}"


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_every_scenario_renders_a_rule_that_promtool_evaluates(values_file):
    """promtool runs on EVALUATED only (each run costs about a CPU second); every other scenario must
    render exactly the PrometheusRule one of them renders."""
    evaluated = [release(param.values[0]).rule["spec"] for param in EVALUATED]
    r = release(values_file)
    assert r.rule["spec"] in evaluated, f"{r.scenario} renders a PrometheusRule that no scenario of EVALUATED renders: add it to EVALUATED"


def test_every_rule_of_the_template_is_rendered_by_an_evaluated_scenario():
    """A rule behind a condition no scenario meets would never be evaluated: each `alert:`/`record:`
    line of the template (Go template parts as wildcards) must match a rule an EVALUATED scenario renders."""
    template = (chart_dir() / "templates" / "prometheusrule.yaml").read_text()
    names = re.findall(r"^\s*- (alert|record): (\S+)\s*$", template, flags=re.M)
    assert len(names) >= 10, names
    rendered = {(rule[0], rule[1]) for param in EVALUATED for rule in _rendered_rules(release(param.values[0]).rule)}
    for kind, name in names:
        pattern = re.compile(".+".join(re.escape(part) for part in re.split(r"\{\{.*?\}\}", name)))
        assert any(k == kind and pattern.fullmatch(n) for k, n in rendered), f"{kind} {name} of prometheusrule.yaml is rendered by no EVALUATED scenario"
