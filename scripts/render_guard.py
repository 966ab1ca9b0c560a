#!/usr/bin/env python3
"""Render guard for template refactors: `record DIR` renders the defaults and every ci/ scenario
(plus CRD-backed scenarios with their APIs served instead of forced) at the oldest and newest
supported Kubernetes version into DIR; `compare DIR` renders again, prints a unified diff and
exits 1 on any difference.

    .venv/bin/python scripts/render_guard.py record /tmp/baseline
    .venv/bin/python scripts/render_guard.py compare /tmp/baseline
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tfserving_harness import render_guard


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("record", "compare"))
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    rendered = render_guard.render_all()
    if args.action == "record":
        render_guard.record(args.directory, rendered)
        print(f"recorded {len(rendered)} renders in {args.directory}")
        return 0
    if not args.directory.is_dir():
        parser.error(f"{args.directory}: no such directory; run `record` first")
    lines = render_guard.diff(render_guard.load(args.directory), rendered)
    sys.stdout.writelines(lines)
    changed = render_guard.changed_files(lines)
    print(f"{len(changed)} of {len(rendered)} renders differ" + (f": {', '.join(changed)}" if changed else ""), file=sys.stderr)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
