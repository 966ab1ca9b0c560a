"""Which of the release's pods served requests while they were Ready: the check that the pods the HPA
added were used, not only started.

`PodReadiness` polls the pods while the run goes on (a scale-in deletes them, and with them their
Ready condition) and keeps, for each, the intervals it was Ready and not terminating; `ready_seconds`
clips them to a phase of the run (the phases' Unix times come from the Locust report's `phases`).
`requests_in_phase` asks Prometheus how many requests each pod counted in that phase
(`:tensorflow:serving:request_count`, which TF Serving creates at a pod's first request: a pod that
served nothing has no series and counts 0).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from kubernetes import client

REQUEST_COUNT = ":tensorflow:serving:request_count"


@dataclass
class PodReadiness:
    api: client.ApiClient
    namespace: str
    selector: str
    every: float = 2.0
    #: pod -> [[Ready since, Ready until or None while it still is], ...], Unix seconds
    intervals: dict[str, list[list[float | None]]] = field(default_factory=dict)
    error: str = ""

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"pod-readiness-{self.namespace}", daemon=True)

    def __enter__(self) -> PodReadiness:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.poll()
            except Exception as error:  # noqa: BLE001 - an API hiccup loses one sample; the last error is reported
                self.error = f"{type(error).__name__}: {error}"

    def poll(self) -> None:
        now = time.time()
        pods = client.CoreV1Api(self.api).list_namespaced_pod(self.namespace, label_selector=self.selector, _request_timeout=10).items
        ready_now = set()
        for pod in pods:
            condition = next((c for c in pod.status.conditions or [] if c.type == "Ready"), None)
            if condition is None or condition.status != "True" or pod.metadata.deletion_timestamp is not None:
                continue
            name, since = pod.metadata.name, condition.last_transition_time.timestamp()
            ready_now.add(name)
            spans = self.intervals.setdefault(name, [])
            if not spans or spans[-1][1] is not None:
                spans.append([since, None])
        for name, spans in self.intervals.items():
            if name not in ready_now and spans[-1][1] is None:
                spans[-1][1] = now  # not Ready, terminating or gone since the last poll

    def ready_seconds(self, start: float, end: float) -> dict[str, float]:
        """Seconds each pod seen Ready was Ready between `start` and `end` (Unix seconds)."""
        return {name: round(sum(max(0.0, min(until or end, end) - max(since, start)) for since, until in spans), 1)
                for name, spans in self.intervals.items()}


def requests_in_phase(prometheus, namespace: str, start: float, end: float) -> dict[str, float]:
    """Requests each pod of `namespace` counted between `start` and `end` (Unix seconds): its counter at the
    end less its counter at the start, or all of it for a pod that had no counter at the start."""
    series = f'{REQUEST_COUNT}{{namespace="{namespace}"}}'
    seconds = max(round(end - start), 1)
    expr = f"(sum by (pod) ({series}) - sum by (pod) ({series} offset {seconds}s)) or sum by (pod) ({series})"
    return {s["metric"]["pod"]: float(s["value"][1]) for s in prometheus.query(expr, at=end)}
