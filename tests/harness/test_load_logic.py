"""Load-test logic without Locust running: payloads from signatures, response checks, TF Serving's
Prometheus text, open-model pacing, connection limits, profiles, thresholds and the capacity recommendation."""

from __future__ import annotations

import json

import pytest

from tfserving_harness.load import capacity, payloads, server_metrics, shapes
from tfserving_harness.load.connections import ConnectionLimits
from tfserving_harness.load.pacing import Pacer
from tfserving_harness.load.thresholds import Thresholds
from tfserving_harness.standin import metrics as standin_metrics


def metadata(inputs: dict, outputs: dict | None = None) -> dict:
    def tensor(dtype, dims):
        shape = {"unknown_rank": True} if dims is None else {"dim": [{"size": str(d)} for d in dims], "unknown_rank": False}
        return {"dtype": dtype, "tensor_shape": shape}

    outputs = outputs or {"y": ("DT_FLOAT", [-1, 1])}
    return {"model_spec": {"name": "m", "version": "3"}, "metadata": {"signature_def": {"signature_def": {"serving_default": {
        "inputs": {k: tensor(*v) for k, v in inputs.items()}, "outputs": {k: tensor(*v) for k, v in outputs.items()}}}}}}


def test_generated_payload_follows_dtypes_and_shapes():
    signature = payloads.signature_from_metadata(metadata({"x": ("DT_FLOAT", [-1, 2]), "ids": ("DT_INT64", [-1]), "s": ("DT_STRING", [])}))
    payload = payloads.generate(signature, batch_size=3)
    body = json.loads(payload.rest_body)
    assert body == {"signature_name": "serving_default", "inputs": {"x": [[1.0, 1.0]] * 3, "ids": [1, 1, 1], "s": "a"}}
    request = payload.grpc_request("m", version=3)
    assert request.model_spec.version.value == 3
    assert [d.size for d in request.inputs["x"].tensor_shape.dim] == [3, 2] and list(request.inputs["x"].float_val) == [1.0] * 6
    assert list(request.inputs["ids"].int64_val) == [1, 1, 1] and list(request.inputs["s"].string_val) == [b"a"]


@pytest.mark.parametrize("spec, message", [
    (("DT_COMPLEX64", [-1]), "input 'x' of signature 'serving_default' (model 'm') has dtype DT_COMPLEX64, which cannot be generated"),
    (("DT_FLOAT", None), "input 'x' of signature 'serving_default' (model 'm') has an unknown rank"),
])
def test_payloads_that_cannot_be_generated_say_why(spec, message):
    signature = payloads.signature_from_metadata(metadata({"x": spec}))
    with pytest.raises(payloads.PayloadError, match="--payload-file") as error:
        payloads.generate(signature)
    assert message in str(error.value)


def test_unknown_signature_lists_the_ones_there_are():
    with pytest.raises(payloads.PayloadError, match=r"signature 'predict' is not in model 'm'; it has \['serving_default'\]"):
        payloads.signature_from_metadata(metadata({"x": ("DT_FLOAT", [-1])}), "predict")


def test_rest_payload_file_row_format(tmp_path):
    signature = payloads.signature_from_metadata(metadata({"x": ("DT_FLOAT", [-1, 1])}))
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"instances": [[1.0], [2.0]]}))
    payload = payloads.load_file(path, signature)
    assert payload.rest_format == "instances" and payload.batch_size == 2
    assert list(payload.grpc_request("m").inputs["x"].float_val) == [1.0, 2.0]
    path.write_text(json.dumps({"instances": [1.0], "inputs": [1.0]}))
    with pytest.raises(payloads.PayloadError, match="exactly one of `instances`"):
        payloads.load_file(path, signature)


def test_rest_response_checks_name_the_mismatch():
    signature = payloads.signature_from_metadata(metadata({"x": ("DT_FLOAT", [-1, 1])}, {"y": ("DT_FLOAT", [-1, 1]), "z": ("DT_FLOAT", [-1])}))
    payload = payloads.generate(signature, batch_size=2)
    ok = json.dumps({"outputs": {"y": [[1.0], [2.0]], "z": [1.0, 2.0]}})
    assert payloads.check_rest(200, ok, signature, payload) is None
    assert payloads.check_rest(200, json.dumps({"outputs": {"y": [[1.0], [2.0]]}}), signature, payload) == \
        "outputs ['y'] do not match the signature's ['y', 'z']"
    assert payloads.check_rest(200, json.dumps({"outputs": {"y": [[1.0]], "z": [1.0]}}), signature, payload) == \
        "output 'y' has batch dimension 1, the signature and batch size say 2"
    assert payloads.check_rest(400, json.dumps({"error": "bad input"}), signature, payload) == "HTTP 400: error: bad input"
    assert payloads.check_rest(200, json.dumps({"error": "x"}), signature, payload).startswith("HTTP 200: error")


