"""The stand-in as a process: start order and exits, REST and gRPC answers, metrics, the gRPC
thread quota, health names, warmup, version polling, config reloads (the wedge included), load
retries, signals. Each test names the tensorflow/serving (2.20.0) behaviour it follows."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
import requests

from tfserving_harness.load import protos, server_metrics
from tfserving_harness.standin import launch
from tfserving_harness.standin.launch import model_entry

pytestmark = pytest.mark.standin
MODEL = "half_plus_two"
BASE_FLAGS = ["--allow_version_labels_for_unavailable_models=true"]


def run_binary(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfserving_harness.standin", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def predict_request(values=(1.0, 2.0), *, version: int | None = None, label: str | None = None):
    api = protos.apis()
    request = api.predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    tensor = request.inputs["x"]
    tensor.dtype = api.types_pb2.DT_FLOAT
    tensor.tensor_shape.dim.add().size = len(values)
    tensor.tensor_shape.dim.add().size = 1
    tensor.float_val.extend(values)
    return request


def grpc_predict(target: str, **kwargs) -> list[float]:
    api = protos.apis()
    with grpc.insecure_channel(target) as channel:
        response = api.prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(predict_request(**kwargs), timeout=10)
    return list(response.outputs["y"].float_val)


def states(rest_url: str) -> dict[int, str]:
    answer = requests.get(f"{rest_url}/v1/models/{MODEL}", timeout=5)
    if answer.status_code == 404:
        return {}
    return {int(v["version"]): v["state"] for v in answer.json()["model_version_status"]}


def wait_for(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


# ------------------------------------------------------------------ exits before serving


def test_a_bad_flag_value_prints_the_usage_and_exits_255():
    done = run_binary("--port=85OO", "--model_base_path=/models/m")
    assert done.returncode == 255
    assert done.stdout.startswith("usage: ") and "--rest_api_port=0" in done.stdout
    assert "Couldn't interpret value 85OO for flag port." in done.stderr


def test_missing_model_source_is_refused_before_loading():
    done = run_binary("--port=8500")
    assert done.returncode == 255
    assert done.stdout.strip() == ("Failed to start server. Error: INVALID_ARGUMENT: Both server_options.model_base_path and "
                                   "server_options.model_config_file are empty!")


def test_a_failed_initial_load_exits_and_names_the_version(tmp_path, model_dir, write_config):
    base = model_dir((1,))
    (base / "1" / "saved_model.pb").unlink()
    config = write_config(model_entry(MODEL, base))
    done = run_binary(f"--model_config_file={config}", "--rest_api_port=0", f"--port={launch.free_port()}", "--max_num_load_retries=0")
    assert done.returncode == 255
    assert done.stdout.startswith(f"Failed to start server. Error: UNKNOWN: 1 servable(s) did not become available: "
                                  f"{{{{{{name: {MODEL} version: 1}} due to error: NOT_FOUND: Could not find SavedModel .pb")


def test_labels_on_a_fresh_start_need_the_flag(model_dir, write_config):
    config = write_config(model_entry(MODEL, model_dir((1,)), labels={"stable": 1}))
    done = run_binary(f"--model_config_file={config}", f"--port={launch.free_port()}")
    assert done.returncode == 255
    assert "Request to assign label to version 1 of model half_plus_two, which is not currently available for inference" in done.stdout


# ------------------------------------------------------------------ one server for the read-only checks


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_versions):
    folder = tmp_path_factory.mktemp("served")
    base = folder / MODEL
    for version in (1, 2):
        shutil.copytree(demo_versions / str(version), base / str(version))
    config = folder / "models.config"
    config.write_text(launch.models_config(model_entry(MODEL, base, labels={"stable": 1, "canary": 2})))
    monitoring = folder / "monitoring.config"
    monitoring.write_text('prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }\n')
    flags = [f"--model_config_file={config}", f"--monitoring_config_file={monitoring}", "--enable_grpc_healthcheck_service=true",
             "--grpc_max_threads=3", "--no_such_flag=1", *BASE_FLAGS]
    with launch.running(flags, env={"TFS_STANDIN_MODE_ENDPOINT": "1"}) as running:
        yield running


def test_unknown_argument_is_printed_and_the_server_starts_anyway(server):
    assert "unknown argument: --no_such_flag=1\nusage: " in server.output
    # The initial load waits for Latest(name): any version of the model AVAILABLE (core/servable_state_monitor.cc,
    # HasAnyServableInStreamReachedState), so gRPC may start while the other version still loads.
    order = [server.output.index(line) for line in ("Successfully loaded servable version {name: half_plus_two version: ",
                                                    "Running gRPC ModelServer at 0.0.0.0:", "Exporting HTTP/REST API at:localhost:")]
    assert order == sorted(order), "initial load (one version), then gRPC, then REST (Server::BuildAndStart)"
    assert "NOT tensorflow_model_server" in server.output  # named as a stand-in


def test_rest_predict_answers_the_real_outputs_in_tf_servings_layout(server):
    row = requests.post(f"{server.rest_url}/v1/models/{MODEL}:predict", json={"instances": [[1.0], [2.0]]}, timeout=5)
    assert (row.status_code, row.headers["Content-Type"]) == (200, "application/json")
    assert row.text == '{\n    "predictions": [[3.5], [4.0]\n    ]\n}'  # version 2: 0.5 x + 3, rapidjson PrettyWriter
    columnar = requests.post(f"{server.rest_url}/v1/models/{MODEL}/labels/stable:predict", json={"inputs": {"x": [[1.0]]}}, timeout=5)
    assert json.loads(columnar.text) == {"outputs": [[2.5]]}
    assert requests.post(f"{server.rest_url}/v1/models/{MODEL}/versions/2:predict", json={"instances": [[0.0]]},
                         timeout=5).json() == {"predictions": [[3.0]]}


def test_rest_errors_use_tf_servings_status_mapping_and_error_json(server):
    bad = requests.post(f"{server.rest_url}/v1/models/{MODEL}:predict", json={"instances": ["a"]}, timeout=5)
    assert bad.status_code == 400
    assert bad.text == ('{\n    "error": "Failed to process element: 0 of \'instances\' list. Error: INVALID_ARGUMENT: JSON Value: '
                        '\\"a\\" Type: String is not of expected type: float"\n}')
    missing = requests.post(f"{server.rest_url}/v1/models/nope:predict", json={"instances": [[1.0]]}, timeout=5)
    assert (missing.status_code, missing.json()) == (404, {"error": "Servable not found for request: Latest(nope)"})
    label = requests.post(f"{server.rest_url}/v1/models/{MODEL}/labels/nope:predict", json={"instances": [[1.0]]}, timeout=5)
    assert (label.status_code, label.json()) == (400, {"error": "Unrecognized servable version label: nope"})
    malformed = requests.post(f"{server.rest_url}/v1/models/{MODEL}:guess", data="{}", timeout=5)
    assert (malformed.status_code, malformed.json()) == (400, {"error": f"Malformed request: POST /v1/models/{MODEL}:guess"})


def test_model_status_and_metadata(server):
    status = requests.get(f"{server.rest_url}/v1/models/{MODEL}", timeout=5)
    assert status.text.startswith('{\n "model_version_status": [\n  {\n   "version": "2",\n   "state": "AVAILABLE",\n   "status": {\n')
    assert states(server.rest_url) == {2: "AVAILABLE", 1: "AVAILABLE"}
    unknown = requests.get(f"{server.rest_url}/v1/models/nope", timeout=5)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Could not find any versions of model nope"})
    metadata = requests.get(f"{server.rest_url}/v1/models/{MODEL}/labels/stable/metadata", timeout=5)
    assert metadata.text.startswith('{\n"model_spec":{\n "name": "half_plus_two",\n "version": "1",')
    signature = metadata.json()["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["x"]["dtype"] == "DT_FLOAT" and signature["method_name"] == "tensorflow/serving/predict"


def test_paths_outside_v1_get_evhttps_404_page_and_the_connection_closes(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=5)
    connection.request("GET", "/metrics")
    answer = connection.getresponse()
    assert (answer.status, answer.getheader("Connection"), answer.getheader("Content-Type")) == (404, "close", "text/html")
    assert answer.read().startswith(b"<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>")


def test_rest_keep_alive_follows_evhttp(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=5)
    for _ in range(3):  # HTTP/1.1: one connection, several requests, idle in between
        connection.request("GET", f"/v1/models/{MODEL}")
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 200 and answer.getheader("Connection") is None and answer.getheader("Date")
        time.sleep(1)
    connection.request("GET", f"/v1/models/{MODEL}", headers={"Connection": "close"})
    answer = connection.getresponse()
    answer.read()
    assert answer.getheader("Connection") == "close"
    assert answer.will_close


def test_metrics_page_has_tf_servings_names_labels_and_counts_status_gets(server):
    def page():
        return requests.get(f"{server.rest_url}/monitoring/prometheus/metrics", timeout=5).text

    # The REST predict whose latency bucket is asserted below: this test's own, whatever ran before it.
    requests.post(f"{server.rest_url}/v1/models/{MODEL}:predict", json={"instances": [[1.0]]}, timeout=5).raise_for_status()
    before = server_metrics.parse(page())
    requests.get(f"{server.rest_url}/v1/models/{MODEL}", timeout=5)
    text = page()
    after = server_metrics.parse(text)
    key = (server_metrics.REQUEST_COUNT, (("model_name", MODEL), ("status", "OK")))
    assert after[key] == before.get(key, 0) + 1  # every /v1/ request is counted, status GETs too
    for name in ("# TYPE :tensorflow:serving:request_count counter", "# TYPE :tensorflow:serving:request_latency histogram",
                 "# TYPE :tensorflow:cc:saved_model:load_attempt_count counter", "# TYPE :tensorflow:serving:model_warmup_latency histogram"):
        assert name in text
    assert re.search(r':tensorflow:cc:saved_model:load_attempt_count\{model_path="[^"]+/2",status="success"\} 1', text)
    assert re.search(r':tensorflow:serving:model_warmup_records_read\{model_path="[^"]+/1",status="OK"\} 1', text)
    assert ':tensorflow:serving:request_latency_bucket{model_name="half_plus_two",API="predict",entrypoint="REST",le="10"}' in text


def test_grpc_predict_by_version_label_and_latest(server):
    assert grpc_predict(server.grpc_target) == [3.5, 4.0]
    assert grpc_predict(server.grpc_target, label="stable") == [2.5, 3.0]
    assert grpc_predict(server.grpc_target, version=1) == [2.5, 3.0]
    with pytest.raises(grpc.RpcError) as error:
        grpc_predict(server.grpc_target, version=7)
    assert (error.value.code(), error.value.details()) == (grpc.StatusCode.NOT_FOUND, "Servable not found for request: Specific(half_plus_two, 7)")


def test_grpc_health_names_are_the_ones_server_cc_sets(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        for service in ("", "ModelService", "PredictionService"):
            request = b"" if not service else b"\n" + bytes([len(service)]) + service.encode()
            assert check(request, timeout=5) == b"\x08\x01", service  # status: SERVING
        with pytest.raises(grpc.RpcError) as error:
            check(b"\n\x1ftensorflow.serving.ModelService", timeout=5)
        assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_grpc_max_threads_refuses_the_nth_concurrent_call_without_counting_it(server):
    """--grpc_max_threads=3: two calls run, the third concurrent one is refused by gRPC's thread
    manager before TF Serving's code runs."""
    def count():
        text = requests.get(f"{server.rest_url}/monitoring/prometheus/metrics", timeout=5).text
        return sum(v for (name, labels), v in server_metrics.parse(text).items() if name == server_metrics.REQUEST_COUNT
                   and ("model_name", MODEL) in labels)

    def call(_):
        try:
            grpc_predict(server.grpc_target)
            return "OK"
        except grpc.RpcError as error:
            return f"{error.code().name}: {error.details()}"

    before = count()
    server.set_mode(slow_ms=1500)
    try:
        with ThreadPoolExecutor(5) as pool:
            results = sorted(pool.map(call, range(5)))
    finally:
        server.set_mode(slow_ms=0)
    assert results == ["OK", "OK"] + ["RESOURCE_EXHAUSTED: Server Threadpool Exhausted"] * 3
    assert count() - before == 2


