"""Monitoring: one scrape of every serving pod (ServiceMonitor via a headless metrics Service, or a
PodMonitor), a PrometheusRule whose expressions parse, read real metrics in the right units and
stay inside the release, and a Grafana dashboard built on those recording rules."""

from __future__ import annotations

import json

import pytest

from tfserving_harness import promql
from tfserving_harness.manifests import of_kind, one, pod_template, ref, selector_matches
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import assert_no_problems, assert_refused, at, render_error

CI = chart_dir() / "ci"
SM_CRD = ("monitoring.coreos.com/v1/ServiceMonitor",)


@pytest.fixture(scope="module")
def stack(scenario):
    """Two tracks, ServiceMonitor + PrometheusRule + dashboard, HPAs on."""
    return scenario("monitoring-stack")


def _rule(docs, name):
    return next(r for g in one(docs, "PrometheusRule")["spec"]["groups"] for r in g["rules"] if r.get("alert") == name or r.get("record") == name)


def _dashboard(docs):
    configmap = next(c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard"))
    return configmap, json.loads(configmap["data"]["tf-serving.json"])


def test_off_by_default_nothing_monitoring_is_rendered(default_docs):
    assert not {d["kind"] for d in default_docs} & {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    assert [s["metadata"]["name"] for s in of_kind(default_docs, "Service")] == ["tfs-tf-serving"]
    assert not any("prometheus.io/scrape" in pod_template(d)["metadata"].get("annotations", {}) for d in of_kind(default_docs, "Deployment"))


def test_equal_timeout_and_interval_are_accepted(render):
    docs = render({"monitoring": {"serviceMonitor": {"enabled": True, "force": True, "interval": "1m", "scrapeTimeout": "60s"}}})
    assert one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["scrapeTimeout"] == "60s"


@pytest.mark.parametrize("kind", ["ServiceMonitor", "PodMonitor", "PrometheusRule"])
def test_an_enabled_monitoring_object_without_its_crd_fails_instead_of_disappearing(kind):
    key = kind[0].lower() + kind[1:]
    assert_refused(
        {"monitoring": {key: {"enabled": True}}},
        f"tf-serving: monitoring.{key}.enabled is true but the cluster does not serve monitoring.coreos.com/v1 {kind}; install the prometheus-operator CRDs (e.g. with kube-prometheus-stack), or set monitoring.{key}.force=true",
    )


def test_servicemonitor_renders_with_the_crd_or_force(render):
    assert len(of_kind(render({"monitoring": {"serviceMonitor": {"enabled": True}}}, api_versions=SM_CRD), "ServiceMonitor")) == 1
    assert len(of_kind(render({"monitoring": {"serviceMonitor": {"enabled": True, "force": True}}}), "ServiceMonitor")) == 1


def test_servicemonitor_scrapes_every_pod_of_every_track_once_on_the_metrics_path(stack):
    """The main Service and the primary track's Service select the same pods: scraping those would
    double-count the primary track. The ServiceMonitor selects only the headless metrics Service,
    which selects every serving pod of the release."""
    monitor = one(stack, "ServiceMonitor")
    selected = [s for s in of_kind(stack, "Service") if selector_matches(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
    assert [s["metadata"]["name"] for s in selected] == ["tfs-tf-serving-metrics"], "exactly one Service, the metrics one"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["default"]}
    service = selected[0]
    assert service["spec"]["clusterIP"] == "None"
    pods = [d for d in of_kind(stack, "Deployment") if selector_matches(service["spec"]["selector"], pod_template(d)["metadata"]["labels"])]
    assert len(pods) == len(of_kind(stack, "Deployment")) == 2, "every track behind the metrics Service"
    [endpoint] = monitor["spec"]["endpoints"]
    [port] = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert endpoint["port"] == "http" and port["targetPort"] == "http"
    for deployment in pods:
        container = pod_template(deployment)["spec"]["containers"][0]
        assert "--rest_api_port=%d" % next(p["containerPort"] for p in container["ports"] if p["name"] == "http") in container["args"]
    assert endpoint["path"] == "/monitoring/prometheus/metrics"
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("15s", "10s")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert set(monitor["spec"]["podTargetLabels"]) == {"app.kubernetes.io/name", "app.kubernetes.io/instance", "tf-serving.io/track"}


def test_servicemonitor_only_selects_this_releases_services(render):
    monitor = one(render({"monitoring": {"serviceMonitor": {"enabled": True, "force": True}}}, name="other"), "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "other"
    [service] = [s for s in of_kind(render({"monitoring": {"serviceMonitor": {"enabled": True, "force": True}}}), "Service") if s["metadata"]["name"].endswith("-metrics")]
    assert not selector_matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])


def test_metrics_path_moves_the_scrape_config_and_the_server_config_together(render):
    docs = render({"metrics": {"path": "/custom/metrics"}, "monitoring": {"podMonitor": {"enabled": True, "force": True}}})
    [endpoint] = one(docs, "PodMonitor")["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/custom/metrics")
    assert 'path: "/custom/metrics"' in one(docs, "ConfigMap", "tfs-tf-serving-config")["data"]["monitoring.config"]
    assert not any(k.startswith("prometheus.io/") for k in pod_template(one(docs, "Deployment"))["metadata"].get("annotations", {}))
    assert_no_problems(docs)
    docs = render({"metrics": {"path": "/custom/metrics"}, "monitoring": {"scrapeAnnotations": True}})
    annotations = pod_template(one(docs, "Deployment"))["metadata"]["annotations"]
    assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == ("true", "8501", "/custom/metrics")
    assert of_kind(docs, "ServiceMonitor") == [] and not [s for s in of_kind(docs, "Service") if s["metadata"]["name"].endswith("-metrics")]
    assert_no_problems(docs)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"monitoring": {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}}}, "monitoring.serviceMonitor.enabled and monitoring.podMonitor.enabled are both true"),
        ({"metrics": {"enabled": False}, "monitoring": {"serviceMonitor": {"enabled": True}}}, "monitoring.serviceMonitor.enabled is true but metrics.enabled is false"),
        ({"metrics": {"enabled": False}, "monitoring": {"prometheusRule": {"enabled": True}}}, "monitoring.prometheusRule.enabled is true but metrics.enabled is false"),
        ({"monitoring": {"dashboard": {"enabled": True}}}, "monitoring.dashboard.enabled is true but monitoring.prometheusRule.enabled is false"),
        ({"monitoring": {"serviceMonitor": {"enabled": True, "interval": "1m", "scrapeTimeout": "1m500ms"}}}, "monitoring.serviceMonitor.scrapeTimeout (1m500ms) is longer than monitoring.serviceMonitor.interval (1m)"),
        ({"monitoring": {"podMonitor": {"enabled": True, "interval": "15s", "scrapeTimeout": "20s"}}}, "monitoring.podMonitor.scrapeTimeout (20s) is longer than monitoring.podMonitor.interval (15s)"),
        (
            {"monitoring": {"prometheusRule": {"enabled": True, "force": True, "alerts": {"modelLoadFailures": {"for": "14m59s"}}}}},
            "monitoring.prometheusRule.alerts.modelLoadFailures.for is 14m59s but the alert is true only for the 15m after a failed load",
        ),
    ],
)
def test_monitoring_cross_field_checks(values, message):
    assert f"tf-serving: {message}" in render_error(values)


