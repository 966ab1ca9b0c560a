"""Stand-in-only capacity knobs for the load tier: the real tensorflow_model_server has none of them.

Set from the environment (`TFS_STANDIN_SERVICE_TIME_MS`, `TFS_STANDIN_CONCURRENCY`,
`TFS_STANDIN_ERROR_RATE`, `TFS_STANDIN_SLOW_MS`) and, when `TFS_STANDIN_MODE_ENDPOINT=1`, changed
at run time by `POST /standin/mode` on the REST port with JSON such as
`{"error_rate": 0.5, "slow_ms": 200, "service_time_ms": 5}`. Applied to every prediction (REST and
gRPC) after the model is resolved and before TensorFlow runs: at most `concurrency` predictions hold
a slot for `service_time_ms` + `slow_ms` (so throughput saturates at concurrency / service time, the
knee the capacity test looks for), then a fraction `error_rate` fails with INTERNAL. All unset (the
image's default), predictions are exactly the server's.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time

from .status import Status

MODE_PATH = "/standin/mode"
_FIELDS = ("service_time_ms", "slow_ms", "error_rate")


class Knobs:
    def __init__(self, environ=os.environ) -> None:
        self.service_time_ms = float(environ.get("TFS_STANDIN_SERVICE_TIME_MS", 0) or 0)
        self.slow_ms = float(environ.get("TFS_STANDIN_SLOW_MS", 0) or 0)
        self.error_rate = float(environ.get("TFS_STANDIN_ERROR_RATE", 0) or 0)
        self.concurrency = int(environ.get("TFS_STANDIN_CONCURRENCY", 0) or 0)
        self.mode_endpoint = environ.get("TFS_STANDIN_MODE_ENDPOINT", "") == "1"
        self.slots = threading.BoundedSemaphore(self.concurrency) if self.concurrency > 0 else None
        self.random = random.Random(0)
        self.lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self.service_time_ms or self.slow_ms or self.error_rate or self.slots)

    def describe(self) -> str:
        return (f"service_time_ms={self.service_time_ms:g} concurrency={self.concurrency or 'unlimited'} "
                f"error_rate={self.error_rate:g} slow_ms={self.slow_ms:g} mode_endpoint={'on' if self.mode_endpoint else 'off'}")

    def before_predict(self) -> None:
        if not self.active:
            return
        delay = (self.service_time_ms + self.slow_ms) / 1000
        if self.slots is not None:
            with self.slots:
                if delay:
                    time.sleep(delay)
        elif delay:
            time.sleep(delay)
        with self.lock:
            fail = self.error_rate and self.random.random() < self.error_rate
        if fail:
            raise Status("INTERNAL", "stand-in error mode: injected failure (TFS_STANDIN_ERROR_RATE, not a TF Serving error)")

    def update(self, body: bytes) -> bytes:
        changes = json.loads(body or b"{}")
        for key in _FIELDS:
            if key in changes:
                setattr(self, key, float(changes[key]))
        return json.dumps({key: getattr(self, key) for key in _FIELDS}).encode()
