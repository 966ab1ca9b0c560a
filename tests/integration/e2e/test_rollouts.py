"""Zero failed requests through a rolling update of the model version, a blue/green switch, adding
and removing a canary track, and a scale-in, measured with the clients users have: long-lived gRPC
channels (tensorflow-serving-api stubs) and HTTP keep-alive sessions (requests.Session) through the
release's ClusterIP Service, plus a client that opens a fresh connection per request for each
protocol, every client one request at a time at a steady rate (tfserving_harness.e2e.ServiceLoad).
The load runs until every pod that terminated meanwhile is gone: TF Serving ignores SIGTERM, so its
SIGKILL at the end of the grace period is when calls still on a connection fail.

The budget of a deleted pod (e2e.judge_shutdown): nothing for gRPC clients and fresh connections;
at most one failed request per HTTP keep-alive connection the pod still holds at its SIGKILL. TF
Serving's REST server never closes an idle keep-alive connection (docs/design.md, Graceful
shutdown; docs/standin.md), and kube-proxy keeps an established connection going to a terminating
pod, so a keep-alive client keeps using the old pod until SIGKILL breaks the connection; the request
in flight at that moment fails, the next one reconnects to a Ready pod. Each pod's connections are
read inside it just before the shutdown rule says none of the gRPC ones may be left
(e2e.TerminationWatch): a gRPC connection then is a failure of the rule, whatever the luck of the
requests.

The rolling update runs the chart's default shutdown timings (what users get: a 10 s preStop
pause, 30 s max connection age + 10 s grace, a 60 s grace period); the others use shorter timings
that satisfy the same rule, to save time.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from kubernetes import client

from tfserving_harness import e2e
from tfserving_harness.cluster import wait_until
from tfserving_harness.kind import demo_models

SERVING = "app.kubernetes.io/instance=tfs,tf-serving.io/track"
MAIN = "tfs-tf-serving"
#: 3 + ceil(1.1 x 5 + 5) = 14 <= 25, REST requests cut at 5 s (3 + 5 <= 25): the chart's rule holds. Longer
#: than the rule's minimum because the shared 2-core CI node can be slow: with a 2 s age grace, calls that took
#: over 2 s when their connection's GOAWAY came were cut ("max connection age"; the clients allow 10 s), and
#: with a 15 s grace period TerminationWatch's check (two `kubectl exec`s at the bound) was still running at SIGKILL.
SHORT_SHUTDOWN = {"shutdown": {"preStopSleepSeconds": 3, "terminationGracePeriodSeconds": 25},
                  "server": {"restApiTimeoutInMs": 5000,
                             "grpcChannelArguments": {"grpc.max_connection_age_ms": 5000, "grpc.max_connection_age_grace_ms": 5000}},
                  "rollingUpdate": {"minReadySeconds": 2}}
#: The answers every client must have seen before the test acts.
BASELINE_ANSWERS = 3


def serving_pods(core, namespace: str, selector: str = SERVING) -> list[str]:
    return sorted(p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=selector).items
                  if p.metadata.deletion_timestamp is None)


def wait_for_baseline(load: e2e.ServiceLoad) -> None:
    def answered():
        counts = {client_id: sum(1 for o in run.outcomes if o.ok) for client_id, run in load.runs.items()}
        return all(n >= BASELINE_ANSWERS for n in counts.values()), load.progress()

    wait_until(answered, what="every client's first answers", timeout=60)


def load_through_changes(cluster: e2e.E2ECluster, api, namespace: str, acts, *, expect_ends: int, numbers, service: str = MAIN,
                         after_each=None) -> tuple[e2e.ServiceLoad, e2e.ShutdownVerdict]:
    """ServiceLoad on `service` while each of `acts` runs (after_each(load) between them), then
    until `expect_ends` pods have terminated and are gone; the verdict and the numbers recorded."""
    core = client.CoreV1Api(api)
    with cluster.reach_service(core, namespace, service) as endpoint, e2e.TerminationWatch(cluster, api, namespace, SERVING) as watch:
        e2e.wait_for_service(endpoint)
        with e2e.ServiceLoad(endpoint) as load:
            wait_for_baseline(load)
            started, started_wall = time.monotonic(), time.time()
            for act in acts:
                act()
                if after_each:
                    after_each(load)
            acted = time.monotonic() - started

            def ended():
                done = [e for e in watch.ends.values() if e.gone_at is not None]
                return len(done) >= expect_ends, f"{len(done)} of {expect_ends} pods gone; {load.progress()}"

            wait_until(ended, what=f"{expect_ends} pod(s) of {namespace} to terminate and be gone (their SIGKILL at the latest)",
                       timeout=600)
            time.sleep(2)  # answers after the last pod is gone: the clients that reconnected
    verdict = e2e.judge_shutdown(load.by_kind(), list(watch.ends.values()), expect_ends=expect_ends)
    gone = [e.gone_at - started_wall for e in watch.ends.values() if e.gone_at]
    numbers(f"load started {started_wall - load.runs[next(iter(load.runs))].started_at:.0f}s before the changes, done in {acted:.0f}s" + (f", the last terminated pod gone {max(gone):.0f}s after they began" if gone else "")
            + "; " + "; ".join(f"{r['client']} {r['sent']} sent {r['failed']} failed (allowed {r['allowed']})" for r in verdict.rows))
    for line in verdict.ends:
        numbers(line)
    for client_id, run in load.runs.items():
        for o in run.failures:  # when, against the pods' deletions and SIGKILLs above
            detail = " ".join(o.detail.split())[:200]
            numbers(f"{client_id} failed {run.started_at + o.t - started_wall:.2f}s after the changes began: {detail}")
    for end in watch.ends.values():
        numbers(f"{end.name} deleted {end.deleted_at - started_wall:.1f}s, SIGKILL {end.kill_at - started_wall:.1f}s after the changes began")
    return load, verdict


def answers(load: e2e.ServiceLoad, kind: str) -> list[list[str]]:
    """The versions each client of `kind` got, in order (failures left out)."""
    return [[o.detail for o in run.outcomes if o.ok] for client_id, run in load.runs.items() if client_id.startswith(kind)]


@pytest.mark.minutes(2.5)
def test_rolling_update_of_the_model_version_with_the_default_shutdown(e2e_cluster, e2e_api, e2e_release, service_load_balancing,
                                                                       numbers):
    release = e2e_release("rolling-update", values={"replicaCount": 2, "models": demo_models(1)})
    core = client.CoreV1Api(e2e_api)
    old = serving_pods(core, release.namespace)

    def upgrade():
        started = time.monotonic()
        release.upgrade(reset="--reset-then-reuse-values", extra=["--set-json", f"models={json.dumps(demo_models(2))}"])
        numbers(f"helm upgrade --wait (rollout to version 2) {time.monotonic() - started:.0f}s")

    load, verdict = load_through_changes(e2e_cluster, e2e_api, release.namespace, [upgrade], expect_ends=len(old), numbers=numbers)
    assert not verdict.problems, verdict.report()
    assert set(old).isdisjoint(serving_pods(core, release.namespace))
    for kind in e2e.STANDARD_CLIENTS:
        for seen in answers(load, kind):
            assert seen[0] == "1" and seen[-1] == "2", f"{kind}: a client must see version 1 first and version 2 once the old pods are gone"


@pytest.mark.minutes(1)
def test_blue_green_switch(e2e_cluster, e2e_api, e2e_release, service_load_balancing, numbers):
    values = {**SHORT_SHUTDOWN, "blueGreen": {"enabled": True, "active": "blue", "blue": {"models": demo_models(1)},
                                              "green": {"models": demo_models(2)}}}
    release = e2e_release("blue-green", values=values)
    core = client.CoreV1Api(e2e_api)
    before = serving_pods(core, release.namespace)
    switched = {}

    def switch():
        release.upgrade(set_values={"blueGreen.active": "green"}, reset="--reset-then-reuse-values")
        switched["at"] = time.time()

    def long_lived_grpc_on_green(load):
        # A long-lived channel moves when its connection reaches its max age (+-10 %) and gets GOAWAY.
        def moved():
            latest = [seen[-3:] for seen in answers(load, "grpc long-lived")]
            return all(tail == ["2"] * 3 for tail in latest), latest

        wait_until(moved, what="every long-lived gRPC channel to reach green (max connection age 5 s)", timeout=30)
        numbers(f"long-lived gRPC channels all on green {time.time() - switched['at']:.1f}s after the switch")

    load, verdict = load_through_changes(e2e_cluster, e2e_api, release.namespace, [switch], expect_ends=0, numbers=numbers,
                                         after_each=long_lived_grpc_on_green)
    assert not verdict.problems, verdict.report()
    assert serving_pods(core, release.namespace) == before, "a switch moves selectors only: no pod restarts"
    for kind in ("grpc fresh", "rest fresh"):
        for seen in answers(load, kind):
            assert seen[0] == "1" and seen[-1] == "2", f"{kind}: a new connection after the switch must reach green"
    # TF Serving never closes an idle keep-alive connection and kube-proxy keeps it to its blue pod:
    # those clients stay on blue until blue's pods go. A number for the report, not a rule.
    on_blue = sum(seen[-1] == "1" for seen in answers(load, "rest keep-alive"))
    numbers(f"{on_blue} of {e2e.STANDARD_CLIENTS['rest keep-alive']} keep-alive REST clients still on blue at the end")


@pytest.mark.minutes(1.5)
def test_adding_and_removing_a_canary_track(e2e_cluster, e2e_api, e2e_release, service_load_balancing, numbers):
    """The README's way: the single track becomes the track `main` (same Deployment, nothing
    recreated) beside a canary, which later goes away again. The main Service's clients never
    notice; the canary's own Service answers its version while it exists."""
    release = e2e_release("canary-track", values={**SHORT_SHUTDOWN, "replicaCount": 2, "models": demo_models(1)})
    core = client.CoreV1Api(e2e_api)
    main_pods = serving_pods(core, release.namespace)
    canary_answers = {}

    def add_canary():
        release.upgrade(reset="--reset-then-reuse-values", extra=[
            "--set", "tracks.main.replicaCount=2", "--set", "tracks.canary.replicaCount=1", "--set", "primaryTrack=main",
            "--set-json", f"tracks.canary.models={json.dumps(demo_models(2))}"])

    def remove_canary():
        release.upgrade(reset="--reset-then-reuse-values", extra=["--set", "tracks=null", "--set", "primaryTrack=null"])

    def ask_the_canary(load):
        if "canary" in canary_answers:
            return
        with e2e_cluster.reach_service(core, release.namespace, f"{MAIN}-canary") as canary:
            with e2e.ServiceLoad(canary, rate=10, clients={"grpc long-lived": 1, "rest keep-alive": 1}) as canary_load:
                wait_until(lambda: (all(len(r.outcomes) >= 20 for r in canary_load.runs.values()), canary_load.progress()),
                           what="20 answers from the canary's Service", timeout=60)
        canary_answers["canary"] = canary_load

    _, verdict = load_through_changes(e2e_cluster, e2e_api, release.namespace, [add_canary, remove_canary], expect_ends=1,
                                      numbers=numbers, after_each=ask_the_canary)
    assert not verdict.problems, verdict.report()
    assert serving_pods(core, release.namespace) == main_pods, "adding and removing a track must not restart the main track"
    canary_load = canary_answers["canary"]
    assert not [o for r in canary_load.runs.values() for o in r.failures], canary_load.progress()
    assert {o.detail for r in canary_load.runs.values() for o in r.outcomes} == {"2"}, "the canary's Service reaches the canary only"


