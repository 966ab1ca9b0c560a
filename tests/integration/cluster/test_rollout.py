"""tfs-rollout against a real API server: canary start -> advance (gated) -> promote, blue/green
switch -> rollback; dry runs change nothing, re-runs change nothing. Prometheus and the preview
Service's TF Serving REST API are local stand-ins (no pod runs a server on this control plane)."""

from __future__ import annotations

import uuid

import pytest
import yaml
from kubernetes import client, config

from tfserving_harness import helm
from tfserving_harness.paths import chart_dir
from tfserving_harness.rollout import cli
from tfserving_harness.rollout.standins import PrometheusStandIn, TFServingRestStandIn, TrackSample

PINNED = [{"name": "half_plus_two", "basePath": "/models/half_plus_two", "versionPolicy": {"specific": {"versions": [1]}}}]
#: A release serving its own model: versions on its storage (the image's here, source none), which the built-in demo is not.
OWN_STORAGE = {"modelStorage": {"source": "none"}}


@pytest.fixture
def namespace(cluster):
    core = client.CoreV1Api(config.new_client_from_config(config_file=cluster.kubeconfig))
    name = f"rollout-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    helm.run_helm(["uninstall", "tfs", "--namespace", name, "--kubeconfig", cluster.kubeconfig], check=False)
    core.delete_namespace(name)


class Release:
    def __init__(self, cluster, namespace: str, values: dict):
        self.kubeconfig = cluster.kubeconfig
        self.namespace = namespace
        api = config.new_client_from_config(config_file=cluster.kubeconfig)
        self.apps, self.core = client.AppsV1Api(api), client.CoreV1Api(api)
        helm.run_helm(["install", "tfs", str(chart_dir()), "--namespace", namespace, "--wait", "--timeout", "120s",
                       "--kubeconfig", self.kubeconfig, "--values", "-"], stdin=yaml.safe_dump(values))

    def tool(self, *args: str) -> int:
        command, rest = args[0].split(), list(args[1:])
        return cli.main([*command, "tfs", "-n", self.namespace, "--kubeconfig", self.kubeconfig, "--timeout", "120s", *rest])

    def revision(self) -> int:
        return int(helm.run_helm(["status", "tfs", "-n", self.namespace, "--kubeconfig", self.kubeconfig, "-o", "json"])
                   .stdout.split('"version":')[1].split(",")[0])

    def values(self) -> dict:
        return yaml.safe_load(helm.run_helm(["get", "values", "tfs", "-n", self.namespace, "--kubeconfig", self.kubeconfig,
                                             "-o", "yaml"]).stdout) or {}

    def deployments(self) -> dict[str, client.V1Deployment]:
        items = self.apps.list_namespaced_deployment(self.namespace, label_selector="app.kubernetes.io/instance=tfs").items
        return {d.metadata.labels["tf-serving.io/track"]: d for d in items}

    def main_service_track(self) -> str:
        (service,) = self.core.list_namespaced_service(
            self.namespace, label_selector="app.kubernetes.io/instance=tfs,tf-serving.io/service=main").items
        return service.spec.selector["tf-serving.io/track"]


def gate_args(prometheus: PrometheusStandIn) -> list[str]:
    return ["--prometheus", prometheus.url, "--min-requests", "100", "--inconclusive-timeout", "2s", "--poll", "1s"]


def test_canary_start_advance_promote(cluster, namespace, capsys):
    release = Release(cluster, namespace, {"ingress": {"enabled": True}, "models": PINNED, **OWN_STORAGE})
    start = ("canary start", "--model-version", "2", "--weight", "5")

    assert release.tool(*start, "--dry-run") == cli.OK
    assert release.revision() == 1 and set(release.deployments()) == {"main"}, "a dry run changes nothing"
    assert "--reset-then-reuse-values" in capsys.readouterr().out

    assert release.tool(*start) == cli.OK
    canary = release.deployments()["canary"]
    assert canary.status.available_replicas == 1, canary.status
    assert release.values()["canary"] == {"enabled": True, "weight": 5}
    assert release.values()["tracks"]["canary"]["models"][0]["versionPolicy"] == {"specific": {"versions": [2]}}
    started = release.revision()
    assert release.tool(*start) == cli.OK and release.revision() == started, "a re-run changes nothing"

    with PrometheusStandIn() as prometheus:
        assert release.tool("canary advance", *gate_args(prometheus)) == cli.HELD, "no data: inconclusive, hold"
        assert release.values()["canary"]["weight"] == 5 and release.revision() == started

        prometheus.tracks = {"canary": TrackSample(1000, 1, 30.0), "main": TrackSample(5000, 3, 25.0)}
        assert release.tool("canary advance", *gate_args(prometheus)) == cli.OK
        assert release.values()["canary"]["weight"] == 25
        assert any(f'namespace="{namespace}"' in q and 'tf_serving_io_track="canary"' in q for q in prometheus.queries)

        prometheus.tracks["canary"] = TrackSample(1000, 200, 30.0)
        assert release.tool("canary advance", *gate_args(prometheus)) == cli.FAILED, "a breach exits non-zero"
        assert release.values()["canary"]["weight"] == 0, "a breach sends the canary's share back to the primary"

        prometheus.tracks["canary"] = TrackSample(1000, 0, 30.0)
        assert release.tool("canary advance", "--to", "50", *gate_args(prometheus)) == cli.OK
        assert release.values()["canary"]["weight"] == 50

        before_auto = release.revision()
        assert release.tool("canary auto", "--steps", "5,25,50,100", "--interval", "1s", *gate_args(prometheus)) == cli.OK
        assert release.values()["canary"]["weight"] == 100 and release.revision() == before_auto + 1, "only 50 -> 100 was left"

    before_promote = release.revision()
    assert release.tool("promote", "--drain", "1s", "--dry-run") == cli.OK and release.revision() == before_promote
    assert release.tool("promote", "--drain", "1s") == cli.OK
    deployments = release.deployments()
    assert set(deployments) == {"main"}, "the canary track is gone"
    assert deployments["main"].status.available_replicas == 1
    (configmap,) = [c for c in release.core.list_namespaced_config_map(namespace).items if "models.config" in (c.data or {})]
    assert "versions: 2" in configmap.data["models.config"], configmap.data["models.config"]
    assert release.values()["canary"]["enabled"] is False and "canary" not in release.values()["tracks"]
    promoted = release.revision()
    assert release.tool("promote") == cli.OK and release.revision() == promoted, "a re-run changes nothing"


