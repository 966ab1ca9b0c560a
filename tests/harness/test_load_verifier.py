"""The autoscaling verifier's verdicts on recorded timelines, and its timing model with the chart's defaults."""

from __future__ import annotations

import pytest

from tfserving_harness import values
from tfserving_harness.load.verifier import Sample, TimingModel, count_reversals, judge

# Short windows as a cluster test would set them: metric delay 5 + 10 + 0, sync 15.
BEHAVIOR = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
    "scaleDown": {"stabilizationWindowSeconds": 30, "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
}
MODEL = TimingModel(min_replicas=1, expect_replicas=3, scrape_interval=5, rate_window=10, adapter_interval=0, pod_start=5, behavior=BEHAVIOR)
PHASES = {"low": 10, "high": 40, "drop": 100, "end": 200}


def timeline(*changes: tuple[float, int], ready_lag: float = 2, until: float = 200, every: float = 5) -> list[Sample]:
    """Samples every `every` s; `changes` are (time, desired replicas); ready follows `ready_lag` s later."""
    samples, t = [], 0.0
    while t <= until:
        desired = [d for at, d in changes if at <= t][-1]
        ready = [d for at, d in changes if at + ready_lag <= t]
        samples.append(Sample(t, desired, ready[-1] if ready else changes[0][1], desired, desired, desired))
        t += every
    return samples


def verdicts(samples):
    return {v.name: v for v in judge(samples, MODEL, PHASES)}


def test_timing_model_bounds():
    assert MODEL.metric_delay == 15
    # 1 -> 2 -> 3 needs two +100 % periods; the controller allows the second at the first sync after
    # the 15 s period has fully passed (timestamp.After(now - period)): a 15 s sync later, 30 s.
    assert MODEL.scale_out_desired_by == 15 + 15 + 0 + 30
    assert MODEL.scale_out_ready_by == MODEL.scale_out_desired_by + 5
    # The last high recommendation can come from the sync up to 15 s before the drop: 30 - 15.
    assert MODEL.scale_in_not_before == 15
    assert MODEL.scale_in_by == 15 + 15 + 45  # the 30 s window ends at the sync after it (45 s); 3 -> 1 in one -100 % period
    assert "scale-out to >= 3: desired by +60 s" in MODEL.describe()


def test_the_sampling_interval_widens_the_upper_bounds_only():
    sampled = TimingModel(**{**MODEL.__dict__, "sample_interval": 3})
    assert sampled.scale_out_desired_by == MODEL.scale_out_desired_by + 3 and sampled.scale_in_by == MODEL.scale_in_by + 3
    assert sampled.scale_in_not_before == MODEL.scale_in_not_before


def test_timing_model_with_the_chart_defaults():
    chart = values.effective_values()["autoscaling"]
    model = TimingModel(min_replicas=chart["minReplicas"], expect_replicas=5, behavior=chart["behavior"])
    # 2 -> 5 in one step (max(+100 %, +4 pods) = +4), at the sync after the 60 s scaleUp window (75 s).
    assert model.scale_out_desired_by == 180 + 15 + 75
    # 5 -> 4 -> 3 -> 2 at -20 %/120 s (at least one pod per period): three periods after the 600 s
    # window, each ending at the sync after it (615 s, 135 s).
    assert model.scale_in_not_before == 600 - 15
    assert model.scale_in_by == 180 + 15 + 615 + 2 * 135


def test_on_time_scale_out_and_scale_in_pass():
    result = verdicts(timeline((0, 1), (60, 2), (75, 3), (140, 1)))
    assert all(v.ok for v in result.values()), [v.line() for v in result.values()]
    assert result["scale-out (desired)"].observed == "desired 3 at +75 s (35 s after the step)"


def test_late_scale_out_fails_and_says_when():
    result = verdicts(timeline((0, 1), (60, 2), (105, 3), (160, 1)))
    late = result["scale-out (desired)"]
    assert not late.ok
    assert late.by == "+100 s" and "desired 3 at +105 s" in late.observed
    assert late.line() == "FAIL  scale-out (desired): expected desired >= 3 by +100 s; observed desired 3 at +105 s (65 s after the step)"


def test_scale_out_during_the_low_phase_fails():
    result = verdicts(timeline((0, 1), (25, 2), (30, 1), (60, 3), (140, 1)))
    low = result["no scale-out in the low phase"]
    assert not low.ok and low.observed == "desired 2 at +25 s"


def test_flapping_under_load_fails():
    result = verdicts(timeline((0, 1), (50, 3), (65, 2), (75, 3), (140, 1)))
    flapping = result["no flapping under load"]
    assert not flapping.ok and flapping.observed == "2 direction change(s): 1 -> 3 -> 2 -> 3"


def test_no_scale_in_fails():
    result = verdicts(timeline((0, 1), (60, 3)))
    scale_in = result["scale-in to minReplicas"]
    assert not scale_in.ok and scale_in.observed == "still 3 at the end (+200 s)"


def test_scale_in_before_the_stabilization_window_fails():
    result = verdicts(timeline((0, 1), (60, 3), (110, 1)))
    assert not result["scale-in to minReplicas"].ok
    assert not result["scale-in honours the stabilization window"].ok


@pytest.mark.parametrize("series, expected", [([1, 1, 3, 3, 1], 1), ([1, 3, 2, 3, 1], 3), ([2, 2, 2], 0)])
def test_count_reversals(series, expected):
    assert count_reversals(series) == expected
