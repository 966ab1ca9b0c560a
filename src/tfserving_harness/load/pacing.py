"""Open-model pacing: arrivals on a fixed schedule, whatever the server's response time.

Locust users are closed loops (a user sends its next request when the last one returned), which
hides overload: a slow server gets fewer requests. Here every Locust user takes the next arrival
slot from a per-process schedule (t0, t0 + 1/rate, ...), sleeps until it and sends. Users are the
most requests in flight; when all are busy, slots are taken late and the lateness is the
generator's lag. A slot more than `max_lag` late is dropped (counted, like k6's dropped
iterations) rather than sent in a catch-up burst. Rate 0 means closed loop: no pacing.
Idle users hold slots up to (users / rate) seconds ahead; when the rate changes the schedule starts
again from now and a user that wakes for a slot of the old schedule takes one of the new instead.
Once the measured window ends the pacer is closed: no user sends another request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .window import bucket


@dataclass
class Pacer:
    rate: float = 0.0  # arrivals per second in this process
    max_lag: float = 1.0
    clock: object = time.monotonic
    sleep: object = time.sleep
    next_at: float = 0.0
    lag_us: dict[int, int] = field(default_factory=dict)  # lateness of sent arrivals, microseconds in Locust's buckets
    dropped: int = 0
    arrivals: int = 0  # sent (paced or, at rate 0, closed-loop)
    schedule: int = 0  # bumped on every rate change
    closed: bool = False

    def set_rate(self, rate: float) -> None:
        if rate != self.rate:
            self.rate = max(rate, 0.0)
            self.next_at = self.clock()
            self.schedule += 1

    def reset_counts(self) -> None:
        """Lag, drops and arrivals from now on: the measured window opened."""
        self.lag_us, self.dropped, self.arrivals = {}, 0, 0

    def close(self) -> None:
        self.closed = True
        self.schedule += 1  # users asleep on a slot wake to a closed pacer

    def wait(self) -> bool:
        """Block (cooperatively under gevent) until this user's arrival slot; False once the pacer is closed."""
        while self.rate > 0 and not self.closed:
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
            key = bucket(lag * 1e6)
            self.lag_us[key] = self.lag_us.get(key, 0) + 1
            self.arrivals += 1
            return True
        if self.closed:
            self.sleep(0.1)  # the user's task returns and Locust stops the user; no busy loop until it does
            return False
        self.arrivals += 1
        return True
