"""Traffic through the ingress controller on kind: the canary split matches its weight within an
exact binomial tolerance, a header pins testers to the canary, and switching blue/green or rolling
the model version under steady load fails no request. Requests go to the ingress on
127.0.0.1:KIND_HTTP_PORT (kind's port mapping), with the Host of the release's own Ingress
(tfserving_harness.kind.ingress_host)."""

from __future__ import annotations

import json
import threading

from tfserving_harness.kind import INGRESS_VALUES, demo_models, ingress_host, wait_for_ingress
from tfserving_harness.kind import ask_ingress as ask
from tfserving_harness.split import judge_split
from tfserving_harness.traffic import steady_load


def test_canary_weight_split_and_header_pinning(kind_ingress, e2e_release):
    weight, total = 20, 2000
    values = {**INGRESS_VALUES, "tracks": {"stable": {"models": demo_models(1)}, "canary": {"models": demo_models(2)}}, "primaryTrack": "stable",
              "canary": {"enabled": True, "weight": weight, "header": {"name": "X-Canary", "value": "always"}}}
    host = ingress_host(e2e_release("canary-split", values=values).namespace)
    # The canary Ingress reaches nginx's configuration after the primary one: until the header
    # reaches the canary, the weight does not split either (both come from the canary Ingress).
    wait_for_ingress(host, expect_version=2, headers={"X-Canary": "always"})
    versions = [ask(host) for _ in range(total)]
    verdict = judge_split(versions.count(2), total, weight)
    assert verdict.ok, str(verdict)
    pinned = [ask(host, {"X-Canary": "always"}) for _ in range(200)]
    assert set(pinned) == {2}, "X-Canary: always must always reach the canary"


def test_blue_green_switch_under_steady_load_fails_no_request(kind_ingress, e2e_release):
    values = {**INGRESS_VALUES, "blueGreen": {"enabled": True, "active": "blue", "blue": {"models": demo_models(1)}, "green": {"models": demo_models(2)}}}
    release = e2e_release("blue-green-load", values=values)
    host = ingress_host(release.namespace)
    wait_for_ingress(host, expect_version=1)
    stop = threading.Event()
    result = {}
    load = threading.Thread(target=lambda: result.update(run=steady_load(lambda: str(ask(host)), rate=20, seconds=90, stop=stop)))
    load.start()
    release.upgrade(set_values={"blueGreen.active": "green"}, reset="--reset-then-reuse-values")
    wait_for_ingress(host, expect_version=2)
    stop.set()
    load.join()
    run = result["run"]
    assert not run.failures, run.summary()
    assert {o.detail for o in run.outcomes} == {"1", "2"}, "the load must see blue before and green after the switch"


def test_rolling_update_of_the_model_version_under_steady_load_fails_no_request(kind_ingress, e2e_release):
    release = e2e_release("rolling-load", values={**INGRESS_VALUES, "replicaCount": 2, "models": demo_models(1)})
    host = ingress_host(release.namespace)
    wait_for_ingress(host, expect_version=1)
    stop = threading.Event()
    result = {}
    load = threading.Thread(target=lambda: result.update(run=steady_load(lambda: str(ask(host)), rate=20, seconds=300, stop=stop)))
    load.start()
    release.upgrade(reset="--reset-then-reuse-values", extra=["--set-json", f"models={json.dumps(demo_models(2))}"])
    wait_for_ingress(host, expect_version=2)
    stop.set()
    load.join()
    run = result["run"]
    assert not run.failures, run.summary()
