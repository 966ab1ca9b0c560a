"""STAND-IN for prometheus-adapter (test tooling: prometheus-adapter cannot be had on the project's
machines; kind runs the real one). It serves `custom.metrics.k8s.io` v1beta1 and v1beta2 from a
prometheus-adapter config (the chart's own generated rules) and a real Prometheus.

Followed, at prometheus-adapter v0.12.0 (what the kind tier's prometheus-adapter chart 4.14.1 runs)
and custom-metrics-apiserver v1.30.0 (its go.mod):
- naming (pkg/naming/metric_namer.go `NamersFromConfig`, `MetricNameForSeries`, `FilterSeries`):
  `seriesFilters` is/isNot and `name.matches` keep series by name; `name.as` is expanded like Go's
  `Regexp.ExpandString` (`$1`, `${name}`, `$$`); without `as`, `$0` or the only group;
- resources (resource_converter.go): `resources.overrides` map labels to resources, normalised to
  the plural resource; a series is namespaced when it carries a resource other than namespaces,
  nodes or persistentvolumes (`resources.template` is not supported: the chart uses overrides);
- discovery (custom-provider/provider.go `updateMetrics`, series_registry.go `SetSeries`): every
  `relist_interval` the rules' seriesQuery goes to Prometheus' series API over the last
  `max_age` (default: the relist interval, as `--metrics-max-age`); one metric per resource of each
  matching series, listed as `<resource>/<metric>` (custom-metrics-apiserver resource_lister.go);
- values (provider.go `GetMetricBySelector`, `GetMetricByName`, `metricsFor`, `metricFor`;
  metrics_query.go `Build`): the objects of the request are listed with its label selector, the
  metricsQuery template gets `<<.Series>>`, `<<.LabelMatchers>>` (the metric label selector's
  matchers, then `namespace="<ns>"`, then `pod="<name>"` or `pod=~"<a|b>"`) and `<<.GroupBy>>`
  (the resource label); the query runs at now; results match objects by the resource label; NaN
  is 0; values are milli-quantities of the truncated value*1000; the timestamp is now and no
  window is given;
- errors (custom-metrics-apiserver provider/errors.go): 404 `the server could not find the metric
  <m> for <resource>` (no objects, metric unknown), `... for <resource> <name>`; a failed
  Prometheus query is a 500 `unable to fetch metrics`.

Not served: external.metrics.k8s.io (`externalRules`; the tests' HPA reads a Pods metric), the
namespace-specific path `namespaces/<ns>/metrics/<m>`, authentication and authorization (the real
server delegates them to the API server), protobuf and watch.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping

import requests

from ..quantity import canonical
from .aggregated import api_group, internal_error, not_found, rfc3339

GROUP = "custom.metrics.k8s.io"
VERSIONS = ["v1beta2", "v1beta1"]  # custom-metrics-apiserver prefers v1beta2

#: Resources the stand-in can list objects of: normalised resource -> (kind, namespaced). The
#: RESTMapper's singular and plural spellings both normalise to the plural.
RESOURCES = {"pods": ("Pod", True), "namespaces": ("Namespace", False)}
_SINGULAR = {"pod": "pods", "namespace": "namespaces"}
_ROOT_SCOPED = {"namespaces", "nodes", "persistentvolumes"}  # series_registry.go: "some metrics aren't counted as namespaced"


class UnsupportedRule(ValueError):
    """An adapter rule using something this stand-in does not implement."""


def normalise_resource(resource: str, group: str = "") -> str:
    if group or (resource not in RESOURCES and resource not in _SINGULAR):
        raise UnsupportedRule(f"resource {group + '/' if group else ''}{resource}: the stand-in maps pods and namespaces only")
    return _SINGULAR.get(resource, resource)


def go_expand(template: str, match: re.Match) -> str:
    """Go's `Regexp.ExpandString`: `$name`/`${name}` is a group by number or name (missing: empty),
    `$$` a dollar, a malformed `$` stays as it is."""
    out, i = [], 0
    while i < len(template):
        if template[i] != "$" or i + 1 >= len(template):
            out.append(template[i])
            i += 1
            continue
        if template[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        if template[i + 1] == "{":
            end = template.find("}", i + 2)
            name = template[i + 2:end] if end > 0 else ""
            rest = end + 1
        else:
            found = re.match(r"[A-Za-z0-9_]+", template[i + 1:])
            name = found.group(0) if found else ""
            rest = i + 1 + len(name)
        if not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
            out.append("$")
            i += 1
            continue
        if name.isdigit():
            number = int(name)
            out.append((match.group(number) or "") if number <= (match.re.groups or 0) else "")
        else:
            out.append((match.group(name) or "") if name in match.re.groupindex else "")
        i = rest
    return "".join(out)


def go_quote(value: str) -> str:
    """fmt's %q for the label values the adapter writes (printable ASCII: backslash and quote escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # =, ==, !=, in, notin, exists, !
    values: tuple[str, ...] = ()


