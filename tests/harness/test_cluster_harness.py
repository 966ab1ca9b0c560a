"""The parts of tfserving_harness.cluster that need no API server: helm command lines, scenario
prerequisites, CRDs per rendered kind, waits, rollout samples, events, the previous chart version."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tfserving_harness import cluster
from tfserving_harness.paths import chart_dir, ci_values_files
from tfserving_harness.testing import scenario_directives


def test_install_command_waits_and_names_everything():
    args = cluster.helm_args("install", "tfs", "ns1", kubeconfig="/k", values_files=["a.yaml"], set_values={"replicaCount": "2"})
    assert args == ["install", "tfs", str(chart_dir()), "--values", "a.yaml", "--set", "replicaCount=2",
                    "--namespace", "ns1", "--kubeconfig", "/k", "--wait", "--timeout", "180s"]


def test_commands_name_the_kube_context_when_given(monkeypatch):
    """A reused cluster is reached through its own context, never whatever context is current."""
    args = cluster.helm_args("install", "tfs", "ns1", kubeconfig="/k", kube_context="kind-tf-serving")
    assert args[args.index("--kube-context") + 1] == "kind-tf-serving"
    assert "--kube-context" not in cluster.helm_args("install", "tfs", "ns1", kubeconfig="/k")
    seen = []
    monkeypatch.setattr("tfserving_harness.helm.run_helm", lambda args, check: seen.append(args) or SimpleNamespace(returncode=0))
    cluster.HelmRelease("tfs", "ns1", "/k", context="kind-x").test()
    assert seen[0][seen[0].index("--kube-context") + 1] == "kind-x"


def test_upgrade_command_must_say_how_values_combine():
    with pytest.raises(ValueError, match="--reset-then-reuse-values"):
        cluster.helm_args("upgrade", "tfs", "ns1", kubeconfig="/k")
    args = cluster.helm_args("upgrade", "tfs", "ns1", kubeconfig="/k", extra=["--reset-then-reuse-values"], wait=False)
    assert args[-1] == "--reset-then-reuse-values" and "--wait" not in args


def test_rollback_and_test_commands():
    assert cluster.helm_args("rollback", "tfs", "n", kubeconfig="/k", extra=["2"])[-1] == "2"
    test = cluster.helm_args("test", "tfs", "n", kubeconfig="/k", timeout="60s")
    assert test[:2] == ["test", "tfs"] and test[-2:] == ["--timeout", "60s"] and "--wait" not in test


def test_needs_directive_parses_and_refuses_unknown_kinds():
    assert cluster.parse_needs("PriorityClass/model-serving, PersistentVolumeClaim/models") == [
        cluster.Prerequisite("PriorityClass", "model-serving"), cluster.Prerequisite("PersistentVolumeClaim", "models")]
    assert cluster.parse_needs("") == []
    with pytest.raises(ValueError, match="not Kind/name"):
        cluster.parse_needs("Secret/creds")


def test_every_scenario_that_names_an_external_object_declares_it():
    """A claim or priority class the scenario refers to but does not declare would fail the cluster tier."""
    for path in ci_values_files():
        text = path.read_text()
        declared = {(n.kind, n.name) for n in cluster.scenario_prerequisites(path)}
        for line in text.splitlines():
            key, _, value = line.strip().partition(":")
            value = value.strip().strip('"')
            if key == "claimName":
                assert ("PersistentVolumeClaim", value) in declared, f"{path.name}: claim {value} is not in `# needs:`"
            if key == "priorityClassName":
                assert ("PriorityClass", value) in declared, f"{path.name}: priority class {value} is not in `# needs:`"
            if key == "storageClassName" and value:
                assert ("StorageClass", value) in declared, f"{path.name}: storage class {value} is not in `# needs:`"
        assert "needs" not in scenario_directives(path) or declared


def test_claim_prerequisite_is_a_claim_with_a_pre_bound_volume():
    volume, claim = cluster.prerequisite_manifests(cluster.Prerequisite("PersistentVolumeClaim", "models-ro"), "ns1")
    assert claim["metadata"] == {"name": "models-ro", "namespace": "ns1", "labels": cluster.CREATED_BY_LABEL}
    assert volume["spec"]["claimRef"] == {"namespace": "ns1", "name": "models-ro"}
    assert volume["spec"]["accessModes"] == claim["spec"]["accessModes"]
    assert volume["spec"]["storageClassName"] == claim["spec"]["storageClassName"] == ""


def test_priority_and_storage_classes():
    (priority,) = cluster.prerequisite_manifests(cluster.Prerequisite("PriorityClass", "model-serving"), "ns1")
    assert priority["kind"] == "PriorityClass" and priority["globalDefault"] is False
    (storage,) = cluster.prerequisite_manifests(cluster.Prerequisite("StorageClass", "fast"), "ns1")
    assert storage["metadata"]["name"] == "fast" and storage["provisioner"] == "kubernetes.io/no-provisioner"


def test_gpu_node_patch_labels_and_adds_capacity():
    metadata, status = cluster.gpu_node_patch(cluster.Prerequisite("GPUNode", "cloud.google.com/gke-accelerator=nvidia-l4"))
    assert metadata == {"metadata": {"labels": {"cloud.google.com/gke-accelerator": "nvidia-l4"}}}
    assert status["status"]["allocatable"]["nvidia.com/gpu"] == "4"
    with pytest.raises(ValueError):
        cluster.gpu_node_patch(cluster.Prerequisite("GPUNode", "no-value"))


def test_chart_created_claims_get_a_volume_of_their_class_size_and_modes(scenario):
    docs = scenario("storage-pvc", namespace="ns1")
    (volume,) = cluster.volumes_for_claims(docs, "ns1")
    assert volume["spec"]["storageClassName"] == "filestore-standard"
    assert volume["spec"]["capacity"] == {"storage": "50Gi"} and volume["spec"]["accessModes"] == ["ReadWriteMany"]
    assert volume["spec"]["claimRef"] == {"namespace": "ns1", "name": "tfs-tf-serving-models"}


def test_crds_for_rendered_custom_kinds_only():
    docs = [{"apiVersion": "apps/v1", "kind": "Deployment"}, {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute"},
            {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"}, {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler"},
            {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject"}, {"apiVersion": "v1", "kind": "Service"}]
    assert [p.name for p in cluster.crds_for(docs)] == ["gateway.networking.k8s.io_httproutes.yaml", "vpa-v1-crd-gen.yaml", "keda.sh_scaledobjects.yaml"]
    with pytest.raises(LookupError, match="no CRD for it is vendored"):
        cluster.crds_for([{"apiVersion": "example.com/v1", "kind": "Widget"}])


def test_wait_until_reports_progress_and_gives_up_naming_what_it_awaited(capsys):
    now = [0.0]
    states = iter(range(100))

    def check():
        return False, f"state {next(states)}"

    with pytest.raises(cluster.WaitTimeout, match=r"gave up after 30s waiting for the thing; last state: state \d+"):
        cluster.wait_until(check, what="the thing", timeout=30, interval=5, progress_every=10,
                           clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert "waiting for the thing: 10s of 30s" in capsys.readouterr().err


def test_wait_until_returns_the_state_when_done():
    answers = iter([(False, 1), (True, 2)])
    assert cluster.wait_until(lambda: next(answers), what="x", timeout=5, sleep=lambda s: None) == 2


def test_rollout_samples_below_the_desired_ready_count_are_reported():
    samples = [{"a": 3}, {"a": 3, "b": 0}, {"a": 3, "b": 1}, {"a": 2, "b": 1}, {"a": 1, "b": 1}, {"a": 0, "b": 3}]
    assert cluster.replica_sets_never_below(samples, 3) == ["sample 4: 2 ready < 3 ({'a': 1, 'b': 1})"]


def event(reason, kind="ReplicaSet", name="rs", message="m", when="2026-01-01T00:00:00"):
    return SimpleNamespace(reason=reason, message=message, type="Warning", last_timestamp=when, event_time=None,
                           metadata=SimpleNamespace(creation_timestamp=None), involved_object=SimpleNamespace(kind=kind, name=name))


def test_failed_creates_and_event_listing():
    events = [event("SuccessfulCreate", when="2026-01-01T00:00:02"), event("FailedCreate", message='violates PodSecurity "restricted"')]
    assert cluster.failed_creates(events) == ['ReplicaSet/rs: violates PodSecurity "restricted"']
    listing = cluster.format_events(events).splitlines()
    assert "FailedCreate" in listing[0] and "SuccessfulCreate" in listing[1], "events are listed oldest first"
    assert cluster.format_events([]) == "(no events)"


def test_previous_chart_version_is_older_and_exports(tmp_path):
    from tfserving_harness import yamlio
    from tfserving_harness.testing import kube_version_tuple

    revision, version = cluster.previous_chart_commit()
    current = yamlio.load((chart_dir() / "Chart.yaml").read_text())["version"]
    assert kube_version_tuple(version) < kube_version_tuple(current)
    exported = cluster.export_chart(revision, tmp_path)
    assert yamlio.load((exported / "Chart.yaml").read_text())["version"] == version
    # Any release's predecessor, as the tests of older values changes ask for it.
    assert kube_version_tuple(cluster.previous_chart_commit(before=version)[1]) < kube_version_tuple(version)
    assert cluster.previous_chart_commit(before="0.2.0")[1] == "0.1.0"


# ---- the e2e tier's traffic (tfserving_harness.traffic; the kind pieces: test_kind.py) ----

def test_steady_load_sends_at_the_rate_records_failures_and_stops():
    import threading

    from tfserving_harness.traffic import steady_load

    calls = []

    def send():
        calls.append(1)
        if len(calls) % 10 == 0:
            raise ConnectionError("reset")
        return "1"

    run = steady_load(send, rate=200, seconds=0.5)
    assert len(run.outcomes) == 100 and len(run.failures) == 10
    assert "100 requests, 10 failed" in run.summary() and "ConnectionError: reset" in run.summary()
    stop = threading.Event()
    stop.set()
    assert steady_load(lambda: "x", rate=10, seconds=10, stop=stop).outcomes == []
    with pytest.raises(ValueError):
        steady_load(lambda: "x", rate=0, seconds=1)


def _node(runtime: str = "containerd://1.7.18", labels: dict | None = None, provider_id: str | None = None):
    from kubernetes import client

    return client.V1Node(metadata=client.V1ObjectMeta(name="n", labels=labels or {}), spec=client.V1NodeSpec(provider_id=provider_id),
                         status=client.V1NodeStatus(node_info=client.V1NodeSystemInfo(
                             architecture="amd64", boot_id="", container_runtime_version=runtime, kernel_version="", kube_proxy_version="",
                             kubelet_version="v1.32.13", machine_id="", operating_system="linux", os_image="", system_uuid="")))


@pytest.mark.parametrize(("nodes", "expected"), [
    ([_node("stand-in://k8s-local")] * 3, cluster.STAND_IN_NODES),
    ([_node(labels={"node.kubernetes.io/instance-type": "real-node"})], cluster.REAL_NODE),
    ([_node(provider_id="kind://docker/tfs/tfs-control-plane"), _node(provider_id="kind://docker/tfs/tfs-worker")], cluster.KIND),
    ([_node(provider_id="aws:///eu-west-1a/i-0123")], cluster.OTHER),
    ([], cluster.OTHER),
])
def test_cluster_kind_tells_the_tiers_clusters_apart(nodes, expected):
    assert cluster.cluster_kind(nodes) == expected
