"""A real OCI registry on 127.0.0.1: Debian's `docker-registry` (CNCF distribution) with a config
of its own (the packaged /etc/docker/registry/config.yml turns on auth and listens on :5000),
storage in a temporary directory, optional htpasswd (bcrypt) auth. Used by the publishing tier."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from . import local_process

BINARY = "docker-registry"
INSTALL_HINT = "install Debian's docker-registry, gnupg and apache2-utils (apt-get install -y docker-registry gnupg apache2-utils)"


def htpasswd_line(username: str, password: str) -> str:
    """A bcrypt entry, the only hash distribution's htpasswd auth accepts (apache2-utils' htpasswd -B)."""
    result = subprocess.run(["htpasswd", "-nbB", username, password], capture_output=True, text=True, check=True)
    return result.stdout.strip()


@dataclass
class LocalRegistry:
    """Start with `start()`, stop with `stop()`; `stop()` then `start()` keeps the stored content."""

    username: str | None = None
    password: str | None = None
    port: int = field(default_factory=local_process.free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tfs-registry-")))
    process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "registry.log"

    def _config(self) -> dict:
        config = {
            "version": 0.1,
            "log": {"level": "info"},
            "storage": {"filesystem": {"rootdirectory": str(self.root / "storage")}, "delete": {"enabled": True}},
            "http": {"addr": self.host},
        }
        if self.username:
            htpasswd = self.root / "htpasswd"
            htpasswd.write_text(htpasswd_line(self.username, self.password or "") + "\n")
            config["auth"] = {"htpasswd": {"realm": "tfs-test", "path": str(htpasswd)}}
        return config

    def start(self, timeout: float = 20) -> LocalRegistry:
        config_path = self.root / "config.yml"
        config_path.write_text(yaml.safe_dump(self._config()))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([BINARY, "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{BINARY} exited with {self.process.returncode}; its log:\n{self.log_path.read_text()[-2000:]}")
            try:
                # /v2/ answers 200 without auth and 401 with it: either way the registry is up.
                if requests.get(f"http://{self.host}/v2/", timeout=1).status_code in (200, 401):
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{BINARY} did not answer on {self.host} within {timeout:.0f}s; its log:\n{self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        local_process.stop(self.process, timeout=10)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
