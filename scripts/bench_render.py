#!/usr/bin/env python3
"""Render benchmark: renders per second in-process (Helm 4 SDK) and as a helm 3.17 subprocess,
with the cache, and `pytest tests/unit` exactly as a user types it (its pyproject options: one
xdist worker per core, every test of the directory, the helm 3.17 binary's included): wall and CPU
time, test count, render cache hits. The machine's load average is printed with each figure: wall
times on a shared machine say little without it, CPU seconds (user+sys of pytest and everything it
started) much more.

    .venv/bin/python scripts/bench_render.py [--renders 20] [--runs 3] [--skip-tier] [--serial] [--other-tiers] [--template-costs SCENARIO]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tfserving_harness import helm
from tfserving_harness.paths import REPO_ROOT, chart_dir
from tfserving_harness.testing import scenario_file


def render_times(count: int, *, cached: bool, renderer: str | None = None, values=None) -> tuple[float, float]:
    """(wall, CPU) seconds per render_chart call. Uncached, each call has values of its own (the
    templates whose text does not change parse from the memo, as in a test run); cached, each is a hit."""
    helm.clear_cache()
    helm.render_chart(renderer=renderer)  # warm-up: loads the chart (SDK) and is the cache's one miss
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(count):
        try:
            helm.render_chart(values(index) if values else {} if cached else {"replicaCount": index + 1}, use_cache=cached, renderer=renderer)
        except helm.RenderError:
            pass  # a refusal is what `values` asked for
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


@dataclass
class TierRun:
    wall: float
    cpu: float  # user+sys of pytest, its xdist workers and every helm process they ran
    hits: int  # from a process's own memory
    misses: int  # rendered
    summary: str  # pytest's last line: "1029 passed, 2 skipped in 40.1s"


def run_tier(paths: list[str], extra_args: list[str]) -> TierRun:
    """`pytest <paths> <extra_args>` as typed in a shell without GOGC (tests/conftest.py sets the
    workers' own), with the render cache statistics every worker leaves behind."""
    with tempfile.TemporaryDirectory() as stats_dir:
        env = {name: value for name, value in os.environ.items() if name not in ("GOGC", "PYTEST_ADDOPTS")}
        env["TFS_RENDER_STATS_DIR"] = stats_dir
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run([str(Path(sys.executable).with_name("pytest")), *paths, *extra_args],
                                cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.returncode != 0:
            sys.exit(f"{' '.join(paths)} failed; fix it before benchmarking:\n{result.stdout[-3000:]}")
        hits = misses = 0
        for stats_file in Path(stats_dir).glob("*.json"):
            stats = json.loads(stats_file.read_text())
            hits, misses = hits + stats["hits"], misses + stats["misses"]
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return TierRun(wall, cpu, hits, misses, result.stdout.strip().splitlines()[-1].strip("= "))


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def template_costs(values_file: Path, renders: int) -> None:
    """CPU per render saved by deleting each kind template from a copy of the chart (its helpers
    stay): where render time goes. Min of 3 batches; on a shared machine differences of 2-3 ms
    are noise (a template that renders nothing here shows that floor)."""

    def cost(chart: Path) -> float | None:
        try:
            helm.render_chart(chart=chart, values_files=[values_file], use_cache=False)
        except helm.RenderError:
            return None  # the chart needs this template (e.g. one that runs the validation)
        batches = []
        for _ in range(3):
            start = time.process_time()
            for index in range(renders):
                helm.render_chart({"fullnameOverride": f"bench{index}"}, chart=chart, values_files=[values_file], use_cache=False)
            batches.append((time.process_time() - start) / renders * 1000)
        return min(batches)

    source = chart_dir()
    full = cost(source)
    print(f"template costs, {values_file.name}: whole chart {full:.1f} ms CPU per render (Helm 4 in-process)")
    savings = []
    with tempfile.TemporaryDirectory() as scratch:
        for template in sorted((source / "templates").glob("*.yaml")):
            copy = Path(scratch, template.stem, source.name)
            shutil.copytree(source, copy)
            (copy / "templates" / template.name).unlink()
            without = cost(copy)
            savings.append((full - without if without is not None else float("nan"), template.name))
    for saved, name in sorted(savings, key=lambda item: -item[0]):
        print(f"  without {name:36s} {saved:5.1f} ms less")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=20, help="renders per timing (default 20)")
    parser.add_argument("--skip-tier", action="store_true", help="only time render_chart")
    parser.add_argument("--runs", type=int, default=3, help="runs of each pytest timing (--serial and --other-tiers too), with their median: a shared machine's noise is a second or more (default 3)")
    parser.add_argument("--serial", action="store_true", help="also time `pytest tests/unit -n 0` (one process: the CPU without xdist's share)")
    parser.add_argument("--other-tiers", action="store_true",
                        help="also time tests/unit + tests/harness + tests/model in one run (the unit tier's scope before they moved out)")
    parser.add_argument("--template-costs", metavar="SCENARIO", help="only print each template's share of a render of ci/SCENARIO-values.yaml")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: give at least 1")
    if args.template_costs:
        template_costs(scenario_file(args.template_costs), args.renders)
        return 0

    print(f"helm binary: {helm.find_helm()}; default renderer: {helm.default_renderer()}")
    for renderer, label in (("sdk", "Helm 4 in-process"), ("binary", "helm 3.17 subprocess")):
        wall, cpu = render_times(args.renders, cached=False, renderer=renderer)
        # A subprocess's CPU is not this process's: its wall time is the figure.
        cpu_figure = f", {cpu * 1000:.1f} ms CPU" if renderer == "sdk" else ""
        print(f"render_chart, {label:21s} no cache: {1 / wall:6.1f} renders/s ({wall * 1000:.1f} ms each{cpu_figure}, {args.renders} renders)")
    wall, cpu = render_times(args.renders, cached=False, renderer="sdk", values=lambda index: {"replicaCount": f"r{index}"})
    print(f"render_chart, Helm 4 in-process, refused by values.schema.json: {wall * 1000:.1f} ms each, {cpu * 1000:.1f} ms CPU")
    wall, _ = render_times(args.renders * 50, cached=True)
    print(f"render_chart with cache:    {1 / wall:8.0f} renders/s ({args.renders * 50} hits)")
    if args.skip_tier:
        return 0
    runs = [("pytest tests/unit", ["tests/unit"], [])]
    if args.serial:
        runs.append(("pytest tests/unit -n 0", ["tests/unit"], ["-n", "0"]))
    if args.other_tiers:
        # What the unit tier held before the harness's own tests and the TensorFlow tests moved out.
        runs.append(("pytest tests/unit tests/harness tests/model", ["tests/unit", "tests/harness", "tests/model"], []))
    for label, paths, extra in runs:
        walls, cpus = [], []
        for attempt in range(1, args.runs + 1):
            print(f"running {label}, {attempt} of {args.runs} ({load_average()}) ...", flush=True)
            run = run_tier(paths, extra)
            walls.append(run.wall)
            cpus.append(run.cpu)
            total = run.hits + run.misses
            print(f"{label}: {run.wall:5.1f} s wall, {run.cpu:5.1f} s CPU (user+sys), {run.summary}; "
                  f"render cache {run.hits} hits / {run.misses} renders = {run.hits / total if total else 0:.0%} hit ratio; "
                  f"after: {load_average()}")
        if args.runs > 1:
            print(f"{label}: median of {args.runs} runs {statistics.median(walls):.1f} s wall ({', '.join(f'{wall:.1f}' for wall in walls)}), "
                  f"{statistics.median(cpus):.1f} s CPU")
    print("(as typed: every test of the directory, the helm 3.17 binary's included, one xdist worker per core; `-n 0` runs in one process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
