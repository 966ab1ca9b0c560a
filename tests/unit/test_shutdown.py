"""Graceful shutdown and rollouts: TF Serving ignores SIGTERM as PID 1, so a pod leaves the
endpoints during a preStop pause, keeps serving until a bounded grace period ends, and a rollout
surges new pods before any old one goes."""

from __future__ import annotations

import pytest

from tfserving_harness import helm
from tfserving_harness.manifests import one, pod_template, server_container
from tfserving_harness.testing import assert_refused, at


def _deployment(docs):
    return one(docs, "Deployment")


def test_server_binary_is_pid_1(default_docs):
    assert server_container(_deployment(default_docs))["command"] == ["tensorflow_model_server"], "bash as PID 1 would not forward signals"


def test_grace_period_covers_the_pause_and_in_flight_requests(default_docs):
    spec = pod_template(_deployment(default_docs))["spec"]
    pause = server_container(_deployment(default_docs))["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pause >= 10, "endpoint removal takes seconds to reach kube-proxy and ingress controllers"
    assert spec["terminationGracePeriodSeconds"] - pause >= 30, "in-flight requests (REST timeout 30s) need the rest of the grace period"


def test_sleep_action_from_kubernetes_1_30_exec_sleep_on_1_29(render):
    newest = server_container(_deployment(render()))["lifecycle"]["preStop"]
    oldest = server_container(_deployment(render(kube_version=helm.OLDEST_KUBE_VERSION)))["lifecycle"]["preStop"]
    assert newest == {"sleep": {"seconds": 15}}
    assert oldest == {"exec": {"command": ["sleep", "15"]}}, "the sleep action is alpha (off) in 1.29"


def test_pause_can_be_turned_off(render):
    assert "lifecycle" not in server_container(_deployment(render({"shutdown": {"preStopSleepSeconds": 0}})))


def test_grace_period_must_exceed_the_pause(render):
    with pytest.raises(helm.RenderError) as failed:
        render({"shutdown": {"preStopSleepSeconds": 30, "terminationGracePeriodSeconds": 30}})
    assert "tf-serving: shutdown.terminationGracePeriodSeconds (30) must be greater than shutdown.preStopSleepSeconds (30)" in failed.value.stderr


def test_rollout_surges_and_never_drops_below_the_replica_count(default_docs):
    spec = _deployment(default_docs)["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    assert spec["minReadySeconds"] > 0


def test_max_surge_accepts_a_percentage(render):
    assert _deployment(render({"rollingUpdate": {"maxSurge": "25%"}}))["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == "25%"


@pytest.mark.parametrize("bad", [0, "0%", "x"])
def test_max_surge_must_allow_at_least_one_extra_pod(render, bad):
    """maxUnavailable is 0, so maxSurge 0 would make every rollout stall."""
    assert_refused({"rollingUpdate": {"maxSurge": bad}}, at("rollingUpdate.maxSurge"))


def test_progress_deadline_outlasts_the_startup_budget(render):
    default = _deployment(render())["spec"]
    startup = server_container(_deployment(render()))["startupProbe"]
    assert default["progressDeadlineSeconds"] > startup["periodSeconds"] * startup["failureThreshold"]
    long = _deployment(render({"probes": {"startup": {"budgetSeconds": 3600}}}))["spec"]
    assert long["progressDeadlineSeconds"] == 3600 + 10 + 120


def test_explicit_progress_deadline_shorter_than_the_budget_fails(render):
    with pytest.raises(helm.RenderError) as failed:
        render({"rollingUpdate": {"progressDeadlineSeconds": 300}})
    assert "tf-serving: rollingUpdate.progressDeadlineSeconds (300) must be greater than probes.startup.budgetSeconds (600)" in failed.value.stderr
