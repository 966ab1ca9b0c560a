"""Locust users, options, load shape and run bookkeeping for TF Serving (imported by loadtests/).

- `RestUser` (FastHttpUser): `POST /v1/models/NAME[/versions/N|/labels/L]:predict`, on one keep-alive
  connection, or on connections it ends and opens again (--rest-connection-max-requests/-age, connections.py).
- `GrpcUser`: PredictionService/Predict through tensorflow-serving-api's stub; grpc runs on gevent
  (`grpc.experimental.gevent.init_gevent()`) and an interceptor fires Locust's request event.
- `TfServingShape`: the `--load-profile` (constant, step, spike, soak, autoscale, capacity) as an open-model
  arrival rate (see pacing.py); `-u` is the most requests in flight. With `--rate 0` users are closed loops.
- The measured window: warm-up (`--warmup` seconds) runs first and is excluded; when it ends every
  process resets Locust's stats and counts from then on, and the server-side metrics are read; when
  the load stops every process stops sending, lets its requests in flight finish (--stop-timeout) and
  sends its final part. In distributed mode the master sends the rate to each worker, opens and
  closes the window for all with custom messages, and merges their parts (window.py): requests per
  second, CPU, arrival lag and dropped arrivals per worker.
- When the load stopped (`test_stop`, master or the only process): thresholds, the autoscaling verdicts
  and the capacity recommendation, the report files, and `environment.process_exit_code` = 1 on any
  failed verdict (2 for a payload error).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import grpc
import grpc.experimental.gevent as grpc_gevent

grpc_gevent.init_gevent()  # before any channel exists: grpc's I/O must yield to gevent

import gevent  # noqa: E402
import gevent.lock  # noqa: E402
import psutil  # noqa: E402
from locust import FastHttpUser, LoadTestShape, User, constant, events, task  # noqa: E402
from locust import stats as locust_stats  # noqa: E402
from locust.exception import RPCError  # noqa: E402
from locust.runners import MasterRunner, WorkerRunner  # noqa: E402

from ..demo_model import MODEL_NAME, SIGNATURE  # noqa: E402
from . import capacity as capacity_mode  # noqa: E402
from . import payloads, protos, report, server_metrics, shapes, verifier, window  # noqa: E402
from .connections import ConnectionLimits  # noqa: E402
from .pacing import Pacer  # noqa: E402
from .thresholds import Thresholds, Verdict  # noqa: E402

log = logging.getLogger("tfserving")
DEFAULT_REST = "http://127.0.0.1:8501"
DEFAULT_GRPC_PORT = 8500
# How long the master waits past --stop-timeout for a worker's last part of the window (and a capacity
# step for every worker's seconds) before it reports without them: message latency on a busy machine.
FINAL_REPORT_GRACE = 10.0


def _early_options() -> argparse.Namespace:
    """--report-dir and --worker, read before the full parse: Locust creates its CSV writer before the
    init event, so the report directory (which holds Locust's CSV and HTML too) must be known first."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--report-dir", default=os.environ.get("TFS_REPORT_DIR"))
    early.add_argument("--worker", action="store_true", default=os.environ.get("LOCUST_MODE_WORKER", "").lower() in ("1", "true"))
    known, _ = early.parse_known_args(sys.argv[1:])
    known.report_dir = known.report_dir or f"reports/load-{datetime.now():%Y%m%d-%H%M%S}"
    return known


@events.init_command_line_parser.add_listener
def add_options(parser) -> None:
    def opt(flag: str, env: str, **kwargs) -> None:
        parser.add_argument(flag, env_var=env, **kwargs)

    early = _early_options()
    report_dir = early.report_dir
    opt("--model", "TFS_MODEL", default=MODEL_NAME, help="Model name (the chart's default model is half_plus_two)")
    opt("--model-version", "TFS_MODEL_VERSION", default="", help="Version to call (/versions/N); empty: the server's default")
    opt("--model-label", "TFS_MODEL_LABEL", default="", help="Version label to call (/labels/L)")
    opt("--signature", "TFS_SIGNATURE", default=SIGNATURE, help="Signature name")
    opt("--batch-size", "TFS_BATCH_SIZE", type=int, default=1, help="Rows per request (the -1 dimensions of generated inputs)")
    opt("--payload-file", "TFS_PAYLOAD_FILE", default="", help="REST JSON (instances/inputs) or PredictRequest .pbtxt; empty: generate from metadata")
    opt("--grpc-target", "TFS_GRPC_TARGET", default="", help="host:port for GrpcUser; empty: the --host name on port 8500")
    opt("--request-timeout", "TFS_REQUEST_TIMEOUT", type=float, default=30.0, help="gRPC deadline, seconds")
    opt("--rest-connection-max-requests", "TFS_REST_CONNECTION_MAX_REQUESTS", type=int, default=0,
        help="RestUser: end each keep-alive connection with its Nth request (Connection: close) and connect again; 0: never")
    opt("--rest-connection-max-age", "TFS_REST_CONNECTION_MAX_AGE", type=float, default=0.0,
        help="RestUser: end each keep-alive connection with the first request sent this many seconds after it opened; 0: never")
    opt("--rate", "TFS_RATE", type=float, default=0.0, help="Open-model arrival rate, requests/s over all workers; 0: closed loop")
    opt("--warmup", "TFS_WARMUP", type=float, default=10.0, help="Seconds of warm-up excluded from every statistic")
    opt("--load-profile", "TFS_LOAD_PROFILE", default="constant", choices=["constant", "step", "spike", "soak", "autoscale", "capacity"],
        help="Load profile: arrival rates over time (see tfserving_harness.load.shapes)")
    opt("--step-rates", "TFS_STEP_RATES", default="", help="step: comma-separated rates")
    opt("--step-seconds", "TFS_STEP_SECONDS", type=float, default=60.0, help="step: seconds per rate")
    opt("--spike-rate", "TFS_SPIKE_RATE", type=float, default=0.0, help="spike: peak rate (base is --rate)")
    opt("--spike-seconds", "TFS_SPIKE_SECONDS", type=float, default=30.0, help="spike: seconds at the peak")
    opt("--spike-base-seconds", "TFS_SPIKE_BASE_SECONDS", type=float, default=60.0, help="spike: seconds at --rate before and after")
    opt("--soak-seconds", "TFS_SOAK_SECONDS", type=float, default=3600.0, help="soak: seconds at --rate")
    opt("--target-per-pod", "TFS_TARGET_PER_POD", type=float, default=50.0,
        help="autoscale: the HPA's requests/s per pod (autoscaling.requestsPerSecond.averageValue)")
    opt("--low-rate", "TFS_LOW_RATE", type=float, default=0.0,
        help="autoscale: requests/s of the low phase and after the drop; 0: half --target-per-pod per minReplicas pod")
    opt("--high-rate", "TFS_HIGH_RATE", type=float, default=0.0,
        help="autoscale: requests/s of the high phase; 0: (--expect-replicas - 0.5) x --target-per-pod")
    opt("--min-replicas", "TFS_MIN_REPLICAS", type=int, default=0, help="autoscale: minReplicas; 0: read from the HPA")
    opt("--expect-replicas", "TFS_EXPECT_REPLICAS", type=int, default=3, help="autoscale: replicas the high phase must reach")
    opt("--low-seconds", "TFS_LOW_SECONDS", type=float, default=180.0, help="autoscale: seconds of the low phase (must not scale)")
    opt("--hold-seconds", "TFS_HOLD_SECONDS", type=float, default=420.0, help="autoscale: seconds of the high phase")
    opt("--observe-seconds", "TFS_OBSERVE_SECONDS", type=float, default=1200.0, help="autoscale: seconds after the drop (scale-in)")
    opt("--capacity-start", "TFS_CAPACITY_START", type=float, default=10.0, help="capacity: first rate")
    opt("--capacity-factor", "TFS_CAPACITY_FACTOR", type=float, default=1.5, help="capacity: next rate = rate x factor")
    opt("--capacity-increment", "TFS_CAPACITY_INCREMENT", type=float, default=0.0, help="capacity: next rate = rate + increment (wins over factor)")
    opt("--capacity-step-seconds", "TFS_CAPACITY_STEP_SECONDS", type=float, default=30.0, help="capacity: seconds per step (first quarter settles)")
    opt("--capacity-max-rate", "TFS_CAPACITY_MAX_RATE", type=float, default=5000.0, help="capacity: highest rate tried")
    opt("--capacity-error-limit", "TFS_CAPACITY_ERROR_LIMIT", type=float, default=0.01, help="capacity: highest failure ratio of a passing step")
    opt("--slo-p99-ms", "TFS_SLO_P99_MS", type=float, default=200.0, help="capacity: p99 latency SLO, ms")
    opt("--replicas", "TFS_REPLICAS", type=int, default=1, help="capacity: replicas serving during the test")
    opt("--headroom", "TFS_HEADROOM", type=float, default=0.3, help="capacity: fraction kept free in the per-pod target")
    opt("--base-rate", "TFS_BASE_RATE", type=float, default=0.0, help="capacity: everyday rate, for minReplicas")
    opt("--peak-rate", "TFS_PEAK_RATE", type=float, default=0.0, help="capacity: peak rate, for maxReplicas")
    opt("--max-fail-ratio", "TFS_MAX_FAIL_RATIO", type=float, default=None, help="Threshold: highest failure ratio")
    opt("--max-p50-ms", "TFS_MAX_P50_MS", type=float, default=None, help="Threshold: highest p50, ms")
    opt("--max-p95-ms", "TFS_MAX_P95_MS", type=float, default=None, help="Threshold: highest p95, ms")
    opt("--max-p99-ms", "TFS_MAX_P99_MS", type=float, default=None, help="Threshold: highest p99, ms")
    opt("--min-rps", "TFS_MIN_RPS", type=float, default=None, help="Threshold: lowest achieved requests/s")
    opt("--metrics-url", "TFS_METRICS_URL", default="auto",
        help="TF Serving metrics URL; auto: HOST/monitoring/prometheus/metrics; none: off")
    opt("--prometheus-url", "TFS_PROMETHEUS_URL", default="", help="Read the server-side view from Prometheus instead")
    opt("--prometheus-selector", "TFS_PROMETHEUS_SELECTOR", default="", help='Extra matchers, e.g. namespace="ml",app_kubernetes_io_instance="my-model"')
    opt("--kube-namespace", "TFS_KUBE_NAMESPACE", default="", help="Record/verify scaling of this namespace's release (with --release)")
    opt("--release", "TFS_RELEASE", default="", help="Helm release name")
    opt("--track", "TFS_TRACK", default="main", help="Release track (tf-serving.io/track label)")
    opt("--kubeconfig", "KUBECONFIG", default=None, help="kubeconfig for the recorder")
    opt("--kube-context", "TFS_KUBE_CONTEXT", default=None, help="kubeconfig context")
    opt("--kube-interval", "TFS_KUBE_INTERVAL", type=float, default=5.0, help="Seconds between Deployment/HPA samples")
    opt("--scrape-interval", "TFS_SCRAPE_INTERVAL", type=float, default=30.0, help="Timing model: Prometheus scrape interval, s")
    opt("--rate-window", "TFS_RATE_WINDOW", type=float, default=120.0, help="Timing model: adapter rate window, s (prometheusAdapter.rateWindow)")
    opt("--adapter-interval", "TFS_ADAPTER_INTERVAL", type=float, default=30.0, help="Timing model: adapter/KEDA polling, s")
    opt("--pod-start-seconds", "TFS_POD_START_SECONDS", type=float, default=120.0, help="Timing model: image pull + model load + startup probe, s")
    opt("--report-title", "TFS_REPORT_TITLE", default="", help="Title of the plots and report.html; empty: model, host and profile")
    opt("--report-dir", "TFS_REPORT_DIR", default=report_dir, help="Directory for every report file (Locust's CSV/HTML too)")
    if not early.worker:  # a worker's own stats are partial reports to the master: the master writes the files
        parser.set_defaults(csv_prefix=f"{report_dir}/locust", html_file=f"{report_dir}/locust.html", stats_history_enabled=True)


class Prepared:
    """Signature and payload of this process, fetched once by the first user."""

    def __init__(self):
        self.lock = gevent.lock.Semaphore()
        self.signature: payloads.Signature | None = None
        self.payload: payloads.Payload | None = None
        self.error: str | None = None


@dataclass
class CapacityStep:
    """A capacity step as the shape ran it (shape seconds); judged once every process reported its seconds."""

    index: int
    rate: float
    settle_at: float
    end: float | None = None
    verdict: capacity_mode.StepVerdict | None = None


class Run:
    """Per-process state of a run. Every process paces its users and records its part of the measured
    window (window.py); the master (or the only process) also runs the shape, opens and closes the
    window for all, merges their parts and writes the report."""

    def __init__(self, environment):
        self.env = environment
        self.options = environment.parsed_options
        self.pacer = Pacer()
        self.prepared = Prepared()
        self.in_flight = 0  # requests sent and not yet answered, in this process
        self.process = psutil.Process()
        # This process's part of the window; `final` once it was sent for the last time.
        self.part: window.ProcessPart | None = None
        self.part_final = False
        self.cpu_mark: tuple[float, float] | None = None  # (wall clock, CPU seconds) of the last CPU sample
        self.send_lock = gevent.lock.Semaphore()
        # Master (or the only process): the window of every process, the shape, the verdicts.
        self.window = window.Window()
        self.measure_start: float | None = None  # monotonic, when the window opened
        self.measure_end: float | None = None
        self.master_cpu_start: float | None = None
        self.master_cpu_seconds = 0.0
        self.window_shape_t = 0.0  # shape time at which the window opened
        self.window_errors: list[str] = []
        self.points: list[report.Point] = []
        self.metrics_before = None
        self.metrics_error = ""
        self.recorder: verifier.Recorder | None = None
        self.recorder_error = ""
        self.shape_start: float | None = None
        self.shape_start_unix = 0.0  # time.time() at shape_start: the phases in the report, on the clock of other records
        self.phases: list[shapes.Phase] = []
        self.capacity_steps: list[CapacityStep] = []
        self.capacity_verdicts: list[capacity_mode.StepVerdict] = []
        self.greenlets: list = []

    # --- paths and endpoints ---
    @property
    def host(self) -> str:
        return (self.env.host or DEFAULT_REST).rstrip("/")

    def model_path(self) -> str:
        o = self.options
        suffix = f"/versions/{o.model_version}" if o.model_version else (f"/labels/{o.model_label}" if o.model_label else "")
        return f"/v1/models/{o.model}{suffix}"

    def grpc_target(self) -> str:
        if self.options.grpc_target:
            return self.options.grpc_target
        from urllib.parse import urlparse

        return f"{urlparse(self.host).hostname or '127.0.0.1'}:{DEFAULT_GRPC_PORT}"

    @property
    def report_dir(self) -> Path:
        return Path(self.options.report_dir)

    # --- payload, once per process ---
    def prepare(self, fetch_signature) -> bool:
        """Fetch the signature (through the calling user's protocol) and build the payload; False on error."""
        prepared = self.prepared
        with prepared.lock:
            if prepared.payload is not None or prepared.error is not None:
                return prepared.error is None
            o = self.options
            try:
                try:
                    prepared.signature = fetch_signature()
                except payloads.PayloadError:
                    raise
                except Exception as error:  # the server's answer decides; without a file nothing can be sent
                    if not o.payload_file:
                        raise payloads.PayloadError(f"cannot read the metadata of model {o.model!r}: {error}") from None
                    log.warning("no metadata (%s): responses are checked for status only", error)
                if o.payload_file:
                    prepared.payload = payloads.load_file(o.payload_file, prepared.signature, o.signature)
                else:
                    prepared.payload = payloads.generate(prepared.signature, o.batch_size)
                log.info("payload: %s, batch %s, %d bytes as JSON", sorted(prepared.payload.tensors), prepared.payload.batch_size,
                         len(prepared.payload.rest_body))
            except payloads.PayloadError as error:
                prepared.error = str(error)
                if isinstance(self.env.runner, WorkerRunner):
                    self.env.runner.send_message("tfs_payload_error", prepared.error)  # the master reports and stops the run
                else:
                    self.payload_failed(prepared.error)
                return False
        return True

    def payload_failed(self, error: str) -> None:
        """Master (or the only process): no request can be built; stop the run with exit code 2."""
        if self.env.process_exit_code == 2:
            return
        self.prepared.error = error
        log.error("payload error, stopping the test: %s", error)
        self.env.process_exit_code = 2
        gevent.spawn_later(0.1, self.env.runner.quit)

    # --- rate, and the window's bounds (master/local) ---
    @property
    def distributed(self) -> bool:
        return isinstance(self.env.runner, MasterRunner)

    def apply_rate(self, rate: float) -> None:
        """The arrival rate, split evenly over the workers that run users (a worker without users sends nothing)."""
        runner = self.env.runner
        if not self.distributed:
            runner.send_message("tfs_rate", rate)
            return
        workers = runner.clients.ready + runner.clients.spawning + runner.clients.running
        loaded = [w.id for w in workers if w.user_count > 0] or [w.id for w in workers]
        for worker in workers:
            runner.send_message("tfs_rate", rate / len(loaded) if worker.id in loaded else 0.0, client_id=worker.id)

    def begin_measurement(self, shape_t: float) -> None:
        """The warm-up is over: every process resets Locust's stats and its counts and records from now on."""
        if self.measure_start is not None:
            return
        origin = time.time()
        self.measure_start, self.window_shape_t = time.monotonic(), shape_t
        self.env.runner.send_message("tfs_measure", origin)  # the only process: runs open_window at once
        if self.distributed:
            # The master's stats hold nothing yet (workers send none of their warm-up); Locust's table
            # divides by the time since they started, which is now the window's start.
            self.env.runner.stats.total.start_time = origin
            self.master_cpu_start = _cpu_seconds(self.process)
        self.metrics_before = self.read_metrics()
        log.info("warm-up done: measuring from now")

    def end_measurement(self) -> None:
        """The load stops: the window ends now. Every process closes its pacer, gives the requests in flight
        --stop-timeout to finish and sends its final part; the master waits for each worker's."""
        if self.measure_end is not None or self.measure_start is None:
            return
        self.measure_end = time.monotonic()
        runner = self.env.runner
        runner.send_message("tfs_stop")
        if not self.distributed:
            return
        if self.master_cpu_start is not None:
            self.master_cpu_seconds = _cpu_seconds(self.process) - self.master_cpu_start
        workers = {c.id for c in runner.clients.ready + runner.clients.spawning + runner.clients.running}
        for process, state in self.window.processes.items():
            if process not in workers:
                self.window_errors.append(
                    f"{state.label} was lost during the run: its part of the window ends with its last report (second "
                    f"{state.through + 1} of the window) and its share of the rate went to the other workers")
        deadline = self.measure_end + (self.env.stop_timeout or 0) + FINAL_REPORT_GRACE
        next_note = self.measure_end + 5
        while True:
            waiting = sorted(w for w in workers if not (w in self.window.processes and self.window.processes[w].final))
            now = time.monotonic()
            if not waiting:
                return
            if now > deadline:
                missing = ", ".join(self.process_label(w) for w in waiting)
                self.window_errors.append(f"no final report from {missing} within {deadline - self.measure_end:.0f} s of the end: "
                                          "the window lacks what it did after its last report")
                log.warning(self.window_errors[-1])
                return
            if now > next_note:
                log.info("waiting for the final report of %d of %d workers (%.0f s so far)", len(waiting), len(workers),
                         now - self.measure_end)
                next_note += 5
            gevent.sleep(0.05)

    def process_label(self, process: str) -> str:
        runner = self.env.runner
        if not self.distributed:
            return "the Locust process"
        return f"worker {runner.get_worker_index(process)} ({process.rsplit('_', 1)[0]})"

    # --- this process's part of the window (every process) ---
    def open_window(self, origin: float) -> None:
        if self.part is not None:
            return
        self.env.runner.stats.reset_all()
        self.pacer.reset_counts()
        self.part = window.ProcessPart(origin)
        self.cpu_mark = (time.time(), _cpu_seconds(self.process))
        gevent.spawn(self.report_loop)

    def on_request(self, response_time: float | None, exception) -> None:
        if self.part is not None and not self.part_final:
            self.part.record(response_time, exception is not None)

    def report_loop(self) -> None:
        while True:
            gevent.sleep(1.0)
            if self.part_final:
                return
            self.send_part()

    def send_part(self, *, final: bool = False, locust_stats: dict | None = None) -> None:
        """This process's CPU since the last call and its new seconds, to the master (or to itself)."""
        with self.send_lock:  # one part at a time, so the final part is the last one the master gets
            self._send_part(final, locust_stats)

    def _send_part(self, final: bool, locust_stats: dict | None) -> None:
        now, used = time.time(), _cpu_seconds(self.process)
        since, used_before = self.cpu_mark
        self.part.add_cpu(used - used_before, since, now)
        self.cpu_mark = (now, used)
        pacer = self.pacer
        message = self.part.report(lag_us=pacer.lag_us, arrivals=pacer.arrivals, dropped=pacer.dropped, final=final)
        if locust_stats is not None:
            message["locust"] = locust_stats
        try:
            self.env.runner.send_message("tfs_window", message)
        except RPCError as error:  # the master is unreachable for now (Locust retries the connection)
            self.part.unsent(message)
            log.warning("cannot send this worker's part of the window to the master, it goes with the next one: %s", error)

    def close_window(self) -> None:
        self.pacer.close()
        if self.part is None:  # stopped during the warm-up: an empty part, so the master need not wait
            self.open_window(time.time())
        deadline = time.monotonic() + (self.env.stop_timeout or 0)
        while self.in_flight > 0 and time.monotonic() < deadline:
            gevent.sleep(0.05)
        locust_stats = None
        if isinstance(self.env.runner, WorkerRunner):
            # Locust's own last stats of this worker, in the final part: the master waits for that one,
            # while Locust's final report at quit gets half a second (MasterRunner.quit).
            locust_stats = {}
            self.env.events.report_to_master.fire(client_id=self.env.runner.client_id, data=locust_stats)
        self.part_final = True
        self.send_part(final=True, locust_stats=locust_stats)
        if isinstance(self.env.runner, WorkerRunner):
            self.env.tfserving = Run(self.env)  # for the next run (web UI); Locust's reports stay blank until it opens

    def on_report_to_master(self, data: dict, **_kwargs) -> None:
        """A worker reports only the measured window: nothing of its warm-up (so no report in flight when the
        window opens can carry warm-up requests into the master's stats), nothing after its final part.
        Runs after Locust's own report_to_master listener (registered with the runner, before init)."""
        if self.part is None or self.part_final:
            data["stats"], data["errors"] = [], {}
            data["stats_total"] = locust_stats.StatsEntry(self.env.runner.stats, "Aggregated", "").serialize()

    def on_window_message(self, msg, **_kwargs) -> None:
        """Master (or the only process): a process's part of the window; a worker's final one carries Locust's
        last stats of that worker, merged the way Locust merges its periodic reports."""
        data = dict(msg.data)
        stats = data.pop("locust", None)
        if stats is not None:
            self.env.events.worker_report.fire(client_id=msg.node_id, data=stats)
        self.window.merge(msg.node_id, self.process_label(msg.node_id), data)

    def metrics_url(self) -> str | None:
        url = self.options.metrics_url
        if url in ("", "none"):
            return None
        return f"{self.host}/monitoring/prometheus/metrics" if url == "auto" else url

    def read_metrics(self):
        url = self.metrics_url()
        if url is None or self.options.prometheus_url:
            return None
        try:
            return server_metrics.scrape(url)
        except Exception as error:  # noqa: BLE001 - the client-side numbers stand on their own
            self.metrics_error = f"{url}: {error}"
            return None

    # --- the timeline (master/local, at the end) ---
    def timeline(self, seconds: float) -> list[report.Point]:
        """One point per second of the window (a last part-second of at least half counts as one), from every
        process's requests of that second."""
        samples = self.recorder.samples if self.recorder else []
        points = []
        for k in range(round(seconds)):
            second = self.window.seconds.get(k, window.Second())
            located = shapes.locate(self.phases, self.window_shape_t + k + 0.5) if self.phases else None
            at = self.measure_start + k + 1
            latest = next((s for s in reversed(samples) if self.recorder.start + s.t <= at), None)
            points.append(report.Point(
                t=k + 1, phase=located.phase.name if located else "after the profile", requested_rps=(located.phase.rate or None) if located else None,
                achieved_rps=second.requests, failures_per_s=second.failures, p50_ms=second.percentile(0.5),
                p95_ms=second.percentile(0.95), p99_ms=second.percentile(0.99), generator_cpu=self.window.worst_cpu(k),
                desired_replicas=latest.hpa_desired if latest else None, ready_replicas=latest.ready_replicas if latest else None))
        return points

    def record_loop(self) -> None:
        while True:
            try:
                self.recorder.sample()
            except Exception as error:  # noqa: BLE001 - keep recording through API hiccups, report the last one
                self.recorder_error = str(error)
            gevent.sleep(self.options.kube_interval)

    def start_recorder(self) -> None:
        o = self.options
        if not (o.kube_namespace and o.release):
            return
        try:
            self.recorder = verifier.Recorder(namespace=o.kube_namespace, release=o.release, track=o.track,
                                              kubeconfig=o.kubeconfig, context=o.kube_context)
        except Exception as error:  # noqa: BLE001 - reported as a failed verdict at the end
            self.recorder_error = f"cannot record the release: {error}"
            log.error(self.recorder_error)
            return
        self.greenlets.append(gevent.spawn(self.record_loop))

    # --- profile ---
    def build_phases(self) -> list[shapes.Phase]:
        o = self.options
        warmup = shapes.Phase("warmup", o.warmup, o.rate)
        if o.load_profile == "constant":
            # Locust starts its --run-time timer only after a shape ends, so the shape ends itself.
            seconds = max(o.run_time - o.warmup, 0.0) if o.run_time else math.inf
            return [warmup, shapes.Phase("constant", seconds, o.rate)]
        if o.load_profile == "step":
            rates = [float(r) for r in o.step_rates.split(",") if r.strip()]
            if not rates:
                raise ValueError("--load-profile step needs --step-rates, e.g. 10,20,40")
            return [shapes.Phase("warmup", o.warmup, rates[0])] + shapes.step(rates, o.step_seconds)
        if o.load_profile == "spike":
            return [warmup] + shapes.spike(o.rate, o.spike_rate, o.spike_base_seconds, o.spike_seconds)
        if o.load_profile == "soak":
            return [warmup] + shapes.soak(o.rate, o.soak_seconds)
        if o.load_profile == "capacity":
            steps = shapes.capacity(o.capacity_start, o.capacity_factor, o.capacity_step_seconds, o.capacity_max_rate, o.capacity_increment)
            return [shapes.Phase("warmup", o.warmup, steps[0].rate)] + steps
        min_replicas = o.min_replicas or (self.recorder.hpa_spec()[0] if self.recorder else 2)
        low, high = shapes.autoscale_rates(o.target_per_pod, min_replicas, o.expect_replicas)
        low, high = o.low_rate or low, o.high_rate or high
        if high <= low:
            raise ValueError(f"autoscale: the high phase's rate ({high:g} req/s, --high-rate) must exceed the low one's "
                             f"({low:g} req/s, --low-rate)")
        if self.recorder is not None:
            model = self.timing_model()
            log.info("%s", model.describe())
            if o.hold_seconds < model.scale_out_ready_by or o.observe_seconds < model.scale_in_by:
                log.warning("--hold-seconds %g / --observe-seconds %g are shorter than the timing model's bounds (%g s / %g s): "
                            "the verdicts will say the run ended too early", o.hold_seconds, o.observe_seconds,
                            model.scale_out_ready_by, model.scale_in_by)
        return shapes.autoscale(warmup_seconds=o.warmup, low_rate=low, low_seconds=o.low_seconds, high_rate=high,
                                hold_seconds=o.hold_seconds, observe_seconds=o.observe_seconds)

    def capacity_tick(self, located: shapes.Located | None, t: float) -> bool:
        """Capacity bookkeeping at each shape tick; False once a step broke the SLO (stop the test)."""
        current = self.capacity_steps[-1] if self.capacity_steps else None
        if current is not None and current.end is None and (located is None or located.index != current.index):
            current.end = t
        if located is not None and located.phase.name.startswith("capacity") and (current is None or located.index != current.index):
            self.capacity_steps.append(CapacityStep(located.index, located.phase.rate, settle_at=t + located.phase.seconds / 4))
        if not self.distributed and self.part is not None:
            self.send_part()  # this process's seconds up to now, so a step that just ended can be judged now
        self.judge_capacity_steps()
        if any(not v.ok for v in self.capacity_verdicts):
            return False
        return located is not None

    def judge_capacity_steps(self, *, final: bool = False) -> None:
        """Judge each ended step, in order, once every process has reported its seconds (or after a grace period)."""
        for step in self.capacity_steps:
            if step.verdict is not None or step.end is None:
                continue
            # The window's seconds whose middle falls between the step's settling and its end.
            seconds = [k for k in range(math.floor(step.end - self.window_shape_t) + 1)
                       if step.settle_at <= self.window_shape_t + k + 0.5 < step.end]
            late = time.monotonic() - (self.shape_start + step.end) > FINAL_REPORT_GRACE
            if not (final or late or (seconds and self.window.through() >= seconds[-1])):
                return
            span = self.window.span(seconds[0], seconds[-1]) if seconds else window.Second()
            measured = capacity_mode.Step(step.rate, float(len(seconds)), failures=span.failures,
                                          latencies_ms=[float(ms) for ms, n in sorted(span.response_times.items()) for _ in range(n)])
            step.verdict = capacity_mode.judge(measured, self.slo())
            self.capacity_verdicts.append(step.verdict)
            v = step.verdict
            log.info("capacity step %g req/s: achieved %.1f, p99 %s ms, errors %.2f%%: %s", v.requested, v.achieved, v.p99_ms,
                     v.error_ratio * 100, v.reason)
            if not v.ok:
                return

    def slo(self) -> capacity_mode.Slo:
        return capacity_mode.Slo(self.options.slo_p99_ms, self.options.capacity_error_limit)

    # --- the end (master/local) ---
    def finish(self) -> None:
        o = self.options
        runner = self.env.runner
        for greenlet in self.greenlets:
            greenlet.kill(block=False)
        end = self.measure_end or time.monotonic()
        if o.csv_prefix:
            # Locust's CSV writer rewrites its files once a CSV_STATS_INTERVAL_SEC; one more round
            # after the users stopped puts the final totals there, the same ones summary.json holds.
            gevent.sleep(locust_stats.CSV_STATS_INTERVAL_SEC + 0.2)
        seconds = end - self.measure_start if self.measure_start else 0.0
        if o.load_profile == "capacity":
            self.judge_capacity_steps(final=True)
        self.points = self.timeline(seconds) if self.measure_start else []
        stats = runner.stats.total
        achieved = stats.num_requests / seconds if seconds else 0.0
        percentiles = {f"p{int(q * 100)}": (float(stats.get_response_time_percentile(q)) if stats.num_requests else None)
                       for q in (0.5, 0.95, 0.99)}
        verdicts: list[Verdict] = Thresholds(o.max_fail_ratio, o.max_p50_ms, o.max_p95_ms, o.max_p99_ms, o.min_rps).check(
            requests=stats.num_requests, failures=stats.num_failures, percentiles_ms=percentiles, achieved_rps=achieved)
        if self.prepared.error:
            verdicts.append(Verdict("payload", False, "a request built from the signature or --payload-file", self.prepared.error))
        summary: dict = {
            "title": o.report_title or f"TF Serving load test: {o.model} at {self.host}, profile {o.load_profile}",
            "report_dir": str(self.report_dir), "profile": o.load_profile, "model": o.model, "host": self.host,
            "user_classes": sorted({type(u).__name__ for u in getattr(runner, "user_greenlets", [])} or
                                   [c.__name__ for c in self.env.user_classes]),
            "warmup_seconds_excluded": o.warmup, "measured_seconds": round(seconds, 2),
            "client": {"requests": stats.num_requests, "failures": stats.num_failures,
                       "failure_ratio": round(stats.fail_ratio, 5), "achieved_rps": round(achieved, 2),
                       "latency_ms": percentiles, "failures_by_reason": _failures_by_reason(runner.stats.errors.values())},
            "requested_rps_mean": _mean([p.requested_rps for p in self.points if p.requested_rps]),
            "phases": self.phases_run(end),
        }
        generator, warnings = self.window.self_check(seconds)
        if self.distributed:
            generator["master_cpu_percent_mean"] = round(100 * self.master_cpu_seconds / seconds, 1) if seconds else None
        summary["generator"] = generator
        warnings = self.window_errors + warnings
        summary["warnings"] = warnings
        summary["server"] = self.server_view(seconds)
        if o.load_profile == "capacity":
            rec = capacity_mode.recommend(self.capacity_verdicts, self.slo(), replicas=o.replicas, headroom=o.headroom,
                                          base_rate=o.base_rate, peak_rate=o.peak_rate)
            summary["capacity"] = {"steps": [v.__dict__ for v in self.capacity_verdicts], "recommendation": rec.__dict__}
            if rec.capacity_rps is None:
                verdicts.append(Verdict("capacity", False, f"a step meeting p99 <= {o.slo_p99_ms:g} ms", rec.sentence))
        if o.load_profile == "autoscale" or self.recorder is not None or self.recorder_error:
            verdicts.extend(self.autoscale_verdicts(summary))
        summary["verdicts"] = [{**v.as_dict(), "line": v.line()} for v in verdicts]
        self.write(summary)
        for warning in warnings:
            log.warning(warning)
        lines = [f"  {v.line()}" for v in verdicts] or ["  (no thresholds set)"]
        # Flushed: in a container stdout is a pipe, and the master lingers (--autoquit) with the report,
        # so an unflushed print would reach `kubectl logs` only when it exits and the report is gone.
        print("\n".join(["", "TF Serving verdicts:", *lines]), flush=True)
        if o.load_profile == "capacity":
            print(f"\n{summary['capacity']['recommendation']['sentence']}\n{summary['capacity']['recommendation']['values_yaml']}", flush=True)
        if any(not v.ok for v in verdicts) and not self.env.process_exit_code:
            self.env.process_exit_code = 1

    def phases_run(self, end: float) -> list[dict]:
        """The profile's phases that began before the load stopped (at monotonic `end`), each with its start
        and end in Unix seconds of this process's clock: to line the run up with Prometheus, pods and events."""
        if self.shape_start is None:
            return []
        stopped, start, phases = end - self.shape_start, 0.0, []
        for phase in self.phases:
            if start >= stopped:
                break
            phases.append({"name": phase.name, "rate": phase.rate, "start": round(self.shape_start_unix + start, 3),
                           "end": round(self.shape_start_unix + min(start + phase.seconds, stopped), 3)})
            start += phase.seconds
        return phases

    def server_view(self, seconds: float) -> dict:
        o = self.options
        try:
            if o.prometheus_url:
                return server_metrics.from_prometheus(o.prometheus_url, o.model, seconds, o.prometheus_selector).as_dict()
            after = self.read_metrics()
            if self.metrics_before is None or after is None:
                why = self.metrics_error or ("metrics off (--metrics-url none)" if self.metrics_url() is None
                                             else "the run ended before the warm-up did")
                return {"unavailable": why}
            return server_metrics.view(self.metrics_before, after, o.model).as_dict()
        except Exception as error:  # noqa: BLE001 - the client-side numbers stand on their own
            return {"unavailable": str(error)}

    def autoscale_verdicts(self, summary: dict) -> list[Verdict]:
        o = self.options
        if self.recorder is None:
            return [Verdict("autoscaling", False, "Deployment/HPA samples (--kube-namespace and --release)",
                            self.recorder_error or "no recorder: set --kube-namespace and --release")]
        self.recorder.write(self.report_dir)
        model = self.timing_model()
        print(model.describe(), flush=True)
        summary["timing_model"] = model.as_dict()
        if o.load_profile != "autoscale":
            return []
        starts = shapes.phase_starts(self.phases)
        offset = self.recorder.start - (self.shape_start or self.recorder.start)
        samples = [verifier.Sample(**{**s.__dict__, "t": s.t + offset}) for s in self.recorder.samples]
        return verifier.judge(samples, model, starts)

    def timing_model(self) -> verifier.TimingModel:
        o = self.options
        min_replicas, behavior = self.recorder.hpa_spec()
        return verifier.TimingModel(min_replicas=o.min_replicas or min_replicas, expect_replicas=o.expect_replicas,
                                    scrape_interval=o.scrape_interval, rate_window=o.rate_window, adapter_interval=o.adapter_interval,
                                    pod_start=o.pod_start_seconds, behavior=behavior, sample_interval=o.kube_interval)

    def write(self, summary: dict) -> None:
        directory = self.report_dir
        directory.mkdir(parents=True, exist_ok=True)
        report.write_timeline(directory, self.points)
        images = [report.plot_timeline(directory, self.points, summary["title"])] if self.points else []
        if summary.get("capacity", {}).get("steps"):
            images.append(report.plot_capacity(directory, summary["capacity"]["steps"], self.options.slo_p99_ms, summary["title"]))
        summary["files"] = sorted(p.name for p in directory.iterdir()) + ["summary.json", "report.html"]
        report.write_summary(directory, summary)
        report.write_html(directory, summary, images)


def _failures_by_reason(errors) -> dict[str, int]:
    """Locust's errors by reason, worded the same in one process and in distributed mode: from Locust's
    own form, `repr(exception)` (what a worker sends), `Kind('message')` becomes `Kind: message`, and a
    response check's failure (CatchResponseError) or a gRPC status (Exception) just the message."""
    reasons: dict[str, int] = {}
    for error in errors:
        reason = locust_stats.StatsError.parse_error(error.error)
        kind, _, rest = reason.partition("(")
        if kind.isidentifier() and rest.endswith(")"):
            with contextlib.suppress(ValueError, SyntaxError):
                message = ast.literal_eval(rest[:-1])
                if isinstance(message, str):
                    reason = message if kind in ("CatchResponseError", "Exception") else f"{kind}: {message}"
        reasons[reason[:200]] = reasons.get(reason[:200], 0) + error.occurrences
    return reasons


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 2) if values else None


