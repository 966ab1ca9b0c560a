"""Run the stand-in as a local process, as the tests, the load tier and `make bench-load` do.

`running(...)` starts `python -m tfserving_harness.standin` with tensorflow_model_server flags on
free loopback ports, waits for the line the real server logs last (`Exporting HTTP/REST API at:`),
and stops the process by its PID on exit. `demo_models(...)` writes the demo model and a
models.config for it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

READY_LINE = re.compile(r"Exporting HTTP/REST API at:localhost:(\d+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Running:
    process: subprocess.Popen
    rest_port: int
    grpc_port: int
    log: list[str] = field(default_factory=list)

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def output(self) -> str:
        return "".join(self.log)

    def set_mode(self, **changes: float) -> dict:
        """The stand-in-only `POST /standin/mode` (needs TFS_STANDIN_MODE_ENDPOINT=1)."""
        import requests

        return requests.post(f"{self.rest_url}/standin/mode", json=changes, timeout=5).json()

    def wait_for_log(self, pattern: str, timeout: float = 30.0) -> str:
        """The first log line matching `pattern`, waiting up to `timeout` s for it."""
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in list(self.log):
                if compiled.search(line):
                    return line
            time.sleep(0.05)
        raise TimeoutError(f"the stand-in did not log /{pattern}/ within {timeout:.0f} s; its log ends:\n{self.output[-3000:]}")


def _drain(stream, sink: list[str]) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)


@contextlib.contextmanager
def running(flags: list[str], *, env: dict[str, str] | None = None, timeout: float = 90.0, rest: bool = True) -> Iterator[Running]:
    """The stand-in with `flags` (no --port/--rest_api_port: those are chosen here)."""
    grpc_port, rest_port = free_port(), free_port()
    command = [sys.executable, "-m", "tfserving_harness.standin", f"--port={grpc_port}"]
    if rest:
        command.append(f"--rest_api_port={rest_port}")
    process = subprocess.Popen(command + flags, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})
    handle = Running(process, rest_port, grpc_port)
    threading.Thread(target=_drain, args=(process.stdout, handle.log), daemon=True).start()
    try:
        if rest:
            deadline = time.monotonic() + timeout
            print(f"waiting up to {timeout:.0f} s for the TF Serving stand-in to load its models and open its ports", file=sys.stderr)
            while not any(READY_LINE.search(line) for line in handle.log):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the TF Serving stand-in did not open its REST port within {timeout:.0f} s (exit code "
                                       f"{process.poll()}); its log ends:\n{handle.output[-3000:]}")
                time.sleep(0.05)
        yield handle
    finally:
        if process.poll() is None:
            # SIGKILL: the server, like tensorflow_model_server, has no SIGTERM handler; outside a
            # container (not PID 1) SIGTERM would kill it too, but it would not be graceful either.
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def model_entry(name: str, base_path: str | os.PathLike, *, policy: str = "all {}", labels: dict[str, int] | None = None) -> str:
    """One `config { ... }` block of a model_config_list."""
    label_lines = "".join(f'    version_labels {{ key: "{k}" value: {v} }}\n' for k, v in (labels or {}).items())
    return (f'  config {{\n    name: "{name}"\n    base_path: "{base_path}"\n    model_platform: "tensorflow"\n'
            f"    model_version_policy {{ {policy} }}\n{label_lines}  }}\n")


def models_config(*entries: str) -> str:
    return "model_config_list {\n" + "".join(entries) + "}\n"


@contextlib.contextmanager
def demo_models(versions=(1, 2), *, labels: dict[str, int] | None = None) -> Iterator[Path]:
    """A folder with the demo model's versions under half_plus_two/ and a models.config serving all of
    them (with `labels`); yields the models.config path."""
    from .. import demo_model

    with tempfile.TemporaryDirectory(prefix="tfs-standin-") as folder:
        base = Path(folder) / demo_model.MODEL_NAME
        demo_model.build(base, versions)
        config = Path(folder) / "models.config"
        config.write_text(models_config(model_entry(demo_model.MODEL_NAME, base, labels=labels)))
        yield config


#: What the load tier runs: enough gRPC threads for its users (the binary's default, 4 x CPUs, would
#: refuse the 8th concurrent call on 2 cores), metrics on at TF Serving's default path.
LOAD_TIER_FLAGS = ["--grpc_max_threads=256", "--rest_api_num_threads=16", "--allow_version_labels_for_unavailable_models=true"]


@contextlib.contextmanager
def load_standin(*, service_time_ms: float = 0.0, concurrency: int = 0, error_rate: float = 0.0, slow_ms: float = 0.0,
                 timeout: float = 90.0) -> Iterator[Running]:
    """The stand-in the load tier and `make bench-load` use: the demo model's versions 1 and 2 with
    labels stable=1 and canary=2, metrics on, and the stand-in-only knobs (`knobs.py`) set, with
    `POST /standin/mode` on."""
    with demo_models(labels={"stable": 1, "canary": 2}) as config:
        monitoring = config.parent / "monitoring.config"
        monitoring.write_text('prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }\n')
        knobs = {"TFS_STANDIN_SERVICE_TIME_MS": str(service_time_ms), "TFS_STANDIN_CONCURRENCY": str(concurrency),
                 "TFS_STANDIN_ERROR_RATE": str(error_rate), "TFS_STANDIN_SLOW_MS": str(slow_ms), "TFS_STANDIN_MODE_ENDPOINT": "1"}
        flags = [f"--model_config_file={config}", f"--monitoring_config_file={monitoring}", *LOAD_TIER_FLAGS]
        with running(flags, env=knobs, timeout=timeout) as handle:
            yield handle
