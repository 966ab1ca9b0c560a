"""Probes: a startup budget for slow model loads on the REST port (which the server opens last),
readiness and liveness on the gRPC health service (TCP on images before 2.15), no probe that sends
an HTTP request (REST metrics count every /v1/ request), and the frozen readiness.sh that pods of
chart 0.2.0 still execute while they are replaced."""

from __future__ import annotations

import hashlib

import pytest

from tfserving_harness import checks
from tfserving_harness.manifests import of_kind, one, pod_template, server_container, server_flags
from tfserving_harness.testing import assert_refused, ci_scenarios

#: sha256 of the `readiness.sh` key as chart 0.2.0 (commit a84e28b) rendered it: pods of that version
#: exec it from the mounted ConfigMap until they are replaced, so it must not change (see _config.tpl).
READINESS_SH_0_2_0 = "7c6dacf273c30fd609f5da5de49a70af32ea36b9eba0d78011c19695e19754d7"


def _container(docs, name=None):
    return server_container(one(docs, "Deployment", name))


def checksum(docs, name=None) -> str:
    return pod_template(one(docs, "Deployment", name))["metadata"]["annotations"]["checksum/config"]


def test_default_startup_probe_budget_is_ten_minutes(default_docs):
    startup = _container(default_docs)["startupProbe"]
    assert startup["tcpSocket"]["port"] == "http", "the REST port opens last in Server::BuildAndStart, after the initial load and gRPC"
    assert startup["periodSeconds"] * startup["failureThreshold"] == 600


@pytest.mark.parametrize(("budget", "period", "threshold"), [(600, 10, 60), (601, 10, 61), (95, 30, 4), (10, 15, 1)])
def test_startup_budget_is_rounded_up_to_whole_periods(render, budget, period, threshold):
    values = {"probes": {"startup": {"budgetSeconds": budget, "periodSeconds": period}}, "server": {"maxNumLoadRetries": 0}}
    startup = _container(render(values))["startupProbe"]
    assert (startup["periodSeconds"], startup["failureThreshold"]) == (period, threshold)
    assert startup["periodSeconds"] * startup["failureThreshold"] >= budget


@pytest.mark.parametrize(("retries", "interval", "budget"), [(5, 60_000_000, 300), (2, 150_000_000, 120), (1, 600_000_000, 600)])
def test_the_startup_budget_must_outlast_the_load_retries(retries, interval, budget):
    """The initial load waits through every retry of a failed load (LoaderHarness::Load with
    max_num_load_retries and load_retry_interval_micros): a shorter budget restarts the server first."""
    values = {"probes": {"startup": {"budgetSeconds": budget}}, "server": {"maxNumLoadRetries": retries, "loadRetryIntervalMicros": interval}}
    assert_refused(values, f"tf-serving: probes.startup.budgetSeconds ({budget}) must be greater than server.maxNumLoadRetries ({retries}) x "
                           f"server.loadRetryIntervalMicros ({interval}) = {retries * interval // 1_000_000} s")


def test_a_budget_just_past_the_retries_and_no_retries_at_all_pass(render):
    assert render({"probes": {"startup": {"budgetSeconds": 301}}})
    assert render({"probes": {"startup": {"budgetSeconds": 10}}, "server": {"maxNumLoadRetries": 0}})


def test_liveness_and_readiness_ask_the_grpc_health_service_by_default(default_docs):
    """The default image (appVersion 2.20.0) has --enable_grpc_healthcheck_service; the kubelet's grpc
    probe takes a port number, not a name."""
    container = _container(default_docs)
    assert server_flags(container)["enable_grpc_healthcheck_service"] == "true"
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"] == {"port": int(server_flags(container)["port"])}, probe
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 60, "a busy server must not be killed after a few slow answers"


def test_the_grpc_probe_follows_the_grpc_port(render):
    container = _container(render({"server": {"grpcPort": 9500}}))
    assert container["readinessProbe"]["grpc"] == container["livenessProbe"]["grpc"] == {"port": 9500}


