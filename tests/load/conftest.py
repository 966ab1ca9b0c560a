"""Load tier: the real locustfiles (`locust -f loadtests/`) run headless against the TF Serving
stand-in (tfserving_harness.standin, real TensorFlow) on loopback. Serial (no xdist): it measures."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tfserving_harness.local_process import free_port
from tfserving_harness.paths import REPO_ROOT
from tfserving_harness.standin.launch import load_standin


@dataclass
class LocustRun:
    returncode: int
    stdout: str
    stderr: str
    report_dir: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def summary(self) -> dict:
        return json.loads((self.report_dir / "summary.json").read_text())

    @property
    def last_line(self) -> str:
        return self.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def standin():
    """A stand-in with no capacity limit: threshold and payload tests measure the generator path."""
    with load_standin() as running:
        yield running


@pytest.fixture
def locust(tmp_path):
    return locust_runner(tmp_path)


@pytest.fixture(scope="module")
def module_locust(tmp_path_factory):
    """`locust` for module-scoped fixtures: a baseline run the module's tests share."""
    return locust_runner(tmp_path_factory.mktemp("locust"))


def locust_runner(workdir: Path):
    """Runs `locust -f loadtests/` headless in `workdir`: one process; or, with `processes=N`, Locust's
    `--processes N` (a master forking N workers); or, with `workers=N`, a `--master` and N `--worker`
    processes started apart, as on separate machines. The master listens on a free port: other
    sessions may run Locust on this machine too."""
    runs = iter(range(1, 100))

    def run(*args: str, users: int = 20, seconds: int = 3, warmup: float = 1, timeout: float = 90, processes: int = 0,
            workers: int = 0) -> LocustRun:
        report_dir = workdir / f"report-{next(runs)}"
        locust = [sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "loadtests")]
        command = [*locust, "--headless", "-u", str(users), "-t", f"{seconds}s", "--warmup", str(warmup),
                   "--report-dir", str(report_dir), "--stop-timeout", "1", *args]
        port = str(free_port())
        if processes:
            command += ["--processes", str(processes), "--master-bind-port", port, "--master-port", port]
        if not workers:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=workdir)
            return LocustRun(done.returncode, done.stdout, done.stderr, report_dir)
        master = subprocess.Popen([*command, "--master", "--expect-workers", str(workers), "--master-bind-port", port],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir)
        logs = [report_dir.with_name(f"{report_dir.name}-worker-{i}.log") for i in range(workers)]
        outputs = [log.open("w") for log in logs]
        started = [subprocess.Popen([*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", port],
                                    stdout=output, stderr=subprocess.STDOUT, cwd=workdir) for output in outputs]
        try:
            stdout, stderr = master.communicate(timeout=timeout)
            for worker in started:  # they quit when the master tells them to
                worker.wait(timeout=30)
        finally:
            for process in (master, *started):
                if process.poll() is None:
                    process.kill()
                    process.wait()
            for output in outputs:
                output.close()
        worker_output = "".join(f"\n--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
        return LocustRun(master.returncode, stdout, stderr + worker_output, report_dir)

    return run
