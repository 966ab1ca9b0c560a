"""Models change under running pods: a new version folder is served within the file-system poll
interval plus a stated margin, on every pod, without a restart; and a version label moves in the
chart README's two steps under steady load on that label, with no failed request and no restart."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
import uuid

import pytest
import requests
from kubernetes import client

from tfserving_harness import clients, demo_model, e2e
from tfserving_harness.cluster import wait_until

SERVING = "app.kubernetes.io/instance=tfs,tf-serving.io/track"
MAIN = "tfs-tf-serving"
POLL_SECONDS = 10
#: Beyond the poll interval: the server loads the new version and replays its warmup records before
#: it is AVAILABLE (the stand-in takes about a second for the demo model, the binary less), on a
#: 2-core machine that may be starting other releases' TensorFlow at the same time; the client asks
#: every 0.25 s.
MARGIN_SECONDS = 10


def running_pods(core, namespace: str) -> list:
    return [p for p in core.list_namespaced_pod(namespace, label_selector=SERVING).items if p.metadata.deletion_timestamp is None]


def restarts(pods) -> dict[str, int]:
    return {p.metadata.name: sum(s.restart_count for s in p.status.container_statuses or []) for p in pods}


@contextlib.contextmanager
def every_pod(cluster: e2e.E2ECluster, pods):
    """{pod name: Endpoint} for every pod (its IP on the real node, a port-forward each on kind)."""
    with contextlib.ExitStack() as stack:
        yield {p.metadata.name: stack.enter_context(cluster.reach_pod(p)) for p in pods}


def version_state(endpoint: e2e.Endpoint, version: int) -> str:
    """GET /v1/models/half_plus_two/versions/N: that version's state, or the HTTP error."""
    answer = requests.get(f"{endpoint.rest_url}/v1/models/{demo_model.MODEL_NAME}/versions/{version}", timeout=5)
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}"
    return answer.json()["model_version_status"][0]["state"]


def label_answer(endpoint: e2e.Endpoint, label: str | None = None) -> str:
    try:
        return clients.PredictClient("rest", "fresh", endpoint.rest_url, endpoint.grpc_target, label=label).send()
    except Exception as error:  # a label the server does not have yet: 404
        return f"{type(error).__name__}: {error}"[:120]


@pytest.mark.minutes(1)
def test_a_new_version_folder_is_served_within_the_poll_interval_plus_a_margin(e2e_cluster, e2e_api, e2e_release, numbers):
    core = client.CoreV1Api(e2e_api)
    folder = e2e.ModelFolder(e2e_cluster, f"new-version-{uuid.uuid4().hex[:8]}", [n.metadata.name for n in core.list_node().items])
    try:
        folder.add_version(1)
        values = {"replicaCount": 2, "models": [{"name": demo_model.MODEL_NAME, "basePath": f"/models/{demo_model.MODEL_NAME}"}],
                  "server": {"fileSystemPollWaitSeconds": POLL_SECONDS}}
        release = e2e_release("new-version", values=values, model_path=folder.path)
        pods = running_pods(core, release.namespace)
        with every_pod(e2e_cluster, pods) as endpoints:
            assert {name: label_answer(e) for name, e in endpoints.items()} == {name: "1" for name in endpoints}
            # The pods poll on their own clock, started with them; `helm install --wait` returns in step
            # with their probes: publish at a random moment of the poll interval, as a publisher would.
            time.sleep(random.uniform(0, POLL_SECONDS))
            published = time.monotonic()
            folder.add_version(2)
            served = {}

            def watch(name, endpoint):
                while time.monotonic() - published < POLL_SECONDS + MARGIN_SECONDS + 30:
                    if label_answer(endpoint) == "2":
                        served[name] = time.monotonic() - published
                        return
                    time.sleep(0.25)

            threads = [threading.Thread(target=watch, args=item) for item in endpoints.items()]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        numbers("version 2 served " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in sorted(served.items()))
                + f" after its folder appeared (poll {POLL_SECONDS}s + margin {MARGIN_SECONDS}s)")
        assert set(served) == set(endpoints), f"pods that never served version 2: {set(endpoints) - set(served)}"
        assert max(served.values()) <= POLL_SECONDS + MARGIN_SECONDS, served
        after = running_pods(core, release.namespace)
        assert restarts(after) == restarts(pods) == {p.metadata.name: 0 for p in pods}, "a new version folder restarts nothing"
    finally:
        folder.remove()


