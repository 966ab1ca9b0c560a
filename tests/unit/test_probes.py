"""Probes: a startup budget for slow model loads, a cheap liveness check, and readiness that means
"every model in the mounted models.config that the server knows has an AVAILABLE version". The
readiness script is the `readiness.sh` key of the ConfigMap the probe's path points at, written to
tmp_path and run with bash as the kubelet runs it, against a models.config written in tmp_path and a
local HTTP server that answers like TF Serving's /v1/models/NAME."""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tfserving_harness import checks, helm
from tfserving_harness.manifests import of_kind, one, pod_template, server_container, server_flags
from tfserving_harness.paths import chart_dir
from tfserving_harness.tfs_config import parse_model_server_config

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


def mounted_file(docs, deployment, path: str) -> str:
    """Content of `path` in the server container of `deployment`: the ConfigMap key behind the mount."""
    configmap, key, error = checks.config_file_source(deployment, server_container(deployment), docs, path)
    assert error is None, f"Deployment/{deployment['metadata']['name']}: {path}: {error}"
    volume = next(v for v in pod_template(deployment)["spec"]["volumes"] if v.get("configMap", {}).get("name") == configmap["metadata"]["name"])
    assert "items" not in volume["configMap"], "the probe must read the file the kubelet keeps up to date"
    return configmap["data"][key]


def readiness_script_text(docs, deployment) -> str:
    """The script the readiness probe of `deployment` runs, read where the kubelet's exec reads it."""
    return mounted_file(docs, deployment, server_container(deployment)["readinessProbe"]["exec"]["command"][1])


def checksum(docs, name=None) -> str:
    return pod_template(one(docs, "Deployment", name))["metadata"]["annotations"]["checksum/config"]


def test_readiness_reads_the_model_config_file_the_server_reads(default_docs):
    deployment = one(default_docs, "Deployment")
    command = _readiness_command(default_docs)
    assert command == ["/bin/bash", "/etc/tf-serving/readiness.sh", "8501", "4", server_flags(server_container(deployment))["model_config_file"]]
    assert "/dev/tcp/127.0.0.1/" in readiness_script_text(default_docs, deployment), "the stock image has no curl or wget: bash's /dev/tcp does the GET"
    assert 'name: "half_plus_two"' in mounted_file(default_docs, deployment, command[4])


def test_readiness_script_comes_from_the_mounted_configmap_not_the_pod_spec(default_docs):
    """The probe names a file in the config ConfigMap's directory mount; the Deployment holds no script."""
    deployment = one(default_docs, "Deployment")
    command = _readiness_command(default_docs)
    assert posixpath.dirname(command[1]) == posixpath.dirname(server_flags(server_container(deployment))["model_config_file"])
    script = readiness_script_text(default_docs, deployment)
    assert script.startswith("export LC_ALL=C\n") and script.count("\n") > 50
    assert "/dev/tcp" not in json.dumps(deployment) and "BASH_REMATCH" not in json.dumps(deployment)
    assert len(json.dumps(server_container(deployment)["readinessProbe"])) < 300


def test_readiness_script_is_in_every_tracks_configmap(render):
    """Each track's probe runs the script of its own track's ConfigMap (the one its pods mount)."""
    docs = render({"tracks": {"stable": {}, "canary": {"models": [{"name": "c", "basePath": "/models/c"}]}}, "server": {"configMountPath": "/config/tfs/"}})
    scripts = {}
    for deployment in of_kind(docs, "Deployment"):
        assert _readiness_command(docs, deployment["metadata"]["name"])[1] == "/config/tfs/readiness.sh"
        volume = next(v for v in pod_template(deployment)["spec"]["volumes"] if v["name"] == "config")
        scripts[volume["configMap"]["name"]] = readiness_script_text(docs, deployment)
    assert sorted(scripts) == ["tfs-tf-serving-canary-config", "tfs-tf-serving-stable-config"]
    assert len(set(scripts.values())) == 1


