"""modelStorage: one source, mounted (or read by the server) the way each needs, with base paths that
match it and a clear error for every bad combination."""

from __future__ import annotations

import pytest

from tfserving_harness import helm
from tfserving_harness.manifests import containers, of_kind, one, pod_template, server_container
from tfserving_harness.testing import assert_refused, at, render_error

LOCAL_MODEL = [{"name": "resnet", "basePath": "/models/resnet"}]


def _spec(docs, name=None):
    return pod_template(one(docs, "Deployment", name))["spec"]


def _models_volume(docs):
    return next((v for v in _spec(docs).get("volumes", []) if v["name"] == "models"), None)


def _models_mount(docs):
    return next((m for m in server_container(one(docs, "Deployment")).get("volumeMounts", []) if m["name"] == "models"), None)


def _env(docs):
    return {e["name"]: e for e in server_container(one(docs, "Deployment")).get("env", [])}


def _fails(values, *fragments, **kwargs):
    stderr = render_error(values, **kwargs)
    for fragment in fragments:
        assert fragment in stderr, stderr
    return stderr


def test_source_none_mounts_nothing(render):
    docs = render({"modelStorage": {"source": "none"}})
    assert _models_volume(docs) is None and _models_mount(docs) is None
    assert of_kind(docs, "PersistentVolumeClaim") == [] and [c["metadata"]["name"] for c in of_kind(docs, "ConfigMap")] == ["tfs-tf-serving-config"]
    assert "env" not in server_container(one(docs, "Deployment"))


def test_notes_warn_when_no_storage_is_mounted_and_name_the_empty_claim_otherwise():
    """`helm install` output: with source none the user is told the models must come from somewhere;
    with pvc the claim the chart created (empty) is named instead, and the warning is gone."""
    none = helm.render_notes({"modelStorage": {"source": "none"}})
    assert 'WARNING: modelStorage.source is "none"' in none
    pvc = helm.render_notes({"modelStorage": {"source": "pvc"}})
    assert "WARNING: modelStorage.source" not in pvc
    assert "PersistentVolumeClaim tfs-tf-serving-models EMPTY" in pvc
    assert "PersistentVolumeClaim" not in none


def test_existing_claim_is_mounted_read_only(render):
    docs = render({"modelStorage": {"source": "existingClaim", "existingClaim": {"claimName": "shared", "subPath": "tfs"}}, "models": LOCAL_MODEL})
    assert _models_volume(docs)["persistentVolumeClaim"] == {"claimName": "shared", "readOnly": True}
    assert _models_mount(docs) == {"name": "models", "mountPath": "/models", "readOnly": True, "subPath": "tfs"}


def test_chart_created_claim_is_shared_by_tracks_and_kept(render):
    docs = render(
        {
            "modelStorage": {"source": "pvc", "pvc": {"size": "20Gi", "accessModes": ["ReadOnlyMany"], "storageClassName": "fast"}},
            "models": LOCAL_MODEL,
            "tracks": {"stable": {}, "canary": {}},
        }
    )
    (claim,) = of_kind(docs, "PersistentVolumeClaim")
    assert claim["spec"] == {"accessModes": ["ReadOnlyMany"], "storageClassName": "fast", "resources": {"requests": {"storage": "20Gi"}}}
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep", "uninstall must not delete the models"
    for deployment in of_kind(docs, "Deployment"):
        volume = next(v for v in pod_template(deployment)["spec"]["volumes"] if v["name"] == "models")
        assert volume["persistentVolumeClaim"] == {"claimName": claim["metadata"]["name"], "readOnly": True}


