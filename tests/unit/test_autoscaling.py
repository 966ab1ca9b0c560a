"""Autoscaling: an HPA per track that owns its Deployment's replicas, KEDA as the alternative,
a recommendation-only VPA, and prometheus-adapter rules that make the custom metrics exist."""

from __future__ import annotations

import pytest

from tfserving_harness import adapter_values, promql, yamlio
from tfserving_harness.manifests import of_kind, one, pod_template, ref, selector_matches
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import assert_refused, at, render_error

TWO_TRACKS = {"tracks": {"stable": {}, "canary": {}}, "primaryTrack": "stable"}
KEDA = {"autoscaling": {"keda": {"enabled": True, "force": True, "serverAddress": "http://prometheus:9090"}}}
ADAPTER_CONFIGMAP = "tfs-tf-serving-prometheus-adapter"


def test_off_by_default_the_deployment_owns_its_replicas(default_docs):
    kinds = {d["kind"] for d in default_docs}
    assert not kinds & {"HorizontalPodAutoscaler", "ScaledObject", "VerticalPodAutoscaler"}
    assert one(default_docs, "Deployment")["spec"]["replicas"] == 1
    assert not [c for c in of_kind(default_docs, "ConfigMap") if "config.yaml" in c.get("data", {})]


def test_each_hpa_targets_its_own_tracks_deployment(render):
    docs = render({**TWO_TRACKS, "autoscaling": {"enabled": True}})
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    assert len(hpas) == len(deployments) == 2
    for hpa in hpas:
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        deployment = deployments[target["name"]]
        track = hpa["metadata"]["labels"]["tf-serving.io/track"]
        assert pod_template(deployment)["metadata"]["labels"]["tf-serving.io/track"] == track, f"{ref(hpa)} scales another track"
        assert "replicas" not in deployment["spec"], f"{ref(deployment)} sets spec.replicas although {ref(hpa)} owns them"
    assert sorted(h["spec"]["scaleTargetRef"]["name"] for h in hpas) == sorted(deployments)


def test_a_track_can_opt_out_and_keep_a_fixed_replica_count(scenario):
    docs = scenario("hpa-cpu-memory")
    [hpa] = of_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "tfs-tf-serving-stable"
    assert "replicas" not in one(docs, "Deployment", "tfs-tf-serving-stable")["spec"]
    assert one(docs, "Deployment", "tfs-tf-serving-canary")["spec"]["replicas"] == 1


def test_cpu_and_memory_shorthands_build_resource_metrics(scenario):
    hpa = one(scenario("hpa-cpu-memory"), "HorizontalPodAutoscaler")
    assert [(m["resource"]["name"], m["resource"]["target"]) for m in hpa["spec"]["metrics"]] == [
        ("cpu", {"type": "Utilization", "averageUtilization": 60}),
        ("memory", {"type": "Utilization", "averageUtilization": 85}),
    ]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 8)


def test_per_track_bounds_and_external_latency_metric_scoped_to_the_track(scenario):
    docs = scenario("hpa-external-metric")
    bounds = {h["spec"]["scaleTargetRef"]["name"]: (h["spec"]["minReplicas"], h["spec"]["maxReplicas"]) for h in of_kind(docs, "HorizontalPodAutoscaler")}
    assert bounds == {"tfs-tf-serving-stable": (3, 30), "tfs-tf-serving-canary": (1, 3)}
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        [external] = [m["external"] for m in hpa["spec"]["metrics"] if m["type"] == "External"]
        assert external["metric"]["selector"]["matchLabels"] == {
            "app_kubernetes_io_instance": "tfs",
            "tf_serving_io_track": hpa["metadata"]["labels"]["tf-serving.io/track"],
        }
        assert external["target"] == {"type": "Value", "value": "150"}


