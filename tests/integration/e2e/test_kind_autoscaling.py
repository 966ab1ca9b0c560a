"""The HPA scales out under the load test's `autoscale` shape and back in, judged by the load-test
issue's verifier (tfserving_harness.load.verifier) against its timing model, on kind with
metrics-server, Prometheus and prometheus-adapter (scripts/kind.py)."""

from __future__ import annotations

import threading
import time

import pytest

from tfserving_harness.kind import INGRESS_VALUES, demo_models, ingress_host, wait_for_ingress
from tfserving_harness.kind import ask_ingress as ask
from tfserving_harness.traffic import steady_load

TARGET_PER_POD = 5.0  # requests per second per pod (autoscaling.requestsPerSecond.averageValue)


def test_hpa_scales_out_under_the_autoscale_shape_and_back_in(e2e_cluster, kind_custom_metrics, kind_ingress, e2e_release):
    verifier = pytest.importorskip("tfserving_harness.load.verifier", reason="the autoscaling verifier comes with the load-test work (issue 8)")
    shapes = pytest.importorskip("tfserving_harness.load.shapes", reason="the load shapes come with the load-test work (issue 8)")
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 2, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 60, "policies": [{"type": "Pods", "value": 2, "periodSeconds": 15}]}}
    values = {**INGRESS_VALUES, "models": demo_models(1),
              "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 4, "cpu": {"enabled": False}, "behavior": behavior,
                              "requestsPerSecond": {"enabled": True, "averageValue": str(TARGET_PER_POD)}},
              "monitoring": {"serviceMonitor": {"enabled": True, "interval": "15s"}}}
    release = e2e_release("hpa", values=values)
    host = ingress_host(release.namespace)
    wait_for_ingress(host)
    low, high = shapes.autoscale_rates(TARGET_PER_POD, 1, 3)
    phases = shapes.autoscale(warmup_seconds=30, low_rate=low, low_seconds=120, high_rate=high, hold_seconds=300, observe_seconds=300)
    recorder = verifier.Recorder(namespace=release.namespace, release="tfs", kubeconfig=e2e_cluster.info.kubeconfig,
                                 context=e2e_cluster.info.context)
    model = verifier.TimingModel(min_replicas=1, expect_replicas=3, scrape_interval=15, rate_window=120, adapter_interval=30,
                                 pod_start=90, behavior=behavior)
    done = threading.Event()

    def sample():
        while not done.is_set():
            recorder.sample()
            time.sleep(5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    elapsed = 0.0
    starts = {}
    for phase in phases:
        starts[phase.name] = elapsed
        steady_load(lambda: str(ask(host)), rate=phase.rate, seconds=phase.seconds)
        elapsed += phase.seconds
    done.set()
    sampler.join(timeout=30)
    verdicts = verifier.judge(recorder.samples, model, {"low": starts["low"], "high": starts["high"], "drop": starts["drop"], "end": elapsed})
    failed = [v for v in verdicts if not v.ok]
    assert not failed, "\n".join(v.line() for v in verdicts) + "\n" + model.describe()
