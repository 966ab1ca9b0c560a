"""Steady, bounded request load for the end-to-end tier's "zero failed requests" checks: a fixed
rate for a fixed time (and never more than a fixed count), every answer recorded with its time, so
a test can look at what happened around an event (a switch, a rollout, a deleted pod)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Outcome:
    t: float  # seconds since the load started
    ok: bool
    detail: str  # the answer's version or the error


@dataclass
class LoadRun:
    outcomes: list[Outcome] = field(default_factory=list)
    started_at: float = 0.0  # time.time() when the load started: Outcome.t counts from it

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if start <= o.t < end]

    def summary(self) -> str:
        failures = self.failures
        first = "; first failures: " + ", ".join(f"+{o.t:.1f}s {o.detail}" for o in failures[:5]) if failures else ""
        return f"{len(self.outcomes)} requests, {len(failures)} failed{first}"


def steady_load(send: Callable[[], str], *, rate: float, seconds: float, max_requests: int = 20000, workers: int = 16,
                stop: threading.Event | None = None, clock: Callable[[], float] = time.monotonic, into: LoadRun | None = None) -> LoadRun:
    """Call `send()` (returns a detail string, raises on failure) `rate` times per second for
    `seconds` (or until `stop` is set), at most `max_requests` times, and record every outcome
    (into `into`, which others may read while it runs). `workers=1` is one client: one request at a
    time, a late answer delays the next ones."""
    if rate <= 0 or seconds <= 0 or max_requests <= 0:
        raise ValueError(f"rate, seconds and max_requests must be positive (got {rate}, {seconds}, {max_requests})")
    run = into if into is not None else LoadRun()
    run.started_at = time.time()
    lock = threading.Lock()
    start = clock()

    def one(due: float) -> None:
        try:
            outcome = Outcome(round(due, 3), True, send())
        except Exception as error:  # every failure counts, whatever raised it
            outcome = Outcome(round(due, 3), False, f"{type(error).__name__}: {error}"[:200])
        with lock:
            run.outcomes.append(outcome)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for n in range(min(max_requests, int(rate * seconds))):
            due = n / rate
            if stop is not None and stop.is_set():
                break
            delay = start + due - clock()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, due)
    run.outcomes.sort(key=lambda o: o.t)
    return run
