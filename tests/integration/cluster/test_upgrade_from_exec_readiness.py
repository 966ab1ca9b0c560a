"""Upgrading a release of chart 0.2.0 (exec readiness probe, `readiness.sh` from the ConfigMap) to
this chart (kubelet-native probes) never leaves the Service without ready endpoints.

What this proves on a real API server and controllers: the Deployment controller's rollout order
(maxSurge, maxUnavailable 0, minReadySeconds) keeps Ready endpoints in the Service's EndpointSlices
at every step, and the old pods' probe file stays in the ConfigMap they mount, byte for byte, while
they are replaced. What it cannot prove: the stand-in kubelet marks pods Ready without running any
probe, so that the old pods' script still passes is shown by its content being unchanged (the
kubelet would apply a changed or removed key to their mounted directory), not by running it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import urllib3
import yaml
from kubernetes import client, config, watch

from tfserving_harness import helm
from tfserving_harness.paths import chart_dir

#: The last commit whose chart (0.2.0) has the exec readiness probe: the parent of the first commit
#: of the kubelet-native probes.
PREVIOUS_CHART_COMMIT = "a84e28b"

VALUES = {
    "replicaCount": 3,
    "rollingUpdate": {"minReadySeconds": 2},
    "models": [{"name": "m", "basePath": "/models/m"}],
    # Short-lived pods (the stand-in nodes run no container): a grace period the chart accepts needs
    # short gRPC connection ages and REST timeout (1 + 1.1 x 1 s + 1 s, rounded up), which 0.2.0 takes too.
    "server": {"restApiTimeoutInMs": 1000, "grpcChannelArguments": {"grpc.max_connection_age_ms": 1000, "grpc.max_connection_age_grace_ms": 1000}},
    "modelStorage": {"source": "none"},
    "shutdown": {"preStopSleepSeconds": 1, "terminationGracePeriodSeconds": 4},
}


@pytest.fixture(scope="module")
def previous_chart(tmp_path_factory) -> Path:
    """charts/tf-serving at PREVIOUS_CHART_COMMIT, from this checkout's git history."""
    repo = chart_dir().parent.parent
    out = tmp_path_factory.mktemp("previous")
    archive = subprocess.run(["git", "-C", str(repo), "archive", PREVIOUS_CHART_COMMIT, "charts/tf-serving"], capture_output=True)
    if archive.returncode != 0:
        message = f"needs the git history with commit {PREVIOUS_CHART_COMMIT} (a full clone, not an export or a shallow clone): {archive.stderr.decode().strip()}"
        if os.environ.get("TFS_REQUIRE_CLUSTER") == "1":
            pytest.fail(f"TFS_REQUIRE_CLUSTER=1 but {message}", pytrace=False)
        pytest.skip(message)
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return out / "charts" / "tf-serving"


def ready_endpoints(slices: dict[str, client.V1EndpointSlice]) -> int:
    return sum(1 for s in slices.values() for e in (s.endpoints or []) if e.conditions and e.conditions.ready)


def test_upgrade_from_0_2_0_keeps_ready_endpoints_and_the_old_probe_file(cluster, previous_chart):
    api = config.new_client_from_config(config_file=cluster.kubeconfig)
    core, discovery, apps = client.CoreV1Api(api), client.DiscoveryV1Api(api), client.AppsV1Api(api)
    namespace = f"upgrade-{uuid.uuid4().hex[:8]}"
    release = "up"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values:
        yaml.safe_dump(VALUES, values)
        values.flush()
        common = ["--namespace", namespace, "-f", values.name, "--wait", "--timeout", "180s", "--kubeconfig", cluster.kubeconfig]
        try:
            helm.run_helm(["install", release, str(previous_chart), *common])
            service = f"{release}-tf-serving"
            configmap = core.read_namespaced_config_map(f"{service}-config", namespace)
            old_script = configmap.data["readiness.sh"]
            old_pods = {p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/instance={release}").items}
            old_probe = core.read_namespaced_pod(sorted(old_pods)[0], namespace).spec.containers[0].readiness_probe
            assert old_probe._exec and old_probe._exec.command[1].endswith("/readiness.sh"), old_probe

            # Watch the Service's EndpointSlices from the current resourceVersion, so no change is missed.
            selector = f"kubernetes.io/service-name={service}"
            listed = discovery.list_namespaced_endpoint_slice(namespace, label_selector=selector)
            slices = {s.metadata.name: s for s in listed.items}
            timeline: list[tuple[float, int]] = [(0.0, ready_endpoints(slices))]
            assert timeline[0][1] == VALUES["replicaCount"], f"before the upgrade: {timeline[0][1]} ready endpoints"
            stop = threading.Event()
            watcher = watch.Watch()
            started = time.monotonic()

            def follow() -> None:
                try:
                    follow_events()
                except urllib3.exceptions.ProtocolError:
                    if not stop.is_set():  # the watch is closed on purpose at the end
                        raise

            def follow_events() -> None:
                for event in watcher.stream(discovery.list_namespaced_endpoint_slice, namespace, label_selector=selector,
                                            resource_version=listed.metadata.resource_version, timeout_seconds=240):
                    obj = event["object"]
                    if event["type"] == "DELETED":
                        slices.pop(obj.metadata.name, None)
                    else:
                        slices[obj.metadata.name] = obj
                    timeline.append((time.monotonic() - started, ready_endpoints(slices)))
                    if stop.is_set():
                        break

            thread = threading.Thread(target=follow, daemon=True)
            thread.start()
            print(f"upgrading {namespace}/{release} from chart {PREVIOUS_CHART_COMMIT} to the working tree (helm --wait, up to 180s)")
            helm.run_helm(["upgrade", release, str(chart_dir()), *common])

            # During the rollout: the old pods' probe file is still there, unchanged.
            assert core.read_namespaced_config_map(f"{service}-config", namespace).data["readiness.sh"] == old_script
            # helm --wait returns once the new pods are ready; the controller may still be scaling the old ones down.
            deadline = time.monotonic() + 120
            while True:
                deployment = apps.read_namespaced_deployment(service, namespace)
                status = deployment.status
                done = (status.observed_generation == deployment.metadata.generation and status.replicas == status.updated_replicas
                        == status.available_replicas == VALUES["replicaCount"])
                if done:
                    break
                assert time.monotonic() < deadline, f"Deployment/{service} did not finish its rollout in 120s: {status}"
                print(f"waiting for Deployment/{service} to finish the rollout: {status.updated_replicas} updated, {status.replicas} total")
                time.sleep(1)
            new_pods = core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/instance={release}").items
            running = [p for p in new_pods if p.metadata.deletion_timestamp is None]
            assert not old_pods & {p.metadata.name for p in running}, "the rollout replaced every old pod"
            new_probe = running[0].spec.containers[0].readiness_probe
            assert new_probe._exec is None and (new_probe.grpc or new_probe.tcp_socket), new_probe
            time.sleep(1)  # let the watch deliver the last EndpointSlice updates of the rollout
            stop.set()
            watcher.stop()
            api.rest_client.pool_manager.clear()
            thread.join(timeout=10)
            print("EndpointSlice timeline (s, ready endpoints):", [(round(t, 1), n) for t, n in timeline])
            assert len(timeline) > 2, f"the watch saw no rollout: {timeline}"
            assert min(n for _, n in timeline) > 0, f"the Service had no ready endpoint during the rollout: {timeline}"
        finally:
            helm.run_helm(["uninstall", release, "--namespace", namespace, "--kubeconfig", cluster.kubeconfig], check=False)
            core.delete_namespace(namespace)
