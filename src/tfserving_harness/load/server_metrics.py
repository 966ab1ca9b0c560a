"""TF Serving's own view of a load test, from its Prometheus exporter.

Names, labels and units as TF Serving 2.20.0 emits them (source, tensorflow_serving/):
- util/prometheus_exporter.cc: every character of the metric path outside [a-zA-Z0-9_] becomes
  `:` (`/tensorflow/serving/request_count` -> `:tensorflow:serving:request_count`); histograms as
  `_bucket{...,le="..."}` (cumulative, last `+Inf`), `_sum`, `_count`; no HELP lines.
- servables/tensorflow/util.cc: `request_count{model_name,status}` (status is the absl code name,
  `OK`, `INVALID_ARGUMENT`, ...); `request_latency{model_name,API,entrypoint}` in microseconds,
  buckets Exponential(10, 1.8, 33).
- model_servers/http_server.cc: REST records `request_count` for *every* model request, also
  `GET /v1/models/NAME` status calls (helm test, clients; the chart's probes since 0.3.0 are gRPC
  health or TCP and send none), and `request_latency` only
  for HTTP 200, with API = the REST verb (`predict`, `classify`, `regress`; empty for status and
  metadata) and entrypoint `REST`.
- model_servers/prediction_service_impl.cc: gRPC Predict records latency (API `Predict`,
  entrypoint `GRPC`) only when OK, and `request_count` always.
- batching/batching_session.cc: `batching_session:queuing_latency{thread_pool_name}` in microseconds.

So load is counted from `request_latency_count` with API `predict`/`Predict` (successful predict
calls: status and metadata traffic excluded), and failures from `request_count` with status != OK.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
QUEUING_LATENCY = ":tensorflow:serving:batching_session:queuing_latency"
PREDICT_APIS = ("predict", "Predict")

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Key = tuple[str, tuple[tuple[str, str], ...]]


def parse(text: str) -> dict[Key, float]:
    """Prometheus text exposition -> {(name, sorted label pairs): value}. Comments are skipped."""
    samples: dict[Key, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ValueError(f"not a Prometheus sample line: {line[:200]}")
        name, labels, value = match.groups()
        pairs = tuple(sorted((k, v.replace('\\"', '"').replace("\\\\", "\\")) for k, v in _LABEL.findall(labels or "")))
        samples[(name, pairs)] = float(value)
    return samples


def _select(samples: Mapping[Key, float], name: str, **match: str | Iterable[str]) -> Iterable[tuple[dict, float]]:
    for (sample_name, pairs), value in samples.items():
        if sample_name != name:
            continue
        labels = dict(pairs)
        if all(labels.get(k) in ((v,) if isinstance(v, str) else tuple(v)) for k, v in match.items()):
            yield labels, value


def _delta(before: Mapping[Key, float], after: Mapping[Key, float]) -> dict[Key, float]:
    # A counter that went down means the process restarted: its whole value is the increase.
    return {key: (value - before.get(key, 0.0) if value >= before.get(key, 0.0) else value) for key, value in after.items()}


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' histogram_quantile over cumulative {upper bound: count}; None without samples."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 1.0)
        lower, below = bound, count
    return lower


@dataclass
class ServerView:
    """What the server counted between two scrapes (summed over every scraped pod)."""

    predict_ok: dict[str, float]  # "REST"/"GRPC" -> successful predict calls
    requests_by_status: dict[str, float]  # all model requests, status GETs included
    latency_ms: dict[str, float | None]  # p50/p95/p99 of successful predict calls, milliseconds
    queuing_ms: dict[str, float | None] | None  # batching queue p50/p95/p99 when batching is on

    def as_dict(self) -> dict:
        return {
            "predict_ok": self.predict_ok,
            "predict_ok_total": sum(self.predict_ok.values()),
            "request_count_by_status": self.requests_by_status,
            "non_ok_requests": sum(v for k, v in self.requests_by_status.items() if k != "OK"),
            "latency_ms": self.latency_ms,
            "batching_queuing_ms": self.queuing_ms,
            "note": "predict_ok counts request_latency samples with API predict/Predict (status and metadata calls excluded); "
            "request_count includes status GETs such as GET /v1/models/NAME",
        }


def _quantiles_ms(buckets: Mapping[float, float]) -> dict[str, float | None]:
    out = {}
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        value = histogram_quantile(q, buckets)
        out[name] = None if value is None else round(value / 1000.0, 3)
    return out


def view(before: Mapping[Key, float], after: Mapping[Key, float], model: str) -> ServerView:
    delta = _delta(before, after)
    predict_ok: dict[str, float] = {}
    for labels, value in _select(delta, f"{REQUEST_LATENCY}_count", model_name=model, API=PREDICT_APIS):
        predict_ok[labels.get("entrypoint", "?")] = predict_ok.get(labels.get("entrypoint", "?"), 0.0) + value
    by_status: dict[str, float] = {}
    for labels, value in _select(delta, REQUEST_COUNT, model_name=model):
        by_status[labels.get("status", "?")] = by_status.get(labels.get("status", "?"), 0.0) + value
    buckets: dict[float, float] = {}
    for labels, value in _select(delta, f"{REQUEST_LATENCY}_bucket", model_name=model, API=PREDICT_APIS):
        bound = float(labels["le"])
        buckets[bound] = buckets.get(bound, 0.0) + value
    queue: dict[float, float] = {}
    for labels, value in _select(delta, f"{QUEUING_LATENCY}_bucket"):
        bound = float(labels["le"])
        queue[bound] = queue.get(bound, 0.0) + value
    return ServerView(predict_ok, by_status, _quantiles_ms(buckets), _quantiles_ms(queue) if queue else None)


def scrape(url: str, timeout: float = 5.0) -> dict[Key, float]:
    """One scrape of a TF Serving metrics URL (e.g. http://host:8501/monitoring/prometheus/metrics)."""
    import requests

    response = requests.get(url, timeout=timeout)
    response.raise_for_status()
    return parse(response.text)


def from_prometheus(prometheus_url: str, model: str, seconds: float, selector: str = "", timeout: float = 10.0) -> ServerView:
    """The same view from a Prometheus server: increase() over the last `seconds` of the test.
    `selector` adds label matchers, e.g. `namespace="ml",app_kubernetes_io_instance="my-model"`."""
    import requests

    window = f"{max(int(math.ceil(seconds)), 1)}s"
    matchers = f'model_name="{model}"' + (f",{selector}" if selector else "")

    def query(expr: str) -> list[dict]:
        response = requests.get(f"{prometheus_url.rstrip('/')}/api/v1/query", params={"query": expr}, timeout=timeout)
        response.raise_for_status()
        return response.json()["data"]["result"]

    predict = f'{matchers},API=~"predict|Predict"'
    ok = {r["metric"].get("entrypoint", "?"): float(r["value"][1])
          for r in query(f"sum by (entrypoint) (increase({REQUEST_LATENCY}_count{{{predict}}}[{window}]))")}
    statuses = {r["metric"].get("status", "?"): float(r["value"][1])
                for r in query(f"sum by (status) (increase({REQUEST_COUNT}{{{matchers}}}[{window}]))")}
    buckets = {float(r["metric"]["le"]): float(r["value"][1])
               for r in query(f"sum by (le) (increase({REQUEST_LATENCY}_bucket{{{predict}}}[{window}]))")}
    return ServerView(ok, statuses, _quantiles_ms(buckets), None)
