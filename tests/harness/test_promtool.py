"""tfserving_harness.promtool on a hand-made rule: the promtool test file it writes, failures
attributed to their test with promtool's report, and `promtool check rules` refusals."""

from __future__ import annotations

import pytest

from tfserving_harness import promtool
from tfserving_harness.promtool import MINUTE, Alert, RuleTest, Series, fires, returns, silent

RULE = {
    "metadata": {"name": "demo"},
    "spec": {"groups": [
        {"name": "demo.recording", "rules": [{"record": "job:requests:rate1m", "expr": "sum by (job) (rate(requests_total[1m]))"}]},
        {"name": "demo.alerts", "rules": [{
            "alert": "Busy", "expr": "job:requests:rate1m > 1", "for": "2m", "labels": {"severity": "info"},
            "annotations": {"summary": '{{ $labels.job }} serves {{ $value | humanize }}/s'},
        }]},
    ]},
}
BUSY = Series("requests_total", {"job": "api", "instance": "a"}, "0+120x10")  # 2/s
BUSY_ALERT = Alert({"job": "api", "severity": "info"}, {"summary": "api serves 2/s"})


def test_durations_are_prometheus_durations():
    assert [promtool.seconds(d) for d in ("0m", "90s", "1h30m", "500ms")] == [0, 90, 5400, 0.5]
    for bad in ("5", "1.5m", "m", "5m 3s"):
        with pytest.raises(ValueError, match="not a Prometheus duration"):
            promtool.seconds(bad)


def test_series_and_expected_samples_are_written_as_promtool_reads_them():
    assert promtool.selector("up", {"job": 'say "hi"', "path": "C:\\x"}) == 'up{job="say \\"hi\\"",path="C:\\\\x"}'
    test = RuleTest("t", (BUSY,), (silent("Busy", 60), returns("x", 120, [("", {"a": "b"}, 1.5)])))
    assert test.promtool() == {
        "interval": "60s",
        "input_series": [{"series": 'requests_total{job="api",instance="a"}', "values": "0+120x10"}],
        "alert_rule_test": [{"eval_time": "60s", "alertname": "Busy", "exp_alerts": []}],
        "promql_expr_test": [{"expr": "x", "eval_time": "120s", "exp_samples": [{"labels": '{a="b"}', "value": 1.5}]}],
    }


def test_passing_tests_give_no_failure_and_a_failing_one_is_named_with_promtools_report(promtool_available):
    """The recorded rate exists from 1m (two samples) and the alerts group reads it at the same
    step, so the alert is pending at 2m and fires at 3m, every run."""
    right = RuleTest("busy fires after for", (BUSY,), (silent("Busy", 2 * MINUTE), fires("Busy", 3 * MINUTE, BUSY_ALERT),
                                                       returns("job:requests:rate1m", 3 * MINUTE, [("job:requests:rate1m", {"job": "api"}, 2)])))
    wrong = RuleTest("busy fires at once (wrong)", (BUSY,), (fires("Busy", 1 * MINUTE, BUSY_ALERT),))
    assert promtool.run(RULE, [right]) == []
    [failure] = promtool.run(RULE, [right, wrong])
    assert failure.test is wrong
    assert "FAILED" in failure.report and "alertname: Busy, time: 1m" in failure.report and "got:[]" in failure.report
    assert str(failure).startswith("--- busy fires at once (wrong)\n")


def test_check_rules_passes_valid_rules_and_reports_what_promtool_refuses(promtool_available):
    assert "SUCCESS" in promtool.check_rules(RULE)
    broken = {"metadata": {"name": "broken"}, "spec": {"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": "up == 0", "annotations": {"summary": "{{ $labels.job }"}}]}]}}
    with pytest.raises(promtool.PromtoolError, match="promtool check rules refused broken") as error:
        promtool.check_rules(broken)
    assert "template" in str(error.value)


def test_rules_promtool_cannot_load_are_one_error_not_a_failure_per_test(promtool_available):
    broken = {"metadata": {"name": "broken"}, "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "sum by (job) (up"}]}]}}
    with pytest.raises(promtool.PromtoolError, match="(?s)could not evaluate broken:.*unclosed left parenthesis"):
        promtool.run(broken, [RuleTest("a", (BUSY,), (silent("A", MINUTE),)), RuleTest("b", (BUSY,), (silent("A", MINUTE),))])


def test_each_test_is_evaluated_against_the_rules_it_reads():
    """An alert's test keeps its rule and the recording rules it reads (through other recording rules
    too), a test of raw series none; ALERTS or an unparsable expression keep the whole file."""
    rules = {"groups": [
        {"name": "rec", "rules": [{"record": "job:a:rate1m", "expr": "rate(a_total[1m])"},
                                  {"record": "job:b:rate1m", "expr": "rate(b_total[1m])"},
                                  {"record": "job:ab:ratio", "expr": "job:a:rate1m / job:b:rate1m"}]},
        {"name": "alerts", "rules": [{"alert": "Ratio", "expr": "job:ab:ratio > 1"}, {"alert": "Down", "expr": "up == 0"}]},
    ]}

    def kept(*expect):
        return [[rule.get("alert") or rule["record"] for rule in group["rules"]] for group in promtool.rules_read(rules, RuleTest("t", (), expect))["groups"]]

    assert kept(silent("Ratio", MINUTE)) == [["job:a:rate1m", "job:b:rate1m", "job:ab:ratio"], ["Ratio"]]
    assert kept(silent("Down", MINUTE)) == [["Down"]]
    assert kept(returns("job:b:rate1m", MINUTE, [])) == [["job:b:rate1m"]]
    assert kept(returns("up", MINUTE, [])) == []
    assert kept(returns('ALERTS{alertname="Down"}', MINUTE, [])) == kept(returns("sum(", MINUTE, [])) == [["job:a:rate1m", "job:b:rate1m", "job:ab:ratio"], ["Ratio", "Down"]]
