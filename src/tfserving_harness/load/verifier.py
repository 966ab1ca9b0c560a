"""Autoscaling verifier: records a release track's Deployment and HPA while a load shape runs and
judges the scaling against a stated timing model (like Kubernetes' own HPA e2e tests: lower and
upper time bounds, and a phase where load must not scale).

Timing model (all seconds, from the moment the load steps up or drops):
  metric delay  = scrape interval + rate window + adapter/KEDA polling
                  (the per-pod rate needs a full rate window of the new level to reach it)
  scale-out     desired >= N by metric delay + HPA sync (15 s, kube-controller-manager's
                `--horizontal-pod-autoscaler-sync-period`) + scaleUp stabilization window
                + the scaleUp policy periods needed to climb from minReplicas to N;
                ready >= N by that + pod start (image pull, model load, startup probe).
  scale-in      not before the scaleDown stabilization window less one HPA sync (the HPA keeps
                the highest recommendation of the window, and the last high one can come from
                the sync up to one period before the drop); back to minReplicas by metric delay +
                HPA sync + the window + the scaleDown policy periods needed from N to minReplicas.

The upper bounds count a window or policy period as the first HPA sync *after* it has fully passed:
the controller keeps a scale event or recommendation while `timestamp.After(now - period)`
(`getReplicasChangePerPeriod` and the stabilization in kube-controller-manager's
pkg/controller/podautoscaler/horizontal.go), and its syncs drift by their own processing time, so a
15 s period on a 15 s sync may cost two syncs. They also add the recorder's sampling interval, since
a change is seen only at the next sample. The lower bound (scale-in not before) assumes the metric
falls at once (no delay), the earliest the controller could act.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .thresholds import Verdict

HPA_SYNC_SECONDS = 15.0


def _policy_periods(start: int, goal: int, policies: list[Mapping], select: str, up: bool) -> tuple[int, float]:
    """(periods, period seconds) the HPA behavior policies need to move from start to goal replicas."""
    if not policies or start == goal:
        return 0, 0.0
    period = max(float(p.get("periodSeconds", 60)) for p in policies)
    count, replicas = 0, start
    while (replicas < goal if up else replicas > goal) and count < 1000:
        steps = []
        for p in policies:
            value = float(p.get("value", 0))
            change = math.ceil(replicas * value / 100.0) if p.get("type") == "Percent" else value
            steps.append(change)
        if select == "Disabled":
            return 1000, period
        change = (min(steps) if select == "Min" else max(steps)) if steps else 0
        if change <= 0:
            return 1000, period
        replicas = min(replicas + change, goal) if up else max(replicas - change, goal)
        count += 1
    return count, period


@dataclass(frozen=True)
class TimingModel:
    min_replicas: int
    expect_replicas: int
    scrape_interval: float = 30.0
    rate_window: float = 120.0
    adapter_interval: float = 30.0
    hpa_sync: float = HPA_SYNC_SECONDS
    pod_start: float = 120.0
    behavior: Mapping[str, Any] = field(default_factory=dict)
    sample_interval: float = 0.0

    def _synced(self, seconds: float) -> float:
        """When an HPA sync first finds `seconds` fully passed: the next multiple of the sync period above it."""
        return (math.floor(seconds / self.hpa_sync) + 1) * self.hpa_sync if seconds > 0 else 0.0

    @property
    def metric_delay(self) -> float:
        return self.scrape_interval + self.rate_window + self.adapter_interval

    def _side(self, key: str) -> Mapping[str, Any]:
        return self.behavior.get(key) or {}

    @property
    def scale_out_desired_by(self) -> float:
        up = self._side("scaleUp")
        periods, period = _policy_periods(self.min_replicas, self.expect_replicas, up.get("policies") or [], up.get("selectPolicy", "Max"), True)
        window = float(up.get("stabilizationWindowSeconds", 0))
        return self.metric_delay + self.hpa_sync + self._synced(window) + max(periods - 1, 0) * self._synced(period) + self.sample_interval

    @property
    def scale_out_ready_by(self) -> float:
        return self.scale_out_desired_by + self.pod_start

    @property
    def scale_in_window(self) -> float:
        return float(self._side("scaleDown").get("stabilizationWindowSeconds", 300))

    @property
    def scale_in_not_before(self) -> float:
        # The last high recommendation is the one of the last sync before the drop, which can be up to
        # one sync period earlier; scale-in comes at the first sync a whole window after it.
        return max(self.scale_in_window - self.hpa_sync, 0.0)

    @property
    def scale_in_by(self) -> float:
        down = self._side("scaleDown")
        periods, period = _policy_periods(self.expect_replicas, self.min_replicas, down.get("policies") or [], down.get("selectPolicy", "Max"), False)
        return self.metric_delay + self.hpa_sync + self._synced(self.scale_in_window) + max(periods - 1, 0) * self._synced(period) + self.sample_interval

    def describe(self) -> str:
        return (
            f"timing model: metric delay {self.metric_delay:g} s (scrape {self.scrape_interval:g} + rate window {self.rate_window:g} "
            f"+ adapter {self.adapter_interval:g}); HPA sync {self.hpa_sync:g} s; pod start {self.pod_start:g} s; sampling {self.sample_interval:g} s\n"
            f"  scale-out to >= {self.expect_replicas}: desired by +{self.scale_out_desired_by:g} s, ready by +{self.scale_out_ready_by:g} s after the step\n"
            f"  scale-in to {self.min_replicas}: not before +{self.scale_in_not_before:g} s, by +{self.scale_in_by:g} s after the drop"
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "metric_delay": self.metric_delay, "scale_out_desired_by": self.scale_out_desired_by,
                "scale_out_ready_by": self.scale_out_ready_by, "scale_in_not_before": self.scale_in_not_before, "scale_in_by": self.scale_in_by}


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the load shape started
    spec_replicas: int | None
    ready_replicas: int
    updated_replicas: int
    hpa_current: int | None
    hpa_desired: int | None
    hpa_metrics: str = ""
    hpa_conditions: str = ""


def _first(samples: list[Sample], start: float, predicate) -> Sample | None:
    return next((s for s in samples if s.t >= start and predicate(s)), None)


def count_reversals(values: list[int]) -> int:
    """Direction changes in a replica series (1 -> 3 -> 1 is one; 1 -> 3 -> 2 -> 3 is two)."""
    reversals, direction, previous = 0, 0, None
    for value in values:
        if previous is not None and value != previous:
            new = 1 if value > previous else -1
            if direction and new != direction:
                reversals += 1
            direction = new
        previous = value
    return reversals


def judge(samples: list[Sample], model: TimingModel, phases: Mapping[str, float]) -> list[Verdict]:
    """Verdicts for a recorded timeline. `phases`: start seconds of `low`, `high`, `drop` and `end`."""
    low, high, drop, end = phases["low"], phases["high"], phases["drop"], phases["end"]
    desired = [s for s in samples if s.hpa_desired is not None]
    verdicts = []

    during_low = [s for s in desired if low <= s.t < high]
    above = next((s for s in during_low if s.hpa_desired > model.min_replicas), None)
    verdicts.append(Verdict(
        "no scale-out in the low phase", bool(during_low) and above is None,
        f"desired replicas == minReplicas {model.min_replicas} from +{low:g} s to +{high:g} s",
        "no HPA samples in the low phase" if not during_low else
        (f"desired {above.hpa_desired} at +{above.t:.0f} s" if above else f"{len(during_low)} samples, max desired {max(s.hpa_desired for s in during_low)}"),
    ))

    by = high + model.scale_out_desired_by
    reached = _first(desired, high, lambda s: s.hpa_desired >= model.expect_replicas)
    verdicts.append(Verdict(
        "scale-out (desired)", reached is not None and reached.t <= by, f"desired >= {model.expect_replicas}", by=f"+{by:g} s", observed=
        f"desired {reached.hpa_desired} at +{reached.t:.0f} s ({reached.t - high:.0f} s after the step)" if reached else
        f"never reached; max desired {max((s.hpa_desired for s in desired if s.t >= high), default=None)}",
    ))
    ready_by = high + model.scale_out_ready_by
    ready = _first(samples, high, lambda s: s.ready_replicas >= model.expect_replicas)
    verdicts.append(Verdict(
        "scale-out (ready pods)", ready is not None and ready.t <= ready_by, f"ready replicas >= {model.expect_replicas}", by=f"+{ready_by:g} s",
        observed=
        f"{ready.ready_replicas} ready at +{ready.t:.0f} s" if ready else
        f"never reached; max ready {max((s.ready_replicas for s in samples if s.t >= high), default=None)}",
    ))

    before_drop = [s.hpa_desired for s in desired if s.t < drop]
    reversals = count_reversals(before_drop)
    verdicts.append(Verdict("no flapping under load", reversals == 0, "desired replicas only rise until the drop",
                            f"{reversals} direction change(s): {_compress(before_drop)}"))

    not_before, in_by = drop + model.scale_in_not_before, drop + model.scale_in_by
    early = _first(desired, drop, lambda s: s.hpa_desired < max(s2.hpa_desired for s2 in desired if s2.t <= drop) if before_drop else False)
    back = _first(desired, drop, lambda s: s.hpa_desired <= model.min_replicas)
    if end < in_by:
        observed = (f"the run ended at +{end:g} s, before the bound +{in_by:g} s: lengthen the observe phase"
                    + (f" (desired {back.hpa_desired} at +{back.t:.0f} s)" if back else ""))
        ok = back is not None and back.t >= not_before
    else:
        ok = back is not None and not_before <= back.t <= in_by
        observed = f"desired {back.hpa_desired} at +{back.t:.0f} s ({back.t - drop:.0f} s after the drop)" if back else \
            f"still {desired[-1].hpa_desired if desired else '?'} at the end (+{end:g} s)"
    verdicts.append(Verdict("scale-in to minReplicas", ok, f"desired == {model.min_replicas}, not before +{not_before:g} s",
                            by=f"+{in_by:g} s", observed=observed))
    if early is not None and early.t < not_before:
        verdicts.append(Verdict("scale-in honours the stabilization window", False, f"no scale-in before +{not_before:g} s",
                                f"desired {early.hpa_desired} at +{early.t:.0f} s"))
    return verdicts


def _compress(values: list[int]) -> str:
    out: list[int] = []
    for value in values:
        if not out or out[-1] != value:
            out.append(value)
    return " -> ".join(map(str, out)) or "none"


# --- Recording from a real API server ----------------------------------------------------------


class Recorder:
    """Polls the track's Deployment and HPA (found by the chart's labels) and their events."""

    def __init__(self, *, namespace: str, release: str, track: str = "main", kubeconfig: str | None = None, context: str | None = None):
        import os

        from kubernetes import client, config

        if kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:  # a Locust master inside the cluster
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            api_client = client.ApiClient(configuration)
        else:
            api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
        self.apps, self.autoscaling, self.core = client.AppsV1Api(api_client), client.AutoscalingV2Api(api_client), client.CoreV1Api(api_client)
        self.namespace, self.release, self.track = namespace, release, track
        self.selector = f"app.kubernetes.io/instance={release},tf-serving.io/track={track}"
        self.samples: list[Sample] = []
        self.events: dict[str, dict] = {}
        self.start = time.monotonic()
        self.name = self._deployment_name()

    def _deployment_name(self) -> str:
        items = self.apps.list_namespaced_deployment(self.namespace, label_selector=self.selector, _request_timeout=10).items
        if len(items) != 1:
            raise LookupError(f"expected one Deployment with labels {self.selector} in namespace {self.namespace}, found "
                              f"{[d.metadata.name for d in items]}: check --release/--track/--kube-namespace")
        return items[0].metadata.name

    def hpa_spec(self) -> tuple[int, dict]:
        """(minReplicas, behavior as a dict in the API's camelCase) of the track's HPA."""
        hpa = self.autoscaling.read_namespaced_horizontal_pod_autoscaler(self.name, self.namespace, _request_timeout=10)
        behavior = self.apps.api_client.sanitize_for_serialization(hpa.spec.behavior) if hpa.spec.behavior else {}
        return hpa.spec.min_replicas or 1, behavior

    def sample(self) -> Sample:
        deployment = self.apps.read_namespaced_deployment(self.name, self.namespace, _request_timeout=10)
        try:
            hpa = self.autoscaling.read_namespaced_horizontal_pod_autoscaler(self.name, self.namespace, _request_timeout=10)
        except Exception:  # noqa: BLE001 - no HPA (yet) is a sample without HPA columns
            hpa = None
        metrics, conditions = "", ""
        if hpa is not None and hpa.status is not None:
            for metric in self.apps.api_client.sanitize_for_serialization(hpa.status.current_metrics or []):
                kind = metric.get("type") or ""
                if not kind:  # the HPA lists a metric it could not read yet with an empty type
                    continue
                body = metric.get(kind[0].lower() + kind[1:], {})
                name = body.get("metric", {}).get("name") or body.get("name", metric["type"])
                current = body.get("current", {})
                metrics += f"{name}={current.get('averageValue', current.get('value', current.get('averageUtilization')))} "
            conditions = " ".join(f"{c.type}={c.status}({c.reason})" for c in hpa.status.conditions or [])
        status = deployment.status
        sample = Sample(
            t=round(time.monotonic() - self.start, 2),
            spec_replicas=deployment.spec.replicas,
            ready_replicas=status.ready_replicas or 0,
            updated_replicas=status.updated_replicas or 0,
            hpa_current=hpa.status.current_replicas if hpa is not None and hpa.status else None,
            # desiredReplicas 0 is an HPA that has not computed a count yet (it never scales to 0 here).
            hpa_desired=(hpa.status.desired_replicas or None) if hpa is not None and hpa.status else None,
            hpa_metrics=metrics.strip(),
            hpa_conditions=conditions,
        )
        self.samples.append(sample)
        for kind, name in (("Deployment", self.name), ("HorizontalPodAutoscaler", self.name)):
            selector = f"involvedObject.kind={kind},involvedObject.name={name}"
            for event in self.core.list_namespaced_event(self.namespace, field_selector=selector, _request_timeout=10).items:
                self.events[event.metadata.uid] = {"kind": kind, "reason": event.reason, "message": event.message,
                                                   "time": str(event.last_timestamp or event.event_time), "count": event.count}
        return sample

    def write(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / "replicas.csv", "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(Sample.__dataclass_fields__))
            writer.writeheader()
            writer.writerows(asdict(s) for s in self.samples)
        (directory / "replicas.json").write_text(json.dumps({"deployment": self.name, "namespace": self.namespace,
                                                             "samples": [asdict(s) for s in self.samples],
                                                             "events": list(self.events.values())}, indent=1))