def test_the_readiness_script_stays_in_the_configmap_when_the_probe_is_a_port_check(render, default_docs):
    """Switching modelsAvailable off rolls the pods, but until they are replaced the old pods still run
    /bin/bash .../readiness.sh: removing the key would make them all NotReady within a kubelet sync."""
    docs = render({"probes": {"readiness": {"modelsAvailable": False}}})
    assert "exec" not in _container(docs)["readinessProbe"]
    old_pods = one(default_docs, "Deployment")
    old_script = server_container(old_pods)["readinessProbe"]["exec"]["command"][1]
    # The old pods' mount, resolved against the ConfigMap after the upgrade: their script is still there.
    assert mounted_file(docs, old_pods, old_script) == readiness_script_text(default_docs, old_pods)
    assert checksum(docs) == checksum(default_docs)


def test_changing_the_readiness_script_does_not_change_the_checksum(tmp_path, default_docs):
    """The kubelet's exec reads the script from the mounted directory at every probe run, so a new
    script reaches running pods without a restart: it is in the ConfigMap but not in checksum/config,
    and nothing else in the pod template changes either."""
    chart = tmp_path / "tf-serving"
    shutil.copytree(chart_dir(), chart)
    pod_tpl = chart / "templates" / "_pod.tpl"
    text, changed = re.subn(r"(define \"tf-serving\.readinessScript\" -}}\nexport LC_ALL=C\n)", r"\1echo edited >&2\n", pod_tpl.read_text())
    assert changed == 1, "the readiness script's first line moved: update this test"
    pod_tpl.write_text(text)
    edited = helm.render_chart(chart=chart)
    script = one(edited, "ConfigMap")["data"]["readiness.sh"]
    assert script.startswith("export LC_ALL=C\necho edited >&2\n") and script != one(default_docs, "ConfigMap")["data"]["readiness.sh"]
    assert checksum(edited) == checksum(default_docs)
    assert pod_template(one(edited, "Deployment")) == pod_template(one(default_docs, "Deployment"))


def test_readiness_probe_does_not_change_with_the_models(render):
    """No model name in the pod template: with hot reload a `models` change must not roll the pods."""
    one_model = render({"models": [{"name": "a", "basePath": "/models/a"}]})
    two_models = render({"models": [{"name": "b", "basePath": "/models/b"}, {"name": "c", "basePath": "/models/c"}]})
    assert _container(one_model)["readinessProbe"] == _container(two_models)["readinessProbe"]
    assert not {"a", "b", "c"} & set(_readiness_command(two_models)[2:]), "the names come from the mounted file"


def test_readiness_follows_each_tracks_models(render):
    """Every track's probe reads its own track's ConfigMap, through the same path its server reads."""
    docs = render(
        {
            "models": [{"name": "a", "basePath": "/models/a"}, {"name": "b", "basePath": "/models/b"}],
            "tracks": {"stable": {}, "canary": {"models": [{"name": "c", "basePath": "/models/c"}]}},
        }
    )
    for track, names in (("stable", ["a", "b"]), ("canary", ["c"])):
        deployment = one(docs, "Deployment", f"tfs-tf-serving-{track}")
        path = _readiness_command(docs, deployment["metadata"]["name"])[4]
        assert path == server_flags(server_container(deployment))["model_config_file"], f"Deployment/{deployment['metadata']['name']}"
        config = parse_model_server_config(mounted_file(docs, deployment, path))
        assert [c.name for c in config.model_config_list.config] == names, f"Deployment/{deployment['metadata']['name']}"


def test_readiness_script_budget_stays_under_the_probe_timeout(render):
    docs = render({"probes": {"readiness": {"timeoutSeconds": 10}}, "server": {"restPort": 9001}})
    probe = _container(docs)["readinessProbe"]
    assert probe["timeoutSeconds"] == 10
    assert probe["exec"]["command"][2:4] == ["9001", "9"]


def test_readiness_follows_the_config_mount_path(render):
    docs = render({"server": {"configMountPath": "/config/tfs/"}})
    command = _readiness_command(docs)
    assert command[4] == "/config/tfs/models.config" == server_flags(_container(docs))["model_config_file"]
    assert command[1] == "/config/tfs/readiness.sh" and readiness_script_text(docs, one(docs, "Deployment"))


