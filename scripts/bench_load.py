"""`make bench-load`: what one Locust process spends per request with the REST user and the gRPC user
of loadtests/, next to the same protocols without the harness (a bare FastHttpUser, a bare gRPC User
calling the stub), the protocol clients without Locust (geventhttpclient's POST; grpcio's stub on
gevent and on native threads) and wrk, all against the TF Serving stand-in (no capacity limit, no
service time) in the same run. Targets: the REST user within 20 % of the bare FastHttpUser, the gRPC
user within 20 % of the REST user, both in requests per CPU-second. A benchmark, not a test: it prints.

Every generator is measured the same way, from outside: twice a second the generator process's CPU
time (psutil: every thread, so gRPC's own threads count) and the stand-in's own request counter
(`:tensorflow:serving:request_count`); the steady window is where the counter grows, less a second
at each end (start-up, warm-up ramp and shutdown excluded). On a shared machine raw requests/s move
with the neighbours' load; CPU per request, and so requests per CPU-second, is the steadier figure
(the load average is printed before and after).

`--profile` then runs the REST and the gRPC user once more under py-spy (pinned in the `load`
extra): where the process's CPU went by thread, and the main thread's samples by what they were
doing (the kernel calls, gRPC's C core, its Python layer, gevent, Locust, the harness).

    make bench-load BENCH_ARGS="--seconds 20 --users 32 --rounds 3 --profile"
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
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
REQUEST_PBTXT = ('model_spec { name: "half_plus_two" signature_name: "serving_default" } inputs { key: "x" value { dtype: DT_FLOAT '
                 'tensor_shape { dim { size: 1 } dim { size: 1 } } float_val: 1.0 } }')

BARE_LOCUSTFILE = f'''
import time

import grpc
import grpc.experimental.gevent

grpc.experimental.gevent.init_gevent()
from google.protobuf import text_format
from locust import FastHttpUser, User, constant, task

from tfserving_harness.load import protos


class BareFastHttpUser(FastHttpUser):
    """The REST user's POST, no checks, no pacing."""

    wait_time = constant(0)

    @task
    def predict(self):
        self.client.post("{PATH}", data={BODY!r}, headers={{"Content-Type": "application/json"}})


class BareGrpcUser(User):
    """The gRPC user's Predict through the same stub, no interceptor, no checks, no pacing."""

    wait_time = constant(0)

    def on_start(self):
        api = protos.apis()
        self.stub = api.prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(self.host))
        self.request = text_format.Parse({REQUEST_PBTXT!r}, api.predict_pb2.PredictRequest())

    @task
    def predict(self):
        start = time.perf_counter()
        response = self.stub.Predict(self.request, timeout=30)
        self.environment.events.request.fire(request_type="grpc", name="Predict", response_time=(time.perf_counter() - start) * 1000,
                                             response_length=response.ByteSize(), exception=None, context={{}})
'''

PY_SPY = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")  # the venv's, when run by make
# The protocol clients alone, no Locust: N greenlets (or native threads) calling in a loop for S seconds.
CLIENT_ONLY = f'''
import sys, threading, time

mode, users, seconds, target = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
if mode != "grpc-threads":
    from gevent import monkey

    monkey.patch_all()
    import gevent
import grpc

if mode == "grpc-gevent":
    import grpc.experimental.gevent

    grpc.experimental.gevent.init_gevent()
from google.protobuf import text_format

from tfserving_harness.load import protos


def grpc_calls():
    api = protos.apis()
    stub = api.prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(target))
    request = text_format.Parse({REQUEST_PBTXT!r}, api.predict_pb2.PredictRequest())
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        stub.Predict(request, timeout=30)


def http_posts():
    from geventhttpclient import HTTPClient

    host, port = target.rsplit(":", 1)
    client = HTTPClient(host, int(port), concurrency=1)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        client.post("{PATH}", body={BODY!r}, headers={{"Content-Type": "application/json"}}).read()


work = http_posts if mode == "http" else grpc_calls
if mode == "grpc-threads":
    threads = [threading.Thread(target=work) for _ in range(users)]
    [t.start() for t in threads]
    [t.join() for t in threads]
else:
    gevent.joinall([gevent.spawn(work) for _ in range(users)])
