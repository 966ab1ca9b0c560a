"""What the API server refuses that its OpenAPI schemas do not say (pkg/apis/core/validation and
friends): quantities and requests <= limits, toleration operators and effects, label syntax,
CIDRs, int-or-percent fields, duplicate ports and mount paths, object and host names.

The strict schemas (k8s_schema) check types and field names; these rules are the rest of what a
`kubectl apply` would be refused for, so check_values finds it before the cluster does."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Mapping, Sequence

from . import quantity
from .manifests import WORKLOAD_KINDS, of_kind, pod_spec, ref
from .problems import Problem

CHECK = "kubernetes-api"
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"(?=.{{1,253}}$){_DNS_LABEL}(\.{_DNS_LABEL})*")
_LABEL_VALUE = re.compile(rf"({_NAME})?")
_PERCENT = re.compile(r"(\d+)%")
_TOLERATION_OPERATORS = ("", "Equal", "Exists")
_TAINT_EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")


def _label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and not _DNS_SUBDOMAIN.fullmatch(prefix):
        return f"label key {key!r}: the prefix must be a lower-case DNS subdomain"
    if not re.fullmatch(_NAME, name):
        return f"label key {key!r}: the name must be at most 63 of [A-Za-z0-9_.-], starting and ending alphanumeric"
    return None


def _label_problems(doc: Mapping, labels: Mapping | None, field: str) -> list[Problem]:
    problems = []
    for key, value in (labels or {}).items():
        message = _label_key_problem(str(key))
        if message is None and not (isinstance(value, str) and _LABEL_VALUE.fullmatch(value)):
            message = f"label value {value!r} must be empty or at most 63 of [A-Za-z0-9_.-], starting and ending alphanumeric (no spaces, no @)"
        if message:
            problems.append(Problem(ref(doc), f"{field}.{key}", message, CHECK))
    return problems


def _resource_problems(doc: Mapping, resources: Mapping, field: str) -> list[Problem]:
    problems = []
    parsed: dict[str, dict] = {"requests": {}, "limits": {}}
    for kind in parsed:
        for name, value in (resources.get(kind) or {}).items():
            try:
                parsed[kind][name] = quantity.parse(value)
            except quantity.QuantityError as error:
                problems.append(Problem(ref(doc), f"{field}.{kind}.{name}", str(error), CHECK))
    for name, request in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is None:
            continue
        if request > limit:
            problems.append(Problem(ref(doc), f"{field}.requests.{name}", f"request {resources['requests'][name]} is above the limit {resources['limits'][name]} ({field}.limits.{name}); lower the request or raise the limit", CHECK))
        elif "/" in name and not name.startswith(("requests.", "limits.")) and request != limit:
            problems.append(Problem(ref(doc), f"{field}.requests.{name}", f"extended resource {name}: the request must equal the limit", CHECK))
    return problems


def _percent_problem(value, field_name: str, *, most: int | None = 100) -> str | None:
    if isinstance(value, bool) or value is None:
        return None if value is None else f"{field_name} {value!r} is neither an integer nor a percentage like 25%"
    if isinstance(value, int):
        return f"{field_name} {value} is negative" if value < 0 else None
    match = _PERCENT.fullmatch(str(value))
    if not match:
        return f"{field_name} {value!r} is neither an integer nor a percentage like 25%"
    if most is not None and int(match[1]) > most:
        return f"{field_name} {value} is above {most}%"
    return None


def _network(text) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR as the API server parses it (netutils.ParseCIDRSloppy): an address, `/`, a prefix length."""
    if "/" not in str(text):
        raise ValueError("no /prefix length")
    return ipaddress.ip_network(str(text), strict=False)


