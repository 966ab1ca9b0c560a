#!/usr/bin/env python3
"""A kind cluster for the demo and the e2e tier (tests/integration/e2e), everything pinned
(tfserving_harness.kind): kind's node image by digest, the TF Serving image loaded into the nodes,
the demo model copied into them (a hostPath volume + claim `demo-models` per namespace), and, unless
--no-addons, metrics-server, ingress-nginx (on 127.0.0.1:KIND_HTTP_PORT, default 8080), Envoy
Gateway, Prometheus + prometheus-adapter with the chart's generated rules, then the vendored CRDs
of the kinds no add-on brought (KEDA's ScaledObject, the VPA).

    scripts/kind.py create [--kubernetes 1.33] [--workers 1] [--no-addons]
    scripts/kind.py delete
    scripts/kind.py logs          # kind export logs into .demo/kind-logs

Needs docker, kind and kubectl. KIND_CLUSTER (default tf-serving) names the cluster; every command
names its context, kind-<cluster>, in the kubeconfig KUBECONFIG points at (default ~/.kube/config),
so a reused cluster never gets what was meant for the current context. On failure the cluster's
logs are exported to .demo/kind-logs before the script exits.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time

import yaml

from tfserving_harness import helm, kind
from tfserving_harness.cluster import kubeconfig_path, vendored_crds
from tfserving_harness.paths import REPO_ROOT

LOG_DIR = REPO_ROOT / ".demo" / "kind-logs"


def step(message: str) -> None:
    print(f"kind: {message}", file=sys.stderr, flush=True)


def run(command: list[str], *, what: str, stdin: str | None = None, quiet: bool = False) -> str:
    """Run a command, saying what it does and how long it took; on failure raise with its output."""
    if not quiet:
        step(f"{what} ...")
    start = time.monotonic()
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {result.returncode}): {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    if not quiet:
        step(f"{what}: done in {time.monotonic() - start:.0f}s")
    return result.stdout


def require_tools() -> None:
    missing = kind.missing_tools()
    if missing:
        hints = "\n".join(f"  {tool}: {kind.TOOL_HINTS[tool]}" for tool in missing)
        raise SystemExit(f"kind: missing {', '.join(missing)}; install:\n{hints}")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise SystemExit("kind: docker is installed but its daemon does not answer (`docker info` fails): start Docker")


def kubeconfig() -> str:
    """The kubeconfig file kind writes to and every command reads (the first of a KUBECONFIG list)."""
    return kubeconfig_path().split(os.pathsep)[0]


def kubectl(context: str, *args: str) -> list[str]:
    return ["kubectl", "--kubeconfig", kubeconfig(), "--context", context, *args]


def cluster_exists(name: str) -> bool:
    return name in subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True).stdout.split()


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def ingress_port_of(name: str) -> str:
    """The host address kind mapped to the control plane's port 80 ("" when it has none)."""
    return subprocess.run(["docker", "port", f"{name}-control-plane", "80/tcp"], capture_output=True, text=True).stdout.strip()


def copy_model(name: str) -> None:
    nodes = run(["kind", "get", "nodes", "--name", name], what="list the nodes", quiet=True).split()
    for node in nodes:
        for command in kind.copy_model_commands(node):
            run(command, what=f"copy the demo model into {node}", quiet=True)
    step(f"demo model copied to {kind.NODE_MODEL_DIR} on {', '.join(nodes)}")


def install_addons(context: str) -> None:
    for addon in kind.ADDONS:
        step(f"install {addon.release} {addon.version} into {addon.namespace} (waits until ready, up to 10 minutes) ...")
        start = time.monotonic()
        result = helm.run_helm(kind.addon_helm_args(addon, kubeconfig=kubeconfig(), context=context), stdin=kind.addon_values_yaml(addon), check=False)
        if result.returncode != 0:
            raise RuntimeError(f"installing {addon.release} {addon.version} failed:\n{result.stdout}\n{result.stderr}")
        step(f"{addon.release} {addon.version} installed in {time.monotonic() - start:.0f}s")
    served_json = run(kubectl(context, "get", "crd", "-o", "json"), what="list the CRDs", quiet=True)
    served = {(c["spec"]["group"], c["spec"]["names"]["kind"]) for c in json.loads(served_json)["items"]}
    for path in kind.crds_to_apply(vendored_crds(), served):
        run(kubectl(context, "apply", "--server-side", "-f", str(path)), what=f"apply the vendored CRD {path.name} (no add-on serves it)")
    run(kubectl(context, "apply", "-f", "-"), stdin=yaml.safe_dump_all(kind.gateway_manifests()),
        what="create the Gateway gateways/public the ci/ scenarios attach their routes to")


def create(args) -> None:
    require_tools()
    name, context = args.name, kind.kube_context(args.name)
    http_port = None if args.no_addons else kind.HTTP_PORT
    if not (kind.HOST_MODEL_DIR / "half_plus_two" / "2").is_dir():
        run([sys.executable, str(REPO_ROOT / "scripts" / "build_demo_model.py")], what="build the demo model")
    if cluster_exists(name):
        step(f"reusing cluster {name} (context {context})")
        if subprocess.run(["kubectl", "--kubeconfig", kubeconfig(), "config", "get-contexts", context], capture_output=True).returncode != 0:
            run(["kind", "export", "kubeconfig", "--name", name, "--kubeconfig", kubeconfig()], what=f"write context {context} into {kubeconfig()}")
        if http_port is not None and not ingress_port_of(name):
            step(f"warning: cluster {name} was created without the ingress port (by `make demo`); the e2e tests that go through "
                 f"the ingress will skip. For them: `make kind-down` then `make kind-up`.")
    else:
        if http_port is not None and not port_is_free(http_port):
            raise SystemExit(f"kind: 127.0.0.1:{http_port}, where the cluster's ingress will listen, is taken: free it or choose another "
                             f"port with KIND_HTTP_PORT=<port> (for the e2e tier too)")
        config = kind.kind_config(kubernetes=args.kubernetes, workers=args.workers, http_port=http_port)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
            yaml.safe_dump(config, handle)
        run(["kind", "create", "cluster", "--name", name, "--config", handle.name, "--kubeconfig", kubeconfig(), "--wait", "300s"],
            what=f"create cluster {name} from {config['nodes'][0]['image']} (up to 5 minutes)")
    if platform.machine().lower() in ("arm64", "aarch64"):
        step(f"note: {kind.TFS_IMAGE} is published for {kind.TFS_IMAGE_PLATFORM} only; on this {platform.machine()} host it runs "
             "emulated (Docker Desktop: turn on Rosetta for x86_64/amd64 emulation), slowly. See the README's kind section.")
    run(["docker", "pull", "--platform", kind.TFS_IMAGE_PLATFORM, kind.TFS_IMAGE], what=f"pull {kind.TFS_IMAGE}")
    run(["kind", "load", "docker-image", kind.TFS_IMAGE, "--name", name], what="load the TF Serving image into the nodes")
    copy_model(name)
    if not args.no_addons:
        install_addons(context)
    step(f"ready: context {context} in {kubeconfig()}; `make demo` installs the chart, `make test-e2e` runs the e2e tier")


def delete(args) -> None:
    require_tools()
    run(["kind", "delete", "cluster", "--name", args.name, "--kubeconfig", kubeconfig()], what=f"delete cluster {args.name}")


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
    make.add_argument("--no-addons", action="store_true", help="a bare cluster (what `make demo` needs): no add-ons, no CRDs, no host port")
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
