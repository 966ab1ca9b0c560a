"""What the Ingress and the HTTPRoute publish: TF Serving's REST API (`/v1/`), not the whole REST
port, whose `metrics.path` would otherwise be reachable from outside the cluster."""

from __future__ import annotations

import pytest

from tfserving_harness.manifests import of_kind
from tfserving_harness.testing import render_error

TRACKS = {"tracks": {"stable": {}, "canary": {}}, "primaryTrack": "stable"}
CANARY = {"enabled": True, "track": "canary", "weight": 10, "header": {"name": "x-canary", "value": "always"}}
INGRESS = {**TRACKS, "canary": CANARY, "ingress": {"enabled": True, "host": "rest.example.com"}}
GATEWAY = {
    **TRACKS,
    "canary": CANARY,
    "gatewayApi": {"enabled": True, "force": True, "parentRefs": [{"name": "public"}], "http": {"hostnames": ["rest.example.com"]}, "grpc": {"enabled": False}},
}
METRICS = "/monitoring/prometheus/metrics"


def _with(base, section, **values):
    merged = {**base}
    merged[section] = {**base[section], **values}
    return merged


def test_ingresses_route_only_the_rest_api_by_default_and_the_canary_mirrors(render):
    ingresses = of_kind(render(INGRESS), "Ingress")
    assert {i["metadata"]["labels"]["tf-serving.io/ingress"] for i in ingresses} == {"primary", "canary"}
    for ingress in ingresses:
        [path] = ingress["spec"]["rules"][0]["http"]["paths"]
        assert (path["path"], path["pathType"]) == ("/v1/", "Prefix"), ingress["metadata"]["name"]
        assert not METRICS.startswith(path["path"])


def test_httproute_rules_route_only_the_rest_api_by_default(render):
    [route] = of_kind(render(GATEWAY), "HTTPRoute")
    matches = [m for rule in route["spec"]["rules"] for m in rule["matches"]]
    assert len(matches) == 2, "the canary header rule and the weighted rule"
    assert {(m["path"]["type"], m["path"]["value"]) for m in matches} == {("PathPrefix", "/v1/")}


@pytest.mark.parametrize(
    ("values", "value_path", "path"),
    [
        (_with(INGRESS, "ingress", path="/"), "ingress.path", "/"),
        (_with(INGRESS, "ingress", path="/monitoring"), "ingress.path", "/monitoring"),
        (_with(INGRESS, "ingress", path="/monitoring/", pathType="ImplementationSpecific"), "ingress.path", "/monitoring/"),
        (_with(INGRESS, "ingress", path=METRICS, pathType="Exact"), "ingress.path", METRICS),
        ({**GATEWAY, "gatewayApi": {**GATEWAY["gatewayApi"], "http": {"hostnames": ["rest.example.com"], "path": "/"}}}, "gatewayApi.http.path", "/"),
    ],
    ids=["ingress-root", "ingress-parent", "ingress-impl-specific", "ingress-exact-metrics", "httproute-root"],
)
def test_a_rest_path_that_covers_the_metrics_path_fails_naming_both_values(values, value_path, path):
    message = render_error(values)
    assert f'tf-serving: {value_path} "{path}" exposes metrics.path "{METRICS}"' in message
    assert "metrics.allowUnderExposedPath" in message


@pytest.mark.parametrize(
    "values",
    [
        _with(INGRESS, "ingress", path="/monitor"),  # prefixes match whole path elements
        _with(INGRESS, "ingress", path="/monitoring", pathType="Exact"),
        {**_with(INGRESS, "ingress", path="/"), "metrics": {"allowUnderExposedPath": True}},
        {**_with(INGRESS, "ingress", path="/"), "metrics": {"enabled": False}},
        {**_with(INGRESS, "ingress", path="/v1/"), "metrics": {"path": "/v1x/metrics"}},
    ],
    ids=["element-wise", "exact-elsewhere", "explicitly-allowed", "metrics-off", "sibling-path"],
)
def test_paths_that_do_not_publish_the_metrics_or_are_allowed_render(values, render):
    assert of_kind(render(values), "Ingress")


def test_grpc_ingress_on_its_own_host_is_not_the_rest_port(render):
    """The gRPC Ingress routes `/` of its own host to the `grpc` port: the metrics are not there."""
    docs = render(_with(INGRESS, "ingress", grpc={"enabled": True, "host": "grpc.example.com"}, tls={"enabled": True, "secretName": "tls"}))
    grpc = [i for i in of_kind(docs, "Ingress") if i["spec"]["rules"][0]["host"] == "grpc.example.com"]
    assert grpc and all(i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["name"] == "grpc" for i in grpc)
