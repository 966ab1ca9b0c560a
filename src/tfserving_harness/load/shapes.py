"""Rate profiles for the load shapes: a list of phases, each a rate held for some seconds.
`users.TfServingShape` follows the profile chosen with `--load-profile` and sets the open-model rate.

- constant: `--rate` until `--run-time` (Locust's own -u/-t/-r apply)
- step:     `--step-rates` one after another, `--step-seconds` each
- spike:    `--rate`, then `--spike-rate` for `--spike-seconds`, then `--rate` again
- soak:     `--rate` for `--soak-seconds`
- autoscale: warm-up, low (must not scale), high (aimed between replica counts), hold, drop, observe
- capacity: rising steps until the SLO breaks (see capacity.py)
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    rate: float


@dataclass(frozen=True)
class Located:
    phase: Phase
    start: float  # seconds since the profile began
    index: int


def locate(phases: list[Phase], t: float) -> Located | None:
    """The phase running at `t` seconds, or None once the profile is over."""
    start = 0.0
    for index, phase in enumerate(phases):
        if t < start + phase.seconds:
            return Located(phase, start, index)
        start += phase.seconds
    return None


def phase_starts(phases: list[Phase]) -> dict[str, float]:
    """Start second of each phase name (first occurrence)."""
    starts, t = {}, 0.0
    for phase in phases:
        starts.setdefault(phase.name, t)
        t += phase.seconds
    starts["end"] = t
    return starts


def step(rates: list[float], seconds: float) -> list[Phase]:
    return [Phase(f"step {i + 1}", seconds, rate) for i, rate in enumerate(rates)]


def spike(base: float, peak: float, base_seconds: float, spike_seconds: float) -> list[Phase]:
    return [Phase("base", base_seconds, base), Phase("spike", spike_seconds, peak), Phase("after", base_seconds, base)]


def soak(rate: float, seconds: float) -> list[Phase]:
    return [Phase("soak", seconds, rate)]


def autoscale_rates(target_per_pod: float, min_replicas: int, expect_replicas: int) -> tuple[float, float]:
    """(low, high) total rates for the autoscale profile.

    low = half the target on minReplicas pods: the HPA's desired count, ceil(low / target), stays
    at minReplicas. high = (N - 0.5) targets: desired = ceil(N - 0.5) = N, halfway between N - 1
    and N replicas, so neither the HPA's rounding nor its 10 % tolerance can turn a miss into a pass.
    """
    if expect_replicas <= min_replicas:
        raise ValueError(f"--expect-replicas ({expect_replicas}) must exceed minReplicas ({min_replicas}) to test a scale-out")
    return 0.5 * target_per_pod * min_replicas, target_per_pod * (expect_replicas - 0.5)


def autoscale(*, warmup_seconds: float, low_rate: float, low_seconds: float, high_rate: float, hold_seconds: float,
              observe_seconds: float) -> list[Phase]:
    """warm-up and low at `low_rate` (no scale-out allowed), step to `high_rate` and hold (scale-out
    to N within the timing model's bound), drop back to `low_rate` and observe the scale-in."""
    return [
        Phase("warmup", warmup_seconds, low_rate),
        Phase("low", low_seconds, low_rate),
        Phase("high", hold_seconds, high_rate),
        Phase("drop", observe_seconds, low_rate),
    ]


def capacity(start: float, factor: float, step_seconds: float, max_rate: float, increment: float = 0.0) -> list[Phase]:
    """Rising steps from `start`: multiplied by `factor`, or plus `increment` when it is set."""
    rates, rate = [], start
    while rate <= max_rate + 1e-9 and len(rates) < 100:
        rates.append(round(rate, 3))
        rate = rate + increment if increment else rate * factor
    if not rates:
        raise ValueError(f"--capacity-start ({start}) is above --capacity-max-rate ({max_rate})")
    return [Phase(f"capacity {i + 1}", step_seconds, r) for i, r in enumerate(rates)]


def total_seconds(phases: list[Phase]) -> float:
    return math.fsum(p.seconds for p in phases)
