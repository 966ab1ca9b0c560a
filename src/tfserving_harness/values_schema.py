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

_SUFFIX = r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?"
NON_NEGATIVE_QUANTITY = rf"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+)){_SUFFIX}$"
#: A mantissa with a non-zero digit: `0`, `0.0` and `0m` are not positive.
POSITIVE_QUANTITY = rf"^\+?(([0-9]*[1-9][0-9]*(\.[0-9]*)?)|([0-9]*\.[0-9]*[1-9][0-9]*)){_SUFFIX}$"
#: Whole units: digits with an optional decimal or binary multiplier (`2`, `1k`); no fraction, no milli.
WHOLE_QUANTITY = r"^\+?[0-9]+(([KMGTPE]i)|[kMGTPE])?$"
#: A ConfigMap or Secret key (IsConfigMapKey): `[-._a-zA-Z0-9]`, not `.`, `..` or starting with `..`.
CONFIG_MAP_KEY = r"^\.?[-_a-zA-Z0-9][-._a-zA-Z0-9]*$"
#: A DNS-1123 subdomain (Secret and ConfigMap names), non-empty.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#: An IANA service name (IsValidPortName): lower-case alphanumerics and single inner dashes, a letter somewhere.
PORT_NAME = r"^([a-z0-9]+-)*[0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*$"
#: A path segment name (IsValidPathSegmentName): not `.` or `..`, no `/` or `%`.
PATH_SEGMENT = r"^([^/%.][^/%]*|\.[^/%.][^/%]*|\.\.[^/%]+)$"
#: A label key that must have a DNS prefix (an extended resource name such as nvidia.com/gpu).
_PREFIXED_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"

def _absolute_path(char: str) -> str:
    """An absolute path whose segments are made of `char` and dots, with no empty inner segment
    (`//`) and no `.` or `..` segment (`/./`, `/../`, a trailing `/.` or `/..`)."""
    any_char = rf"({char}|\.)"
    segment = rf"({char}{any_char}*|\.{char}{any_char}*|\.\.{any_char}+)"
    return rf"^/({segment}(/{segment})*/?)?$"


#: A percent escape other than `%2f`/`%2F` (an encoded slash), which routes and Ingress paths refuse.
_PCT = r"%([013-9a-fA-F][0-9a-fA-F]|2[0-9a-eA-E])"
#: An HTTPRoute Exact/PathPrefix path value: the CRD's CEL rules (v1.6.1) as one pattern; its
#: characters are RFC 3986 pchars (no `#`).
ROUTE_PATH = _absolute_path(rf"([-A-Za-z0-9_~!$&'()*+,;=:@]|{_PCT})")
#: An Ingress Prefix/Exact path (validateHTTPIngressPath: invalidPathSequences and invalidPathSuffixes),
#: without spaces or double quotes (the chart's own rule); a `%` starts a two-digit escape.
INGRESS_PATH = _absolute_path(rf"([^/\s\"%.]|{_PCT})")
#: A relative path without a `..` segment (validateLocalDescendingPath).
_SEGMENT = r"([^/.][^/]*|\.([^/.][^/]*)?|\.\.[^/]+)"
LOCAL_DESCENDING_PATH = rf"^{_SEGMENT}(/{_SEGMENT}?)*$"

