"""tfs-rollout planning: release values + command -> ordered helm value changes.

Every intermediate state of a plan is rendered with the chart, and the test checks what users
care about: some available track serves the main Service and every weighted route at every
moment, nothing that still gets traffic is deleted, and a finished plan re-plans to nothing."""

from __future__ import annotations

import copy

import pytest
import yaml

from tfserving_harness import manifests
from tfserving_harness.rollout import plan
from tfserving_harness.rollout.release import Release
from tfserving_harness.values import effective_values

PINNED = [{"name": "half_plus_two", "basePath": "/models/half_plus_two", "versionPolicy": {"specific": {"versions": [1]}}}]
#: A release serving its own model (versions on storage: here the image's, source none).
SINGLE = {"ingress": {"enabled": True}, "models": PINNED, "modelStorage": {"source": "none"}}


def release_values(user: dict) -> plan.ReleaseValues:
    # effective_values merges as Helm does (maps key by key, null deletes); values.yaml is parsed once per session.
    return plan.ReleaseValues(user, effective_values(overrides=copy.deepcopy(user)))


def run_plan(user: dict, the_plan: plan.Plan) -> list[dict]:
    """The user values after each step (first: before any)."""
    states = [user]
    for step in the_plan.steps:
        states.append(plan.apply_changes(states[-1], step.changes))
    return states


def serving_view(render, user: dict) -> dict:
    """What receives requests in a rendered state: track -> replicas, the main Service's track,
    and the canary Ingress' track and weight."""
    docs = render(user)
    deployments = {d["spec"]["template"]["metadata"]["labels"]["tf-serving.io/track"]: d["spec"].get("replicas", 1)
                   for d in manifests.of_kind(docs, "Deployment")}
    services = {s["metadata"]["name"]: s for s in manifests.of_kind(docs, "Service")}
    main = next(s for s in services.values() if s["metadata"]["labels"]["tf-serving.io/service"] == "main")
    routed = {main["spec"]["selector"]["tf-serving.io/track"]: 100}
    for ingress in manifests.of_kind(docs, "Ingress"):
        weight = int(ingress["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/canary-weight", 0))
        if ingress["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/canary") == "true":
            backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
            track = services[backend]["spec"]["selector"]["tf-serving.io/track"]
            routed[track] = routed.get(track, 0) + weight
    return {"deployments": deployments, "routed": {t: w for t, w in routed.items() if w > 0}}


def assert_always_served(render, the_plan: plan.Plan, states: list[dict]) -> None:
    views = [serving_view(render, s) for s in states]
    for number, view in enumerate(views):
        for track in view["routed"]:
            assert view["deployments"].get(track, 0) >= 1, f"after step {number}: traffic to track {track} without pods: {view}"
    for number, (before, after) in enumerate(zip(views, views[1:], strict=False), 1):
        step = the_plan.steps[number - 1]
        removed = set(before["deployments"]) - set(after["deployments"])
        assert not removed & set(before["routed"]), f"step {number} deletes {removed} while it still gets traffic: {before}"
        newly_routed = set(after["routed"]) - set(before["routed"])
        for track in newly_routed:
            assert track in step.ready_before, f"step {number} routes to {track} without waiting until it is available"
        if removed:
            previous = the_plan.steps[number - 2] if number >= 2 else None
            assert previous is not None and previous.pause_after > 0, f"step {number} deletes {removed} without a drain pause before"


