"""`make bench-load`: requests/s one Locust process produces with the REST user and the gRPC user of
loadtests/, next to a bare FastHttpUser (the same POST, no checks, no pacing) and wrk, all against
the TF Serving stand-in (no capacity limit, no service time) in the same run. Target: the REST
user within 20 % of the bare FastHttpUser. A benchmark, not a test: it prints.

Every generator is measured the same way, from outside: twice a second the generator process's CPU
time (psutil) and the stand-in's own request counter (`:tensorflow:serving:request_count`); the
steady window is where the counter grows, less a second at each end (start-up, warm-up ramp and
shutdown excluded). On a shared machine the raw requests/s move with the neighbours' load; CPU
per request, and so requests/s per core of generator CPU, is the steadier figure.

    make bench-load BENCH_ARGS="--seconds 20 --users 32 --rounds 3"
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

from tfserving_harness.load import server_metrics
from tfserving_harness.paths import REPO_ROOT
from tfserving_harness.standin.launch import load_standin

BODY = json.dumps({"signature_name": "serving_default", "inputs": {"x": [[1.0]]}})
PATH = "/v1/models/half_plus_two:predict"

BARE_LOCUSTFILE = f'''
from locust import FastHttpUser, constant, task

class BareFastHttpUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def predict(self):
        self.client.post("{PATH}", data={BODY!r}, headers={{"Content-Type": "application/json"}})
'''

WRK_SCRIPT = f'wrk.method = "POST"\nwrk.body = {json.dumps(BODY)}\nwrk.headers["Content-Type"] = "application/json"\n'


@dataclass
class Result:
    rps: float
    cpu_percent: float  # of one core

    @property
    def rps_per_core(self) -> float:
        return self.rps / (self.cpu_percent / 100) if self.cpu_percent else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_percent / 100 / self.rps * 1e6 if self.rps else 0.0


def served(rest_url: str) -> float:
    text = requests.get(f"{rest_url}/monitoring/prometheus/metrics", timeout=5).text
    return sum(v for (name, _), v in server_metrics.parse(text).items() if name == server_metrics.REQUEST_COUNT)


def measure(command: list[str], rest_url: str, cwd: Path) -> Result:
    process = psutil.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples = []
    while process.poll() is None:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            break
        samples.append((time.monotonic(), times.user + times.system, served(rest_url)))
        time.sleep(0.5)
    growing = [i for i in range(1, len(samples)) if samples[i][2] > samples[i - 1][2]]
    if len(growing) < 6:
        raise SystemExit(f"{command[0]}: no steady traffic measured (exit {process.returncode}): {process.stderr.read()[-2000:]!r}")
    first, last = samples[growing[0] + 2], samples[growing[-1] - 2]
    wall = last[0] - first[0]
    return Result((last[2] - first[2]) / wall, 100 * (last[1] - first[1]) / wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of traffic per generator")
    parser.add_argument("--users", type=int, default=32, help="Locust users / wrk connections (closed loop)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all generators, interleaved; the best round counts")
    args = parser.parse_args()
    locust = [sys.executable, "-m", "locust", "--headless", "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds:g}s",
              "--stop-timeout", "1"]
    best: dict[str, Result | None] = {}
    with tempfile.TemporaryDirectory() as tmp, load_standin() as standin:
        work = Path(tmp)
        (work / "bare_locustfile.py").write_text(BARE_LOCUSTFILE)
        (work / "post.lua").write_text(WRK_SCRIPT)
        harness = ["-f", str(REPO_ROOT / "loadtests"), "-H", standin.rest_url, "--grpc-target", standin.grpc_target,
                   "--warmup", "1", "--metrics-url", "none", "--report-dir", str(work / "report")]
        generators = {
            "bare FastHttpUser": locust + ["-f", str(work / "bare_locustfile.py"), "-H", standin.rest_url],
            "RestUser (loadtests/)": locust + harness + ["RestUser"],
            "GrpcUser (loadtests/)": locust + harness + ["GrpcUser"],
            "wrk -t1": ["wrk", "-t1", f"-c{args.users}", f"-d{args.seconds:g}s", "-s", str(work / "post.lua"), standin.rest_url + PATH]
            if shutil.which("wrk") else None,
        }
        print(f"stand-in at {standin.rest_url} / {standin.grpc_target}; {args.users} users, {args.seconds:g} s each, closed loop, "
              f"{args.rounds} rounds; load average {psutil.getloadavg()[0]:.1f} on {psutil.cpu_count()} cores", flush=True)
        for round_ in range(1, args.rounds + 1):
            for name, command in generators.items():
                result = measure(command, standin.rest_url, work) if command else None
                print(f"  round {round_} {name}: " + (f"{result.rps:.0f} req/s at {result.cpu_percent:.0f} % CPU" if result else
                                                      "wrk not installed (apt-get install wrk)"), flush=True)
                if result is not None and (best.get(name) is None or result.rps_per_core > best[name].rps_per_core):
                    best[name] = result
                best.setdefault(name, None)
    bare = best["bare FastHttpUser"]
    print(f"\n{'generator (best round)':<24}{'requests/s':>12}{'CPU % of a core':>17}{'CPU us/request':>16}{'req/s per core':>16}"
          f"{'vs bare':>9}")
    for name, result in best.items():
        if result is None:
            print(f"{name:<24}{'n/a: apt-get install wrk':>36}")
            continue
        print(f"{name:<24}{result.rps:>12.0f}{result.cpu_percent:>17.0f}{result.cpu_us_per_request:>16.0f}{result.rps_per_core:>16.0f}"
              f"{result.rps_per_core / bare.rps_per_core:>9.0%}")
    rest = best["RestUser (loadtests/)"]
    ratio = rest.rps_per_core / bare.rps_per_core
    print(f"\nRestUser: {ratio:.0%} of the bare FastHttpUser's requests/s per core of generator CPU: "
          f"{'meets' if ratio >= 0.8 else 'misses'} the target (within 20 %). Raw requests/s: {rest.rps / bare.rps:.0%}.")
    print("The stand-in shares the machine's cores with the generator (and any neighbours), so raw requests/s are lower bounds.")


if __name__ == "__main__":
    main()
