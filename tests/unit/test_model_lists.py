"""Every model list the chart serves (top-level `models`, each track's and each blue/green colour's
override) is checked on its own, and error messages name the value path the list really comes from."""

from __future__ import annotations

import pytest

from tfserving_harness.manifests import of_kind
from tfserving_harness.testing import render_error

LOCAL = {"name": "resnet", "basePath": "/models/resnet"}
#: Models of one's own come from model storage (here: none, in the image); the default demo serves only its own.
NO_STORAGE = {"modelStorage": {"source": "none"}}


# ---- unique names per list ----


def test_the_same_name_in_two_tracks_is_fine(render):
    """Names are unique per server: two tracks may (and usually do) serve the same model name."""
    docs = render({**NO_STORAGE, "tracks": {"stable": {"models": [LOCAL]}, "canary": {"models": [LOCAL]}}})
    assert len(of_kind(docs, "Deployment")) == 2


def test_duplicate_name_inside_a_track_names_the_track_path(render):
    message = render_error({**NO_STORAGE, "tracks": {"stable": {}, "canary": {"models": [LOCAL, {"name": "resnet", "basePath": "/models/other"}]}}})
    assert 'tf-serving: tracks.canary.models[1].name "resnet" is already used by tracks.canary.models[0]' in message


def test_duplicate_name_inside_a_colour_names_the_colour_path(render):
    values = {**NO_STORAGE, "blueGreen": {"enabled": True, "green": {"models": [LOCAL, {"name": "resnet", "basePath": "/models/other"}]}}}
    message = render_error(values)
    assert 'tf-serving: blueGreen.green.models[1].name "resnet" is already used by blueGreen.green.models[0]' in message


# ---- s3:// and gs:// need the source that reads them ----


@pytest.mark.parametrize(
    ("base_path", "fragment"),
    [
        ("s3://ml-models/resnet", 'is an s3:// URL but modelStorage.source is "none"; the server can only read it with modelStorage.source=s3'),
        ("gs://ml-models/resnet", 'is a gs:// URL but modelStorage.source is "none"; set modelStorage.source=gcs'),
    ],
)
def test_remote_base_path_without_its_source_fails(render, base_path, fragment):
    """The stock image cannot read s3:// at all, and gs:// needs the credentials/egress the gcs source sets up."""
    message = render_error({**NO_STORAGE, "models": [{"name": "resnet", "basePath": base_path}]})
    assert f'tf-serving: models[0].basePath "{base_path}" {fragment}' in message


def test_s3_base_path_in_a_track_fails_naming_the_track(render):
    values = {
        **NO_STORAGE,
        "models": [LOCAL],
        "tracks": {"stable": {}, "canary": {"models": [{"name": "resnet", "basePath": "s3://ml-models/resnet"}]}},
    }
    message = render_error(values)
    assert 'tf-serving: tracks.canary.models[0].basePath "s3://ml-models/resnet" is an s3:// URL but modelStorage.source is "none"' in message


def test_gs_base_path_in_a_colour_fails_naming_the_colour(render):
    values = {**NO_STORAGE, "blueGreen": {"enabled": True, "blue": {"models": [{"name": "resnet", "basePath": "gs://ml-models/resnet"}]}}}
    message = render_error(values)
    assert 'tf-serving: blueGreen.blue.models[0].basePath "gs://ml-models/resnet" is a gs:// URL' in message


def test_remote_base_paths_with_their_source_render(render):
    gcs = render({"modelStorage": {"source": "gcs"}, "models": [{"name": "resnet", "basePath": "gs://ml-models/resnet"}]})
    s3 = render({"modelStorage": {"source": "s3", "s3": {"serverSupportsS3": True}}, "models": [{"name": "resnet", "basePath": "s3://ml-models/resnet"}]})
    assert of_kind(gcs, "Deployment") and of_kind(s3, "Deployment")


# ---- messages name where the list (or image) really comes from ----


def test_track_without_models_override_is_reported_as_top_level_models(render):
    """A track that does not override `models` uses the top-level list: the message must say `models`."""
    values = {"modelStorage": {"source": "pvc", "pvc": {"accessModes": ["ReadWriteMany"]}}, "models": [{"name": "a", "basePath": "/x/a"}], "tracks": {"stable": {}, "canary": {}}}
    message = render_error(values)
    assert 'tf-serving: models[0].basePath "/x/a" is not under modelStorage.mountPath' in message
    assert "tracks." not in message


def test_track_with_models_override_is_reported_as_the_track(render):
    values = {
        "modelStorage": {"source": "pvc", "pvc": {"accessModes": ["ReadWriteMany"]}},
        "models": [{"name": "a", "basePath": "/models/a"}],
        "tracks": {"stable": {}, "canary": {"models": [{"name": "a", "basePath": "/x/a"}]}},
    }
    assert 'tf-serving: tracks.canary.models[0].basePath "/x/a" is not under' in render_error(values)


def test_colour_with_models_override_is_reported_as_the_colour(render):
    values = {
        "modelStorage": {"source": "pvc", "pvc": {"accessModes": ["ReadWriteMany"]}},
        "blueGreen": {"enabled": True, "green": {"models": [{"name": "a", "basePath": "/x/a"}]}},
    }
    assert 'tf-serving: blueGreen.green.models[0].basePath "/x/a" is not under' in render_error(values)


def test_server_config_messages_name_the_colour_path(render):
    values = {**NO_STORAGE, "blueGreen": {"enabled": True, "green": {"models": [{"name": "a", "basePath": "/models/a", "versionLabels": {"stable": 1}}]}}}
    assert "tf-serving: blueGreen.green.models[0].versionLabels needs server.allowVersionLabelsForUnavailableModels=true" in render_error(values)


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"image": {"tag": "2.19.0"}}, "image.tag"),
        ({"tracks": {"stable": {}, "canary": {"replicaCount": 1}}, "image": {"tag": "2.19.0"}}, "image.tag"),
        ({"tracks": {"stable": {}, "canary": {"image": {"tag": "2.19.0"}}}, "image": {"tag": "2.19.0-gpu"}}, "tracks.canary.image.tag"),
        ({"blueGreen": {"enabled": True, "green": {"image": {"tag": "2.19.0"}}}}, "blueGreen.green.image.tag"),
    ],
)
def test_gpu_image_message_names_where_the_tag_comes_from(render, values, path):
    message = render_error({"gpu": {"enabled": True}, **values})
    assert f'tf-serving: {path} "2.19.0" is a CPU image but gpu.enabled is true' in message


def test_autoscaling_messages_name_the_colour_override(render):
    """Blue/green colours override autoscaling like tracks do; the message names the colour's value."""
    values = {"autoscaling": {"enabled": True}, "blueGreen": {"enabled": True, "green": {"autoscaling": {"maxReplicas": 1}}}}
    message = render_error(values)
    assert "tf-serving: autoscaling.minReplicas (2) is greater than blueGreen.green.autoscaling.maxReplicas (1) for track green" in message
    keda = {"autoscaling": {"keda": {"enabled": True, "force": True, "serverAddress": "http://p:9090"}}, "blueGreen": {"enabled": True, "blue": {"autoscaling": {"enabled": True}}}}
    assert "tf-serving: blueGreen.blue.autoscaling.enabled is true but autoscaling.keda.enabled is true too" in render_error(keda)
