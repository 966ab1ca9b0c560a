"""Release tracks: one Deployment, ConfigMap and (with several tracks) Service per track."""

from __future__ import annotations

from tfserving_harness.manifests import of_kind, one, pod_template, selector_matches, server_container
from tfserving_harness.testing import assert_no_problems, assert_refused, at

TWO_TRACKS = {
    "tracks": {"stable": {"replicaCount": 3}, "canary": {"replicaCount": 0, "image": {"tag": "2.19.1"}}},
    "primaryTrack": "stable",
}


def test_single_track_keeps_the_plain_names(default_docs):
    assert one(default_docs, "Deployment")["metadata"]["name"] == "tfs-tf-serving"
    assert one(default_docs, "Deployment")["spec"]["selector"]["matchLabels"]["tf-serving.io/track"] == "main"
    assert len(of_kind(default_docs, "Service")) == 1


def test_each_track_has_its_own_deployment_with_disjoint_selectors(render):
    docs = render(TWO_TRACKS)
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    assert sorted(deployments) == ["tfs-tf-serving-canary", "tfs-tf-serving-stable"]
    for name, deployment in deployments.items():
        for other_name, other in deployments.items():
            matches = selector_matches(deployment["spec"]["selector"]["matchLabels"], pod_template(other)["metadata"]["labels"])
            assert matches == (name == other_name), f"Deployment/{name} selector vs Deployment/{other_name} pods"
    assert_no_problems(docs)


def test_track_overrides_apply_including_zero_and_partial_image(render):
    docs = render(TWO_TRACKS)
    canary, stable = one(docs, "Deployment", "tfs-tf-serving-canary"), one(docs, "Deployment", "tfs-tf-serving-stable")
    assert canary["spec"]["replicas"] == 0 and stable["spec"]["replicas"] == 3
    assert server_container(canary)["image"] == "tensorflow/serving:2.19.1"
    assert server_container(stable)["image"] == "tensorflow/serving:2.20.0"


def test_main_service_routes_to_the_primary_track_and_each_track_has_a_service(render):
    docs = render(TWO_TRACKS)
    services = {s["metadata"]["name"]: s["spec"]["selector"]["tf-serving.io/track"] for s in of_kind(docs, "Service")}
    assert services == {"tfs-tf-serving": "stable", "tfs-tf-serving-stable": "stable", "tfs-tf-serving-canary": "canary"}


def test_each_track_reads_its_own_config(render):
    docs = render({"modelStorage": {"source": "none"}, "tracks": {"a": {}, "b": {"models": [{"name": "other", "basePath": "/models/other"}]}}})
    for deployment in of_kind(docs, "Deployment"):
        volume = next(v for v in pod_template(deployment)["spec"]["volumes"] if v["name"] == "config")
        configmap = one(docs, "ConfigMap", volume["configMap"]["name"])
        assert configmap["metadata"]["labels"]["tf-serving.io/track"] == deployment["metadata"]["labels"]["tf-serving.io/track"]
    assert '"other"' in one(docs, "ConfigMap", "tfs-tf-serving-b-config")["data"]["models.config"]


def test_track_names_of_the_metrics_and_preview_services_are_reserved(render):
    """`<fullname>-metrics` (headless metrics Service) and `<fullname>-preview` (blue/green preview
    Service) would collide with a track Service of that name."""
    for name in ("metrics", "preview"):
        assert_refused({"tracks": {"stable": {}, name: {}}}, at(f"tracks.{name}", "not"))
    assert len(of_kind(render({"tracks": {"stable": {}, "metrics-v2": {}}}), "Deployment")) == 2


def test_multi_version_scenario_pins_one_version_per_track_from_one_folder(scenario):
    """The usual way to run versions side by side: the same basePath, versionPolicy.specific per track."""
    from tfserving_harness import tfs_config

    docs = scenario("multi-version")
    served = {}
    for track in ("v1", "v2"):
        (model,) = tfs_config.parse_model_server_config(one(docs, "ConfigMap", f"tfs-tf-serving-{track}-config")["data"]["models.config"]).model_config_list.config
        served[track] = (model.name, model.base_path, list(model.model_version_policy.specific.versions))
    assert served == {"v1": ("resnet", "/models/resnet", [1]), "v2": ("resnet", "/models/resnet", [2])}


def test_a_non_primary_track_or_the_idle_colour_may_be_scaled_to_zero(render):
    tracks = render({"tracks": {"stable": {}, "canary": {"replicaCount": 0}}, "primaryTrack": "stable"})
    assert {d["metadata"]["name"]: d["spec"]["replicas"] for d in of_kind(tracks, "Deployment")} == {"tfs-tf-serving-canary": 0, "tfs-tf-serving-stable": 1}
    colours = render({"blueGreen": {"enabled": True, "active": "blue", "green": {"replicaCount": 0}}})
    assert {d["metadata"]["name"]: d["spec"]["replicas"] for d in of_kind(colours, "Deployment")} == {"tfs-tf-serving-blue": 1, "tfs-tf-serving-green": 0}


def test_a_top_level_zero_is_the_default_of_the_tracks_not_of_the_primary_that_sets_its_own(render):
    """replicaCount: 0 is allowed by the schema at both levels: what is refused is the primary track's effective count."""
    docs = render({"replicaCount": 0, "tracks": {"stable": {"replicaCount": 2}, "canary": {}}, "primaryTrack": "stable"})
    assert {d["metadata"]["name"]: d["spec"]["replicas"] for d in of_kind(docs, "Deployment")} == {"tfs-tf-serving-canary": 0, "tfs-tf-serving-stable": 2}
    assert_refused({"replicaCount": 0, "tracks": {"stable": {}, "canary": {"replicaCount": 2}}, "primaryTrack": "stable"}, "replicaCount is 0 for track stable, which the main Service routes every request to (primaryTrack is stable)")


def test_a_primary_track_at_zero_is_refused_by_its_own_path():
    assert_refused({"replicaCount": 0}, "replicaCount is 0 for track main, which the main Service routes every request to (it is the only track)")
    assert_refused({"blueGreen": {"enabled": True, "active": "green", "green": {"replicaCount": 0}}}, "blueGreen.green.replicaCount is 0 for track green")


def test_an_autoscaled_primary_track_ignores_replica_count(render):
    """The HPA owns the count (spec.replicas is omitted), so a 0 left in replicaCount does nothing."""
    deployment = one(render({"replicaCount": 0, "autoscaling": {"enabled": True}}), "Deployment")
    assert "replicas" not in deployment["spec"]
