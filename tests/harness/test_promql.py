"""tfserving_harness.promql: the parser really rejects bad PromQL, metric names are extracted from
everywhere a selector can hide, and the known-name list is the reference's."""

from __future__ import annotations

import pytest

from tfserving_harness import checks, promql
from tfserving_harness.frozen import thaw
from tfserving_harness.manifests import of_kind, one
from tfserving_harness.paths import chart_dir


@pytest.mark.parametrize(
    "expr",
    [
        "sum(rate(:tensorflow:serving:request_count[5m])",  # unclosed parenthesis
        "rate(:tensorflow:serving:request_count[5x])",  # bad duration
        'sum by (le) rate(x[5m])',  # missing parentheses around the argument
        ":tensorflow:serving:request_count{status!=OK}",  # unquoted label value
        "histogram_quantile(0.99, sum by (le) (rate(x[5m]))) /",  # dangling operator
        "<<.Series>>{<<.LabelMatchers>>}",  # an unexpanded adapter template
    ],
)
def test_parser_rejects_invalid_promql(expr):
    with pytest.raises(promql.PromQLError):
        promql.parse(expr)


def test_parser_accepts_tf_serving_names_that_start_with_a_colon():
    expr = 'histogram_quantile(0.99, sum by (le) (rate(:tensorflow:serving:request_latency_bucket{model_name="m"}[5m]))) / 1000'
    assert promql.metric_names(expr) == {":tensorflow:serving:request_latency_bucket"}


def test_metric_names_are_found_inside_ranges_subqueries_binaries_and_name_matchers():
    expr = (
        'max_over_time(rate(a_total[5m])[30m:1m]) / on (pod) group_left b'
        ' unless {__name__="c", job="x"} or absent(d{e="f"}) and sum(g offset 1h)'
    )
    assert promql.metric_names(expr) == {"a_total", "b", "c", "d", "g"}


def test_a_selector_without_a_plain_name_is_refused():
    with pytest.raises(promql.PromQLError, match="no metric name"):
        promql.metric_names('{__name__=~":tensorflow:.*"}')


def test_selectors_expose_label_matchers_with_their_operators():
    [selector] = promql.selectors('x{namespace="a",pod=~"p-.*",status!="OK",le!~"1"}')
    assert selector.matchers == (("namespace", "=", "a"), ("pod", "=~", "p-.*"), ("status", "!=", "OK"), ("le", "!~", "1"))
    assert selector.matcher("status") == ("!=", "OK") and selector.matcher("model_name") is None


def test_unknown_metrics_allows_only_the_known_list_and_recorded_rules():
    expr = "tf_serving:requests:rate5m / on () kube_deployment_status_replicas_available + :tensorflow:serving:request_cnt"
    assert promql.unknown_metrics(expr, recorded={"tf_serving:requests:rate5m"}) == {":tensorflow:serving:request_cnt"}
    assert promql.unknown_metrics(expr) == {"tf_serving:requests:rate5m", ":tensorflow:serving:request_cnt"}


def test_known_list_holds_the_reference_names_and_not_the_blog_posts():
    for name in (
        ":tensorflow:serving:request_count",
        ":tensorflow:serving:request_latency_bucket",
        ":tensorflow:serving:batching_session:processed_batch_size_count",
        ":tensorflow:cc:saved_model:load_attempt_count",
        "kube_horizontalpodautoscaler_spec_max_replicas",
    ):
        assert name in promql.KNOWN_METRICS
    for invented in ("tensorflow_serving_request_count", ":tensorflow:serving:request_latency", "tfserving_requests_total"):
        assert invented not in promql.KNOWN_METRICS


def test_adapter_queries_are_expanded_before_parsing_and_unknown_placeholders_fail():
    expanded = promql.expand_adapter_query("sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)", "x_total")
    assert promql.metric_names(expanded) == {"x_total"}
    assert promql.selectors(expanded)[0].matcher("namespace") == ("=", "default")
    with pytest.raises(promql.PromQLError, match="placeholder"):
        promql.expand_adapter_query("rate(<<.Series>>{<<.Labels>>}[2m])", "x_total")


def test_adapter_queries_take_the_matchers_and_grouping_of_one_request():
    expanded = promql.expand_adapter_query("sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)", "x_total",
                                           label_matchers='namespace="ml",pod=~"a|b"', group_by="pod")
    assert expanded == 'sum(rate(x_total{namespace="ml",pod=~"a|b"}[2m])) by (pod)'


def test_dashboard_expressions_walk_rows_and_replace_grafana_intervals():
    dashboard = {
        "panels": [
            {"title": "row", "type": "row", "panels": [{"title": "inner", "targets": [{"expr": "rate(a[$__rate_interval])"}]}]},
            {"title": "top", "targets": [{"expr": 'b{ns="$namespace"}'}, {"refId": "B"}]},
        ]
    }
    found = dict(promql.dashboard_expressions(dashboard))
    assert found == {"panels[0].panels[0].targets[0].expr (inner)": "rate(a[5m])", "panels[1].targets[0].expr (top)": 'b{ns="$namespace"}'}
    assert all(promql.parse(expr) for expr in found.values())


def _monitoring_docs(render):
    return render(values_files=[chart_dir() / "ci" / "monitoring-stack-values.yaml"])


def test_check_reports_an_invalid_and_an_invented_rule_expression_by_object(render):
    docs = _monitoring_docs(render)
    assert checks.promql_problems(docs) == []
    rule = thaw(one(docs, "PrometheusRule"))
    rule["spec"]["groups"][0]["rules"][0]["expr"] = "sum(rate(:tensorflow:serving:request_count[5m])"
    rule["spec"]["groups"][1]["rules"][0]["expr"] = "tensorflow_serving_request_latency_p99 > 1"
    broken = [rule if d["kind"] == "PrometheusRule" else d for d in docs]
    problems = checks.promql_problems(broken)
    assert [(p.object, p.field) for p in problems] == [
        ("PrometheusRule/tfs-tf-serving", "spec.groups[0].rules[0].expr"),
        ("PrometheusRule/tfs-tf-serving", "spec.groups[1].rules[0].expr"),
    ]
    assert "not valid PromQL" in problems[0].message and "tensorflow_serving_request_latency_p99" in problems[1].message


def test_check_reports_a_dashboard_reading_a_recording_rule_nobody_renders(render):
    docs = [d for d in _monitoring_docs(render) if d["kind"] != "PrometheusRule"]
    problems = checks.promql_problems(docs)
    dashboard = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")][0]
    assert problems and {p.object for p in problems} == {f"ConfigMap/{dashboard['metadata']['name']}"}
    assert any("tf_serving:requests:rate5m" in p.message for p in problems)


def test_each_selector_is_reported_once_also_inside_range_selectors():
    found = promql.selectors('rate(a{x="1"}[5m]) + max_over_time(b[1h:5m]) + c')
    assert [s.name for s in found] == ["a", "b", "c"]
