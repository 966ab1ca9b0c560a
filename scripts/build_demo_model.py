#!/usr/bin/env python3
"""Build the demo SavedModel (tfserving_harness.demo_model): versions 1 and 2 of half_plus_two
(y = 0.5 x + version + 1), with warmup records, under DIR/half_plus_two/<version>/.

    .venv/bin/python scripts/build_demo_model.py [--dir .demo/models] [--versions 1 2]
"""

from __future__ import annotations

import argparse
import sys
import time

from tfserving_harness import demo_model
from tfserving_harness.kind import HOST_MODEL_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=str(HOST_MODEL_DIR), help=f"model root (default {HOST_MODEL_DIR})")
    parser.add_argument("--versions", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    start = time.monotonic()
    print(f"building {demo_model.MODEL_NAME} versions {args.versions} under {args.dir} (TensorFlow import takes a few seconds)", file=sys.stderr)
    for folder in demo_model.build(f"{args.dir}/{demo_model.MODEL_NAME}", args.versions):
        print(folder)
    print(f"done in {time.monotonic() - start:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
