"""values.schema.json: hand-written rules and generated parts in one file, regenerated in place.

The file is the source of truth for types and rules: every key in it is hand-written except
three kinds, which `scripts/gen_values_schema.py` rewrites (and `--check` compares byte for byte):

- `definitions["io.k8s.*"]`: the Kubernetes definitions that the hand-written part `$ref`s,
  with everything they reference, copied from kubernetes-validate's `-local-strict` schemas for
  the oldest Kubernetes the chart supports (closed objects). Helm 3.17 (gojsonschema) and Helm 4
  (santhosh-tekuri/jsonschema) both follow draft-07 `#/definitions/` refs, so `$defs` refs are
  rewritten; descriptions, `format` and `x-kubernetes-*` are dropped (size; neither validator
  uses them); Quantity gets the Kubernetes quantity grammar and IntOrString accepts both forms;
  `RULES` adds what Kubernetes validates but its schema does not state (enums its own
  descriptions list, label keys and values, CIDRs).
- `definitions` named in `FORMATS`: value formats the hand-written part and the copies share.
- `definitions` named in `CRD_DEFINITIONS`: types of a custom resource the chart renders (e.g. the
  prometheus-operator RelabelConfig), copied closed from the vendored CRD (`crds/`) when the
  hand-written part `$ref`s them; descriptions, defaults and `x-kubernetes-*` are dropped.
- `description` and `default` of every value path values.yaml documents with a `# --` comment
  (parsed by `values_docs`, the README table's parser). `default` is only ever generated.

To pass a new value through to Kubernetes, write `"$ref": "#/definitions/io.k8s...."` in the
hand-written part and rerun the script: the closure is recomputed from the refs.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from . import crds, helm, k8s_schema, values_docs, yamlio

K8S_PREFIX = "io.k8s."
QUANTITY_NAME = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING_NAME = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

#: The Kubernetes quantity grammar (`2Gi`, `500m`, `1e3`; `2GB` is refused), as apimachinery
#: publishes it for CRDs (e.g. KEDA's ScaledObject behavior copy in crds/).
QUANTITY = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
#: A label key: optional DNS-1123 subdomain prefix and `/`, then a name of at most 63 characters.
LABEL_KEY = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"


def _ipv6() -> str:
    h = "[0-9a-fA-F]{1,4}"
    forms = [f"({h}:){{7}}{h}", f"({h}:){{1,7}}:", f"({h}:){{1,6}}:{h}"]
    forms += [f"({h}:){{1,{5 - n}}}(:{h}){{1,{n + 2}}}" for n in range(4)]
    forms += [f"{h}:(:{h}){{1,6}}", f":((:{h}){{1,7}}|:)"]
    return "(" + "|".join(forms) + ")"


_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
CIDR = rf"^(({_OCTET}\.){{3}}{_OCTET}/([0-9]|[12][0-9]|3[0-2])|{_ipv6()}/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))$"

FORMATS: dict[str, dict] = {
    "cidr": {"description": "An IPv4 or IPv6 CIDR, e.g. 10.0.0.0/8 or fd00::/8.", "type": "string", "pattern": CIDR},
    "labelValue": {
        "description": "A label value: at most 63 characters, alphanumerics and -_. inside.",
        "type": "string", "maxLength": 63, "pattern": LABEL_VALUE,
    },
}

_LABEL_MAP = {"patternProperties": {LABEL_KEY: {"$ref": "#/definitions/labelValue"}}, "additionalProperties": False}
_NULLABLE_CIDRS = {"type": ["array", "null"], "items": {"$ref": "#/definitions/cidr"}}

#: Rules Kubernetes enforces beyond its published schema, merged into the copies' properties.
#: Every enum value is named in that field's own description (tests/unit/test_values_schema_gen.py).
RULES: dict[str, dict[str, dict]] = {
    "io.k8s.api.core.v1.Toleration": {
        "operator": {"enum": ["Exists", "Equal", "", None]},
        "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute", "", None]},
    },
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector": {"matchLabels": _LABEL_MAP},
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement": {
        "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
    },
    "io.k8s.api.core.v1.NodeSelectorRequirement": {"operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]}},
    "io.k8s.api.core.v1.SeccompProfile": {"type": {"enum": ["Localhost", "RuntimeDefault", "Unconfined"]}},
    "io.k8s.api.core.v1.PodSecurityContext": {"fsGroupChangePolicy": {"enum": ["OnRootMismatch", "Always", None]}},
    "io.k8s.api.networking.v1.IPBlock": {"cidr": {"$ref": "#/definitions/cidr"}, "except": _NULLABLE_CIDRS},
    "io.k8s.api.networking.v1.NetworkPolicyPort": {"protocol": {"enum": ["TCP", "UDP", "SCTP", None]}},
    "io.k8s.api.autoscaling.v2.MetricSpec": {"type": {"enum": ["ContainerResource", "External", "Object", "Pods", "Resource"]}},
    "io.k8s.api.autoscaling.v2.MetricTarget": {"type": {"enum": ["Utilization", "Value", "AverageValue"]}},
}

#: Replacements for whole definitions. The published ones are `oneOf` string/number with null
#: allowed in both branches, so a null matched twice and failed; one `type` list keeps the error
#: a plain `type`/`pattern` one at the value's path.
_REPLACED = {
    QUANTITY_NAME: {"type": ["string", "number", "null"], "pattern": QUANTITY},
    INT_OR_STRING_NAME: {"type": ["string", "integer", "null"]},
}

#: Definitions copied from a vendored CRD's openAPIV3Schema: name -> (apiVersion, kind, path),
#: the path through `properties` (a name) and array `items` (`[]`). PodMonitor's relabelings have
#: the same type as the ServiceMonitor's (tests/unit/test_values_schema_generated.py checks it).
CRD_DEFINITIONS: dict[str, tuple[str, str, str]] = {
    "com.coreos.monitoring.v1.RelabelConfig": ("monitoring.coreos.com/v1", "ServiceMonitor", "spec.endpoints[].relabelings[]"),
}

_DROPPED = ("description", "format")
_REF = re.compile(r"^#/(?:\$defs|definitions)/(?P<name>.+)$")


class SchemaDriftError(ValueError):
    """values.yaml and values.schema.json disagree in a way the generator cannot fix by itself."""


def _is_generated(name: str) -> bool:
    return name.startswith(K8S_PREFIX) or name in FORMATS or name in CRD_DEFINITIONS


def crd_node(api_version: str, kind: str, path: str) -> dict:
    """The closed schema node at `path` (`spec.endpoints[].relabelings[]`) of a vendored CRD."""
    node = crds.closed_schema(api_version, kind)
    for step in path.split("."):
        name = step.removesuffix("[]")
        node = node["properties"][name]
        if step.endswith("[]"):
            node = node["items"]
    return node


def _copy(node: Any) -> Any:
    """A Kubernetes schema node as the chart's schema holds it (see the module docstring)."""
    if isinstance(node, list):
        return [_copy(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {}
    for key, value in node.items():
        if key in _DROPPED or key.startswith("x-kubernetes-"):
            continue
        if key == "$ref":
            result[key] = "#/definitions/" + _REF.match(value)["name"]
        elif key in ("properties", "patternProperties"):
            result[key] = {name: _copy(sub) for name, sub in value.items()}
        else:
            result[key] = _copy(value)
    return result


def _refs(node: Any) -> set[str]:
    """Definition names a schema node refers to, at any depth."""
    if isinstance(node, list):
        return set().union(*map(_refs, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = set().union(*map(_refs, node.values())) if node else set()
    ref = node.get("$ref")
    if isinstance(ref, str) and _REF.match(ref):
        found.add(_REF.match(ref)["name"])
    return found


def kubernetes_definitions(schema: dict, kube_version: str = helm.OLDEST_KUBE_VERSION) -> dict[str, dict]:
    """The closure of the `io.k8s.*` definitions the hand-written part of `schema` refers to."""
    source = k8s_schema.definitions(kube_version)
    hand = {key: value for key, value in schema.items() if key != "definitions"}
    hand["definitions"] = {name: value for name, value in schema.get("definitions", {}).items() if not _is_generated(name)}
    pending = sorted(name for name in _refs(hand) if name.startswith(K8S_PREFIX))
    copied: dict[str, dict] = {}
    while pending:
        name = pending.pop()
        if name in copied:
            continue
        if name not in source:
            raise SchemaDriftError(f"values.schema.json refers to #/definitions/{name}, which Kubernetes {kube_version} does not define")
        definition = copy.deepcopy(_REPLACED.get(name)) or _copy(source[name])
        for prop, rule in RULES.get(name, {}).items():
            if prop not in definition.get("properties", {}):
                raise SchemaDriftError(f"RULES: {name} has no property {prop!r} in Kubernetes {kube_version}")
            # draft-07 ignores a $ref's siblings: a rule that is a $ref replaces the property.
            definition["properties"][prop] = dict(rule) if "$ref" in rule else {**definition["properties"][prop], **rule}
        copied[name] = definition
        pending.extend(sorted(ref for ref in _refs(definition) if ref.startswith(K8S_PREFIX) and ref not in copied))
    return dict(sorted(copied.items()))


def crd_definitions(schema: dict) -> dict[str, dict]:
    """The `CRD_DEFINITIONS` the hand-written part of `schema` refers to, copied closed."""
    hand = {key: value for key, value in schema.items() if key != "definitions"}
    hand["definitions"] = {name: value for name, value in schema.get("definitions", {}).items() if not _is_generated(name)}
    copied = {}
    for name in sorted(_refs(hand) & set(CRD_DEFINITIONS)):
        definition = _copy(crd_node(*CRD_DEFINITIONS[name]))
        _strip_defaults(definition)
        copied[name] = definition
    return copied


def _lookup(schema: dict, node: dict, key: str) -> list[dict]:
    """The schema nodes of property `key` under `node`, through local refs and allOf/anyOf/oneOf."""
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = _REF.match(ref)["name"]
        if _is_generated(name):
            raise SchemaDriftError(f"values.yaml documents {key!r} inside the generated definition {name}: document the value that refers to it as a whole")
        node = schema["definitions"][name]
    found = [node["properties"][key]] if key in node.get("properties", {}) else []
    for combinator in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(combinator, []):
            found += _lookup(schema, branch, key)
    return found


def _strip_defaults(node: Any) -> None:
    """Remove every `default` (they are all generated); properties named `default` stay."""
    if isinstance(node, list):
        for item in node:
            _strip_defaults(item)
    elif isinstance(node, dict):
        node.pop("default", None)
        for key, value in node.items():
            if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
                for sub in value.values():
                    _strip_defaults(sub)
            else:
                _strip_defaults(value)


def generate(schema: dict, values_path: Path, kube_version: str = helm.OLDEST_KUBE_VERSION) -> dict:
    """`schema` with its generated parts rebuilt from values.yaml and the Kubernetes schemas."""
    result = copy.deepcopy(schema)
    parameters, _ = values_docs.parse(values_path)
    values = yamlio.load(values_path.read_text()) or {}
    _strip_defaults(result)
    annotated: dict[int, str] = {}
    for parameter in parameters:
        path = parameter.key.split(".")
        nodes = [result]
        for key in path:
            nodes = [child for node in nodes for child in _lookup(result, node, key)]
        if not nodes:
            raise SchemaDriftError(f"values.yaml documents {parameter.key}, which values.schema.json does not have: add it there")
        value = values
        for key in path:
            value = value[key]
        for node in nodes:
            if annotated.get(id(node), parameter.key) != parameter.key:
                raise SchemaDriftError(f"{parameter.key} and {annotated[id(node)]} share one schema node; give one of them its own")
            annotated[id(node)] = parameter.key
            node["description"] = parameter.description
            node["default"] = value
    hand = {name: value for name, value in result.get("definitions", {}).items() if not _is_generated(name)}
    result["definitions"] = {**hand, **copy.deepcopy(FORMATS), **crd_definitions(result), **kubernetes_definitions(result, kube_version)}
    return result


def dumps(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
