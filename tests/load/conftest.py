"""Load tier: the real locustfiles (`locust -f loadtests/`) run headless against the TF Serving
stand-in (tfserving_harness.standin, real TensorFlow) on loopback. Serial (no xdist): it measures."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

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
    def run(*args: str, users: int = 20, seconds: int = 3, warmup: float = 1, timeout: float = 90) -> LocustRun:
        report_dir = tmp_path / "report"
        command = [sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "loadtests"), "--headless", "-u", str(users),
                   "-t", f"{seconds}s", "--warmup", str(warmup), "--report-dir", str(report_dir), "--stop-timeout", "1", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
        return LocustRun(done.returncode, done.stdout, done.stderr, report_dir)

    return run
