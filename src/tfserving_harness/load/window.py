"""The measured window of a run, assembled from every Locust process.

Locust's own stats give the run's totals: every process resets them when the window opens (the end
of the warm-up) and a worker reports nothing of its warm-up, so the master's table and CSV count the
window only. What Locust's reports do not carry is *when*: a worker sends its stats every 3 s, so
per-second numbers taken from the master's totals (the timeline, the window of a capacity step)
would follow the reports, not the requests. So each process also keeps, per second of the window
(by completion time, in whole seconds since the window opened on the master's clock), its requests,
failures and response times in Locust's own buckets, and its self-check: the CPU it used each second,
how late its arrivals were sent (lag) and how many it dropped. A worker sends its part to the master
once a second in a custom message (`ProcessPart.report`); the master merges the seconds of all
processes (`Window.merge`) and keeps the self-check per process, so the worst worker and the total
can be reported and each worker's saturation warned about by name.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

SATURATED_PERCENT = 90.0  # Locust's own CPU_WARNING_THRESHOLD
SATURATION_SECONDS = 10  # over Locust's own CPU sampling interval (CPU_MONITOR_INTERVAL)

# Locust's response-time buckets and percentile (locust/stats.py: bucket_response_time,
# calculate_response_time_percentile), so the window's percentiles are those of Locust's table. Stated
# here, not imported: importing locust monkey-patches the whole process with gevent, which a plain
# module must not do. tests/harness/test_load_window.py checks they agree with Locust's.


def bucket(value: float) -> int:
    """~2 significant digits: 147 -> 150, 3432 -> 3400, 58760 -> 59000."""
    if value < 100:
        return round(value)
    if value < 1000:
        return int(round(value, -1))
    if value < 10000:
        return int(round(value, -2))
    return int(round(value, -3))


def percentile(histogram: dict[int, int], q: float) -> int | None:
    """The bucket that a fraction q of the samples is at or below (Locust's rule); None when empty."""
    count = sum(histogram.values())
    if not count:
        return None
    at_or_below, seen = int(count * q), 0
    for value in sorted(histogram, reverse=True):
        seen += histogram[value]
        if count - seen <= at_or_below:
            return value
    return 0


def _add(histogram: dict[int, int], other: dict[int, int]) -> None:
    for key, count in other.items():
        histogram[key] = histogram.get(key, 0) + count


@dataclass
class Second:
    """Requests that completed within one second (or any span of seconds, once merged)."""

    requests: int = 0
    failures: int = 0
    response_times: dict[int, int] = field(default_factory=dict)  # Locust's buckets, ms

    def add(self, response_time_ms: float | None, failed: bool) -> None:
        self.requests += 1
        self.failures += failed
        if response_time_ms is not None:
            key = bucket(response_time_ms)
            self.response_times[key] = self.response_times.get(key, 0) + 1

    def merge(self, other: Second) -> None:
        self.requests += other.requests
        self.failures += other.failures
        _add(self.response_times, other.response_times)

    def percentile(self, q: float) -> int | None:
        return percentile(self.response_times, q)

    def as_message(self) -> dict:
        return {"requests": self.requests, "failures": self.failures, "response_times": self.response_times}


class ProcessPart:
    """What one Locust process (a worker, or the only process) recorded of the window since its last report."""

    def __init__(self, origin: float, clock=time.time):
        self.origin, self.clock = origin, clock
        self.seconds: dict[int, Second] = {}
        self.cpu: dict[int, float] = {}  # CPU seconds used, by second of the window

    def second(self, at: float) -> int:
        return math.floor(at - self.origin)

    def record(self, response_time_ms: float | None, failed: bool) -> None:
        k = self.second(self.clock())
        second = self.seconds.get(k)
        if second is None:
            second = self.seconds[k] = Second()
        second.add(response_time_ms, failed)

    def add_cpu(self, cpu_seconds: float, since: float, until: float) -> None:
        """CPU time used between two wall-clock times, booked to the second their midpoint falls in."""
        k = self.second((since + until) / 2)
        self.cpu[k] = self.cpu.get(k, 0.0) + cpu_seconds

    def report(self, *, lag_us: dict[int, int], arrivals: int, dropped: int, final: bool = False) -> dict:
        """What was recorded since the last report (the master adds it up), and the self-check so far (cumulative)."""
        seconds, cpu = self.seconds, self.cpu
        self.seconds, self.cpu = {}, {}
        return {
            "seconds": {k: second.as_message() for k, second in seconds.items()},
            "cpu": cpu,
            "through": self.second(self.clock()) - 1,  # the last second no later report adds to
            "lag_us": dict(lag_us), "arrivals": arrivals, "dropped": dropped, "final": final,
        }

    def unsent(self, report: dict) -> None:
        """A report that could not be sent: its seconds go with the next one."""
        for k, data in report["seconds"].items():
            self.seconds.setdefault(k, Second()).merge(Second(**data))
        for k, cpu_seconds in report["cpu"].items():
            self.cpu[k] = self.cpu.get(k, 0.0) + cpu_seconds


@dataclass
class ProcessState:
    """The master's copy of one process's self-check."""

    label: str
    cpu: dict[int, float] = field(default_factory=dict)
    lag_us: dict[int, int] = field(default_factory=dict)
    arrivals: int = 0
    dropped: int = 0
    through: int = -1
    final: bool = False

    def self_check(self, window_seconds: float) -> dict:
        span = max(math.floor(window_seconds), 1)
        per_second = [self.cpu.get(k, 0.0) for k in range(span)]
        stretch = min(SATURATION_SECONDS, span)  # a window shorter than that is judged as a whole
        busiest = max(sum(per_second[i:i + stretch]) for i in range(span - stretch + 1)) / stretch
        return {
            "process": self.label,
            "cpu_percent_mean": round(100 * sum(self.cpu.values()) / window_seconds, 1) if window_seconds > 0 else None,
            "cpu_percent_max_10s": round(100 * busiest, 1),
            "cpu_percent_max_1s": round(100 * max(per_second), 1),
            "saturated": 100 * busiest > SATURATED_PERCENT,
            "arrival_lag": lag_summary(self.lag_us),
            "arrivals": self.arrivals,
            "dropped_arrivals": self.dropped,
        }


def lag_summary(lag_us: dict[int, int]) -> dict:
    """p50/p99/max of a lag histogram (microseconds in Locust's buckets), in ms."""
    def ms(us: int | None) -> float | None:
        return None if us is None else round(us / 1000, 3)

    return {"samples": sum(lag_us.values()), "p50_ms": ms(percentile(lag_us, 0.5)), "p99_ms": ms(percentile(lag_us, 0.99)),
            "max_ms": ms(max(lag_us, default=None))}


class Window:
    """The master's view: every process's seconds merged, and each process's self-check."""

    def __init__(self):
        self.seconds: dict[int, Second] = {}
        self.processes: dict[str, ProcessState] = {}

    def merge(self, process: str, label: str, message: dict[str, Any]) -> None:
        state = self.processes.setdefault(process, ProcessState(label))
        for k, data in message["seconds"].items():
            self.seconds.setdefault(int(k), Second()).merge(Second(**data))
        for k, cpu_seconds in message["cpu"].items():
            state.cpu[int(k)] = state.cpu.get(int(k), 0.0) + cpu_seconds
        state.lag_us = {int(k): v for k, v in message["lag_us"].items()}
        state.arrivals, state.dropped = message["arrivals"], message["dropped"]
        state.through = max(state.through, message["through"])
        state.final = state.final or message["final"]

    def through(self) -> int:
        """The last second every process has reported in full (a process that sent its final report counts as done)."""
        open_ = [s.through for s in self.processes.values() if not s.final]
        return min(open_) if open_ else max((s.through for s in self.processes.values()), default=-1)

    def span(self, first: int, last: int) -> Second:
        """Seconds first..last (inclusive) merged."""
        merged = Second()
        for k in range(first, last + 1):
            if k in self.seconds:
                merged.merge(self.seconds[k])
        return merged

    def worst_cpu(self, k: int) -> float | None:
        """CPU % of the busiest process in second k."""
        values = [s.cpu[k] for s in self.processes.values() if k in s.cpu]
        return round(100 * max(values), 1) if values else None

    def self_check(self, window_seconds: float) -> tuple[dict, list[str]]:
        """Per process, the worst process and the total; and one warning per saturated or dropping process."""
        checks = [s.self_check(window_seconds) for s in self.processes.values()]
        lag_us: dict[int, int] = {}
        for state in self.processes.values():
            _add(lag_us, state.lag_us)

        def worst(value) -> dict | None:
            present = [c for c in checks if value(c) is not None]
            top = max(present, key=value, default=None)
            return {"value": value(top), "process": top["process"]} if top else None

        check = {
            "processes": len(checks),
            "per_process": checks,
            "worst": {"cpu_percent_mean": worst(lambda c: c["cpu_percent_mean"]),
                      "cpu_percent_max_10s": worst(lambda c: c["cpu_percent_max_10s"]),
                      "arrival_lag_p99_ms": worst(lambda c: c["arrival_lag"]["p99_ms"]),
                      "dropped_arrivals": worst(lambda c: c["dropped_arrivals"])},
            "total": {"cpu_cores_mean": round(sum(c["cpu_percent_mean"] or 0.0 for c in checks) / 100, 2),
                      "arrival_lag": lag_summary(lag_us), "arrivals": sum(c["arrivals"] for c in checks),
                      "dropped_arrivals": sum(c["dropped_arrivals"] for c in checks)},
            "saturated": any(c["saturated"] for c in checks),
        }
        warnings = []
        for c in checks:
            if c["saturated"]:
                warnings.append(f"{c['process']}: CPU above {SATURATED_PERCENT:g} % of a core ({c['cpu_percent_max_10s']:g} % over "
                                f"its busiest {SATURATION_SECONDS} s): these numbers are the generator's, not the server's; "
                                "add Locust workers (--processes N, or more worker pods)")
            if c["dropped_arrivals"]:
                warnings.append(f"{c['process']}: {c['dropped_arrivals']} arrivals dropped because every user was busy; "
                                "raise -u (requests in flight)")
        return check, warnings
