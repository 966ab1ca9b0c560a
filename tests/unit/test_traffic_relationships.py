"""Across every ci/ scenario: each Service selects exactly the pods it should, canary Ingresses mirror
their primary, route weights are what the values say, each PDB targets its own track.

The relationships live in tfserving_harness.relationships (check_values runs them on a user's
values); each is shown here to hold on every scenario and to catch a deliberately broken render."""

from __future__ import annotations

import pytest

from tfserving_harness import helm, relationships, testing
from tfserving_harness.frozen import thaw
from tfserving_harness.manifests import of_kind
from tfserving_harness.testing import ci_scenarios
from tfserving_harness.values import effective_values

SCENARIOS = ci_scenarios()
FILES = [p.values[0] for p in SCENARIOS]
FULLNAME = "tfs-tf-serving"


def _scenario(values_file):
    return testing.scenario(values_file), effective_values([values_file])


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_every_service_selects_exactly_its_tracks_pods(values_file):
    docs, values = _scenario(values_file)
    assert relationships.service_selection_problems(docs, values, helm.DEFAULT_RELEASE) == []


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_each_pdb_targets_its_own_track(values_file):
    docs, values = _scenario(values_file)
    assert relationships.pdb_problems(docs, values) == []


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_canary_ingresses_mirror_their_primary_and_reach_the_canary_track(values_file):
    docs, values = _scenario(values_file)
    assert relationships.canary_ingress_problems(docs, values) == []


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_route_weights_are_what_the_values_say(values_file):
    docs, values = _scenario(values_file)
    assert relationships.route_weight_problems(docs, values) == []


def test_the_scenarios_exercise_every_relationship():
    """Otherwise the checks above could pass on renders that have nothing to compare."""
    kinds = {d["kind"] for f in FILES for d in _scenario(f)[0]}
    canaries = [f for f in FILES if _scenario(f)[1]["canary"]["enabled"]]
    assert {"PodDisruptionBudget", "Ingress", "HTTPRoute", "GRPCRoute"} <= kinds and canaries


def _broken(values_file, kind, change):
    docs, values = _scenario(values_file)
    copy = [thaw(d) for d in docs]
    target = next(d for d in copy if d["kind"] == kind)
    change(target)
    return copy, values


def _scenario_file(name):
    return next(p.values[0] for p in SCENARIOS if p.id == name)


def test_catches_a_service_that_selects_the_wrong_track():
    def retarget(service):
        service["spec"]["selector"]["tf-serving.io/track"] = "stable" if service["spec"]["selector"]["tf-serving.io/track"] != "stable" else "canary"

    docs, values = _broken(_scenario_file("tracks-canary"), "Service", retarget)
    problems = relationships.service_selection_problems(docs, values, helm.DEFAULT_RELEASE)
    assert [(p.object, p.field) for p in problems] == [(f"Service/{FULLNAME}", "spec.selector")]


def test_catches_a_canary_ingress_with_another_weight_and_path():
    def change(ingress):
        if ingress["metadata"]["name"].endswith("-canary"):
            ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] = "99"

    docs, values = _scenario(_scenario_file("ingress-canary-weight"))
    copy = [thaw(d) for d in docs]
    for ingress in of_kind(copy, "Ingress"):
        change(ingress)
    problems = relationships.canary_ingress_problems(copy, values)
    assert [p.field for p in problems] == ["metadata.annotations.nginx.ingress.kubernetes.io/canary-weight"]
    canary = next(i for i in of_kind(copy, "Ingress") if i["metadata"]["name"].endswith("-canary"))
    canary["spec"]["rules"][0]["http"]["paths"][0]["path"] = "/"
    assert any(p.field == "spec" and "does not mirror" in p.message for p in relationships.canary_ingress_problems(copy, values))


def test_catches_route_weights_that_differ_from_canary_weight():
    def change(route):
        route["spec"]["rules"][-1]["backendRefs"][0]["weight"] = 1

    docs, values = _broken(_scenario_file("gateway-api"), "HTTPRoute", change)
    problems = relationships.route_weight_problems(docs, values)
    assert len(problems) == 1 and problems[0].field.endswith(".backendRefs") and "the values say" in problems[0].message


def test_catches_a_pdb_that_selects_every_track():
    def widen(pdb):
        pdb["spec"]["selector"]["matchLabels"].pop("tf-serving.io/track")

    scenario = next(f for f in FILES if _scenario(f)[1]["podDisruptionBudget"]["enabled"] and len(relationships.tracks(_scenario(f)[1])[0]) > 1)
    docs, values = _broken(scenario, "PodDisruptionBudget", widen)
    problems = relationships.pdb_problems(docs, values)
    assert problems and all(p.field == "spec.selector" for p in problems)


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_no_two_objects_share_a_kind_and_name(values_file, scenario):
    docs = scenario(values_file)
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


def test_a_track_named_main_next_to_others_gets_its_own_service_name(render):
    """Track `main` keeps the plain Deployment name; its Service must not collide with the main Service."""
    docs = render({"tracks": {"main": {}, "canary": {}}, "primaryTrack": "canary"})
    selectors = {s["metadata"]["name"]: s["spec"]["selector"]["tf-serving.io/track"] for s in of_kind(docs, "Service")}
    assert selectors == {FULLNAME: "canary", f"{FULLNAME}-main": "main", f"{FULLNAME}-canary": "canary"}
    values = effective_values(overrides={"tracks": {"main": {}, "canary": {}}, "primaryTrack": "canary"})
    assert relationships.relationship_problems(docs, values, helm.DEFAULT_RELEASE) == []


def test_fullname_follows_the_chart_helper(render):
    for overrides, release in (({}, "tfs"), ({"nameOverride": "serve"}, "tfs"), ({"fullnameOverride": "models"}, "x"), ({}, "my-tf-serving")):
        docs = render(overrides, name=release)
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        assert relationships.fullname(effective_values(overrides=overrides), release) == deployment["metadata"]["name"]
