"""The metrics the stand-in records, exported in TF Serving's Prometheus layout.

- Names, labels, kinds and buckets as declared upstream: `servables/tensorflow/util.cc`
  (request_count, request_latency, runtime_latency, request_example_counts/_count_total),
  `servables/tensorflow/saved_model_warmup_util.cc` (model_warmup_latency, model_warmup_records_read),
  TensorFlow's `cc/saved_model/loader.cc` (load_attempt_count{model_path,status="success"|"fail"},
  load_latency) and `core/common_runtime/direct_session.cc` (graph_runs, graph_run_time_usecs).
- Layout from `util/prometheus_exporter.cc`: metrics in name order, each with a `# TYPE` line even
  when it has no sample yet, no HELP lines; the TF path becomes the name with every character
  outside [a-zA-Z0-9_] replaced by `:`; histograms as cumulative `_bucket{...,le=}` lines (limits
  printed like absl::StrCat(double), the last one `+Inf`), `_sum`, `_count`; label values with `\\`
  and `"` escaped.
- Buckets: monitoring::Buckets::Exponential(scale, growth, count) plus DBL_MAX; a value lands in the
  first bucket whose limit is greater than it (tsl Histogram::Add, upper_bound).
"""

from __future__ import annotations

import bisect
import re
import sys
import threading
from dataclasses import dataclass, field


def exponential(scale: float, growth: float, count: int) -> list[float]:
    limits, bound = [], scale
    for _ in range(count):
        limits.append(bound)
        bound *= growth
    return limits + [sys.float_info.max]


def str_cat(value: float) -> str:
    """absl::StrCat(double): six significant digits, %g style."""
    text = f"{value:.6g}"
    return text


@dataclass
class Metric:
    path: str
    labels: tuple[str, ...]
    kind: str  # counter | histogram
    buckets: list[float] = field(default_factory=list)
    cells: dict[tuple[str, ...], list] = field(default_factory=dict)

    @property
    def exported_name(self) -> str:
        name = re.sub(r"[^a-zA-Z0-9_]", ":", self.path)
        return "_" + name if name[:1].isdigit() else name


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, Metric] = {}

    def counter(self, path: str, *labels: str) -> Metric:
        return self._metrics.setdefault(path, Metric(path, labels, "counter"))

    def sampler(self, path: str, buckets: list[float], *labels: str) -> Metric:
        return self._metrics.setdefault(path, Metric(path, labels, "histogram", buckets))

    def increment(self, metric: Metric, *label_values: str, by: int = 1) -> None:
        with self._lock:
            cell = metric.cells.setdefault(tuple(label_values), [0])
            cell[0] += by

    def add(self, metric: Metric, value: float, *label_values: str) -> None:
        with self._lock:
            cell = metric.cells.setdefault(tuple(label_values), [[0] * len(metric.buckets), 0.0])
            cell[0][bisect.bisect_right(metric.buckets, value)] += 1
            cell[1] += value

    def value(self, path: str, *label_values: str) -> float:
        """A counter's value or a histogram's count (0 when absent): for tests and the load tools."""
        with self._lock:
            cell = self._metrics[path].cells.get(tuple(label_values))
            if cell is None:
                return 0
            return cell[0] if self._metrics[path].kind == "counter" else sum(cell[0])

    def first_value(self, path: str) -> int:
        """The int64 value of a metric's first point, 0 without one (ModelServiceImpl::GetMetrics)."""
        with self._lock:
            metric = self._metrics.get(path)
            if metric is None or metric.kind != "counter" or not metric.cells:
                return 0
            return metric.cells[min(metric.cells)][0]

    def exposition(self) -> str:
        lines: list[str] = []
        with self._lock:
            for path in sorted(self._metrics):
                metric = self._metrics[path]
                name = metric.exported_name
                lines.append(f"# TYPE {name} {metric.kind}")
                for values in sorted(metric.cells):
                    labels = [f'{_label_name(k)}="{_label_value(v)}"' for k, v in zip(metric.labels, values, strict=True)]
                    joined = ",".join(labels)
                    if metric.kind == "counter":
                        lines.append(f"{name}{{{joined}}} {metric.cells[values][0]}")
                        continue
                    buckets, total = metric.cells[values]
                    prefix = f"{name}_bucket{{{joined}{',' if labels else ''}"
                    cumulative = 0
                    for i, count in enumerate(buckets):
                        cumulative += count
                        bound = str_cat(metric.buckets[i]) if i < len(buckets) - 1 else "+Inf"
                        lines.append(f'{prefix}le="{bound}"}} {cumulative}')
                    lines.append(f"{name}_sum{{{joined}}} {str_cat(total)}")
                    lines.append(f"{name}_count{{{joined}}} {cumulative}")
        return "\n".join(lines) + "\n"


def _label_name(name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9]", "_", name)
    return "_" + name if name[:1].isdigit() else name


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


#: One registry per process, like TensorFlow's CollectionRegistry::Default().
REGISTRY = Registry()
LATENCY_BUCKETS = exponential(10, 1.8, 33)
LOAD_ATTEMPT_COUNT = REGISTRY.counter("/tensorflow/cc/saved_model/load_attempt_count", "model_path", "status")
LOAD_LATENCY = REGISTRY.counter("/tensorflow/cc/saved_model/load_latency", "model_path")
GRAPH_RUNS = REGISTRY.counter("/tensorflow/core/graph_runs")
GRAPH_RUN_TIME_USECS = REGISTRY.counter("/tensorflow/core/graph_run_time_usecs")
MODEL_WARMUP_LATENCY = REGISTRY.sampler("/tensorflow/serving/model_warmup_latency", LATENCY_BUCKETS, "model_path", "status")
MODEL_WARMUP_RECORDS_READ = REGISTRY.counter("/tensorflow/serving/model_warmup_records_read", "model_path", "status")
REQUEST_COUNT = REGISTRY.counter("/tensorflow/serving/request_count", "model_name", "status")
REQUEST_LATENCY = REGISTRY.sampler("/tensorflow/serving/request_latency", LATENCY_BUCKETS, "model_name", "API", "entrypoint")
RUNTIME_LATENCY = REGISTRY.sampler("/tensorflow/serving/runtime_latency", LATENCY_BUCKETS, "model_name", "API", "runtime")
REQUEST_EXAMPLE_COUNTS = REGISTRY.sampler("/tensorflow/serving/request_example_counts", exponential(1, 2, 15), "model")
REQUEST_EXAMPLE_COUNT_TOTAL = REGISTRY.counter("/tensorflow/serving/request_example_count_total", "model")


def record_request(model_name: str, status_code: str, api: str, entrypoint: str, latency_us: float) -> None:
    """RecordRequestLatency (OK only) then RecordModelRequestCount, as http_server.cc and
    prediction_service_impl.cc do."""
    if status_code == "OK":
        REGISTRY.add(REQUEST_LATENCY, latency_us, model_name, api, entrypoint)
    REGISTRY.increment(REQUEST_COUNT, model_name, status_code)
