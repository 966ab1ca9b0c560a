"""Capacity mode: against a fixed replica count, raise the arrival rate step by step until p99 breaks
the SLO, errors pass a limit or throughput stops growing; report the highest rate per replica that
met the SLO and the chart's autoscaling values it implies."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Step:
    requested: float
    seconds: float  # measured seconds (the settle time at the start of a step is excluded)
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def achieved(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    @property
    def error_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class StepVerdict:
    requested: float
    achieved: float
    p50_ms: float | None
    p99_ms: float | None
    error_ratio: float
    ok: bool
    reason: str


@dataclass(frozen=True)
class Slo:
    p99_ms: float
    max_error_ratio: float = 0.01
    min_delivery: float = 0.9  # achieved / requested below this means throughput stopped growing


def judge(step: Step, slo: Slo) -> StepVerdict:
    p99 = step.percentile(0.99)
    reasons = []
    if p99 is None or p99 > slo.p99_ms:
        reasons.append(f"p99 {p99 if p99 is None else round(p99, 1)} ms > SLO {slo.p99_ms:g} ms")
    if step.error_ratio > slo.max_error_ratio:
        reasons.append(f"errors {step.error_ratio:.2%} > {slo.max_error_ratio:.2%}")
    if step.achieved < slo.min_delivery * step.requested:
        reasons.append(f"achieved {step.achieved:.1f} < {slo.min_delivery:.0%} of requested {step.requested:g} req/s")
    return StepVerdict(step.requested, round(step.achieved, 2), step.percentile(0.5), p99, round(step.error_ratio, 5),
                       not reasons, "; ".join(reasons) or "meets the SLO")


@dataclass(frozen=True)
class Recommendation:
    capacity_rps: float | None  # highest achieved rate of a step that met the SLO, whole run
    per_replica_rps: float | None
    target_per_pod: int | None
    min_replicas: int | None
    max_replicas: int | None
    sentence: str
    values_yaml: str


def recommend(verdicts: list[StepVerdict], slo: Slo, *, replicas: int, headroom: float, base_rate: float, peak_rate: float) -> Recommendation:
    passing = [v for v in verdicts if v.ok]
    # The knee: the last passing step before the first failing one (a later lucky step does not count).
    first_fail = next((i for i, v in enumerate(verdicts) if not v.ok), len(verdicts))
    passing = [v for v in verdicts[:first_fail] if v.ok]
    if not passing:
        first = verdicts[0] if verdicts else None
        why = first.reason if first else "no step ran"
        return Recommendation(None, None, None, None, None,
                              f"No step met the SLO (p99 <= {slo.p99_ms:g} ms): the lowest step failed with {why}; "
                              "lower --capacity-start.", "")
    best = passing[-1]
    per_replica = best.achieved / replicas
    target = max(int(per_replica * (1.0 - headroom)), 1)
    min_replicas = max(math.ceil(base_rate / target), 1) if base_rate else 1
    max_replicas = max(math.ceil(peak_rate / target), min_replicas) if peak_rate else max(min_replicas * 4, 2)
    broke = verdicts[first_fail] if first_fail < len(verdicts) else None
    after = (f"; at {broke.requested:g} req/s it failed: {broke.reason}" if broke else
             "; the highest step still met it, so the real capacity is higher: raise --capacity-max-rate")
    sentence = (
        f"{replicas} replica{'s' if replicas > 1 else ''} served {best.achieved:.1f} req/s "
        f"({per_replica:.1f} per replica) with p99 {best.p99_ms:.1f} ms <= {slo.p99_ms:g} ms and errors {best.error_ratio:.2%}{after}. "
        f"With {headroom:.0%} headroom, target {target} req/s per pod: minReplicas {min_replicas} for a base of {base_rate:g} req/s, "
        f"maxReplicas {max_replicas} for a peak of {peak_rate:g} req/s."
    )
    values = (
        "autoscaling:\n"
        "  enabled: true\n"
        f"  minReplicas: {min_replicas}\n"
        f"  maxReplicas: {max_replicas}\n"
        "  cpu:\n"
        "    enabled: false\n"
        "  requestsPerSecond:\n"
        "    enabled: true\n"
        f'    averageValue: "{target}"\n'
    )
    return Recommendation(round(best.achieved, 2), round(per_replica, 2), target, min_replicas, max_replicas, sentence, values)