def test_canary_start_from_a_single_track_keeps_its_names_and_waits_before_routing(render):
    values = release_values(SINGLE)
    the_plan = plan.plan_canary_start(values, plan.CanarySpec(model_versions={"*": 2}), first_weight=5)
    deploy, route = the_plan.steps
    assert dict(deploy.changes)["tracks.main"] == {} and dict(deploy.changes)["primaryTrack"] == "main"
    assert dict(deploy.changes)["tracks.canary"]["models"][0]["versionPolicy"] == {"specific": {"versions": [2]}}
    assert deploy.ready_after == ("canary",)
    assert "canary.enabled" not in dict(deploy.changes), "no route (not even the header rule) before the canary is available"
    assert route.changes == (("canary.enabled", True), ("canary.weight", 5)) and route.ready_before == ("canary",)
    states = run_plan(SINGLE, the_plan)
    assert_always_served(render, the_plan, states)
    names_before = {d["metadata"]["name"] for d in manifests.of_kind(render(states[0]), "Deployment")}
    names_after = {d["metadata"]["name"] for d in manifests.of_kind(render(states[-1]), "Deployment")}
    assert names_before < names_after, (names_before, names_after)


def test_canary_start_rerun_plans_nothing():
    values = release_values(SINGLE)
    spec = plan.CanarySpec(model_versions={"half_plus_two": 2})
    done = run_plan(SINGLE, plan.plan_canary_start(values, spec, 5))[-1]
    again = plan.plan_canary_start(release_values(done), spec, 5)
    assert again.empty, again
    assert "already running at 5%" in " ".join(again.notes)


