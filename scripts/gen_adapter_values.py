#!/usr/bin/env python3
"""Regenerate charts/tf-serving/examples/prometheus-adapter-values.yaml from the chart's adapter rules.

    .venv/bin/python scripts/gen_adapter_values.py          # rewrite the file
    .venv/bin/python scripts/gen_adapter_values.py --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import sys

from tfserving_harness import adapter_values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="do not write; fail when the file is out of date")
    args = parser.parse_args(argv)
    target = adapter_values.path()
    fresh = adapter_values.render()
    if args.check:
        if not target.exists() or target.read_text() != fresh:
            print(f"{target} is out of date with the chart's adapter rules: run `make docs`", file=sys.stderr)
            return 1
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(fresh)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
