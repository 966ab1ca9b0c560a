"""cpu_cost: the CPU a pod uses idle and at each request rate, read off kubelet samples, and the CPU target that
gives the HPA's decisions from one pod to two and back the same margin."""

from __future__ import annotations

import math
import threading
import time

import pytest

from tfserving_harness.autoscaling import cpu_cost


def hpa_desired(pods_cores: list[float], target: float, tolerance: float = 0.1) -> int:
    """Kubernetes pkg/controller/podautoscaler/replica_calculator.go GetResourceReplicas, every pod ready and
    measured: the current count within the tolerance, else ceil(usage ratio x ready pods)."""
    ratio = sum(pods_cores) / len(pods_cores) / target
    return len(pods_cores) if abs(1.0 - ratio) <= tolerance else math.ceil(ratio * len(pods_cores))


def test_each_hpa_decision_flips_at_its_margin_and_not_before():
    cost = cpu_cost.CpuCost(idle_cores=0.007, cores_at={90.0: 0.087, 10.0: 0.028})
    target = cpu_cost.one_to_two_and_back(cost, 10.0, 90.0)
    t, margins = target.cores, target.margins

    def decisions(scale: float) -> tuple[int, int, int]:
        """Every measured CPU x scale: (low phase on one pod, high phase on one pod, after the drop on two)."""
        low, high, idle = (scale * c for c in (0.028, 0.087, 0.007))
        return hpa_desired([low], t), hpa_desired([high], t), hpa_desired([low, idle], t)

    assert decisions(1.0) == (1, 2, 1)
    assert decisions(0.98 * margins["no scale-out at the low rate"])[0] == 1
    assert decisions(1.02 * margins["no scale-out at the low rate"])[0] == 2
    assert decisions(1.02 / margins["scale-out at the high rate"])[1] == 2
    assert decisions(0.98 / margins["scale-out at the high rate"])[1] == 1
    assert decisions(0.98 * margins["scale-in at the low rate"])[2] == 1
    assert decisions(1.02 * margins["scale-in at the low rate"])[2] == 2
    # The target balances the two decisions that pull against each other; the low phase's is the widest.
    assert margins["scale-out at the high rate"] == pytest.approx(margins["scale-in at the low rate"]) == pytest.approx(1.50, abs=0.01)
    assert margins["no scale-out at the low rate"] > margins["scale-in at the low rate"]
    rounded = cpu_cost.at_target(cost, 10.0, 90.0, 0.05)  # the whole percent the chart gets: 50 % of 100m
    assert rounded.margins["scale-in at the low rate"] == pytest.approx(0.05 / 0.035)


def test_the_margin_shrinks_when_the_cpu_barely_rises_with_the_rate():
    flat = cpu_cost.CpuCost(idle_cores=0.007, cores_at={90.0: 0.040, 10.0: 0.030})
    assert min(cpu_cost.one_to_two_and_back(flat, 10.0, 90.0).margins.values()) < 1.1


class FakePod:
    """A pod whose kubelet samples every `interval` s: idle CPU plus `per_request` for each request sent."""

    def __init__(self, idle: float, per_request: float, interval: float = 0.1):
        self.idle, self.per_request, self.interval = idle, per_request, interval
        self.start, self.requests, self.lock = time.time(), [], threading.Lock()
        self.fail = False

    def send(self) -> None:
        if self.fail:
            raise ConnectionError("connection refused")
        with self.lock:
            self.requests.append(time.time())

    def sample(self) -> cpu_cost.CpuSample:
        taken = self.start + (time.time() - self.start) // self.interval * self.interval
        with self.lock:
            sent = sum(t <= taken for t in self.requests)
        return cpu_cost.CpuSample(taken, (taken - self.start) * self.idle + sent * self.per_request)


def test_measure_reads_the_idle_floor_and_the_cpu_at_each_rate():
    pod = FakePod(idle=0.005, per_request=0.002)
    cost = cpu_cost.measure(pod.sample, pod.send, [40.0, 20.0], seconds=1.0, settle=0.3, progress=lambda _: None)
    assert cost.idle_cores == pytest.approx(0.005, rel=0.01)
    assert list(cost.cores_at) == [40.0, 20.0]  # in the order asked: the last rate is what the HPA holds afterwards
    assert cost.cores_at[40.0] == pytest.approx(0.005 + 40 * 0.002, rel=0.2)
    assert cost.cores_at[20.0] == pytest.approx(0.005 + 20 * 0.002, rel=0.2)


def test_a_failed_request_fails_the_measurement():
    pod = FakePod(idle=0.005, per_request=0.002)
    pod.fail = True
    with pytest.raises(RuntimeError, match="a REST predict failed at 20 req/s: ConnectionError"):
        cpu_cost.measure(pod.sample, pod.send, [20.0], seconds=0.3, settle=0.1, progress=lambda _: None)


def test_a_rate_the_senders_cannot_keep_is_refused_not_measured_low():
    pod = FakePod(idle=0.005, per_request=0.002)
    slow = lambda: (time.sleep(0.1), pod.send())  # noqa: E731 - 4 threads x 10/s: 40 of the 100 req/s asked
    with pytest.raises(RuntimeError, match="4 sender threads got .* of the 100 REST predicts/s asked answered"):
        cpu_cost.measure(pod.sample, slow, [100.0], seconds=0.5, settle=0.2, senders=4, progress=lambda _: None)


def test_a_pod_the_kubelet_stops_sampling_times_out_with_what_was_awaited():
    frozen = cpu_cost.CpuSample(100.0, 1.0)
    with pytest.raises(TimeoutError, match="no kubelet sample of the pod after now within 1 s"):
        cpu_cost.measure(lambda: frozen, lambda: None, [10.0], seconds=1.0, timeout=1.0, progress=lambda _: None)