@pytest.mark.parametrize("user, spec, message", [
    ({"models": PINNED}, plan.CanarySpec(model_versions={"*": 2}), "needs traffic splitting"),
    ({**SINGLE, "models": [{"name": "m", "basePath": "/models/m"}]}, plan.CanarySpec(model_versions={"*": 2}),
     "has no `versionPolicy.specific`"),
    (SINGLE, plan.CanarySpec(model_versions={"other": 2}), "serves only ['half_plus_two']"),
    (SINGLE, plan.CanarySpec(), "needs what the canary runs"),
    (SINGLE, plan.CanarySpec(image_tag="2.20.0", replicas=0), "--replicas must be at least 1"),
    ({"blueGreen": {"enabled": True}, "ingress": {"enabled": True}}, plan.CanarySpec(image_tag="2.20.0"), "bluegreen switch"),
])
def test_canary_start_refuses_bad_input_with_the_reason(user, spec, message):
    with pytest.raises(plan.PlanError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan.plan_canary_start(release_values(user), spec, 5)


def test_canary_start_refuses_to_replace_a_canary_that_gets_traffic():
    running = run_plan(SINGLE, plan.plan_canary_start(release_values(SINGLE), plan.CanarySpec(model_versions={"*": 2}), 25))[-1]
    with pytest.raises(plan.PlanError, match="already receiving 25%"):
        plan.plan_canary_start(release_values(running), plan.CanarySpec(model_versions={"*": 3}), 5)


@pytest.mark.parametrize("current, expected", [(0, 5), (5, 25), (25, 50), (50, 100), (100, None), (30, 50)])
def test_next_weight_is_the_first_step_above_the_current_one(current, expected):
    assert plan.next_weight(current, plan.parse_steps("5,25,50,100")) == expected


@pytest.mark.parametrize("text", ["5,25,x", "25,5", "0,50", "5,150", "5,5"])
def test_bad_steps_are_refused(text):
    with pytest.raises(plan.PlanError, match="--steps"):
        plan.parse_steps(text)


def test_advance_is_gated_and_waits_for_the_canary():
    running = run_plan(SINGLE, plan.plan_canary_start(release_values(SINGLE), plan.CanarySpec(model_versions={"*": 2}), 5))[-1]
    (step,) = plan.plan_canary_advance(release_values(running), 25).steps
    assert step.gate_before and step.ready_before == ("canary",) and step.changes == (("canary.weight", 25),)
    assert plan.plan_canary_advance(release_values(plan.apply_changes(running, step.changes)), 25).empty


def test_advance_without_a_canary_says_how_to_start_one():
    with pytest.raises(plan.PlanError, match="canary start"):
        plan.plan_canary_advance(release_values(SINGLE), 25)


@pytest.mark.parametrize("weight", [5, 100])
def test_promote_never_leaves_traffic_without_pods_and_ends_with_one_track(render, weight):
    running = run_plan(SINGLE, plan.plan_canary_start(release_values(SINGLE), plan.CanarySpec(model_versions={"*": 2}), weight))[-1]
    running["tracks"]["main"] = {"replicaCount": 3}
    the_plan = plan.plan_promote(release_values(running), drain_seconds=30)
    summaries = [s.summary for s in the_plan.steps]
    assert len(summaries) == 3, summaries
    states = run_plan(running, the_plan)
    assert_always_served(render, the_plan, states)
    final = states[-1]
    assert final["tracks"] == {"main": {"replicaCount": 3, "models": running["tracks"]["canary"]["models"]}}
    assert final["canary"]["enabled"] is False
    view = serving_view(render, final)
    assert view == {"deployments": {"main": 3}, "routed": {"main": 100}}, view
    again = plan.plan_promote(release_values(final))
    assert again.empty, again


def test_promote_order_is_roll_primary_then_weight_zero_then_remove():
    running = run_plan(SINGLE, plan.plan_canary_start(release_values(SINGLE), plan.CanarySpec(image_tag="2.20.1"), 50))[-1]
    roll, drain, remove = plan.plan_promote(release_values(running), drain_seconds=12).steps
    assert roll.changes == (("tracks.main", {"image": {"tag": "2.20.1"}}),) and roll.ready_after == ("main",)
    assert drain.changes == (("canary.weight", 0),) and drain.pause_after == 12
    assert remove.changes == (("canary.enabled", False), ("tracks.canary", None))


def test_bluegreen_switch_smoke_tests_the_idle_colour_first_and_is_idempotent(render):
    user = {"blueGreen": {"enabled": True, "active": "blue", "green": {"image": {"tag": "2.20.1"}}}}
    (step,) = plan.plan_bluegreen_switch(release_values(user), "green").steps
    assert step.changes == (("blueGreen.active", "green"),)
    assert step.ready_before == ("green",) and step.smoke_before == "preview"
    after = plan.apply_changes(user, step.changes)
    assert serving_view(render, after)["routed"] == {"green": 100}
    assert plan.plan_bluegreen_switch(release_values(after), "green").empty
    with pytest.raises(plan.PlanError, match="does not use blueGreen"):
        plan.plan_bluegreen_switch(release_values(SINGLE), "green")


@pytest.mark.parametrize("user, changes, exact", [
    ({}, [("canary.weight", 5)], False),
    ({"tracks": {"main": {}}}, [("tracks.main", {"replicaCount": 3})], False),
    ({"tracks": {"canary": {"replicaCount": 1}}}, [("tracks.canary", None)], True),
    ({"tracks": {"main": {"image": {"tag": "1"}}}}, [("tracks.main", {"models": []})], True),
    ({"tracks": {"main": {"image": {"tag": "1", "digest": "sha256:x"}}}}, [("tracks.main", {"image": {"tag": "2"}})], True),
])
def test_steps_helm_cannot_express_with_set_json_use_the_whole_values_file(user, changes, exact):
    assert plan.needs_exact_values(user, changes) is exact
    command = Release("tfs", "ns").upgrade_command("chart", plan.Step("s", tuple(changes)), user, "5m")
    assert "--atomic" in command.args
    if exact:
        assert "--reset-values" in command.args and "--reset-then-reuse-values" not in command.args
        assert yaml.safe_load(command.values_file_text) == plan.apply_changes(user, changes)
    else:
        assert "--reset-then-reuse-values" in command.args and not command.values_file_text


def test_advance_from_zero_is_not_gated_there_is_nothing_to_judge():
    running = run_plan(SINGLE, plan.plan_canary_start(release_values(SINGLE), plan.CanarySpec(model_versions={"*": 2}), 0))[-1]
    (step,) = plan.plan_canary_advance(release_values(running), 5).steps
    assert not step.gate_before and step.ready_before == ("canary",)
