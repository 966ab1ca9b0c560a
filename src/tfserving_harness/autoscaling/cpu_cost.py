"""What a REST predict costs a pod in CPU, measured on the pod a CPU-HPA test is about to load.

The HPA on CPU utilisation reads the pod's cgroup counter, and what one request adds to it depends on
the machine at that moment and on the rate: the stand-in on the project's 2-core VM has cost from 0.5 ms to
2.2 ms of CPU per REST predict across runs and rates. A request rate fixed in advance therefore asks for one pod on a fast
moment and for two on a slow one, and the test judges the machine instead of the chart. So the test
measures the pod first, the way the HPA will see it: the kubelet's own counter
(`/metrics/resource` `container_cpu_usage_seconds_total`, each sample stamped with the time cAdvisor
took it, what metrics-server and so the HPA read), idle and then under a steady rate of the same
request Locust will send, and it derives its rates from that.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

import requests

from .. import traffic
from ..load import payloads
from . import metrics_server
from .stacks import say


@dataclass(frozen=True)
class CpuSample:
    """One kubelet sample of a pod: when it was taken (seconds since the epoch) and its CPU seconds so far."""

    timestamp: float
    cpu_seconds: float


@dataclass(frozen=True)
class CpuCost:
    """A pod's CPU (cores) idle and at each request rate measured, idle included."""

    idle_cores: float
    cores_at: dict[float, float]  # requests/s -> cores

    def describe(self) -> str:
        loaded = ", ".join(f"{cores * 1000:.1f}m at {rate:g} req/s ({(cores - self.idle_cores) / rate * 1000:.2f} ms per request)"
                           for rate, cores in self.cores_at.items())
        return f"idle {self.idle_cores * 1000:.1f}m; {loaded}"


@dataclass(frozen=True)
class CpuTarget:
    """The CPU target (cores per pod) chosen for a scale from one pod to two and back, and by what factor the
    pod's measured CPU could be off at each decision before the HPA decided otherwise."""

    cores: float
    margins: dict[str, float]

    def describe(self) -> str:
        return f"target {self.cores * 1000:.1f}m per pod; margins " + ", ".join(f"{k} x{v:.2f}" for k, v in self.margins.items())


def one_to_two_and_back(cost: CpuCost, low_rate: float, high_rate: float, *, tolerance: float = 0.1) -> CpuTarget:
    """The HPA's CPU target for the autoscale profile from minReplicas 1 to maxReplicas 2 and back, with every
    request on the first pod (its users keep their connections), from the CPU measured at the two rates.

    The HPA (pkg/controller/podautoscaler/replica_calculator.go) compares the pods' average use with the target:
    within `tolerance` (--horizontal-pod-autoscaler-tolerance, 0.1) it keeps the count, else it asks for
    ceil(ratio x ready pods). So: the low phase keeps one pod while low <= (1 + tolerance) x target; the high phase
    asks for two once high > (1 + tolerance) x target; after the drop two pods (the first at `low`, the second idle)
    go back to one once (low + idle) / 2 <= target / 2. The target is the one that gives the last two decisions the
    same margin (the low phase's is the widest of the three): high / ((1 + tolerance) x target) = target / (low + idle).
    """
    idle, low, high = cost.idle_cores, cost.cores_at[low_rate], cost.cores_at[high_rate]
    return at_target(cost, low_rate, high_rate, math.sqrt(high * (low + idle) / (1 + tolerance)), tolerance=tolerance)


def at_target(cost: CpuCost, low_rate: float, high_rate: float, target_cores: float, *, tolerance: float = 0.1) -> CpuTarget:
    """The margins of one_to_two_and_back's three decisions at a given target (e.g. the one rounded to a whole
    percent of the request, which is what the HPA gets): by what factor the pod's CPU could change before each flips."""
    idle, low, high = cost.idle_cores, cost.cores_at[low_rate], cost.cores_at[high_rate]
    return CpuTarget(target_cores, {"no scale-out at the low rate": (1 + tolerance) * target_cores / low,
                                    "scale-out at the high rate": high / ((1 + tolerance) * target_cores),
                                    "scale-in at the low rate": target_cores / (low + idle)})


def kubelet_sampler(stand_in: metrics_server.MetricsServerStandIn, namespace: str, pod: str) -> Callable[[], CpuSample]:
    """`sample()`: the pod's CPU as its node's kubelet last sampled it, read as the metrics-server stand-in reads it
    (without storing it), summed over the pod's containers."""

    def sample() -> CpuSample:
        containers = stand_in.read_kubelets().get((namespace, pod))
        if not containers:
            raise LookupError(f"CPU cost: no kubelet reports CPU for pod {namespace}/{pod}; scrape errors: "
                              f"{stand_in.scrape_errors or 'none'}")
        return CpuSample(min(p.timestamp for p in containers.values()) / metrics_server.NANOS,
                         sum(p.cpu for p in containers.values()) / metrics_server.NANOS)

    return sample