@pytest.mark.minutes(2)
def test_a_label_moves_in_the_readmes_two_steps_under_load(e2e_cluster, e2e_api, e2e_release, numbers):
    """Hot reload on (models.config re-read every 5 s): 1. load version 2 beside 1 with its own
    label, wait until it is AVAILABLE on every pod; 2. move `stable` to it; then drop version 1.
    Clients on `stable` (every kind of client, through the Service) see 1, then 2, never a failure."""
    def models(versions, labels):
        return [{"name": demo_model.MODEL_NAME, "basePath": f"/models/{demo_model.MODEL_NAME}",
                 "versionPolicy": {"specific": {"versions": versions}}, "versionLabels": labels}]

    values = {"replicaCount": 2, "models": models([1], {"stable": 1}),
              "server": {"modelConfigPollWaitSeconds": 5, "fileSystemPollWaitSeconds": 5, "allowVersionLabelsForUnavailableModels": True}}
    release = e2e_release("label-move", values=values)
    core = client.CoreV1Api(e2e_api)
    pods = running_pods(core, release.namespace)

    def upgrade(versions, labels):
        release.upgrade(reset="--reset-then-reuse-values", extra=["--set-json", f"models={json.dumps(models(versions, labels))}"])

    def on_every_pod(check, expected, what):
        started = time.monotonic()
        with every_pod(e2e_cluster, pods) as endpoints:
            wait_until(lambda: (all(check(e) == expected for e in endpoints.values()), {n: check(e) for n, e in endpoints.items()}),
                       what=f"{what} on every pod", timeout=120)
        numbers(f"{what}: {time.monotonic() - started:.0f}s after the upgrade")

    with e2e_cluster.reach_service(core, release.namespace, MAIN) as endpoint:
        e2e.wait_for_service(endpoint, label="stable")
        load = e2e.ServiceLoad(endpoint, label="stable").start()
        try:
            wait_until(lambda: (all(len(r.outcomes) >= 3 for r in load.runs.values()), load.progress()), what="first answers", timeout=60)
            upgrade([1, 2], {"stable": 1, "canary": 2})
            on_every_pod(lambda e: version_state(e, 2), "AVAILABLE", "step 1: version 2 AVAILABLE")
            on_every_pod(lambda e: label_answer(e, "canary"), "2", "step 1: label canary on version 2")
            moving = time.time()
            upgrade([1, 2], {"stable": 2, "canary": 2})
            on_every_pod(lambda e: label_answer(e, "stable"), "2", "step 2: label stable on version 2")
            moved = time.time()
            upgrade([2], {"stable": 2, "canary": 2})
            on_every_pod(lambda e: version_state(e, 1), "END", "version 1 unloaded")
            time.sleep(2)
        finally:
            load.stop()
    verdict = e2e.judge_shutdown(load.by_kind(), [], expect_ends=0)
    numbers("; ".join(f"{r['client']} {r['sent']} sent {r['failed']} failed" for r in verdict.rows))
    assert not verdict.problems, verdict.report()
    # Each pod moves the label when the kubelet has updated its models.config and the server re-read
    # it: until every pod has, a client through the Service may get either version.
    for client_id, run in load.runs.items():
        before = {o.detail for o in run.outcomes if run.started_at + o.t < moving}
        after = {o.detail for o in run.outcomes if run.started_at + o.t > moved}
        assert before == {"1"} and after == {"2"}, f"{client_id}: stable answered {before} before step 2 and {after} once every pod moved"
    assert restarts(running_pods(core, release.namespace)) == {p.metadata.name: 0 for p in pods}, "hot reload restarts nothing"