@pytest.mark.parametrize(
    ("values", "grpc"),
    [
        ({"image": {"tag": "2.14.1"}}, False),
        ({"image": {"tag": "2.15.1"}}, True),
        ({"image": {"tag": "2.15.1-gpu"}, "gpu": {"enabled": True}}, True),
        ({"image": {"tag": "2.11.0-gpu"}, "gpu": {"enabled": True}}, False),
        ({"image": {"tag": "nightly"}}, True),
        ({"probes": {"grpcHealthCheck": {"enabled": False}}}, False),
    ],
    ids=["2.14", "2.15", "2.15-gpu", "2.11-gpu", "no-version", "switched-off"],
)
def test_older_images_get_tcp_checks_of_the_grpc_port(render, values, grpc):
    """The flag first appears in model_servers/main.cc at tag 2.15.1; an older binary would ignore it
    (and answer no health RPC), so those tags get TCP checks and no flag."""
    container = _container(render(values))
    assert ("enable_grpc_healthcheck_service" in server_flags(container)) == grpc
    for probe in ("livenessProbe", "readinessProbe"):
        expected = {"grpc": {"port": 8500}} if grpc else {"tcpSocket": {"port": "grpc"}}
        assert {k: container[probe][k] for k in ("grpc", "tcpSocket") if k in container[probe]} == expected, probe
    assert container["startupProbe"]["tcpSocket"] == {"port": "http"}


def test_each_track_gets_the_probe_its_image_supports(render):
    docs = render({"tracks": {"stable": {"image": {"tag": "2.14.1"}}, "canary": {}}})
    assert "tcpSocket" in _container(docs, "tfs-tf-serving-stable")["readinessProbe"]
    assert "grpc" in _container(docs, "tfs-tf-serving-canary")["readinessProbe"]


@pytest.mark.parametrize("values_file", ci_scenarios())
def test_no_probe_sends_http_requests_in_any_scenario(values_file, scenario):
    """Every /v1/ request is counted in :tensorflow:serving:request_count and request_latency
    (model_servers/http_server.cc): a probe that sent one would give the no-traffic alert, the latency
    quantiles and the HPA's per-pod request rate a floor. Only TCP and gRPC handlers, in every
    container of every workload, and no exec (no script that could send one)."""
    from tfserving_harness.testing import scenario_directives

    kube = scenario_directives(values_file).get("min-kube-version")
    docs = scenario(values_file, **({"kube_version": kube} if kube else {}))
    pod_specs = [(d, d["spec"] if d["kind"] == "Pod" else d["spec"]["template"]["spec"]) for d in docs if d.get("kind") in ("Deployment", "StatefulSet", "Job", "Pod")]
    assert pod_specs
    for workload, spec in pod_specs:
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            for name in ("startupProbe", "livenessProbe", "readinessProbe"):
                probe = container.get(name)
                if probe:
                    handlers = set(probe) & {"exec", "httpGet", "tcpSocket", "grpc"}
                    assert handlers <= {"tcpSocket", "grpc"}, f"{workload['kind']}/{workload['metadata']['name']} {container['name']}.{name}: {probe}"


def test_readiness_sh_is_kept_frozen_for_pods_of_chart_0_2_0(render, default_docs):
    """Old pods exec /bin/bash <configMountPath>/readiness.sh from their mounted ConfigMap until the
    rollout replaces them; the kubelet applies a changed or removed key to them within a sync. So the
    key stays in every track's ConfigMap, byte for byte, whatever the values."""
    for docs in (default_docs, render({"tracks": {"stable": {}, "canary": {}}, "server": {"modelConfigPollWaitSeconds": 30}})):
        for configmap in of_kind(docs, "ConfigMap"):
            if configmap["metadata"]["name"].endswith("-config"):
                script = configmap["data"]["readiness.sh"]
                assert hashlib.sha256(script.encode()).hexdigest() == READINESS_SH_0_2_0, f"ConfigMap/{configmap['metadata']['name']}"


def test_no_new_pod_runs_readiness_sh_and_it_is_not_in_the_checksum(tmp_path, default_docs, render):
    """Only old pods run it: editing it must change neither the checksum nor the pod template."""
    import shutil

    from tfserving_harness.paths import chart_dir

    assert "readiness.sh" not in str(pod_template(one(default_docs, "Deployment")))
    chart = tmp_path / "tf-serving"
    shutil.copytree(chart_dir(), chart)
    script = chart / "files" / "readiness-0.2.0.sh"
    script.write_text(script.read_text() + "echo edited\n")
    edited = render(chart=chart)
    assert one(edited, "ConfigMap", "tfs-tf-serving-config")["data"]["readiness.sh"] != one(default_docs, "ConfigMap", "tfs-tf-serving-config")["data"]["readiness.sh"]
    assert pod_template(one(edited, "Deployment")) == pod_template(one(default_docs, "Deployment"))
    assert checksum(edited) == checksum(default_docs)


def test_every_probe_port_is_a_container_port(default_docs):
    assert not [p for p in checks.server_problems(default_docs) if "Probe" in p.path]
