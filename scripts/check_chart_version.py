#!/usr/bin/env python3
"""Fail when charts/tf-serving/ changed since a base ref but its `version` did not go up.

    BASE_REF=origin/main .venv/bin/python scripts/check_chart_version.py
    .venv/bin/python scripts/check_chart_version.py --base auto   # what .ci/run does

`--base` (default: $BASE_REF) is a git ref, or `auto`: a pull request's merge base in GitHub Actions,
else the newest tf-serving-* release tag below HEAD, else the first parent. Without a base the
check says so and passes. Exit 1 names the changed files.
"""

from __future__ import annotations

import argparse
import os
import sys

from tfserving_harness import release


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=os.environ.get("BASE_REF"), help="git ref to compare with, or `auto` (default: $BASE_REF)")
    args = parser.parse_args(argv)
    try:
        base, how = release.resolve_base(args.base)
        if base is None:
            print(f"chart version check: not run, {how}", file=sys.stderr)
            return 0
        check = release.check_version(base)
    except ValueError as error:
        print(f"chart version check: {error}", file=sys.stderr)
        return 2
    problems = check.problems()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        changed = f"{len(check.changed_files)} chart file(s) changed" if check.changed_files else "no chart change"
        print(f"chart version check against {how}: {changed}, version {check.base_version} -> {check.version}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
