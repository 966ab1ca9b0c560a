#!/usr/bin/env python3
"""`make demo`: TF Serving on a local kind cluster with this chart, and one REST and one gRPC
prediction from it.

Checks docker, kind and kubectl; creates (or reuses) the kind cluster with scripts/kind.py; builds
the demo model; installs the chart into namespace tf-serving-demo (Pod Security `restricted`) with
the model on a read-only claim; waits; runs `helm test`; port-forwards the Service and prints the
answers next to what the model must return. `scripts/kind.py delete` removes the cluster.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time

import yaml

from tfserving_harness import demo_model, kind
from tfserving_harness.cluster import HelmRelease, kubeconfig_path, wait_until
from tfserving_harness.paths import REPO_ROOT

RELEASE = "demo"
INPUTS = [1.0, 2.0, 5.0]


def say(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


def kubectl(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(["kubectl", "--kubeconfig", kubeconfig_path(), *args], input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"demo: kubectl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    missing = kind.missing_tools()
    if missing:
        hints = "\n".join(f"  {tool}: {kind.TOOL_HINTS[tool]}" for tool in missing)
        print(f"demo: `make demo` runs TF Serving on a local kind cluster and needs {', '.join(missing)}:\n{hints}\n"
              "Without them, `make test` runs every tier that works on this machine.", file=sys.stderr)
        return 2
    if subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "kind.py"), "create"]).returncode != 0:
        return 1
    namespace = kind.DEMO_NAMESPACE
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
        *kind.model_volume_manifests(namespace)]))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as values:
        yaml.safe_dump(kind.demo_values(), values)
    release = HelmRelease(RELEASE, namespace, kubeconfig_path(), timeout="600s")
    say(f"installing the chart as release {RELEASE} in {namespace} and waiting for the model to load (up to 10 minutes)")
    release.helm("upgrade", values_files=[values.name], extra=["--install", "--reset-values"])
    say("helm test: every model AVAILABLE and one prediction each, from a pod in the cluster")
    print(release.test().stdout.split("NOTES:")[0])

    rest_port, grpc_port = free_port(), free_port()
    forward = subprocess.Popen(["kubectl", "--kubeconfig", kubeconfig_path(), "-n", namespace, "port-forward",
                                f"service/{RELEASE}-tf-serving", f"{rest_port}:http", f"{grpc_port}:grpc"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", rest_port)) == 0, f"port {rest_port}"

        wait_until(listening, what="kubectl port-forward", timeout=30, interval=0.5)
        rest = kind.rest_predict(f"http://127.0.0.1:{rest_port}", demo_model.MODEL_NAME, INPUTS)
        grpc = kind.grpc_predict(f"127.0.0.1:{grpc_port}", demo_model.MODEL_NAME, INPUTS)
    finally:
        forward.terminate()
        forward.wait(timeout=10)
    latest = 2
    expected = [demo_model.expected_output(latest, x) for x in INPUTS]
    print(f"REST  POST /v1/models/{demo_model.MODEL_NAME}:predict {kind.rest_predict_body(INPUTS)} -> {rest}")
    print(f"gRPC  PredictionService/Predict x={INPUTS} -> {grpc}")
    print(f"expected from version {latest} (y = 0.5 x + {latest + 1}): {expected}")
    ok = all(abs(a - b) < 1e-4 for a, b in zip(rest, expected, strict=True)) and all(abs(a - b) < 1e-4 for a, b in zip(grpc, expected, strict=True))
    print(f"Next: kubectl -n {namespace} get pods; helm -n {namespace} status {RELEASE}; scripts/kind.py delete", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    start = time.monotonic()
    code = main()
    say(f"finished in {time.monotonic() - start:.0f}s")
    sys.exit(code)