def test_grpc_channel_arguments_reach_grpc_core(model_dir, write_config):
    """--grpc_channel_arguments=grpc.max_connection_age_ms=...: the server sends GOAWAY after that
    age, so a long-lived client channel reconnects (the chart's reason for setting it)."""
    config = write_config(model_entry(MODEL, model_dir((1,))))
    flags = [f"--model_config_file={config}", "--grpc_channel_arguments=grpc.max_connection_age_ms=700,grpc.max_connection_age_grace_ms=200"]
    with launch.running(flags) as server:
        api = protos.apis()
        seen: list[grpc.ChannelConnectivity] = []
        with grpc.insecure_channel(server.grpc_target) as channel:
            channel.subscribe(seen.append, try_to_connect=True)
            stub = api.prediction_service_pb2_grpc.PredictionServiceStub(channel)
            deadline = time.monotonic() + 3.5
            while time.monotonic() < deadline:
                stub.Predict(predict_request(), timeout=10, wait_for_ready=True)
                time.sleep(0.05)
        ready = [i for i, state in enumerate(seen) if state == grpc.ChannelConnectivity.READY]
        assert len(ready) >= 3, f"one long-lived channel, several connections: {seen}"


def test_no_signal_handler_is_installed(server):
    """As PID 1 an unhandled SIGTERM is ignored; a caught one would not be. SigCgt bit 14 is SIGTERM, bit 1 SIGINT."""
    status = open(f"/proc/{server.process.pid}/status").read()
    caught = int(re.search(r"SigCgt:\s*([0-9a-f]+)", status).group(1), 16)
    assert not caught & (1 << (15 - 1)) and not caught & (1 << (2 - 1)), hex(caught)


