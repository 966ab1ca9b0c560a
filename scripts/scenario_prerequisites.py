#!/usr/bin/env python3
"""Create what the ci/ scenarios expect to exist (their `# needs:` declarations), the vendored CRDs
of the custom kinds they render, and an unbound stand-in volume per needed StorageClass, in one
namespace: what `ct install` needs before it installs every scenario there (ct.yaml `namespace`).

    .venv/bin/python scripts/scenario_prerequisites.py [--namespace tf-serving-ct]

Idempotent: existing objects are kept. For API servers whose nodes run no containers (k8s-local);
on kind the stand-in volumes are NFS exports that do not exist.
"""

from __future__ import annotations

import argparse
import sys

from kubernetes import config, utils

from tfserving_harness import cluster, helm, yamlio
from tfserving_harness.paths import ci_values_files


def create(api, manifest: dict) -> None:
    try:
        utils.create_from_dict(api, manifest)
        print(f"created {manifest['kind']}/{manifest['metadata']['name']}", file=sys.stderr)
    except utils.FailToCreateError as error:
        if any(getattr(e, "status", None) != 409 for e in error.api_exceptions):
            raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", default="tf-serving-ct")
    args = parser.parse_args(argv)
    api = config.new_client_from_config(config_file=cluster.kubeconfig_path())
    create(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": args.namespace, "labels": {cluster.POD_SECURITY_ENFORCE: "baseline"}}})
    crds: dict = {}
    for values_file in ci_values_files():
        for need in cluster.scenario_prerequisites(values_file):
            if need.kind == "GPUNode":
                print(f"{values_file.name} needs a GPU node ({need.name}): label one yourself", file=sys.stderr)
            for manifest in cluster.prerequisite_manifests(need, args.namespace):
                create(api, manifest)
            if need.kind == "StorageClass":
                volume = cluster.stand_in_volume(f"{args.namespace}-{need.name}", args.namespace, "", need.name, "100Gi", ["ReadWriteMany", "ReadOnlyMany"])
                del volume["spec"]["claimRef"]  # ct names releases at random: any claim of the class binds it
                create(api, volume)
        try:
            documents = helm.render_chart(values_files=[values_file], namespace=args.namespace)
        except helm.RenderError:
            continue  # a scenario for a newer Kubernetes; ct skips nothing, so it fails there with the chart's message
        crds.update(dict.fromkeys(cluster.crds_for(documents)))
    for path in crds:
        for doc in yamlio.load_all(path.read_text()):
            if doc:
                create(api, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
