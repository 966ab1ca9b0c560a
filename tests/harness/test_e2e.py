"""tfserving_harness.e2e without a cluster: which cluster runs the tier and why not, what each ci/
scenario gets layered over it (and that every runnable one renders with it), the shutdown bound
read from a rendered pod, connections read from /proc/net/tcp, and the zero-failure verdict."""

from __future__ import annotations

import pytest
import yaml

from tfserving_harness import cluster, e2e, helm, kind
from tfserving_harness.manifests import one
from tfserving_harness.paths import ci_values_files
from tfserving_harness.traffic import LoadRun, Outcome
from tfserving_harness.values import merge
from tfserving_harness.yamlio import load

REAL_NODE_IMAGE = {"repository": "tfserving-standin/tensorflow-serving", "tag": "2.20.0-standin", "digest": "", "pullPolicy": "IfNotPresent"}


def test_the_e2e_kubeconfig_wins_over_kubeconfig(monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "/stand-in-nodes/kubeconfig")
    monkeypatch.delenv("TFS_E2E_KUBECONFIG", raising=False)
    assert e2e.e2e_kubeconfig() == ("/stand-in-nodes/kubeconfig", "KUBECONFIG")
    monkeypatch.setenv("TFS_E2E_KUBECONFIG", "/real-node/kubeconfig")
    assert e2e.e2e_kubeconfig() == ("/real-node/kubeconfig", "TFS_E2E_KUBECONFIG")


def test_only_clusters_that_run_containers_with_the_right_image_qualify():
    assert "stand-in nodes, which run no containers" in e2e.classify(cluster.STAND_IN_NODES, set(), None)
    assert "make standin-image LOAD=1" in e2e.classify(cluster.REAL_NODE, {"docker.io/k8s-local/busybox:latest"}, None)
    assert e2e.classify(cluster.REAL_NODE, {e2e.STANDIN_IMAGE}, None) == ""
    assert "make kind-up" in e2e.classify(cluster.KIND, set(), "kind-tf-serving")
    assert e2e.classify(cluster.KIND, {kind.TFS_IMAGE}, "kind-tf-serving") == ""
    assert "TFS_KUBE_CONTEXT" in e2e.classify(cluster.OTHER, set(), "gke-prod")


def _scenarios() -> dict[str, dict]:
    return {p.name.removesuffix("-values.yaml"): load(p.read_text()) or {} for p in ci_values_files()}


def test_overlay_runs_what_the_tier_can_and_says_why_not_otherwise():
    scenarios = _scenarios()
    runnable = {name for name, values in scenarios.items() if e2e.scenario_overlay(values, REAL_NODE_IMAGE, 1)[0] is not None}
    assert runnable == set(scenarios) - {"gpu", "network-policy", "storage-gcs", "storage-image", "storage-init-container",
                                         "storage-nfs", "storage-s3", "ingress-grpc"}
    assert "3 replicas: the cluster has 1 schedulable node(s)" in e2e.scenario_overlay(scenarios["ingress-grpc"], REAL_NODE_IMAGE, 1)[1]
    assert e2e.scenario_overlay(scenarios["ingress-grpc"], REAL_NODE_IMAGE, 3)[0] is not None
    canary, _ = e2e.scenario_overlay(scenarios["tracks-canary"], REAL_NODE_IMAGE, 1)
    assert canary["tracks"]["canary"] == {"image": REAL_NODE_IMAGE, "resources": e2e.SMALL_RESOURCES, "replicaCount": 1}
    assert canary["tracks"]["stable"] == {"image": REAL_NODE_IMAGE, "replicaCount": 1} and canary["replicaCount"] == 1
    assert "modelStorage" not in canary, "a scenario on the built-in demo keeps it"
    claimed, _ = e2e.scenario_overlay(scenarios["multi-version"], REAL_NODE_IMAGE, 1)
    assert claimed["modelStorage"]["existingClaim"]["claimName"] == kind.MODEL_CLAIM
    assert claimed["tracks"]["v2"]["models"] == claimed["models"]
    for name in ("storage-gcs", "storage-s3", "storage-nfs", "gpu", "storage-image"):
        overlay, why = e2e.scenario_overlay(scenarios[name], REAL_NODE_IMAGE, 1)
        assert overlay is None and why


@pytest.mark.parametrize("name", sorted(n for n, v in _scenarios().items() if e2e.scenario_overlay(v, REAL_NODE_IMAGE, 1)[0] is not None))
def test_every_runnable_scenario_renders_with_what_the_tier_layers_over_it(name):
    """What e2e_release installs on the real node: the scenario, then the base values, the overlay
    and the release's own Ingress hosts. It renders; every pod runs the stand-in image with small
    requests; claims are the tier's; the helm test pod runs the node's busybox."""
    path = ci_values_files()[0].parent / f"{name}-values.yaml"
    scenario = load(path.read_text()) or {}
    overlay, _ = e2e.scenario_overlay(scenario, REAL_NODE_IMAGE, 1)
    base = {"image": REAL_NODE_IMAGE, "imagePullSecrets": [], "helmTest": {"image": e2e.REAL_NODE_TEST_IMAGE}}
    values = yaml.safe_load(yaml.safe_dump(merge(merge(base, overlay), {"ingress": {"host": f"{name}.kind.test"}})))
    documents = helm.render_chart(values, values_files=[path])
    deployments = [d for d in documents if d["kind"] == "Deployment"]
    pods = [d["spec"]["template"]["spec"] for d in deployments]
    assert {c["image"] for p in pods for c in p["containers"]} == {"tfserving-standin/tensorflow-serving:2.20.0-standin"}
    assert {c["resources"]["requests"]["cpu"] for p in pods for c in p["containers"]} == {"10m"}
    assert {c["imagePullPolicy"] for p in pods for c in p["containers"]} == {"IfNotPresent"}, "nothing can be pulled on the real node"
    claims = {v["persistentVolumeClaim"]["claimName"] for p in pods for v in p.get("volumes", []) if "persistentVolumeClaim" in v}
    assert claims == (set() if e2e.serves_built_in_demo(scenario) else {kind.MODEL_CLAIM})
    test_pods = [d for d in documents if d["kind"] == "Pod"]
    assert [p["spec"]["containers"][0]["image"] for p in test_pods] == ["k8s-local/busybox:latest"]


