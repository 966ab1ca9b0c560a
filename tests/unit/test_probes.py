"""Probes: a startup budget for slow model loads, a cheap liveness check, and readiness that means
"every configured model has an AVAILABLE version". The readiness script is the rendered one, run
with bash against a local HTTP server that answers like TF Serving's /v1/models/NAME."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tfserving_harness import helm
from tfserving_harness.manifests import of_kind, one, server_container, server_flags

BASH = shutil.which("bash")


def _container(docs, name=None):
    return server_container(one(docs, "Deployment", name))


def _readiness_command(docs, name=None):
    return list(_container(docs, name)["readinessProbe"]["exec"]["command"])


def test_default_startup_probe_budget_is_ten_minutes(default_docs):
    startup = _container(default_docs)["startupProbe"]
    assert startup["tcpSocket"]["port"] == "grpc", "the server opens its ports only after the initial load"
    assert startup["periodSeconds"] * startup["failureThreshold"] == 600


@pytest.mark.parametrize(("budget", "period", "threshold"), [(600, 10, 60), (601, 10, 61), (95, 30, 4), (10, 15, 1)])
def test_startup_budget_is_rounded_up_to_whole_periods(render, budget, period, threshold):
    startup = _container(render({"probes": {"startup": {"budgetSeconds": budget, "periodSeconds": period}}}))["startupProbe"]
    assert (startup["periodSeconds"], startup["failureThreshold"]) == (period, threshold)
    assert startup["periodSeconds"] * startup["failureThreshold"] >= budget


def test_liveness_is_a_cheap_tolerant_port_check(default_docs):
    container = _container(default_docs)
    liveness = container["livenessProbe"]
    assert set(liveness) >= {"tcpSocket"} and "exec" not in liveness and "httpGet" not in liveness
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 60, "a busy server must not be killed after a few slow answers"
    assert "startupProbe" in container, "liveness only starts after startup succeeded, so a slow load cannot trip it"


def test_readiness_names_every_model_and_the_rest_port(default_docs):
    command = _readiness_command(default_docs)
    assert command[:2] == ["/bin/bash", "-c"]
    assert command[3:] == ["models-available", "8501", "4", "half_plus_two"]
    assert "/dev/tcp/127.0.0.1/" in command[2], "the stock image has no curl or wget: bash's /dev/tcp does the GET"


def test_readiness_follows_each_tracks_models(render):
    docs = render(
        {
            "models": [{"name": "a", "basePath": "/models/a"}, {"name": "b", "basePath": "/models/b"}],
            "tracks": {"stable": {}, "canary": {"models": [{"name": "c", "basePath": "/models/c"}]}},
        }
    )
    assert _readiness_command(docs, "tfs-tf-serving-stable")[6:] == ["a", "b"]
    assert _readiness_command(docs, "tfs-tf-serving-canary")[6:] == ["c"]


def test_readiness_script_budget_stays_under_the_probe_timeout(render):
    docs = render({"probes": {"readiness": {"timeoutSeconds": 10}}, "server": {"restPort": 9001}})
    probe = _container(docs)["readinessProbe"]
    assert probe["timeoutSeconds"] == 10
    assert probe["exec"]["command"][4:6] == ["9001", "9"]


def test_readiness_can_be_a_plain_port_check(render):
    probe = _container(render({"probes": {"readiness": {"modelsAvailable": False}}}))["readinessProbe"]
    assert probe["tcpSocket"] == {"port": "http"} and "exec" not in probe


def test_grpc_health_service_is_off_by_default(default_docs):
    assert "enable_grpc_healthcheck_service" not in server_flags(_container(default_docs))


def test_grpc_health_service_drives_startup_and_liveness(render):
    container = _container(render({"probes": {"grpcHealthCheck": {"enabled": True}}, "server": {"grpcPort": 9500}}))
    assert server_flags(container)["enable_grpc_healthcheck_service"] == "true"
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": 9500}, f"{probe}: the grpc probe takes a port number, not a name"
    assert "exec" in container["readinessProbe"], "the health service reports 'server up' only, not model state"


# ---- the rendered readiness script, run for real against a fake TF Serving ----

PRETTY = '{{\n "model_version_status": [\n{versions}\n ]\n}}\n'
VERSION = '  {{\n   "version" : "{version}",\n   "state" : "{state}",\n   "status" : {{\n    "error_code" : "OK",\n    "error_message" : ""\n   }}\n  }}'


def model_status(*states: str, compact: bool = False) -> str:
    """A GET /v1/models/NAME body with one version per state (newest first, like TF Serving)."""
    if compact:
        return json.dumps({"model_version_status": [{"version": str(10 - i), "state": s, "status": {"error_code": "OK"}} for i, s in enumerate(states)]}, separators=(",", ":"))
    return PRETTY.format(versions=",\n".join(VERSION.format(version=10 - i, state=s) for i, s in enumerate(states)))


class FakeTFServing:
    """Loopback HTTP server: `bodies[name]` is (status code, body); `hang` never answers;
    `keep_alive` answers HTTP/1.1 with Content-Length and leaves the connection open."""

    def __init__(self, keep_alive: bool = False, hang: bool = False):
        self.bodies: dict[str, tuple[int, str]] = {}
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_GET(self):  # noqa: N802 (http.server's naming)
                fake.requests.append(self.path)
                if hang:
                    time.sleep(5)
                    return
                name = self.path.removeprefix("/v1/models/")
                code, body = fake.bodies.get(name, (404, '{ "error": "Servable not found for request: Latest(%s)" }' % name))
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def readiness_script():
    """The rendered command with two models; tests swap in the port and budget."""
    docs = helm.render_chart({"models": [{"name": "resnet", "basePath": "/models/resnet"}, {"name": "bert", "basePath": "/models/bert"}]})
    command = _readiness_command(docs)
    assert command[6:] == ["resnet", "bert"]
    return command


def run_probe(command, port: int, budget: int = 3) -> subprocess.CompletedProcess:
    argv = [BASH, *command[1:4], str(port), str(budget), *command[6:]]
    return subprocess.run(argv, capture_output=True, text=True, timeout=budget + 5)


pytestmark_bash = pytest.mark.skipif(BASH is None, reason="needs bash on PATH to run the rendered probe script")


@pytestmark_bash
@pytest.mark.parametrize("keep_alive", [False, True], ids=["http1.0-close", "http1.1-keepalive"])
def test_ready_when_every_model_has_an_available_version(readiness_script, keep_alive):
    with FakeTFServing(keep_alive=keep_alive) as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (200, model_status("AVAILABLE", compact=True))}
        result = run_probe(readiness_script, fake.port)
    assert result.returncode == 0, result.stderr
    assert fake.requests == ["/v1/models/resnet", "/v1/models/bert"]


@pytestmark_bash
def test_not_ready_while_one_model_is_still_loading(readiness_script):
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (200, model_status("LOADING"))}
        result = run_probe(readiness_script, fake.port)
    assert result.returncode == 1
    assert "model bert has no AVAILABLE version" in result.stderr


@pytestmark_bash
def test_ready_while_a_new_version_loads_next_to_an_available_one(readiness_script):
    """Version N+1 LOADING while N serves: the pod stays in the Service during a model push."""
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("LOADING", "AVAILABLE")), "bert": (200, model_status("AVAILABLE"))}
        result = run_probe(readiness_script, fake.port)
    assert result.returncode == 0, result.stderr


@pytestmark_bash
@pytest.mark.parametrize("states", [("START",), ("UNLOADING",), ("END",), ()])
def test_not_ready_without_an_available_version(readiness_script, states):
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status(*states)), "bert": (200, model_status("AVAILABLE"))}
        assert run_probe(readiness_script, fake.port).returncode == 1


@pytestmark_bash
def test_not_ready_for_an_unknown_model_or_an_error_status(readiness_script):
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE"))}
        missing = run_probe(readiness_script, fake.port)
        fake.bodies["bert"] = (500, model_status("AVAILABLE"))
        error = run_probe(readiness_script, fake.port)
    assert missing.returncode == 1 and "404" in missing.stderr
    assert error.returncode == 1 and "500" in error.stderr, "the body is trusted only with a 200"


@pytestmark_bash
def test_not_ready_when_the_port_is_closed(readiness_script):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connection refused
        result = run_probe(readiness_script, port)
    assert result.returncode == 1 and f"REST port {port} is not open" in result.stderr


@pytestmark_bash
def test_a_server_that_never_answers_fails_within_the_budget(readiness_script):
    with FakeTFServing(hang=True) as fake:
        started = time.monotonic()
        result = run_probe(readiness_script, fake.port, budget=2)
        elapsed = time.monotonic() - started
    assert result.returncode == 1 and "in time" in result.stderr
    assert elapsed < 4, f"took {elapsed:.1f}s for a 2s budget"


def test_every_scenario_probes_every_model_it_serves():
    from tfserving_harness.testing import ci_scenarios

    for param in ci_scenarios():
        (values_file,) = param.values
        try:
            docs = helm.render_chart(values_files=[values_file])
        except helm.RenderError:
            continue  # scenarios that need another Kubernetes version are covered in test_schemas
        for deployment in of_kind(docs, "Deployment"):
            probe = server_container(deployment)["readinessProbe"]
            if "exec" not in probe:
                continue
            configmap = one(docs, "ConfigMap", f"{deployment['metadata']['name']}-config")
            from tfserving_harness.tfs_config import parse_model_server_config

            names = [c.name for c in parse_model_server_config(configmap["data"]["models.config"]).model_config_list.config]
            assert probe["exec"]["command"][6:] == names, f"{values_file.name}: Deployment/{deployment['metadata']['name']}"


@pytestmark_bash
def test_available_must_be_the_state_not_just_a_word_in_the_body(readiness_script):
    """A failed load whose error message mentions AVAILABLE (even a quoted `"state": "AVAILABLE"`) is not ready."""
    failed = json.dumps(
        {"model_version_status": [{"version": "3", "state": "END", "status": {"error_code": "UNKNOWN", "error_message": 'expected "state": "AVAILABLE", got END'}}]},
        indent=1,
    )
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (200, failed)}
        result = run_probe(readiness_script, fake.port)
    assert result.returncode == 1, result.stderr


def test_grpc_health_service_needs_tf_serving_2_15(render):
    with pytest.raises(helm.RenderError) as failed:
        render({"probes": {"grpcHealthCheck": {"enabled": True}}, "image": {"tag": "2.14.1"}})
    assert "tf-serving: probes.grpcHealthCheck.enabled needs TF Serving 2.15 or newer" in failed.value.stderr
    assert _container(render({"probes": {"grpcHealthCheck": {"enabled": True}}, "image": {"tag": "2.15.0-gpu"}, "gpu": {"enabled": True}}))["livenessProbe"]["grpc"]
