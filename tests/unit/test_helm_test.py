"""The `helm test` hook: one pod, restricted, digest-pinned, that checks every model of every track
on that track's Service (AVAILABLE, then one REST :predict)."""

from __future__ import annotations

import re

from tfserving_harness.manifests import of_kind, one
from tfserving_harness.pod_security import pod_spec_findings
from tfserving_harness.testing import assert_refused, at


def checks(pod):
    """(Service, model, request body) triples the test script receives."""
    args = pod["spec"]["containers"][0]["command"][4:]
    assert len(args) % 3 == 0, args
    return [tuple(args[i:i + 3]) for i in range(0, len(args), 3)]


def test_default_test_pod_is_a_hook_that_meets_restricted(default_docs):
    pod = one(default_docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod_spec_findings(pod["spec"], pod["metadata"]) == []
    assert pod["spec"]["automountServiceAccountToken"] is False and pod["spec"]["restartPolicy"] == "Never"
    assert re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", pod["spec"]["containers"][0]["image"]), "the test image is pinned by digest"
    assert checks(pod) == [("tfs-tf-serving", "half_plus_two", '{"instances": [1.0, 2.0, 5.0]}')]


def test_test_pod_is_selected_by_no_service_or_deployment(default_docs):
    labels = one(default_docs, "Pod")["metadata"]["labels"]
    for doc in of_kind(default_docs, "Service") + of_kind(default_docs, "Deployment"):
        selector = doc["spec"]["selector"].get("matchLabels", doc["spec"]["selector"])
        assert not all(labels.get(k) == v for k, v in selector.items()), f"{doc['kind']}/{doc['metadata']['name']} selects the test pod"


def test_every_model_of_every_track_on_its_own_service_with_its_request(render):
    values = {
        "modelStorage": {"source": "none"},
        "tracks": {"stable": {}, "canary": {"models": [{"name": "ranker", "basePath": "/models/ranker"}]}},
        "models": [{"name": "resnet", "basePath": "/models/resnet"}, {"name": "half_plus_two", "basePath": "/models/half_plus_two"}],
        "helmTest": {"requests": {"resnet": '{"instances": [[0.5]]}'}},
    }
    default = '{"instances": [1.0, 2.0, 5.0]}'
    assert checks(one(render(values), "Pod")) == [
        ("tfs-tf-serving-canary", "ranker", default),
        ("tfs-tf-serving-stable", "resnet", '{"instances": [[0.5]]}'),
        ("tfs-tf-serving-stable", "half_plus_two", default),
    ]


def test_blue_green_tests_both_colours(render):
    pod = one(render({"blueGreen": {"enabled": True}}), "Pod")
    assert [service for service, _, _ in checks(pod)] == ["tfs-tf-serving-blue", "tfs-tf-serving-green"]


def test_disabled_renders_no_test_pod(render):
    assert of_kind(render({"helmTest": {"enabled": False}}), "Pod") == []


def test_schema_refuses_a_tag_as_digest():
    assert_refused({"helmTest": {"image": {"digest": "1.37.0"}}}, at("helmTest.image.digest", "pattern"))