def _cidr_problems(doc: Mapping, block: Mapping, field: str) -> list[Problem]:
    try:
        network = _network(block.get("cidr"))
    except ValueError as error:
        return [Problem(ref(doc), f"{field}.cidr", f"{block.get('cidr')!r} is not a CIDR ({error}); e.g. 10.0.0.0/8", CHECK)]
    problems = []
    for index, excluded in enumerate(block.get("except") or []):
        try:
            sub = _network(excluded)
        except ValueError as error:
            problems.append(Problem(ref(doc), f"{field}.except[{index}]", f"{excluded!r} is not a CIDR ({error}); e.g. 169.254.169.254/32", CHECK))
            continue
        if sub.version != network.version or not sub.subnet_of(network) or sub == network:
            problems.append(Problem(ref(doc), f"{field}.except[{index}]", f"{excluded} is not a strict subset of {block.get('cidr')}", CHECK))
    return problems


def _name_problem(value, what: str) -> str | None:
    if isinstance(value, str) and _DNS_SUBDOMAIN.fullmatch(value):
        return None
    return f"{what} {value!r} must be a lower-case DNS-1123 subdomain (a-z, 0-9, '-', '.')"


def pod_spec_problems(doc: Mapping, spec: Mapping, base: str) -> list[Problem]:
    problems: list[Problem] = []
    for key in ("serviceAccountName", "priorityClassName"):
        if spec.get(key) and (message := _name_problem(spec[key], key)):
            problems.append(Problem(ref(doc), f"{base}.{key}", message, CHECK))
    for index, secret in enumerate(spec.get("imagePullSecrets") or []):
        if (message := _name_problem(secret.get("name"), "imagePullSecrets name")):
            problems.append(Problem(ref(doc), f"{base}.imagePullSecrets[{index}].name", message, CHECK))
    problems += _label_problems(doc, spec.get("nodeSelector"), f"{base}.nodeSelector")
    for index, toleration in enumerate(spec.get("tolerations") or []):
        field = f"{base}.tolerations[{index}]"
        operator, effect = toleration.get("operator", ""), toleration.get("effect", "")
        if operator not in _TOLERATION_OPERATORS:
            problems.append(Problem(ref(doc), f"{field}.operator", f"{operator!r} is not a toleration operator: use Equal or Exists", CHECK))
        elif operator == "Exists" and toleration.get("value"):
            problems.append(Problem(ref(doc), f"{field}.value", "must be empty when the operator is Exists", CHECK))
        if effect not in _TAINT_EFFECTS:
            problems.append(Problem(ref(doc), f"{field}.effect", f"{effect!r} is not a taint effect: use NoSchedule, PreferNoSchedule or NoExecute", CHECK))
        elif toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            problems.append(Problem(ref(doc), f"{field}.tolerationSeconds", "applies only to effect NoExecute", CHECK))
    volumes = spec.get("volumes") or []
    for index, volume in enumerate(volumes):
        size = (volume.get("emptyDir") or {}).get("sizeLimit")
        if size is not None:
            try:
                quantity.parse(size)
            except quantity.QuantityError as error:
                problems.append(Problem(ref(doc), f"{base}.volumes[{index}].emptyDir.sizeLimit", str(error), CHECK))
    for index, _, name in _duplicates(volumes, lambda volume: volume.get("name")):
        problems.append(Problem(ref(doc), f"{base}.volumes[{index}].name", f"volume name {name!r} is used twice", CHECK))
    for group in ("initContainers", "containers"):
        for c_index, container in enumerate(spec.get(group) or []):
            field = f"{base}.{group}[{c_index}]"
            problems += _resource_problems(doc, container.get("resources") or {}, f"{field}.resources")
            for index, first, path in _duplicates(container.get("volumeMounts") or [], lambda m: str(m.get("mountPath", "")).rstrip("/") or "/"):
                problems.append(Problem(ref(doc), f"{field}.volumeMounts[{index}].mountPath", f"{path} is also volumeMounts[{first}]'s mount path; every mount needs its own path", CHECK))
            for index, first, (port, protocol) in _duplicates(container.get("ports") or [], lambda p: (p.get("containerPort"), p.get("protocol", "TCP"))):
                problems.append(Problem(ref(doc), f"{field}.ports[{index}].containerPort", f"{port}/{protocol} is also ports[{first}]", CHECK))
    return problems


