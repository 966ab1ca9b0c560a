"""What `helm install` renders with no values: an inventory, and a Deployment that really starts TF Serving."""

from __future__ import annotations

from tfserving_harness import tfs_config
from tfserving_harness.manifests import one, server_container, server_flags
from tfserving_harness.testing import assert_no_problems


def test_inventory_of_default_objects(default_docs):
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in default_docs)
    assert kinds == [
        "ConfigMap/tfs-tf-serving-config",
        "ConfigMap/tfs-tf-serving-demo-model",
        "Deployment/tfs-tf-serving",
        "Pod/tfs-tf-serving-test-models",
        "Service/tfs-tf-serving",
        "ServiceAccount/tfs-tf-serving",
    ]


def test_default_render_passes_every_check(default_docs):
    assert_no_problems(default_docs)


def test_server_runs_the_binary_directly_with_explicit_flags(default_docs):
    container = server_container(one(default_docs, "Deployment"))
    assert container["command"] == ["tensorflow_model_server"], "the image's bash entrypoint does not exec and ignores flags"
    flags = server_flags(container)
    assert flags["port"] == "8500"
    assert flags["rest_api_port"] == "8501", "the binary's own default is 0, which turns REST off"
    assert flags["model_config_file"] == "/etc/tf-serving/models.config"
    assert "model_name" not in flags and "model_base_path" not in flags
    assert not any(e["name"].startswith("TF_SERVING_") for e in container.get("env", [])), "TF Serving reads no config from env"


def test_default_image_is_the_charts_app_version(default_docs):
    container = server_container(one(default_docs, "Deployment"))
    assert container["image"] == "tensorflow/serving:2.20.0"
    assert one(default_docs, "Deployment")["metadata"]["labels"]["app.kubernetes.io/version"] == "2.20.0"


def test_image_digest_wins_over_tag(render):
    digest = "sha256:" + "ab" * 32
    docs = render({"image": {"tag": "2.19.1", "digest": digest}})
    assert server_container(one(docs, "Deployment"))["image"] == f"tensorflow/serving@{digest}"


def test_ports_are_named_grpc_and_http_on_pod_and_service(default_docs):
    container = server_container(one(default_docs, "Deployment"))
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"grpc": 8500, "http": 8501}
    service = one(default_docs, "Service")
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        "grpc": (8500, "grpc"),
        "http": (8501, "http"),
    }


def test_models_config_parses_as_a_model_server_config(default_docs):
    text = one(default_docs, "ConfigMap", "tfs-tf-serving-config")["data"]["models.config"]
    config = tfs_config.parse_model_server_config(text)
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == ("half_plus_two", "/models/half_plus_two", "tensorflow")


def test_service_account_has_no_token(default_docs):
    assert one(default_docs, "ServiceAccount")["automountServiceAccountToken"] is False
    pod_spec = one(default_docs, "Deployment")["spec"]["template"]["spec"]
    assert pod_spec["automountServiceAccountToken"] is False
    assert pod_spec["serviceAccountName"] == "tfs-tf-serving"


def test_config_change_rolls_the_pods(render):
    before = one(render(), "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    after = one(render({"models": [{"name": "other", "basePath": "/models/other"}], "modelStorage": {"source": "none"}}), "Deployment")
    assert after["spec"]["template"]["metadata"]["annotations"]["checksum/config"] != before


def test_release_name_containing_the_chart_name_is_not_repeated(render):
    docs = render(name="my-tf-serving")
    assert one(docs, "Deployment")["metadata"]["name"] == "my-tf-serving"


def test_fullname_is_trimmed_to_63_characters(render):
    docs = render(name="r" * 53)  # helm allows 53; "<release>-tf-serving" is 64
    name = one(docs, "Deployment")["metadata"]["name"]
    assert len(name) <= 63 and not name.endswith("-")


def test_metrics_are_on_by_default_at_tf_servings_own_path(default_docs):
    flags = server_flags(server_container(one(default_docs, "Deployment")))
    assert flags["monitoring_config_file"] == "/etc/tf-serving/monitoring.config"
    config = tfs_config.parse_monitoring_config(one(default_docs, "ConfigMap", "tfs-tf-serving-config")["data"]["monitoring.config"])
    assert config.prometheus_config.enable is True
    assert config.prometheus_config.path == "/monitoring/prometheus/metrics"


def test_metrics_off_removes_flag_and_file(render):
    docs = render({"metrics": {"enabled": False}})
    assert "monitoring_config_file" not in server_flags(server_container(one(docs, "Deployment")))
    assert "monitoring.config" not in one(docs, "ConfigMap", "tfs-tf-serving-config")["data"]
