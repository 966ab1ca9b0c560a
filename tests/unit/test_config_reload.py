"""Which config changes roll the pods (checksum annotation) and which reach them by hot reload."""

from __future__ import annotations

import hashlib
import shutil

import pytest
import yaml

from tfserving_harness import yamlio
from tfserving_harness.manifests import one, pod_template, server_container, server_flags
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import assert_refused

HOT = {"server": {"modelConfigPollWaitSeconds": 30}}
#: Models of one's own need their storage (here: none, in the image); the built-in demo serves only its own.
NO_STORAGE = {"modelStorage": {"source": "none"}}
OTHER_MODELS = {**NO_STORAGE, "models": [{"name": "other", "basePath": "/models/other"}]}


def checksum(docs) -> str:
    return pod_template(one(docs, "Deployment"))["metadata"]["annotations"]["checksum/config"]


def expected_checksum(configmap, *, without=()) -> str:
    """What the chart hashes: each file name and its content, in name order. ConfigMap data only."""
    data = configmap["data"]
    text = "".join(f"{name}\n{data[name]}" for name in sorted(data) if name not in without)
    return hashlib.sha256(text.encode()).hexdigest()


def test_hot_reload_is_off_by_default(default_docs):
    assert "model_config_file_poll_wait_seconds" not in server_flags(server_container(one(default_docs, "Deployment")))


def test_checksum_covers_exactly_the_config_data(render):
    """Every file the server reads; not readiness.sh, which only pods of chart 0.2.0 run."""
    docs = render({"batching": {"enabled": True}})
    configmap = one(docs, "ConfigMap", "tfs-tf-serving-config")
    assert sorted(configmap["data"]) == ["batching.config", "models.config", "monitoring.config", "readiness.sh"]
    assert checksum(docs) == expected_checksum(configmap, without=("readiness.sh",))


def test_without_hot_reload_a_models_change_rolls_the_pods(default_docs, render):
    assert checksum(render(OTHER_MODELS)) != checksum(default_docs)


def model_set_checksum(configmap, models) -> str:
    """What the chart hashes under hot reload: the files read once, and the model set (each model's
    name, base path and platform, quoted, in order) instead of models.config."""
    data = dict(configmap["data"])
    del data["models.config"], data["readiness.sh"]
    # ConfigMap data ends in a newline (the chart hashes each file and a newline), the model set does not.
    data["models.config model set"] = "\n".join(sorted(f'"{m["name"]}" "{m["basePath"]}" "{m.get("platform", "tensorflow")}"' for m in models)) + "\n"
    text = "".join(f"{name}\n{data[name]}" for name in sorted(data))
    return hashlib.sha256(text.encode()).hexdigest()


BASE = {"name": "ranker", "basePath": "/models/ranker", "versionPolicy": {"specific": {"versions": [7]}}}


def test_with_hot_reload_version_and_label_edits_do_not_roll_the_pods(render):
    """They reach running pods through the mounted models.config; the server applies them (or logs why not)."""
    hot = render({**HOT, **NO_STORAGE, "models": [BASE]})
    edited = {**BASE, "versionPolicy": {"specific": {"versions": [7, 8]}}, "versionLabels": {"stable": 7, "canary": 8}}
    hot_edited = render({**HOT, **NO_STORAGE, "server": {**HOT["server"], "allowVersionLabelsForUnavailableModels": True}, "models": [edited]})
    assert one(hot, "ConfigMap")["data"]["models.config"] != one(hot_edited, "ConfigMap")["data"]["models.config"]
    assert checksum(hot) == checksum(hot_edited)
    assert checksum(hot) == model_set_checksum(one(hot, "ConfigMap"), [BASE])
    assert server_flags(server_container(one(hot, "Deployment")))["model_config_file_poll_wait_seconds"] == "30"


@pytest.mark.parametrize(
    "models",
    [
        [BASE, {"name": "other", "basePath": "/models/other"}],
        [{"name": "other", "basePath": "/models/other"}],
        [{**BASE, "basePath": "/models/ranker-v2"}],
        [{**BASE, "name": "ranker2"}],
    ],
    ids=["add", "replace", "re-path", "rename"],
)
def test_with_hot_reload_a_change_of_the_model_set_rolls_the_pods(render, models):
    """ServerCore::ReloadConfig waits without a timeout, holding its lock, until a new model has a
    version: a model it cannot load would stop every later reload, and only new pods clear it. (The
    platform is hashed too, but the schema allows only `tensorflow` so far.)"""
    before = render({**HOT, **NO_STORAGE, "models": [BASE]})
    after = render({**HOT, **NO_STORAGE, "models": models})
    assert checksum(after) != checksum(before)
    assert checksum(after) == model_set_checksum(one(after, "ConfigMap"), models)


def test_with_hot_reload_the_model_order_does_not_roll_the_pods(render):
    other = {"name": "other", "basePath": "/models/other"}
    assert checksum(render({**HOT, **NO_STORAGE, "models": [BASE, other]})) == checksum(render({**HOT, **NO_STORAGE, "models": [other, BASE]}))


def test_hot_reload_without_file_system_polling_is_refused():
    """file_system_poll_wait_seconds 0 polls once at start: a reloaded policy would never be looked for."""
    assert_refused({"server": {"modelConfigPollWaitSeconds": 30, "fileSystemPollWaitSeconds": 0}},
                   "tf-serving: server.fileSystemPollWaitSeconds is 0 but server.modelConfigPollWaitSeconds is 30 (hot reload)")


def test_with_hot_reload_files_read_once_still_roll_the_pods(render):
    """The server re-reads only --model_config_file; batching and monitoring files are read at start."""
    hot = checksum(render(HOT))
    assert checksum(render({**HOT, "batching": {"enabled": True}})) != hot
    assert checksum(render({**HOT, "metrics": {"path": "/monitoring/other"}})) != hot


def test_config_is_mounted_as_a_directory_so_updates_reach_the_pod(default_docs):
    deployment = one(default_docs, "Deployment")
    flags = server_flags(server_container(deployment))
    mount = next(m for m in server_container(deployment)["volumeMounts"] if m["name"] == "config")
    assert "subPath" not in mount, "kubelet never updates subPath mounts"
    assert flags["model_config_file"].startswith(mount["mountPath"].rstrip("/") + "/")


def test_chart_version_bump_alone_does_not_roll_the_pods(tmp_path, render):
    """Neither the checksum nor the pod labels carry the chart version (helm.sh/chart stays on the objects)."""
    copy = tmp_path / "tf-serving"
    shutil.copytree(chart_dir(), copy)
    chart_yaml = yamlio.load((copy / "Chart.yaml").read_text())
    chart_yaml["version"] = chart_yaml["version"] + "-bumped"
    (copy / "Chart.yaml").write_text(yaml.safe_dump(chart_yaml))
    before, after = render(), render(chart=copy)
    assert one(before, "Deployment")["metadata"]["labels"]["helm.sh/chart"] != one(after, "Deployment")["metadata"]["labels"]["helm.sh/chart"]
    assert pod_template(one(before, "Deployment")) == pod_template(one(after, "Deployment"))
