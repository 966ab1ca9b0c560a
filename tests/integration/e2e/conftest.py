"""The end-to-end tier: the chart's pods really run, with real traffic (today on kind with the real
tensorflow/serving image).

Needs a cluster whose nodes run containers and have the TF Serving image and the demo model
(`make kind-up`, i.e. scripts/kind.py create: docker, kind, kubectl). Without one, every test is
collected and skipped with the reason; TFS_REQUIRE_KIND=1 turns the skip into a failure (the
GitHub workflow sets it). Fixtures: `kind_cluster` (ClusterInfo), `kind_release` (a factory that
installs the chart with a scenario's values plus the demo values into a fresh `restricted`
namespace and returns the HelmRelease; on failure the report gets the namespace's events and helm
status).
"""

from __future__ import annotations

import os
import uuid

import pytest
import yaml
from kubernetes import client, config, utils

from tfserving_harness import cluster as harness
from tfserving_harness import kind


def _unavailable(message: str):
    if os.environ.get("TFS_REQUIRE_KIND") == "1":
        pytest.fail(f"TFS_REQUIRE_KIND=1 but the kind tier cannot run: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kind_cluster():
    info, why_not = harness.find_cluster()
    how = "create one with `make kind-up` (needs docker, kind and kubectl)"
    if info is None:
        _unavailable(f"needs a kind cluster running the tensorflow/serving image: {why_not}")
    api = config.new_client_from_config(config_file=info.kubeconfig, context=info.context)
    nodes = client.CoreV1Api(api).list_node().items
    if harness.cluster_kind(nodes) == harness.STAND_IN_NODES:
        _unavailable(f"KUBECONFIG points at k8s-local, whose stand-in nodes run no containers (no TF Serving, no traffic): {how}")
    images = {name for n in nodes for image in (n.status.images or []) for name in (image.names or [])}
    if not any(name.endswith(kind.TFS_IMAGE.removeprefix("docker.io/")) or name == kind.TFS_IMAGE for name in images):
        _unavailable(f"the cluster's nodes do not have {kind.TFS_IMAGE}: {how}")
    return info


@pytest.fixture(scope="session")
def kind_api(kind_cluster):
    return config.new_client_from_config(config_file=kind_cluster.kubeconfig, context=kind_cluster.context)


@pytest.fixture
def kind_release(request, kind_cluster, kind_api, tmp_path):
    """`kind_release(name, values_files=(), values=None, pod_security="restricted")` -> HelmRelease
    installed and waited for, serving the demo model from the `demo-models` claim."""
    core = client.CoreV1Api(kind_api)
    made: list[str] = []
    request.node.tfs_namespaces = made
    request.node.tfs_cluster = (kind_api, kind_cluster.kubeconfig)

    def install(name: str, values_files=(), values: dict | None = None, pod_security: str | None = "restricted", wait: bool = True):
        namespace = f"{name[:40]}-{uuid.uuid4().hex[:6]}"
        labels = {**harness.CREATED_BY_LABEL, **({harness.POD_SECURITY_ENFORCE: pod_security} if pod_security else {})}
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=labels)))
        made.append(namespace)
        for manifest in kind.model_volume_manifests(namespace):
            utils.create_from_dict(kind_api, manifest)
        overlay = tmp_path / f"{namespace}-values.yaml"
        overlay.write_text(yaml.safe_dump({**kind.demo_values(), **(values or {})}))
        release = harness.HelmRelease("tfs", namespace, kind_cluster.kubeconfig, timeout="600s")
        release.install([*values_files, overlay], wait=wait)
        return release

    yield install
    for namespace in made:
        core.delete_namespace(namespace)
        try:
            core.delete_persistent_volume(f"{namespace}-{kind.MODEL_CLAIM}")
        except client.ApiException as error:
            if error.status != 404:
                raise
