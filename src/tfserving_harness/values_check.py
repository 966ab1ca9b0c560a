"""Check values files before `helm install`: `scripts/check_values.py` and `scripts/publish` run this.

For each Kubernetes version asked for (default: the oldest and newest the chart supports) it
renders the chart with the values files, exactly as `helm template` would, and reports:

1. Whatever makes the chart refuse the values (exit 2): values.schema.json (types, unknown keys,
   formats) and the chart's own cross-field rules, with the value path in the message.
2. Kubernetes' strict OpenAPI schemas for that version, for every built-in object the chart
   renders (unknown and misspelt fields, wrong types), and the vendored CRD schemas, closed, for
   custom resources (ServiceMonitor, PodMonitor, PrometheusRule, HTTPRoute, GRPCRoute,
   ScaledObject, VPA).
3. What the API server refuses beyond those schemas (`api_rules`): quantities that do not parse
   and requests above limits (compared by value: 3000Mi > 2Gi), toleration operators and effects,
   label keys and values, CIDRs and their `except` ranges, int-or-percent fields (PDB, rolling
   update), duplicate Service ports, container ports and mount paths, object, Ingress host and
   Secret names.
4. TF Serving: every server flag exists in the image's release and is given once, flag
   combinations the server refuses or ignores, and models.config, batching and monitoring config
   parsed with TF Serving's own protos (a batching config the server would refuse to load with).
5. The chart's invariants: container ports agree with the flags, probes name declared ports,
   Services select pods on declared ports, volume mounts have volumes, HPAs/KEDA/VPA target a
   rendered Deployment with one replica owner, no two objects share an identity, every PromQL
   expression parses and reads metrics that exist; and the traffic relationships the values
   imply (`relationships`): each Service selects exactly its tracks, each PDB its own track,
   canary Ingresses mirror their primary and reach `canary.track`, route weights equal
   `canary.weight`.
6. With `--pod-security restricted`: the pods against that Pod Security Standard.

Exit 0 when nothing is found, 1 when problems are (each printed with its object, field and
check), 2 when the chart does not render (helm's message, naming the value path).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from . import checks, helm, pod_security
from .problems import Problem
from .values import effective_values


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
    values = effective_values(values_files, chart=chart)
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
                renderer=renderer,
            )
        except helm.RenderError as error:
            error.kube_version = kube_version
            raise
        problems = checks.check_documents(docs, kube_version, values=values, release=release)
        if pod_security_profile == "restricted":
            problems += pod_security.restricted_problems(docs)
        reports.append(VersionReport(kube_version, len(docs), tuple(problems)))
    return reports


def main(argv: list[str] | None = None) -> int:
    """The command line of scripts/check_values.py."""
    parser = argparse.ArgumentParser(description="Check your values file(s) the way the chart's unit tier checks its own scenarios.")
    parser.add_argument("--values", "-f", action="append", default=[], help="values file (repeatable, later wins)")
    parser.add_argument("--kube-version", action="append", help=f"Kubernetes version(s) to check against (default: {', '.join(helm.SUPPORTED_KUBE_VERSIONS)})")
    parser.add_argument("--api-versions", "-a", action="append", default=[], help="extra API versions the cluster serves (gates CRD-backed objects)")
    parser.add_argument("--release", default=helm.DEFAULT_RELEASE, help="release name")
    parser.add_argument("--namespace", default=helm.DEFAULT_NAMESPACE, help="release namespace")
    parser.add_argument(
        "--pod-security",
        choices=["restricted"],
        help="also check the pods against this Pod Security Standards profile (as a namespace that enforces it would)",
    )
    parser.add_argument("--renderer", choices=helm.RENDERERS, help="Helm 4 in-process (sdk) or the helm 3.17 binary (default: TFS_RENDERER, else sdk)")
    args = parser.parse_args(argv)
    for values_file in args.values:
        # helm reads it by path, so it must be a regular file, not a pipe.
        if not Path(values_file).is_file():
            print(f"values file {values_file} is not a readable regular file; pass the path of a YAML file", file=sys.stderr)
            return 2
    try:
        reports = check_values(
            args.values,
            kube_versions=args.kube_version or helm.SUPPORTED_KUBE_VERSIONS,
            api_versions=args.api_versions,
            release=args.release,
            namespace=args.namespace,
            pod_security_profile=args.pod_security,
            renderer=args.renderer,
        )
    except helm.RenderError as error:
        print(f"Kubernetes {error.kube_version}: the chart does not render with these values:\n{error.stderr.strip()}", file=sys.stderr)
        return 2
    for report in reports:
        for problem in report.problems:
            print(f"Kubernetes {report.kube_version}: {problem}")
        print(f"Kubernetes {report.kube_version}: {report.objects} objects checked, {len(report.problems)} problem(s)", file=sys.stderr)
    return 1 if any(report.problems for report in reports) else 0
