"""The generated parts of values.schema.json (tfserving_harness.values_schema): Kubernetes
definitions copied closed from the oldest supported version, formats, and description/default
from values.yaml; regenerating gives the same bytes."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tfserving_harness import crds, helm, k8s_schema, values_docs, values_schema, yamlio
from tfserving_harness.paths import REPO_ROOT, chart_dir


@pytest.fixture(scope="module")
def schema():
    return json.loads((chart_dir() / "values.schema.json").read_text())


def test_schema_matches_its_generator():
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "gen_values_schema.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_documented_value_has_its_description_and_default(schema):
    """Spot-checks through a local ref (image), a $ref sibling (resources) and a track override."""
    parameters = {p.key: p for p in values_docs.parse(chart_dir() / "values.yaml")[0]}
    values = yamlio.load((chart_dir() / "values.yaml").read_text())
    tag = schema["definitions"]["image"]["properties"]["tag"]
    assert (tag["description"], tag["default"]) == (parameters["image.tag"].description, values["image"]["tag"])
    resources = schema["properties"]["resources"]
    assert resources["$ref"] == "#/definitions/io.k8s.api.core.v1.ResourceRequirements"
    assert (resources["description"], resources["default"]) == (parameters["resources"].description, values["resources"])
    assert schema["properties"]["blueGreen"]["properties"]["blue"]["description"] == parameters["blueGreen.blue"].description


def test_kubernetes_copies_are_closed_and_come_from_the_oldest_version(schema):
    source = k8s_schema.definitions(helm.OLDEST_KUBE_VERSION)
    copies = {name: d for name, d in schema["definitions"].items() if name.startswith(values_schema.K8S_PREFIX)}
    assert "io.k8s.api.core.v1.SecurityContext" in copies
    for name, definition in copies.items():
        assert name in source
        if "properties" in definition:
            assert definition["additionalProperties"] is False, name
            assert set(definition["properties"]) == set(source[name]["properties"]), name
    text = json.dumps(copies)
    assert "#/$defs/" not in text and "x-kubernetes-" not in text and '"format"' not in text


def test_crd_copies_are_the_vendored_crds_types_closed(schema):
    """RelabelConfig comes from the ServiceMonitor CRD; the PodMonitor's relabelings (which the
    chart's podMonitor values also refer to) have the very same type there."""
    def plain(node):
        if isinstance(node, dict):
            return {k: plain(v) for k, v in node.items() if k not in ("description", "default", "format")}
        return [plain(item) for item in node] if isinstance(node, list) else node

    for name, (api_version, kind, path) in values_schema.CRD_DEFINITIONS.items():
        copied = schema["definitions"][name]
        assert copied == plain(values_schema.crd_node(api_version, kind, path)), name
        assert copied.get("type") != "object" or copied["additionalProperties"] is False, name
    relabel = values_schema.crd_node("monitoring.coreos.com/v1", "ServiceMonitor", "spec.endpoints[].relabelings[]")
    for path in ("spec.podMetricsEndpoints[].relabelings[]", "spec.podMetricsEndpoints[].metricRelabelings[]"):
        assert values_schema.crd_node("monitoring.coreos.com/v1", "PodMonitor", path) == relabel, path
    for path in ("spec.parentRefs[]", "spec.hostnames[]"):  # the HTTPRoute's copies serve the GRPCRoute too
        assert values_schema.crd_node("gateway.networking.k8s.io/v1", "GRPCRoute", path) == values_schema.crd_node("gateway.networking.k8s.io/v1", "HTTPRoute", path), path
    monitoring = schema["properties"]["monitoring"]["properties"]
    refs = {monitoring[kind]["properties"][key]["items"]["$ref"] for kind in ("serviceMonitor", "podMonitor") for key in ("relabelings", "metricRelabelings")}
    assert refs == {"#/definitions/com.coreos.monitoring.v1.RelabelConfig"}