def test_readiness_can_be_a_plain_port_check(render):
    probe = _container(render({"probes": {"readiness": {"modelsAvailable": False}}}))["readinessProbe"]
    assert probe["tcpSocket"] == {"port": "http"} and "exec" not in probe


HOT = {"server": {"modelConfigPollWaitSeconds": 30}}
TRACKS = {"tracks": {"stable": {}, "canary": {"models": [{"name": "c", "basePath": "/models/c"}]}}}


@pytest.mark.parametrize(
    "values",
    [{}, HOT, TRACKS, {**HOT, **TRACKS}, {"server": {"modelConfigPollWaitSeconds": 0}}],
    ids=["default", "hot-reload", "tracks", "tracks-hot-reload", "poll-0"],
)
def test_readiness_uses_the_startup_snapshot_exactly_when_hot_reload_is_on(render, values):
    """`snapshot` (4th argument) iff the server re-reads models.config: only then can the file change
    under every pod of a track at once. Without hot reload the command is the one earlier chart
    versions rendered (the script defaults to the live file), so upgrading does not roll those pods."""
    docs = render(values)
    deployments = of_kind(docs, "Deployment")
    assert len(deployments) == (2 if "tracks" in values else 1)
    for deployment in deployments:
        where = f"Deployment/{deployment['metadata']['name']}"
        hot_reload = int(server_flags(server_container(deployment)).get("model_config_file_poll_wait_seconds", 0)) > 0
        assert hot_reload == bool(values.get("server", {}).get("modelConfigPollWaitSeconds")), where
        command = _readiness_command(docs, deployment["metadata"]["name"])
        assert command[5:] == (["snapshot"] if hot_reload else []), where
        assert command[:5] == _readiness_command(render({k: v for k, v in values.items() if k != "server"}), deployment["metadata"]["name"]), where


