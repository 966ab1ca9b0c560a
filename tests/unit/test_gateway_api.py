"""Gateway API HTTPRoute / GRPCRoute: CRD-gated, weighted across tracks, header rule pins testers."""

from __future__ import annotations

import pytest

from tfserving_harness import crds, helm
from tfserving_harness.manifests import of_kind, one
from tfserving_harness.testing import assert_no_problems, assert_refused, at

HTTPROUTE_API = "gateway.networking.k8s.io/v1/HTTPRoute"
GRPCROUTE_API = "gateway.networking.k8s.io/v1/GRPCRoute"
TRACKS = {"tracks": {"stable": {"replicaCount": 3}, "canary": {"image": {"tag": "2.19.1"}}}, "primaryTrack": "stable"}
GATEWAY = {
    "enabled": True,
    "parentRefs": [{"name": "public", "namespace": "gateways", "sectionName": "https"}],
    "http": {"hostnames": ["rest.example.com"]},
    "grpc": {"hostnames": ["grpc.example.com"]},
}


def _values(canary=None, **gateway):
    values = {**TRACKS, "gatewayApi": {**GATEWAY, **gateway}}
    if canary is not None:
        values["canary"] = {"enabled": True, **canary}
    return values


def _weights(rule):
    return {b["name"]: (b["port"], b.get("weight")) for b in rule["backendRefs"]}


def test_no_routes_by_default(default_docs):
    assert of_kind(default_docs, "HTTPRoute") == [] and of_kind(default_docs, "GRPCRoute") == []


def test_enabled_routes_render_when_the_cluster_serves_the_kinds_or_with_force(render):
    docs = render(_values(), api_versions=[HTTPROUTE_API, GRPCROUTE_API])
    assert len(of_kind(docs, "HTTPRoute")) == 1 and len(of_kind(docs, "GRPCRoute")) == 1
    only_http = render(_values(grpc={"enabled": False}), api_versions=[HTTPROUTE_API])
    assert len(of_kind(only_http, "HTTPRoute")) == 1 and of_kind(only_http, "GRPCRoute") == []
    forced = render(_values(force=True))
    assert len(of_kind(forced, "HTTPRoute")) == 1 and len(of_kind(forced, "GRPCRoute")) == 1


@pytest.mark.parametrize(
    ("api_versions", "missing", "enabled_by"),
    [((), "GRPCRoute", "gatewayApi.grpc.enabled"), ((GRPCROUTE_API,), "HTTPRoute", "gatewayApi.http.enabled"), ((HTTPROUTE_API,), "GRPCRoute", "gatewayApi.grpc.enabled")],
)
def test_an_enabled_route_without_its_api_fails_instead_of_disappearing(api_versions, missing, enabled_by):
    assert_refused(_values(), f"tf-serving: gatewayApi.enabled with {enabled_by} is true but the cluster does not serve gateway.networking.k8s.io/v1 {missing}; install the Gateway API CRDs", api_versions=api_versions)
    assert_refused(_values(), "or set gatewayApi.force=true when rendering offline", api_versions=api_versions)


def test_routes_attach_to_the_parent_gateway_with_their_own_hostnames(render):
    docs = render(_values(force=True))
    http, grpc = one(docs, "HTTPRoute"), one(docs, "GRPCRoute")
    for route in (http, grpc):
        assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateways", "sectionName": "https"}]
    assert http["spec"]["hostnames"] == ["rest.example.com"] and grpc["spec"]["hostnames"] == ["grpc.example.com"]
    assert_no_problems(docs)


def test_without_canary_all_traffic_goes_to_the_main_service_on_the_right_port(render):
    docs = render(_values(force=True))
    (http_rule,) = one(docs, "HTTPRoute")["spec"]["rules"]
    (grpc_rule,) = one(docs, "GRPCRoute")["spec"]["rules"]
    assert _weights(http_rule) == {"tfs-tf-serving": (8501, 100)}
    assert _weights(grpc_rule) == {"tfs-tf-serving": (8500, 100)}
    ports = {p["name"]: p["port"] for p in one(docs, "Service", "tfs-tf-serving")["spec"]["ports"]}
    assert ports == {"grpc": 8500, "http": 8501}


@pytest.mark.parametrize("weight", [0, 25, 100])
def test_route_weights_are_what_the_values_say(render, weight):
    docs = render(_values({"weight": weight}, force=True))
    for kind, port in (("HTTPRoute", 8501), ("GRPCRoute", 8500)):
        (rule,) = one(docs, kind)["spec"]["rules"]
        assert _weights(rule) == {"tfs-tf-serving": (port, 100 - weight), "tfs-tf-serving-canary": (port, weight)}, kind
    selectors = {s["metadata"]["name"]: s["spec"]["selector"]["tf-serving.io/track"] for s in of_kind(docs, "Service")}
    assert selectors["tfs-tf-serving"] == "stable" and selectors["tfs-tf-serving-canary"] == "canary"


