"""Canary gates: Prometheus' HTTP API, TF Serving's own metrics, keyed on the track.

TF Serving's metrics carry no version label, only `model_name` (tensorflow_serving/servables/
tensorflow/util.cc: `/tensorflow/serving/request_count{model_name,status}` and the
`/tensorflow/serving/request_latency{model_name,API,entrypoint}` histogram in microseconds,
exported as `:tensorflow:serving:...`). The track comes from the pod label `tf-serving.io/track`,
which the chart's ServiceMonitor/PodMonitor copy onto every series as `tf_serving_io_track`
(podTargetLabels), next to `namespace` and `app_kubernetes_io_instance`.

A gate is `pass`, `breach` or `inconclusive`: a canary that got too few requests, or a Prometheus
that does not answer, is never a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import requests

#: REST methods and gRPC APIs that run the model (http_server.cc records the REST method,
#: prediction_service_impl.cc "Predict"/"Classify"/"Regress"). Status and metadata GETs
#: (helm test, clients, the probes of charts before 0.3.0) are recorded too and would pull the p99 down.
PREDICTION_APIS = "predict|classify|regress|Predict|Classify|Regress"
PASS, BREACH, INCONCLUSIVE = "pass", "breach", "inconclusive"


@dataclass(frozen=True)
class Limits:
    max_error_ratio: float = 0.01
    max_p99_ms: float = 500.0
    min_requests: int = 100
    window: str = "5m"


@dataclass(frozen=True)
class TrackMetrics:
    track: str
    requests: float | None  # requests in the window (every status), None = no series
    errors: float | None  # status != OK
    p99_ms: float | None  # of successful prediction requests

    @property
    def error_ratio(self) -> float | None:
        if not self.requests:
            return None
        return (self.errors or 0.0) / self.requests

    def describe(self) -> str:
        if self.requests is None:
            return f"track {self.track}: no request_count series"
        ratio = self.error_ratio
        p99 = "n/a" if self.p99_ms is None else f"{self.p99_ms:.1f} ms"
        ratio_text = "n/a" if ratio is None else f"{ratio:.2%}"
        return f"track {self.track}: {self.requests:.0f} requests, error ratio {ratio_text}, p99 {p99}"


@dataclass(frozen=True)
class GateResult:
    decision: str
    reasons: tuple[str, ...]
    canary: TrackMetrics | None = None
    stable: TrackMetrics | None = None

    def describe(self) -> str:
        lines = [f"gate: {self.decision.upper()}"] + [f"  - {r}" for r in self.reasons]
        for metrics in (self.canary, self.stable):
            if metrics is not None:
                lines.append(f"  {metrics.describe()}")
        return "\n".join(lines)


class PrometheusError(RuntimeError):
    pass


class Prometheus:
    """Instant queries against `/api/v1/query`."""

    def __init__(self, url: str, *, timeout: float = 10.0, session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def scalar(self, query: str) -> float | None:
        """The query's single value; None when it returns no series (or NaN: no samples to divide)."""
        try:
            response = self.session.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=self.timeout)
        except requests.RequestException as error:
            reason = type(error).__name__ if isinstance(error, requests.ConnectionError) else error
            raise PrometheusError(f"Prometheus at {self.url} does not answer ({reason})") from error
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(f"Prometheus at {self.url} answered HTTP {response.status_code} without JSON") from None
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(f"Prometheus refused {query!r}: HTTP {response.status_code} {body.get('errorType', '')}: {body.get('error', '')}")
        data = body.get("data") or {}
        result = data.get("result") or []
        if data.get("resultType") == "scalar":
            value = float(result[1])
        elif not result:
            return None
        elif len(result) > 1:
            raise PrometheusError(f"{query!r} returned {len(result)} series, expected one (the query sums them): {result[:3]}")
        else:
            value = float(result[0]["value"][1])
        return None if math.isnan(value) else value


def selector(namespace: str, release: str, track: str) -> str:
    return f'namespace="{namespace}",app_kubernetes_io_instance="{release}",tf_serving_io_track="{track}"'


