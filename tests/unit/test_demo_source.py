"""modelStorage.source demo, the default: the chart's built-in half_plus_two version 1 in a ConfigMap,
mounted as a version folder the server (and the check-models init container) can read, and
refused with any model list but its own, so nobody's models are silently replaced by it."""

from __future__ import annotations

import json
import subprocess

import pytest

from tfserving_harness import demo_model, helm, tfs_config
from tfserving_harness.manifests import configmap_volume_files, of_kind, one, pod_template, server_container, write_like_kubelet
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import render_error

CONFIGMAP = "tfs-tf-serving-demo-model"
VERSION_FOLDER = f"{demo_model.MODEL_NAME}/{demo_model.CHART_DEMO_VERSION}"
OWN_MODELS = [{"name": "resnet", "basePath": "/models/resnet"}]


def chart_copy() -> dict[str, bytes]:
    """The demo's files as the chart ships them, by path inside the version folder."""
    return demo_model.version_folder_files(chart_dir() / demo_model.CHART_DEMO_SUBDIR / VERSION_FOLDER)


def models_volume(deployment):
    return next(v for v in pod_template(deployment)["spec"]["volumes"] if v["name"] == "models")


def mounted_files(docs, deployment=None) -> dict[str, bytes]:
    """What the kubelet puts under modelStorage.mountPath for the Deployment's `models` volume."""
    volume = models_volume(one(docs, "Deployment", deployment))
    return configmap_volume_files(one(docs, "ConfigMap", volume["configMap"]["name"]), volume)


def test_the_default_source_is_the_demo_mounted_read_only_at_the_mount_path(default_docs):
    deployment = one(default_docs, "Deployment")
    assert models_volume(deployment)["configMap"]["name"] == CONFIGMAP
    mounts = [m for m in server_container(deployment)["volumeMounts"] if m["name"] == "models"]
    assert mounts == [{"name": "models", "mountPath": "/models", "readOnly": True}]


def test_the_configmap_carries_exactly_the_charts_files_byte_for_byte(default_docs):
    configmap = one(default_docs, "ConfigMap", CONFIGMAP)
    assert "data" not in configmap, "binary files belong in binaryData (data must be UTF-8)"
    files = mounted_files(default_docs)
    assert files == {f"{VERSION_FOLDER}/{path}": data for path, data in chart_copy().items()}
    assert len(files) == len(configmap["binaryData"]), "every key is mounted"


def test_the_mount_is_the_version_folder_of_the_models_base_path(default_docs):
    """The rendered models.config's basePath, under the mount path, holds one numeric version folder
    with what TensorFlow's loader reads (saved_model.pb, variables/variables.index and its data
    shards) and TF Serving's warmup file (assets.extra/tf_serving_warmup_requests)."""
    config = tfs_config.parse_model_server_config(one(default_docs, "ConfigMap", "tfs-tf-serving-config")["data"]["models.config"])
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path) == (demo_model.MODEL_NAME, "/models/half_plus_two")
    base = model.base_path.removeprefix("/models/")
    files = set(mounted_files(default_docs))
    assert {f"{base}/1/saved_model.pb", f"{base}/1/variables/variables.index", f"{base}/1/assets.extra/tf_serving_warmup_requests"} <= files
    assert any(p.startswith(f"{base}/1/variables/variables.data-") for p in files)
    assert {p.split("/", 2)[1] for p in files} == {"1"} and {p.split("/", 1)[0] for p in files} == {base}