def test_header_rule_pins_testers_to_the_canary_ahead_of_the_weighted_rule(render):
    docs = render(_values({"weight": 10, "header": {"name": "X-Canary", "value": "tester"}}, force=True, http={"hostnames": ["rest.example.com"], "path": "/v1/models"}))
    pinned, weighted = one(docs, "HTTPRoute")["spec"]["rules"]
    assert pinned["matches"] == [{"path": {"type": "PathPrefix", "value": "/v1/models"}, "headers": [{"name": "X-Canary", "type": "Exact", "value": "tester"}]}]
    assert weighted["matches"] == [{"path": {"type": "PathPrefix", "value": "/v1/models"}}], "same path, fewer matches: lower precedence"
    assert _weights(pinned) == {"tfs-tf-serving-canary": (8501, None)}
    grpc_pinned, grpc_weighted = one(docs, "GRPCRoute")["spec"]["rules"]
    assert grpc_pinned["matches"] == [{"headers": [{"name": "X-Canary", "type": "Exact", "value": "tester"}]}]
    assert "matches" not in grpc_weighted and _weights(grpc_weighted)["tfs-tf-serving-canary"] == (8500, 10)
    assert_no_problems(docs)


def test_header_pattern_becomes_a_regular_expression_match(render):
    docs = render(_values({"header": {"name": "X-Canary", "pattern": "^tester-.*$"}}, force=True))
    headers = one(docs, "HTTPRoute")["spec"]["rules"][0]["matches"][0]["headers"]
    assert headers == [{"name": "X-Canary", "type": "RegularExpression", "value": "^tester-.*$"}]
    assert crds.validate(one(docs, "HTTPRoute")) == []


def test_routes_can_be_turned_off_one_by_one(render):
    docs = render(_values(force=True, grpc={"enabled": False}, http={"hostnames": []}))
    assert len(of_kind(docs, "HTTPRoute")) == 1 and of_kind(docs, "GRPCRoute") == []
    assert "hostnames" not in one(docs, "HTTPRoute")["spec"]


def test_ingress_and_gateway_may_share_a_host_only_when_allowed(render):
    values = {**_values(force=True), "ingress": {"enabled": True, "host": "rest.example.com"}}
    with pytest.raises(helm.RenderError) as error:
        render(values)
    assert 'tf-serving: host "rest.example.com" is claimed by both the Ingress' in error.value.stderr
    assert "gatewayApi.allowHostsSharedWithIngress=true" in error.value.stderr
    allowed = render({**values, "gatewayApi": {**values["gatewayApi"], "allowHostsSharedWithIngress": True}})
    assert len(of_kind(allowed, "Ingress")) == 1 and len(of_kind(allowed, "HTTPRoute")) == 1


def test_ingress_host_under_a_wildcard_route_hostname_is_an_overlap(render):
    values = {**_values(force=True, http={"hostnames": ["*.example.com"]}), "ingress": {"enabled": True, "host": "rest.example.com"}}
    with pytest.raises(helm.RenderError) as error:
        render(values)
    assert '"rest.example.com" is claimed by both' in error.value.stderr


def test_host_overlap_is_not_checked_when_the_http_route_is_off(render):
    """With the HTTPRoute off no route claims the REST host, so the Ingress may have it."""
    docs = render({**_values(force=True, http={"enabled": False, "hostnames": ["rest.example.com"]}), "ingress": {"enabled": True, "host": "rest.example.com"}})
    assert len(of_kind(docs, "Ingress")) == 1 and of_kind(docs, "HTTPRoute") == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"gatewayApi": {"enabled": True}}, "tf-serving: gatewayApi.enabled needs gatewayApi.parentRefs"),
        (_values(force=True, grpc={"hostnames": []}), "tf-serving: gatewayApi.http.hostnames and gatewayApi.grpc.hostnames must both be set"),
        (_values(force=True, grpc={"hostnames": ["rest.example.com"]}), 'tf-serving: "rest.example.com" is in gatewayApi.http.hostnames and gatewayApi.grpc.hostnames'),
        ({"gatewayApi": {"parentRefs": [{"nme": "x"}]}}, at("gatewayApi.parentRefs.0.nme", "additionalProperties")),
        ({"gatewayApi": {"http": {"hostnames": ["Bad_Host"]}}}, at("gatewayApi.http.hostnames.0", "pattern")),
        ({"gatewayApi": {"forced": True}}, at("gatewayApi.forced", "additionalProperties")),
    ],
)
def test_misuse_fails_naming_the_value(values, message):
    assert_refused(values, message)
