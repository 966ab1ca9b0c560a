"""The render function every test relies on: caching, immutability, errors, helm discovery."""

from __future__ import annotations

import pytest

from tfserving_harness import helm
from tfserving_harness.frozen import freeze, thaw
from tfserving_harness.manifests import one


def test_cache_returns_the_same_documents_for_the_same_arguments_in_any_key_order():
    first = helm.render_chart({"replicaCount": 2, "image": {"tag": "2.19.1", "pullPolicy": "Always"}})
    second = helm.render_chart({"image": {"pullPolicy": "Always", "tag": "2.19.1"}, "replicaCount": 2})
    assert first is second


def test_cache_separates_every_argument():
    base = helm.render_chart()
    assert helm.render_chart(name="other") is not base
    assert helm.render_chart(namespace="ml") is not base
    assert helm.render_chart(kube_version=helm.OLDEST_KUBE_VERSION) is not base
    assert one(helm.render_chart(namespace="ml"), "Deployment")["metadata"]["namespace"] == "ml"


def test_rendered_documents_cannot_be_mutated_by_a_test(default_docs):
    deployment = one(default_docs, "Deployment")
    with pytest.raises(TypeError, match="frozendict"):
        deployment["spec"]["replicas"] = 5
    with pytest.raises(TypeError, match="read-only"):
        deployment["spec"]["template"]["spec"]["containers"].append({})
    copy = thaw(deployment)
    copy["spec"]["replicas"] = 5
    assert one(default_docs, "Deployment")["spec"]["replicas"] == 1


def test_equal_documents_hash_equal_so_they_can_key_caches():
    """frozendict hashes by value (the hand-written FrozenDict hashed by identity)."""
    first = freeze({"kind": "Service", "spec": {"ports": [{"port": 8500}, {"port": 8501}]}})
    second = freeze({"spec": {"ports": [{"port": 8500}, {"port": 8501}]}, "kind": "Service"})
    assert first is not second and first == second and hash(first) == hash(second)
    assert hash(first) != hash(freeze({"kind": "Service", "spec": {"ports": [{"port": 8501}, {"port": 8500}]}}))
    assert {first: "validated"}[second] == "validated"


def test_values_are_passed_on_stdin_and_win_over_values_files(tmp_path):
    values_file = tmp_path / "values.yaml"
    values_file.write_text("replicaCount: 3\nimage:\n  tag: '2.18.0'\n")
    docs = helm.render_chart({"replicaCount": 4}, values_files=[values_file])
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 4
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "tensorflow/serving:2.18.0"


def test_render_error_carries_helms_stderr_and_is_cached():
    with pytest.raises(helm.RenderError) as first:
        helm.render_chart({"replicaCount": "two"})
    assert [(v.path, v.rule) for v in helm.schema_violations(first.value.stderr)] == [("replicaCount", "type")]
    assert first.value.stderr.strip() in str(first.value)
    hits = helm.cache_stats.hits
    with pytest.raises(helm.RenderError):
        helm.render_chart({"replicaCount": "two"})
    assert helm.cache_stats.hits == hits + 1


def test_fail_messages_from_any_template_surface():
    """The whole chart is rendered, so a `fail` in _validate.tpl reaches the caller."""
    with pytest.raises(helm.RenderError, match="server.grpcPort and server.restPort are both 8500"):
        helm.render_chart({"server": {"restPort": 8500}})


def test_find_helm_prefers_the_venv_binary():
    assert helm.find_helm().endswith("/bin/helm")


