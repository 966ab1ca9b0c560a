"""Check values files the way `scripts/check_values.py` does, for any caller (the script, `scripts/publish`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from . import checks, helm, pod_security
from .problems import Problem


@dataclass(frozen=True)
class VersionReport:
    """The outcome for one Kubernetes version: how many objects were checked and what is wrong."""

    kube_version: str
    objects: int
    problems: tuple[Problem, ...]


def check_values(
    values_files: Sequence[str | Path],
    *,
    kube_versions: Iterable[str] = helm.SUPPORTED_KUBE_VERSIONS,
    api_versions: Iterable[str] = (),
    release: str = helm.DEFAULT_RELEASE,
    namespace: str = helm.DEFAULT_NAMESPACE,
    pod_security_profile: str | None = None,
    chart: str | Path | None = None,
    renderer: str | None = None,
) -> list[VersionReport]:
    """Render once per Kubernetes version and run every check; raises helm.RenderError (with
    `kube_version` set) when the chart does not render. `renderer` as in helm.render_chart."""
    reports = []
    for kube_version in kube_versions:
        try:
            docs = helm.render_chart(
                values_files=values_files,
                name=release,
                namespace=namespace,
                kube_version=kube_version,
                api_versions=api_versions,
                chart=chart,
                use_cache=False,
                renderer=renderer,
            )
        except helm.RenderError as error:
            error.kube_version = kube_version
            raise
        problems = checks.check_documents(docs, kube_version)
        if pod_security_profile == "restricted":
            problems += pod_security.restricted_problems(docs)
        reports.append(VersionReport(kube_version, len(docs), tuple(problems)))
    return reports
