"""Render guard: proof that a refactor of the chart's templates changes no rendered byte.

`record` renders the defaults and every ci/ scenario with the pinned Helm 3.17 binary at the oldest
and newest supported Kubernetes version and writes one file per scenario and version (helm's
stdout, or its stderr when the chart refuses the values, e.g. a scenario below its
min-kube-version); `compare` renders again and diffs against a recorded directory. A few extra
scenarios render the CRD-backed features with their APIs served (`--api-versions`) instead of
forced, so capability gates are covered too.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import yaml

from . import helm
from .paths import chart_dir, ci_values_files

#: The optional APIs the chart gates on, as `helm template --api-versions` takes them.
CRD_APIS = (
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
    "keda.sh/v1alpha1/ScaledObject",
    "autoscaling.k8s.io/v1/VerticalPodAutoscaler",
    "gateway.networking.k8s.io/v1/HTTPRoute",
    "gateway.networking.k8s.io/v1/GRPCRoute",
)


@dataclass(frozen=True)
class Scenario:
    """One render: values files, values on stdin (win over the files), and served APIs."""

    name: str
    values_files: tuple[Path, ...] = ()
    values: dict = field(default_factory=dict)
    api_versions: tuple[str, ...] = ()


def _unforced(values_file: Path) -> dict:
    """A scenario's `force: true` values turned off, so the APIs must come from --api-versions."""
    def walk(node):
        if isinstance(node, dict):
            out = {key: walk(value) for key, value in node.items() if isinstance(value, dict) or key == "force"}
            if "force" in out:
                out["force"] = False
            return {key: value for key, value in out.items() if value != {}}
        return node
    return walk(yaml.safe_load(values_file.read_text()) or {})


def scenarios() -> list[Scenario]:
    files = ci_values_files()
    found = [Scenario("defaults")] + [Scenario(path.name.removesuffix("-values.yaml"), (path,)) for path in files]
    for path in files:
        unforced = _unforced(path)
        if unforced:
            found.append(Scenario(path.name.removesuffix("-values.yaml") + "+crds", (path,), unforced, CRD_APIS))
    return found


def render(scenario: Scenario, kube_version: str) -> str:
    """helm's stdout, or `FAILED:` and its stderr when the render is refused."""
    command = helm._template_command([str(f) for f in scenario.values_files], helm.DEFAULT_RELEASE, helm.DEFAULT_NAMESPACE,
                                     kube_version, scenario.api_versions, chart_dir())
    result = helm.run_helm(command, stdin=yaml.safe_dump(scenario.values), check=False)
    return result.stdout if result.returncode == 0 else f"FAILED (exit {result.returncode}):\n{result.stderr}"


def file_name(scenario: Scenario, kube_version: str) -> str:
    return f"{scenario.name}@{kube_version}.yaml"


def render_all(kube_versions: Sequence[str] = helm.SUPPORTED_KUBE_VERSIONS) -> dict[str, str]:
    return {file_name(s, v): render(s, v) for s in scenarios() for v in kube_versions}


def record(directory: Path, rendered: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.yaml"):
        stale.unlink()
    for name, text in rendered.items():
        (directory / name).write_text(text)


def diff(recorded: dict[str, str], rendered: dict[str, str]) -> list[str]:
    """Unified diff lines between two {file name: text} maps; a file on one side only is all diff."""
    lines: list[str] = []
    for name in sorted(recorded.keys() | rendered.keys()):
        before, after = recorded.get(name), rendered.get(name)
        if before == after:
            continue
        lines += (line if line.endswith("\n") else line + "\n" for line in difflib.unified_diff(
            (before or "").splitlines(True), (after or "").splitlines(True),
            f"recorded/{name}" if before is not None else "/dev/null", f"rendered/{name}" if after is not None else "/dev/null"))
    return lines


def load(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(directory.glob("*.yaml"))}


def changed_files(lines: Iterable[str]) -> list[str]:
    return [line.split("/", 1)[1].strip() for line in lines if line.startswith("+++ ")]