# --- PrometheusRule ---------------------------------------------------------------------------


def test_every_rule_expression_parses_and_reads_only_known_or_recorded_metrics(stack):
    rule = one(stack, "PrometheusRule")
    recorded = promql.recorded_names(rule)
    assert recorded == {
        "tf_serving:requests:rate5m",
        "tf_serving:errors:rate5m",
        "tf_serving:error_ratio:rate5m",
        "tf_serving:request_latency_milliseconds:quantile5m",
        "tf_serving:input_batch_size:mean5m",
        "tf_serving:processed_batch_size:mean5m",
    }
    expressions = dict(promql.rule_expressions(rule))
    assert len(expressions) >= 17
    for path, expr in expressions.items():
        assert promql.unknown_metrics(expr, recorded) == set(), f"{ref(rule)} {path}"


def test_every_selector_is_scoped_to_the_release(stack):
    """Two releases in one namespace (or one name in two namespaces) must not mix."""
    for path, expr in promql.rule_expressions(one(stack, "PrometheusRule")):
        for selector in promql.selectors(expr):
            assert selector.matcher("namespace") == ("=", "default"), f"{path}: {selector}"
            if selector.name in promql.TF_SERVING_METRICS or selector.name.startswith("tf_serving:"):
                assert selector.matcher("app_kubernetes_io_instance") == ("=", "tfs"), f"{path}: {selector}"
            elif selector.name.startswith("kube_deployment"):
                assert selector.matcher("deployment") == ("=~", "tfs-tf-serving-canary|tfs-tf-serving-stable"), f"{path}: {selector}"
            elif selector.name.startswith("kube_horizontalpodautoscaler"):
                assert selector.matcher("horizontalpodautoscaler") == ("=~", "tfs-tf-serving-canary|tfs-tf-serving-stable"), f"{path}: {selector}"
            else:
                op, pods = selector.matcher("pod")
                assert op == "=~" and pods == "(tfs-tf-serving-canary|tfs-tf-serving-stable)-[a-z0-9]+-[a-z0-9]+", f"{path}: {selector}"
                assert selector.matcher("container") == ("=", "tf-serving")


