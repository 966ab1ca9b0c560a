"""Ingress (networking.k8s.io/v1) and the ingress-nginx canary: the canary Ingress mirrors its primary."""

from __future__ import annotations

import pytest

from tfserving_harness import helm
from tfserving_harness.frozen import thaw
from tfserving_harness.manifests import of_kind, one
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import assert_no_problems, assert_refused, at

CANARY = "nginx.ingress.kubernetes.io/canary"
TRACKS = {"tracks": {"stable": {"replicaCount": 2}, "canary": {"image": {"tag": "2.19.1"}}}, "primaryTrack": "stable"}


def _values(canary=None, **ingress):
    return {**TRACKS, "canary": {"enabled": True, **(canary or {})}, "ingress": {"enabled": True, "host": "rest.example.com", **ingress}}


def _backend(ingress):
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    return path["backend"]["service"]


def _without_backend_and_canary(ingress):
    """The Ingress spec with the backend Service name removed: what must be equal between twins."""
    spec = thaw(ingress["spec"])
    del spec["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    return spec


def test_no_ingress_by_default(default_docs):
    assert of_kind(default_docs, "Ingress") == []


def test_primary_ingress_reaches_the_main_service_on_the_rest_port(render):
    docs = render({"ingress": {"enabled": True, "host": "rest.example.com", "className": "nginx"}})
    ingress = one(docs, "Ingress")
    assert ingress["metadata"]["name"] == "tfs-tf-serving"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert _backend(ingress) == {"name": "tfs-tf-serving", "port": {"name": "http"}}
    service = one(docs, "Service", "tfs-tf-serving")
    assert "http" in [p["name"] for p in service["spec"]["ports"]]
    assert "annotations" not in ingress["metadata"] or CANARY not in ingress["metadata"]["annotations"]
    assert_no_problems(docs)


def test_canary_ingress_mirrors_host_path_and_tls_and_points_at_the_canary_service(render):
    docs = render(_values({"weight": 20}, path="/v1/models", tls={"enabled": True, "secretName": "cert"}, annotations={"nginx.ingress.kubernetes.io/proxy-body-size": "16m"}))
    primary, canary = one(docs, "Ingress", "tfs-tf-serving"), one(docs, "Ingress", "tfs-tf-serving-canary")
    assert _without_backend_and_canary(primary) == _without_backend_and_canary(canary)
    assert primary["spec"]["rules"][0]["host"] == "rest.example.com" and primary["spec"]["tls"] == [{"secretName": "cert", "hosts": ["rest.example.com"]}]
    assert _backend(primary)["name"] == "tfs-tf-serving" and _backend(canary)["name"] == "tfs-tf-serving-canary"
    canary_service = one(docs, "Service", _backend(canary)["name"])
    assert canary_service["spec"]["selector"]["tf-serving.io/track"] == "canary"
    assert canary["metadata"]["annotations"] == {CANARY: "true", f"{CANARY}-weight": "20"}, "only canary annotations on the canary Ingress"
    assert primary["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/proxy-body-size": "16m"}
    assert_no_problems(docs)


def test_canary_by_header_value_pattern_and_cookie(render):
    value = render(_values({"header": {"name": "X-Canary", "value": "always"}, "cookie": "tfs_canary"}))
    annotations = one(value, "Ingress", "tfs-tf-serving-canary")["metadata"]["annotations"]
    assert annotations == {
        CANARY: "true",
        f"{CANARY}-weight": "0",
        f"{CANARY}-by-header": "X-Canary",
        f"{CANARY}-by-header-value": "always",
        f"{CANARY}-by-cookie": "tfs_canary",
    }
    pattern = render(_values({"header": {"name": "X-Canary", "pattern": "^tester-.*$"}}))
    annotations = one(pattern, "Ingress", "tfs-tf-serving-canary")["metadata"]["annotations"]
    assert annotations[f"{CANARY}-by-header-pattern"] == "^tester-.*$" and f"{CANARY}-by-header-value" not in annotations


def test_grpc_gets_its_own_ingress_and_host_with_the_grpc_backend_protocol(render):
    docs = render(_values({"weight": 5}, tls={"enabled": True, "secretName": "cert"}, grpc={"enabled": True, "host": "grpc.example.com"}))
    names = sorted(i["metadata"]["name"] for i in of_kind(docs, "Ingress"))
    assert names == ["tfs-tf-serving", "tfs-tf-serving-canary", "tfs-tf-serving-grpc", "tfs-tf-serving-grpc-canary"]
    grpc, grpc_canary = one(docs, "Ingress", "tfs-tf-serving-grpc"), one(docs, "Ingress", "tfs-tf-serving-grpc-canary")
    for ingress in (grpc, grpc_canary):
        assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
        assert ingress["spec"]["rules"][0]["host"] == "grpc.example.com"
        assert _backend(ingress)["port"] == {"name": "grpc"}
    assert _without_backend_and_canary(grpc) == _without_backend_and_canary(grpc_canary)
    assert _backend(grpc_canary)["name"] == "tfs-tf-serving-canary"
    assert "nginx.ingress.kubernetes.io/backend-protocol" not in (one(docs, "Ingress", "tfs-tf-serving")["metadata"].get("annotations") or {})
    assert one(docs, "Ingress", "tfs-tf-serving-grpc-canary")["metadata"]["annotations"][f"{CANARY}-weight"] == "5"
    assert_no_problems(docs)


def test_ingress_without_host_catches_every_host(render):
    ingress = one(render({"ingress": {"enabled": True}}), "Ingress")
    assert "host" not in ingress["spec"]["rules"][0]


def test_readme_says_ingress_nginx_is_unmaintained_and_recommends_gateway_api():
    readme = (chart_dir() / "README.md").read_text()
    assert "end of maintenance in March 2026" in readme and "Gateway API" in readme
    assert "end of maintenance in March 2026" in helm.render_notes({"ingress": {"enabled": True}})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"canary": {"enabled": True}, "ingress": {"enabled": True}}, "tf-serving: canary.enabled needs a canary track but there is only [main]"),
        ({**TRACKS, "canary": {"enabled": True, "track": "beta"}, "ingress": {"enabled": True}}, 'tf-serving: canary.track "beta" is not one of the tracks [canary stable]'),
        ({**TRACKS, "canary": {"enabled": True, "track": "stable"}, "ingress": {"enabled": True}}, 'tf-serving: canary.track "stable" is the primary track'),
        ({**TRACKS, "canary": {"enabled": True}}, "tf-serving: canary.enabled splits traffic through an Ingress or Gateway API routes"),
        ({**TRACKS, "tracks": {"stable": {}, "canary": {"replicaCount": 0}}, "canary": {"enabled": True, "weight": 1}, "ingress": {"enabled": True}}, 'tf-serving: canary.weight is 1 but track "canary" has replicaCount 0'),
        ({"canary": {"weight": 101}}, at("canary.weight", "maximum")),
        ({"canary": {"weight": -1}}, at("canary.weight", "minimum")),
        ({"canary": {"header": {"name": "X Canary", "value": "1"}}}, at("canary.header.name", "pattern")),
        ({"canary": {"cookie": "a;b"}}, at("canary.cookie", "pattern")),
        ({"canary": {"header": {"name": "X-Canary"}}}, 'tf-serving: canary.header.name "X-Canary" has no canary.header.value nor canary.header.pattern'),
        ({"canary": {"header": {"name": "X-Canary", "value": "1", "pattern": "1"}}}, "tf-serving: canary.header.value and canary.header.pattern are both set"),
        ({"canary": {"header": {"value": "1"}}}, "tf-serving: canary.header.value/pattern is set without canary.header.name"),
        ({**TRACKS, "canary": {"enabled": True, "cookie": "c"}, "gatewayApi": {"enabled": True, "force": True, "parentRefs": [{"name": "gw"}], "grpc": {"enabled": False}}}, 'tf-serving: canary.cookie "c" only works with ingress-nginx'),
        ({"ingress": {"enabled": True, "tls": {"enabled": True}}}, "tf-serving: ingress.tls.enabled needs ingress.tls.secretName"),
        ({"ingress": {"enabled": True, "tls": {"secretName": "models-tls"}}}, 'tf-serving: ingress.tls.secretName is "models-tls" but ingress.tls.enabled is false'),
        ({"service": {"grpcPort": 8501}}, "tf-serving: service.grpcPort and service.httpPort are both 8501"),
        ({"ingress": {"enabled": True, "grpc": {"enabled": True}}}, "tf-serving: ingress.grpc.enabled needs ingress.grpc.host"),
        ({"ingress": {"enabled": True, "host": "a.example.com", "grpc": {"enabled": True, "host": "a.example.com"}}}, 'tf-serving: ingress.grpc.host and ingress.host are both "a.example.com"'),
        (
            {"ingress": {"enabled": True, "host": "rest.example.com", "grpc": {"enabled": True, "host": "grpc.example.com"}}},
            "tf-serving: ingress.grpc.enabled needs ingress.tls.enabled=true (with ingress.tls.secretName covering ingress.grpc.host): ingress-nginx speaks HTTP/2",
        ),
        ({"ingress": {"enabled": True, "host": "Not A Host"}}, at("ingress.host", "pattern")),
        ({"ingress": {"enabled": True, "pathType": "Glob"}}, at("ingress.pathType", "enum")),
    ],
)
def test_misuse_fails_naming_the_value(values, message):
    assert_refused(values, message)