FORMATS: dict[str, dict] = {
    "cidr": {"description": "An IPv4 or IPv6 CIDR, e.g. 10.0.0.0/8 or fd00::/8.", "type": "string", "pattern": CIDR},
    "labelValue": {
        "description": "A label value: at most 63 characters, alphanumerics and -_. inside.",
        "type": "string", "maxLength": 63, "pattern": LABEL_VALUE,
    },
    # Quantities the API server restricts further than its schema's "Quantity" says.
    "nonNegativeQuantity": {
        "description": "A quantity of at least 0 (a container's requests and limits: ValidateResourceQuantityValue).",
        "type": ["string", "number", "null"], "pattern": NON_NEGATIVE_QUANTITY, "minimum": 0,
    },
    "positiveQuantity": {
        "description": "A quantity above 0 (an HPA target's value and averageValue: validateMetricTarget).",
        "type": ["string", "number", "null"], "pattern": POSITIVE_QUANTITY, "exclusiveMinimum": 0,
    },
    "wholeQuantity": {
        "description": "A whole number of units (an extended resource such as nvidia.com/gpu: ValidateResourceQuantityValue).",
        "type": ["string", "integer", "null"], "pattern": WHOLE_QUANTITY, "minimum": 0,
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

_MAX_ID = 2147483647  # validation.IsValidUserID / IsValidGroupID: 0 .. math.MaxInt32
_ID = {"minimum": 0, "maximum": _MAX_ID}
_CONTAINER_RESOURCE_NAME = rf"^(cpu|memory|ephemeral-storage|hugepages-.+)$|{_PREFIXED_NAME}"
#: A container's requests or limits (validateContainerResourceName, ValidateResourceQuantityValue):
#: cpu, memory, ephemeral-storage and hugepages-* at 0 or more; other names are extended resources,
#: which need a DNS prefix (`nvidia.com/gpu`, not `gpu`) and whole units.
_RESOURCE_LIST = {
    "type": ["object", "null"],
    "patternProperties": {
        "^(cpu|memory|ephemeral-storage|hugepages-.+)$": {"$ref": "#/definitions/nonNegativeQuantity"},
        _PREFIXED_NAME: {"$ref": "#/definitions/wholeQuantity"},
    },
    "additionalProperties": False,
}
_LABEL_NAME = {"pattern": LABEL_KEY}


def _when(prop: str, values: list, then: dict) -> dict:
    """A condition: when `prop` is one of `values`, `then` must hold."""
    return {"if": {"required": [prop], "properties": {prop: {"enum": values}}}, "then": then}


def _set(prop: str, kind: str) -> dict:
    """`prop` is present and not null."""
    return {"required": [prop], "properties": {prop: {"type": kind}}}


_ABSENT = {"not": {}}
_ESCALATION_ALLOWED = {"properties": {"allowPrivilegeEscalation": {"not": {"const": False}}}}
#: Which source each metric type reads (validateMetricSpec: "must populate the given metric source only").
_METRIC_SOURCES = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods", "Object": "object", "External": "external"}

#: What the API server's validation code refuses (pkg/apis/{core,autoscaling,networking}/validation/
#: validation.go and apimachinery's pkg/apis/meta/v1/validation, 1.29 to the newest release) where the
#: published schema says only "string" or "integer" and the description does not list the values.
#: Merged into the copies' properties like RULES; the function named in each comment is the source.
VALIDATION_RULES: dict[str, dict[str, dict]] = {
    # ValidateTolerations: the key is a label name; an Equal value a label value (conditions below).
    "io.k8s.api.core.v1.Toleration": {"key": {"pattern": rf"^$|{LABEL_KEY}"}},
    # ValidateNodeSelectorRequirement / ValidateLabelSelectorRequirement: keys are label names.
    "io.k8s.api.core.v1.NodeSelectorRequirement": {"key": _LABEL_NAME},
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement": {
        "key": _LABEL_NAME, "values": {"items": {"$ref": "#/definitions/labelValue"}},
    },
    # ValidateNodeSelector: "must have at least one node selector term".
    "io.k8s.api.core.v1.NodeSelector": {"nodeSelectorTerms": {"minItems": 1}},
    # ValidatePreferredSchedulingTerms, validateWeightedPodAffinityTerms: "must be in the range 1-100".
    "io.k8s.api.core.v1.PreferredSchedulingTerm": {"weight": {"minimum": 1, "maximum": 100}},
    "io.k8s.api.core.v1.WeightedPodAffinityTerm": {"weight": {"minimum": 1, "maximum": 100}},
    # validatePodAffinityTerm: topologyKey a non-empty label name, namespaces DNS labels.
    "io.k8s.api.core.v1.PodAffinityTerm": {
        "topologyKey": _LABEL_NAME, "namespaces": {"items": {"maxLength": 63, "pattern": DNS_LABEL}},
    },
    # validateTopologySpreadConstraints: ValidateMaxSkew, ValidateTopologyKey, ValidateWhenUnsatisfiable,
    # validateMinDomains, validateNodeInclusionPolicy, validateMatchLabelKeys.
    "io.k8s.api.core.v1.TopologySpreadConstraint": {
        "maxSkew": {"minimum": 1},
        "topologyKey": {"minLength": 1},
        "whenUnsatisfiable": {"enum": ["DoNotSchedule", "ScheduleAnyway"]},
        "minDomains": {"minimum": 1},
        "nodeAffinityPolicy": {"enum": ["Honor", "Ignore", None]},
        "nodeTaintsPolicy": {"enum": ["Honor", "Ignore", None]},
        "matchLabelKeys": {"items": _LABEL_NAME},
    },
    # ValidateSecurityContext: IsValidUserID / IsValidGroupID; ValidateProcMountType allows Default and
    # Unmasked, and Unmasked needs `hostUsers: false`, which the chart never sets.
    "io.k8s.api.core.v1.SecurityContext": {"runAsUser": _ID, "runAsGroup": _ID, "procMount": {"enum": ["Default", None]}},
    # validatePodSpecSecurityContext: the same IDs for the pod, fsGroup and supplementalGroups.
    "io.k8s.api.core.v1.PodSecurityContext": {
        "runAsUser": _ID, "runAsGroup": _ID, "fsGroup": _ID, "supplementalGroups": {"items": _ID},
    },
    # validateSysctls: IsValidSysctlName.
    "io.k8s.api.core.v1.Sysctl": {
        "name": {"maxLength": 253, "pattern": r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"},
    },
    # validateSeccompProfileField: a Localhost profile is a relative path without `..`.
    "io.k8s.api.core.v1.SeccompProfile": {"localhostProfile": {"pattern": LOCAL_DESCENDING_PATH}},
    # validateWindowsSecurityContextOptions / validateHostProcess: hostProcess needs hostNetwork,
    # which the chart never sets ("hostNetwork must be true if pod contains any hostProcess containers").
    "io.k8s.api.core.v1.WindowsSecurityContextOptions": {"hostProcess": {"enum": [False, None]}},
    # ValidateResourceRequirements; validateResourceClaimNames: a claim must name one of the pod's
    # resourceClaims, and the chart's pods have none.
    "io.k8s.api.core.v1.ResourceRequirements": {"limits": _RESOURCE_LIST, "requests": _RESOURCE_LIST, "claims": {"maxItems": 0}},
    # ValidateEnv: IsEnvVarName (1.29; RelaxedEnvironmentVariableValidation widens it only from 1.30).
    "io.k8s.api.core.v1.EnvVar": {"name": {"pattern": r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"}},
    # validateObjectFieldSelector with validEnvDownwardAPIFieldPathExpressions; apiVersion v1 only
    # (ConvertDownwardAPIFieldLabel).
    "io.k8s.api.core.v1.ObjectFieldSelector": {
        "apiVersion": {"enum": ["v1", None]},
        "fieldPath": {"pattern": r"^(metadata\.(name|namespace|uid)|spec\.(nodeName|serviceAccountName)|status\.(hostIPs?|podIPs?)|metadata\.(labels|annotations)\['[^']+'\])$"},
    },
    # validateContainerResourceFieldSelector: validContainerResourceFieldPathExpressions and the
    # hugepages prefixes.
    "io.k8s.api.core.v1.ResourceFieldSelector": {
        "resource": {"pattern": r"^(limits|requests)\.(cpu|memory|ephemeral-storage|hugepages-.+)$"},
    },
    # validateConfigMapKeySelector / validateSecretKeySelector: the name a DNS subdomain, the key
    # IsConfigMapKey (no `.`, `..` or leading `..`).
    "io.k8s.api.core.v1.ConfigMapKeySelector": {
        "name": {"maxLength": 253, "pattern": DNS_SUBDOMAIN}, "key": {"maxLength": 253, "pattern": CONFIG_MAP_KEY},
    },
    "io.k8s.api.core.v1.SecretKeySelector": {
        "name": {"maxLength": 253, "pattern": DNS_SUBDOMAIN}, "key": {"maxLength": 253, "pattern": CONFIG_MAP_KEY},
    },
    # ValidateNetworkPolicyPort: a port number (IsValidPortNum) or name (IsValidPortName); endPort a
    # port number (and no smaller than port: _validate_network.tpl).
    "io.k8s.api.networking.v1.NetworkPolicyPort": {
        "port": {"type": ["string", "integer", "null"], "minimum": 1, "maximum": 65535, "maxLength": 15, "pattern": PORT_NAME},
        "endPort": {"minimum": 1, "maximum": 65535},
    },
    # validateScalingPolicy: validPolicyTypes, "must be greater than zero", MaxPeriodSeconds.
    "io.k8s.api.autoscaling.v2.HPAScalingPolicy": {
        "type": {"enum": ["Pods", "Percent"]}, "value": {"minimum": 1}, "periodSeconds": {"minimum": 1, "maximum": 1800},
    },
    # validateScalingRules: validSelectPolicyTypes, MaxStabilizationWindowSeconds, "must specify at
    # least one Policy" (an explicit empty list is not defaulted).
    "io.k8s.api.autoscaling.v2.HPAScalingRules": {
        "selectPolicy": {"enum": ["Max", "Min", "Disabled", None]},
        "stabilizationWindowSeconds": {"minimum": 0, "maximum": 3600},
        "policies": {"minItems": 1},
    },
    # validateMetricTarget: value and averageValue "must be positive", averageUtilization "must be
    # greater than 0".
    "io.k8s.api.autoscaling.v2.MetricTarget": {
        "value": {"$ref": "#/definitions/positiveQuantity"},
        "averageValue": {"$ref": "#/definitions/positiveQuantity"},
        "averageUtilization": {"minimum": 1},
    },
    # validateMetricIdentifier, ValidateCrossVersionObjectReference: IsValidPathSegmentName.
    "io.k8s.api.autoscaling.v2.MetricIdentifier": {"name": {"pattern": PATH_SEGMENT}},
    "io.k8s.api.autoscaling.v2.CrossVersionObjectReference": {"kind": {"pattern": PATH_SEGMENT}, "name": {"pattern": PATH_SEGMENT}},
    # validateContainerResourceSource: the container a DNS label, the name a container resource.
    "io.k8s.api.autoscaling.v2.ContainerResourceMetricSource": {
        "container": {"maxLength": 63, "pattern": DNS_LABEL}, "name": {"pattern": _CONTAINER_RESOURCE_NAME},
    },
}

#: Rules between the fields of one object, from the same functions, added to the copy as `allOf`.
VALIDATION_CONDITIONS: dict[str, list[dict]] = {
    "io.k8s.api.core.v1.Toleration": [
        # "operator must be Exists when `key` is empty, which means \"match all values and all keys\""
        {"if": {"not": {"required": ["key"], "properties": {"key": {"type": "string", "minLength": 1}}}},
         "then": {"required": ["operator"], "properties": {"operator": {"const": "Exists"}}}},
        # "effect must be 'NoExecute' when `tolerationSeconds` is set"
        {"if": _set("tolerationSeconds", "integer"), "then": {"required": ["effect"], "properties": {"effect": {"const": "NoExecute"}}}},
        # "value must be empty when `operator` is 'Exists'"; otherwise IsValidLabelValue.
        _when("operator", ["Exists"], {"properties": {"value": {"maxLength": 0}}}),
        {"properties": {"value": {"maxLength": 63, "pattern": LABEL_VALUE}}},
    ],
    "io.k8s.api.core.v1.NodeSelectorRequirement": [
        _when("operator", ["In", "NotIn"], {"required": ["values"], "properties": {"values": {"minItems": 1}}}),
        _when("operator", ["Exists", "DoesNotExist"], {"properties": {"values": {"maxItems": 0}}}),
        # One value, an integer: labels.NewRequirement refuses anything else for Gt/Lt, and the
        # scheduler then never matches the term (the pods stay Pending).
        _when("operator", ["Gt", "Lt"], {"required": ["values"], "properties": {"values": {"minItems": 1, "maxItems": 1, "items": {"pattern": r"^[-+]?[0-9]+$"}}}}),
    ],
    "io.k8s.api.core.v1.NodeSelectorTerm": [
        # The scheduler builds label selectors from matchExpressions: In/NotIn values are label values.
        {"properties": {"matchExpressions": {"items": {"properties": {"values": {"items": {"$ref": "#/definitions/labelValue"}}}}}}},
        # ValidateNodeFieldSelectorRequirement: only metadata.name, In or NotIn, exactly one node name.
        {"properties": {"matchFields": {"items": {
            "required": ["values"],
            "properties": {"key": {"const": "metadata.name"}, "operator": {"enum": ["In", "NotIn"]},
                           "values": {"minItems": 1, "maxItems": 1, "items": {"maxLength": 253, "pattern": DNS_SUBDOMAIN}}},
        }}}},
    ],
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement": [
        _when("operator", ["In", "NotIn"], {"required": ["values"], "properties": {"values": {"minItems": 1}}}),
        _when("operator", ["Exists", "DoesNotExist"], {"properties": {"values": {"maxItems": 0}}}),
    ],
    "io.k8s.api.core.v1.TopologySpreadConstraint": [
        # "can only use minDomains if whenUnsatisfiable=DoNotSchedule"
        {"if": _set("minDomains", "integer"), "then": {"properties": {"whenUnsatisfiable": {"const": "DoNotSchedule"}}}},
    ],
    "io.k8s.api.core.v1.SecurityContext": [
        # "cannot set `allowPrivilegeEscalation` to false and `privileged` to true" (and CAP_SYS_ADMIN)
        _when("privileged", [True], _ESCALATION_ALLOWED),
        {"if": {"required": ["capabilities"], "properties": {"capabilities": {"required": ["add"], "properties": {"add": {"type": "array", "contains": {"const": "CAP_SYS_ADMIN"}}}}}},
         "then": _ESCALATION_ALLOWED},
    ],
    "io.k8s.api.core.v1.SeccompProfile": [
        # "must be set when seccomp type is Localhost" / "can only be set when seccomp type is Localhost"
        _when("type", ["Localhost"], _set("localhostProfile", "string")),
        {"if": {"not": {"properties": {"type": {"const": "Localhost"}}}}, "then": {"properties": {"localhostProfile": {"type": "null"}}}},
    ],
    "io.k8s.api.core.v1.EnvVar": [
        # validateEnvVarValueFrom: "may not be specified when `value` is not empty"
        {"if": {"required": ["value", "valueFrom"], "properties": {"value": {"type": "string", "minLength": 1}, "valueFrom": {"type": "object"}}},
         "then": {"properties": {"valueFrom": _ABSENT}}},
    ],
    # validateEnvVarValueFrom: "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`
    # or `secretKeyRef`" and "may not have more than one field specified at a time".
    "io.k8s.api.core.v1.EnvVarSource": [{"minProperties": 1, "maxProperties": 1}],
    # The selectors' name is checked even when empty (ValidateSecretName("") fails).
    "io.k8s.api.core.v1.ConfigMapKeySelector": [{"required": ["name"]}],
    "io.k8s.api.core.v1.SecretKeySelector": [{"required": ["name"]}],
    "io.k8s.api.networking.v1.NetworkPolicyPeer": [
        # ValidateNetworkPolicyPeer: "must specify a peer", "may not specify both ipBlock and another peer"
        {"anyOf": [{"required": ["podSelector"]}, {"required": ["namespaceSelector"]}, {"required": ["ipBlock"]}]},
        {"if": {"required": ["ipBlock"]}, "then": {"properties": {"podSelector": _ABSENT, "namespaceSelector": _ABSENT}}},
    ],
    "io.k8s.api.networking.v1.NetworkPolicyPort": [
        # "must be specified when endPort is specified", "may not be specified when `port` is non-numeric"
        {"if": _set("endPort", "integer"), "then": {"required": ["port"], "properties": {"port": {"type": "integer"}}}},
    ],
    "io.k8s.api.autoscaling.v2.MetricSpec": [
        # validateMetricSpec: the type's source is required, and no other.
        {"if": {"required": ["type"], "properties": {"type": {"const": kind}}},
         "then": {"required": [field], "properties": {other: _ABSENT for other in _METRIC_SOURCES.values() if other != field}}}
        for kind, field in _METRIC_SOURCES.items()
    ],
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
    # gatewayApi.parentRefs and the hostnames go into both routes as they are: the CRD's own patterns
    # hold even when the render does not see the CRD (GRPCRoute's types are the same, a test checks).
    "gateway.networking.k8s.io.v1.ParentReference": ("gateway.networking.k8s.io/v1", "HTTPRoute", "spec.parentRefs[]"),
    "gateway.networking.k8s.io.v1.Hostname": ("gateway.networking.k8s.io/v1", "HTTPRoute", "spec.hostnames[]"),
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
        for rules_name, rules in (("RULES", RULES), ("VALIDATION_RULES", VALIDATION_RULES)):
            for prop, rule in rules.get(name, {}).items():
                if prop not in definition.get("properties", {}):
                    raise SchemaDriftError(f"{rules_name}: {name} has no property {prop!r} in Kubernetes {kube_version}")
                current = definition["properties"][prop]
                # draft-07 ignores a $ref's siblings: a rule that is (or meets) a $ref replaces the property.
                definition["properties"][prop] = copy.deepcopy(rule) if "$ref" in rule or "$ref" in current else _merged(current, rule)
        if name in VALIDATION_CONDITIONS:
            definition["allOf"] = copy.deepcopy(VALIDATION_CONDITIONS[name])
        copied[name] = definition
        pending.extend(sorted(ref for ref in _refs(definition) if ref.startswith(K8S_PREFIX) and ref not in copied))
    return dict(sorted(copied.items()))


def _merged(node: dict, rule: dict) -> dict:
    """`node` with `rule`'s keywords; `items` merge one level down (a rule on an array's items)."""
    merged = {**node, **copy.deepcopy(rule)}
    if "items" in rule and "items" in node and "$ref" not in node["items"]:
        merged["items"] = {**node["items"], **copy.deepcopy(rule["items"])}
    return merged


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
