"""PromQL the chart renders: parsing with a real parser, the metric names an expression reads,
and the list of names that exist (TF Serving's exporter, kube-state-metrics, cAdvisor, the chart's
own recording rules).

Parsing uses `promql-parser` (Python bindings of the Rust PromQL parser, pinned in the `test`
extra). Expressions come from PrometheusRules, KEDA triggers, prometheus-adapter rules (after
expanding their `<<.Series>>`-style placeholders) and Grafana dashboards.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from . import yamlio


def _histogram(name: str) -> tuple[str, ...]:
    return (f"{name}_bucket", f"{name}_sum", f"{name}_count")


#: Names TF Serving's Prometheus exporter emits (tf-serving.md: every non-alphanumeric character
#: of the TensorFlow metric path becomes `:`). Histograms with their three series.
TF_SERVING_METRICS = frozenset(
    {
        ":tensorflow:serving:request_count",
        *_histogram(":tensorflow:serving:request_latency"),
        *_histogram(":tensorflow:serving:runtime_latency"),
        *_histogram(":tensorflow:serving:request_example_counts"),
        *_histogram(":tensorflow:serving:batching_session:input_batch_size"),
        *_histogram(":tensorflow:serving:batching_session:processed_batch_size"),
        *_histogram(":tensorflow:serving:batching_session:padding_size"),
        *_histogram(":tensorflow:serving:batching_session:queuing_latency"),
        *_histogram(":tensorflow:serving:model_warmup_latency"),
        ":tensorflow:core:graph_runs",
        ":tensorflow:core:graph_run_time_usecs",
        ":tensorflow:cc:saved_model:load_attempt_count",
    }
)

#: kube-state-metrics series the chart's rules and dashboard read.
KUBE_STATE_METRICS = frozenset(
    {
        "kube_deployment_spec_replicas",
        "kube_deployment_status_replicas_available",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_pod_container_status_restarts_total",
        "kube_pod_container_status_last_terminated_reason",
        "kube_pod_container_resource_limits",
    }
)

#: cAdvisor (kubelet) series the chart's rules read.
CADVISOR_METRICS = frozenset({"container_memory_working_set_bytes"})

#: Series Prometheus itself writes for every scrape target (carrying the target's labels).
PROMETHEUS_METRICS = frozenset({"up"})

#: Every name an expression may read that does not come from the chart's own recording rules.
KNOWN_METRICS = TF_SERVING_METRICS | KUBE_STATE_METRICS | CADVISOR_METRICS | PROMETHEUS_METRICS

_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


class PromQLError(ValueError):
    """An expression the PromQL parser rejects; the message holds the parser's reason and the expression."""


@dataclass(frozen=True)
class Selector:
    """One vector selector: its metric name (None when it has none) and its label matchers."""

    name: str | None
    matchers: tuple[tuple[str, str, str], ...]

    def matcher(self, label: str) -> tuple[str, str] | None:
        """(op, value) of the matcher on `label`, or None."""
        for name, op, value in self.matchers:
            if name == label:
                return op, value
        return None


def parse(expr: str):
    """The AST of `expr`; PromQLError when it is not valid PromQL."""
    import promql_parser

    try:
        return promql_parser.parse(expr)
    except ValueError as error:
        raise PromQLError(f"{error}: {expr}") from error


def selectors(expr: str) -> list[Selector]:
    """Every vector selector in `expr`, once each (promql_parser.walk descends into range selectors and subqueries)."""
    import promql_parser

    found: list[Selector] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = tuple((m.name, _OPS[str(m.op).rsplit(".", 1)[-1]], m.value) for m in node.matchers.matchers)
            if node.matchers.or_matchers:
                raise PromQLError(f"`or` inside a selector is not supported by this check: {expr}")
            name = node.name
            if name is None:
                names = [value for label, op, value in matchers if label == "__name__" and op == "="]
                name = names[0] if names else None
            found.append(Selector(name, matchers))

    promql_parser.walk(parse(expr), visit)
    return found


def metric_names(expr: str) -> set[str]:
    """Metric names `expr` reads. A selector without a plain name (`{__name__=~"..."}`) is an error:
    nothing could check what it reads."""
    names: set[str] = set()
    for selector in selectors(expr):
        if selector.name is None:
            raise PromQLError(f"selector {selector.matchers} has no metric name: {expr}")
        names.add(selector.name)
    return names


def unknown_metrics(expr: str, recorded: Iterable[str] = ()) -> set[str]:
    """Names in `expr` that are neither in KNOWN_METRICS nor recorded by the given recording rules."""
    return metric_names(expr) - KNOWN_METRICS - set(recorded)


