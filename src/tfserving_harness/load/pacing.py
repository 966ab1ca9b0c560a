"""Open-model pacing: arrivals on a fixed schedule, whatever the server's response time.

Locust users are closed loops (a user sends its next request when the last one returned), which
hides overload: a slow server gets fewer requests. Here every Locust user takes the next arrival
slot from a per-process schedule (t0, t0 + 1/rate, ...), sleeps until it and sends. Users are the
most requests in flight; when all are busy, slots are taken late and the lateness is the
generator's lag. A slot more than `max_lag` late is dropped (counted, like k6's dropped
iterations) rather than sent in a catch-up burst. Rate 0 means closed loop: no pacing.
Idle users hold slots up to (users / rate) seconds ahead; when the rate changes the schedule starts
again from now and a user that wakes for a slot of the old schedule takes one of the new instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Pacer:
    rate: float = 0.0  # arrivals per second in this process
    max_lag: float = 1.0
    clock: object = time.monotonic
    sleep: object = time.sleep
    next_at: float = 0.0
    lags: list[float] = field(default_factory=list)
    dropped: int = 0
    sent: int = 0
    schedule: int = 0  # bumped on every rate change

    def set_rate(self, rate: float) -> None:
        if rate != self.rate:
            self.rate = max(rate, 0.0)
            self.next_at = self.clock()
            self.schedule += 1

    def wait(self) -> None:
        """Block (cooperatively under gevent) until this user's arrival slot."""
        while self.rate > 0:
            schedule = self.schedule
            now = self.clock()
            interval = 1.0 / self.rate
            if now - self.next_at > self.max_lag:
                missed = int((now - self.next_at) / interval)
                self.dropped += missed
                self.next_at += missed * interval
            slot = self.next_at
            self.next_at += interval
            if slot > now:
                self.sleep(slot - now)
                if schedule != self.schedule:
                    continue  # the rate changed while waiting: that slot is gone
                lag = max(self.clock() - slot, 0.0)
            else:
                lag = now - slot
            self.sent += 1
            if len(self.lags) < 200_000:
                self.lags.append(lag)
            return

    def lag_summary(self) -> dict:
        lags = sorted(self.lags)
        if not lags:
            return {"samples": 0, "p50_ms": None, "p99_ms": None, "max_ms": None, "dropped_arrivals": self.dropped}
        return {
            "samples": len(lags),
            "p50_ms": round(lags[len(lags) // 2] * 1000, 2),
            "p99_ms": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000, 2),
            "max_ms": round(lags[-1] * 1000, 2),
            "dropped_arrivals": self.dropped,
        }