def test_pod_regex_matches_this_releases_pods_and_not_a_longer_named_release():
    import re

    pattern = re.compile("(tfs-tf-serving-canary|tfs-tf-serving-stable)-[a-z0-9]+-[a-z0-9]+")
    assert pattern.fullmatch("tfs-tf-serving-stable-6d4cf56db6-x7k2p")
    assert not pattern.fullmatch("tfs-tf-serving-stable-v2-6d4cf56db6-x7k2p")


def test_latency_is_recorded_in_milliseconds_from_the_microsecond_histogram(stack):
    quantiles = [r for g in one(stack, "PrometheusRule")["spec"]["groups"] for r in g["rules"] if r.get("record") == "tf_serving:request_latency_milliseconds:quantile5m"]
    assert sorted(r["labels"]["quantile"] for r in quantiles) == ["0.5", "0.9", "0.99"]
    for rule in quantiles:
        assert rule["expr"].startswith(f"histogram_quantile({rule['labels']['quantile']}, ")
        assert rule["expr"].endswith(") / 1000")
        assert promql.metric_names(rule["expr"]) == {":tensorflow:serving:request_latency_bucket"}
    alert = _rule(stack, "TFServingHighLatencyP99")
    assert alert["expr"].endswith("> 250"), "threshold from values, in ms"
    assert promql.selectors(alert["expr"])[0].matcher("quantile") == ("=", "0.99")


def test_error_ratio_counts_non_ok_statuses(stack):
    [errors] = promql.selectors(_rule(stack, "tf_serving:errors:rate5m")["expr"])
    assert errors.name == ":tensorflow:serving:request_count" and errors.matcher("status") == ("!=", "OK")
    assert _rule(stack, "TFServingHighErrorRatio")["expr"].endswith("> 0.05")


def test_model_load_failure_alert_reads_the_saved_model_load_counter(stack):
    alert = _rule(stack, "TFServingModelLoadFailed")
    selectors = promql.selectors(alert["expr"])
    assert {s.name for s in selectors} == {":tensorflow:cc:saved_model:load_attempt_count"}
    assert all(s.matcher("status") == ("!=", "success") for s in selectors)
    assert "model_path" in alert["expr"], "the counter's labels are model_path and status"


def test_model_load_failure_for_one_evaluation_inside_the_15m_window_renders(render):
    docs = render({"monitoring": {"prometheusRule": {"enabled": True, "force": True, "alerts": {"modelLoadFailures": {"for": "14m"}}}}})
    assert _rule(docs, "TFServingModelLoadFailed")["for"] == "14m"


def test_model_load_failure_alert_also_fires_for_a_series_that_appears_already_failed(stack):
    """increase() needs two samples, so a failure counter that first appears at 1
    (--max_num_load_retries=0, one failed load after a hot reload) is invisible to it; and once it
    has two samples at 1, increase() is 0. The alert is `(increase > 0) or (new series > 0)`, each
    side thresholded on its own (inside one sum, the LHS's 0 would hide the RHS)."""
    import datetime

    expr = _rule(stack, "TFServingModelLoadFailed")["expr"]
    tree = promql.parse(expr)
    assert str(tree.op) == "or", expr
    increased, appeared = tree.lhs.expr, tree.rhs.expr
    for side in (increased, appeared):
        assert str(side.op) == ">" and side.rhs.val == 0 and (side.modifier is None or not side.modifier.return_bool), side.prettify()
        assert str(side.lhs.op) == "sum" and list(side.lhs.modifier.labels) == ["namespace", "pod", "model_path"]
    assert increased.lhs.expr.func.name == "increase"
    new_series = appeared.lhs.expr
    assert str(new_series.op) == "unless" and (new_series.modifier is None or new_series.modifier.matching is None), "match on every label"
    now, before = new_series.lhs, new_series.rhs
    assert now.offset is None and before.offset == datetime.timedelta(minutes=15)
    assert now.prettify() + " offset 15m" == before.prettify(), "the same series, 15m apart"
    assert promql.unknown_metrics(expr) == set()