'''

WRK_SCRIPT = f'wrk.method = "POST"\nwrk.body = {json.dumps(BODY)}\nwrk.headers["Content-Type"] = "application/json"\n'


@dataclass
class Result:
    rps: float
    cpu_percent: float  # of one core

    @property
    def per_cpu_second(self) -> float:
        return self.rps / (self.cpu_percent / 100) if self.cpu_percent else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_percent / 100 / self.rps * 1e6 if self.rps else 0.0


def served(rest_url: str) -> float:
    text = requests.get(f"{rest_url}/monitoring/prometheus/metrics", timeout=5).text
    return sum(v for (name, _), v in server_metrics.parse(text).items() if name == server_metrics.REQUEST_COUNT)


def measure(command: list[str], rest_url: str, cwd: Path, during=None) -> Result:
    """Runs a generator; `during(pid, seconds)` is called once its traffic is steady (the profiler)."""
    process = psutil.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples = []
    while process.poll() is None:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            break
        samples.append((time.monotonic(), times.user + times.system, served(rest_url)))
        if during is not None and len(samples) == 6:
            during(process.pid)
            during = None
        time.sleep(0.5)
    growing = [i for i in range(1, len(samples)) if samples[i][2] > samples[i - 1][2]]
    if len(growing) < 6:
        raise SystemExit(f"{command[0]}: no steady traffic measured (exit {process.returncode}): {process.stderr.read()[-2000:]!r}")
    first, last = samples[growing[0] + 2], samples[growing[-1] - 2]
    wall = last[0] - first[0]
    return Result((last[2] - first[2]) / wall, 100 * (last[1] - first[1]) / wall)


# --- --profile ------------------------------------------------------------------------------

def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of each thread group of a process: its main thread, gRPC's event engine, the rest."""
    tick = os.sysconf("SC_CLK_TCK")
    groups: dict[str, float] = collections.Counter()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        group = ("main thread (Locust, gevent, Python)" if tid == str(pid) else
                 "gRPC event engine threads (C core I/O)" if name.startswith("event_engine") else
                 "other threads (gevent's thread pool: gRPC completion-queue waits)")
        groups[group] += (int(fields[11]) + int(fields[12])) / tick
    return groups


SYSCALLS = re.compile(r"^(sendmsg|recvmsg|send|recv|read|write|writev|epoll_wait|epoll_ctl|poll|syscall|sem_post|sem_wait|"
                      r"pthread_cond_\w+|futex\w*|__lll_\w+|getpid|clock_gettime)\b")


def category(leaf: str) -> str:
    """What the main thread was doing in one sample, from its innermost frame (py-spy --native)."""
    name, _, where = leaf.partition(" (")
    if "cygrpc" in where:
        return "gRPC C core, called from Python (cygrpc)"
    if "libc.so" in where:
        return "kernel calls (send/recv, epoll, futex wake-ups)" if SYSCALLS.match(name) else "libc (other)"
    for prefix, label in (("grpc/", "gRPC's Python layer"), ("geventhttpclient", "geventhttpclient (FastHttpUser's HTTP client)"),
                          ("gevent/", "gevent"), ("greenlet", "gevent"),
                          ("locust/", "Locust"), ("tfserving_harness/", "the harness (users, pacing, window, checks)"),
                          ("google/protobuf", "protobuf"), ("_message", "protobuf")):
        if where.startswith(prefix) or prefix in where:
            return label
    return "other Python (threading, typing, contextlib, ...)" if ".py" in where else "other native"


def profile(name: str, pid: int, seconds: float, out: Path) -> None:
    """The thread split over `seconds` first (py-spy --native stops the process at each sample, which
    would skew it), then `seconds` of py-spy."""
    before = thread_cpu(pid)
    time.sleep(seconds)
    after = thread_cpu(pid)
    raw = out / f"{name.split()[0]}.pyspy.txt"
    subprocess.run([PY_SPY, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200", "--native", "--threads",
                    "--format", "raw", "--output", str(raw)], capture_output=True, check=True)
    spent = {group: after[group] - before.get(group, 0.0) for group in after}
    total = sum(spent.values())
    print(f"\n{name}: the process's CPU by thread ({total / seconds:.0%} of a core over {seconds:g} s)")
    for group, cpu in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {cpu / total:6.1%}  {group}")
    samples: dict[str, int] = collections.Counter()
    main = f"thread ({pid})"
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if frames[0] == main:
            samples[category(frames[-1])] += int(count)
    total_samples = sum(samples.values())
    print(f"  the main thread's {total_samples} samples (py-spy --native, innermost frame; flame data: {raw}):")
    for label, count in samples.most_common():
        print(f"  {count / total_samples:6.1%}  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of traffic per generator")
    parser.add_argument("--users", type=int, default=32, help="Locust users / wrk connections (closed loop)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all generators, interleaved; the best round counts")
    parser.add_argument("--profile", action="store_true", help="then profile the REST and gRPC users with py-spy")
    args = parser.parse_args()
    if args.profile and PY_SPY is None:
        raise SystemExit("--profile needs py-spy: make setup installs it (the load extra)")
    def locust(seconds: float) -> list[str]:
        return [sys.executable, "-m", "locust", "--headless", "-u", str(args.users), "-r", str(args.users), "-t", f"{seconds:g}s",
                "--stop-timeout", "1"]

    best: dict[str, Result | None] = {}
    with tempfile.TemporaryDirectory() as tmp, load_standin() as standin:
        work = Path(tmp)
        (work / "bare_locustfile.py").write_text(BARE_LOCUSTFILE)
        (work / "post.lua").write_text(WRK_SCRIPT)
        (work / "client_only.py").write_text(CLIENT_ONLY)
        harness = ["-f", str(REPO_ROOT / "loadtests"), "-H", standin.rest_url, "--grpc-target", standin.grpc_target,
                   "--warmup", "1", "--metrics-url", "none", "--report-dir", str(work / "report")]
        bare = ["-f", str(work / "bare_locustfile.py")]
        generators = {
            "bare FastHttpUser": [*bare, "-H", standin.rest_url, "BareFastHttpUser"],
            "RestUser (loadtests/)": [*harness, "RestUser"],
            "bare gRPC User": [*bare, "-H", standin.grpc_target, "BareGrpcUser"],
            "GrpcUser (loadtests/)": [*harness, "GrpcUser"],
        }
        commands = {name: locust(args.seconds) + arguments for name, arguments in generators.items()}
        client_only = [sys.executable, str(work / "client_only.py")]
        rest_target = standin.rest_url.removeprefix("http://")
        commands["geventhttpclient alone"] = [*client_only, "http", str(args.users), f"{args.seconds:g}", rest_target]
        commands["grpcio on gevent alone"] = [*client_only, "grpc-gevent", str(args.users), f"{args.seconds:g}", standin.grpc_target]
        commands["grpcio on threads alone"] = [*client_only, "grpc-threads", str(args.users), f"{args.seconds:g}", standin.grpc_target]
        commands["wrk -t1"] = (["wrk", "-t1", f"-c{args.users}", f"-d{args.seconds:g}s", "-s", str(work / "post.lua"), standin.rest_url + PATH]
                               if shutil.which("wrk") else None)
        print(f"stand-in at {standin.rest_url} / {standin.grpc_target}; {args.users} users, {args.seconds:g} s each, closed loop, "
              f"{args.rounds} rounds; load average {psutil.getloadavg()[0]:.1f} on {psutil.cpu_count()} cores", flush=True)
        for round_ in range(1, args.rounds + 1):
            for name, command in commands.items():
                result = measure(command, standin.rest_url, work) if command else None
                print(f"  round {round_} {name}: " + (f"{result.rps:.0f} req/s at {result.cpu_percent:.0f} % CPU, "
                                                      f"{result.cpu_us_per_request:.0f} us CPU/request" if result else
                                                      "wrk not installed (apt-get install wrk)"), flush=True)
                if result is not None and (best.get(name) is None or result.per_cpu_second > best[name].per_cpu_second):
                    best[name] = result
                best.setdefault(name, None)
        if args.profile:
            for name in ("RestUser (loadtests/)", "GrpcUser (loadtests/)"):  # long enough for both parts of the profile
                measure(locust(2 * args.seconds + 10) + generators[name], standin.rest_url, work,
                        during=lambda pid, name=name: profile(name, pid, args.seconds, Path(tempfile.gettempdir())))
    print(f"\n{'generator (best round)':<26}{'requests/s':>12}{'CPU % of a core':>17}{'CPU us/request':>16}{'req per CPU-s':>15}")
    for name, result in best.items():
        if result is None:
            print(f"{name:<26}{'n/a: apt-get install wrk':>36}")
            continue
        print(f"{name:<26}{result.rps:>12.0f}{result.cpu_percent:>17.0f}{result.cpu_us_per_request:>16.0f}{result.per_cpu_second:>15.0f}")

    def ratio(name: str, to: str) -> float:
        return best[name].per_cpu_second / best[to].per_cpu_second

    rest, grpc_ = ratio("RestUser (loadtests/)", "bare FastHttpUser"), ratio("GrpcUser (loadtests/)", "RestUser (loadtests/)")
    print(f"\nRestUser: {rest:.0%} of the bare FastHttpUser's requests per CPU-second: {'meets' if rest >= 0.8 else 'misses'} the target "
          "(within 20 %).")
    print(f"GrpcUser: {grpc_:.0%} of the RestUser's requests per CPU-second: {'meets' if grpc_ >= 0.8 else 'misses'} the target "
          f"(within 20 %). Of that, the harness: GrpcUser is {ratio('GrpcUser (loadtests/)', 'bare gRPC User'):.0%} of the bare gRPC "
          f"User; the protocol stack: the bare gRPC User is {ratio('bare gRPC User', 'bare FastHttpUser'):.0%} of the bare FastHttpUser.")
    alone = best["grpcio on threads alone"]
    print(f"A gRPC call costs more CPU than a whole RestUser request even without Locust and without gevent: grpcio's stub "
          f"{alone.cpu_us_per_request:.0f} us from native threads, {best['grpcio on gevent alone'].cpu_us_per_request:.0f} us on gevent "
          f"(its completion-queue waits run in gevent's thread pool), against {best['RestUser (loadtests/)'].cpu_us_per_request:.0f} us "
          f"for the RestUser and {best['geventhttpclient alone'].cpu_us_per_request:.0f} us for geventhttpclient's POST alone.")
    print(f"load average {psutil.getloadavg()[0]:.1f} at the end. The stand-in shares the machine's cores with the generator "
          "(and any neighbours), so raw requests/s are lower bounds.")


if __name__ == "__main__":
    main()
