"""GPU: off by default; when on, a GPU limit, the -gpu image, GPU node tolerations and the memory
fraction flag, and a clear error for a CPU image."""

from __future__ import annotations

import pytest

from tfserving_harness.manifests import of_kind, one, pod_template, server_container, server_flags
from tfserving_harness.testing import assert_refused, at

DIGEST = "sha256:" + "cd" * 32


def _deployment(docs, name=None):
    return one(docs, "Deployment", name)


def test_no_gpu_by_default(default_docs):
    deployment = _deployment(default_docs)
    container = server_container(deployment)
    assert "nvidia.com/gpu" not in container["resources"].get("limits", {})
    assert not container["image"].endswith("-gpu")
    assert "per_process_gpu_memory_fraction" not in server_flags(container)
    assert "tolerations" not in pod_template(deployment)["spec"]


def test_gpu_limit_image_and_tolerations(render):
    docs = render({"gpu": {"enabled": True, "count": 2}, "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}]})
    deployment = _deployment(docs)
    container = server_container(deployment)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert container["resources"]["limits"]["memory"] == "2Gi", "the GPU limit is added to the CPU/memory limits, not instead of them"
    assert container["image"] == "tensorflow/serving:2.20.0-gpu"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == "2.20.0-gpu"
    keys = [t["key"] for t in pod_template(deployment)["spec"]["tolerations"]]
    assert keys == ["dedicated", "nvidia.com/gpu"], "user tolerations first, then the GPU taint"


def test_gpu_node_selector_merges_with_the_users_which_wins(render):
    docs = render({"gpu": {"enabled": True, "nodeSelector": {"accelerator": "l4", "pool": "gpu"}}, "nodeSelector": {"pool": "inference"}})
    assert pod_template(_deployment(docs))["spec"]["nodeSelector"] == {"accelerator": "l4", "pool": "inference"}


def test_gpu_applies_to_every_track_and_its_resources(render):
    docs = render({"gpu": {"enabled": True}, "tracks": {"stable": {}, "canary": {"resources": {"limits": {"memory": "8Gi"}}}}})
    for deployment in of_kind(docs, "Deployment"):
        assert server_container(deployment)["resources"]["limits"]["nvidia.com/gpu"] == 1, deployment["metadata"]["name"]


def test_memory_fraction_flag(render):
    container = server_container(_deployment(render({"gpu": {"enabled": True, "perProcessGpuMemoryFraction": 0.5}})))
    assert server_flags(container)["per_process_gpu_memory_fraction"] == "0.5"


def test_explicit_gpu_tag_is_kept(render):
    assert server_container(_deployment(render({"gpu": {"enabled": True}, "image": {"tag": "2.19.1-gpu"}})))["image"] == "tensorflow/serving:2.19.1-gpu"


def test_pinned_digest_is_trusted_because_it_cannot_be_checked(render):
    container = server_container(_deployment(render({"gpu": {"enabled": True}, "image": {"tag": "2.19.1", "digest": DIGEST}})))
    assert container["image"] == f"tensorflow/serving@{DIGEST}"


BAD = [
    pytest.param({"gpu": {"enabled": True}, "image": {"tag": "2.19.1"}}, 'tf-serving: image.tag "2.19.1" is a CPU image but gpu.enabled is true; use the "2.19.1-gpu" tag', id="cpu-tag"),
    pytest.param(
        {"gpu": {"enabled": True}, "tracks": {"stable": {}, "canary": {"image": {"tag": "2.20.0"}}}},
        'tf-serving: tracks.canary.image.tag "2.20.0" is a CPU image',
        id="cpu-tag-on-a-track",
    ),
    pytest.param({"gpu": {"perProcessGpuMemoryFraction": 0.5}}, "tf-serving: gpu.perProcessGpuMemoryFraction is set but gpu.enabled is false", id="fraction-without-gpu"),
    pytest.param({"gpu": {"enabled": True, "perProcessGpuMemoryFraction": 0}}, at("gpu.perProcessGpuMemoryFraction"), id="fraction-zero"),
    pytest.param({"gpu": {"enabled": True, "perProcessGpuMemoryFraction": 1.5}}, at("gpu.perProcessGpuMemoryFraction"), id="fraction-above-one"),
    pytest.param({"gpu": {"enabled": True, "count": 0}}, at("gpu.count"), id="zero-gpus"),
]


@pytest.mark.parametrize(("values", "message"), BAD)
def test_bad_gpu_values_fail_with_the_value_path(values, message):
    assert_refused(values, message)


def test_default_resources_are_set_for_a_small_model(default_docs):
    resources = server_container(_deployment(default_docs))["resources"]
    assert set(resources) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]


def test_the_cuda_jit_cache_is_on_the_bounded_scratch_volume(render, default_docs):
    """The driver caches JIT-compiled kernels under $HOME/.nv, on the read-only root here: /tmp (an
    emptyDir with a 1Gi limit) keeps them across container restarts, at most 256 MiB."""
    assert "env" not in server_container(_deployment(default_docs))
    container = server_container(_deployment(render({"gpu": {"enabled": True}})))
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"CUDA_CACHE_PATH": "/tmp/cuda-cache", "CUDA_CACHE_MAXSIZE": "268435456"}
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])


def test_your_own_cuda_cache_setting_wins(render):
    values = {"gpu": {"enabled": True}, "server": {"extraEnv": [{"name": "CUDA_CACHE_PATH", "value": "/cache"}, {"name": "CUDA_CACHE_MAXSIZE", "value": "1"}]}}
    env = server_container(_deployment(render(values)))["env"]
    assert [e["name"] for e in env] == ["CUDA_CACHE_PATH", "CUDA_CACHE_MAXSIZE"]
    assert env[0]["value"] == "/cache"
