"""TF Serving config files are parsed with the server's own message definitions."""

from __future__ import annotations

import pytest
from google.protobuf import text_format

from tfserving_harness import tfs_config
from tfserving_harness.manifests import one


def test_every_model_is_rendered_in_order(render):
    models = [
        {"name": "resnet", "basePath": "/models/resnet"},
        {"name": "bert.v2", "basePath": "/models/bert", "platform": "tensorflow"},
        {"name": "ranker", "basePath": "/models/path/ranker"},
    ]
    text = one(render({"models": models, "modelStorage": {"source": "none"}}), "ConfigMap", "tfs-tf-serving-config")["data"]["models.config"]
    config = tfs_config.parse_model_server_config(text)
    assert [(m.name, m.base_path, m.model_platform) for m in config.model_config_list.config] == [
        (m["name"], m["basePath"], "tensorflow") for m in models
    ]


def test_model_config_parser_rejects_yaml():
    with pytest.raises(text_format.ParseError):
        tfs_config.parse_model_server_config("model_config_list:\n  - name: m\n")


def test_batching_parameters_use_wrapper_types():
    parsed = tfs_config.parse_batching_parameters(
        'max_batch_size { value: 128 } batch_timeout_micros { value: 1000 } max_enqueued_batches { value: 8 } '
        'num_batch_threads { value: 4 } thread_pool_name { value: "batch" } allowed_batch_sizes: 32 '
        "allowed_batch_sizes: 128 pad_variable_length_inputs: true enable_large_batch_splitting { value: true } "
        "max_execution_batch_size { value: 64 }"
    )
    assert parsed.max_batch_size.value == 128
    assert list(parsed.allowed_batch_sizes) == [32, 128]
    assert parsed.enable_large_batch_splitting.value is True
    with pytest.raises(text_format.ParseError):
        tfs_config.parse_batching_parameters("max_batch_size: 128")  # the blog post's form: not a wrapper
    with pytest.raises(text_format.ParseError):
        tfs_config.parse_batching_parameters("allowed_batch_sizes { value: 32 }")  # plain repeated int64


def test_batching_parameters_field_numbers_match_upstream():
    fields = {f.name: f.number for f in tfs_config.BatchingParameters.DESCRIPTOR.fields}
    assert fields == {
        "max_batch_size": 1,
        "batch_timeout_micros": 2,
        "max_enqueued_batches": 3,
        "num_batch_threads": 4,
        "thread_pool_name": 5,
        "allowed_batch_sizes": 6,
        "pad_variable_length_inputs": 7,
        "enable_large_batch_splitting": 8,
        "max_execution_batch_size": 9,
    }


def test_monitoring_config():
    parsed = tfs_config.parse_monitoring_config('prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }')
    assert parsed.prometheus_config.enable and parsed.prometheus_config.path == "/monitoring/prometheus/metrics"
    with pytest.raises(text_format.ParseError):
        tfs_config.parse_monitoring_config("prometheus_config { enabled: true }")


def test_config_protos_come_from_the_served_release():
    """The protos that parse the rendered files are tensorflow-serving-api at the chart's appVersion
    (major.minor), the release whose binary reads them (Makefile TFS_API)."""
    from importlib.metadata import version

    import yaml

    from tfserving_harness.paths import chart_dir

    app_version = yaml.safe_load((chart_dir() / "Chart.yaml").read_text())["appVersion"]
    assert version("tensorflow-serving-api").split(".")[:2] == app_version.split(".")[:2], "run `make setup` (Makefile TFS_API)"
