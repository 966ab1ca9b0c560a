"""Objects that must agree: Service selector and pod labels, flags and the files they point at.

Each relationship is asserted on the render and, with a deliberately broken copy, shown to be
caught by the invariant checks that scripts/check_values.py runs for users.
"""

from __future__ import annotations

import pytest

from tfserving_harness import checks
from tfserving_harness.frozen import thaw
from tfserving_harness.manifests import one, pod_template, selector_matches, server_container, server_flags


def _replace(docs, kind, new):
    return [new if d["kind"] == kind else d for d in docs]


def test_service_selects_the_serving_pods(default_docs):
    service, deployment = one(default_docs, "Service"), one(default_docs, "Deployment")
    assert selector_matches(service["spec"]["selector"], pod_template(deployment)["metadata"]["labels"])
    assert dict(service["spec"]["selector"]) == dict(deployment["spec"]["selector"]["matchLabels"])


def test_selectors_never_contain_user_labels(render):
    docs = render({"commonLabels": {"team": "ml"}, "podLabels": {"cost-center": "x"}})
    deployment = one(docs, "Deployment")
    assert "team" not in deployment["spec"]["selector"]["matchLabels"]
    assert "cost-center" not in one(docs, "Service")["spec"]["selector"]
    labels = pod_template(deployment)["metadata"]["labels"]
    assert labels["team"] == "ml" and labels["cost-center"] == "x"


