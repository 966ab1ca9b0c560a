"""`make bench-load`: requests/s one Locust process produces with the REST user and the gRPC user of
loadtests/, next to a bare FastHttpUser (the same POST, no checks, no pacing) and wrk, all against
the TF Serving stand-in (no capacity limit, no service time) in the same run, plus each generator's
CPU. Target: the REST user within 20 % of the bare FastHttpUser. A benchmark, not a test: it prints.

    make bench-load BENCH_ARGS="--seconds 20 --users 32"
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tfserving_harness.load.standin import subprocess_standin
from tfserving_harness.paths import REPO_ROOT

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


def _timed(command: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, float]:
    """(result, wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return done, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def harness_user(user: str, standin, args, work: Path) -> tuple[float, float]:
    report_dir = work / user
    done, wall, cpu = _timed([sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "loadtests"), "--headless", user,
                              "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds + args.warmup:g}s", "--warmup", str(args.warmup),
                              "-H", standin.rest_url, "--grpc-target", standin.grpc_target, "--report-dir", str(report_dir),
                              "--metrics-url", "none", "--stop-timeout", "1"], work)
    summary = json.loads((report_dir / "summary.json").read_text())
    if summary["client"]["failures"]:
        raise SystemExit(f"{user}: {summary['client']['failures']} failures: {summary['client']['failures_by_reason']}")
    return summary["client"]["achieved_rps"], 100 * cpu / wall


def bare_user(standin, args, work: Path) -> tuple[float, float]:
    locustfile = work / "bare_locustfile.py"
    locustfile.write_text(BARE_LOCUSTFILE)
    done, wall, cpu = _timed([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(args.users),
                              "-r", str(args.users), "-t", f"{args.seconds + args.warmup:g}s", "-H", standin.rest_url,
                              "--json-file", str(work / "bare"), "--stop-timeout", "1", "--reset-stats"], work)
    (entry,) = json.loads((work / "bare.json").read_text())
    seconds = entry["last_request_timestamp"] - entry["start_time"]
    return entry["num_requests"] / seconds, 100 * cpu / wall


def wrk(standin, args, work: Path) -> tuple[float, float] | None:
    if shutil.which("wrk") is None:
        return None
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT)
    done, wall, cpu = _timed(["wrk", "-t1", f"-c{args.users}", f"-d{args.seconds:g}s", "-s", str(script), standin.rest_url + PATH], work)
    rate = next(float(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("Requests/sec:"))
    return rate, 100 * cpu / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per generator")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--users", type=int, default=32, help="Locust users / wrk connections (closed loop)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all generators, interleaved; the best round counts")
    args = parser.parse_args()
    generators = {
        "bare FastHttpUser": bare_user,
        "RestUser (loadtests/)": lambda standin, args, work: harness_user("RestUser", standin, args, work),
        "GrpcUser (loadtests/)": lambda standin, args, work: harness_user("GrpcUser", standin, args, work),
        "wrk -t1": wrk,
    }
    best: dict[str, tuple[float, float] | None] = {}
    with tempfile.TemporaryDirectory() as tmp, subprocess_standin() as standin:
        work = Path(tmp)
        print(f"stand-in at {standin.rest_url} / {standin.grpc_target}; {args.users} users, {args.seconds:g} s each, closed loop, "
              f"{args.rounds} rounds", flush=True)
        for round_ in range(1, args.rounds + 1):
            for name, measure in generators.items():
                result = measure(standin, args, work)
                print(f"  round {round_} {name}: {'wrk not installed (apt-get install wrk)' if result is None else f'{result[0]:.0f} req/s'}",
                      flush=True)
                if result is not None and (best.get(name) is None or result[0] > best[name][0]):
                    best[name] = result
                best.setdefault(name, None)
    rows = list(best.items())
    bare = rows[0][1][0]
    print(f"\n{'generator':<24}{'requests/s':>12}{'CPU % (one core = 100)':>26}{'vs bare':>10}")
    for name, result in rows:
        if result is None:  # wrk missing
            print(f"{name:<24}{'n/a: apt-get install wrk':>36}")
            continue
        rate, cpu = result
        print(f"{name:<24}{rate:>12.0f}{cpu:>26.0f}{rate / bare:>10.0%}")
    rest = rows[1][1][0]
    verdict = "meets" if rest >= 0.8 * bare else "misses"
    print(f"\nRestUser at {rest / bare:.0%} of the bare FastHttpUser: {verdict} the target (within 20 %).")
    print("CPU counts the generator process only; the stand-in runs on the same cores, so every figure is a lower bound.")


if __name__ == "__main__":
    main()