def test_readiness_snapshot_goes_to_a_writable_emptydir(render):
    """The script's default snapshot directory is an emptyDir of the server container (the root
    filesystem is read-only): it lives as long as the pod, across container restarts."""
    docs = render(HOT)
    deployment = one(docs, "Deployment")
    container = server_container(deployment)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    default_dir = re.search(r"snapshot=\$\{5:-(/[^}]*)\}/", readiness_script_text(docs, deployment))
    assert default_dir, "readiness.sh no longer sets its snapshot directory from ${5:-...}: update this test"
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"].rstrip("/") == default_dir[1]]
    assert not mount.get("readOnly"), f"Deployment/{deployment['metadata']['name']}: {default_dir[1]} is mounted read-only"
    volume = next(v for v in pod_template(deployment)["spec"]["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in volume, f"Deployment/{deployment['metadata']['name']}: {default_dir[1]} is not an emptyDir"


def test_grpc_health_service_is_off_by_default(default_docs):
    assert "enable_grpc_healthcheck_service" not in server_flags(_container(default_docs))


def test_grpc_health_service_drives_startup_and_liveness(render):
    container = _container(render({"probes": {"grpcHealthCheck": {"enabled": True}}, "server": {"grpcPort": 9500}}))
    assert server_flags(container)["enable_grpc_healthcheck_service"] == "true"
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": 9500}, f"{probe}: the grpc probe takes a port number, not a name"
    assert "exec" in container["readinessProbe"], "the health service reports 'server up' only, not model state"


# ---- the rendered readiness script, run for real against a fake TF Serving ----

SNAPSHOT = "tf-serving-readiness.models"  # the file the script keeps in its snapshot directory ($5, default /tmp)

PRETTY = '{{\n "model_version_status": [\n{versions}\n ]\n}}\n'
VERSION = '  {{\n   "version" : "{version}",\n   "state" : "{state}",\n   "status" : {{\n    "error_code" : "OK",\n    "error_message" : ""\n   }}\n  }}'


def model_status(*states: str, compact: bool = False) -> str:
    """A GET /v1/models/NAME body with one version per state (newest first, like TF Serving)."""
    if compact:
        return json.dumps({"model_version_status": [{"version": str(10 - i), "state": s, "status": {"error_code": "OK"}} for i, s in enumerate(states)]}, separators=(",", ":"))
    return PRETTY.format(versions=",\n".join(VERSION.format(version=10 - i, state=s) for i, s in enumerate(states)))


class FakeTFServing:
    """Loopback HTTP server: `bodies[name]` is (status code, body), other names get `default` (a 404
    like TF Serving's by default); `hang` never answers; `keep_alive` answers HTTP/1.1 with
    Content-Length and leaves the connection open. `requests` records the paths asked for."""

    def __init__(self, keep_alive: bool = False, hang: bool = False, default: tuple[int, str] | None = None):
        self.bodies: dict[str, tuple[int, str]] = {}
        self.default = default
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
                unknown = (404, '{ "error": "Servable not found for request: Latest(%s)" }' % name)
                code, body = fake.bodies.get(name, fake.default or unknown)
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
def readiness_script(tmp_path_factory):
    """The rendered readiness.sh, as a file; tests pass their own port, budget and models.config."""
    docs = helm.render_chart()
    path = tmp_path_factory.mktemp("probe") / "readiness.sh"
    path.write_text(readiness_script_text(docs, one(docs, "Deployment")))
    return path


@pytest.fixture
def two_models(tmp_path):
    """models.config as the chart renders it for resnet and bert (with a version policy and labels)."""
    docs = helm.render_chart(
        {
            "models": [
                {"name": "resnet", "basePath": "/models/resnet", "versionPolicy": {"specific": {"versions": [3, 4]}}, "versionLabels": {"stable": 3, "canary": 4}},
                {"name": "bert", "basePath": "/models/bert"},
            ],
            "server": {"allowVersionLabelsForUnavailableModels": True},
        }
    )
    path = tmp_path / "models.config"
    path.write_text(one(docs, "ConfigMap")["data"]["models.config"])
    return path


def chart_models_config(names) -> str:
    """models.config as the chart renders it for these model names."""
    docs = helm.render_chart({"models": [{"name": name, "basePath": f"/models/{name}"} for name in names]})
    return one(docs, "ConfigMap")["data"]["models.config"]


def run_probe(script, port: int, config, budget: int = 3, *extra) -> subprocess.CompletedProcess:
    """bash SCRIPT PORT BUDGET CONFIG [MODE [SNAPSHOT_DIR]], as the probe's exec runs it (with the port
    and files of the test)."""
    argv = [BASH, str(script), str(port), str(budget), str(config), *map(str, extra)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=budget + 5)


pytestmark_bash = pytest.mark.skipif(BASH is None, reason="needs bash on PATH to run the rendered probe script")


@pytestmark_bash
@pytest.mark.parametrize("keep_alive", [False, True], ids=["http1.0-close", "http1.1-keepalive"])
def test_ready_when_every_model_has_an_available_version(readiness_script, two_models, keep_alive):
    with FakeTFServing(keep_alive=keep_alive) as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (200, model_status("AVAILABLE", compact=True))}
        result = run_probe(readiness_script, fake.port, two_models)
    assert result.returncode == 0, result.stderr
    assert fake.requests == ["/v1/models/resnet", "/v1/models/bert"]


@pytestmark_bash
def test_not_ready_while_one_model_is_still_loading(readiness_script, two_models):
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (200, model_status("LOADING"))}
        result = run_probe(readiness_script, fake.port, two_models)
    assert result.returncode == 1
    assert "model bert has no AVAILABLE version" in result.stderr


@pytestmark_bash
def test_ready_while_a_new_version_loads_next_to_an_available_one(readiness_script, two_models):
    """Version N+1 LOADING while N serves: the pod stays in the Service during a model push."""
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("LOADING", "AVAILABLE")), "bert": (200, model_status("AVAILABLE"))}
        result = run_probe(readiness_script, fake.port, two_models)
    assert result.returncode == 0, result.stderr


@pytestmark_bash
@pytest.mark.parametrize("states", [("START",), ("UNLOADING",), ("END",), ()])
def test_not_ready_without_an_available_version(readiness_script, two_models, states):
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status(*states)), "bert": (200, model_status("AVAILABLE"))}
        assert run_probe(readiness_script, fake.port, two_models).returncode == 1