def test_models_config_is_mounted_as_a_directory_where_the_flag_points(default_docs):
    deployment = one(default_docs, "Deployment")
    container = server_container(deployment)
    path = server_flags(container)["model_config_file"]
    mount = next(m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
    assert "subPath" not in mount, "subPath mounts never receive ConfigMap updates"
    volume = next(v for v in pod_template(deployment)["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == one(default_docs, "ConfigMap", "tfs-tf-serving-config")["metadata"]["name"]
    assert path.rsplit("/", 1)[1] in one(default_docs, "ConfigMap", "tfs-tf-serving-config")["data"]


def test_config_mount_path_moves_flag_and_mount_together(render):
    docs = render({"server": {"configMountPath": "/config/tfs"}})
    container = server_container(one(docs, "Deployment"))
    assert server_flags(container)["model_config_file"] == "/config/tfs/models.config"
    assert "/config/tfs" in [m["mountPath"] for m in container["volumeMounts"]]
    assert checks.server_problems(docs) == []


def test_ports_move_flag_container_port_and_probes_together(render):
    docs = render({"server": {"grpcPort": 9000, "restPort": 9001}})
    container = server_container(one(docs, "Deployment"))
    assert server_flags(container)["port"] == "9000" and server_flags(container)["rest_api_port"] == "9001"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"grpc": 9000, "http": 9001}
    assert checks.check_documents(docs, "1.37.0") == []


def test_check_catches_a_service_that_selects_nothing(default_docs):
    service = thaw(one(default_docs, "Service"))
    service["spec"]["selector"]["app.kubernetes.io/name"] = "other"
    problems = checks.service_problems(_replace(default_docs, "Service", service))
    assert [(p.object, p.field) for p in problems] == [("Service/tfs-tf-serving", "spec.selector")]


def test_check_catches_a_target_port_the_pod_does_not_declare(default_docs):
    service = thaw(one(default_docs, "Service"))
    service["spec"]["ports"][1]["targetPort"] = "rest"
    problems = checks.service_problems(_replace(default_docs, "Service", service))
    assert [p.field for p in problems] == ["spec.ports[1].targetPort"]


def test_check_catches_a_config_flag_pointing_at_an_unmounted_path(default_docs):
    deployment = thaw(one(default_docs, "Deployment"))
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    args[2] = "--model_config_file=/elsewhere/models.config"
    problems = checks.server_problems(_replace(default_docs, "Deployment", deployment))
    assert len(problems) == 1 and "no volumeMount at /elsewhere" in problems[0].message


def test_check_catches_a_subpath_mount(default_docs):
    deployment = thaw(one(default_docs, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["subPath"] = "models.config"
    problems = checks.server_problems(_replace(default_docs, "Deployment", deployment))
    assert problems and all("uses subPath" in p.message for p in problems)


def test_check_catches_a_config_file_that_does_not_parse(default_docs):
    configmap = thaw(one(default_docs, "ConfigMap", "tfs-tf-serving-config"))
    configmap["data"]["models.config"] = "model_config_list:\n  - name: m\n"
    problems = checks.server_problems(_replace(default_docs, "ConfigMap", configmap))
    assert [(p.object, p.field, p.check) for p in problems] == [("ConfigMap/tfs-tf-serving-config", "data.models.config", "tf-serving-config")]


def test_check_catches_an_invented_flag_and_a_port_mismatch(default_docs):
    deployment = thaw(one(default_docs, "Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["args"].append("--enable_batching_via_env=true")
    container["ports"][1]["containerPort"] = 8080
    messages = [p.message for p in checks.server_problems(_replace(default_docs, "Deployment", deployment))]
    assert any("--enable_batching_via_env is not a flag of tensorflow_model_server 2.20.0" in m for m in messages)
    assert any("--rest_api_port=8501 but the container port named http is 8080" in m for m in messages)


@pytest.mark.parametrize(
    ("image", "arg", "message"),
    [
        ("tensorflow/serving:2.20.0", "--some_future_flag=1", "--some_future_flag is not a flag of tensorflow_model_server 2.20.0 (model_servers/main.cc)"),
        ("tensorflow/serving:2.14.1", "--enable_grpc_healthcheck_service=true", "--enable_grpc_healthcheck_service is not a flag of tensorflow_model_server 2.14.1"),
        ("tensorflow/serving@sha256:" + "0" * 64, "--some_future_flag=1", "--some_future_flag is not a flag of tensorflow_model_server of the newest release"),
        ("tensorflow/serving:2.20.0", "--port=8500", "--port is given twice: the last one wins"),
    ],
    ids=["unknown", "too-new-for-the-image", "digest", "twice"],
)
def test_check_catches_flags_the_server_would_ignore(default_docs, image, arg, message):
    """The harness's own check over every rendered argument (the chart refuses such extraArgs itself)."""
    deployment = thaw(one(default_docs, "Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["image"] = image
    container["args"] = [a for a in container["args"] if not a.startswith(arg.partition("=")[0] + "=")] + [arg] if "grpc_health" in arg else [*container["args"], arg]
    problems = checks.server_problems(_replace(default_docs, "Deployment", deployment))
    assert len(problems) == 1 and message in problems[0].message, [p.message for p in problems]
    assert problems[0].field == f"spec.template.spec.containers[0].args[{len(container['args']) - 1}]"


@pytest.mark.parametrize(
    "handler",
    [{"httpGet": {"path": "/v1/models/m", "port": "http"}}, {"exec": {"command": ["/bin/bash", "/etc/tf-serving/readiness.sh"]}}],
    ids=["httpGet", "exec"],
)
def test_check_catches_a_probe_that_may_send_rest_requests(default_docs, handler):
    """Every /v1/ request counts in TF Serving's REST metrics, so a probe must be tcpSocket or grpc."""
    deployment = thaw(one(default_docs, "Deployment"))
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe.pop("grpc", None), probe.pop("tcpSocket", None)
    probe.update(handler)
    problems = checks.server_problems(_replace(default_docs, "Deployment", deployment))
    assert [(p.object, p.field) for p in problems] == [("Deployment/tfs-tf-serving", f"spec.template.spec.containers[0].readinessProbe.{next(iter(handler))}")]
    assert checks.server_problems(default_docs) == []


def test_no_two_rendered_objects_share_group_kind_namespace_and_name(default_docs):
    assert checks.duplicate_problems(default_docs) == []


def test_check_catches_two_objects_with_one_identity_and_names_both(default_docs):
    """A second Service named like the main one (e.g. a track called `metrics` next to the metrics
    Service) is reported with both documents, through check_documents too."""
    service = one(default_docs, "Service")
    copy = thaw(service)
    copy["spec"]["ports"] = copy["spec"]["ports"][:1]
    docs = [*default_docs, copy]
    (problem,) = checks.duplicate_problems(docs)
    assert problem.object == "Service/tfs-tf-serving" and problem.field == "metadata.name"
    assert f"document {len(docs) - 1} (v1) and document {list(default_docs).index(service)} (v1)" in problem.message
    assert "Service default/tfs-tf-serving in API group core" in problem.message
    assert problem in checks.check_documents(docs, "1.37.0")


def test_check_keys_objects_by_api_group_not_version_and_by_namespace(default_docs):
    """autoscaling/v1 and autoscaling/v2 HPAs with one name are one object; another namespace or
    another group is another object."""
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x", "namespace": "default"}}
    same = {**hpa, "apiVersion": "autoscaling/v1"}
    other_namespace = {**hpa, "metadata": {"name": "x", "namespace": "other"}}
    other_group = {**hpa, "apiVersion": "example.com/v1"}
    assert checks.duplicate_problems([hpa, other_namespace, other_group]) == []
    (problem,) = checks.duplicate_problems([hpa, same])
    assert "document 1 (autoscaling/v1) and document 0 (autoscaling/v2)" in problem.message