# --- Where the chart's expressions live ------------------------------------------------------


def recorded_names(prometheus_rule: Mapping) -> set[str]:
    """`record:` names of a PrometheusRule."""
    return {rule["record"] for group in prometheus_rule["spec"]["groups"] for rule in group["rules"] if "record" in rule}


def rule_expressions(prometheus_rule: Mapping) -> Iterator[tuple[str, str]]:
    """(rule path, expr) for every rule of a PrometheusRule."""
    for g, group in enumerate(prometheus_rule["spec"]["groups"]):
        for r, rule in enumerate(group["rules"]):
            yield f"spec.groups[{g}].rules[{r}].expr", str(rule["expr"])


_ADAPTER_PLACEHOLDERS = {
    "<<.Series>>": None,  # replaced by the series name the rule matched
    "<<.LabelMatchers>>": 'namespace="default",pod=~"tfs-tf-serving-6d4cf56db6-abcde|tfs-tf-serving-6d4cf56db6-fghij"',
    "<<.GroupBy>>": "pod",
    "<<.GroupBySlice>>": "pod",
}


def expand_adapter_query(metrics_query: str, series: str, *, label_matchers: str | None = None, group_by: str | None = None) -> str:
    """A prometheus-adapter metricsQuery with its Go-template placeholders filled in as the adapter
    would for one HPA request, so it can be parsed (or evaluated). `label_matchers` and `group_by`
    are those of that request (the adapter joins the HPA's pod names into `pod=~"a|b"`, or turns
    an External metric's selector into matchers, plus `namespace="..."`); by default a request
    for two pods. Fails on a placeholder it does not know."""
    given = {"<<.LabelMatchers>>": label_matchers, "<<.GroupBy>>": group_by, "<<.GroupBySlice>>": group_by}
    expanded = metrics_query
    for placeholder, value in _ADAPTER_PLACEHOLDERS.items():
        expanded = expanded.replace(placeholder, series if value is None else given.get(placeholder) or value)
    leftover = re.findall(r"<<[^>]*>>", expanded)
    if leftover:
        raise PromQLError(f"unknown prometheus-adapter placeholder(s) {leftover} in {metrics_query}")
    return expanded


def series_name(series_query: str) -> str:
    """The metric name of a prometheus-adapter seriesQuery (which must be a plain selector)."""
    found = selectors(series_query)
    if len(found) != 1 or found[0].name is None:
        raise PromQLError(f"seriesQuery must be one selector with a metric name: {series_query}")
    return found[0].name


def adapter_rules(config: Mapping) -> Iterator[tuple[str, Mapping]]:
    """(path, rule) of every custom and external rule in a prometheus-adapter config
    (`rules`/`externalRules` in its config file, `custom`/`external` in the chart's values)."""
    for key in ("rules", "externalRules", "custom", "external"):
        for index, rule in enumerate(config.get(key) or []):
            yield f"{key}[{index}]", rule


def adapter_expressions(config: Mapping) -> Iterator[tuple[str, str]]:
    """(path, PromQL) for each rule's seriesQuery and expanded metricsQuery."""
    for path, rule in adapter_rules(config):
        yield f"{path}.seriesQuery", rule["seriesQuery"]
        yield f"{path}.metricsQuery", expand_adapter_query(rule["metricsQuery"], series_name(rule["seriesQuery"]))


def adapter_config_from_configmap(configmap: Mapping) -> Mapping:
    return yamlio.load(configmap["data"]["config.yaml"])


_GRAFANA_INTERVALS = ("$__rate_interval", "$__interval", "$__range")


def dashboard_expressions(dashboard: Mapping | str) -> Iterator[tuple[str, str]]:
    """(panel path, expr) of every Prometheus target in a Grafana dashboard (rows included).
    Grafana's interval variables become `5m`; `$var` inside label values is left as is (it is a
    string there, so the expression parses unchanged)."""
    if isinstance(dashboard, str):
        dashboard = json.loads(dashboard)

    def panels(items: Iterable[Mapping], path: str) -> Iterator[tuple[str, Mapping]]:
        for index, panel in enumerate(items):
            yield f"{path}[{index}]", panel
            yield from panels(panel.get("panels", []), f"{path}[{index}].panels")

    for path, panel in panels(dashboard.get("panels", []), "panels"):
        for t, target in enumerate(panel.get("targets", [])):
            expr = target.get("expr")
            if expr:
                for variable in _GRAFANA_INTERVALS:
                    expr = expr.replace(variable, "5m")
                yield f"{path}.targets[{t}].expr ({panel.get('title')})", expr