def _duplicates(items: Sequence[Mapping], key) -> list[tuple[int, int, Any]]:
    """(index, index of the first item with the same key, the key) for every repeat, in order."""
    first: dict[Any, int] = {}
    repeats = []
    for index, item in enumerate(items):
        value = key(item)
        if value in first:
            repeats.append((index, first[value], value))
        first.setdefault(value, index)
    return repeats


def api_problems(docs: Sequence[Mapping]) -> list[Problem]:
    """Every rule above, over every rendered object."""
    problems: list[Problem] = []
    for doc in docs:
        metadata = doc.get("metadata") or {}
        if metadata.get("name") is not None and (message := _name_problem(metadata["name"], "name")):
            problems.append(Problem(ref(doc), "metadata.name", message, CHECK))
        problems += _label_problems(doc, metadata.get("labels"), "metadata.labels")
        if doc.get("kind") in ("Pod", *WORKLOAD_KINDS) and (found := pod_spec(doc)):
            spec, pod_metadata, base = found
            if base != "spec":  # a bare Pod's labels are its metadata.labels, checked above
                problems += _label_problems(doc, pod_metadata.get("labels"), "spec.template.metadata.labels")
            problems += pod_spec_problems(doc, spec, base)
    for deployment in of_kind(docs, "Deployment"):
        rolling = ((deployment["spec"].get("strategy") or {}).get("rollingUpdate")) or {}
        for key, most in (("maxSurge", None), ("maxUnavailable", 100)):
            if (message := _percent_problem(rolling.get(key), key, most=most)):
                problems.append(Problem(ref(deployment), f"spec.strategy.rollingUpdate.{key}", message, CHECK))
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        for key in ("minAvailable", "maxUnavailable"):
            if (message := _percent_problem(pdb["spec"].get(key), key)):
                problems.append(Problem(ref(pdb), f"spec.{key}", message, CHECK))
    for service in of_kind(docs, "Service"):
        problems += _label_problems(service, service["spec"].get("selector"), "spec.selector")
        for index, first, (port, protocol) in _duplicates(service["spec"].get("ports") or [], lambda p: (p.get("port"), p.get("protocol", "TCP"))):
            problems.append(Problem(ref(service), f"spec.ports[{index}].port", f"{port}/{protocol} is also spec.ports[{first}]: two Service ports cannot share a number", CHECK))
    for policy in of_kind(docs, "NetworkPolicy"):
        for direction, peers in (("ingress", "from"), ("egress", "to")):
            for r_index, rule in enumerate(policy["spec"].get(direction) or []):
                for p_index, peer in enumerate(rule.get(peers) or []):
                    if "ipBlock" in peer:
                        problems += _cidr_problems(policy, peer["ipBlock"], f"spec.{direction}[{r_index}].{peers}[{p_index}].ipBlock")
    for claim in of_kind(docs, "PersistentVolumeClaim"):
        problems += _resource_problems(claim, claim["spec"].get("resources") or {}, "spec.resources")
    for ingress in of_kind(docs, "Ingress"):
        for index, rule in enumerate(ingress["spec"].get("rules") or []):
            host = rule.get("host")
            if host is not None and (message := _name_problem(host.removeprefix("*."), "host")):
                problems.append(Problem(ref(ingress), f"spec.rules[{index}].host", message + ", without a scheme or port", CHECK))
        for index, tls in enumerate(ingress["spec"].get("tls") or []):
            if tls.get("secretName") and (message := _name_problem(tls["secretName"], "secretName")):
                problems.append(Problem(ref(ingress), f"spec.tls[{index}].secretName", message, CHECK))
    return problems