def test_check_models_passes_on_the_mounted_demo_and_fails_without_it(default_docs, tmp_path):
    """The check-models init container, run as rendered, against the files laid out as the kubelet
    lays out a ConfigMap volume (symlinks through `..data`)."""
    deployment = one(default_docs, "Deployment")
    (check,) = [c for c in pod_template(deployment)["spec"]["initContainers"] if c["name"] == "check-models"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in check["volumeMounts"]
    config = one(default_docs, "ConfigMap", "tfs-tf-serving-config")["data"]["models.config"]
    models_config = tmp_path / "models.config"
    models_config.write_text(config.replace('"/models/', f'"{tmp_path}/models/'))

    def run():
        return subprocess.run(["bash", "-c", check["command"][2], "check-models", str(models_config)], capture_output=True, text=True, timeout=30)

    (tmp_path / "models").mkdir()
    assert run().returncode == 1, "an empty mount must fail: the check would otherwise prove nothing"
    write_like_kubelet(tmp_path / "models", mounted_files(default_docs))
    result = run()
    assert result.returncode == 0, result.stderr


def test_the_configmap_is_small_and_one_per_release(render):
    """A ConfigMap (like any object) must stay under 1 MiB in etcd, and Helm keeps every revision's
    manifest and chart files in a release Secret (also 1 MiB): the demo ConfigMap is about 18 KiB."""
    docs = render({"tracks": {"stable": {}, "canary": {}}, "primaryTrack": "stable"})
    (configmap,) = [c for c in of_kind(docs, "ConfigMap") if "binaryData" in c]
    size = len(json.dumps(configmap))
    assert size < 64 * 1024, f"ConfigMap/{CONFIGMAP} is {size} bytes"
    for deployment in of_kind(docs, "Deployment"):
        assert models_volume(deployment)["configMap"]["name"] == CONFIGMAP, deployment["metadata"]["name"]
        assert mounted_files(docs, deployment["metadata"]["name"]) == mounted_files(docs, "tfs-tf-serving-stable")


def test_no_demo_configmap_with_another_source(render):
    docs = render({"modelStorage": {"source": "existingClaim", "existingClaim": {"claimName": "models"}}, "models": OWN_MODELS})
    assert [c for c in of_kind(docs, "ConfigMap") if "binaryData" in c] == []


@pytest.mark.parametrize(
    ("values", "path"),
    [
        pytest.param({"models": OWN_MODELS}, "models", id="own-models"),
        pytest.param({"models": [*OWN_MODELS, {"name": "half_plus_two", "basePath": "/models/half_plus_two"}]}, "models", id="demo-plus-own"),
        pytest.param({"models": [{"name": "half_plus_two", "basePath": "/models/half_plus_two", "versionPolicy": {"specific": {"versions": [3]}}}]},
                     "models", id="own-versions-of-the-demo-name"),
        pytest.param({"models": [{"name": "resnet", "basePath": "gs://ml-models/resnet"}]}, "models", id="object-store-models-without-their-source"),
        pytest.param({"modelStorage": {"mountPath": "/data"}}, "models", id="mount-path-moved-without-the-models"),
        pytest.param({"tracks": {"stable": {}, "canary": {"models": OWN_MODELS}}}, "tracks.canary.models", id="track-overrides-models"),
        pytest.param({"blueGreen": {"enabled": True, "green": {"models": OWN_MODELS}}}, "blueGreen.green.models", id="colour-overrides-models"),
    ],
)
def test_the_demo_refuses_any_other_model_list_naming_both_values(values, path):
    message = render_error(values)
    assert f"tf-serving: {path} (" in message and 'modelStorage.source is "demo"' in message, message
    assert "Set modelStorage.source to where they are" in message and "none when the server image itself holds every basePath" in message


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"models": [{"name": "half_plus_two", "basePath": "/models/half_plus_two"}]}, id="platform-left-to-its-default"),
        pytest.param({"modelStorage": {"mountPath": "/data"}, "models": [{"name": "half_plus_two", "basePath": "/data/half_plus_two"}]}, id="moved-together"),
        pytest.param({"tracks": {"stable": {}, "canary": {"replicaCount": 1}}}, id="tracks-without-their-own-models"),
        pytest.param({"blueGreen": {"enabled": True}}, id="blue-green"),
        pytest.param({"server": {"modelConfigPollWaitSeconds": 30}}, id="hot-reload"),
    ],
)
def test_the_demo_renders_with_its_own_model_list(render, values):
    docs = render(values)
    mount = (values.get("modelStorage") or {}).get("mountPath", "/models")
    for deployment in of_kind(docs, "Deployment"):
        assert models_volume(deployment)["configMap"]["name"] == CONFIGMAP
        assert {"name": "models", "mountPath": mount, "readOnly": True} in server_container(deployment)["volumeMounts"]


def test_notes_say_it_is_the_demo_with_a_rest_and_a_grpc_prediction_and_how_to_serve_your_own():
    notes = helm.render_notes()
    assert "BUILT-IN DEMO" in notes and "To serve your own models, set `models` and modelStorage.source" in notes
    assert "curl -s -X POST http://localhost:8501/v1/models/half_plus_two:predict -d '{\"instances\": [1.0, 2.0, 5.0]}'" in notes
    assert '{"predictions": [2.5, 3.0, 4.5]}' in notes
    grpc = next(line for line in notes.splitlines() if line.strip().startswith("grpcurl") and '"inputs"' in line)
    request = json.loads(grpc.split("-d '", 1)[1].split("'", 1)[0])
    assert request["inputs"]["x"]["float_val"] == [1.0, 2.0, 5.0] and request["model_spec"]["name"] == "half_plus_two"
    assert "tensorflow.serving.PredictionService/Predict" in notes[notes.index(grpc):]
    own = helm.render_notes({"modelStorage": {"source": "none"}, "models": OWN_MODELS})
    assert "DEMO" not in own and "[2.5, 3.0, 4.5]" not in own


def test_helm_test_sends_the_demo_tf_servings_own_request(default_docs):
    command = one(default_docs, "Pod")["spec"]["containers"][0]["command"]
    assert command[-3:] == ["tfs-tf-serving", demo_model.MODEL_NAME, '{"instances": [1.0, 2.0, 5.0]}']
