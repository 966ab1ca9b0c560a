#!/usr/bin/env python3
"""Regenerate the parameter table in charts/tf-serving/README.md from values.yaml comments.

    .venv/bin/python scripts/gen_values_docs.py          # rewrite the table
    .venv/bin/python scripts/gen_values_docs.py --check  # exit 1 when README and values.yaml drift
"""

from __future__ import annotations

import argparse
import sys

from tfserving_harness import values_docs
from tfserving_harness.paths import chart_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="do not write; fail when the README is out of date")
    args = parser.parse_args(argv)
    readme = chart_dir() / "README.md"
    parameters, undocumented = values_docs.parse(chart_dir() / "values.yaml")
    if undocumented:
        print("values.yaml keys without a `# --` comment: " + ", ".join(undocumented), file=sys.stderr)
        return 1
    current = readme.read_text()
    fresh = values_docs.render_readme(current, parameters)
    if args.check:
        if fresh != current:
            print(f"{readme} is out of date with values.yaml: run `make docs`", file=sys.stderr)
            return 1
        return 0
    readme.write_text(fresh)
    print(f"wrote {len(parameters)} parameters to {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