_report_dir: Path | None = None  # of the last report written; the quit event carries no environment

# --- Locust events --------------------------------------------------------------------------
# Listeners look the Run up on the environment at each call: a process starts a fresh Run after each
# run (the master after its report, a worker after its final part), for the next run of the web UI.


@events.init.add_listener
def on_init(environment, runner, **_kwargs) -> None:
    environment.tfserving = Run(environment)

    def on_request(response_time=None, exception=None, **_kwargs) -> None:  # every request: kept lean
        environment.tfserving.on_request(response_time, exception)

    environment.events.request.add_listener(on_request)
    if not isinstance(runner, WorkerRunner):
        runner.register_message("tfs_window", lambda msg, **_: environment.tfserving.on_window_message(msg))
    if isinstance(runner, MasterRunner):
        runner.register_message("tfs_payload_error", lambda msg, **_: environment.tfserving.payload_failed(str(msg.data)))
    if not isinstance(runner, MasterRunner):
        runner.register_message("tfs_rate", lambda msg, **_: environment.tfserving.pacer.set_rate(float(msg.data)))
        runner.register_message("tfs_measure", lambda msg, **_: environment.tfserving.open_window(float(msg.data)))
        runner.register_message("tfs_stop", lambda **_: environment.tfserving.close_window(), concurrent=True)
    if isinstance(runner, WorkerRunner):
        environment.events.report_to_master.add_listener(lambda data, **_: environment.tfserving.on_report_to_master(data))