# Valid TF Serving text format written by hand: colons before messages, <> and [...] syntax, single
# quotes, `;`/`,` separators, comments, and string fields and map keys that say "name".
HAND_WRITTEN = """\
# name: "commented_out"
model_config_list: {
  config: {
    name: 'resnet'  # name: "trailing_comment"
    base_path: "/models/name: \\"x\\" #1"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 3 versions: [4, 5] } }
    version_labels { key: "name" value: 3 }
    version_labels < key: 'stable', value: 4 >
  }
  config [{ name: "bert" base_path: "/models/bert" model_version_policy: { latest: { num_versions: 2 } } },
          {name:"t5.small-v2";base_path:"/models/t5"; model_version_policy { all {} }}]
}
"""


@pytestmark_bash
def test_only_model_names_are_read_from_a_hand_written_config(readiness_script, tmp_path):
    names = [c.name for c in parse_model_server_config(HAND_WRITTEN).model_config_list.config]
    assert names == ["resnet", "bert", "t5.small-v2"], "the fixture must be a config TF Serving accepts"
    config = tmp_path / "models.config"
    config.write_text(HAND_WRITTEN)
    with FakeTFServing(default=(200, model_status("AVAILABLE"))) as fake:
        result = run_probe(readiness_script, fake.port, config)
    assert result.returncode == 0, result.stderr
    assert fake.requests == [f"/v1/models/{name}" for name in names]


@pytestmark_bash
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read model config"),
        ("", "no model names in"),
        ("model_config_list {\n}\n", "no model names in"),
        ("model_config_list {\n  config {\n    name: \"resnet\"\n", "'config' is not closed"),
        ('model_config_list { config { name: "res net" } }', "model name 'res net' is not a plain URL path segment"),
        ('model_config_list { config { name: "resnet } }', "cannot parse"),
    ],
    ids=["missing", "empty", "no-models", "truncated", "name-with-space", "open-quote"],
)
def test_not_ready_without_a_usable_model_config(readiness_script, tmp_path, content, message):
    config = tmp_path / "models.config"
    if content is not None:
        config.write_text(content)
    with FakeTFServing(default=(200, model_status("AVAILABLE"))) as fake:
        result = run_probe(readiness_script, fake.port, config)
    assert result.returncode == 1
    assert message in result.stderr and str(config) in result.stderr, result.stderr
    assert fake.requests == [], "no request before the config is understood"


@pytestmark_bash
def test_a_model_the_server_does_not_know_yet_counts_as_ready(readiness_script, two_models):
    """404: in the file but not loaded by this server (hot reload not applied yet, or an old pod
    reading a ConfigMap update meant for its replacement). Waiting for it would unready the pod."""
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE"))}
        result = run_probe(readiness_script, fake.port, two_models)
    assert result.returncode == 0, result.stderr
    assert "model bert is not known to the server yet (404)" in result.stderr
    assert fake.requests == ["/v1/models/resnet", "/v1/models/bert"]


@pytestmark_bash
def test_a_404_model_does_not_hide_another_model_still_loading(readiness_script, tmp_path):
    config = tmp_path / "models.config"
    config.write_text(chart_models_config(["new", "resnet", "bert"]))
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("LOADING")), "bert": (200, model_status("AVAILABLE"))}
        result = run_probe(readiness_script, fake.port, config)
    assert result.returncode == 1
    assert "model new is not known to the server yet (404)" in result.stderr
    assert "model resnet has no AVAILABLE version" in result.stderr
    assert fake.requests == ["/v1/models/new", "/v1/models/resnet"]


@pytestmark_bash
@pytest.mark.parametrize("code", [500, 503, 301])
def test_not_ready_on_any_other_status(readiness_script, two_models, code):
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (code, model_status("AVAILABLE"))}
        result = run_probe(readiness_script, fake.port, two_models)
    assert result.returncode == 1 and f"/v1/models/bert: HTTP/1.0 {code}" in result.stderr, "the body is trusted only with a 200"


