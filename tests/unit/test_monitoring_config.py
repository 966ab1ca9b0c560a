"""metrics.*: the monitoring config file the server reads says the same path the values say."""

from __future__ import annotations

from tfserving_harness import tfs_config
from tfserving_harness.manifests import one, server_container, server_flags


def monitoring(docs):
    flags = server_flags(server_container(one(docs, "Deployment")))
    key = flags["monitoring_config_file"].rpartition("/")[2]
    return tfs_config.parse_monitoring_config(one(docs, "ConfigMap", "tfs-tf-serving-config")["data"][key])


def test_default_file_serves_tf_servings_own_path(default_docs):
    config = monitoring(default_docs)
    assert config.prometheus_config.enable is True
    assert config.prometheus_config.path == "/monitoring/prometheus/metrics"


def test_file_path_is_the_metrics_path_value(render):
    config = monitoring(render({"metrics": {"path": "/internal/prometheus"}}))
    assert config.prometheus_config.path == "/internal/prometheus"


def test_metrics_off_drops_file_and_flag(render):
    docs = render({"metrics": {"enabled": False}})
    assert "monitoring_config_file" not in server_flags(server_container(one(docs, "Deployment")))
    assert "monitoring.config" not in one(docs, "ConfigMap", "tfs-tf-serving-config")["data"]
