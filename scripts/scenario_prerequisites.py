#!/usr/bin/env python3
"""Create what the ci/ scenarios expect to exist (their `# needs:` declarations), the vendored CRDs
of the custom kinds they render, and an unbound stand-in volume per needed StorageClass, in one
namespace: what `ct install` needs before it installs every scenario there (ct.yaml `namespace`).

    .venv/bin/python scripts/scenario_prerequisites.py [--namespace tf-serving-ct] [--drop-unrunnable]

Idempotent: existing objects are kept. For API servers whose nodes run no containers (k8s-local);
on kind the stand-in volumes are NFS exports that do not exist. A `GPUNode/label=value` need labels
one of k8s-local's stand-in nodes (as the cluster tier does). ct installs every ci/ file and skips
none, so --drop-unrunnable deletes from the working tree (a CI checkout) the scenarios whose
`min-kube-version` is above the cluster's, saying which and why.
"""

from __future__ import annotations

import argparse
import sys

from kubernetes import client, config, utils

from tfserving_harness import cluster, helm, yamlio
from tfserving_harness.paths import ci_values_files
from tfserving_harness.testing import kube_version_tuple, scenario_directives


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
    parser.add_argument("--drop-unrunnable", action="store_true", help="delete the ci/ files of scenarios for a newer Kubernetes")
    args = parser.parse_args(argv)
    api = config.new_client_from_config(config_file=cluster.kubeconfig_path())
    server = client.VersionApi(api).get_code().git_version
    core = client.CoreV1Api(api)
    stand_ins = [n.metadata.name for n in core.list_node().items if (n.metadata.labels or {}).get("node.kubernetes.io/instance-type") == "stand-in"]
    create(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": args.namespace, "labels": {cluster.POD_SECURITY_ENFORCE: "baseline"}}})
    crds: dict = {}
    for values_file in ci_values_files():
        minimum = scenario_directives(values_file).get("min-kube-version")
        if args.drop_unrunnable and minimum and kube_version_tuple(server) < kube_version_tuple(minimum):
            values_file.unlink()
            print(f"dropped {values_file.name}: it needs Kubernetes {minimum}+, the cluster runs {server}", file=sys.stderr)
            continue
        for need in cluster.scenario_prerequisites(values_file):
            if need.kind == "GPUNode":
                if not stand_ins:
                    print(f"{values_file.name} needs a GPU node ({need.name}): label one yourself", file=sys.stderr)
                else:
                    metadata, status = cluster.gpu_node_patch(need)
                    core.patch_node(stand_ins[0], metadata)
                    core.patch_node_status(stand_ins[0], status)
                    print(f"labelled stand-in node {stand_ins[0]} as the GPU node {values_file.name} selects ({need.name})", file=sys.stderr)
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
