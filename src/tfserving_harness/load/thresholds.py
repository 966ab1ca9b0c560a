"""Pass/fail thresholds of a run (like k6's): a breach sets the exit code to 1 and prints a line
with the measured value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    name: str
    ok: bool
    expected: str
    observed: str
    by: str = ""

    def line(self) -> str:
        when = f" by {self.by}" if self.by else ""
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: expected {self.expected}{when}; observed {self.observed}"

    def as_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "expected": self.expected, "by": self.by, "observed": self.observed}


@dataclass(frozen=True)
class Thresholds:
    max_fail_ratio: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    min_rps: float | None = None

    def check(self, *, requests: int, failures: int, percentiles_ms: dict[str, float | None], achieved_rps: float) -> list[Verdict]:
        verdicts = []
        if self.max_fail_ratio is not None:
            ratio = failures / requests if requests else 0.0
            verdicts.append(Verdict("failure ratio", requests > 0 and ratio <= self.max_fail_ratio, f"<= {self.max_fail_ratio:g}",
                                    f"{ratio:.4f} ({failures} of {requests} requests)" if requests else "no requests"))
        for name in ("p50", "p95", "p99"):
            limit = getattr(self, f"{name}_ms")
            if limit is None:
                continue
            value = percentiles_ms.get(name)
            verdicts.append(Verdict(f"{name} latency", value is not None and value <= limit, f"<= {limit:g} ms",
                                    "no responses" if value is None else f"{value:g} ms"))
        if self.min_rps is not None:
            verdicts.append(Verdict("achieved rate", achieved_rps >= self.min_rps, f">= {self.min_rps:g} req/s", f"{achieved_rps:.1f} req/s"))
        return verdicts