def parse_label_selector(text: str) -> list[Requirement]:
    """labels.Parse for the forms a metric label selector takes; requirements sorted by key, as Parse returns them."""
    requirements = []
    for part in re.findall(r"(?:[^,(]|\([^)]*\))+", text or ""):
        part = part.strip()
        if not part:
            continue
        if found := re.fullmatch(r"(\S+?)\s+(in|notin)\s+\(([^)]*)\)", part):
            values = tuple(sorted({v.strip() for v in found[3].split(",") if v.strip()}))
            requirements.append(Requirement(found[1], found[2], values))
        elif found := re.fullmatch(r"(\S+?)\s*(==|!=|=)\s*(\S*)", part):
            requirements.append(Requirement(found[1], found[2], (found[3],)))
        elif found := re.fullmatch(r"!\s*(\S+)", part):
            requirements.append(Requirement(found[1], "!"))
        elif re.fullmatch(r"\S+", part):
            requirements.append(Requirement(part, "exists"))
        else:
            raise ValueError(f"unable to parse requirement {part!r} of label selector {text!r}")
    return sorted(requirements, key=lambda r: r.key)


def _matcher(requirement: Requirement) -> str:
    """metrics_query.go `selectMatcher` + `selectTargetValue` for one requirement."""
    values, op = requirement.values, requirement.operator
    if op in (">", "<", "gt", "lt"):
        raise ValueError("operator not supported by query builder")
    if op == "exists":
        return f"{requirement.key}!={go_quote('')}"
    if op == "!":
        return f"{requirement.key}={go_quote('')}"
    target = "|".join(values)
    if len(values) == 1:
        symbol = {"=": "=", "==": "=", "!=": "!=", "in": "=~", "notin": "!~"}[op]
    else:
        symbol = "=~" if op in ("=", "==", "in") else "!~"
    return f"{requirement.key}{symbol}{go_quote(target)}"


_TEMPLATE_FIELD = re.compile(r"<<-?\s*(.*?)\s*-?>>")
_TEMPLATE_FIELDS = (".Series", ".LabelMatchers", ".GroupBy")


@dataclass
class Namer:
    """One discovery rule: prometheus-adapter's metricNamer with its resourceConverter (overrides only)."""

    series_query: str
    metrics_query: str
    name_matches: re.Pattern
    name_as: str
    series_filters: list[tuple[re.Pattern, bool]]
    label_to_resource: dict[str, str]

    @classmethod
    def from_rule(cls, rule: Mapping, where: str) -> Namer:
        resources = rule.get("resources") or {}
        if resources.get("template"):
            raise UnsupportedRule(f"{where}.resources.template: the stand-in supports resources.overrides only")
        overrides = {label: normalise_resource(target.get("resource", ""), target.get("group", ""))
                     for label, target in (resources.get("overrides") or {}).items()}
        for field_ in _TEMPLATE_FIELD.findall(rule["metricsQuery"]):
            if field_ not in _TEMPLATE_FIELDS:
                raise UnsupportedRule(f"{where}.metricsQuery: template action <<{field_}>> not supported (only {', '.join(_TEMPLATE_FIELDS)})")
        filters = []
        for filter_ in rule.get("seriesFilters") or []:
            if bool(filter_.get("is")) == bool(filter_.get("isNot")):
                raise UnsupportedRule(f"{where}.seriesFilters: each filter needs exactly one of `is` and `isNot`")
            filters.append((re.compile(filter_.get("is") or filter_["isNot"]), bool(filter_.get("is"))))
        name = rule.get("name") or {}
        matches = re.compile(name.get("matches") or ".*")
        if name.get("matches"):
            filters.append((matches, True))
        name_as = name.get("as") or ""
        if not name_as:
            if matches.groups == 0:
                name_as = "$0"
            elif matches.groups == 1:
                name_as = "$1"
            else:
                raise UnsupportedRule(f"{where}.name: must specify an 'as' value for name matcher {matches.pattern!r}")
        return cls(rule["seriesQuery"], rule["metricsQuery"], matches, name_as, filters, overrides)

    def keeps(self, series_name: str) -> bool:
        return all(bool(pattern.search(series_name)) == positive for pattern, positive in self.series_filters)

    def metric_name(self, series_name: str) -> str:
        found = self.name_matches.search(series_name)
        if found is None:
            raise ValueError(f"series name {series_name!r} did not match expected pattern {self.name_matches.pattern!r}")
        return go_expand(self.name_as, found)

    def resources_for(self, labels: Iterable[str]) -> tuple[list[str], bool]:
        resources = [self.label_to_resource[label] for label in labels if label in self.label_to_resource]
        return resources, any(r not in _ROOT_SCOPED for r in resources)

    def label_for(self, resource: str) -> str:
        for label, target in self.label_to_resource.items():
            if target == resource:
                return label
        raise UnsupportedRule(f"no label for resource {resource} (no generic resource label form specified for this metric)")

    def query(self, series: str, resource: str, namespace: str, metric_selector: list[Requirement], names: list[str]) -> str:
        """metrics_query.go `Build`."""
        exprs = [_matcher(r) for r in metric_selector]
        if namespace:
            exprs.append(f"{self.label_for('namespaces')}={go_quote(namespace)}")
        label = self.label_for(resource)
        exprs.append(f"{label}{'=~' if len(names) > 1 else '='}{go_quote('|'.join(names))}")
        values = {".Series": series, ".LabelMatchers": ",".join(exprs), ".GroupBy": label}
        return _TEMPLATE_FIELD.sub(lambda found: values[found.group(1)], self.metrics_query)


