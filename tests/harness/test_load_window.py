"""The measured window assembled from several Locust processes (tfserving_harness.load.window), without
Locust running: per-second merging by completion time, what "reported in full" means, and the
generator's self-check per worker, worst worker and total, with a warning naming each worker."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tfserving_harness.load import window


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _part(origin: float, clock: Clock) -> window.ProcessPart:
    return window.ProcessPart(origin, clock=clock)


def test_seconds_are_counted_by_completion_time_and_merged_across_workers():
    clock = Clock(1000.0)
    merged = window.Window()
    parts = {"w0": _part(1000.0, clock), "w1": _part(1000.0, clock)}
    for at, process, ms, failed in [(1000.2, "w0", 10, False), (1000.7, "w1", 30, True), (1001.1, "w0", 250, False),
                                    (1001.9, "w1", 12, False), (999.5, "w0", 5, False)]:  # the last one: before the window
        clock.now = at
        parts[process].record(ms, failed)
    clock.now = 1002.05
    for name, part in parts.items():
        merged.merge(name, name, part.report(lag_us={}, arrivals=0, dropped=0))
    assert merged.seconds[0] == window.Second(2, 1, {10: 1, 30: 1})
    assert merged.seconds[1] == window.Second(2, 0, {250: 1, 12: 1})  # Locust's buckets: 250 stays, 247 would be 250
    assert merged.seconds[-1].requests == 1  # the warm-up's second is kept apart, never summed into the window
    assert merged.span(0, 1) == window.Second(4, 1, {10: 1, 30: 1, 250: 1, 12: 1})
    assert merged.through() == 1  # both reported at 2.05 s: seconds 0 and 1 are final


def test_a_second_reported_in_two_parts_is_added_up_once_each():
    """A report carries what was recorded since the previous one, so a second split over two reports
    adds up to its true count (the bug this guards against: each report repeating the whole second)."""
    clock = Clock(0.2)
    part, merged = _part(0.0, clock), window.Window()
    part.record(5, False)
    merged.merge("local", "local", part.report(lag_us={}, arrivals=1, dropped=0))
    clock.now = 0.8
    part.record(7, False)
    merged.merge("local", "local", part.report(lag_us={}, arrivals=2, dropped=0))
    assert merged.seconds[0].requests == 2
    assert merged.processes["local"].arrivals == 2  # the self-check is cumulative: the latest report wins


def test_an_unsent_report_goes_with_the_next():
    clock = Clock(0.5)
    part, merged = _part(0.0, clock), window.Window()
    part.record(5, False)
    part.add_cpu(0.3, 0.0, 1.0)
    lost = part.report(lag_us={}, arrivals=1, dropped=0)
    part.unsent(lost)
    clock.now = 1.5
    part.record(9, True)
    merged.merge("w0", "worker 0", part.report(lag_us={}, arrivals=2, dropped=0))
    assert (merged.seconds[0].requests, merged.seconds[1].failures) == (1, 1)
    assert merged.processes["w0"].cpu == {0: 0.3}


def test_through_waits_for_the_slowest_worker_unless_it_sent_its_final_part():
    merged = window.Window()
    for process, through, final in (("w0", 7, False), ("w1", 4, False), ("w2", 2, True)):
        merged.merge(process, process, {"seconds": {}, "cpu": {}, "through": through, "lag_us": {}, "arrivals": 0,
                                        "dropped": 0, "final": final})
    assert merged.through() == 4


def _state(label: str, cpu_per_second: list[float], *, lag_us=None, arrivals=100, dropped=0) -> window.ProcessState:
    lag_us = {500: arrivals} if lag_us is None else lag_us
    return window.ProcessState(label, dict(enumerate(cpu_per_second)), lag_us, arrivals, dropped)


def test_self_check_reports_each_worker_the_worst_and_the_total_and_warns_per_worker():
    merged = window.Window()
    merged.processes = {
        "a": _state("worker 0 (pod-a)", [0.2] * 20, lag_us={300: 90, 2000: 10}),
        # busy for 10 s in a row at 95 %: saturated, although its mean over 20 s is below 90 %
        "b": _state("worker 1 (pod-b)", [0.5] * 10 + [0.95] * 10, lag_us={900: 80, 40_000: 20}, dropped=7),
    }
    check, warnings = merged.self_check(20.0)
    a, b = check["per_process"]
    assert (a["cpu_percent_mean"], b["cpu_percent_mean"]) == (20.0, 72.5)
    assert (a["saturated"], b["saturated"]) == (False, True) and b["cpu_percent_max_10s"] == 95.0
    assert a["arrival_lag"] == {"samples": 100, "p50_ms": 0.3, "p99_ms": 2.0, "max_ms": 2.0}
    assert check["worst"]["cpu_percent_mean"] == {"value": 72.5, "process": "worker 1 (pod-b)"}
    assert check["worst"]["arrival_lag_p99_ms"] == {"value": 40.0, "process": "worker 1 (pod-b)"}
    assert check["worst"]["dropped_arrivals"] == {"value": 7, "process": "worker 1 (pod-b)"}
    total = check["total"]
    assert total["cpu_cores_mean"] == pytest.approx(0.93) and total["arrivals"] == 200 and total["dropped_arrivals"] == 7
    assert total["arrival_lag"] == {"samples": 200, "p50_ms": 0.9, "p99_ms": 40.0, "max_ms": 40.0}  # over both workers' arrivals
    assert check["saturated"]
    assert len(warnings) == 2 and all(w.startswith("worker 1 (pod-b): ") for w in warnings), warnings
    assert "CPU above 90 % of a core (95 % over its busiest 10 s)" in warnings[0]
    assert "7 arrivals dropped because every user was busy; raise -u" in warnings[1]


def test_a_short_window_is_judged_as_a_whole_and_an_idle_one_has_no_lag():
    merged = window.Window()
    merged.processes = {"local": _state("the Locust process", [0.99, 0.99, 0.5], lag_us={}, arrivals=0)}
    check, warnings = merged.self_check(3.0)
    local = check["per_process"][0]
    assert local["cpu_percent_max_10s"] == pytest.approx(82.7) and not local["saturated"] and not warnings
    assert local["arrival_lag"] == {"samples": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}


def test_buckets_and_percentiles_are_locusts():
    """window.py restates Locust's two functions (importing locust would gevent-patch this test process):
    compared with Locust's own, in a process of their own, over a spread of values and histograms."""
    script = """
import random
from locust.stats import bucket_response_time, calculate_response_time_percentile
from tfserving_harness.load import window
values = [0, 0.4, 0.5, 1.5, 99.4, 99.6, 100, 147, 999, 999.6, 3432, 9999, 10_000, 58_760, 1_234_567] + [
    random.Random(seed).lognormvariate(3, 2) for seed in range(2000)]
assert [window.bucket(v) for v in values] == [bucket_response_time(v) for v in values]
rng = random.Random(1)
for _ in range(300):
    histogram = {window.bucket(rng.lognormvariate(3, 2)): rng.randint(1, 50) for _ in range(rng.randint(1, 40))}
    for q in (0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
        assert window.percentile(histogram, q) == calculate_response_time_percentile(histogram, sum(histogram.values()), q), (histogram, q)
print("same")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "same", done.stderr[-3000:]
