"""Service ports: `grpc` and `http` on every traffic Service (main, per track, blue/green preview),
with an `appProtocol` that tells Gateway API implementations and meshes how to talk to the backend."""

from __future__ import annotations

import pytest

from tfserving_harness import helm, k8s_schema
from tfserving_harness.manifests import of_kind, ref

TRACKS_AND_PREVIEW = {"blueGreen": {"enabled": True, "active": "blue"}}


def _ports(docs, name):
    return [p for s in of_kind(docs, "Service") for p in s["spec"]["ports"] if p["name"] == name]


def test_grpc_port_defaults_to_the_standard_h2c_app_protocol(default_docs, render):
    """`grpc` is not a standard appProtocol; `kubernetes.io/h2c` (cleartext HTTP/2) is."""
    for docs in (default_docs, render(TRACKS_AND_PREVIEW)):
        grpc = _ports(docs, "grpc")
        assert len(grpc) == len([s for s in of_kind(docs, "Service") if s["metadata"]["labels"]["tf-serving.io/service"] != "metrics"])
        assert {p.get("appProtocol") for p in grpc} == {"kubernetes.io/h2c"}
        assert {p.get("appProtocol") for p in _ports(docs, "http")} == {"http"}


@pytest.mark.parametrize(("value", "expected"), [("grpc", "grpc"), ("", None), ("kubernetes.io/h2c", "kubernetes.io/h2c")])
def test_grpc_app_protocol_is_a_value_and_empty_omits_it(value, expected, render):
    """Every variant passes the strict Kubernetes 1.29 Service schema (appProtocol is a free string)."""
    docs = render({**TRACKS_AND_PREVIEW, "service": {"grpcAppProtocol": value}}, kube_version=helm.OLDEST_KUBE_VERSION)
    for port in _ports(docs, "grpc"):
        assert port.get("appProtocol") == expected and (expected is not None or "appProtocol" not in port)
    for service in of_kind(docs, "Service"):
        assert k8s_schema.validate(service, helm.OLDEST_KUBE_VERSION) == [], ref(service)


def test_schema_rejects_an_unknown_app_protocol(render):
    with pytest.raises(helm.RenderError) as error:
        render({"service": {"grpcAppProtocol": "h2c"}})
    assert "grpcAppProtocol" in error.value.stderr
