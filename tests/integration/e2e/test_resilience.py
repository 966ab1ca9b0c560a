"""A pod deleted under steady load (a node drain, a preemption) costs at most a stated budget of
failed requests: the preStop pause and readiness let the ingress move traffic to the other pod. On
kind, through ingress-nginx, which routes each request to a current endpoint (the ClusterIP
version, with long-lived connections, is test_rollouts.py's scale-in)."""

from __future__ import annotations

import threading
import time

from kubernetes import client

from tfserving_harness.cluster import wait_until
from tfserving_harness.kind import INGRESS_VALUES, demo_models, ingress_host, wait_for_ingress
from tfserving_harness.kind import ask_ingress as ask
from tfserving_harness.traffic import steady_load

#: Failed requests allowed for one deleted pod, out of the requests sent while it shuts down. The
#: chart's preStop sleep keeps the old pod serving until the endpoints update reaches the ingress,
#: so the expected cost is zero; the budget leaves room for one in-flight connection reset.
FAILURE_BUDGET = 2


def test_a_deleted_pod_costs_no_more_than_the_budget(e2e_api, kind_ingress, e2e_release):
    release = e2e_release("pod-deletion", values={**INGRESS_VALUES, "replicaCount": 2, "models": demo_models(1)})
    host = ingress_host(release.namespace)
    wait_for_ingress(host)
    core = client.CoreV1Api(e2e_api)
    (victim, *_) = core.list_namespaced_pod(release.namespace, label_selector="app.kubernetes.io/instance=tfs,tf-serving.io/track").items
    stop = threading.Event()
    result = {}
    load = threading.Thread(target=lambda: result.update(run=steady_load(lambda: str(ask(host)), rate=20, seconds=300, stop=stop)))
    load.start()
    time.sleep(5)  # a steady baseline before the deletion
    core.delete_namespaced_pod(victim.metadata.name, release.namespace)

    def gone():  # the load runs until its SIGKILL: the grace period is when dropped calls would happen
        names = [p.metadata.name for p in core.list_namespaced_pod(release.namespace).items]
        return victim.metadata.name not in names, names

    wait_until(gone, what=f"pod {victim.metadata.name} to be gone", timeout=180)
    stop.set()
    load.join()
    run = result["run"]
    assert len(run.outcomes) > 500
    assert len(run.failures) <= FAILURE_BUDGET, run.summary()