def test_grpc_response_check():
    from tfserving_harness.load import protos

    signature = payloads.signature_from_metadata(metadata({"x": ("DT_FLOAT", [-1, 1])}))
    payload = payloads.generate(signature, batch_size=2)
    response = protos.apis().predict_pb2.PredictResponse()
    response.outputs["y"].tensor_shape.dim.add().size = 2
    assert payloads.check_grpc(response, signature, payload) is None
    response.outputs["y"].tensor_shape.dim[0].size = 5
    assert payloads.check_grpc(response, signature, payload) == "output 'y' has batch dimension 5, the signature and batch size say 2"


# TF Serving 2.20 exporter output (util/prometheus_exporter.cc layout), cut down to three buckets.
TF_SERVING_TEXT = """\
# TYPE :tensorflow:serving:request_count counter
:tensorflow:serving:request_count{model_name="m",status="OK"} 110
:tensorflow:serving:request_count{model_name="m",status="INVALID_ARGUMENT"} 4
# TYPE :tensorflow:serving:request_latency histogram
:tensorflow:serving:request_latency_bucket{model_name="m",API="predict",entrypoint="REST",le="1000"} 50
:tensorflow:serving:request_latency_bucket{model_name="m",API="predict",entrypoint="REST",le="2000"} 90
:tensorflow:serving:request_latency_bucket{model_name="m",API="predict",entrypoint="REST",le="+Inf"} 100
:tensorflow:serving:request_latency_sum{model_name="m",API="predict",entrypoint="REST"} 150000
:tensorflow:serving:request_latency_count{model_name="m",API="predict",entrypoint="REST"} 100
:tensorflow:serving:request_latency_bucket{model_name="m",API="",entrypoint="REST",le="1000"} 10
:tensorflow:serving:request_latency_bucket{model_name="m",API="",entrypoint="REST",le="2000"} 10
:tensorflow:serving:request_latency_bucket{model_name="m",API="",entrypoint="REST",le="+Inf"} 10
:tensorflow:serving:request_latency_count{model_name="m",API="",entrypoint="REST"} 10
"""


def test_server_view_counts_predict_calls_not_probes():
    before = server_metrics.parse(TF_SERVING_TEXT.replace("} 110", "} 0").replace("} 4", "} 0").replace("} 50", "} 0")
                                  .replace("} 90", "} 0").replace("} 100", "} 0").replace("} 10", "} 0").replace("} 150000", "} 0"))
    view = server_metrics.view(before, server_metrics.parse(TF_SERVING_TEXT), "m")
    assert view.predict_ok == {"REST": 100}  # the 10 status calls (API="") are not load
    assert view.requests_by_status == {"OK": 110, "INVALID_ARGUMENT": 4}
    # 50 samples <= 1 ms, 40 in (1, 2] ms: p50 = 1 ms, p95 in the +Inf bucket reports its lower bound.
    assert view.latency_ms == {"p50": 1.0, "p95": 2.0, "p99": 2.0}


def test_histogram_quantile_interpolates_like_prometheus():
    assert server_metrics.histogram_quantile(0.75, {1000.0: 50, 2000.0: 100, float("inf"): 100}) == 1500.0
    assert server_metrics.histogram_quantile(0.5, {1000.0: 0, float("inf"): 0}) is None


def test_standin_exposition_parses_with_the_load_tools():
    """The stand-in's Prometheus page (TF Serving's layout) reads back through server_metrics."""
    registry = standin_metrics.Registry()
    count = registry.counter("/tensorflow/serving/request_count", "model_name", "status")
    latency = registry.sampler("/tensorflow/serving/request_latency", standin_metrics.LATENCY_BUCKETS, "model_name", "API", "entrypoint")
    registry.increment(count, "m", "OK")
    registry.increment(count, "m", "INTERNAL")
    registry.add(latency, 25.0, "m", "Predict", "GRPC")
    text = registry.exposition()
    samples = server_metrics.parse(text)
    assert samples[(":tensorflow:serving:request_count", (("model_name", "m"), ("status", "INTERNAL")))] == 1
    labels = (("API", "Predict"), ("entrypoint", "GRPC"), ("le", "32.4"), ("model_name", "m"))
    assert samples[(":tensorflow:serving:request_latency_bucket", labels)] == 1  # Exponential(10, 1.8): 10, 18, 32.4
    assert ':tensorflow:serving:request_latency_bucket{model_name="m",API="Predict",entrypoint="GRPC",le="+Inf"} 1' in text


def test_pacer_keeps_the_schedule_and_measures_lag():
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    pacer.set_rate(10)
    for _ in range(5):
        assert pacer.wait()
    assert now[0] == pytest.approx(0.4)  # slots at 0, 0.1, ..., 0.4
    assert pacer.lag_us == {0: 5} and pacer.arrivals == 5
    now[0] += 0.25  # every user was busy for a while: the next slot (0.5) is taken late
    pacer.wait()
    assert pacer.lag_us[150_000] == 1  # 150 ms late, in microseconds (Locust's buckets)
    now[0] += 5  # far behind: missed slots are dropped, not sent in a burst
    pacer.wait()
    assert pacer.dropped >= 40 and max(pacer.lag_us) < 1_000_000
    pacer.reset_counts()  # the measured window opens: its counts start from nothing
    assert (pacer.lag_us, pacer.dropped, pacer.arrivals) == ({}, 0, 0)
    pacer.close()  # the window ended: no user sends again
    assert not pacer.wait() and pacer.arrivals == 0


