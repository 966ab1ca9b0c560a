#!/usr/bin/env python3
"""`make demo`: TF Serving on a local kind cluster with this chart, and one REST and one gRPC
prediction from it.

Checks docker, kind and kubectl; creates a bare kind cluster with `scripts/kind.py create
--no-addons` (no add-ons, no host port: the demo needs neither) or reuses the one that exists; builds
the demo model and copies it into the nodes; installs the chart into namespace tf-serving-demo (Pod
Security `restricted`) with the model on a read-only claim; waits; runs `helm test`; port-forwards
the Service and prints the answers next to what the model must return. Every command names the
cluster's context (kind-$KIND_CLUSTER). `make kind-down` removes the cluster.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import yaml

from tfserving_harness import clients, demo_model, kind
from tfserving_harness.cluster import HelmRelease, kubeconfig_path
from tfserving_harness.paths import REPO_ROOT

RELEASE = "demo"
INPUTS = [1.0, 2.0, 5.0]


def say(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


CLUSTER = os.environ.get("KIND_CLUSTER", kind.CLUSTER_NAME)
CONTEXT = kind.kube_context(CLUSTER)
KUBECONFIG = kubeconfig_path().split(os.pathsep)[0]


def kubectl(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "--context", CONTEXT, *args], input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"demo: kubectl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def main() -> int:
    missing = kind.missing_tools()
    if missing:
        hints = "\n".join(f"  {tool}: {kind.TOOL_HINTS[tool]}" for tool in missing)
        print(f"demo: `make demo` runs TF Serving on a local kind cluster and needs {', '.join(missing)}:\n{hints}\n"
              "Without them, `make test` runs every tier that works on this machine.", file=sys.stderr)
        return 2
    if subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "kind.py"), "--name", CLUSTER, "create", "--no-addons"]).returncode != 0:
        return 1
    namespace = kind.DEMO_NAMESPACE
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
        *kind.model_volume_manifests(namespace)]))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as values:
        yaml.safe_dump(kind.demo_values(), values)
    release = HelmRelease(RELEASE, namespace, KUBECONFIG, timeout="600s", context=CONTEXT)
    say(f"installing the chart as release {RELEASE} in {namespace} and waiting for the model to load (up to 10 minutes)")
    release.helm("upgrade", values_files=[values.name], extra=["--install", "--reset-values"])
    say("helm test: every model AVAILABLE and one prediction each, from a pod in the cluster")
    print(release.test().stdout.split("NOTES:")[0])

    with kind.port_forward(KUBECONFIG, namespace, f"service/{RELEASE}-tf-serving", ["http", "grpc"], context=CONTEXT) as ports:
        rest = clients.rest_predict(f"http://127.0.0.1:{ports['http']}", demo_model.MODEL_NAME, INPUTS)
        grpc = clients.grpc_predict(f"127.0.0.1:{ports['grpc']}", demo_model.MODEL_NAME, INPUTS)
    latest = 2
    expected = [demo_model.expected_output(latest, x) for x in INPUTS]
    print(f"REST  POST /v1/models/{demo_model.MODEL_NAME}:predict {clients.rest_predict_body(INPUTS)} -> {rest}")
    print(f"gRPC  PredictionService/Predict x={INPUTS} -> {grpc}")
    print(f"expected from version {latest} (y = 0.5 x + {latest + 1}): {expected}")
    ok = all(abs(a - b) < 1e-4 for a, b in zip(rest, expected, strict=True)) and all(abs(a - b) < 1e-4 for a, b in zip(grpc, expected, strict=True))
    print(f"Next: kubectl --context {CONTEXT} -n {namespace} get pods; helm --kube-context {CONTEXT} -n {namespace} status {RELEASE}; "
          "make kind-down", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    start = time.monotonic()
    code = main()
    say(f"finished in {time.monotonic() - start:.0f}s")
    sys.exit(code)