def test_find_helm_says_what_to_run_when_there_is_none(monkeypatch, tmp_path):
    monkeypatch.setattr(helm.sys, "prefix", str(tmp_path))
    monkeypatch.setattr(helm, "REPO_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(helm.HelmNotFoundError, match="make setup"):
        helm.find_helm()


HELM3_SCHEMA_ERROR = """Error: values don't meet the specifications of the schema(s) in the following chart(s):
tf-serving:
- (root): Additional property replicaCont is not allowed
- models.0: basePath is required
- tracks.stable: Must validate one and only one schema (oneOf)
- tracks.stable.replicaCount: Invalid type. Expected: integer, given: string
- podLabels: Additional property bad key is not allowed
"""
HELM4_SCHEMA_ERROR = """values don't meet the specifications of the schema(s) in the following chart(s):
tf-serving:
- at '': additional properties 'replicaCont' not allowed
- at '/models/0': missing property 'basePath'
- at '/tracks/stable': 'oneOf' failed, none matched
  - at '/tracks/stable': got object, want null
  - at '/tracks/stable/replicaCount': got string, want integer
- at '/podLabels': additional properties 'bad key' not allowed
- at '/commonLabels/app.kubernetes.io~1name': 'not' failed
"""


def test_schema_violations_read_helm3_and_helm4_alike():
    helm3 = {(v.path, v.rule) for v in helm.schema_violations(HELM3_SCHEMA_ERROR)}
    helm4 = {(v.path, v.rule) for v in helm.schema_violations(HELM4_SCHEMA_ERROR)}
    expected = {("replicaCont", "additionalProperties"), ("models.0.basePath", "required"), ("tracks.stable", "oneOf"),
                ("tracks.stable.replicaCount", "type"), ("podLabels.bad key", "additionalProperties")}
    assert helm3 == expected
    assert helm4 == expected | {("tracks.stable", "type"), ("commonLabels.app.kubernetes.io/name", "not")}
    assert helm.deepest_paths(helm.schema_violations(HELM4_SCHEMA_ERROR)) - {"commonLabels.app.kubernetes.io/name"} == \
        helm.deepest_paths(helm.schema_violations(HELM3_SCHEMA_ERROR))


def test_chart_message_drops_each_helms_own_prefix_and_hint():
    helm3 = "Error: execution error at (tf-serving/templates/validate.yaml:8:4): tf-serving: x is wrong\n\nUse --debug flag to render out invalid YAML\n"
    helm4 = "execution error at (tf-serving/templates/validate.yaml:8:4): tf-serving: x is wrong"
    assert helm.chart_message(helm3) == helm.chart_message(helm4) == "tf-serving: x is wrong"
    assert helm.chart_message(HELM4_SCHEMA_ERROR) == ""


def test_values_files_merge_like_helm():
    merged = helm.merge_values({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3], "e": None}, "d": {"x": 1}})
    assert merged == {"a": {"b": 1, "c": [3], "e": None}, "d": {"x": 1}}


@pytest.mark.parametrize(("constraint", "version", "ok"), [
    (">=1.29.0-0", "1.29.0", True), (">=1.29.0-0", "v1.37.2", True), (">=1.29.0-0", "1.28.15", False),
    (">=1.29.0-0, <1.38.0-0", "1.38.0", False), (">=1.29.0-0 <1.38.0-0", "1.31.0", True),
])
def test_kube_version_constraint(constraint, version, ok):
    if ok:
        helm.check_kube_version(constraint, version)
    else:
        with pytest.raises(helm.RenderError, match="incompatible with Kubernetes"):
            helm.check_kube_version(constraint, version)


def test_kube_version_constraint_beyond_the_check_is_refused_not_passed():
    with pytest.raises(ValueError, match="beyond the harness's check"):
        helm.check_kube_version("^1.29 || ~1.30", "1.30.0")


def test_an_edited_values_file_is_rendered_again(tmp_path):
    """The cache keys on a values file's contents, not only its path (check_values renders through it)."""
    values_file = tmp_path / "values.yaml"
    values_file.write_text("replicaCount: 2\n")
    assert one(helm.render_chart(values_files=[values_file]), "Deployment")["spec"]["replicas"] == 2
    values_file.write_text("replicaCount: 3\n")
    assert one(helm.render_chart(values_files=[values_file]), "Deployment")["spec"]["replicas"] == 3