def rest_predict_sender(base_url: str, model_path: str, *, timeout: float = 10.0) -> Callable[[], None]:
    """`send()`: one REST predict of the payload Locust's RestUser sends (generated from the model's
    metadata), on a keep-alive connection per thread as Locust's users keep theirs."""
    def session() -> requests.Session:
        made = requests.Session()
        made.trust_env = False  # no proxy between the host and a ClusterIP
        return made

    metadata = session().get(f"{base_url}{model_path}/metadata", timeout=timeout)
    metadata.raise_for_status()
    body = payloads.generate(payloads.signature_from_metadata(metadata.json())).rest_body
    url, local = f"{base_url}{model_path}:predict", threading.local()

    def send() -> None:
        if not hasattr(local, "session"):
            local.session = session()
        answer = local.session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=timeout)
        answer.raise_for_status()

    return send


def measure(sample: Callable[[], CpuSample], send: Callable[[], None], rates: list[float], *, seconds: float = 10.0,
            settle: float = 2.0, senders: int = 16, timeout: float = 60.0, progress: Callable[[str], None] = say) -> CpuCost:
    """The pod's idle CPU between two kubelet samples `seconds` apart, then at each of `rates` in turn (requests/s
    from `senders` threads on a fixed schedule) between two samples, the first `settle` s after the rate began.
    A failed request fails the measurement: a cost read off errors would be no cost."""

    def sample_after(after: float, what: str, abort: Callable[[], bool] = lambda: False) -> CpuSample:
        deadline = time.monotonic() + timeout
        while True:
            found = sample()
            if found.timestamp > after or abort():
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"CPU cost: no kubelet sample of the pod after {what} within {timeout:g} s; "
                                   f"the last was taken at {found.timestamp:.1f} (is the kubelet sampling the pod?)")
            time.sleep(0.5)

    def cores(first: CpuSample, last: CpuSample) -> float:
        return (last.cpu_seconds - first.cpu_seconds) / (last.timestamp - first.timestamp)

    def loaded(rate: float) -> float:
        """The pod's CPU between two samples while traffic.steady_load sends `rate` requests/s, refused if fewer were answered."""
        stop, run = threading.Event(), traffic.LoadRun()

        def answered_at() -> str:
            send()
            return repr(time.time())  # the outcome's detail: when the answer came, to count those in the sampled window

        longest = 4 * (settle + seconds) + 60  # steady_load's bound; `stop` ends it as soon as the samples are taken
        load = threading.Thread(target=traffic.steady_load, args=(answered_at,), name="cpu-cost-load", daemon=True,
                                kwargs={"rate": rate, "seconds": longest, "max_requests": int(rate * longest) + 1, "workers": senders,
                                        "stop": stop, "into": run})
        started = time.time()
        load.start()
        try:
            first = sample_after(started + settle, f"{rate:g} req/s settled", lambda: bool(run.failures))
            last = sample_after(first.timestamp + seconds, f"{seconds:g} s at {rate:g} req/s", lambda: bool(run.failures))
        finally:
            stop.set()
            load.join()
            if run.failures:  # before any error of the sampling: a failed request is the first thing to know
                raise RuntimeError(f"CPU cost: a REST predict failed at {rate:g} req/s: {run.failures[0].detail} "
                                   f"({len(run.failures)} of {len(run.outcomes)} failed)")
        done = [float(o.detail) for o in run.outcomes]
        sent = sum(first.timestamp < t <= last.timestamp for t in done) / (last.timestamp - first.timestamp)
        if sent < 0.9 * rate:
            raise RuntimeError(f"CPU cost: {senders} sender threads got {sent:.1f} of the {rate:g} REST predicts/s asked answered, so "
                               f"requests took over {senders / rate:.2f} s: the pod or this host is too slow for the rate, or it needs "
                               "more senders (measure(senders=...)); the CPU at the rate asked was not measured")
        return cores(first, last)

    progress(f"CPU cost: the pod's CPU idle, then at {', '.join(f'{r:g}' for r in rates)} REST predicts/s, "
             f"{seconds:g} s each between two kubelet samples")
    idle_from = sample_after(time.time(), "now")  # not one the kubelet took before this call (the pod's start-up, say)
    idle = cores(idle_from, sample_after(idle_from.timestamp + seconds, "the idle window"))
    return CpuCost(idle, {rate: loaded(rate) for rate in rates})
