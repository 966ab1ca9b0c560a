"""Publishing tier: a real OCI registry (Debian's docker-registry) on 127.0.0.1, a throwaway GPG key,
and `scripts/publish` end to end. Without the tools the tier skips, saying what to install; with
TFS_REQUIRE_PUBLISHING=1 (.ci/run) it fails instead."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tfserving_harness import publish
from tfserving_harness.local_registry import INSTALL_HINT, LocalRegistry
from tfserving_harness.paths import REPO_ROOT

TOOLS = ("docker-registry", "gpg", "gpgconf", "htpasswd")
USERNAME, PASSWORD = "publisher", "correct horse battery staple"
CHART = REPO_ROOT / "charts" / "tf-serving"
VERSION = str(publish.chart_metadata(CHART)["version"])


def options(registry_host: str, namespace: str, tmp_path, **kwargs) -> publish.Options:
    return publish.Options(registry=f"oci://{registry_host}/{namespace}", plain_http=True, workdir=tmp_path / "out", **kwargs)


def signing(key, verify_keyring=None) -> publish.Signing:
    return publish.Signing(key.name, key.secring, key.passphrase_file, verify_keyring or key.pubring)


@pytest.fixture(scope="session", autouse=True)
def publishing_tools():
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        reason = f"{', '.join(missing)} not on PATH: {INSTALL_HINT}"
        if os.environ.get("TFS_REQUIRE_PUBLISHING") == "1":
            pytest.fail(f"TFS_REQUIRE_PUBLISHING=1 and {reason}", pytrace=False)
        pytest.skip(reason)


@dataclass(frozen=True)
class Key:
    name: str
    secring: Path
    pubring: Path
    passphrase_file: Path


def _make_key(directory: Path, name: str) -> Key:
    """A passphrase-protected RSA key in Helm's legacy keyring format (secring.gpg/pubring.gpg)."""
    # Not under pytest's long tmp paths: gpg-agent's socket path must stay under ~108 bytes.
    home = Path(tempfile.mkdtemp(prefix="tfs-test-gpg-"))
    passphrase = directory / "passphrase"
    passphrase.write_text("throwaway passphrase\n")
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase-file", str(passphrase)]
    try:
        subprocess.run(gpg + ["--quick-gen-key", f"{name} <{name.lower().replace(' ', '-')}@example.invalid>", "rsa2048", "sign", "never"], check=True, capture_output=True)
        secring, pubring = directory / "secring.gpg", directory / "pubring.gpg"
        secring.write_bytes(subprocess.run(gpg + ["--export-secret-keys"], check=True, capture_output=True).stdout)
        pubring.write_bytes(subprocess.run(gpg + ["--export"], check=True, capture_output=True).stdout)
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    return Key(name, secring, pubring, passphrase)


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory) -> Key:
    return _make_key(tmp_path_factory.mktemp("signing-key"), "Chart Signer")


@pytest.fixture(scope="session")
def other_key(tmp_path_factory) -> Key:
    return _make_key(tmp_path_factory.mktemp("other-key"), "Someone Else")


@pytest.fixture(scope="module")
def registry():
    started = LocalRegistry().start()
    yield started
    started.remove()


@pytest.fixture(scope="module")
def auth_registry():
    started = LocalRegistry(username=USERNAME, password=PASSWORD).start()
    yield started
    started.remove()


@pytest.fixture(scope="session")
def small_chart(tmp_path_factory) -> Path:
    """The real chart with only its default ci/ scenario: the failure paths do not depend on the
    scenarios, and each publish then checks and renders 2 instead of 31 value sets."""
    chart = tmp_path_factory.mktemp("small") / "tf-serving"
    shutil.copytree(REPO_ROOT / "charts" / "tf-serving", chart)
    for scenario in (chart / "ci").glob("*-values.yaml"):
        if scenario.name != "default-values.yaml":
            scenario.unlink()
    return chart


@pytest.fixture
def epoch(monkeypatch):
    """The small chart is a copy outside git: its archive timestamps come from SOURCE_DATE_EPOCH."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    return 1764547200


class CutOnManifestPut:
    """A TCP proxy in front of a registry that drops the connection the moment a client starts
    writing a manifest (the step that creates the tag), after the blobs went up; with
    `stop_registry`, it also stops the registry: a registry that goes away in the middle of a push."""

    MANIFEST_PUT = re.compile(rb"PUT /v2/\S+/manifests/")

    def __init__(self, upstream: LocalRegistry, stop_registry: bool):
        self.upstream = upstream
        self.stop_registry = stop_registry
        self.cut = threading.Event()  # the manifest PUT was seen (set before the registry stops)
        self.stopped = threading.Event()  # the registry process has exited (or was left running)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream.port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool):
        tail = b""
        try:
            while data := source.recv(65536):
                if from_client and self.MANIFEST_PUT.search(tail + data):
                    self.cut.set()
                    if self.stop_registry:
                        self.upstream.stop()
                    self.stopped.set()
                    break
                tail = data[-256:]
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.close()
            except OSError:
                pass

    def close(self):
        self.listener.close()