def queries(namespace: str, release: str, track: str, window: str) -> dict[str, str]:
    sel = selector(namespace, release, track)
    return {
        "requests": f"sum(increase(:tensorflow:serving:request_count{{{sel}}}[{window}]))",
        "errors": f'sum(increase(:tensorflow:serving:request_count{{{sel},status!="OK"}}[{window}]))',
        # The histogram is in microseconds; limits are in milliseconds.
        "p99_ms": (f'histogram_quantile(0.99, sum by (le) (rate(:tensorflow:serving:request_latency_bucket'
                   f'{{{sel},API=~"{PREDICTION_APIS}"}}[{window}]))) / 1000'),
    }


def track_metrics(prometheus: Prometheus, namespace: str, release: str, track: str, window: str) -> TrackMetrics:
    q = queries(namespace, release, track, window)
    requests_ = prometheus.scalar(q["requests"])
    errors = prometheus.scalar(q["errors"]) if requests_ is not None else None
    p99 = prometheus.scalar(q["p99_ms"]) if requests_ is not None else None
    return TrackMetrics(track, requests_, errors, p99)


def decide(canary: TrackMetrics, stable: TrackMetrics | None, limits: Limits) -> GateResult:
    """Below --min-requests a gate is inconclusive, with one exception: when the canary already has
    more errors than the limit allows over --min-requests requests, no later success can make it
    pass, so it breaches at once. Latency is judged only from --min-requests on."""
    reasons: list[str] = []
    ratio = canary.error_ratio
    errors = canary.errors or 0.0
    if canary.requests is not None and canary.requests < limits.min_requests:
        if errors > limits.max_error_ratio * limits.min_requests:
            return GateResult(BREACH, (f"canary already failed {errors:.0f} of {canary.requests:.0f} requests: more than the "
                                       f"{limits.max_error_ratio:.2%} limit allows over --min-requests {limits.min_requests}",),
                              canary, stable)
        reasons.append(f"canary served {canary.requests:.0f} requests in {limits.window}, fewer than --min-requests {limits.min_requests}")
        return GateResult(INCONCLUSIVE, tuple(reasons), canary, stable)
    if ratio is not None and errors and ratio > limits.max_error_ratio:
        reasons.append(f"canary error ratio {ratio:.2%} above the limit {limits.max_error_ratio:.2%}")
    if canary.p99_ms is not None and canary.p99_ms > limits.max_p99_ms:
        reasons.append(f"canary p99 {canary.p99_ms:.1f} ms above the limit {limits.max_p99_ms:g} ms")
    if reasons:
        return GateResult(BREACH, tuple(reasons), canary, stable)
    if canary.requests is None:
        reasons.append(f"no request_count series for track {canary.track} in the last {limits.window} "
                       "(no traffic yet, or Prometheus does not scrape it with the tf_serving_io_track label)")
    elif canary.p99_ms is None:
        reasons.append("no successful prediction latency samples for the canary")
    if reasons:
        return GateResult(INCONCLUSIVE, tuple(reasons), canary, stable)
    return GateResult(PASS, (f"error ratio {ratio:.2%} <= {limits.max_error_ratio:.2%}, "
                             f"p99 {canary.p99_ms:.1f} ms <= {limits.max_p99_ms:g} ms",), canary, stable)


def evaluate(prometheus: Prometheus, namespace: str, release: str, canary_track: str, stable_track: str, limits: Limits) -> GateResult:
    try:
        canary = track_metrics(prometheus, namespace, release, canary_track, limits.window)
        stable = track_metrics(prometheus, namespace, release, stable_track, limits.window)
    except PrometheusError as error:
        return GateResult(INCONCLUSIVE, (str(error),))
    return decide(canary, stable, limits)


def wait_conclusive(check: Callable[[], GateResult], *, timeout: float, poll: float, say: Callable[[str], None],
                    sleep: Callable[[float], None], clock: Callable[[], float],
                    on_inconclusive: Callable[[], None] | None = None) -> GateResult:
    """Evaluate until pass or breach; an inconclusive gate is re-evaluated every `poll` seconds
    until `timeout`, then returned as it is (the caller holds the canary where it is)."""
    start = clock()
    while True:
        result = check()
        if result.decision != INCONCLUSIVE:
            return result
        waited = clock() - start
        if waited + poll > timeout:
            return result
        if on_inconclusive is not None:
            on_inconclusive()
        say(f"gate inconclusive ({'; '.join(result.reasons)}); next look in {poll:g}s "
            f"({waited:.0f}s of {timeout:g}s before holding)")
        sleep(poll)