def test_bluegreen_switch_smoke_tests_then_rollback(cluster, namespace):
    release = Release(cluster, namespace, {"blueGreen": {"enabled": True, "active": "blue", "green": {"image": {"tag": "2.20.0"}}}})
    assert release.main_service_track() == "blue"

    with TFServingRestStandIn(state="LOADING") as loading:
        assert release.tool("bluegreen switch", "--to", "green", "--preview-url", loading.url) == cli.ERROR
        assert release.main_service_track() == "blue" and release.revision() == 1, "a failed smoke test changes nothing"

    with TFServingRestStandIn() as preview:
        assert release.tool("bluegreen switch", "--to", "green", "--preview-url", preview.url, "--dry-run") == cli.OK
        assert release.revision() == 1 and not preview.requests, "a dry run neither switches nor smoke-tests"
        assert release.tool("bluegreen switch", "--to", "green", "--preview-url", preview.url) == cli.OK
        assert "POST /v1/models/half_plus_two:predict" in preview.requests, preview.requests
    assert release.main_service_track() == "green" and release.revision() == 2
    assert release.tool("bluegreen switch", "--to", "green") == cli.OK and release.revision() == 2, "a re-run changes nothing"

    assert release.tool("rollback", "--dry-run") == cli.OK and release.revision() == 2
    assert release.tool("rollback") == cli.OK
    assert release.main_service_track() == "blue" and release.revision() == 3
    assert release.tool("rollback") == cli.OK and release.revision() == 3, "rolling back a rollback again changes nothing"
    assert release.tool("rollback", "--to-revision", "9") == cli.ERROR


def test_diagnose_reports_the_release_and_changes_nothing(cluster, namespace, tmp_path, capsys):
    release = Release(cluster, namespace, {"ingress": {"enabled": True}, "models": PINNED, **OWN_STORAGE})
    assert release.tool("canary start", "--model-version", "2") == cli.OK
    revision = release.revision()
    assert release.tool("diagnose", "--output", str(tmp_path / "diag")) == cli.OK
    report = (tmp_path / "diag" / "report.txt").read_text()
    for expected in ("## helm history", "tfs-rollout: send 5% of requests to track canary", "tfs-tf-serving-canary: replicas 1",
                     "(canary): Running, restarts 0", "## Recent events",
                     "tfs-tf-serving-canary (track canary) half_plus_two: unreachable"):
        assert expected in report, report
    assert (tmp_path / "diag.tar.gz").stat().st_size > 0
    assert release.revision() == revision


def test_bad_input_changes_nothing(cluster, namespace, capsys):
    release = Release(cluster, namespace, {"models": PINNED, **OWN_STORAGE})
    assert release.tool("canary start", "--model-version", "2") == cli.ERROR
    assert "needs traffic splitting" in capsys.readouterr().out
    assert release.revision() == 1
    assert cli.main(["promote", "nope", "-n", namespace, "--kubeconfig", release.kubeconfig]) == cli.ERROR
    assert "release 'nope' not found" in capsys.readouterr().out


def test_a_canary_that_never_becomes_available_gets_no_traffic_and_is_rolled_back(cluster, namespace, capsys):
    """A pod quota leaves the canary's ReplicaSet unable to create its pod: helm's wait times out,
    --atomic rolls the release back, and the canary was never enabled."""
    release = Release(cluster, namespace, {"ingress": {"enabled": True}, "models": PINNED, **OWN_STORAGE})
    release.core.create_namespaced_resource_quota(namespace, client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="one-pod"), spec=client.V1ResourceQuotaSpec(hard={"pods": "1"})))
    assert release.tool("canary start", "--model-version", "2", "--timeout", "20s") == cli.ERROR
    out = capsys.readouterr().out
    assert "--atomic rolled the release back" in out, out
    values = release.values()
    assert "canary" not in values.get("tracks", {}) and not values.get("canary", {}).get("enabled"), values
    assert set(release.deployments()) == {"main"}, "the rollback removed the canary Deployment"
    assert not [i for i in client.NetworkingV1Api(release.apps.api_client).list_namespaced_ingress(namespace).items
                if "canary" in i.metadata.name], "no canary Ingress was ever left behind"