# ------------------------------------------------------------------ polling, reloads, retries


def test_new_version_folders_are_served_and_the_old_one_unloaded_after(model_dir, write_config, demo_versions):
    base = model_dir((1,))
    config = write_config(model_entry(MODEL, base, policy="latest { num_versions: 1 }"))
    with launch.running([f"--model_config_file={config}", "--file_system_poll_wait_seconds=1", *BASE_FLAGS]) as server:
        assert grpc_predict(server.grpc_target) == [2.5, 3.0]
        shutil.copytree(demo_versions / "2", base / "2")
        wait_for(lambda: states(server.rest_url) == {2: "AVAILABLE", 1: "END"}, "version 2 loaded, version 1 unloaded")
        assert grpc_predict(server.grpc_target) == [3.5, 4.0]
        log = server.output
        assert log.index("Successfully loaded servable version {name: half_plus_two version: 2}") < log.index(
            "Quiescing servable version {name: half_plus_two version: 1}"), "availability preserving: load new, then unload old"
        shutil.copytree(demo_versions / "3", base / "v3")  # not a number: never a version
        time.sleep(2.5)
        assert states(server.rest_url) == {2: "AVAILABLE", 1: "END"}


def test_an_unload_waits_for_the_requests_running_on_that_version(model_dir, write_config, demo_versions):
    """UpdateServingMap blocks until the last handle of the old serving map is freed (basic_manager.cc)."""
    base = model_dir((1,))
    config = write_config(model_entry(MODEL, base, policy="latest { num_versions: 1 }"))
    with launch.running([f"--model_config_file={config}", *BASE_FLAGS], env={"TFS_STANDIN_MODE_ENDPOINT": "1"}) as server:
        server.set_mode(slow_ms=4000)
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(grpc_predict, server.grpc_target)
            time.sleep(1)
            server.set_mode(slow_ms=0)
            shutil.copytree(demo_versions / "2", base / "2")
            server.wait_for_log("Quiescing servable version {name: half_plus_two version: 1}")
            assert in_flight.result(timeout=30) == [2.5, 3.0], "the request finished on version 1"
        wait_for(lambda: states(server.rest_url) == {2: "AVAILABLE", 1: "END"}, "version 1 unloaded after its request")


