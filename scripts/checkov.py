#!/usr/bin/env python3
"""Checkov on the rendered chart: the defaults and ci/hardened-values.yaml, each rendered with
`helm template` into its own directory and scanned with `checkov -d DIR --framework kubernetes`.

Prints passed/failed per target and every failed check with its resource. A failed check is
accepted only when ACCEPTED lists it, with why it does not apply to a model server (the chart
README's security section says the same); anything else exits 1.

    make checkov            # creates .venv-checkov from requirements-checkov.txt, then runs this
    .venv/bin/python scripts/checkov.py --checkov .venv-checkov/bin/checkov [--namespace NS] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tfserving_harness import helm
from tfserving_harness.paths import chart_dir

TARGETS = {"defaults": [], "hardened": ["ci/hardened-values.yaml"]}

#: (check id, target or "*", resource name fragment) -> why it does not apply.
ACCEPTED = {
    ("CKV_K8S_43", "defaults", "Deployment."): "The defaults follow the chart's appVersion tag so that "
    "`helm upgrade` to a new chart moves the server; the hardened scenario (and any production values) sets image.digest.",
    ("CKV_K8S_15", "defaults", "Deployment."): "With a tag that never moves (the chart refuses "
    "`latest` and other moving tags) IfNotPresent pulls the same bytes; the hardened scenario pins a digest and sets Always.",
    ("CKV2_K8S_6", "defaults", "tf-serving.io/track-"): "No NetworkPolicy by default: the chart cannot know the clients (ingress controller, "
    "gateway, apps) nor the storage endpoints, and a default-deny policy would cut every one of them off; "
    "networkPolicy.enabled turns it on (the hardened scenario does).",
    ("CKV2_K8S_6", "*", "-test-"): "The `helm test` pod is deliberately outside the serving pods' NetworkPolicy (its default-deny "
    "egress would cut the test off); the policy admits exactly this pod to the REST port. It runs only during `helm test`.",
    ("CKV_K8S_8", "*", "-test-"): "The `helm test` pod runs a few wget calls and exits; a probe would "
    "only restart a check that already has a timeout per request (helmTest.timeoutSeconds).",
    ("CKV_K8S_9", "*", "-test-"): "The `helm test` pod: nothing sends it traffic, so readiness means nothing.",
}


def scan(checkov: str, target: str, values: list[str], namespace: str) -> dict:
    chart = chart_dir()
    with tempfile.TemporaryDirectory(prefix=f"checkov-{target}-") as directory:
        command = ["template", helm.DEFAULT_RELEASE, str(chart), "--namespace", namespace]
        for values_file in values:
            command += ["--values", str(chart / values_file)]
        Path(directory, "rendered.yaml").write_text(helm.run_helm(command).stdout)
        result = subprocess.run([checkov, "-d", directory, "--framework", "kubernetes", "-o", "json", "--quiet"], capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise SystemExit(f"checkov failed (exit {result.returncode}):\n{result.stderr}")
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in report["results"]["failed_checks"]]
    return {"target": target, "passed": report["summary"]["passed"], "failed": failed, "version": report["summary"]["checkov_version"]}


def why_accepted(check_id: str, target: str, resource: str) -> str | None:
    for (accepted_id, accepted_target, fragment), why in ACCEPTED.items():
        if accepted_id == check_id and accepted_target in ("*", target) and fragment in resource:
            return why
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkov", default=".venv-checkov/bin/checkov", help="the checkov executable (make checkov installs it)")
    parser.add_argument("--namespace", default="tf-serving", help="release namespace to render with (not `default`, which CKV_K8S_21 flags for every object)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    reports = [scan(args.checkov, target, values, args.namespace) for target, values in TARGETS.items()]
    unexplained = 0
    if args.json:
        print(json.dumps(reports, indent=2))
    for report in reports:
        print(f"checkov {report['version']} {report['target']}: {report['passed']} passed, {len(report['failed'])} failed", file=sys.stderr)
        for check_id, resource, name in report["failed"]:
            why = why_accepted(check_id, report["target"], resource)
            unexplained += why is None
            print(f"  {check_id} {resource}: {name} -- {'accepted: ' + why if why else 'NOT ACCEPTED: fix it or explain it in ACCEPTED'}", file=sys.stderr)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
