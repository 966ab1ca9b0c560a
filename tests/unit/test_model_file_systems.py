"""Base paths the server reads through a file system of its own: which schemes the stock image has
(model_servers/BUILD links TensorFlow's GCS file system only since 2.7), and how often an object
store may be listed (PollFileSystemForServable lists each base path at every poll; on GCS
GetChildren returns every object below it)."""

from __future__ import annotations

import pytest

from tfserving_harness.manifests import one, server_container, server_flags
from tfserving_harness.testing import assert_refused

GCS = {"modelStorage": {"source": "gcs"}, "models": [{"name": "resnet", "basePath": "gs://ml-models/resnet"}]}
S3 = {"modelStorage": {"source": "s3", "s3": {"serverSupportsS3": True}}, "models": [{"name": "resnet", "basePath": "s3://ml-models/resnet"}]}


def test_hdfs_base_paths_are_refused():
    """The schema admits hdfs:// (the images had HDFS until 2.6); the images dropped it with S3 in 2.7."""
    assert_refused({"modelStorage": {"source": "none"}, "models": [{"name": "resnet", "basePath": "hdfs://namenode:8020/models/resnet"}]},
                   'tf-serving: models[0].basePath "hdfs://namenode:8020/models/resnet" is an HDFS URL, but the tensorflow/serving images since 2.7 have no HDFS file system')


def test_hdfs_in_a_track_names_the_track():
    values = {"modelStorage": {"source": "none"}, "tracks": {"a": {}, "b": {"models": [{"name": "m", "basePath": "hdfs://nn/m"}]}}}
    assert_refused(values, 'tf-serving: tracks.b.models[0].basePath "hdfs://nn/m" is an HDFS URL')


def test_the_default_poll_suits_object_stores(render):
    """30 s: ServerCore's own default (server_core.h); the binary's is 1 (server.h)."""
    for values in (GCS, S3, None):
        assert server_flags(server_container(one(render(values), "Deployment")))["file_system_poll_wait_seconds"] == "30"


@pytest.mark.parametrize("values", [GCS, S3], ids=["gcs", "s3"])
@pytest.mark.parametrize("poll", [1, 29])
def test_a_short_poll_of_an_object_store_is_refused(values, poll):
    assert_refused({**values, "server": {"fileSystemPollWaitSeconds": poll}},
                   f'tf-serving: server.fileSystemPollWaitSeconds is {poll} but models[0].basePath "{values["models"][0]["basePath"]}" is in an object store')


def test_a_track_is_checked_with_its_own_model_list():
    values = {"modelStorage": {"source": "gcs"}, "server": {"fileSystemPollWaitSeconds": 5},
              "tracks": {"a": {"models": [{"name": "m", "basePath": "gs://bucket/a"}]}, "b": {}}, "models": [{"name": "m", "basePath": "gs://bucket/m"}]}
    assert_refused(values, 'tf-serving: server.fileSystemPollWaitSeconds is 5 but tracks.a.models[0].basePath "gs://bucket/a" is in an object store')


@pytest.mark.parametrize("poll", [0, 30, 600])
def test_once_at_start_or_every_30_seconds_or_more_pass(render, poll):
    assert render({**GCS, "server": {"fileSystemPollWaitSeconds": poll}})


def test_local_base_paths_may_be_polled_every_second(render):
    assert render({"server": {"fileSystemPollWaitSeconds": 1}})