def test_alerts_carry_values_severity_for_labels_and_runbooks(stack):
    alerts = [r for g in one(stack, "PrometheusRule")["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert {a["alert"] for a in alerts} == {
        "TFServingHighLatencyP99", "TFServingHighErrorRatio", "TFServingNoTraffic", "TFServingModelLoadFailed",
        "TFServingAutoscalerAtMaxReplicas", "TFServingReplicasUnavailable", "TFServingPodRestarting",
        "TFServingOOMKilled", "TFServingMemoryNearLimit",
    }
    for alert in alerts:
        assert alert["labels"]["team"] == "ml-platform", alert["alert"]
        assert alert["labels"]["severity"] in {"info", "warning", "critical"}
        assert alert["annotations"]["runbook_url"] == f"https://runbooks.example.com/tf-serving#{alert['alert'].lower()}"
        assert alert["annotations"]["summary"]
    assert _rule(stack, "TFServingHighErrorRatio")["labels"]["severity"] == "critical"
    assert _rule(stack, "TFServingNoTraffic")["for"] == "30m"


def test_alerts_can_be_tuned_or_turned_off_and_hpa_alert_needs_an_autoscaler(render):
    values = {"monitoring": {"prometheusRule": {"enabled": True, "force": True, "alerts": {"noTraffic": {"enabled": False}, "memoryNearLimit": {"threshold": 0.7, "for": "5m", "severity": "critical"}}}}}
    docs = render(values)
    names = {r.get("alert") for g in one(docs, "PrometheusRule")["spec"]["groups"] for r in g["rules"]}
    assert "TFServingNoTraffic" not in names and "TFServingAutoscalerAtMaxReplicas" not in names
    memory = _rule(docs, "TFServingMemoryNearLimit")
    assert memory["expr"].endswith("> 0.7") and memory["for"] == "5m" and memory["labels"]["severity"] == "critical"
    assert "runbook_url" not in memory["annotations"]


def test_hpa_alert_follows_keda_hpa_names(render):
    docs = render({"autoscaling": {"keda": {"enabled": True, "force": True, "serverAddress": "http://p:9090"}}, "monitoring": {"prometheusRule": {"enabled": True, "force": True}}})
    [selector, _] = promql.selectors(_rule(docs, "TFServingAutoscalerAtMaxReplicas")["expr"])
    assert selector.matcher("horizontalpodautoscaler") == ("=~", "keda-hpa-tfs-tf-serving")


def _hpa_alert_names(docs):
    [selector, _] = promql.selectors(_rule(docs, "TFServingAutoscalerAtMaxReplicas")["expr"])
    op, regex = selector.matcher("horizontalpodautoscaler")
    assert op == "=~"
    return set(regex.split("|"))


def test_hpa_alert_covers_a_track_that_turns_on_its_own_hpa(render):
    """Top-level autoscaling off, only the canary track has an HPA: the alert is rendered and
    watches exactly that HPA; a track that turns its HPA off is not watched."""
    rule = {"monitoring": {"prometheusRule": {"enabled": True, "force": True}}}
    canary_only = render({**rule, "tracks": {"stable": {}, "canary": {"autoscaling": {"enabled": True, "maxReplicas": 4}}}, "primaryTrack": "stable"})
    hpas = {h["metadata"]["name"] for h in of_kind(canary_only, "HorizontalPodAutoscaler")}
    assert hpas == {"tfs-tf-serving-canary"}
    assert _hpa_alert_names(canary_only) == hpas

    stable_only = render({**rule, "autoscaling": {"enabled": True}, "tracks": {"stable": {}, "canary": {"autoscaling": {"enabled": False}}}, "primaryTrack": "stable"})
    assert _hpa_alert_names(stable_only) == {h["metadata"]["name"] for h in of_kind(stable_only, "HorizontalPodAutoscaler")} == {"tfs-tf-serving-stable"}


def test_hpa_alert_watches_exactly_the_rendered_hpas(stack):
    assert _hpa_alert_names(stack) == {h["metadata"]["name"] for h in of_kind(stack, "HorizontalPodAutoscaler")}


# --- Grafana dashboard ------------------------------------------------------------------------


def test_dashboard_file_is_valid_json_with_the_promised_panels():
    dashboard = json.loads((chart_dir() / "dashboards" / "tf-serving.json").read_text())
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("request rate", "error ratio", "latency", "batch", "replicas"):
        assert topic in titles


def test_dashboard_is_sidecar_discoverable_and_unique_per_release(stack, render):
    configmap, dashboard = _dashboard(stack)
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["namespace"] == "default"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "ML Serving"}
    constants = {v["name"]: v["query"] for v in dashboard["templating"]["list"] if v["type"] == "constant"}
    assert constants == {"namespace": "default", "instance": "tfs", "deployments": "tfs-tf-serving-canary|tfs-tf-serving-stable"}
    _, other = _dashboard(render(values_files=[CI / "monitoring-stack-values.yaml"], name="other"))
    assert other["uid"] != dashboard["uid"] and len(dashboard["uid"]) <= 40