@pytestmark_bash
def test_not_ready_when_the_port_is_closed(readiness_script, two_models):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connection refused
        result = run_probe(readiness_script, port, two_models)
    assert result.returncode == 1 and f"REST port {port} is not open" in result.stderr


@pytestmark_bash
def test_a_server_that_never_answers_fails_within_the_budget(readiness_script, two_models):
    with FakeTFServing(hang=True) as fake:
        started = time.monotonic()
        result = run_probe(readiness_script, fake.port, two_models, budget=2)
        elapsed = time.monotonic() - started
    assert result.returncode == 1 and "in time" in result.stderr
    assert elapsed < 4, f"took {elapsed:.1f}s for a 2s budget"


@pytestmark_bash
def test_every_scenario_probes_exactly_the_models_its_server_reads(tmp_path):
    """The probe's file is the --model_config_file one, and the script (that scenario's readiness.sh,
    read from the ConfigMap behind the probe's path) finds in it exactly the names TF Serving's own
    parser finds (the script runs against it; the fake server records the GETs)."""
    from tfserving_harness.testing import ci_scenarios

    checked = 0
    with FakeTFServing(default=(200, model_status("AVAILABLE"))) as fake:
        for param in ci_scenarios():
            (values_file,) = param.values
            try:
                docs = helm.render_chart(values_files=[values_file])
            except helm.RenderError:
                continue  # scenarios that need another Kubernetes version are covered in test_schemas
            for deployment in of_kind(docs, "Deployment"):
                where = f"{values_file.name}: Deployment/{deployment['metadata']['name']}"
                command = list(server_container(deployment)["readinessProbe"].get("exec", {}).get("command", []))
                if not command:
                    continue
                flags = server_flags(server_container(deployment))
                hot_reload = int(flags.get("model_config_file_poll_wait_seconds", 0)) > 0
                assert command[0] == "/bin/bash" and command[5:] == (["snapshot"] if hot_reload else []), where
                assert command[4] == flags["model_config_file"], where
                text = mounted_file(docs, deployment, command[4])
                names = [c.name for c in parse_model_server_config(text).model_config_list.config]
                config = tmp_path / f"{checked}.config"
                config.write_text(text)
                script = tmp_path / f"{checked}.sh"
                script.write_text(readiness_script_text(docs, deployment))
                snapshot_dir = tmp_path / f"{checked}.snapshot"
                snapshot_dir.mkdir()
                for run in ("first", "second"):  # in snapshot mode the second run reads the snapshot
                    fake.requests.clear()
                    result = run_probe(script, fake.port, config, 3, *command[5:], snapshot_dir)
                    assert result.returncode == 0, f"{where} ({run} run): {result.stderr}"
                    assert fake.requests == [f"/v1/models/{name}" for name in names], f"{where} ({run} run)"
                assert (snapshot_dir / SNAPSHOT).exists() == hot_reload, where
                checked += 1
    assert checked >= 1


@pytestmark_bash
def test_available_must_be_the_state_not_just_a_word_in_the_body(readiness_script, two_models):
    """A failed load whose error message mentions AVAILABLE (even a quoted `"state": "AVAILABLE"`) is not ready."""
    failed = json.dumps(
        {"model_version_status": [{"version": "3", "state": "END", "status": {"error_code": "UNKNOWN", "error_message": 'expected "state": "AVAILABLE", got END'}}]},
        indent=1,
    )
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (200, failed)}
        result = run_probe(readiness_script, fake.port, two_models)
    assert result.returncode == 1, result.stderr


# ---- hot reload: the snapshot of the models the server started with ----


def write_config(path, names):
    path.write_text(chart_models_config(names))
    return path


def snapshot_names(directory) -> list[str]:
    return (directory / SNAPSHOT).read_text().splitlines()


@pytest.fixture
def snapshot_dir(tmp_path):
    directory = tmp_path / "snapshot"
    directory.mkdir()
    return directory


@pytest.fixture
def started(readiness_script, tmp_path, snapshot_dir):
    """A pod whose server started with resnet and bert (both AVAILABLE), after its first readiness run."""
    config = write_config(tmp_path / "models.config", ["resnet", "bert"])
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (200, model_status("AVAILABLE"))}
        result = run_probe(readiness_script, fake.port, config, 3, "snapshot", snapshot_dir)
    assert result.returncode == 0, result.stderr
    return config


