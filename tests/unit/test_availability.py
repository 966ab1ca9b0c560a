"""Availability: a PodDisruptionBudget per track, topology spread, anti-affinity preset, priority class."""

from __future__ import annotations

import pytest

from tfserving_harness.manifests import of_kind, one, pod_template, selector_matches
from tfserving_harness.testing import assert_no_problems, assert_refused, at

TRACKS = {"tracks": {"stable": {"replicaCount": 3}, "canary": {"replicaCount": 1}}, "primaryTrack": "stable"}


def _pod_spec(docs, name="tfs-tf-serving"):
    return pod_template(one(docs, "Deployment", name))["spec"]


def test_no_pdb_by_default(default_docs):
    assert of_kind(default_docs, "PodDisruptionBudget") == []


def test_each_pdb_targets_its_own_track_and_no_other(render):
    docs = render({**TRACKS, "podDisruptionBudget": {"enabled": True}})
    pdbs = of_kind(docs, "PodDisruptionBudget")
    deployments = of_kind(docs, "Deployment")
    assert len(pdbs) == len(deployments) == 2
    for pdb in pdbs:
        selected = [d["metadata"]["name"] for d in deployments if selector_matches(pdb["spec"]["selector"]["matchLabels"], pod_template(d)["metadata"]["labels"])]
        assert selected == [pdb["metadata"]["name"]], f"PodDisruptionBudget/{pdb['metadata']['name']} selects {selected}"
        assert pdb["spec"] == {"maxUnavailable": 1, "selector": pdb["spec"]["selector"]}, "maxUnavailable 1 when neither is set"
    assert_no_problems(docs)


@pytest.mark.parametrize(("budget", "expected"), [({"minAvailable": 0}, {"minAvailable": 0}), ({"minAvailable": "50%"}, {"minAvailable": "50%"}), ({"maxUnavailable": "25%"}, {"maxUnavailable": "25%"})])
def test_pdb_takes_min_available_or_max_unavailable(render, budget, expected):
    pdb = one(render({"replicaCount": 3, "podDisruptionBudget": {"enabled": True, **budget}}), "PodDisruptionBudget")
    assert {k: v for k, v in pdb["spec"].items() if k != "selector"} == expected



@pytest.mark.parametrize(
    ("values", "budget"),
    [
        ({"replicaCount": 3}, {"minAvailable": "50%"}),
        ({"replicaCount": 2}, {"minAvailable": "50%"}),
        ({"replicaCount": 3}, {"minAvailable": 2}),
        ({"replicaCount": 2}, {"maxUnavailable": "1%"}),
        ({"replicaCount": 1}, {}),
        ({"autoscaling": {"enabled": True, "minReplicas": 3}}, {"minAvailable": 2}),
        ({"tracks": {"stable": {"replicaCount": 2}, "canary": {"replicaCount": 0}}, "primaryTrack": "stable"}, {"minAvailable": 1}),
    ],
    ids=["half-of-3", "half-of-2", "2-of-3", "max-1-percent-rounds-up", "default-max-1-of-1", "autoscaled-minimum-3", "track-at-zero-has-nothing-to-protect"],
)
def test_a_pdb_that_allows_an_eviction_renders(render, values, budget):
    docs = render({**values, "podDisruptionBudget": {"enabled": True, **budget}})
    assert len(of_kind(docs, "PodDisruptionBudget")) == len(of_kind(docs, "Deployment"))


@pytest.mark.parametrize(
    ("values", "budget", "expected"),
    [
        ({"replicaCount": 2}, {"maxUnavailable": "0%"}, "podDisruptionBudget.maxUnavailable (0%) never allows an eviction of track main's pods"),
        ({"replicaCount": 1}, {"minAvailable": "50%"}, "podDisruptionBudget.minAvailable (50%) protects the only pod of track main (replicaCount is 1)"),
        ({"replicaCount": 3}, {"minAvailable": "67%"}, "podDisruptionBudget.minAvailable (67%) of the 3 pods of track main (replicaCount) leaves none to evict"),
        ({"replicaCount": 3}, {"minAvailable": 5}, "set it to 2 or less"),
        ({"autoscaling": {"enabled": True, "minReplicas": 2}}, {"minAvailable": 2}, "of the 2 pods of track main (autoscaling.minReplicas)"),
    ],
    ids=["max-0-percent", "half-of-1-rounds-up", "67-percent-of-3-rounds-up", "more-than-replicas", "autoscaled-counts-the-minimum"],
)
def test_a_pdb_that_never_allows_an_eviction_is_refused(values, budget, expected):
    assert_refused({**values, "podDisruptionBudget": {"enabled": True, **budget}}, expected)


def test_topology_spread_is_soft_over_zones_and_nodes_per_track(render):
    docs = render(TRACKS)
    for deployment in of_kind(docs, "Deployment"):
        constraints = pod_template(deployment)["spec"]["topologySpreadConstraints"]
        assert [(c["topologyKey"], c["whenUnsatisfiable"], c["maxSkew"]) for c in constraints] == [
            ("topology.kubernetes.io/zone", "ScheduleAnyway", 1),
            ("kubernetes.io/hostname", "ScheduleAnyway", 1),
        ]
        for constraint in constraints:
            assert dict(constraint["labelSelector"]["matchLabels"]) == dict(deployment["spec"]["selector"]["matchLabels"]), "spread counts only this track's pods"
            assert constraint["matchLabelKeys"] == ["pod-template-hash"]