def test_connection_limits_end_a_connection_after_n_requests_or_t_seconds():
    def last_flags(limits: ConnectionLimits, times: list[float]) -> list[bool]:
        flags = []
        for t in times:
            now[0] = t
            flags.append(limits.is_last())
            if flags[-1]:
                limits.ended()  # the user closes it: the next request opens a new one
        return flags

    now = [0.0]
    assert not ConnectionLimits().enabled
    never = ConnectionLimits(clock=lambda: now[0])
    assert last_flags(never, [0, 1, 3600, 86400]) == [False] * 4  # the default: one connection for the whole run
    # nginx's keepalive_requests: the Nth request is the last.
    assert last_flags(ConnectionLimits(max_requests=3, clock=lambda: now[0]), list(range(7))) == [False, False, True] * 2 + [False]
    # keepalive_time: the first request at or past the age is the last; the age counts from the connection's first request.
    by_age = ConnectionLimits(max_age=10, clock=lambda: now[0])
    assert last_flags(by_age, [0, 4, 9.9, 10.5, 11, 20, 21.5]) == [False, False, False, True, False, False, True]
    # Whichever comes first.
    both = ConnectionLimits(max_requests=2, max_age=5, clock=lambda: now[0])
    assert last_flags(both, [0, 1, 2, 8]) == [False, True, False, True]
    # A connection lost with a request (no HTTP answer) starts the count again.
    lost = ConnectionLimits(max_requests=3, clock=lambda: now[0])
    assert last_flags(lost, [0, 1]) == [False, False]
    lost.ended()
    assert last_flags(lost, [2, 3, 4]) == [False, False, True]


def test_autoscale_rates_aim_between_replica_counts():
    low, high = shapes.autoscale_rates(50, min_replicas=2, expect_replicas=4)
    assert (low, high) == (50, 175)  # 175 / 50 = 3.5 targets: the HPA must choose 4, 3 is a miss
    with pytest.raises(ValueError, match="must exceed minReplicas"):
        shapes.autoscale_rates(50, 2, 2)
    phases = shapes.autoscale(warmup_seconds=10, low_rate=low, low_seconds=60, high_rate=high, hold_seconds=120, observe_seconds=300)
    assert shapes.phase_starts(phases) == {"warmup": 0, "low": 10, "high": 70, "drop": 190, "end": 490}
    assert shapes.locate(phases, 75).phase.rate == 175 and shapes.locate(phases, 500) is None


def test_thresholds_report_the_measured_value():
    result = Thresholds(max_fail_ratio=0.01, p99_ms=100, min_rps=10).check(
        requests=200, failures=4, percentiles_ms={"p99": 120.0}, achieved_rps=12.5)
    assert [v.line() for v in result] == [
        "FAIL  failure ratio: expected <= 0.01; observed 0.0200 (4 of 200 requests)",
        "FAIL  p99 latency: expected <= 100 ms; observed 120 ms",
        "PASS  achieved rate: expected >= 10 req/s; observed 12.5 req/s",
    ]


def test_capacity_recommendation():
    slo = capacity.Slo(p99_ms=100)
    steps = []
    for rate, p99 in ((100, 20), (150, 40), (225, 300)):
        count = rate * 10  # 10 s at the requested rate; the slowest 3 % take p99
        step = capacity.Step(rate, 10.0, [10.0] * (count - count * 3 // 100) + [float(p99)] * (count * 3 // 100))
        steps.append(capacity.judge(step, slo))
    assert [s.ok for s in steps] == [True, True, False]
    rec = capacity.recommend(steps, slo, replicas=1, headroom=0.3, base_rate=500, peak_rate=2000)
    assert rec.capacity_rps == 150 and rec.target_per_pod == 105
    assert (rec.min_replicas, rec.max_replicas) == (5, 20)  # ceil(500 / 105), ceil(2000 / 105)
    assert 'averageValue: "105"' in rec.values_yaml and "at 225 req/s it failed: p99 300.0 ms > SLO 100 ms" in rec.sentence


def test_pacer_rate_change_does_not_fire_the_old_schedule_too():
    """100 idle users hold slots seconds ahead; after a rate change only the new schedule fires."""
    import time

    import gevent

    pacer = Pacer(sleep=gevent.sleep)
    pacer.set_rate(40)
    sent = [0]

    def user():
        while True:
            pacer.wait()
            sent[0] += 1

    users = [gevent.spawn(user) for _ in range(100)]
    try:
        gevent.sleep(0.5)
        pacer.set_rate(80)
        start, before = time.monotonic(), sent[0]
        gevent.sleep(1.0)
        rate = (sent[0] - before) / (time.monotonic() - start)
    finally:
        gevent.killall(users)
    assert 60 <= rate <= 100, rate  # the bug this guards against: old claims + new schedule = 120/s
