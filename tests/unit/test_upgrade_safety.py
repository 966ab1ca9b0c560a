"""Upgrade safety: traffic changes are `helm upgrade`s that never touch an immutable field.

Each test renders the values before and after a change users make on a live release and compares
them with tfserving_harness.upgrade (the same comparison a kind test can run on real releases).
"""

from __future__ import annotations

from tfserving_harness import upgrade
from tfserving_harness.manifests import identity, of_kind, one, pod_template

CANARY_TRACKS = {"tracks": {"stable": {"replicaCount": 3}, "canary": {"image": {"tag": "2.19.1"}}}, "primaryTrack": "stable"}
GATEWAY = {"enabled": True, "force": True, "parentRefs": [{"name": "gw"}], "http": {"hostnames": ["rest.example.com"]}, "grpc": {"hostnames": ["grpc.example.com"]}}
INGRESS = {"enabled": True, "host": "web.example.com"}


def _canary(weight, header=None):
    canary = {"enabled": True, "weight": weight}
    if header:
        canary["header"] = header
    return {**CANARY_TRACKS, "canary": canary, "gatewayApi": GATEWAY, "ingress": INGRESS}


def _deployment_specs(docs):
    return {d["metadata"]["name"]: d["spec"] for d in of_kind(docs, "Deployment")}


def _assert_workloads_untouched(before, after):
    assert sorted(_deployment_specs(before)) == sorted(_deployment_specs(after))
    for name, spec in _deployment_specs(before).items():
        assert upgrade.changed_paths(spec, _deployment_specs(after)[name]) == [], f"Deployment/{name} spec changes"


def test_changing_the_canary_weight_touches_only_routes_and_the_canary_ingress(render):
    before, after = render(_canary(10)), render(_canary(50))
    report = upgrade.compare(before, after)
    assert report.safe and report.added == [], str(report)
    _assert_workloads_untouched(before, after)
    changed = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in before if upgrade.changed_paths(d, next(a for a in after if identity(a) == identity(d))))
    assert changed == ["GRPCRoute/tfs-tf-serving", "HTTPRoute/tfs-tf-serving", "Ingress/tfs-tf-serving-canary"]


def test_adding_a_header_rule_leaves_workloads_and_services_alone(render):
    before, after = render(_canary(10)), render(_canary(10, {"name": "X-Canary", "value": "tester"}))
    assert upgrade.compare(before, after).safe
    _assert_workloads_untouched(before, after)
    for service in of_kind(before, "Service"):
        assert upgrade.changed_paths(service, one(after, "Service", service["metadata"]["name"])) == []


def test_adding_a_canary_track_to_a_single_track_install_keeps_its_deployment_and_service(render):
    """Name the existing track `main`: its Deployment keeps the plain name and selector."""
    before = render()
    after = render({"tracks": {"main": {}, "canary": {"image": {"tag": "2.19.1"}}}, "primaryTrack": "main", "canary": {"enabled": True, "weight": 5}, "gatewayApi": GATEWAY})
    report = upgrade.compare(before, after)
    assert report.safe, str(report)
    assert "Deployment/tfs-tf-serving-canary" in report.added and "Service/tfs-tf-serving-main" in report.added
    assert upgrade.changed_paths(one(before, "Deployment")["spec"], one(after, "Deployment", "tfs-tf-serving")["spec"]) == []
    assert upgrade.changed_paths(one(before, "Service")["spec"], one(after, "Service", "tfs-tf-serving")["spec"]) == []


def test_adding_a_canary_track_to_existing_tracks_is_safe(render):
    before = render({"tracks": {"stable": {"replicaCount": 3}}})
    after = render(_canary(0))
    report = upgrade.compare(before, after)
    assert report.safe, str(report)
    stable_before, stable_after = one(before, "Deployment", "tfs-tf-serving-stable"), one(after, "Deployment", "tfs-tf-serving-stable")
    assert upgrade.changed_paths(stable_before["spec"], stable_after["spec"]) == []


def test_changing_a_tracks_model_version_rolls_its_pods_but_keeps_the_selector(render):
    def pinned(version):
        return {
            "modelStorage": {"source": "none"},
            "tracks": {
                "v1": {"models": [{"name": "resnet", "basePath": "/models/resnet/pinned/v1"}]},
                "v2": {"models": [{"name": "resnet", "basePath": f"/models/resnet/pinned/{version}"}]},
            },
            "primaryTrack": "v1",
        }

    before, after = render(pinned("v2")), render(pinned("v3"))
    report = upgrade.compare(before, after)
    assert report.safe, str(report)
    changed = upgrade.changed_paths(one(before, "Deployment", "tfs-tf-serving-v2"), one(after, "Deployment", "tfs-tf-serving-v2"))
    assert changed == ["spec.template.metadata.annotations.checksum/config"], "the config checksum rolls the pods, nothing else moves"
    assert upgrade.changed_paths(one(before, "Deployment", "tfs-tf-serving-v1"), one(after, "Deployment", "tfs-tf-serving-v1")) == []


def test_promoting_the_canary_is_a_primary_track_switch_without_renames(render):
    before, after = render(_canary(100)), render({**_canary(0), "primaryTrack": "canary", "canary": {"enabled": True, "track": "stable", "weight": 0}})
    report = upgrade.compare(before, after)
    assert report.safe and report.added == [], str(report)
    _assert_workloads_untouched(before, after)
    assert one(after, "Service", "tfs-tf-serving")["spec"]["selector"]["tf-serving.io/track"] == "canary"


def test_turning_on_availability_features_keeps_selectors(render):
    before = render(CANARY_TRACKS)
    after = render({**CANARY_TRACKS, "podDisruptionBudget": {"enabled": True}, "scheduling": {"podAntiAffinity": "soft", "priorityClassName": "high"}})
    report = upgrade.compare(before, after)
    assert report.safe, str(report)
    for deployment in of_kind(after, "Deployment"):
        assert pod_template(deployment)["spec"]["priorityClassName"] == "high"
