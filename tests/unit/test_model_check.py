"""The check-models init container: a base path without its versions fails the pod at once with the
path, instead of a server that waits forever (never Ready, never failing). It reads the mounted
models.config, so the model list lives only in the ConfigMap (hot reload and the checksum hold)."""

from __future__ import annotations

import subprocess

from tfserving_harness.manifests import one, pod_template

S3 = {"modelStorage": {"source": "s3", "s3": {"serverSupportsS3": True}}, "models": [{"name": "m", "basePath": "s3://bucket/m"}]}
DOWNLOAD = {"source": "initContainer", "initContainer": {"image": {"repository": "busybox", "tag": "1.37"}, "command": ["true"]}}


def _init(docs, name="check-models", deployment=None):
    containers = pod_template(one(docs, "Deployment", deployment))["spec"].get("initContainers", [])
    return next((c for c in containers if c["name"] == name), None)


def _run(docs, tmp_path, deployment=None):
    """Run the rendered check against the rendered models.config, with /models at tmp_path/models."""
    check = _init(docs, deployment=deployment)
    config = one(docs, "ConfigMap", (deployment or "tfs-tf-serving") + "-config")["data"]["models.config"]
    path = tmp_path / "models.config"
    path.write_text(config.replace('"/models/', f'"{tmp_path}/models/'))
    return subprocess.run(["bash", "-c", check["command"][2], "check-models", str(path)], capture_output=True, text=True, timeout=30)


def test_defaults_check_the_mounted_models_config_in_the_server_image(default_docs):
    check = _init(default_docs)
    server = pod_template(one(default_docs, "Deployment"))["spec"]["containers"][0]
    assert check["args"] == ["/etc/tf-serving/models.config"]
    assert check["image"] == server["image"] and check["securityContext"] == server["securityContext"]
    assert check["volumeMounts"] == [{"name": "config", "mountPath": "/etc/tf-serving", "readOnly": True},
                                     {"name": "models", "mountPath": "/models", "readOnly": True}], "the default demo's mount, as the server sees it"


def test_object_store_sources_and_opt_out_have_no_check(render):
    assert _init(render(S3)) is None
    assert _init(render({"modelStorage": {"checkModelsAtStart": False}})) is None


def test_the_download_runs_first_and_the_check_sees_the_models_volume(render):
    docs = render({"modelStorage": DOWNLOAD})
    assert [c["name"] for c in pod_template(one(docs, "Deployment"))["spec"]["initContainers"]] == ["download-models", "check-models"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in _init(docs)["volumeMounts"]


def test_defaults_fail_at_once_naming_the_path_and_what_to_set(default_docs, tmp_path):
    result = _run(default_docs, tmp_path)
    assert result.returncode == 1
    assert f"no version folder (a number, e.g. {tmp_path}/models/half_plus_two/1) under {tmp_path}/models/half_plus_two" in result.stderr
    assert "set models[].basePath and modelStorage" in result.stderr


def test_numeric_version_folders_pass_and_other_names_do_not(default_docs, tmp_path):
    (tmp_path / "models" / "half_plus_two" / "v1").mkdir(parents=True)
    assert _run(default_docs, tmp_path).returncode == 1
    (tmp_path / "models" / "half_plus_two" / "3").mkdir()
    assert _run(default_docs, tmp_path).returncode == 0


def test_every_version_of_a_specific_policy_must_exist(render, tmp_path):
    docs = render({"modelStorage": {"source": "none"}, "models": [{"name": "a", "basePath": "/models/a", "versionPolicy": {"specific": {"versions": [1, 2]}}}, {"name": "b", "basePath": "/models/b"}]})
    (tmp_path / "models" / "a" / "1").mkdir(parents=True)
    (tmp_path / "models" / "b" / "7").mkdir(parents=True)
    result = _run(docs, tmp_path)
    assert result.returncode == 1 and f"{tmp_path}/models/a/2 does not exist" in result.stderr and "models/b" not in result.stderr
    (tmp_path / "models" / "a" / "2").mkdir()
    assert _run(docs, tmp_path).returncode == 0


def test_each_track_checks_its_own_models(render, tmp_path):
    docs = render({"modelStorage": {"source": "none"}, "tracks": {"stable": {}, "canary": {"models": [{"name": "half_plus_two", "basePath": "/models/v2"}]}}})
    (tmp_path / "models" / "half_plus_two" / "1").mkdir(parents=True)
    assert _run(docs, tmp_path, deployment="tfs-tf-serving-stable").returncode == 0
    canary = _run(docs, tmp_path, deployment="tfs-tf-serving-canary")
    assert canary.returncode == 1 and f"under {tmp_path}/models/v2:" in canary.stderr
