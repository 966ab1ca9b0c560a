"""Blue/green: both colours always deployed, `blueGreen.active` moves only Service selectors and routes."""

from __future__ import annotations

import pytest
import yaml

from tfserving_harness import helm, upgrade
from tfserving_harness.manifests import of_kind, one, pod_template, server_container
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import assert_no_problems, assert_refused, at

GATEWAY = {"enabled": True, "force": True, "parentRefs": [{"name": "gw"}], "http": {"hostnames": ["rest.example.com"]}, "grpc": {"hostnames": ["grpc.example.com"]}}


def _blue_green(active, **extra):
    return {
        "blueGreen": {"enabled": True, "active": active, "blue": {"image": {"tag": "2.19.1"}}, "green": {"image": {"tag": "2.20.0"}, "replicaCount": 2}},
        "ingress": {"enabled": True, "host": "rest.example.com"},
        "gatewayApi": {**GATEWAY, "http": {"hostnames": ["gw-rest.example.com"]}, "grpc": {"hostnames": ["gw-grpc.example.com"]}},
        "podDisruptionBudget": {"enabled": True},
        **extra,
    }


def test_blue_green_is_off_by_default(default_docs):
    assert [d["metadata"]["name"] for d in of_kind(default_docs, "Deployment")] == ["tfs-tf-serving"]
    assert not any(s["metadata"]["name"].endswith("-preview") for s in of_kind(default_docs, "Service"))


def test_both_colours_are_deployed_with_their_own_overrides(render):
    docs = render(_blue_green("blue"))
    blue, green = one(docs, "Deployment", "tfs-tf-serving-blue"), one(docs, "Deployment", "tfs-tf-serving-green")
    assert server_container(blue)["image"] == "tensorflow/serving:2.19.1"
    assert server_container(green)["image"] == "tensorflow/serving:2.20.0"
    assert (blue["spec"]["replicas"], green["spec"]["replicas"]) == (1, 2)
    assert_no_problems(docs)


@pytest.mark.parametrize(("active", "idle"), [("blue", "green"), ("green", "blue")])
def test_main_service_selects_the_active_colour_and_preview_the_idle_one(render, active, idle):
    docs = render(_blue_green(active))
    pods = {d["metadata"]["name"]: pod_template(d)["metadata"]["labels"] for d in of_kind(docs, "Deployment")}

    def selected(service_name):
        selector = one(docs, "Service", service_name)["spec"]["selector"]
        return sorted(name for name, labels in pods.items() if all(labels.get(k) == v for k, v in selector.items()))

    assert selected("tfs-tf-serving") == [f"tfs-tf-serving-{active}"]
    assert selected("tfs-tf-serving-preview") == [f"tfs-tf-serving-{idle}"]
    assert selected("tfs-tf-serving-blue") == ["tfs-tf-serving-blue"]
    assert selected("tfs-tf-serving-green") == ["tfs-tf-serving-green"]


def test_switching_colours_leaves_every_deployment_byte_identical(render):
    """The switch is `--set blueGreen.active=green`: no pod restarts, no selector change, no rename."""
    before, after = render(_blue_green("blue")), render(_blue_green("green"))
    for deployment in of_kind(before, "Deployment"):
        name = deployment["metadata"]["name"]
        assert upgrade.changed_paths(deployment, one(after, "Deployment", name)) == [], f"Deployment/{name} changes on a blue/green switch"
    for kind in ("ConfigMap", "PodDisruptionBudget"):
        for doc in of_kind(before, kind):
            assert upgrade.changed_paths(doc, one(after, kind, doc["metadata"]["name"])) == [], f"{kind}/{doc['metadata']['name']} changes"
    report = upgrade.compare(before, after)
    assert report.safe and report.added == [], str(report)


@pytest.mark.helm3
def test_switching_colours_renders_the_deployment_template_to_the_same_bytes():
    """The text helm renders for deployment.yaml (both colours), not just the parsed objects."""

    def text(active):
        args = ["template", "tfs", str(chart_dir()), "--show-only", "templates/deployment.yaml", "--show-only", "templates/configmap.yaml", "--values", "-"]
        return helm.run_helm(args, stdin=yaml.safe_dump(_blue_green(active))).stdout

    blue, green = text("blue"), text("green")
    assert blue.count("kind: Deployment") == 2 and blue == green


def test_switching_moves_only_selectors_and_route_backends(render):
    before, after = render(_blue_green("blue")), render(_blue_green("green"))
    changed = {}
    for doc in before:
        other = next(d for d in after if (d["kind"], d["metadata"]["name"]) == (doc["kind"], doc["metadata"]["name"]))
        paths = upgrade.changed_paths(doc, other)
        if paths:
            changed[f"{doc['kind']}/{doc['metadata']['name']}"] = paths
    assert changed == {
        "Service/tfs-tf-serving": ["metadata.labels.app.kubernetes.io/version", "spec.selector.tf-serving.io/track"],
        "Service/tfs-tf-serving-preview": ["metadata.labels.app.kubernetes.io/version", "spec.selector.tf-serving.io/track"],
    }, "routes point at the main Service, so they do not change at all"


def test_routes_and_ingress_reach_the_main_service(render):
    docs = render(_blue_green("green"))
    assert one(docs, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "tfs-tf-serving"
    (rule,) = one(docs, "HTTPRoute")["spec"]["rules"]
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [("tfs-tf-serving", 100)]


def test_gradual_shift_to_the_idle_colour_through_canary(render):
    docs = render(_blue_green("blue", canary={"enabled": True, "track": "green", "weight": 30}))
    (rule,) = one(docs, "HTTPRoute")["spec"]["rules"]
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [("tfs-tf-serving", 70), ("tfs-tf-serving-green", 30)]


def test_pdb_per_colour(render):
    docs = render(_blue_green("blue"))
    assert {p["metadata"]["name"]: p["spec"]["selector"]["matchLabels"]["tf-serving.io/track"] for p in of_kind(docs, "PodDisruptionBudget")} == {
        "tfs-tf-serving-blue": "blue",
        "tfs-tf-serving-green": "green",
    }


def test_preview_service_can_be_turned_off(render):
    docs = render({"blueGreen": {"enabled": True, "preview": False}})
    assert sorted(s["metadata"]["name"] for s in of_kind(docs, "Service")) == ["tfs-tf-serving", "tfs-tf-serving-blue", "tfs-tf-serving-green"]


def test_notes_print_the_switch_command(render):
    notes = helm.render_notes({"blueGreen": {"enabled": True, "active": "green"}})
    assert "--set blueGreen.active=blue" in notes
    assert "rollout status deployment/tfs-tf-serving-blue" in notes
    assert "tfs-tf-serving-preview" in notes


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"blueGreen": {"enabled": True}, "tracks": {"a": {}}}, "tf-serving: blueGreen.enabled and tracks ([a]) are both set"),
        ({"blueGreen": {"enabled": True}, "primaryTrack": "blue"}, 'tf-serving: primaryTrack "blue" is set with blueGreen.enabled'),
        ({"blueGreen": {"enabled": True, "active": "red"}}, at("blueGreen.active", "enum")),
        ({"blueGreen": {"enabled": True, "green": {"imag": {}}}}, at("blueGreen.green.imag", "additionalProperties")),
    ],
)
def test_misuse_fails_naming_the_value(values, message):
    assert_refused(values, message)
