#!/usr/bin/env python3
"""Check your values file(s) the way the chart's unit tier checks its own scenarios.

Renders charts/tf-serving with the given values and runs: the Kubernetes schemas (strict) for the
chosen Kubernetes version, the CRD schemas for custom resources, TF Serving config parsing with
the server's own protos, and the chart's invariants (known server flags, ports and mounts that
agree, Services that select pods). Prints each problem with its object and field; exit 1 when
there are problems, 2 when the chart does not render at all.

    .venv/bin/python scripts/check_values.py --values my-values.yaml [--values more.yaml]
        [--kube-version 1.31.0] [--api-versions monitoring.coreos.com/v1] [--release NAME] [--namespace NS]
        [--pod-security restricted] [--renderer sdk|binary]

Either renderer works: Helm 4 in-process (`sdk`, the default when helm-python-sdk is installed) or
the Helm 3.17 binary (`binary`); the chart's unit tier requires both to render the same objects.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tfserving_harness import helm
from tfserving_harness.values_check import check_values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    failed = any(report.problems for report in reports)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
