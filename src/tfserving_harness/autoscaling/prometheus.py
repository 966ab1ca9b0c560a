"""A real Prometheus on 127.0.0.1 for the test tier: Debian's `prometheus` package (2.42), its own
temporary directory (config, TSDB, log), a free port, the lifecycle API for config reloads.

It discovers targets through the real API server (`kubernetes_sd_configs` with `api_server` and the
kubeconfig's client certificate, as prometheus-operator writes them for a Prometheus object's
`apiserverConfig`) and scrapes pod IPs directly, which the host of k8s-local's real node reaches.
Scrape configs come from the release's ServiceMonitor/PodMonitor through `scrape_config`.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import requests
import yaml

from .. import local_process
from . import scrape_config

BINARY = "prometheus"
INSTALL_HINT = "install Debian's prometheus package (apt-get install -y --no-install-recommends prometheus; .ci/run does)"


def api_server_from_kubeconfig(kubeconfig: str | Path, directory: Path, context: str | None = None) -> scrape_config.ApiServer:
    """The kubeconfig's server, CA and client certificate, written to files for Prometheus' tls_config."""
    config = yaml.safe_load(Path(kubeconfig).read_text())
    context_name = context or config.get("current-context")
    ctx = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == ctx["user"])
    directory.mkdir(parents=True, exist_ok=True)

    def material(data_key: str, file_key: str, source: Mapping, name: str) -> str:
        if source.get(file_key):
            return str(Path(source[file_key]).resolve())
        if not source.get(data_key):
            raise ValueError(f"kubeconfig {kubeconfig}: context {context_name} has neither {data_key} nor {file_key}: Prometheus needs "
                             "a client certificate to discover pods (token authentication is not wired here)")
        path = directory / name
        path.write_bytes(base64.b64decode(source[data_key]))
        path.chmod(0o600)
        return str(path)

    return scrape_config.ApiServer(
        host=cluster["server"],
        ca_file=material("certificate-authority-data", "certificate-authority", cluster, "ca.crt"),
        cert_file=material("client-certificate-data", "client-certificate", user, "client.crt"),
        key_file=material("client-key-data", "client-key", user, "client.key"),
    )


@dataclass
class LocalPrometheus:
    """`start()`, then `set_scrape_configs(...)` (reloads), `query(...)`, `targets()`; `stop()` removes everything."""

    port: int = field(default_factory=local_process.free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tfs-prometheus-")))
    process: subprocess.Popen | None = None
    scrape_configs: list[dict] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "prometheus.log"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else "(no log)"

    def _write_config(self) -> None:
        (self.root / "prometheus.yml").write_text(yaml.safe_dump(scrape_config.prometheus_config(self.scrape_configs), sort_keys=False))

    def start(self, timeout: float = 60, progress: Callable[[str], None] = print) -> LocalPrometheus:
        if shutil.which(BINARY) is None:
            raise FileNotFoundError(f"no `{BINARY}` on PATH: {INSTALL_HINT}")
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_config()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [BINARY, f"--config.file={self.root / 'prometheus.yml'}", f"--storage.tsdb.path={self.root / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle", "--log.level=info"],
                stdout=log, stderr=subprocess.STDOUT)
        started = time.monotonic()
        progress(f"waiting for Prometheus on {self.url} (log {self.log_path})")
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{BINARY} exited with {self.process.returncode}; its log:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    progress(f"Prometheus ready after {time.monotonic() - started:.1f} s")
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{BINARY} was not ready on {self.url} within {timeout:.0f} s; its log:\n{self.log_tail()}")

    def set_scrape_configs(self, configs: list[dict]) -> None:
        """Replace the scrape configs and reload (POST /-/reload, the lifecycle API); a config Prometheus refuses raises."""
        self.scrape_configs = list(configs)
        self._write_config()
        answer = requests.post(f"{self.url}/-/reload", timeout=30)
        if answer.status_code != 200:
            raise RuntimeError(f"Prometheus refused the new config ({answer.status_code}): {answer.text.strip()}\n{self.log_tail()}")

    def api(self, path: str, **params: Any) -> Any:
        answer = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        body = answer.json()
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus /api/v1/{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        """An instant query at now (or at Unix time `at`): the vector's samples (`metric`, `value`)."""
        data = self.api("query", query=expr, **({"time": at} if at is not None else {}))
        if data["resultType"] != "vector":
            raise RuntimeError(f"expected a vector from {expr!r}, got {data['resultType']}")
        return data["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        """A range query: the matrix's series (`metric`, `values` as [Unix time, "value"] pairs)."""
        return self.api("query_range", query=expr, start=start, end=end, step=step)["result"]

    def targets(self) -> list[dict]:
        return self.api("targets", state="active")["activeTargets"]

    def stop(self) -> None:
        local_process.stop(self.process, timeout=15)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