def test_a_prometheus_operator_relabeling_renders():
    relabeling = {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"}
    docs = helm.render_chart({"monitoring": {"serviceMonitor": {"enabled": True, "force": True, "relabelings": [relabeling], "metricRelabelings": [{"action": "drop", "regex": "x"}]}}})
    [monitor] = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert monitor["spec"]["endpoints"][0]["relabelings"] == [relabeling]


def test_only_definitions_the_schema_reaches_are_copied(schema):
    """The closure, not the whole API: each copy is referred to by the schema outside itself."""
    text_without = {name: json.dumps({k: v for k, v in schema["definitions"].items() if k != name}) + json.dumps(schema["properties"])
                    for name in schema["definitions"] if name.startswith(values_schema.K8S_PREFIX) or name in values_schema.CRD_DEFINITIONS}
    unreached = [name for name, text in text_without.items() if f'"#/definitions/{name}"' not in text]
    assert unreached == []


def test_rules_name_only_values_kubernetes_documents():
    """Each enum value the generator adds is named in that field's own Kubernetes description."""
    source = k8s_schema.definitions(helm.OLDEST_KUBE_VERSION)
    for name, rules in values_schema.RULES.items():
        for prop, rule in rules.items():
            description = source[name]["properties"][prop]["description"]
            for value in rule.get("enum", []):
                if value:
                    assert re.search(rf"\b{value}\b", description), f"{name}.{prop}: {value} is not in {description!r}"


def test_hand_written_label_maps_use_the_generator_label_key(schema):
    for name in ("labels", "annotations", "nodeSelector"):
        assert values_schema.LABEL_KEY in schema["definitions"][name]["patternProperties"], name


@pytest.mark.parametrize("value", ["2G", "2Gi", "500m", "1", "0.5", ".5", "1e3", "100n", "+1k", "1.5Ti"])
def test_quantity_grammar_accepts(value):
    assert re.fullmatch(values_schema.QUANTITY, value)


@pytest.mark.parametrize("value", ["2GB", "2gi", "1.2.3", "", "Gi", "1 Gi", "5%"])
def test_quantity_grammar_refuses(value):
    assert not re.fullmatch(values_schema.QUANTITY, value)


@pytest.mark.parametrize("value", ["10.0.0.0/8", "0.0.0.0/0", "255.255.255.255/32", "fd00::/8", "::/0", "2001:db8::1/128", "fe80::1:2/64", "1:2:3:4:5:6:7:8/96"])
def test_cidr_accepts(value):
    assert re.fullmatch(values_schema.CIDR, value)


@pytest.mark.parametrize("value", ["10.0.0.0/33", "256.0.0.0/8", "10.0.0/8", "10.0.0.0", "01.2.3.4/8", "fd00::/129", "fd00:::1/64", "1:2:3:4:5:6:7:8:9/64"])
def test_cidr_refuses(value):
    assert not re.fullmatch(values_schema.CIDR, value)


def _toy(tmp_path, values_text, schema):
    values = tmp_path / "values.yaml"
    values.write_text(values_text)
    return values_schema.generate(schema, values)


def test_generator_keeps_hand_written_keys_and_rebuilds_the_generated_ones(tmp_path):
    schema = {
        "type": "object",
        "additionalProperties": False,
        "definitions": {"io.k8s.stale.v1.Old": {"type": "object"}, "port": {"type": "integer"}},
        "properties": {
            "port": {"$ref": "#/definitions/port", "description": "stale", "default": 1},
            "tolerations": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.api.core.v1.Toleration"}},
        },
    }
    result = _toy(tmp_path, "# -- Port.\nport: 8500\n# -- Tolerations.\ntolerations: []\n", schema)
    assert result["properties"]["port"] == {"$ref": "#/definitions/port", "description": "Port.", "default": 8500}
    assert result["properties"]["tolerations"]["default"] == []
    assert sorted(result["definitions"]) == sorted(["port", *values_schema.FORMATS, "io.k8s.api.core.v1.Toleration"])
    assert result["definitions"]["io.k8s.api.core.v1.Toleration"]["properties"]["operator"]["enum"] == ["Exists", "Equal", "", None]
    assert values_schema.generate(result, tmp_path / "values.yaml") == result


def test_generator_refuses_a_documented_value_the_schema_lacks(tmp_path):
    with pytest.raises(values_schema.SchemaDriftError, match="documents replicas, which values.schema.json does not have"):
        _toy(tmp_path, "# -- Replicas.\nreplicas: 1\n", {"type": "object", "properties": {}})


def test_generator_refuses_an_unknown_kubernetes_definition(tmp_path):
    schema = {"type": "object", "properties": {"x": {"$ref": "#/definitions/io.k8s.api.core.v1.NoSuchThing"}}}
    with pytest.raises(values_schema.SchemaDriftError, match="NoSuchThing, which Kubernetes 1.29.0 does not define"):
        _toy(tmp_path, "# -- X.\nx: {}\n", schema)


def test_hand_written_paths_use_the_generator_grammars(schema):
    assert schema["properties"]["gatewayApi"]["properties"]["http"]["properties"]["path"]["pattern"] == values_schema.ROUTE_PATH
    [condition] = schema["properties"]["ingress"]["allOf"]
    assert condition["then"]["properties"]["path"]["pattern"] == values_schema.INGRESS_PATH


def _route_path_cel(value: str) -> bool:
    """The vendored HTTPRoute CRD's own x-kubernetes-validations on an Exact/PathPrefix path, read from
    the file: every `contains`/`endsWith` it forbids and its character pattern."""
    path_schema = values_schema.crd_node("gateway.networking.k8s.io/v1", "HTTPRoute", "spec.rules[].matches[].path")
    rules = [rule["rule"] for rule in crds.closed_schema("gateway.networking.k8s.io/v1", "HTTPRoute")["properties"]["spec"]["properties"]["rules"]["items"]
             ["properties"]["matches"]["items"]["properties"]["path"]["x-kubernetes-validations"]]
    assert path_schema["properties"]["value"]["maxLength"] == 1024
    banned = [m for rule in rules for m in re.findall(r"!self\.value\.contains\('([^']+)'\)", rule)]
    suffixes = [m for rule in rules for m in re.findall(r"!self\.value\.endsWith\('([^']+)'\)", rule)]
    [chars] = [m for rule in rules for m in re.findall(r'matches\(r"""(.+?)"""\)', rule)]
    assert len(banned) == 6 and len(suffixes) == 2
    return (value.startswith("/") and not any(b in value for b in banned) and not any(value.endswith(x) for x in suffixes)
            and re.fullmatch(chars, value) is not None)


@pytest.mark.parametrize("value", [
    "/", "/v1/", "/v1/models", "/v1/models/half_plus_two:predict", "/a/", "/.well-known/x", "/..x/", "/a/...", "/%20", "/~u/!$&'()*+,;=:@",
    "//", "/a//b", "/./", "/a/./b", "/a/../b", "/..", "/a/.", "/a/..", "/%2f", "/a%2Fb", "/a#b", "/a b", "/a\"b", "/%zz", "v1/", "", "/é",
])
def test_route_path_grammar_agrees_with_the_crd_rules(value):
    assert (re.fullmatch(values_schema.ROUTE_PATH, value) is not None) == _route_path_cel(value), value


@pytest.mark.parametrize(("grammar", "accepted", "refused"), [
    ("NON_NEGATIVE_QUANTITY", ["0", "500m", "2Gi", "+1", ".5", "1e3"], ["-1", "-0.5", "2GB", ""]),
    ("POSITIVE_QUANTITY", ["1", "0.5", ".1", "100m", "1k", "30", "2e-3"], ["0", "0.0", ".0", "0m", "-1", "0e5"]),
    ("WHOLE_QUANTITY", ["0", "1", "8", "1k", "2Ki"], ["0.5", "500m", "1.0", "-1", "1e3"]),
    ("PORT_NAME", ["http", "grpc-web", "h2c", "a1-b2", "metrics9"], ["8080", "HTTP", "grpc--web", "-http", "http-", "http_metrics"]),
    ("LOCAL_DESCENDING_PATH", ["profiles/a.json", "a", "./a", "a/./b", "..a/b", "a/"], ["/abs", "../a", "a/../b", "a/..", ".."]),
    ("PATH_SEGMENT", ["requests", "a.b", ".x", "..x"], [".", "..", "a/b", "50%", ""]),
])
def test_value_grammars(grammar, accepted, refused):
    pattern = getattr(values_schema, grammar)
    assert [v for v in accepted if not re.fullmatch(pattern, v)] == []
    assert [v for v in refused if re.fullmatch(pattern, v)] == []


def test_validation_rules_name_real_fields():
    """The rules the generator adds from the API server's validation code name properties the oldest
    supported version has (each rule's comment in values_schema names its validation function)."""
    source = k8s_schema.definitions(helm.OLDEST_KUBE_VERSION)
    for name, rules in values_schema.VALIDATION_RULES.items():
        assert set(rules) <= set(source[name]["properties"]), name
    assert set(values_schema.VALIDATION_CONDITIONS) <= set(source)