@pytestmark_bash
def test_snapshot_mode_first_run_records_the_models_it_parsed(started, snapshot_dir):
    assert snapshot_names(snapshot_dir) == ["resnet", "bert"]
    assert sorted(p.name for p in snapshot_dir.iterdir()) == [SNAPSHOT], "the temporary file is renamed, not left behind"


@pytestmark_bash
def test_snapshot_mode_a_model_added_later_does_not_unready_the_pod(readiness_script, started, snapshot_dir):
    """Hot reload loads a new model on every pod at once: waiting on it would empty the Service."""
    write_config(started, ["resnet", "bert", "new"])
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (200, model_status("AVAILABLE")), "new": (200, model_status("LOADING"))}
        snapshot = run_probe(readiness_script, fake.port, started, 3, "snapshot", snapshot_dir)
        snapshot_requests = list(fake.requests)
        fake.requests.clear()
        live = run_probe(readiness_script, fake.port, started, 3, "live", snapshot_dir)
    assert snapshot.returncode == 0, snapshot.stderr
    assert snapshot_requests == ["/v1/models/resnet", "/v1/models/bert"]
    assert snapshot_names(snapshot_dir) == ["resnet", "bert"], "later runs do not add to the snapshot"
    assert live.returncode == 1 and "model new has no AVAILABLE version" in live.stderr, "live mode still waits on every model in the file"
    assert fake.requests == ["/v1/models/resnet", "/v1/models/bert", "/v1/models/new"]


@pytestmark_bash
def test_snapshot_mode_still_waits_on_the_models_the_server_started_with(readiness_script, started, snapshot_dir):
    """The snapshot narrows the check, it does not switch it off: a startup model without an AVAILABLE
    version (a failed reload of a new version policy, say) still makes the pod NotReady."""
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (200, model_status("END"))}
        result = run_probe(readiness_script, fake.port, started, 3, "snapshot", snapshot_dir)
    assert result.returncode == 1 and "model bert has no AVAILABLE version" in result.stderr


@pytestmark_bash
@pytest.mark.parametrize(
    "answer",
    [(404, '{ "error": "Could not find any versions of model bert" }'), (200, model_status("END"))],
    ids=["404", "end"],
)
def test_snapshot_mode_a_removed_model_is_fine(readiness_script, started, snapshot_dir, answer):
    """A model removed from the config is not requested at all: TF Serving unloads it but keeps its
    versions' END states, so it answers 200 END (not only 404) for as long as the server runs. It also
    leaves the snapshot, so adding it back later is not waited on either."""
    write_config(started, ["resnet"])
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": answer}
        removed = run_probe(readiness_script, fake.port, started, 3, "snapshot", snapshot_dir)
        assert removed.returncode == 0, removed.stderr
        assert "model bert is no longer in" in removed.stderr
        assert fake.requests == ["/v1/models/resnet"]
        assert snapshot_names(snapshot_dir) == ["resnet"]
        write_config(started, ["resnet", "bert"])
        fake.bodies["bert"] = (200, model_status("LOADING"))
        readded = run_probe(readiness_script, fake.port, started, 3, "snapshot", snapshot_dir)
    assert readded.returncode == 0, readded.stderr
    assert snapshot_names(snapshot_dir) == ["resnet"]


@pytestmark_bash
def test_snapshot_mode_drops_a_model_the_server_did_not_start_with(readiness_script, tmp_path, snapshot_dir):
    """The ConfigMap changed between the server's start and the first readiness run: the added model is
    in the first snapshot but the server does not know it (404). A model the server started with never
    answers 404, so it is dropped, and picking it up later does not unready the pod."""
    config = write_config(tmp_path / "models.config", ["resnet", "late"])
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE"))}
        first = run_probe(readiness_script, fake.port, config, 3, "snapshot", snapshot_dir)
        assert first.returncode == 0, first.stderr
        assert "model late is not known to the server yet (404): skipped" in first.stderr
        assert snapshot_names(snapshot_dir) == ["resnet"]
        fake.bodies["late"] = (200, model_status("LOADING"))
        fake.requests.clear()
        later = run_probe(readiness_script, fake.port, config, 3, "snapshot", snapshot_dir)
    assert later.returncode == 0, later.stderr
    assert fake.requests == ["/v1/models/resnet"]


