"""tfserving_harness.quantity and api_rules: what the API server refuses beyond its OpenAPI schemas."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tfserving_harness import api_rules, quantity
from tfserving_harness.frozen import thaw
from tfserving_harness.manifests import one


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", Fraction(1, 2)), ("2", 2), (2, 2), (0.5, Fraction(1, 2)), ("2Gi", 2 * 2**30), ("3000Mi", 3000 * 2**20),
     ("1e3", 1000), ("1.5k", 1500), ("100u", Fraction(1, 10**4)), ("+1E-2", Fraction(1, 100)), (".5", Fraction(1, 2))],
)
def test_quantities_parse_to_their_exact_value(text, value):
    assert quantity.parse(text) == value


@pytest.mark.parametrize("text", ["2GB", "2 cores", "10 Gi", "1.5.0", "", "Gi", "2gi", True])
def test_what_is_not_a_quantity_is_refused_with_the_expected_form(text):
    with pytest.raises(quantity.QuantityError, match="quantity"):
        quantity.parse(text)


def _deployment(default_docs):
    return thaw(one(default_docs, "Deployment"))


def _server(deployment):
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_the_defaults_break_no_rule(default_docs):
    assert api_rules.api_problems(default_docs) == []


def test_requests_compare_with_limits_by_value(default_docs):
    deployment = _deployment(default_docs)
    _server(deployment)["resources"] = {"requests": {"memory": "3000Mi", "cpu": "1"}, "limits": {"memory": "2Gi", "cpu": "1000m"}}
    problems = api_rules.api_problems([deployment])
    assert [p.field for p in problems] == ["spec.template.spec.containers[0].resources.requests.memory"]
    assert "request 3000Mi is above the limit 2Gi" in problems[0].message


def test_an_extended_resource_request_must_equal_its_limit(default_docs):
    deployment = _deployment(default_docs)
    _server(deployment)["resources"] = {"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 2}}
    assert [p.message for p in api_rules.api_problems([deployment])] == ["extended resource nvidia.com/gpu: the request must equal the limit"]


@pytest.mark.parametrize(
    ("toleration", "field"),
    [({"operator": "Exist"}, "operator"), ({"operator": "Equal", "effect": "NoScheduled"}, "effect"),
     ({"operator": "Exists", "value": "x"}, "value"), ({"operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60}, "tolerationSeconds")],
)
def test_tolerations_the_api_server_refuses(default_docs, toleration, field):
    deployment = _deployment(default_docs)
    deployment["spec"]["template"]["spec"]["tolerations"] = [{"key": "k", **toleration}]
    assert [p.field for p in api_rules.api_problems([deployment])] == [f"spec.template.spec.tolerations[0].{field}"]


def test_two_mounts_on_one_path_and_two_service_ports_on_one_number(default_docs):
    deployment = _deployment(default_docs)
    mounts = _server(deployment)["volumeMounts"]
    mounts[1]["mountPath"] = mounts[0]["mountPath"] + "/"
    service = thaw(one(default_docs, "Service"))
    service["spec"]["ports"][1]["port"] = service["spec"]["ports"][0]["port"]
    assert [p.field for p in api_rules.api_problems([deployment, service])] == [
        "spec.template.spec.containers[0].volumeMounts[1].mountPath",
        "spec.ports[1].port",
    ]


@pytest.mark.parametrize(
    ("block", "field", "words"),
    [({"cidr": "10.0.0.0/33"}, "cidr", "is not a CIDR"), ({"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}, "except[0]", "not a strict subset"),
     ({"cidr": "0.0.0.0/0", "except": ["169.254.169.254"]}, "except[0]", "is not a CIDR"), ({"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}, None, None)],
)
def test_ip_blocks(block, field, words):
    policy = {"kind": "NetworkPolicy", "metadata": {"name": "np"}, "spec": {"egress": [{"to": [{"ipBlock": block}]}]}}
    problems = api_rules.api_problems([policy])
    if field is None:
        assert problems == []
    else:
        assert [p.field for p in problems] == [f"spec.egress[0].to[0].ipBlock.{field}"] and words in problems[0].message


@pytest.mark.parametrize(("value", "ok"), [(1, True), ("50%", True), ("100%", True), ("150%", False), ("50 percent", False), (-1, False)])
def test_pdb_int_or_percent(value, ok):
    pdb = {"kind": "PodDisruptionBudget", "metadata": {"name": "p"}, "spec": {"minAvailable": value}}
    assert (api_rules.api_problems([pdb]) == []) is ok


@pytest.mark.parametrize(("labels", "ok"), [({"team": "ml"}, True), ({"example.com/team": ""}, True), ({"owner": "a@b"}, False), ({"team": "ml platform"}, False), ({"Bad_Prefix.com/x": "y"}, False)])
def test_label_syntax(labels, ok):
    doc = {"kind": "ConfigMap", "metadata": {"name": "c", "labels": labels}}
    assert (api_rules.api_problems([doc]) == []) is ok
