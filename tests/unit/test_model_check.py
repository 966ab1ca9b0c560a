"""The check-models init container: a base path without its versions fails the pod at once with the
path, instead of a server that waits forever (never Ready, never failing). It reads the mounted
models.config, so the model list lives only in the ConfigMap (hot reload and the checksum hold), and
reads folder names as TF Serving does (sources/storage_path/file_system_storage_path_source.cc:
absl::SimpleAtoi into an int64). The rendered script runs here, with bash, against real folders."""

from __future__ import annotations

import subprocess

import pytest

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
    """No base path at all: TF Serving logs "Could not find base path" at every poll, for ever."""
    result = _run(default_docs, tmp_path)
    assert result.returncode == 1
    assert f"model half_plus_two: its base path {tmp_path}/models/half_plus_two is not a folder" in result.stderr
    assert "set models[].basePath and modelStorage" in result.stderr


def test_an_empty_base_path_fails_naming_a_version_folder_to_create(default_docs, tmp_path):
    (tmp_path / "models" / "half_plus_two").mkdir(parents=True)
    result = _run(default_docs, tmp_path)
    assert result.returncode == 1
    assert f"no version folder (a number, e.g. {tmp_path}/models/half_plus_two/1) under {tmp_path}/models/half_plus_two" in result.stderr


def test_numeric_version_folders_pass_and_other_names_do_not(default_docs, tmp_path):
    (tmp_path / "models" / "half_plus_two" / "v1").mkdir(parents=True)
    assert _run(default_docs, tmp_path).returncode == 1
    (tmp_path / "models" / "half_plus_two" / "3").mkdir()
    assert _run(default_docs, tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("folder", "version"),
    [("7", 7), ("0008", 8), ("+9", 9), (" 10\t", 10), ("+0012", 12), ("0001000000000000000000", 10**18)],
    ids=["plain", "leading-zeros", "plus-sign", "ascii-whitespace", "sign-and-zeros", "beyond-int32"],
)
def test_folder_names_are_read_as_tf_serving_reads_them(render, tmp_path, folder, version):
    """absl::SimpleAtoi: ASCII whitespace around an optional sign and decimal digits, into an int64."""
    docs = render({"modelStorage": {"source": "none"}, "models": [{"name": "a", "basePath": "/models/a", "versionPolicy": {"specific": {"versions": [version]}}}]})
    (tmp_path / "models" / "a" / folder).mkdir(parents=True)
    result = _run(docs, tmp_path)
    assert result.returncode == 0 and not result.stderr, result.stderr


@pytest.mark.parametrize("folder", ["v1", "1.0", "1a", "0x1", "+", "1 2", "9223372036854775808", ".1"])
def test_names_tf_serving_does_not_read_as_a_version_are_not_versions(default_docs, tmp_path, folder):
    (tmp_path / "models" / "half_plus_two" / folder).mkdir(parents=True)
    result = _run(default_docs, tmp_path)
    assert result.returncode == 1 and "no version folder" in result.stderr


def test_a_specific_policy_needs_one_listed_version_and_warns_for_each_missing_one(render, tmp_path):
    """TF Serving serves the listed versions it finds and only logs the others (AspireSpecificVersions):
    a version published later (ci/hot-reload) must not fail new pods; none at all waits forever."""
    docs = render({"modelStorage": {"source": "none"}, "models": [{"name": "a", "basePath": "/models/a", "versionPolicy": {"specific": {"versions": [1, 2, 3]}}}, {"name": "b", "basePath": "/models/b"}]})
    (tmp_path / "models" / "a" / "9").mkdir(parents=True)
    (tmp_path / "models" / "b" / "7").mkdir(parents=True)
    none = _run(docs, tmp_path)
    assert none.returncode == 1
    assert f"model a: none of the versions its versionPolicy.specific lists (1 2 3) is under {tmp_path}/models/a" in none.stderr
    assert "model b" not in none.stderr
    (tmp_path / "models" / "a" / "2").mkdir()
    some = _run(docs, tmp_path)
    assert some.returncode == 0
    warnings = [line for line in some.stderr.splitlines() if line.startswith("tf-serving: warning: model a: version")]
    assert [line.split()[5] for line in warnings] == ["1", "3"], some.stderr
    assert f"is not under {tmp_path}/models/a (yet)" in warnings[0]


def test_a_missing_base_path_of_one_model_fails_and_the_others_are_still_checked(render, tmp_path):
    docs = render({"modelStorage": {"source": "none"}, "models": [{"name": "a", "basePath": "/models/a"}, {"name": "b", "basePath": "/models/b"}]})
    (tmp_path / "models" / "b").mkdir(parents=True)
    result = _run(docs, tmp_path)
    assert result.returncode == 1
    assert "model a: its base path" in result.stderr and "model b: no version folder" in result.stderr


def test_each_track_checks_its_own_models(render, tmp_path):
    docs = render({"modelStorage": {"source": "none"}, "tracks": {"stable": {}, "canary": {"models": [{"name": "half_plus_two", "basePath": "/models/v2"}]}}})
    (tmp_path / "models" / "half_plus_two" / "1").mkdir(parents=True)
    assert _run(docs, tmp_path, deployment="tfs-tf-serving-stable").returncode == 0
    canary = _run(docs, tmp_path, deployment="tfs-tf-serving-canary")
    assert canary.returncode == 1 and f"its base path {tmp_path}/models/v2 is not a folder" in canary.stderr
