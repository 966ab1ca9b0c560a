#!/usr/bin/env python3
"""Regenerate the generated parts of charts/tf-serving/values.schema.json, in place: the Kubernetes
definitions the pass-through values `$ref`, and every `description`/`default` from values.yaml.
Everything else in the file is hand-written and kept (tfserving_harness.values_schema says which is which).

    .venv/bin/python scripts/gen_values_schema.py          # rewrite the schema
    .venv/bin/python scripts/gen_values_schema.py --check  # exit 1 when the file is not what it would write
"""

from __future__ import annotations

import argparse
import json
import sys

from tfserving_harness import values_schema
from tfserving_harness.paths import chart_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="do not write; fail when the schema is out of date")
    args = parser.parse_args(argv)
    schema_path = chart_dir() / "values.schema.json"
    current = schema_path.read_text()
    try:
        fresh = values_schema.dumps(values_schema.generate(json.loads(current), chart_dir() / "values.yaml"))
    except values_schema.SchemaDriftError as error:
        print(f"{schema_path}: {error}", file=sys.stderr)
        return 1
    if args.check:
        if fresh != current:
            print(f"{schema_path} is out of date with values.yaml or the generator: run scripts/gen_values_schema.py", file=sys.stderr)
            return 1
        return 0
    schema_path.write_text(fresh)
    print(f"wrote {schema_path} ({len(fresh)} bytes, {len(json.loads(fresh)['definitions'])} definitions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
