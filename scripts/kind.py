#!/usr/bin/env python3
"""A kind cluster for the demo and the e2e tier (tests/integration/e2e), everything pinned
(tfserving_harness.kind): node image by digest, metrics-server, ingress-nginx, Envoy Gateway,
Prometheus + prometheus-adapter with the chart's generated rules, the TF Serving image loaded into
the nodes and the demo model mounted into them (a hostPath volume + claim `demo-models`).

    scripts/kind.py create [--kubernetes 1.33] [--workers 1] [--no-addons]
    scripts/kind.py delete
    scripts/kind.py logs          # kind export logs into .demo/kind-logs

Needs docker, kind and kubectl. KIND_CLUSTER (default tf-serving) names the cluster; the
kubeconfig goes to KUBECONFIG (default ~/.kube/config). On failure the cluster's logs are exported
to .demo/kind-logs before the script exits.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import yaml

from tfserving_harness import helm, kind
from tfserving_harness.cluster import CRD_DIR, kubeconfig_path
from tfserving_harness.paths import REPO_ROOT

LOG_DIR = REPO_ROOT / ".demo" / "kind-logs"


def step(message: str) -> None:
    print(f"kind: {message}", file=sys.stderr, flush=True)


def run(command: list[str], *, what: str, stdin: str | None = None) -> str:
    """Run a command, saying what it does and how long it took; on failure raise with its output."""
    step(f"{what} ...")
    start = time.monotonic()
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {result.returncode}): {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    step(f"{what}: done in {time.monotonic() - start:.0f}s")
    return result.stdout


def require_tools() -> None:
    missing = kind.missing_tools()
    if missing:
        hints = "\n".join(f"  {tool}: {kind.TOOL_HINTS[tool]}" for tool in missing)
        raise SystemExit(f"kind: missing {', '.join(missing)}; install:\n{hints}")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise SystemExit("kind: docker is installed but its daemon does not answer (`docker info` fails): start Docker")


def cluster_exists(name: str) -> bool:
    return name in subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True).stdout.split()


def create(args) -> None:
    require_tools()
    name, kubeconfig = args.name, kubeconfig_path()
    if not (kind.HOST_MODEL_DIR / "half_plus_two" / "2").is_dir():
        run([sys.executable, str(REPO_ROOT / "scripts" / "build_demo_model.py")], what="build the demo model")
    if cluster_exists(name):
        step(f"reusing cluster {name}")
    else:
        config = kind.kind_config(kubernetes=args.kubernetes, workers=args.workers)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
            yaml.safe_dump(config, handle)
        run(["kind", "create", "cluster", "--name", name, "--config", handle.name, "--kubeconfig", kubeconfig, "--wait", "300s"],
            what=f"create cluster {name} from {config['nodes'][0]['image']} (up to 5 minutes)")
    run(["docker", "pull", kind.TFS_IMAGE], what=f"pull {kind.TFS_IMAGE}")
    run(["kind", "load", "docker-image", kind.TFS_IMAGE, "--name", name], what="load the TF Serving image into the nodes")
    run(["kubectl", "--kubeconfig", kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(CRD_DIR)],
        what="apply the vendored CRDs (Gateway API routes, ServiceMonitor, ScaledObject, VPA)")
    if not args.no_addons:
        for addon in kind.ADDONS:
            result = helm.run_helm(kind.addon_helm_args(addon, kubeconfig), check=False)
            if result.returncode != 0:
                raise RuntimeError(f"installing {addon.release} {addon.version} failed:\n{result.stdout}\n{result.stderr}")
            step(f"{addon.release} {addon.version} installed in {addon.namespace}")
        run(["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", "-"], stdin=yaml.safe_dump_all(kind.gateway_manifests()),
            what="create the Gateway gateways/public the ci/ scenarios attach their routes to")
    step(f"ready: KUBECONFIG={kubeconfig}; `make demo` installs the chart, `make test-e2e` runs the e2e tier")


def delete(args) -> None:
    require_tools()
    run(["kind", "delete", "cluster", "--name", args.name], what=f"delete cluster {args.name}")


def logs(args) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    run(["kind", "export", "logs", str(LOG_DIR), "--name", args.name], what=f"export logs to {LOG_DIR}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=os.environ.get("KIND_CLUSTER", kind.CLUSTER_NAME))
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("create")
    make.add_argument("--kubernetes", default=None, help=f"minor version, one of {', '.join(kind.NODE_IMAGES)} (default {kind.DEFAULT_KUBERNETES})")
    make.add_argument("--workers", type=int, default=1)
    make.add_argument("--no-addons", action="store_true", help="skip metrics-server, ingress, gateway, Prometheus")
    commands.add_parser("delete")
    commands.add_parser("logs")
    args = parser.parse_args(argv)
    try:
        {"create": create, "delete": delete, "logs": logs}[args.command](args)
    except RuntimeError as error:
        print(f"kind: {error}", file=sys.stderr)
        if args.command == "create" and cluster_exists(args.name):
            logs(args)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