@pytestmark_bash
def test_snapshot_mode_with_none_of_the_startup_models_left_checks_nothing(readiness_script, started, snapshot_dir):
    write_config(started, ["other"])
    with FakeTFServing() as fake:
        fake.bodies = {"other": (200, model_status("LOADING"))}
        result = run_probe(readiness_script, fake.port, started, 3, "snapshot", snapshot_dir)
    assert result.returncode == 0, result.stderr
    assert "none of the models the server started with is left" in result.stderr and fake.requests == []
    assert (snapshot_dir / SNAPSHOT).read_text() == "", "an empty snapshot is kept: it is not a first run"


@pytestmark_bash
def test_snapshot_mode_replaces_an_unusable_snapshot_with_the_live_models(readiness_script, tmp_path, snapshot_dir):
    config = write_config(tmp_path / "models.config", ["resnet", "bert"])
    (snapshot_dir / SNAPSHOT).write_text("resnet\nnot a name\n")
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (200, model_status("LOADING"))}
        result = run_probe(readiness_script, fake.port, config, 3, "snapshot", snapshot_dir)
    assert result.returncode == 1 and "model bert has no AVAILABLE version" in result.stderr
    assert f"model snapshot {snapshot_dir / SNAPSHOT} is unreadable: replaced by the models in {config}" in result.stderr
    assert snapshot_names(snapshot_dir) == ["resnet", "bert"]


@pytestmark_bash
def test_snapshot_mode_without_a_writable_directory_checks_the_live_file(readiness_script, tmp_path):
    """A snapshot that cannot be written costs only the narrowing: each run is a first run."""
    config = write_config(tmp_path / "models.config", ["resnet", "new"])
    missing = tmp_path / "no-such-dir"
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "new": (200, model_status("LOADING"))}
        result = run_probe(readiness_script, fake.port, config, 3, "snapshot", missing)
    assert result.returncode == 1 and "model new has no AVAILABLE version" in result.stderr
    assert f"cannot write the model snapshot {missing / SNAPSHOT}" in result.stderr
    assert not missing.exists()


@pytestmark_bash
@pytest.mark.parametrize("args", [(), ("live",), ("bogus",)], ids=["old-pod-3-args", "live", "unknown-mode"])
def test_without_snapshot_mode_the_live_file_is_checked(readiness_script, started, snapshot_dir, args):
    """Pods created before the mode argument existed run the updated script with three arguments:
    they keep the old behaviour, and so does an unknown mode (with a message)."""
    write_config(started, ["resnet", "bert", "new"])
    before = (snapshot_dir / SNAPSHOT).read_text()
    with FakeTFServing() as fake:
        fake.bodies = {"resnet": (200, model_status("AVAILABLE")), "bert": (200, model_status("AVAILABLE")), "new": (200, model_status("LOADING"))}
        result = run_probe(readiness_script, fake.port, started, 3, *args, *([snapshot_dir] if args else []))
    assert result.returncode == 1 and "model new has no AVAILABLE version" in result.stderr
    assert ("unknown mode 'bogus'" in result.stderr) == (args == ("bogus",))
    assert (snapshot_dir / SNAPSHOT).read_text() == before, "live mode neither reads nor writes the snapshot"


def test_grpc_health_service_needs_tf_serving_2_15(render):
    with pytest.raises(helm.RenderError) as failed:
        render({"probes": {"grpcHealthCheck": {"enabled": True}}, "image": {"tag": "2.14.1"}})
    assert "tf-serving: probes.grpcHealthCheck.enabled needs TF Serving 2.15 or newer" in failed.value.stderr
    assert _container(render({"probes": {"grpcHealthCheck": {"enabled": True}}, "image": {"tag": "2.15.0-gpu"}, "gpu": {"enabled": True}}))["livenessProbe"]["grpc"]