@events.test_start.add_listener
def on_test_start(environment, **_kwargs) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        environment.tfserving.start_recorder()


@events.test_stopping.add_listener
def on_test_stopping(environment, **_kwargs) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        environment.tfserving.end_measurement()


@events.test_stop.add_listener
def on_test_stop(environment, **_kwargs) -> None:
    """The load stopped and every process's part is in: the report, while the web UI (with --autostart
    --autoquit N, or until Ctrl-C) and the report directory are still there."""
    global _report_dir
    if isinstance(environment.runner, WorkerRunner):
        return
    run = environment.tfserving
    run.finish()
    _report_dir = run.report_dir
    environment.tfserving = Run(environment)


@events.quit.add_listener
def on_quit(exit_code, **_kwargs) -> None:
    # After Locust's own stats tables, so the report directory is the last line of the run.
    if _report_dir is not None:
        print(f"report directory: {_report_dir} (exit code {exit_code})", flush=True)


class TfServingShape(LoadTestShape):
    """Follows `--load-profile`: sets the arrival rate each second and keeps `-u` users (requests in flight)."""

    use_common_options = True

    def tick(self):
        run: Run = self.runner.environment.tfserving
        o = run.options
        if not run.phases:
            run.phases = run.build_phases()
            run.shape_start, run.shape_start_unix = time.monotonic(), time.time()
        t = time.monotonic() - run.shape_start
        located = shapes.locate(run.phases, t)
        if o.load_profile == "capacity" and not run.capacity_tick(located, t):
            return None
        if located is None:
            return None
        if located.phase.name != "warmup":
            run.begin_measurement(t)
        run.apply_rate(located.phase.rate)
        users = o.num_users or 1
        # Open model: users are in-flight slots, not load, so they all start at once; closed loop: -r.
        return (users, max(o.spawn_rate or 1, users) if located.phase.rate > 0 else (o.spawn_rate or 1))


