"""The harness's report files: timeline.csv, summary.json, timeline.png/.html (achieved and requested
rate, p50/p95/p99, failures and replicas on one time axis) and, in capacity mode, capacity.png
(latency vs throughput); requests_per_pod.png for a caller that has each pod's rate (the autoscaling tier)."""

from __future__ import annotations

import base64
import csv
import html
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class Point:
    t: float  # seconds since measurement started (after warm-up)
    phase: str
    requested_rps: float | None
    achieved_rps: float
    failures_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    generator_cpu: float | None
    desired_replicas: int | None = None
    ready_replicas: int | None = None


def write_timeline(directory: Path, points: list[Point]) -> Path:
    path = directory / "timeline.csv"
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(Point.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(p) for p in points)
    return path


def _pyplot():
    """matplotlib's pyplot on the Agg backend: reports are written headless, to PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    _pyplot().close(fig)
    return path


def plot_timeline(directory: Path, points: list[Point], title: str) -> Path:
    plt = _pyplot()
    t = [p.t for p in points]
    has_replicas = any(p.desired_replicas is not None or p.ready_replicas is not None for p in points)
    rows = 4 if has_replicas else 3
    fig, axes = plt.subplots(rows, 1, sharex=True, figsize=(10, 2.3 * rows + 0.6))
    rate, latency, failures = axes[0], axes[1], axes[2]
    rate.plot(t, [p.achieved_rps for p in points], label="achieved", color="tab:blue")
    if any(p.requested_rps for p in points):
        rate.plot(t, [p.requested_rps for p in points], label="requested", color="tab:gray", linestyle="--")
    rate.set_ylabel("requests/s")
    rate.legend(loc="upper left", fontsize=8)
    for name, color in (("p50_ms", "tab:green"), ("p95_ms", "tab:orange"), ("p99_ms", "tab:red")):
        latency.plot(t, [getattr(p, name) for p in points], label=name[:3], color=color)
    latency.set_ylabel("latency ms")
    latency.legend(loc="upper left", fontsize=8)
    failures.plot(t, [p.failures_per_s for p in points], color="tab:red")
    failures.set_ylabel("failures/s")
    if has_replicas:
        replicas = axes[3]
        replicas.step(t, [p.desired_replicas for p in points], where="post", label="HPA desired", color="tab:purple")
        replicas.step(t, [p.ready_replicas for p in points], where="post", label="ready", color="tab:cyan")
        replicas.set_ylabel("replicas")
        replicas.legend(loc="upper left", fontsize=8)
    previous = None
    for p in points:
        if p.phase != previous:
            for axis in axes:
                axis.axvline(p.t, color="black", alpha=0.15)
            axes[0].annotate(p.phase, (p.t, 1.0), xycoords=("data", "axes fraction"), fontsize=7, va="bottom")
            previous = p.phase
    axes[-1].set_xlabel("seconds since measurement start")
    fig.suptitle(title, fontsize=10)
    return _save(fig, directory / "timeline.png")


def plot_capacity(directory: Path, steps: list[dict], slo_p99_ms: float, title: str) -> Path:
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(7, 4))
    achieved = [s["achieved"] for s in steps]
    for key, color in (("p50_ms", "tab:green"), ("p99_ms", "tab:red")):
        axis.plot(achieved, [s[key] for s in steps], marker="o", color=color, label=key[:3])
    axis.axhline(slo_p99_ms, color="tab:red", linestyle="--", alpha=0.5, label=f"SLO p99 {slo_p99_ms:g} ms")
    for s in steps:
        axis.annotate(f"{s['requested']:g}", (s["achieved"], s["p99_ms"] or 0), fontsize=7, textcoords="offset points", xytext=(3, 3))
    axis.set_xlabel("achieved requests/s (labels: requested)")
    axis.set_ylabel("latency ms")
    axis.set_yscale("log")
    axis.legend(fontsize=8)
    axis.set_title(title, fontsize=10)
    return _save(fig, directory / "capacity.png")


def plot_requests_per_pod(directory: Path, rates: dict[str, list[tuple[float, float]]], ready: dict[str, list[list[float | None]]],
                          phases: list[dict], title: str) -> Path:
    """Each pod's requests/s (Unix time, value) above the intervals it was Ready, on the run's phases (summary.json's
    `phases`): whether the pods the HPA added took a share of the load."""
    plt = _pyplot()
    origin = phases[0]["start"]
    end = phases[-1]["end"]
    pods = sorted(set(rates) | set(ready))
    fig, (rate, readiness) = plt.subplots(2, 1, sharex=True, figsize=(10, 4.5 + 0.25 * len(pods)),
                                          gridspec_kw={"height_ratios": [3, 1 + 0.2 * len(pods)]})
    colors = {pod: f"C{i % 10}" for i, pod in enumerate(pods)}
    for pod in pods:
        points = rates.get(pod, [])
        rate.plot([t - origin for t, _ in points], [v for _, v in points], color=colors[pod], label=pod)
        spans = [(since - origin, (until or end) - since) for since, until in ready.get(pod, [])]
        readiness.broken_barh(spans, (pods.index(pod) - 0.35, 0.7), color=colors[pod])
    rate.set_ylabel("requests/s")
    rate.set_ylim(bottom=0)
    rate.legend(loc="upper left", fontsize=7)
    readiness.set_yticks(range(len(pods)), pods, fontsize=7)
    readiness.set_ylabel("Ready")
    for phase in phases:
        for axis in (rate, readiness):
            axis.axvline(phase["start"] - origin, color="black", alpha=0.15)
        rate.annotate(phase["name"], (phase["start"] - origin, 1.0), xycoords=("data", "axes fraction"), fontsize=7, va="bottom")
    readiness.set_xlim(0, end - origin)
    readiness.set_xlabel("seconds since the run started")
    fig.suptitle(title, fontsize=10)
    return _save(fig, directory / "requests_per_pod.png")


def write_html(directory: Path, summary: dict[str, Any], images: list[Path]) -> Path:
    figures = "".join(f'<img alt="{p.name}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}"><br>' for p in images)
    verdicts = "".join(f"<li>{html.escape(v['line'])}</li>" for v in summary.get("verdicts", []))
    body = (f"<html><head><meta charset='utf-8'><title>{html.escape(summary['title'])}</title></head><body>"
            f"<h1>{html.escape(summary['title'])}</h1><ul>{verdicts}</ul>{figures}"
            f"<p>Locust's own report: <a href='locust.html'>locust.html</a>; numbers: <a href='summary.json'>summary.json</a>, "
            f"<a href='timeline.csv'>timeline.csv</a></p><pre>{html.escape(json.dumps(summary, indent=1))}</pre></body></html>")
    path = directory / "report.html"
    path.write_text(body)
    return path


def write_summary(directory: Path, summary: dict[str, Any]) -> Path:
    path = directory / "summary.json"
    path.write_text(json.dumps(summary, indent=1, default=str))
    return path
