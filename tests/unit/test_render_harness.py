"""The render function every test relies on: caching, immutability, errors, helm discovery."""

from __future__ import annotations

import pytest

from tfserving_harness import helm
from tfserving_harness.frozen import thaw
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
    with pytest.raises(TypeError, match="read-only"):
        deployment["spec"]["replicas"] = 5
    with pytest.raises(TypeError, match="read-only"):
        deployment["spec"]["template"]["spec"]["containers"].append({})
    copy = thaw(deployment)
    copy["spec"]["replicas"] = 5
    assert one(default_docs, "Deployment")["spec"]["replicas"] == 1


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
    assert "replicaCount" in first.value.stderr
    assert "Invalid type" in str(first.value)
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