# --- Users ----------------------------------------------------------------------------------


JSON_HEADERS = {"Content-Type": "application/json"}
LAST_ON_CONNECTION_HEADERS = {**JSON_HEADERS, "Connection": "close"}


class RestUser(FastHttpUser):
    """TF Serving REST predict (`:predict` on /v1/models/NAME[/versions/N|/labels/L])."""

    host = DEFAULT_REST
    wait_time = constant(0)

    def on_start(self) -> None:
        self.run: Run = self.environment.tfserving
        self.path = f"{self.run.model_path()}:predict"
        o = self.run.options
        self.connection = ConnectionLimits(o.rest_connection_max_requests, o.rest_connection_max_age)
        self.ok = self.run.prepare(self.fetch_signature)

    def fetch_signature(self) -> payloads.Signature:
        import requests  # not self.client: the metadata call is not load

        url = f"{self.run.host}{self.run.model_path()}/metadata"
        response = requests.get(url, timeout=10)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: HTTP {response.status_code} {response.text[:200]}")
        return payloads.signature_from_metadata(response.json(), self.run.options.signature)

    @task
    def predict(self) -> None:
        if not self.ok:
            gevent.sleep(1)
            return
        run = self.run
        if not run.pacer.wait():
            return
        prepared = run.prepared
        last = self.connection.enabled and self.connection.is_last()
        run.in_flight += 1
        try:
            with self.client.post(self.path, data=prepared.payload.rest_body, headers=LAST_ON_CONNECTION_HEADERS if last else JSON_HEADERS,
                                  name=f"REST {self.path}", catch_response=True) as response:
                failure = payloads.check_rest(response.status_code, response.content or b"", prepared.signature, prepared.payload)
                if failure:
                    response.failure(failure)
                else:
                    response.success()
            if last:  # closed here too, whatever the server answered: the next request connects again
                self.client.client.clientpool.close()
            if last or not response.status_code:  # status 0: no HTTP answer, the connection went with the request
                self.connection.ended()
        finally:
            run.in_flight -= 1