def test_chart_created_claim_defaults_to_read_write_many(render):
    """Every pod of every track, on any node (and the surge pod of a rollout) mounts the one claim."""
    (claim,) = of_kind(render({"modelStorage": {"source": "pvc"}, "models": LOCAL_MODEL}), "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


@pytest.mark.parametrize(
    ("values", "reasons"),
    [
        ({}, ["every rollout starts a surge pod next to the old ones (rollingUpdate.maxSurge 1, maxUnavailable 0)"]),
        ({"replicaCount": 2}, ["the tracks run 2 pods (replicaCount)", "surge pod"]),
        ({"tracks": {"stable": {}, "canary": {}}}, ["the tracks run 2 pods (replicaCount)"]),
        ({"tracks": {"stable": {}, "canary": {"replicaCount": 0, "autoscaling": {"enabled": True}}}}, ["track canary is autoscaled (tracks.canary.autoscaling.enabled)"]),
        ({"autoscaling": {"enabled": True}}, ["track main is autoscaled (autoscaling.enabled)"]),
        ({"autoscaling": {"keda": {"enabled": True, "force": True, "serverAddress": "http://p:9090"}}}, ["KEDA scales the tracks (autoscaling.keda.enabled)"]),
    ],
)
def test_read_write_once_claim_fails_when_more_than_one_pod_may_mount_it(values, reasons):
    message = _fails(
        {**values, "modelStorage": {"source": "pvc", "pvc": {"accessModes": ["ReadWriteOnce"]}}, "models": LOCAL_MODEL},
        "tf-serving: modelStorage.pvc.accessModes is [ReadWriteOnce], but more than one pod may mount the claim: ",
        "hangs on Multi-Attach",
        "set modelStorage.pvc.allowReadWriteOnce=true",
    )
    for reason in reasons:
        assert reason in message


def test_read_write_once_claim_renders_with_the_single_node_opt_in(render):
    values = {"replicaCount": 2, "modelStorage": {"source": "pvc", "pvc": {"accessModes": ["ReadWriteOnce"], "allowReadWriteOnce": True}}, "models": LOCAL_MODEL}
    (claim,) = of_kind(render(values), "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_read_write_once_pod_claim_deadlocks_any_rollout_and_fails():
    _fails(
        {"modelStorage": {"source": "pvc", "pvc": {"accessModes": ["ReadWriteOncePod"], "allowReadWriteOnce": True}}, "models": LOCAL_MODEL},
        "tf-serving: modelStorage.pvc.accessModes has ReadWriteOncePod; every rollout starts a surge pod",
    )


def test_nfs_is_an_inline_read_only_volume(render):
    docs = render({"modelStorage": {"source": "nfs", "nfs": {"server": "10.0.0.2", "path": "/exports/models"}}, "models": LOCAL_MODEL})
    assert _models_volume(docs)["nfs"] == {"server": "10.0.0.2", "path": "/exports/models", "readOnly": True}
    assert _models_mount(docs)["readOnly"] is True


def test_s3_credentials_come_from_the_secret_and_nothing_is_mounted(render):
    docs = render(
        {
            "modelStorage": {"source": "s3", "s3": {"serverSupportsS3": True, "existingSecret": "aws", "region": "eu-west-1", "endpoint": "minio:9000", "useHttps": False}},
            "models": [{"name": "m", "basePath": "s3://bucket/m"}],
            "server": {"extraEnv": [{"name": "TF_CPP_MIN_LOG_LEVEL", "value": "1"}]},
        }
    )
    env = _env(docs)
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"] == {"secretKeyRef": {"name": "aws", "key": "AWS_ACCESS_KEY_ID"}}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "aws", "key": "AWS_SECRET_ACCESS_KEY"}}
    assert (env["AWS_REGION"]["value"], env["S3_ENDPOINT"]["value"], env["S3_USE_HTTPS"]["value"], env["S3_VERIFY_SSL"]["value"]) == ("eu-west-1", "minio:9000", "0", "1")
    assert env["TF_CPP_MIN_LOG_LEVEL"]["value"] == "1", "server.extraEnv still applies"
    assert _models_volume(docs) is None


def test_s3_with_workload_identity_has_no_keys(render):
    env = _env(render({"modelStorage": {"source": "s3", "s3": {"serverSupportsS3": True}}, "models": [{"name": "m", "basePath": "s3://bucket/m"}]}))
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env


def test_gcs_key_file_is_mounted_and_named(render):
    docs = render({"modelStorage": {"source": "gcs", "gcs": {"existingSecret": "gcp-key", "secretKey": "sa.json"}}, "models": [{"name": "m", "basePath": "gs://b/m"}]})
    volume = next(v for v in _spec(docs)["volumes"] if v["name"] == "gcs-credentials")
    assert volume["secret"] == {"secretName": "gcp-key", "items": [{"key": "sa.json", "path": "credentials.json"}]}
    mount = next(m for m in server_container(one(docs, "Deployment"))["volumeMounts"] if m["name"] == "gcs-credentials")
    assert _env(docs)["GOOGLE_APPLICATION_CREDENTIALS"]["value"] == f"{mount['mountPath']}/credentials.json"
    assert mount["readOnly"] is True


def test_gcs_with_workload_identity_mounts_no_key(render):
    docs = render({"modelStorage": {"source": "gcs"}, "models": [{"name": "m", "basePath": "gs://b/m"}]})
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in _env(docs)
    assert not any(v["name"] == "gcs-credentials" for v in _spec(docs)["volumes"])


def test_init_container_downloads_into_the_volume_the_server_reads(render):
    docs = render(
        {
            "modelStorage": {
                "source": "initContainer",
                "initContainer": {"image": {"repository": "amazon/aws-cli", "tag": "2.22.0"}, "command": ["aws", "s3", "sync", "s3://b/m", "/models/m"], "sizeLimit": "3Gi"},
            },
            "models": [{"name": "m", "basePath": "/models/m"}],
        }
    )
    init, _check = containers(one(docs, "Deployment"), init=True)  # the download, then check-models (test_model_check.py)
    assert init["image"] == "amazon/aws-cli:2.22.0" and init["command"][:2] == ["aws", "s3"]
    init_mount = next(m for m in init["volumeMounts"] if m["name"] == "models")
    assert init_mount["mountPath"] == "/models" and not init_mount.get("readOnly")
    assert _models_mount(docs)["readOnly"] is True
    assert _models_volume(docs)["emptyDir"] == {"sizeLimit": "3Gi"}
    assert {e["name"]: e.get("value") for e in init["env"]}["MODELS_DIR"] == "/models"


def test_image_volume_from_kubernetes_1_35_or_with_the_feature_gate_stated(render):
    """1.31-1.34 API servers drop the image volume unless the ImageVolume gate is on, so the chart
    renders it there only when the user states the gate is on."""
    values = {"modelStorage": {"source": "image", "image": {"reference": "registry.example.com/models/resnet:3"}}, "models": LOCAL_MODEL}
    expected = {"reference": "registry.example.com/models/resnet:3", "pullPolicy": "IfNotPresent"}
    assert _models_volume(render(values, kube_version="1.35.0"))["image"] == expected
    _fails(values, 'tf-serving: modelStorage.source "image" needs the Kubernetes image volume (1.31+', kube_version="1.30.0")
    for version in ("1.31.0", "1.34.2"):
        _fails(values, f'modelStorage.source "image" on Kubernetes v{version} needs the ImageVolume feature gate',
               "modelStorage.image.featureGateEnabled=true", kube_version=version)
    gate_on = {**values, "modelStorage": {**values["modelStorage"], "image": {**values["modelStorage"]["image"], "featureGateEnabled": True}}}
    assert _models_volume(render(gate_on, kube_version="1.31.0"))["image"] == expected


def test_custom_mount_path(render):
    docs = render({"modelStorage": {"source": "existingClaim", "mountPath": "/srv/m", "existingClaim": {"claimName": "c"}}, "models": [{"name": "a", "basePath": "/srv/m/a"}]})
    assert _models_mount(docs)["mountPath"] == "/srv/m"


# ---- bad combinations: each fails helm template with the value path in the message ----

BAD = [
    pytest.param(
        {"modelStorage": {"source": "existingClaim"}},
        "tf-serving: modelStorage.existingClaim.claimName is required when modelStorage.source is \"existingClaim\"",
        id="existing-claim-without-name",
    ),
    pytest.param({"modelStorage": {"source": "nfs", "nfs": {"server": "s"}}}, "tf-serving: modelStorage.nfs.path is required", id="nfs-without-path"),
    pytest.param({"modelStorage": {"source": "nfs", "nfs": {"path": "/x"}}}, "tf-serving: modelStorage.nfs.server is required", id="nfs-without-server"),
    pytest.param({"modelStorage": {"source": "image"}}, "tf-serving: modelStorage.image.reference is required", id="image-without-reference"),
    pytest.param(
        {"modelStorage": {"source": "initContainer", "initContainer": {"command": ["x"]}}},
        "tf-serving: modelStorage.initContainer.image.repository is required",
        id="init-without-image",
    ),
    pytest.param(
        {"modelStorage": {"source": "initContainer", "initContainer": {"image": {"repository": "busybox"}}}},
        "tf-serving: modelStorage.initContainer.command is required",
        id="init-without-command",
    ),
    pytest.param(
        {"modelStorage": {"source": "existingClaim", "existingClaim": {"claimName": "c"}, "nfs": {"server": "s"}}},
        'tf-serving: modelStorage.nfs.server is set but modelStorage.source is "existingClaim"; only one model source',
        id="two-sources",
    ),
    pytest.param(
        {"modelStorage": {"nfs": {"server": "s", "path": "/p"}}},
        'tf-serving: modelStorage.nfs.server is set but modelStorage.source is "demo"',
        id="source-not-selected",
    ),
    pytest.param(
        {"modelStorage": {"source": "s3", "s3": {"serverSupportsS3": True}}, "models": [{"name": "m", "basePath": "gs://b/m"}]},
        'tf-serving: models[0].basePath "gs://b/m" must be an s3:// URL when modelStorage.source is s3',
        id="s3-with-gs-path",
    ),
    pytest.param(
        {"modelStorage": {"source": "gcs"}, "models": [{"name": "m", "basePath": "/models/m"}]},
        'tf-serving: models[0].basePath "/models/m" must be a gs:// URL when modelStorage.source is gcs',
        id="gcs-with-local-path",
    ),
    pytest.param(
        {"modelStorage": {"source": "existingClaim", "existingClaim": {"claimName": "c"}}, "models": [{"name": "m", "basePath": "/data/m"}]},
        'tf-serving: models[0].basePath "/data/m" is not under modelStorage.mountPath "/models"',
        id="local-path-outside-mount",
    ),
    pytest.param(
        {"modelStorage": {"source": "pvc"}, "models": [{"name": "m", "basePath": "s3://b/m"}]},
        'tf-serving: models[0].basePath "s3://b/m" is not under modelStorage.mountPath',
        id="pvc-with-s3-path",
    ),
    pytest.param(
        {"modelStorage": {"source": "existingClaim", "existingClaim": {"claimName": "c"}}, "models": [{"name": "m", "basePath": "/modelsx/m"}]},
        "is not under modelStorage.mountPath",
        id="prefix-is-not-a-parent",
    ),
    pytest.param(
        {
            "modelStorage": {"source": "s3", "s3": {"serverSupportsS3": True}},
            "models": [{"name": "m", "basePath": "s3://b/m"}],
            "tracks": {"stable": {}, "canary": {"models": [{"name": "m", "basePath": "/models/m"}]}},
        },
        "tf-serving: tracks.canary.models[0].basePath",
        id="track-models-checked-too",
    ),
    pytest.param({"modelStorage": {"source": "ftp"}}, at("modelStorage.source", "enum"), id="unknown-source"),
    pytest.param({"modelStorage": {"mountPath": "/tmp"}}, at("modelStorage.mountPath"), id="mount-over-tmp"),
    pytest.param(
        {"modelStorage": {"source": "pvc", "mountPath": "/etc/tf-serving"}, "models": [{"name": "m", "basePath": "/etc/tf-serving/m"}]},
        "tf-serving: modelStorage.mountPath and server.configMountPath are both /etc/tf-serving",
        id="mount-over-config",
    ),
    pytest.param(
        {"server": {"configMountPath": "/tmp"}},
        "tf-serving: server.configMountPath /tmp mounts the models.config ConfigMap where the server's /tmp scratch emptyDir is mounted",
        id="config-over-tmp",
    ),
    pytest.param(
        {"server": {"configMountPath": "/"}},
        "tf-serving: the fixed mount /tmp (the server's /tmp scratch emptyDir) is inside server.configMountPath / (the models.config ConfigMap)",
        id="tmp-inside-config",
    ),
    pytest.param(
        {"modelStorage": {"source": "pvc", "mountPath": "/etc/tf-serving/models"}, "models": [{"name": "m", "basePath": "/etc/tf-serving/models/m"}]},
        "tf-serving: modelStorage.mountPath /etc/tf-serving/models (the models (modelStorage.source pvc)) is inside server.configMountPath /etc/tf-serving",
        id="models-inside-config",
    ),
    pytest.param(
        {"modelStorage": {"source": "gcs", "gcs": {"existingSecret": "key"}}, "models": [{"name": "m", "basePath": "gs://b/m"}], "server": {"configMountPath": "/var/run/secrets/tf-serving/gcs/config"}},
        "tf-serving: server.configMountPath /var/run/secrets/tf-serving/gcs/config (the models.config ConfigMap) is inside the fixed mount /var/run/secrets/tf-serving/gcs",
        id="config-inside-the-key-secret",
    ),
    pytest.param({"modelStorage": {"s3": {"endpoint": "minio:9000/bucket"}}}, at("modelStorage.s3.endpoint", "pattern"), id="s3-endpoint-with-path"),
    pytest.param(
        {"modelStorage": {"source": "s3"}, "models": [{"name": "m", "basePath": "s3://b/m"}]},
        "tf-serving: modelStorage.source is s3 but modelStorage.s3.serverSupportsS3 is false; the stock tensorflow/serving images since 2.7 cannot read s3://",
        id="s3-with-a-stock-image",
    ),
    pytest.param({"modelStorage": {"pvc": {"accessModes": ["ReadWriteSometimes"]}}}, at("modelStorage.pvc.accessModes", "enum"), id="bad-access-mode"),
    pytest.param({"modelStorage": {"pvcc": {}}}, at("modelStorage.pvcc", "additionalProperties"), id="typo"),
]


@pytest.mark.parametrize(("values", "message"), BAD)
def test_bad_storage_values_fail_with_the_value_path(values, message):
    assert_refused(values, message)


def test_mounts_nested_in_a_writable_volume_render(render):
    """Only ConfigMap and Secret volumes (keys only, read-only) cannot hold another mount: the
    config inside /tmp, or next to the models, is fine."""
    docs = render({"server": {"configMountPath": "/tmp/tf-serving"}, "modelStorage": {"source": "pvc", "mountPath": "/etc/tf-serving-models"}, "models": [{"name": "m", "basePath": "/etc/tf-serving-models/m"}]})
    mounts = {m["mountPath"] for m in server_container(one(docs, "Deployment"))["volumeMounts"]}
    assert {"/tmp", "/tmp/tf-serving", "/etc/tf-serving-models"} <= mounts