def test_topology_spread_can_be_hard_or_off(render):
    hard = _pod_spec(render({"scheduling": {"topologySpread": {"whenUnsatisfiable": "DoNotSchedule", "topologyKeys": ["kubernetes.io/hostname"]}}}))
    assert [(c["topologyKey"], c["whenUnsatisfiable"]) for c in hard["topologySpreadConstraints"]] == [("kubernetes.io/hostname", "DoNotSchedule")]
    assert "topologySpreadConstraints" not in _pod_spec(render({"scheduling": {"topologySpread": {"enabled": False}}}))


def test_no_anti_affinity_nor_priority_class_by_default(default_docs):
    spec = _pod_spec(default_docs)
    assert "affinity" not in spec and "priorityClassName" not in spec


@pytest.mark.parametrize("preset", ["soft", "hard"])
def test_anti_affinity_preset_keeps_a_tracks_pods_apart(render, preset):
    docs = render({**TRACKS, "scheduling": {"podAntiAffinity": preset, "priorityClassName": "model-serving"}})
    for deployment in of_kind(docs, "Deployment"):
        spec = pod_template(deployment)["spec"]
        anti = spec["affinity"]["podAntiAffinity"]
        if preset == "hard":
            (term,) = anti["requiredDuringSchedulingIgnoredDuringExecution"]
        else:
            (weighted,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
            term = weighted["podAffinityTerm"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert dict(term["labelSelector"]["matchLabels"]) == dict(deployment["spec"]["selector"]["matchLabels"])
        assert spec["priorityClassName"] == "model-serving"
    assert_no_problems(docs)


def test_own_affinity_combines_with_the_preset_and_its_pod_anti_affinity_wins(render):
    node_affinity = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["serving"]}]}]}}
    combined = _pod_spec(render({"scheduling": {"podAntiAffinity": "hard"}, "affinity": {"nodeAffinity": node_affinity}}))["affinity"]
    assert combined["nodeAffinity"] == node_affinity
    (term,) = combined["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    own = {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 5, "podAffinityTerm": {"topologyKey": "zone", "labelSelector": {"matchLabels": {"team": "ml"}}}}]}
    replaced = _pod_spec(render({"scheduling": {"podAntiAffinity": "hard"}, "affinity": {"podAntiAffinity": own}}))["affinity"]
    assert replaced == {"podAntiAffinity": own}, "the user's podAntiAffinity replaces the preset, not merged into it"


def test_own_topology_spread_constraints_follow_the_preset_and_select_the_track_by_default(render):
    own = {"maxSkew": 2, "topologyKey": "node.example.com/rack", "whenUnsatisfiable": "DoNotSchedule"}
    selected = {**own, "topologyKey": "node.example.com/row", "labelSelector": {"matchLabels": {"team": "ml"}}}
    docs = render({**TRACKS, "topologySpreadConstraints": [own, selected]})
    for deployment in of_kind(docs, "Deployment"):
        constraints = pod_template(deployment)["spec"]["topologySpreadConstraints"]
        assert [c["topologyKey"] for c in constraints] == ["topology.kubernetes.io/zone", "kubernetes.io/hostname", "node.example.com/rack", "node.example.com/row"]
        assert dict(constraints[2]["labelSelector"]["matchLabels"]) == dict(deployment["spec"]["selector"]["matchLabels"]), "no labelSelector: the track's pods"
        assert constraints[3]["labelSelector"] == {"matchLabels": {"team": "ml"}}, "a labelSelector of the user's own is kept as written"
    assert_no_problems(docs)
    off = _pod_spec(render({"scheduling": {"topologySpread": {"enabled": False}}, "topologySpreadConstraints": [{**own, "topologyKey": "kubernetes.io/hostname"}]}))
    assert [c["topologyKey"] for c in off["topologySpreadConstraints"]] == ["kubernetes.io/hostname"], "with the preset off a key of its own may be reused"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"podDisruptionBudget": {"enabled": True, "minAvailable": 1, "maxUnavailable": 1}}, "tf-serving: podDisruptionBudget.minAvailable (1) and podDisruptionBudget.maxUnavailable (1) are both set"),
        ({"podDisruptionBudget": {"minAvailable": "half"}}, at("podDisruptionBudget.minAvailable")),
        (
            {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}]},
            "tf-serving: topologySpreadConstraints[0] spreads over kubernetes.io/hostname with whenUnsatisfiable ScheduleAnyway, as scheduling.topologySpread already does",
        ),
        (
            {**TRACKS, "tracks": {"a": {"topologySpreadConstraints": [{"maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}]}}, "primaryTrack": ""},
            "tf-serving: tracks.a.topologySpreadConstraints[0] spreads over topology.kubernetes.io/zone",
        ),
        ({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelectr": {}}]}, at("topologySpreadConstraints.0.labelSelectr", "additionalProperties")),
        ({"scheduling": {"podAntiAffinity": "always"}}, at("scheduling.podAntiAffinity", "enum")),
        ({"scheduling": {"topologySpread": {"whenUnsatisfiable": "Never"}}}, at("scheduling.topologySpread.whenUnsatisfiable", "enum")),
    ],
)
def test_misuse_fails_naming_the_value(values, message):
    assert_refused(values, message)