def test_hot_reload_applies_new_models_and_rejects_an_unavailable_label_move(model_dir, write_config):
    base = model_dir((1, 2))
    config = write_config(model_entry(MODEL, base, labels={"stable": 1}))
    flags = [f"--model_config_file={config}", "--model_config_file_poll_wait_seconds=1", *BASE_FLAGS]
    with launch.running(flags) as server:
        other = model_dir((1,), name="other")
        write_config(model_entry(MODEL, base, labels={"stable": 1}), model_entry("other", other))
        wait_for(lambda: requests.get(f"{server.rest_url}/v1/models/other", timeout=5).status_code == 200, "model other added")
        write_config(model_entry(MODEL, base, labels={"stable": 7}), model_entry("other", other))
        server.wait_for_log("PollFilesystemAndReloadConfig failed to ReloadConfig: Request to assign label to version 7 of model "
                            "half_plus_two, which is not currently available for inference")
        assert grpc_predict(server.grpc_target, label="stable") == [2.5, 3.0]  # the old label map stays


def test_a_model_added_without_versions_wedges_every_later_reload(model_dir, write_config, demo_versions, tmp_path):
    """ServerCore waits for a newly added model without a timeout, holding its config lock: later
    config changes (polled or HandleReloadConfigRequest) are not applied until it gets a version."""
    base = model_dir((1,))
    config = write_config(model_entry(MODEL, base))
    flags = [f"--model_config_file={config}", "--model_config_file_poll_wait_seconds=1", *BASE_FLAGS]
    with launch.running(flags) as server:
        empty = tmp_path / "models" / "empty"
        empty.mkdir(parents=True)
        write_config(model_entry(MODEL, base), model_entry("empty", empty))
        server.wait_for_log("No versions of servable empty found under base path")
        third = model_dir((1,), name="third")
        write_config(model_entry(MODEL, base), model_entry("empty", empty), model_entry("third", third))
        time.sleep(3)
        assert requests.get(f"{server.rest_url}/v1/models/third", timeout=5).status_code == 404, "reloads are wedged"
        from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc
        from tensorflow_serving.config import model_server_config_pb2

        with grpc.insecure_channel(server.grpc_target) as channel:
            reload = model_service_pb2_grpc.ModelServiceStub(channel).HandleReloadConfigRequest
            request = model_management_pb2.ReloadConfigRequest(config=model_server_config_pb2.ModelServerConfig())
            request.config.model_config_list.config.add(name=MODEL, base_path=str(base), model_platform="tensorflow")
            with pytest.raises(grpc.RpcError) as error:
                reload(request, timeout=2)
            assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # waits on the same lock
        assert grpc_predict(server.grpc_target) == [2.5, 3.0]  # serving goes on meanwhile
        shutil.copytree(demo_versions / "1", empty / "1")  # the awaited model gets a version: the wedge ends
        wait_for(lambda: requests.get(f"{server.rest_url}/v1/models/third", timeout=5).status_code == 200, "the queued reload applied")


