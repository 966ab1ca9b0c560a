"""Canary gate decisions on answers from a local Prometheus stand-in (real HTTP, Prometheus' JSON),
and the label and metric names the gate queries against what the chart really exports."""

from __future__ import annotations

import pytest

from tfserving_harness import manifests, promql
from tfserving_harness.rollout import gates
from tfserving_harness.rollout.standins import PrometheusStandIn, TrackSample

LIMITS = gates.Limits(max_error_ratio=0.01, max_p99_ms=200.0, min_requests=100, window="5m")
HEALTHY = TrackSample(requests=1000, errors=2, p99_ms=40.0)


@pytest.fixture
def prometheus():
    with PrometheusStandIn() as server:
        yield server


def gate(server: PrometheusStandIn) -> gates.GateResult:
    return gates.evaluate(gates.Prometheus(server.url), "ml", "tfs", "canary", "main", LIMITS)


@pytest.mark.parametrize("canary, decision, reason", [
    (TrackSample(requests=1000, errors=5, p99_ms=80.0), gates.PASS, "error ratio 0.50%"),
    (TrackSample(requests=1000, errors=30, p99_ms=80.0), gates.BREACH, "error ratio 3.00% above the limit 1.00%"),
    (TrackSample(requests=1000, errors=0, p99_ms=450.0), gates.BREACH, "p99 450.0 ms above the limit 200 ms"),
    # Below --min-requests: a breach only when no later success could save it (10 errors > 1% of 100).
    (TrackSample(requests=20, errors=10, p99_ms=80.0), gates.BREACH, "already failed 10 of 20 requests"),
    (TrackSample(requests=20, errors=1, p99_ms=900.0), gates.INCONCLUSIVE, "fewer than --min-requests 100"),
    (TrackSample(), gates.INCONCLUSIVE, "no request_count series for track canary"),
    (TrackSample(requests=40, errors=0, p99_ms=80.0), gates.INCONCLUSIVE, "fewer than --min-requests 100"),
    (TrackSample(requests=500, errors=0, p99_ms=float("nan")), gates.INCONCLUSIVE, "no successful prediction latency"),
])
def test_gate_decisions(prometheus, canary, decision, reason):
    prometheus.tracks = {"canary": canary, "main": HEALTHY}
    result = gate(prometheus)
    assert result.decision == decision, result.describe()
    assert reason in " ".join(result.reasons), result.describe()
    assert result.stable == gates.TrackMetrics("main", 1000, 2, 40.0), "the stable track is reported for comparison"


def test_prometheus_refusing_the_query_is_inconclusive_never_a_pass(prometheus):
    prometheus.error = "parse error"
    result = gate(prometheus)
    assert result.decision == gates.INCONCLUSIVE and "parse error" in result.reasons[0], result.describe()


def test_unreachable_prometheus_is_inconclusive():
    with PrometheusStandIn() as server:
        url = server.url
    result = gates.evaluate(gates.Prometheus(url, timeout=2), "ml", "tfs", "canary", "main", LIMITS)
    assert result.decision == gates.INCONCLUSIVE and "does not answer" in result.reasons[0]


def test_queries_are_keyed_on_release_and_track_and_convert_microseconds(prometheus):
    prometheus.tracks = {"canary": HEALTHY, "main": HEALTHY}
    gate(prometheus)
    canary_queries = [q for q in prometheus.queries if 'tf_serving_io_track="canary"' in q]
    assert len(canary_queries) == 3, prometheus.queries
    for query in canary_queries:
        assert 'namespace="ml"' in query and 'app_kubernetes_io_instance="tfs"' in query, query
        assert not promql.unknown_metrics(query), (query, promql.unknown_metrics(query))
    (latency,) = [q for q in canary_queries if "request_latency_bucket" in q]
    assert latency.endswith("/ 1000") and "histogram_quantile(0.99" in latency, latency


def test_the_track_label_the_gate_uses_is_the_one_the_chart_scrapes(render):
    """The gate's `tf_serving_io_track` is the pod label tf-serving.io/track copied by the
    ServiceMonitor (Prometheus turns `.`, `/` and `-` into `_`); the recording rules use it too."""
    docs = render({"monitoring": {"serviceMonitor": {"enabled": True, "force": True},
                                  "prometheusRule": {"enabled": True, "force": True}}})
    monitor = manifests.one(docs, "ServiceMonitor")
    assert "tf-serving.io/track" in monitor["spec"]["podTargetLabels"], monitor["spec"]
    assert "app.kubernetes.io/instance" in monitor["spec"]["podTargetLabels"]
    rule = manifests.one(docs, "PrometheusRule")
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r]
    assert any("tf_serving_io_track" in e and "app_kubernetes_io_instance" in e for e in exprs), exprs


def test_inconclusive_waits_then_holds_and_a_later_pass_ends_the_wait():
    now = [0.0]
    said = []
    answers = iter([gates.GateResult(gates.INCONCLUSIVE, ("few",))] * 2 + [gates.GateResult(gates.PASS, ("ok",))])
    started = []
    result = gates.wait_conclusive(lambda: next(answers), timeout=100, poll=30, say=said.append,
                                   sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0],
                                   on_inconclusive=lambda: started.append(now[0]))
    assert result.decision == gates.PASS and now[0] == 60 and started == [0.0, 30.0]
    assert "next look in 30s (30s of 100s before holding)" in said[-1], said

    now[0] = 0.0
    always = gates.GateResult(gates.INCONCLUSIVE, ("no data",))
    held = gates.wait_conclusive(lambda: always, timeout=100, poll=30, say=said.append,
                                 sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    assert held.decision == gates.INCONCLUSIVE and now[0] == 90, now
