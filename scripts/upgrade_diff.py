#!/usr/bin/env python3
"""What an upgrade from the previous chart version changes: renders the previous version (its tag,
or the parent of the commit that bumped the version; tfserving_harness.cluster.previous_chart_commit)
and the working tree with the same values, and prints a unified diff per object as Markdown (the
upgrade workflow appends it to the job summary). Immutable-field changes are listed first.

    .venv/bin/python scripts/upgrade_diff.py [--values ci/default-values.yaml ...] >> "$GITHUB_STEP_SUMMARY"
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile

import yaml

from tfserving_harness import helm, manifests, upgrade
from tfserving_harness.cluster import export_chart, previous_chart_commit
from tfserving_harness.frozen import thaw
from tfserving_harness.paths import chart_dir, ci_values_files


def by_identity(docs):
    return {manifests.ref(d): yaml.safe_dump(thaw(d), sort_keys=True) for d in docs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", action="append", help="values files (default: every ci/ scenario, one diff each)")
    args = parser.parse_args(argv)
    revision, version = previous_chart_commit()
    previous = export_chart(revision, tempfile.mkdtemp(prefix="previous-chart-"))
    print(f"## Upgrade from tf-serving {version} ({revision}) to the working tree\n")
    for values_file in args.values or [str(p) for p in ci_values_files()]:
        try:
            old = helm.render_chart(values_files=[values_file], chart=previous)
        except helm.RenderError as error:
            print(f"### {values_file}\n\nthe previous version does not render these values: `{error.stderr.strip().splitlines()[0]}`\n")
            continue
        try:
            new = helm.render_chart(values_files=[values_file], chart=chart_dir())
        except helm.RenderError as error:
            print(f"### {values_file}\n\n**refused by this version** (see Upgrading in the chart README): `{error.stderr.strip().splitlines()[0]}`\n")
            continue
        report = upgrade.compare(old, new)
        before, after = by_identity(old), by_identity(new)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        print(f"### {values_file}: {len(changed)} object(s) change\n")
        print(f"- {report}" if report.safe else "\n".join(f"- **breaks the upgrade**: {line}" for line in str(report).splitlines()))
        if changed:
            print("\n<details><summary>rendered diff</summary>\n\n```diff")
            for key in changed:
                sys.stdout.writelines(difflib.unified_diff((before.get(key) or "").splitlines(True), (after.get(key) or "").splitlines(True),
                                                           f"{version}/{key}", f"working-tree/{key}"))
            print("```\n</details>\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
