"""The rollout runner without a cluster: a dry run prints every step and runs nothing; the load
hook runs only while a gate is inconclusive and is stopped afterwards."""

from __future__ import annotations

import os

import pytest

from tfserving_harness.rollout import gates, plan
from tfserving_harness.rollout.execute import GateConfig, GateHold, Runner
from tfserving_harness.rollout.release import Release
from tfserving_harness.rollout.standins import PrometheusStandIn, TrackSample

VALUES = plan.ReleaseValues(
    {"ingress": {"enabled": True}, "tracks": {"main": {}, "canary": {"image": {"tag": "2.20.1"}}}, "primaryTrack": "main",
     "canary": {"enabled": True, "weight": 5}},
    {"ingress": {"enabled": True}, "gatewayApi": {"enabled": False}, "blueGreen": {"enabled": False},
     "tracks": {"main": {}, "canary": {"image": {"tag": "2.20.1"}}}, "primaryTrack": "main",
     "canary": {"enabled": True, "weight": 5, "track": "canary"}})


def test_dry_run_prints_the_helm_plan_and_touches_nothing():
    said = []
    runner = Runner(Release("tfs", "ml"), "charts/tf-serving", dry_run=True, say=said.append, kube=None)
    runner.run(plan.plan_promote(VALUES, drain_seconds=5), VALUES)
    text = "\n".join(said)
    assert text.count("upgrade tfs charts/tf-serving --atomic") == 3, text
    assert "--set-json 'tracks.main={\"image\":{\"tag\":\"2.20.1\"}}'" in text
    assert "--reset-values --values -" in text and "pause 5s" in text
    assert said[-1] == "dry run: nothing was changed"


def test_load_command_runs_while_inconclusive_and_is_stopped(tmp_path):
    marker = tmp_path / "load-pid"
    with PrometheusStandIn(tracks={"canary": TrackSample(10, 0, 5.0)}) as prometheus:
        runner = Runner(Release("tfs", "ml"), "chart", say=lambda _: None, sleep=lambda _: None, gate=GateConfig(
            prometheus.url, gates.Limits(min_requests=100), inconclusive_timeout=1, poll=0.4,
            load_command=f"echo $$ > {marker}; exec sleep 60"))
        with pytest.raises(GateHold, match="fewer than --min-requests 100"):
            runner.check_gate(VALUES)
    assert marker.exists(), "the load command ran while the gate was inconclusive"
    with pytest.raises(ProcessLookupError):
        os.kill(int(marker.read_text()), 0)  # stopped (and reaped) once the gate gave up


@pytest.mark.parametrize("tag, expected", [("2.19.1", "2.19.1"), ("2.19.1-gpu", "2.19.1"), ("latest", None), ("", None)])
def test_ops_are_checked_against_the_image_tag_the_values_run(tmp_path, tag, expected):
    from tfserving_harness.paths import chart_dir
    from tfserving_harness.rollout import cli

    values = tmp_path / "values.yaml"
    values.write_text(f"image: {{tag: {tag!r}}}\n")
    assert cli.serving_version_of(str(values)) == (expected or cli.chart_app_version(chart_dir()))


def test_a_release_changed_by_someone_else_during_the_waits_is_not_upgraded():
    from tfserving_harness.rollout.release import ReleaseError

    class Moving(Release):
        answers = iter([4, 5])  # revision when the command starts, then before its first upgrade

        def status(self):
            return {"version": next(self.answers), "info": {"status": "deployed"}}

    runner = Runner(Moving("tfs", "ml"), "chart", say=lambda _: None, kube=object())
    runner.helm = lambda command: pytest.fail(f"helm ran: {command.show()}")
    with pytest.raises(ReleaseError, match="moved to revision 5 while this command waited"):
        runner.run(plan.plan_canary_abort(VALUES), VALUES)
