#!/usr/bin/env python3
"""Build the demo SavedModel (tfserving_harness.demo_model): versions 1 and 2 of half_plus_two
(y = 0.5 x + version + 1), with warmup records, under DIR/half_plus_two/<version>/.

    .venv/bin/python scripts/build_demo_model.py [--dir .demo/models] [--versions 1 2]
    .venv/bin/python scripts/build_demo_model.py --chart [--dir charts/tf-serving/files/demo-model]

--chart writes the chart's built-in demo (`modelStorage.source: demo`): version 1 only, TF Serving's
own half_plus_two contract, byte for byte reproducible. Commit what it writes; a model-tier test
fails when the chart's copy differs from a fresh build (e.g. after a TensorFlow upgrade).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from tfserving_harness import demo_model
from tfserving_harness.kind import HOST_MODEL_DIR
from tfserving_harness.paths import chart_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chart", action="store_true", help="build the chart's built-in demo (version 1) instead")
    parser.add_argument("--dir", help=f"model root (default {HOST_MODEL_DIR}; with --chart {chart_dir() / demo_model.CHART_DEMO_SUBDIR})")
    parser.add_argument("--versions", type=int, nargs="+", default=[1, 2], help="versions to build (not with --chart)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    base = Path(args.dir or (chart_dir() / demo_model.CHART_DEMO_SUBDIR if args.chart else HOST_MODEL_DIR)) / demo_model.MODEL_NAME
    if args.chart:
        print(f"building the chart's demo, {demo_model.MODEL_NAME} version {demo_model.CHART_DEMO_VERSION}, under {base} "
              "(TensorFlow import takes a few seconds)", file=sys.stderr)
        # Only the demo's version folder: a leftover one would be shipped in the ConfigMap too.
        if base.exists():
            shutil.rmtree(base)
        folders = [demo_model.build_chart_demo(base)]
    else:
        print(f"building {demo_model.MODEL_NAME} versions {args.versions} under {base} (TensorFlow import takes a few seconds)", file=sys.stderr)
        folders = demo_model.build(base, args.versions)
    for folder in folders:
        print(folder)
    print(f"done in {time.monotonic() - start:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