def test_default_behavior_scales_up_fast_and_down_slowly_and_raw_behavior_passes_through(render, scenario):
    behavior = one(render({"autoscaling": {"enabled": True}}), "HorizontalPodAutoscaler")["spec"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 300 > behavior["scaleUp"]["stabilizationWindowSeconds"]
    assert behavior["scaleUp"]["selectPolicy"] == "Max"
    custom = one(scenario("hpa-external-metric"), "HorizontalPodAutoscaler", "tfs-tf-serving-stable")["spec"]["behavior"]
    assert custom["scaleDown"]["stabilizationWindowSeconds"] == 900
    assert custom["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 300}]


def test_raw_metrics_replace_the_shorthands(render):
    raw = [{"type": "Object", "object": {"metric": {"name": "queue"}, "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "q"}, "target": {"type": "Value", "value": "10"}}}]
    hpa = one(render({"autoscaling": {"enabled": True, "metrics": raw}}), "HorizontalPodAutoscaler")
    assert hpa["spec"]["metrics"] == raw


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 3}}, "autoscaling.minReplicas (5) is greater than autoscaling.maxReplicas (3) for track main"),
        (
            {"tracks": {"a": {"autoscaling": {"maxReplicas": 1}}}, "autoscaling": {"enabled": True}},
            "autoscaling.minReplicas (2) is greater than tracks.a.autoscaling.maxReplicas (1) for track a",
        ),
        ({"autoscaling": {"enabled": True, "cpu": {"enabled": False}}}, "autoscaling.enabled is true (track main) but no metric is on"),
        ({"autoscaling": {"enabled": True, "keda": {"enabled": True, "force": True, "serverAddress": "http://p:9090"}}}, "autoscaling.enabled (HPA) and autoscaling.keda.enabled are both true"),
        ({"autoscaling": {"keda": {"enabled": True, "serverAddress": "http://p:9090"}}}, "autoscaling.keda.enabled is true but the cluster does not serve keda.sh/v1alpha1 ScaledObject"),
        ({"autoscaling": {"keda": {"enabled": True, "force": True}}}, "autoscaling.keda.serverAddress is empty"),
        ({"metrics": {"enabled": False}, "autoscaling": {"enabled": True, "requestsPerSecond": {"enabled": True}}}, "autoscaling.requestsPerSecond.enabled is true but metrics.enabled is false"),
    ],
)
def test_cross_field_checks_name_the_value_path(values, message):
    assert f"tf-serving: {message}" in render_error(values)


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"autoscaling": {"minReplicas": 0}}, "autoscaling.minReplicas"),
        ({"tracks": {"a": {"autoscaling": {"minReplicas": 0}}}}, "tracks.a.autoscaling.minReplicas"),
        ({"autoscaling": {"cpu": {"averageUtilisation": 70}}}, "autoscaling.cpu"),
        ({"autoscaling": {"latency": {"quantile": 95}}}, "autoscaling.latency.quantile"),
        ({"autoscaling": {"vpa": {"controlledResources": ["gpu"]}}}, "autoscaling.vpa.controlledResources.0"),
    ],
)
def test_schema_rejects_bad_autoscaling_values(values, path):
    assert_refused(values, at(path))


def test_keda_scaledobject_per_track_on_the_real_request_counter_and_no_hpa(scenario):
    docs = scenario("keda")
    assert of_kind(docs, "HorizontalPodAutoscaler") == []
    scaled = one(docs, "ScaledObject")
    deployment = one(docs, "Deployment")
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert "replicas" not in deployment["spec"]
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (1, 12)
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    assert trigger["metadata"]["threshold"] == "30"
    query = trigger["metadata"]["query"]
    assert promql.metric_names(query) == {":tensorflow:serving:request_count"}
    [selector] = promql.selectors(query)
    assert selector.matcher("namespace") == ("=", "default")
    assert selector.matcher("app_kubernetes_io_instance") == ("=", "tfs")
    assert selector.matcher("tf_serving_io_track") == ("=", "main")


