"""Is an observed traffic split consistent with the configured weight? An exact binomial test, so
the kind tier's canary check has a stated false-alarm rate instead of a hand-picked tolerance.

Each request goes to the canary independently with probability weight/100 (what ingress-nginx's
canary-weight and Gateway API's backendRefs weights promise per request), so the canary count of
n requests is Binomial(n, p). The acceptance interval is the central one whose two tails each hold
at most alpha/2: a correct split fails the check with probability at most alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def binomial_pmf(k: int, n: int, p: float) -> float:
    if p in (0.0, 1.0):
        return float(k == round(n * p))
    return math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p))


def acceptance_interval(n: int, p: float, alpha: float = 0.001) -> tuple[int, int]:
    """(low, high): the smallest interval of canary counts with P(X < low) <= alpha/2 and P(X > high) <= alpha/2."""
    if n <= 0 or not 0.0 <= p <= 1.0 or not 0.0 < alpha < 1.0:
        raise ValueError(f"need n > 0, 0 <= p <= 1, 0 < alpha < 1 (got n={n}, p={p}, alpha={alpha})")
    pmf = [binomial_pmf(k, n, p) for k in range(n + 1)]
    low, tail = 0, 0.0
    while low < n and tail + pmf[low] <= alpha / 2:
        tail += pmf[low]
        low += 1
    high, tail = n, 0.0
    while high > 0 and tail + pmf[high] <= alpha / 2:
        tail += pmf[high]
        high -= 1
    return low, high


@dataclass(frozen=True)
class SplitVerdict:
    total: int
    canary: int
    weight_percent: float
    low: int
    high: int
    alpha: float

    @property
    def ok(self) -> bool:
        return self.low <= self.canary <= self.high

    def __str__(self) -> str:
        share = 100.0 * self.canary / self.total
        return (f"{self.canary}/{self.total} requests ({share:.1f}%) reached the canary; weight {self.weight_percent:g}% accepts "
                f"{self.low}..{self.high} (exact binomial, false-alarm rate {self.alpha:g}): {'ok' if self.ok else 'OUT OF TOLERANCE'}")


def judge_split(canary: int, total: int, weight_percent: float, alpha: float = 0.001) -> SplitVerdict:
    low, high = acceptance_interval(total, weight_percent / 100.0, alpha)
    return SplitVerdict(total, canary, weight_percent, low, high, alpha)