def test_dashboard_label_is_configurable(render):
    """A sidecar with another label: add it, and drop the default one with null (Helm's map merge)."""
    values = {"monitoring": {"prometheusRule": {"enabled": True, "force": True}, "dashboard": {"enabled": True, "namespace": "grafana", "labels": {"grafana-dashboards": "tfs", "grafana_dashboard": None}}}}
    configmap, _ = _dashboard(render(values))
    assert configmap["metadata"]["namespace"] == "grafana"
    assert configmap["metadata"]["labels"]["grafana-dashboards"] == "tfs" and "grafana_dashboard" not in configmap["metadata"]["labels"]


def test_every_panel_expression_parses_and_reads_recording_rules_or_known_metrics(stack):
    _, dashboard = _dashboard(stack)
    recorded = promql.recorded_names(one(stack, "PrometheusRule"))
    expressions = dict(promql.dashboard_expressions(dashboard))
    assert len(expressions) >= 7
    used = set()
    for path, expr in expressions.items():
        names = promql.metric_names(expr)
        assert names - recorded - promql.KNOWN_METRICS == set(), path
        used |= names & recorded
        for selector in promql.selectors(expr):
            assert selector.matcher("namespace") == ("=", "$namespace"), path
    assert used >= {"tf_serving:requests:rate5m", "tf_serving:error_ratio:rate5m", "tf_serving:request_latency_milliseconds:quantile5m"}


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"monitoring": {"prometheusRule": {"alertLabels": {"severity": "page"}}}}, "monitoring.prometheusRule.alertLabels"),
        ({"monitoring": {"prometheusRule": {"alerts": {"highLatency": {"treshold": 100}}}}}, "monitoring.prometheusRule.alerts.highLatency"),
        ({"monitoring": {"prometheusRule": {"alerts": {"errorRatio": {"threshold": 5}}}}}, "monitoring.prometheusRule.alerts.errorRatio.threshold"),
        ({"monitoring": {"serviceMonitor": {"interval": "30"}}}, "monitoring.serviceMonitor.interval"),
    ],
)
def test_schema_rejects_bad_monitoring_values(values, path):
    assert_refused(values, at(path))


@pytest.mark.parametrize(("kind", "monitor"), [("serviceMonitor", "ServiceMonitor"), ("podMonitor", "PodMonitor")])
def test_scrape_annotations_with_a_monitor_fail_because_every_pod_would_be_scraped_twice(kind, monitor):
    """Two scrapes of one pod double every rate (KEDA, adapter rules and alerts read them)."""
    message = render_error({"monitoring": {"scrapeAnnotations": True, kind: {"enabled": True, "force": True}}})
    assert f"tf-serving: monitoring.scrapeAnnotations and monitoring.{kind}.enabled are both true; Prometheus would scrape every pod twice (the annotation job and the {monitor})" in message
    assert "set monitoring.scrapeAnnotations=false" in message


def test_alerts_that_need_kube_state_metrics_or_cadvisor_say_so(stack):
    """An alert over kube_* series is silent without kube-state-metrics, container_* without cAdvisor:
    the `requires` annotation names what must be scraped; alerts on TF Serving's own series have none."""
    alerts = [r for g in one(stack, "PrometheusRule")["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert len(alerts) >= 8
    for alert in alerts:
        requires = alert["annotations"].get("requires", "")
        assert ("kube-state-metrics" in requires) == ("kube_" in alert["expr"]), alert["alert"]
        assert ("cAdvisor" in requires) == ("container_memory" in alert["expr"]), alert["alert"]


def test_crash_looping_servers_are_covered_by_the_restart_alert(stack):
    """A failed initial load exits the server before its metrics port opens: the load-failure alert
    cannot see it (and says so); the container-restart alert, from kube-state-metrics, does."""
    load = _rule(stack, "TFServingModelLoadFailed")
    assert "cannot see a failed initial load" in load["annotations"]["description"]
    restarts = _rule(stack, "TFServingPodRestarting")
    assert "kube_pod_container_status_restarts_total" in restarts["expr"] and 'container="tf-serving"' in restarts["expr"]
    assert "fails its initial load" in restarts["annotations"]["description"]