def test_keda_renders_when_the_cluster_serves_the_crd_without_force(render):
    docs = render({"autoscaling": {"keda": {"enabled": True, "serverAddress": "http://p:9090"}}}, api_versions=("keda.sh/v1alpha1/ScaledObject",))
    assert one(docs, "ScaledObject")["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600


def test_vpa_only_recommends_and_targets_each_tracks_deployment(render):
    docs = render({**TWO_TRACKS, "autoscaling": {"vpa": {"enabled": True, "force": True}}})
    vpas = of_kind(docs, "VerticalPodAutoscaler")
    assert sorted(v["spec"]["targetRef"]["name"] for v in vpas) == sorted(d["metadata"]["name"] for d in of_kind(docs, "Deployment"))
    for vpa in vpas:
        assert vpa["spec"]["updatePolicy"] == {"updateMode": "Off"}
        assert vpa["spec"]["resourcePolicy"]["containerPolicies"][0]["containerName"] == "tf-serving"


def test_vpa_without_its_api_fails_instead_of_disappearing(render):
    assert_refused({"autoscaling": {"vpa": {"enabled": True}}}, "tf-serving: autoscaling.vpa.enabled is true but the cluster does not serve autoscaling.k8s.io/v1 VerticalPodAutoscaler; install the Vertical Pod Autoscaler (its CRDs), or set autoscaling.vpa.force=true")
    assert len(of_kind(render({"autoscaling": {"vpa": {"enabled": True}}}, api_versions=("autoscaling.k8s.io/v1/VerticalPodAutoscaler",)), "VerticalPodAutoscaler")) == 1


# --- prometheus-adapter rules -----------------------------------------------------------------


def _adapter_config(docs):
    return promql.adapter_config_from_configmap(one(docs, "ConfigMap", ADAPTER_CONFIGMAP))


def test_adapter_rules_read_only_tf_serving_metrics_and_parse(scenario):
    config = _adapter_config(scenario("hpa-custom-metric"))
    expressions = dict(promql.adapter_expressions(config))
    assert len(expressions) == 4
    for path, expr in expressions.items():
        # `up` only as the fallback for idle pods and tracks in the metricsQuery (see the tests below).
        allowed = promql.TF_SERVING_METRICS | ({"up"} if path.endswith("metricsQuery") else set())
        assert promql.metric_names(expr) <= allowed, path
    rules = dict(promql.adapter_rules(config))
    assert promql.series_name(rules["rules[0]"]["seriesQuery"]) == ":tensorflow:serving:request_count"
    assert promql.series_name(rules["externalRules[0]"]["seriesQuery"]) == ":tensorflow:serving:request_latency_bucket"
    assert "]))) / 1000 >= 0)" in rules["externalRules[0]"]["metricsQuery"], "the histogram is in microseconds; the metric is in ms"


# What the adapter substitutes for <<.LabelMatchers>> when the chart's HPA asks for the canary
# track's latency: its metric selector plus the namespace (resources.overrides).
_HPA_LABEL_MATCHERS = 'app_kubernetes_io_instance="tfs",tf_serving_io_track="canary",namespace="default"'


def _walk(node):
    """Every node of a promql_parser AST, depth first."""
    found = []
    stack = [node]
    while stack:
        current = stack.pop()
        found.append(current)
        for attr in ("expr", "lhs", "rhs"):
            child = getattr(current, attr, None)
            if child is not None and not isinstance(child, (str, int, float)):
                stack.append(child)
        stack.extend(getattr(current, "args", None) or [])
    return found


def _returns_bool(binary):
    return binary.modifier is not None and binary.modifier.return_bool


def test_latency_rule_answers_zero_for_an_idle_track_that_prometheus_sees(scenario):
    """A track without traffic (canary at weight 0, idle blue/green colour) has no latency sample
    (no buckets, or buckets whose rate is 0 so histogram_quantile is NaN), and the HPA reports
    FailedGetExternalMetric and never scales it down. The rule: the quantile with NaN dropped
    (`>= 0`), `or` 0 while a target of the same track is up. Both sides carry no labels (`or`
    keeps the real quantile when there is one), and both read only series the adapter scopes with
    the HPA's own matchers: a bare `vector(0)` would also answer 0 for a track Prometheus does not
    scrape at all, or for a selector that matches nothing."""
    [rule] = _adapter_config(scenario("hpa-custom-metric"))["externalRules"]
    query = rule["metricsQuery"]
    assert "vector(" not in query
    expr = query.replace("<<.Series>>", promql.series_name(rule["seriesQuery"])).replace("<<.LabelMatchers>>", _HPA_LABEL_MATCHERS)
    assert promql.unknown_metrics(expr) == set() and promql.metric_names(expr) == {":tensorflow:serving:request_latency_bucket", "up"}
    for selector in promql.selectors(expr):
        for label, value in (("namespace", "default"), ("app_kubernetes_io_instance", "tfs"), ("tf_serving_io_track", "canary")):
            assert selector.matcher(label) == ("=", value), f"{selector.name} is not scoped to the HPA's track: {expr}"

    tree = promql.parse(expr)
    assert str(tree.op) == "or" and (tree.modifier is None or tree.modifier.matching is None), "plain `or`: both sides have an empty label set"
    quantile, fallback = tree.lhs.expr, tree.rhs.expr
    assert str(quantile.op) == ">=" and not _returns_bool(quantile) and quantile.rhs.val == 0, "a filter (not `bool`) that drops NaN"
    calls = [n.func.name for n in _walk(quantile) if type(n).__name__ == "Call"]
    assert calls == ["histogram_quantile", "rate"]
    [by_le] = [n for n in _walk(quantile) if type(n).__name__ == "AggregateExpr"]
    assert str(by_le.op) == "sum" and list(by_le.modifier.labels) == ["le"]
    assert str(fallback.op) == "*" and fallback.lhs.val == 0
    assert str(fallback.rhs.op) == "max" and fallback.rhs.modifier is None, "max without by(): no labels left"
    up_filter = fallback.rhs.expr
    assert str(up_filter.op) == "==" and not _returns_bool(up_filter) and up_filter.rhs.val == 1, "only a target that is scraped successfully"


def test_request_rate_rule_answers_zero_for_a_pod_that_has_served_nothing(scenario):
    """TF Serving creates request_count at a pod's first request: a new pod has no series, the
    adapter would leave it out, and the HPA, when scaling down, counts a pod without a value as at
    its target (found on k8s-local's real node: a release stayed at 3 replicas under 5 req/s for a
    target of 10, because two new pods had never been sent a request). The rule: the per-pod rate,
    `or` 0 per pod for the pods of the request whose target is up, grouped like the rate so `or`
    keeps every real rate."""
    [rule] = _adapter_config(scenario("hpa-custom-metric"))["rules"]
    expr = promql.expand_adapter_query(rule["metricsQuery"], promql.series_name(rule["seriesQuery"]),
                                       label_matchers='namespace="default",pod=~"a|b"', group_by="pod")
    tree = promql.parse(expr)
    assert str(tree.op) == "or" and (tree.modifier is None or tree.modifier.matching is None)
    rate, fallback = tree.lhs, tree.rhs
    assert str(rate.op) == str(fallback.op) == "sum" and list(rate.modifier.labels) == list(fallback.modifier.labels) == ["pod"]
    assert str(fallback.expr.op) == "*" and fallback.expr.lhs.val == 0
    up_filter = fallback.expr.rhs.expr  # inside the parentheses
    assert str(up_filter.op) == "==" and not _returns_bool(up_filter) and up_filter.rhs.val == 1, "only a target that is scraped successfully"
    for selector in promql.selectors(expr):
        assert (selector.matcher("namespace"), selector.matcher("pod")) == (("=", "default"), ("=~", "a|b")), expr


def test_hpa_metric_names_equal_the_names_the_adapter_rules_expose(scenario):
    docs = scenario("hpa-custom-metric")
    exposed = {rule["name"]["as"] for _, rule in promql.adapter_rules(_adapter_config(docs))}
    [pods_metric] = [m["pods"]["metric"]["name"] for m in one(docs, "HorizontalPodAutoscaler")["spec"]["metrics"] if m["type"] == "Pods"]
    [external] = [m["external"]["metric"]["name"] for h in of_kind(scenario("hpa-external-metric"), "HorizontalPodAutoscaler") for m in h["spec"]["metrics"] if m["type"] == "External"][:1]
    assert {pods_metric, external} == exposed


def test_renamed_metrics_move_the_hpa_and_the_rules_together(render):
    docs = render(
        {
            "autoscaling": {
                "enabled": True,
                "requestsPerSecond": {"enabled": True, "metricName": "tfs_rps"},
                "latency": {"enabled": True, "metricName": "tfs_p90_ms", "quantile": 0.9},
                "prometheusAdapter": {"configMap": {"enabled": True}},
            }
        }
    )
    config = _adapter_config(docs)
    hpa_names = {m[m["type"].lower()]["metric"]["name"] for m in one(docs, "HorizontalPodAutoscaler")["spec"]["metrics"] if m["type"] != "Resource"}
    assert hpa_names == {r["name"]["as"] for _, r in promql.adapter_rules(config)} == {"tfs_rps", "tfs_p90_ms"}
    assert config["externalRules"][0]["metricsQuery"].startswith("(histogram_quantile(0.9,")


def test_adapter_rules_expose_series_that_carry_pod_and_namespace(scenario):
    """The custom rule maps namespace/pod onto Kubernetes resources: the HPA asks per pod of its target."""
    config = _adapter_config(scenario("hpa-custom-metric"))
    overrides = config["rules"][0]["resources"]["overrides"]
    assert overrides == {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
    [series] = promql.selectors(config["rules"][0]["seriesQuery"])
    assert series.matcher("pod") == ("!=", "") and series.matcher("namespace") == ("!=", "")


def test_examples_values_file_is_the_rendered_rules():
    """examples/prometheus-adapter-values.yaml is generated from the same helper (`make docs`)."""
    text = adapter_values.path().read_text()
    assert text == adapter_values.render(), "run `make docs`"
    values = yamlio.load(text)
    config = adapter_values.rendered_config()
    assert values["rules"] == {"custom": config["rules"], "external": config["externalRules"]}
    names = {r["name"]["as"] for _, r in promql.adapter_rules(values["rules"])}
    defaults = yamlio.load((chart_dir() / "values.yaml").read_text())["autoscaling"]
    assert names == {defaults["requestsPerSecond"]["metricName"], defaults["latency"]["metricName"]}


def test_adapter_configmap_goes_to_the_adapters_namespace(render, scenario):
    assert one(scenario("hpa-custom-metric"), "ConfigMap", ADAPTER_CONFIGMAP)["metadata"]["namespace"] == "default"
    values = {"autoscaling": {"prometheusAdapter": {"configMap": {"enabled": True, "namespace": "monitoring", "name": "adapter-rules"}}}}
    configmap = one(render(values), "ConfigMap", "adapter-rules")
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert set(configmap["data"]) == {"config.yaml"}


def test_pods_metric_hpa_scales_pods_the_rules_can_see(scenario):
    """The Pods metric is asked for the HPA target's pods; their labels are what podTargetLabels copies."""
    docs = scenario("hpa-custom-metric")
    hpa = one(docs, "HorizontalPodAutoscaler")
    deployment = one(docs, "Deployment", hpa["spec"]["scaleTargetRef"]["name"])
    monitor = one(docs, "ServiceMonitor")
    labels = pod_template(deployment)["metadata"]["labels"]
    assert set(monitor["spec"]["podTargetLabels"]) <= set(labels)
    assert selector_matches(deployment["spec"]["selector"]["matchLabels"], labels)


def test_a_track_cannot_switch_the_hpa_on_under_keda():
    values = {"tracks": {"a": {"autoscaling": {"enabled": True}}}, **KEDA}
    assert "tf-serving: tracks.a.autoscaling.enabled is true but autoscaling.keda.enabled is true too" in render_error(values)


def test_check_catches_two_scalers_on_one_deployment_and_replicas_set_under_a_scaler(render):
    from tfserving_harness import checks
    from tfserving_harness.frozen import thaw

    docs = render({**TWO_TRACKS, "autoscaling": {"enabled": True}})
    assert checks.autoscaler_problems(docs) == []
    hpa = thaw(one(docs, "HorizontalPodAutoscaler", "tfs-tf-serving-canary"))
    hpa["spec"]["scaleTargetRef"]["name"] = "tfs-tf-serving-stable"
    deployment = thaw(one(docs, "Deployment", "tfs-tf-serving-stable"))
    deployment["spec"]["replicas"] = 3
    broken = [hpa if d is one(docs, "HorizontalPodAutoscaler", "tfs-tf-serving-canary") else deployment if d is one(docs, "Deployment", "tfs-tf-serving-stable") else d for d in docs]
    problems = checks.autoscaler_problems(broken)
    assert {(p.object, p.field) for p in problems} == {
        ("HorizontalPodAutoscaler/tfs-tf-serving-stable", "spec.scaleTargetRef"),
        ("Deployment/tfs-tf-serving-stable", "spec.replicas"),
    }
    assert any("already scaled by HorizontalPodAutoscaler/tfs-tf-serving-canary" in p.message for p in problems)


def test_check_catches_a_scaler_whose_deployment_is_not_rendered(render):
    from tfserving_harness import checks
    from tfserving_harness.frozen import thaw

    docs = render({"autoscaling": {"enabled": True}})
    hpa = thaw(one(docs, "HorizontalPodAutoscaler"))
    hpa["spec"]["scaleTargetRef"]["name"] = "tfs-tf-serving-main"
    problems = checks.autoscaler_problems([hpa if d["kind"] == "HorizontalPodAutoscaler" else d for d in docs])
    assert [(p.object, p.message) for p in problems] == [("HorizontalPodAutoscaler/tfs-tf-serving", "targets Deployment/tfs-tf-serving-main, which the chart does not render")]


def test_keda_never_scales_to_zero_and_has_no_activation_threshold(render):
    """A pod woken by a request would load its models first, failing the request: minReplicaCount
    stays >= 1 and activationThreshold (only meaningful with 0) is not a value any more."""
    [trigger] = one(render(KEDA), "ScaledObject")["spec"]["triggers"]
    assert "activationThreshold" not in trigger["metadata"]
    assert_refused({"autoscaling": {"keda": {**KEDA["autoscaling"]["keda"], "activationThreshold": "1"}}}, at("autoscaling.keda.activationThreshold", "additionalProperties"))
    assert_refused({**KEDA, "autoscaling": {**KEDA["autoscaling"], "minReplicas": 0}}, at("autoscaling.minReplicas", "minimum"))


def test_adapter_metric_names_cannot_pass_for_tf_serving_series():
    """The tutorial's invented names (`tensorflow_serving_*`, `tfserving_*`) look like exports; the
    adapter's names carry the chart's own prefix, and TF Serving's real series start with `:tensorflow:`."""
    import yaml

    from tfserving_harness.paths import chart_dir

    autoscaling = yaml.safe_load((chart_dir() / "values.yaml").read_text())["autoscaling"]
    for name in (autoscaling["requestsPerSecond"]["metricName"], autoscaling["latency"]["metricName"]):
        assert name.startswith("tf_serving_chart_"), name
        assert not name.startswith(("tensorflow_serving", "tfserving", ":tensorflow")), name


# ---- Utilization targets need a request (or a limit, which the API server copies into it) ----
NO_MEMORY = {"resources": {"requests": {"memory": None}, "limits": {"memory": None}}}


def test_a_track_whose_request_comes_from_the_top_level_passes(render):
    docs = render({**TWO_TRACKS, "autoscaling": {"enabled": True, "memory": {"enabled": True}}})
    assert len(of_kind(docs, "HorizontalPodAutoscaler")) == 2


def test_a_limit_alone_passes_as_the_pods_request(render):
    docs = render({"autoscaling": {"enabled": True, "memory": {"enabled": True}}, "resources": {"requests": {"memory": None}}})
    assert one(docs, "HorizontalPodAutoscaler")["spec"]["metrics"][1]["resource"]["name"] == "memory"


def test_a_track_without_the_request_is_refused_at_its_own_path():
    values = {**TWO_TRACKS, "tracks": {"stable": {}, "canary": {"resources": {"requests": {"memory": "1Gi"}}}}, "autoscaling": {"enabled": True}}
    assert_refused(values, "tracks.canary.resources.requests.cpu is not set (nor a limit) for track canary, but autoscaling.cpu.enabled asks the HPA for cpu Utilization")


def test_a_track_the_hpa_does_not_cover_needs_no_request(render):
    values = {"tracks": {"stable": {}, "canary": {"resources": {"requests": {"memory": "1Gi"}}, "autoscaling": {"enabled": False}}}, "primaryTrack": "stable", "autoscaling": {"enabled": True}}
    assert [h["metadata"]["name"] for h in of_kind(render(values), "HorizontalPodAutoscaler")] == ["tfs-tf-serving-stable"]


@pytest.mark.parametrize(
    ("metric", "refused"),
    [
        ({"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}}}, True),
        ({"type": "ContainerResource", "containerResource": {"name": "memory", "container": "tf-serving", "target": {"type": "Utilization", "averageUtilization": 80}}}, True),
        ({"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}}, False),
    ],
    ids=["resource-utilization", "container-resource-utilization", "average-value-needs-no-request"],
)
def test_raw_metrics_on_utilization_need_the_request(render, metric, refused):
    values = {**NO_MEMORY, "autoscaling": {"enabled": True, "metrics": [metric]}}
    if refused:
        assert_refused(values, "resources.requests.memory is not set (nor a limit) for track main, but autoscaling.metrics[0] asks the HPA for memory Utilization")
    else:
        assert one(render(values), "HorizontalPodAutoscaler")["spec"]["metrics"] == [metric]
