"""Locust past one process reports the measured window like one process does: a master and two
workers, both as Locust's `--processes 2` and as a `--master` with two `--worker` processes started
apart, against a single-process run of the same load.

The comparison is of counts and of rates over the measured window, not of timings, so a busy
2-core machine cannot fail it: each run's rate is its window's requests over its window's length,
and the open-model schedule keeps that at the requested rate however slow the machine is, as long
as no arrival is dropped (the self-check counts drops, and a run with drops says so in the failure).
Noise bounds: achieved within 10 % of the requested rate (the window's edges are shape ticks, up to a
tick apart, and requests in flight at an edge: 20 users of 960 requests); the failure ratio within
0.05 of the stand-in's injected 0.2 (about 4 standard deviations at 960 requests); counts that follow
from the schedule (arrivals per worker, requests vs arrivals) within the 20 requests in flight.
"""

from __future__ import annotations

import csv

import pytest

from tfserving_harness.standin.launch import load_standin

pytestmark = pytest.mark.load

# 8 s measured (960 requests) after a warm-up longer than Locust's 3 s worker report interval: every
# worker reports during the warm-up, and the window must keep those reports out.
RATE, USERS, SECONDS, WARMUP = 120, 20, 12, 4
ERROR_RATE = 0.2
MODES = {"--processes 2": {"processes": 2}, "master and 2 workers apart": {"workers": 2}}


@pytest.fixture(scope="module")
def failing_standin():
    with load_standin(error_rate=ERROR_RATE) as running:
        yield running


def _load(standin) -> tuple[str, ...]:
    # Failed requests are part of the load here, not a reason for Locust's exit code 1.
    return ("RestUser", "-H", standin.rest_url, "--rate", str(RATE), "--exit-code-on-error", "0")


def _locust_aggregated(report_dir) -> dict:
    with open(report_dir / "locust_stats.csv") as stats:
        return next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")


def _locust_count(report_dir) -> int:
    return int(_locust_aggregated(report_dir)["Request Count"])


def _check_window(run, processes: int) -> dict:
    """What holds for any run, one process or many; returns the summary."""
    assert run.returncode == 0, run.output
    summary = run.summary
    client, generator = summary["client"], summary["generator"]
    total = generator["total"]
    why = f"dropped arrivals (the machine was too busy to keep the schedule): {total['dropped_arrivals']}; {summary['warnings']}"
    # The report's numbers are Locust's own table's: the master counts the window only, and times it from its start.
    locust = _locust_aggregated(run.report_dir)
    assert int(locust["Request Count"]) == client["requests"]
    assert abs(float(locust["Requests/s"]) - client["achieved_rps"]) <= 0.1 * RATE, (locust["Requests/s"], client)
    # Every arrival of the window is one request (give or take those in flight at its edges).
    assert abs(client["requests"] - total["arrivals"]) <= USERS, (client, total)
    assert abs(client["achieved_rps"] - RATE) <= 0.1 * RATE, (client, summary["measured_seconds"], why)
    assert abs(client["failure_ratio"] - ERROR_RATE) <= 0.05, client
    # TF Serving's own count over the same window sees the same load.
    served = sum(summary["server"]["request_count_by_status"].values())
    assert abs(served - client["requests"]) <= 0.05 * client["requests"] + USERS, summary["server"]
    # The self-check covers every process: CPU, arrival lag and drops each, and their total.
    per_process = generator["per_process"]
    assert generator["processes"] == len(per_process) == processes, generator
    assert all(p["cpu_percent_mean"] > 0 and p["arrival_lag"]["samples"] > 0 for p in per_process), per_process
    assert total["arrivals"] == sum(p["arrivals"] for p in per_process)
    assert total["arrival_lag"]["samples"] == sum(p["arrival_lag"]["samples"] for p in per_process)
    assert total["dropped_arrivals"] == sum(p["dropped_arrivals"] for p in per_process)
    assert generator["worst"]["cpu_percent_mean"]["process"] in {p["process"] for p in per_process}
    # The timeline's seconds hold the window's requests (all but the last part-second and the drain).
    timeline = sum(point["achieved_rps"] for point in _timeline(run.report_dir))
    assert client["requests"] - RATE - USERS <= timeline <= client["requests"], (timeline, client)
    return summary