def _pod(values: dict) -> dict:
    return {"spec": one(helm.render_chart(values), "Deployment")["spec"]["template"]["spec"]}


def test_the_shutdown_bound_is_read_from_the_pod_as_the_chart_rule_has_it():
    # Defaults: a 10 s pause + 1.1 x 30 s max age + 10 s grace = 53 s, within the 60 s grace period.
    pod = _pod({})
    assert e2e.channel_arguments(pod) == {"grpc.max_connection_age_grace_ms": "10000", "grpc.max_connection_age_ms": "30000"}
    assert e2e.prestop_seconds(pod) == 10 and e2e.grpc_connections_end_within(pod) == 53
    short = _pod({"shutdown": {"preStopSleepSeconds": 3, "terminationGracePeriodSeconds": 15}, "server": {
        "restApiTimeoutInMs": 5000, "grpcChannelArguments": {"grpc.max_connection_age_ms": 5000, "grpc.max_connection_age_grace_ms": 2000}}})
    assert e2e.grpc_connections_end_within(short) == 3 + 8
    args = pod["spec"]["containers"][0]["args"]
    no_age = {"spec": {"containers": [{**pod["spec"]["containers"][0],
                                       "args": [a for a in args if not a.startswith("--grpc_channel_arguments")]}]}}
    assert e2e.grpc_connections_end_within(no_age) is None
    exec_pre_stop = {"spec": {"containers": [{"name": "tf-serving", "lifecycle": {"preStop": {"exec": {"command": ["sleep", "7"]}}}}]}}
    assert e2e.prestop_seconds(exec_pre_stop) == 7


PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:2135 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 10001 0 1 1
   1: 0000000000000000FFFF00000900F40A:2134 0000000000000000FFFF00000100F40A:AA78 01 00000000:00000000 00:00000000 00000000 10001 0 2 1
   2: 0000000000000000FFFF00000900F40A:2134 0000000000000000FFFF00000100F40A:AA79 06 00000000:00000000 03:000015A5 00000000 0 0 0 3
   3: 0000000000000000FFFF00000900F40A:2135 0000000000000000FFFF00000100F40A:E6EA 01 00000000:00000000 00:00000000 00000000 10001 0 3 1
"""


def test_established_client_connections_per_port():
    assert e2e.established_peers(PROC_NET_TCP6, 8500) == {"0000000000000000FFFF00000100F40A:AA78"}, "listening and TIME_WAIT do not count"
    assert e2e.established_peers(PROC_NET_TCP6, 8501) == {"0000000000000000FFFF00000100F40A:E6EA"}
    assert e2e.established_peers("", 8500) == set()


def _run(failed: int, ok: int = 100) -> LoadRun:
    return LoadRun([Outcome(i * 0.2, True, "1") for i in range(ok)] + [Outcome(50.0, False, "ConnectionError: reset")] * failed)


def _end(grpc: int | None, rest: int | None) -> e2e.PodEnd:
    return e2e.PodEnd("tfs-abc", deleted_at=100.0, kill_at=160.0, checked_after=53.0 if grpc is not None else None,
                      grpc_connections=grpc, rest_connections=rest)


def test_verdict_zero_failures_but_one_per_keep_alive_connection_a_deleted_pod_held():
    runs = {"grpc long-lived": [_run(0)], "rest keep-alive": [_run(1), _run(1)], "grpc fresh": [_run(0)], "rest fresh": [_run(0)]}
    verdict = e2e.judge_shutdown(runs, [_end(0, 2)], expect_ends=1)
    assert verdict.problems == [] and {r["client"]: r["allowed"] for r in verdict.rows}["rest keep-alive"] == 2
    over = e2e.judge_shutdown(runs, [_end(0, 1)])
    assert over.problems == ["rest keep-alive: 2 of 202 requests failed, 1 allowed; each client's first failure (seconds after the load "
                             "started): at +50.0s ConnectionError: reset; at +50.0s ConnectionError: reset"]
    assert e2e.judge_shutdown({**runs, "grpc fresh": [_run(1)]}, [_end(0, 2)]).problems[0].startswith("grpc fresh: 1 of 101")


def test_verdict_fails_on_grpc_connections_left_for_sigkill_and_on_unchecked_pods():
    runs = {"grpc long-lived": [_run(0)]}
    (left,) = e2e.judge_shutdown(runs, [_end(3, 0)]).problems
    assert "3 gRPC client connection(s) still open 53.0s after its deletion" in left
    (unchecked,) = e2e.judge_shutdown(runs, [_end(None, None)]).problems
    assert "were not checked before SIGKILL" in unchecked
    assert e2e.judge_shutdown(runs, [], expect_ends=2).problems == ["0 pods terminated during the load, the test expected 2"]
