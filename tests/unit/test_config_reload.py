"""Which config changes roll the pods (checksum annotation) and which reach them by hot reload."""

from __future__ import annotations

import hashlib
import shutil

import yaml

from tfserving_harness import yamlio
from tfserving_harness.manifests import one, pod_template, server_container, server_flags
from tfserving_harness.paths import chart_dir

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


def test_with_hot_reload_models_changes_do_not_roll_the_pods(render):
    hot = render({**HOT, **NO_STORAGE})
    hot_other = render({**HOT, **OTHER_MODELS})
    assert one(hot, "ConfigMap", "tfs-tf-serving-config")["data"]["models.config"] != one(hot_other, "ConfigMap", "tfs-tf-serving-config")["data"]["models.config"]
    assert pod_template(one(hot, "Deployment")) == pod_template(one(hot_other, "Deployment"))
    assert checksum(hot) == expected_checksum(one(hot, "ConfigMap", "tfs-tf-serving-config"), without=("models.config", "readiness.sh"))
    assert server_flags(server_container(one(hot, "Deployment")))["model_config_file_poll_wait_seconds"] == "30"


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
