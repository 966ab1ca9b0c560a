"""Graceful shutdown and rollouts: TF Serving ignores SIGTERM as PID 1, so a pod leaves the
endpoints during a preStop pause, keeps serving until a bounded grace period ends, and a rollout
surges new pods before any old one goes. kube-proxy keeps established connections to a terminating
pod, and TF Serving tells a gRPC connection to go away only at its max age (gRPC's max-age filter:
the age times 0.9-1.1, then the grace before it closes the connection), so the grace period must
outlast the last connection opened during the pause: pause + 1.1 x age + age grace."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from tfserving_harness import helm
from tfserving_harness.manifests import one, pod_template, server_container, server_flags
from tfserving_harness.testing import assert_refused, at


def _deployment(docs):
    return one(docs, "Deployment")


def test_server_binary_is_pid_1(default_docs):
    assert server_container(_deployment(default_docs))["command"] == ["tensorflow_model_server"], "bash as PID 1 would not forward signals"


def _needed_seconds(docs) -> int:
    """What the rendered pod needs, read from the rendered flags and pause (not from the values)."""
    container = server_container(_deployment(docs))
    flags = server_flags(container)
    channel = dict(pair.split("=") for pair in flags["grpc_channel_arguments"].split(","))
    pause = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    # 1.1 x age + grace, in whole seconds rounded up (exact fractions: 1.1 is no binary float).
    grpc = math.ceil(Fraction(11, 10) * int(channel["grpc.max_connection_age_ms"]) / 1000 + Fraction(int(channel["grpc.max_connection_age_grace_ms"]), 1000))
    rest = math.ceil(Fraction(int(flags["rest_api_timeout_in_ms"]), 1000))
    return pause + max(grpc, rest)


def test_default_grace_period_outlasts_every_connection(default_docs):
    spec = pod_template(_deployment(default_docs))["spec"]
    pause = server_container(_deployment(default_docs))["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pause >= 10, "endpoint removal takes seconds to reach kube-proxy and ingress controllers"
    assert _needed_seconds(default_docs) == 10 + 33 + 10
    assert spec["terminationGracePeriodSeconds"] == 60 >= _needed_seconds(default_docs)


@pytest.mark.parametrize(
    "values",
    [
        {"shutdown": {"preStopSleepSeconds": 30, "terminationGracePeriodSeconds": 73}},
        {"shutdown": {"preStopSleepSeconds": 0, "terminationGracePeriodSeconds": 43}},
        {"server": {"restApiTimeoutInMs": 60001}, "shutdown": {"terminationGracePeriodSeconds": 71}},
        {"server": {"grpcChannelArguments": {"grpc.max_connection_age_ms": 300000, "grpc.max_connection_age_grace_ms": 60000}},
         "shutdown": {"terminationGracePeriodSeconds": 400}},
        {"server": {"grpcChannelArguments": {"grpc.max_connection_age_ms": 1001, "grpc.max_connection_age_grace_ms": 1}},
         "shutdown": {"preStopSleepSeconds": 1, "terminationGracePeriodSeconds": 31}},
    ],
    ids=["slow-load-balancer", "no-pause", "long-rest-timeout", "long-connections", "rest-bound"],
)
def test_the_shortest_grace_period_the_rule_allows_renders_and_one_second_less_is_refused(render, values):
    docs = render(values)
    grace = pod_template(_deployment(docs))["spec"]["terminationGracePeriodSeconds"]
    assert grace == _needed_seconds(docs)
    shorter = {**values, "shutdown": {**values.get("shutdown", {}), "terminationGracePeriodSeconds": grace - 1}}
    assert_refused(shorter, f"tf-serving: shutdown.terminationGracePeriodSeconds ({grace - 1}) must be at least {grace}, or a terminating pod is killed with calls in flight")


def test_sleep_action_from_kubernetes_1_30_exec_sleep_on_1_29(render):
    newest = server_container(_deployment(render()))["lifecycle"]["preStop"]
    oldest = server_container(_deployment(render(kube_version=helm.OLDEST_KUBE_VERSION)))["lifecycle"]["preStop"]
    assert newest == {"sleep": {"seconds": 10}}
    assert oldest == {"exec": {"command": ["sleep", "10"]}}, "the sleep action is alpha (off) in 1.29"


def test_pause_can_be_turned_off(render):
    assert "lifecycle" not in server_container(_deployment(render({"shutdown": {"preStopSleepSeconds": 0}})))


def test_the_refusal_shows_the_sum(render):
    assert_refused({"shutdown": {"preStopSleepSeconds": 30, "terminationGracePeriodSeconds": 30}},
                   "shutdown.preStopSleepSeconds (30) + the longer of the gRPC connections' end, 1.1 x server.grpcChannelArguments.grpc.max_connection_age_ms (30000) "
                   "+ grpc.max_connection_age_grace_ms (10000) = 43 s, and a REST request, server.restApiTimeoutInMs (30000) = 30 s")


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