def _timeline(report_dir) -> list[dict]:
    with open(report_dir / "timeline.csv") as rows:
        return [{k: float(v) if k == "achieved_rps" else v for k, v in row.items()} for row in csv.DictReader(rows)]


@pytest.fixture(scope="module")
def single_process(failing_standin, module_locust):
    return module_locust(*_load(failing_standin), users=USERS, seconds=SECONDS, warmup=WARMUP)


@pytest.mark.parametrize("mode", MODES)
def test_distributed_run_reports_the_window_like_one_process(failing_standin, single_process, locust, mode):
    single = _check_window(single_process, processes=1)
    run = locust(*_load(failing_standin), users=USERS, seconds=SECONDS, warmup=WARMUP, **MODES[mode])
    distributed = _check_window(run, processes=2)
    # The same load, measured the same: rates and ratios equal within the noise bounds above.
    assert abs(distributed["client"]["achieved_rps"] - single["client"]["achieved_rps"]) <= 0.1 * RATE
    assert abs(distributed["client"]["failure_ratio"] - single["client"]["failure_ratio"]) <= 0.05
    assert distributed["client"]["failures_by_reason"].keys() == single["client"]["failures_by_reason"].keys()
    # Each worker sent half the arrivals (the rate is split over the workers that run users).
    halves = [p["arrivals"] for p in distributed["generator"]["per_process"]]
    assert abs(halves[0] - halves[1]) <= USERS, halves
    assert distributed["generator"]["master_cpu_percent_mean"] is not None
    assert "master_cpu_percent_mean" not in single["generator"]


def test_each_worker_that_drops_arrivals_is_named(locust):
    """One user per worker against a server that takes 100 ms a request: each worker can send 10 a
    second of the 30 it is asked for, so each drops arrivals (server-bound, not CPU-bound: the same
    on any machine) and the report warns once per worker, and totals them."""
    with load_standin(slow_ms=100) as slow:
        run = locust("RestUser", "-H", slow.rest_url, "--rate", "60", users=2, seconds=6, warmup=1, processes=2)
    assert run.returncode == 0, run.output
    generator, warnings = run.summary["generator"], run.summary["warnings"]
    per_process = generator["per_process"]
    assert len(per_process) == 2 and all(p["dropped_arrivals"] > 0 for p in per_process), per_process
    assert generator["total"]["dropped_arrivals"] == sum(p["dropped_arrivals"] for p in per_process)
    worst = generator["worst"]["dropped_arrivals"]
    assert worst["value"] == max(p["dropped_arrivals"] for p in per_process)
    for process in per_process:
        assert [w for w in warnings if w.startswith(f"{process['process']}: {process['dropped_arrivals']} arrivals dropped")], warnings


def test_requests_in_flight_when_the_load_stops_are_counted(locust):
    """A server that takes 1.5 s a request: when the load stops, each worker still has requests in
    flight. They finish within --stop-timeout, and each worker's final part (with Locust's last stats
    of that worker) reaches the master before it reports: the client counts what the server counted
    over the window (a report written without them misses the last 1.5 s, about 15 requests)."""
    with load_standin(slow_ms=1500) as slow:
        run = locust("RestUser", "-H", slow.rest_url, "--rate", "10", "--stop-timeout", "4", users=30, seconds=8, warmup=2,
                     processes=2)
    assert run.returncode == 0, run.output
    client, server = run.summary["client"], run.summary["server"]
    assert client["failures"] == 0 and client["requests"] == _locust_count(run.report_dir), client
    assert abs(server["predict_ok"]["REST"] - client["requests"]) <= 2, (server, client)