def test_load_failures_are_retried_then_reported_in_model_status(model_dir, write_config, demo_versions):
    base = model_dir((1,))
    config = write_config(model_entry(MODEL, base))
    flags = [f"--model_config_file={config}", "--max_num_load_retries=2", "--load_retry_interval_micros=200000", *BASE_FLAGS]
    with launch.running(flags) as server:
        broken = base / "2"
        shutil.copytree(demo_versions / "2", broken)
        (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
        server.wait_for_log(r"Retrying of Loading servable: \{name: half_plus_two version: 2\} retry: 2")
        status = wait_for(lambda: {int(v["version"]): v for v in requests.get(f"{server.rest_url}/v1/models/{MODEL}", timeout=5)
                                   .json()["model_version_status"]}.get(2, {}).get("state") == "END" and
                          requests.get(f"{server.rest_url}/v1/models/{MODEL}/versions/2", timeout=5).json(), "version 2 failed")
        assert status["model_version_status"][0]["status"]["error_code"] != "OK"
        assert grpc_predict(server.grpc_target) == [2.5, 3.0]  # version 1 kept serving (availability preserving)


def test_warmup_runs_before_available_and_a_broken_warmup_fails_the_load(model_dir, write_config):
    base = model_dir((1,))
    (base / "1" / "assets.extra" / "tf_serving_warmup_requests").write_bytes(b"\x00" * 40)
    config = write_config(model_entry(MODEL, base))
    done = run_binary(f"--model_config_file={config}", f"--port={launch.free_port()}", "--max_num_load_retries=0")
    assert done.returncode == 255 and "due to error: DATA_LOSS" in done.stdout
    with launch.running([f"--model_config_file={config}", "--enable_model_warmup=false"]) as server:
        assert grpc_predict(server.grpc_target) == [2.5, 3.0]
