"""The image-volume model source against the API server's own behaviour: a server without the
ImageVolume feature gate drops the `image` volume from a stored pod without an error, so there the
chart must refuse `modelStorage.source: image` unless the user states the gate is on."""

from __future__ import annotations

from kubernetes import client

from tfserving_harness.testing import kube_version_tuple, render_error

IMAGE = "registry.example.com/models/resnet@sha256:" + "1f" * 32


def server_keeps_image_volumes(core, namespace) -> bool:
    """Server-side dry-run of a pod with an image volume: does the stored spec still have it?"""
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="image-volume-probe"),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="c", image="registry.example.com/c:1", volume_mounts=[client.V1VolumeMount(name="m", mount_path="/m")])],
            volumes=[{"name": "m", "image": {"reference": IMAGE, "pullPolicy": "IfNotPresent"}}],
        ),
    )
    stored = core.create_namespaced_pod(namespace, pod, dry_run="All")
    return bool(stored.spec.volumes) and stored.spec.volumes[0].image is not None


def test_chart_refuses_image_volumes_where_the_server_would_drop_them(cluster, kube_api, namespace):
    core = client.CoreV1Api(kube_api)
    ns = namespace("image-volume", pod_security=None)
    keeps = server_keeps_image_volumes(core, ns)
    version = ".".join(map(str, kube_version_tuple(cluster.server_version)))
    values = {"modelStorage": {"source": "image", "image": {"reference": IMAGE}}, "models": [{"name": "resnet", "basePath": "/models/resnet"}]}
    if not keeps:
        message = render_error(values, kube_version=version)
        assert "modelStorage.image.featureGateEnabled" in message or "needs the Kubernetes image volume (1.31+" in message, message
    else:
        assert kube_version_tuple(version) >= (1, 31, 0), "an API server that keeps image volumes is 1.31+"
