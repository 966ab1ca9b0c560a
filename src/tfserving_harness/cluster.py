"""Reaching a real cluster (kind in CI): discovery and the reason to skip when there is none."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ClusterInfo:
    kubeconfig: str
    context: str | None
    server_version: str


def kubeconfig_path() -> str:
    return os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config"))


def find_cluster(context: str | None = None) -> tuple[ClusterInfo | None, str]:
    """(cluster, "") when one answers, else (None, why not and how to provide one)."""
    path = kubeconfig_path()
    how = "create one with `scripts/kind-up.sh` (kind + Docker) or point KUBECONFIG at a cluster"
    if not Path(path.split(os.pathsep)[0]).is_file():
        return None, f"no kubeconfig at {path}: {how}"
    try:
        from kubernetes import client, config

        api_client = config.new_client_from_config(config_file=path, context=context)
        version = client.VersionApi(api_client).get_code(_request_timeout=5)
    except Exception as error:  # any failure to reach the API server means: no cluster here
        return None, f"the cluster in {path} does not answer ({type(error).__name__}: {error}): {how}"
    return ClusterInfo(path, context, version.git_version), ""