class ResponseMismatch(Exception):
    """A gRPC response that does not match the signature."""


class LocustInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Fires Locust's request event for every unary call: method name, latency, response size, failure."""

    def __init__(self, environment, check):
        self.environment, self.check = environment, check

    def intercept_unary_unary(self, continuation, client_call_details, request):
        start = time.perf_counter()
        exception, length = None, 0
        call = continuation(client_call_details, request)
        try:
            response = call.result()
            length = response.ByteSize()
            failure = self.check(response)
            if failure:
                exception = ResponseMismatch(failure)
        except grpc.RpcError as error:
            exception = error
            response = None
        self.environment.events.request.fire(
            request_type="grpc", name=client_call_details.method, response_time=(time.perf_counter() - start) * 1000,
            response_length=length, exception=_grpc_failure(exception) if isinstance(exception, grpc.RpcError) else exception,
            context={})
        return call


def _grpc_failure(error: grpc.RpcError) -> Exception:
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    return Exception(f"{code.name if code else 'UNKNOWN'}: {details}")


class GrpcUser(User):
    """TF Serving gRPC PredictionService/Predict (tensorflow-serving-api stub)."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.run: Run = self.environment.tfserving
        api = protos.apis()
        target = self.run.grpc_target()
        self.plain = grpc.insecure_channel(target)
        prepared = self.run.prepared
        check = lambda response: payloads.check_grpc(response, prepared.signature, prepared.payload)  # noqa: E731
        self.channel = grpc.intercept_channel(self.plain, LocustInterceptor(self.environment, check))
        self.stub = api.prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.ok = self.run.prepare(lambda: self.fetch_signature(api))
        if self.ok:
            o = self.run.options
            version = int(o.model_version) if o.model_version else None
            self.request = prepared.payload.grpc_request(o.model, version, o.model_label or None)

    def fetch_signature(self, api) -> payloads.Signature:
        o = self.run.options
        request = api.get_model_metadata_pb2.GetModelMetadataRequest()
        request.model_spec.name = o.model
        if o.model_version:
            request.model_spec.version.value = int(o.model_version)
        elif o.model_label:
            request.model_spec.version_label = o.model_label
        request.metadata_field.append("signature_def")
        stub = api.prediction_service_pb2_grpc.PredictionServiceStub(self.plain)  # not intercepted: not load
        try:
            response = stub.GetModelMetadata(request, timeout=10)
        except grpc.RpcError as error:
            raise RuntimeError(f"GetModelMetadata on {self.run.grpc_target()}: {_grpc_failure(error)}") from None
        return payloads.signature_from_grpc_metadata(response, o.signature)

    def on_stop(self) -> None:
        self.plain.close()

    @task
    def predict(self) -> None:
        if not self.ok:
            gevent.sleep(1)
            return
        run = self.run
        if not run.pacer.wait():
            return
        run.in_flight += 1
        try:
            self.stub.Predict(self.request, timeout=run.options.request_timeout)
        except grpc.RpcError:
            pass  # already reported by the interceptor
        finally:
            run.in_flight -= 1