@pytest.mark.minutes(1)
def test_scale_in(e2e_cluster, e2e_api, e2e_release, service_load_balancing, numbers):
    release = e2e_release("scale-in", values={**SHORT_SHUTDOWN, "replicaCount": 3, "models": demo_models(1)})

    def scale_in():
        release.upgrade(set_values={"replicaCount": "1"}, reset="--reset-then-reuse-values")

    _, verdict = load_through_changes(e2e_cluster, e2e_api, release.namespace, [scale_in], expect_ends=2, numbers=numbers)
    assert not verdict.problems, verdict.report()


@pytest.mark.minutes(1.5)
@pytest.mark.skipif(os.environ.get("TFS_E2E_BROKEN") != "1",
                    reason="a deliberately broken shutdown, 1.5 more minutes: run with TFS_E2E_BROKEN=1 (make test-e2e)")
def test_without_a_max_connection_age_grpc_connections_meet_sigkill(e2e_cluster, e2e_api, e2e_release, service_load_balancing, numbers):
    """What the shutdown rule guards against, shown: the scale-in above with grpc.max_connection_age_ms
    and its grace removed from the running Deployment behind the chart's back (the chart refuses
    that). Nothing then tells a long-lived channel to go away, so the terminating pods still hold
    the channels' connections just before SIGKILL and the verdict must say so."""
    release = e2e_release("no-max-age", values={**SHORT_SHUTDOWN, "replicaCount": 3, "models": demo_models(1)})
    apps = client.AppsV1Api(e2e_api)
    deployment = apps.read_namespaced_deployment(MAIN, release.namespace)
    container = next(c for c in deployment.spec.template.spec.containers if c.name == e2e.CONTAINER)
    args = [a for a in container.args if not a.startswith("--grpc_channel_arguments=")]
    assert len(args) == len(container.args) - 1, f"the chart no longer renders --grpc_channel_arguments: {container.args}"
    apps.patch_namespaced_deployment(MAIN, release.namespace, {"spec": {"template": {"spec": {"containers": [
        {"name": e2e.CONTAINER, "args": args}]}}}})

    def rolled_out():
        pods = client.CoreV1Api(e2e_api).list_namespaced_pod(release.namespace, label_selector=SERVING).items
        patched = [p for p in pods if p.metadata.deletion_timestamp is None and next(
            c for c in p.spec.containers if c.name == e2e.CONTAINER).args == args and all(
            c.ready for c in p.status.container_statuses or [])]
        return len(patched) == len(pods) == 3, f"{len(patched)} of {len(pods)} pods Ready without the max age (3 wanted, no other)"

    wait_until(rolled_out, what="the Deployment without a max connection age to roll out (and its old pods to be gone)", timeout=300)

    def scale_in():
        apps.patch_namespaced_deployment_scale(MAIN, release.namespace, {"spec": {"replicas": 1}})

    _, verdict = load_through_changes(e2e_cluster, e2e_api, release.namespace, [scale_in], expect_ends=2, numbers=numbers)
    still_open = [p for p in verdict.problems if "gRPC client connection(s) still open" in p]
    assert still_open, f"without a max connection age the terminating pods should still hold gRPC connections at SIGKILL:\n{verdict.report()}"