@dataclass(frozen=True)
class MetricInfo:
    resource: str
    namespaced: bool
    metric: str


def rules_of(config: Mapping) -> list[Mapping]:
    """The custom rules of a prometheus-adapter config file (`rules`) or of its chart's values (`rules.custom`)."""
    rules = config.get("rules")
    if isinstance(rules, Mapping):
        return list(rules.get("custom") or [])
    return list(rules or [])


@dataclass
class PrometheusAdapterStandIn:
    """custom.metrics.k8s.io from `config` (prometheus-adapter's config file) and Prometheus at `prometheus_url`.
    `list_objects(resource, namespace, label_selector)` lists object names the way the adapter's
    dynamic client does (the real API server's pods/namespaces)."""

    config: Mapping
    prometheus_url: str
    list_objects: Callable[[str, str, str], list[str]]
    relist_interval: float = 60.0
    max_age: float | None = None
    namers: list[Namer] = field(init=False)
    registry: dict[MetricInfo, tuple[str, Namer]] = field(init=False, default_factory=dict)
    last_relist_error: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.namers = [Namer.from_rule(rule, f"rules[{i}]") for i, rule in enumerate(rules_of(self.config))]
        self._lock = threading.Lock()
        self._stop = threading.Event()

    # --- discovery ---
    def relist(self) -> None:
        """`updateMetrics` + `SetSeries`: the series each rule's seriesQuery matches over the last max_age."""
        start = time.time() - (self.max_age or self.relist_interval)
        by_query: dict[str, list[dict]] = {}
        for namer in self.namers:
            if namer.series_query not in by_query:
                answer = requests.get(f"{self.prometheus_url}/api/v1/series", params={"match[]": namer.series_query, "start": f"{start:.3f}"},
                                      timeout=30)
                body = answer.json()
                if body.get("status") != "success":
                    raise RuntimeError(f"unable to fetch metrics for query {namer.series_query!r}: {body.get('error')}")
                by_query[namer.series_query] = body["data"]
        registry: dict[MetricInfo, tuple[str, Namer]] = {}
        for namer in self.namers:
            for series in by_query[namer.series_query]:
                name = series["__name__"]
                if not namer.keeps(name):
                    continue
                resources, namespaced = namer.resources_for(label for label in series if label != "__name__")
                metric = namer.metric_name(name)
                for resource in resources:
                    registry[MetricInfo(resource, namespaced and resource not in _ROOT_SCOPED, metric)] = (name, namer)
        with self._lock:
            self.registry = registry

    def run(self) -> PrometheusAdapterStandIn:
        """Relist now and then every relist_interval in a thread (`RunUntil`), until `stop()`."""
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.relist()
                    self.last_relist_error = ""
                except Exception as error:  # noqa: BLE001 - like utilruntime.HandleError: logged, the next relist tries again
                    self.last_relist_error = str(error)
                self._stop.wait(self.relist_interval)

        threading.Thread(target=loop, name="adapter-standin-relist", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def metrics(self) -> list[MetricInfo]:
        with self._lock:
            return sorted(self.registry, key=lambda i: (i.resource, i.metric))

    def discovery(self, version: str) -> dict:
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{GROUP}/{version}", "resources": [
            {"name": f"{info.resource}/{info.metric}", "singularName": "", "namespaced": info.namespaced, "kind": "MetricValueList",
             "verbs": ["get"]} for info in self.metrics()]}

    # --- values ---
    def _query(self, info: MetricInfo, namespace: str, metric_selector: list[Requirement], names: list[str]) -> tuple[list[dict] | None, Namer]:
        with self._lock:
            found = self.registry.get(info)
        if found is None or not names:
            return None, found[1] if found else None
        series, namer = found
        answer = requests.get(f"{self.prometheus_url}/api/v1/query",
                              params={"query": namer.query(series, info.resource, namespace, metric_selector, names), "time": f"{time.time():.3f}"},
                              timeout=30)
        body = answer.json()
        if body.get("status") != "success" or body["data"]["resultType"] != "vector":
            raise PrometheusError(body.get("error") or f"expected a vector, got {body['data']['resultType']}")
        return body["data"]["result"], namer

    def values(self, version: str, resource: str, namespace: str, name: str, metric: str, label_selector: str,
               metric_label_selector: str) -> tuple[int, dict]:
        """The REST layer's List (reststorage.go): `name` "*" lists by label selector, anything else is one object."""
        try:
            resource = normalise_resource(resource)
        except UnsupportedRule:
            return not_found(f"the server could not find the metric {metric} for {resource}")
        info = MetricInfo(resource, bool(namespace), metric)
        requirements = parse_label_selector(metric_label_selector)
        try:
            names = self.list_objects(resource, namespace, label_selector) if name == "*" else [name]
        except Exception:  # noqa: BLE001 - provider.go: "don't leak implementation details to the user"
            return internal_error("unable to list matching resources")
        try:
            result, namer = self._query(info, namespace, requirements, names)
        except (PrometheusError, requests.RequestException, ValueError):
            return internal_error("unable to fetch metrics")
        if result is None:
            return not_found(f"the server could not find the metric {metric} for {resource}")
        by_name = {sample["metric"].get(namer.label_for(resource), ""): sample["value"][1] for sample in result}
        if name != "*":
            if name not in by_name:
                return not_found(f"the server could not find the metric {metric} for {resource} {name}")
            names = [name]
        now = rfc3339(datetime.now(timezone.utc))
        kind = RESOURCES[resource][0]
        items = [self._item(version, kind, namespace, object_name, metric, by_name[object_name], now, requirements)
                 for object_name in names if object_name in by_name]
        return 200, {"kind": "MetricValueList", "apiVersion": f"{GROUP}/{version}", "metadata": {}, "items": items}

    @staticmethod
    def _item(version: str, kind: str, namespace: str, name: str, metric: str, raw: str, now: str, selector: list[Requirement]) -> dict:
        value = float(raw)
        milli = 0 if math.isnan(value) else int(value * 1000.0)  # NewMilliQuantity(int64(value*1000.0))
        described = {"kind": kind, **({"namespace": namespace} if namespace else {}), "name": name, "apiVersion": "/v1"}
        label_selector = _label_selector_object(selector) if selector else None
        if version == "v1beta1":
            return {"describedObject": described, "metricName": metric, "timestamp": now, "value": canonical(Fraction(milli, 1000)),
                    "selector": label_selector}
        return {"describedObject": described, "metric": {"name": metric, **({"selector": label_selector} if label_selector else {})},
                "timestamp": now, "value": canonical(Fraction(milli, 1000))}

    # --- routing ---
    def route(self, segments: list[str], query: dict[str, str]) -> tuple[int, Any]:
        if segments == ["apis"]:
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [api_group(GROUP, VERSIONS)]}
        if segments == ["apis", GROUP]:
            return 200, api_group(GROUP, VERSIONS)
        if len(segments) < 3 or segments[:2] != ["apis", GROUP] or segments[2] not in VERSIONS:
            return not_found("the server could not find the requested resource")
        version, rest = segments[2], segments[3:]
        if not rest:
            return 200, self.discovery(version)
        selectors = query.get("labelSelector", ""), query.get("metricLabelSelector", "")
        if len(rest) == 5 and rest[0] == "namespaces" and rest[2] != "metrics":
            return self.values(version, rest[2], rest[1], rest[3], rest[4], *selectors)
        if len(rest) == 3:
            return self.values(version, rest[0], "", rest[1], rest[2], *selectors)
        return not_found("the server could not find the requested resource (the stand-in serves object metrics only)")


class PrometheusError(RuntimeError):
    """A Prometheus query that did not return a vector."""


def _label_selector_object(requirements: list[Requirement]) -> dict:
    """metav1.ParseToLabelSelector: equality requirements become matchLabels, the rest matchExpressions."""
    match_labels, expressions = {}, []
    for r in requirements:
        if r.operator in ("=", "=="):
            match_labels[r.key] = r.values[0]
        else:
            operator = {"!=": "NotIn", "in": "In", "notin": "NotIn", "exists": "Exists", "!": "DoesNotExist"}[r.operator]
            expressions.append({"key": r.key, "operator": operator, **({"values": list(r.values)} if r.values else {})})
    return {**({"matchLabels": match_labels} if match_labels else {}), **({"matchExpressions": expressions} if expressions else {})}
