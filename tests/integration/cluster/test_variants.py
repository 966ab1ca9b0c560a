"""Deployment variants as users run them, on a real API server: the blue/green switch moves only
Services; a canary is added, re-weighted, promoted and removed without touching the stable
Deployment; a rolling update of the model version never has fewer ready pods than desired."""

from __future__ import annotations

import threading

import yaml
from kubernetes import client, watch

from tfserving_harness.cluster import HelmRelease, replica_sets_never_below, wait_until
from tfserving_harness.testing import scenario_file

RELEASE = "tfs"
FULLNAME = f"{RELEASE}-tf-serving"


def deployments(apps, namespace):
    """name -> (generation, pod template) of the release's Deployments."""
    found = apps.list_namespaced_deployment(namespace, label_selector=f"app.kubernetes.io/instance={RELEASE}").items
    return {d.metadata.name: (d.metadata.generation, client.ApiClient().sanitize_for_serialization(d.spec.template)) for d in found}


def selector_track(core, namespace, service):
    return core.read_namespaced_service(service, namespace).spec.selector["tf-serving.io/track"]


def values_file(tmp_path, name, values):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_blue_green_switch_and_back_flips_only_the_services(cluster, kube_api, namespace, install_prerequisites):
    from tfserving_harness import helm

    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    ns = namespace("blue-green-switch")
    blue_green = scenario_file("blue-green")
    install_prerequisites(blue_green, ns, helm.render_chart(values_files=[blue_green], name=RELEASE, namespace=ns))
    release = HelmRelease(RELEASE, ns, cluster.kubeconfig)
    release.install([blue_green])
    before = deployments(apps, ns)
    assert set(before) == {f"{FULLNAME}-blue", f"{FULLNAME}-green"}
    assert (selector_track(core, ns, FULLNAME), selector_track(core, ns, f"{FULLNAME}-preview")) == ("blue", "green")

    release.upgrade(set_values={"blueGreen.active": "green"}, reset="--reset-then-reuse-values")
    assert (selector_track(core, ns, FULLNAME), selector_track(core, ns, f"{FULLNAME}-preview")) == ("green", "blue")
    assert deployments(apps, ns) == before, "the switch must leave both Deployments untouched"

    release.upgrade(set_values={"blueGreen.active": "blue"}, reset="--reset-then-reuse-values")
    assert (selector_track(core, ns, FULLNAME), selector_track(core, ns, f"{FULLNAME}-preview")) == ("blue", "green")
    assert deployments(apps, ns) == before


def route_weights(kube_api, namespace):
    routes = client.CustomObjectsApi(kube_api).list_namespaced_custom_object("gateway.networking.k8s.io", "v1", namespace, "httproutes")["items"]
    (route,) = routes
    weighted = [rule for rule in route["spec"]["rules"] if not any("headers" in m for m in rule.get("matches", []))]
    return {ref["name"]: ref["weight"] for ref in weighted[0]["backendRefs"]}


def test_canary_add_reweight_promote_remove(cluster, kube_api, namespace, install_prerequisites, tmp_path):
    from tfserving_harness import helm

    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    ns = namespace("canary-lifecycle")
    gateway = {"gatewayApi": {"enabled": True, "parentRefs": [{"name": "public", "namespace": "gateways"}], "grpc": {"enabled": False}}}
    single = values_file(tmp_path, "single", {**gateway, "replicaCount": 2})
    tracks = {"main": {}, "canary": {"replicaCount": 1, "image": {"tag": "2.19.1"}}}
    with_canary = values_file(tmp_path, "canary", {**gateway, "replicaCount": 2, "tracks": tracks, "primaryTrack": "main",
                                                   "canary": {"enabled": True, "weight": 10}})
    install_prerequisites(single, ns, helm.render_chart(values_files=[with_canary], name=RELEASE, namespace=ns, api_versions=["gateway.networking.k8s.io/v1/HTTPRoute"]))
    release = HelmRelease(RELEASE, ns, cluster.kubeconfig)
    release.install([single])
    (stable_before,) = deployments(apps, ns).values()
    assert route_weights(kube_api, ns) == {FULLNAME: 100}

    release.upgrade([with_canary])
    current = deployments(apps, ns)
    assert current[FULLNAME] == stable_before, "adding a canary must not roll the stable pods"
    assert f"{FULLNAME}-canary" in current
    assert route_weights(kube_api, ns) == {FULLNAME: 90, f"{FULLNAME}-canary": 10}

    release.upgrade(set_values={"canary.weight": "50"}, reset="--reset-then-reuse-values")
    assert route_weights(kube_api, ns) == {FULLNAME: 50, f"{FULLNAME}-canary": 50}
    assert deployments(apps, ns)[FULLNAME] == stable_before

    release.upgrade(set_values={"primaryTrack": "canary", "canary.track": "main", "canary.weight": "0"}, reset="--reset-then-reuse-values")
    assert selector_track(core, ns, FULLNAME) == "canary", "promotion moves the main Service to the canary track"
    assert deployments(apps, ns)[FULLNAME] == stable_before

    release.upgrade([single])
    assert set(deployments(apps, ns)) == {FULLNAME}, "removing the canary deletes its Deployment"
    assert deployments(apps, ns)[FULLNAME] == stable_before
    assert route_weights(kube_api, ns) == {FULLNAME: 100}
    assert selector_track(core, ns, FULLNAME) == "main"


def test_rolling_update_of_the_model_version_keeps_every_replica_ready(cluster, kube_api, namespace, tmp_path):
    """maxUnavailable 0: sampled on every ReplicaSet event, the ready pods never drop below replicaCount."""
    apps = client.AppsV1Api(kube_api)
    ns = namespace("rolling-update")
    release = HelmRelease(RELEASE, ns, cluster.kubeconfig)
    first = values_file(tmp_path, "v1", {"replicaCount": 3, "modelStorage": {"source": "none"}, "models": [{"name": "half_plus_two", "basePath": "/models/half_plus_two",
                                                                         "versionPolicy": {"specific": {"versions": [1]}}}]})
    second = values_file(tmp_path, "v2", {"replicaCount": 3, "modelStorage": {"source": "none"}, "models": [{"name": "half_plus_two", "basePath": "/models/half_plus_two",
                                                                          "versionPolicy": {"specific": {"versions": [2]}}}]})
    release.install([first])

    samples: list[dict[str, int]] = []
    ready: dict[str, int] = {}
    stop = threading.Event()
    stream = watch.Watch()

    def record():
        try:
            for event in stream.stream(apps.list_namespaced_replica_set, ns, timeout_seconds=120):
                rs = event["object"]
                ready[rs.metadata.name] = 0 if event["type"] == "DELETED" else (rs.status.ready_replicas or 0)
                samples.append(dict(ready))
        except Exception:  # the connection closes under the stream when the test stops it
            if not stop.is_set():
                raise

    watcher = threading.Thread(target=record, daemon=True)
    watcher.start()
    wait_until(lambda: (sum(ready.values()) == 3, dict(ready)), what="the watch to see 3 ready pods", timeout=30)
    release.upgrade([second])
    stop.set()
    stream.stop()
    watcher.join(timeout=10)
    replica_sets = {name for sample in samples for name in sample}
    assert len(replica_sets) == 2, f"the version change must roll the pods through a new ReplicaSet: {replica_sets}"
    assert not replica_sets_never_below(samples, 3)
