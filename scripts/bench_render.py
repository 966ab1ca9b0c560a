#!/usr/bin/env python3
"""Render benchmark: renders per second in-process (Helm 4 SDK) and as a helm 3.17 subprocess,
with the cache, the cache hit ratio over the unit tier, and the unit tier's wall time and test
count (serially and with pytest-xdist).

    .venv/bin/python scripts/bench_render.py [--renders 20] [--skip-tier]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tfserving_harness import helm
from tfserving_harness.paths import REPO_ROOT


def renders_per_second(count: int, *, cached: bool, renderer: str | None = None) -> float:
    helm.clear_cache()
    helm.render_chart(renderer=renderer)  # warm-up: loads the chart (SDK) and is the cache's one miss
    start = time.perf_counter()
    for index in range(count):
        # Distinct values defeat any caching when uncached; identical ones are hits when cached.
        helm.render_chart({} if cached else {"replicaCount": index + 1}, use_cache=cached, renderer=renderer)
    return count / (time.perf_counter() - start)


def unit_tier(extra_args: list[str]) -> tuple[float, int, int, str]:
    """(wall seconds, cache hits, cache misses, pytest's summary line) for one run of tests/unit."""
    with tempfile.TemporaryDirectory() as stats_dir:
        env = dict(os.environ, TFS_RENDER_STATS_DIR=stats_dir)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider", *extra_args],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        )
        wall = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"the unit tier failed; fix it before benchmarking:\n{result.stdout[-3000:]}")
        hits = misses = 0
        for stats_file in Path(stats_dir).glob("*.json"):
            stats = json.loads(stats_file.read_text())
            hits, misses = hits + stats["hits"], misses + stats["misses"]
        summary = result.stdout.strip().splitlines()[-1]
        return wall, hits, misses, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=20, help="renders per timing (default 20)")
    parser.add_argument("--skip-tier", action="store_true", help="only time render_chart")
    args = parser.parse_args(argv)

    print(f"helm binary: {helm.find_helm()}; default renderer: {helm.default_renderer()}")
    for renderer, label in (("sdk", "Helm 4 in-process"), ("binary", "helm 3.17 subprocess")):
        uncached = renders_per_second(args.renders, cached=False, renderer=renderer)
        print(f"render_chart, {label:21s} no cache: {uncached:6.1f} renders/s ({1000 / uncached:.1f} ms each, {args.renders} renders)")
    cached = renders_per_second(args.renders * 50, cached=True)
    print(f"render_chart with cache:    {cached:8.0f} renders/s ({args.renders * 50} hits)")
    if args.skip_tier:
        return 0
    for label, extra in (("serial", []), ("xdist -n 2", ["-n", "2", "--dist", "loadfile"])):
        print(f"running the unit tier ({label}) ...", flush=True)
        wall, hits, misses, summary = unit_tier(extra)
        ratio = hits / (hits + misses) if hits + misses else 0.0
        print(f"unit tier {label:10s}: {wall:5.1f} s wall, {summary}; render cache {hits} hits / {misses} misses = {ratio:.0%} hit ratio")
    print("(the unit tier renders every scenario with both renderers in test_renderers_agree.py; the rest use the default)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
