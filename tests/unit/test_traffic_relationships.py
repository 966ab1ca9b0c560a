"""Across every ci/ scenario: each Service selects exactly the pods it should, canary Ingresses mirror
their primary, route weights are what the values say, each PDB targets its own track."""

from __future__ import annotations

import pytest

from tfserving_harness.frozen import thaw
from tfserving_harness.manifests import of_kind, pod_template, selector_matches
from tfserving_harness.testing import ci_scenarios
from tfserving_harness.values import effective_values

SCENARIOS = ci_scenarios()
FULLNAME = "tfs-tf-serving"


def _tracks(values):
    if values["blueGreen"]["enabled"]:
        return ["blue", "green"], values["blueGreen"]["active"]
    names = sorted(values["tracks"]) or ["main"]
    return names, values["primaryTrack"] or names[0]


def _deployment_of(track):
    return FULLNAME if track == "main" else f"{FULLNAME}-{track}"


def _expected_services(values):
    """Service name -> the Deployments it must select, derived from the values alone."""
    tracks, primary = _tracks(values)
    expected = {FULLNAME: [_deployment_of(primary)]}
    if len(tracks) > 1:
        expected.update({f"{FULLNAME}-{t}": [_deployment_of(t)] for t in tracks})
    if values["blueGreen"]["enabled"] and values["blueGreen"]["preview"]:
        expected[f"{FULLNAME}-preview"] = [_deployment_of(next(t for t in tracks if t != primary))]
    if values["metrics"]["enabled"] and values["monitoring"]["serviceMonitor"]["enabled"]:
        # The headless metrics Service scrapes every track (and only this release's).
        expected[f"{FULLNAME}-metrics"] = sorted(_deployment_of(t) for t in tracks)
    return expected


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_every_service_selects_exactly_its_tracks_pods(values_file, scenario):
    values = effective_values([values_file])
    docs = scenario(values_file)
    deployments = of_kind(docs, "Deployment")
    selected = {
        s["metadata"]["name"]: sorted(d["metadata"]["name"] for d in deployments if selector_matches(s["spec"]["selector"], pod_template(d)["metadata"]["labels"]))
        for s in of_kind(docs, "Service")
    }
    assert selected == _expected_services(values)


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_each_pdb_targets_its_own_track(values_file, scenario):
    values = effective_values([values_file])
    docs = scenario(values_file)
    pdbs = of_kind(docs, "PodDisruptionBudget")
    tracks, _ = _tracks(values)
    assert len(pdbs) == (len(tracks) if values["podDisruptionBudget"]["enabled"] else 0)
    for pdb in pdbs:
        selected = [d["metadata"]["name"] for d in of_kind(docs, "Deployment") if selector_matches(pdb["spec"]["selector"]["matchLabels"], pod_template(d)["metadata"]["labels"])]
        assert selected == [pdb["metadata"]["name"]], f"PodDisruptionBudget/{pdb['metadata']['name']} selects {selected}"


def _mirror(ingress):
    spec = thaw(ingress["spec"])
    for rule in spec["rules"]:
        for path in rule["http"]["paths"]:
            path["backend"]["service"].pop("name")
    return spec


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_canary_ingresses_mirror_their_primary_and_reach_the_canary_track(values_file, scenario):
    values = effective_values([values_file])
    docs = scenario(values_file)
    ingresses = {i["metadata"]["name"]: i for i in of_kind(docs, "Ingress")}
    canaries = [name for name, i in ingresses.items() if (i["metadata"].get("annotations") or {}).get("nginx.ingress.kubernetes.io/canary") == "true"]
    assert len(canaries) == (len(ingresses) // 2 if values["canary"]["enabled"] else 0)
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    for name in canaries:
        canary, primary = ingresses[name], ingresses[name.removesuffix("-canary")]
        assert _mirror(canary) == _mirror(primary), f"Ingress/{name} does not mirror Ingress/{primary['metadata']['name']}"
        assert canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == str(values["canary"]["weight"])
        for rule in canary["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                service = services[path["backend"]["service"]["name"]]
                assert service["spec"]["selector"]["tf-serving.io/track"] == values["canary"]["track"], f"Ingress/{name}"


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_route_weights_are_what_the_values_say(values_file, scenario):
    values = effective_values([values_file])
    docs = scenario(values_file)
    _, primary = _tracks(values)
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    canary = values["canary"]
    for route in [*of_kind(docs, "HTTPRoute"), *of_kind(docs, "GRPCRoute")]:
        weighted = route["spec"]["rules"][-1]
        by_track = {services[b["name"]]["spec"]["selector"]["tf-serving.io/track"]: b["weight"] for b in weighted["backendRefs"]}
        expected = {primary: 100 - canary["weight"], canary["track"]: canary["weight"]} if canary["enabled"] else {primary: 100}
        assert by_track == expected, f"{route['kind']}/{route['metadata']['name']}"
        for rule in route["spec"]["rules"][:-1]:
            assert [services[b["name"]]["spec"]["selector"]["tf-serving.io/track"] for b in rule["backendRefs"]] == [canary["track"]]


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
