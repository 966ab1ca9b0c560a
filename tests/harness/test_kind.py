"""The kind tier's pieces that need no cluster (tfserving_harness.kind, scripts/kind.py,
scripts/demo.py): pinned versions inside every add-on's support, the kind config, the add-ons'
values as Helm reads them, which vendored CRDs are applied, the model copy and the values each e2e
release gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tfserving_harness import helm, kind
from tfserving_harness.paths import REPO_ROOT
from tfserving_harness.yamlio import load


def test_node_images_are_kind_v0_29_0s_by_digest_and_1_29_has_none():
    """kind v0.29.0's release notes publish node images for 1.30-1.33; its v1.29.14 image is v0.27.0's."""
    assert sorted(kind.NODE_IMAGES) == ["1.30", "1.31", "1.32", "1.33"] and kind.DEFAULT_KUBERNETES in kind.NODE_IMAGES
    assert all("@sha256:" in image for image in kind.NODE_IMAGES.values())
    with pytest.raises(ValueError, match="no kind v0.29.0 node image for Kubernetes 1.29"):
        kind.node_image("1.29")


def test_every_node_image_and_every_workflow_leg_is_inside_every_addons_support():
    workflow = load((REPO_ROOT / ".github" / "workflows" / "kind-e2e.yml").read_text())
    legs = workflow["jobs"]["e2e"]["strategy"]["matrix"]["kubernetes"]
    assert set(legs) <= set(kind.NODE_IMAGES), f"kind-e2e.yml runs {legs}; kind v0.29.0 images: {list(kind.NODE_IMAGES)}"
    outside = [(addon.release, minor) for addon in kind.ADDONS for minor in kind.NODE_IMAGES if not kind.supports(addon, minor)]
    assert not outside, f"add-on versions that do not support a pinned Kubernetes: {outside}"
    gateway = next(a for a in kind.ADDONS if a.release == "envoy-gateway")
    assert not kind.supports(gateway, "1.29") and kind.supports(gateway, "1.33") and not kind.supports(gateway, "1.34")


def test_kind_config_pins_the_image_and_maps_the_ingress_port_only_when_asked():
    config = kind.kind_config(kubernetes="1.30", workers=2, http_port=18080)
    assert {node["image"] for node in config["nodes"]} == {kind.NODE_IMAGES["1.30"]}
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
    control_plane = config["nodes"][0]
    assert control_plane["extraPortMappings"] == [{"containerPort": 80, "hostPort": 18080, "listenAddress": "127.0.0.1", "protocol": "TCP"}]
    assert control_plane["labels"] == {"ingress-ready": "true"}
    assert not any("extraMounts" in node for node in config["nodes"]), "the model is copied into the nodes, not mounted"
    bare = kind.kind_config(kubernetes="1.30", workers=0, http_port=None)  # make demo: no host port taken
    assert bare["nodes"] == [{"role": "control-plane", "image": kind.NODE_IMAGES["1.30"]}]


def test_addon_commands_are_pinned_waited_for_and_name_the_context():
    for addon in kind.ADDONS:
        args = kind.addon_helm_args(addon, kubeconfig="/k", context="kind-tf-serving")
        assert args[args.index("--version") + 1] == addon.version and addon.version[0] in "v0123456789"
        assert args[args.index("--kube-context") + 1] == "kind-tf-serving" and "--wait" in args
        assert "--set" not in args, "values go as YAML (--values -): --set turns 'true' into a boolean"
        assert ("-" in args) == bool(addon.values) and (kind.addon_values_yaml(addon) is None) == (not addon.values)
    adapter = next(a for a in kind.ADDONS if a.release == "prometheus-adapter")
    assert adapter.values_files[0].name == "prometheus-adapter-values.yaml" and adapter.values_files[0].is_file()


def _string_fields(values, path=""):
    """(path, value) of every entry of a map Kubernetes types as map[string]string."""
    if isinstance(values, dict):
        for key, value in values.items():
            here = f"{path}.{key}" if path else key
            if key in ("nodeSelector", "labels", "annotations", "podLabels", "podAnnotations") and isinstance(value, dict):
                yield from ((f"{here}.{k}", v) for k, v in value.items())
            else:
                yield from _string_fields(value, here)
    elif isinstance(values, list):
        for i, item in enumerate(values):
            yield from _string_fields(item, f"{path}[{i}]")


def test_addon_values_reach_helm_with_the_types_kubernetes_wants(tmp_path):
    """Each add-on's values go through helm's own parsing (the same arguments, into a probe chart
    that prints .Values as JSON): every node selector, label and annotation value is a string. The
    ingress controller's `ingress-ready: "true"` node selector was a boolean with --set, which the
    API server refuses, so the controller, `make kind-up` and every kind job failed."""
    probe = tmp_path / "probe"
    (probe / "templates").mkdir(parents=True)
    (probe / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (probe / "templates" / "values.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n  values.json: {{ toJson .Values | quote }}\n")
    seen = {}
    for addon in kind.ADDONS:
        args = kind.addon_helm_args(addon, kubeconfig="/k", context="c")
        values_args = [arg for i, arg in enumerate(args) if arg == "--values" or (i and args[i - 1] == "--values")]
        result = helm.run_helm(["template", "probe", str(probe), *values_args], stdin=kind.addon_values_yaml(addon))
        rendered = json.loads(load(result.stdout)["data"]["values.json"])
        not_strings = [(path, value) for path, value in _string_fields(rendered) if not isinstance(value, str)]
        assert not not_strings, f"{addon.release}: values Kubernetes needs as strings reach the chart as {not_strings}"
        seen[addon.release] = rendered
    assert seen["ingress-nginx"]["controller"]["nodeSelector"] == {"ingress-ready": "true"}
    assert seen["metrics-server"]["args"] == ["--kubelet-insecure-tls"]
    assert seen["prometheus"]["prometheus"]["prometheusSpec"]["ruleSelectorNilUsesHelmValues"] is False


def test_vendored_crds_are_applied_only_for_kinds_no_addon_brought():
    """A CRD that exists before an add-on's `helm install` makes Helm skip the add-on's own copy."""
    from tfserving_harness.cluster import vendored_crds

    vendored = vendored_crds()
    served_by_addons = {("gateway.networking.k8s.io", "HTTPRoute"), ("gateway.networking.k8s.io", "GRPCRoute"),
                        ("monitoring.coreos.com", "ServiceMonitor"), ("monitoring.coreos.com", "PodMonitor"),
                        ("monitoring.coreos.com", "PrometheusRule")}
    applied = {path.name for path in kind.crds_to_apply(vendored, served_by_addons)}
    assert applied == {"keda.sh_scaledobjects.yaml", "vpa-v1-crd-gen.yaml"}
    assert len(kind.crds_to_apply(vendored, set())) == len(set(vendored.values()))


def test_the_model_is_copied_into_each_node_readable_by_any_uid():
    commands = kind.copy_model_commands("tf-serving-worker")
    assert commands[1] == ["docker", "cp", f"{kind.HOST_MODEL_DIR}/.", f"tf-serving-worker:{kind.NODE_MODEL_DIR}"]
    assert commands[-1] == ["docker", "exec", "tf-serving-worker", "chmod", "-R", "a+rX", kind.NODE_MODEL_DIR]
    (volume, claim) = kind.model_volume_manifests("ns1")
    assert volume["spec"]["hostPath"]["path"] == kind.NODE_MODEL_DIR and claim["spec"]["volumeName"] == volume["metadata"]["name"]


def test_every_command_names_the_clusters_context():
    assert kind.kube_context("tf-serving") == "kind-tf-serving"
    for script in ("kind.py", "demo.py"):
        text = (REPO_ROOT / "scripts" / script).read_text()
        assert "--context" in text or "context=" in text, f"scripts/{script} must name the cluster's context"


def test_each_release_gets_its_own_ingress_hosts_over_the_test_values():
    """ingress-nginx refuses an Ingress whose host and path another Ingress holds, e.g. the previous
    test's while its namespace is being deleted: every release has hosts of its own."""
    values = kind.release_values("canary-split-ab12cd", {**kind.INGRESS_VALUES, "replicaCount": 3})
    assert values["ingress"]["host"] == "canary-split-ab12cd.kind.test" == kind.ingress_host("canary-split-ab12cd")
    assert values["ingress"]["grpc"]["host"] == "grpc.canary-split-ab12cd.kind.test"
    assert values["ingress"]["className"] == "nginx" and values["replicaCount"] == 3
    assert values["modelStorage"]["existingClaim"]["claimName"] == kind.MODEL_CLAIM
    assert kind.release_values("a")["ingress"]["host"] != kind.release_values("b")["ingress"]["host"]


def test_make_demo_names_the_missing_tools_and_how_to_get_them(tmp_path):
    """Without docker, kind and kubectl, `make demo` stops at once with what to install."""
    import os
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "demo.py")], capture_output=True, text=True,
                            env={**os.environ, "PATH": str(tmp_path)}, timeout=120)
    assert result.returncode == 2
    for tool in ("docker", "kind", "kubectl"):
        assert f"  {tool}: " in result.stderr, result.stderr
    assert "make test" in result.stderr


def test_make_demo_without_make_setup_says_to_run_it(tmp_path):
    """`make demo` (and kind-up) on a fresh clone: one line that says to run `make setup`."""
    import subprocess

    result = subprocess.run(["make", "--no-print-directory", "-C", str(REPO_ROOT), "demo", f"VENV={tmp_path / 'no-venv'}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "run `make setup` first" in result.stderr, result.stderr


# ---- scripts/kind.py's command sequence, with docker, kind, kubectl and helm recorded, not run ----

def _kind_script(monkeypatch, tmp_path, *, existing_cluster: bool = False):
    """scripts/kind.py as a module whose external commands are recorded and answered like the real
    tools answer; returns (module, calls). Nothing here talks to Docker or a cluster."""
    import importlib.util
    import subprocess

    spec = importlib.util.spec_from_file_location("kind_script", REPO_ROOT / "scripts" / "kind.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    (tmp_path / "models" / "half_plus_two" / "2").mkdir(parents=True)
    monkeypatch.setattr(kind, "HOST_MODEL_DIR", tmp_path / "models")
    monkeypatch.setattr(kind, "missing_tools", lambda *a: [])
    monkeypatch.setattr(script, "port_is_free", lambda port: True)
    monkeypatch.setattr(script.platform, "machine", lambda: "x86_64")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    calls: list[tuple[str, list[str], str | None]] = []
    served = [{"spec": {"group": g, "names": {"kind": k}}} for g, k in (
        ("gateway.networking.k8s.io", "HTTPRoute"), ("gateway.networking.k8s.io", "GRPCRoute"), ("gateway.networking.k8s.io", "Gateway"),
        ("monitoring.coreos.com", "ServiceMonitor"), ("monitoring.coreos.com", "PodMonitor"), ("monitoring.coreos.com", "PrometheusRule"))]

    def run(command, input=None, capture_output=False, text=False, **kwargs):
        command = list(command)
        if command[:3] == ["kind", "create", "cluster"]:
            calls.append(("kind-config", command, (Path(command[command.index("--config") + 1])).read_text()))
        else:
            calls.append(("run", command, input))
        out = ""
        if command[:3] == ["kind", "get", "clusters"]:
            out = "tf-serving\n" if existing_cluster else ""
        elif command[:3] == ["kind", "get", "nodes"]:
            out = "tf-serving-control-plane\ntf-serving-worker\n"
        elif command[0] == "kubectl" and command[-4:] == ["get", "crd", "-o", "json"]:
            out = json.dumps({"items": served})
        return subprocess.CompletedProcess(command, 0, out if text else out.encode(), "" if text else b"")

    monkeypatch.setattr(script.subprocess, "run", run)
    monkeypatch.setattr(helm, "run_helm", lambda args, stdin=None, check=True: calls.append(("helm", list(args), stdin))
                        or subprocess.CompletedProcess(args, 0, "", ""))
    return script, calls


def test_kind_up_creates_then_installs_addons_then_only_the_missing_crds_all_in_its_context(monkeypatch, tmp_path):
    script, calls = _kind_script(monkeypatch, tmp_path)
    assert script.main(["create", "--kubernetes", "1.30"]) == 0
    (config_text,) = [stdin for what, _, stdin in calls if what == "kind-config"]
    config = yaml.safe_load(config_text)
    assert config["nodes"][0]["image"] == kind.NODE_IMAGES["1.30"] and config["nodes"][0]["extraPortMappings"][0]["hostPort"] == kind.HTTP_PORT
    commands = [command for what, command, _ in calls if what != "kind-config"]
    assert ["docker", "pull", "--platform", "linux/amd64", kind.TFS_IMAGE] in commands
    for node in ("tf-serving-control-plane", "tf-serving-worker"):
        assert ["docker", "cp", f"{tmp_path / 'models'}/.", f"{node}:{kind.NODE_MODEL_DIR}"] in commands
    installs = [(command, stdin) for what, command, stdin in calls if what == "helm"]
    assert [c[2] for c, _ in installs] == [a.release for a in kind.ADDONS]
    assert all(c[c.index("--kube-context") + 1] == "kind-tf-serving" for c, _ in installs)
    ingress_values = next(yaml.safe_load(stdin) for c, stdin in installs if c[2] == "ingress-nginx")
    assert ingress_values["controller"]["nodeSelector"] == {"ingress-ready": "true"}
    kubectl = [c for c in commands if c[0] == "kubectl"]
    assert kubectl and all(c[c.index("--context") + 1] == "kind-tf-serving" for c in kubectl)
    applied = [Path(c[-1]).name for c in kubectl if c[5:8] == ["apply", "--server-side", "-f"]]
    assert applied == ["keda.sh_scaledobjects.yaml", "vpa-v1-crd-gen.yaml"], "the add-ons' own CRDs must not be pre-empted"
    last_install = max(i for i, (what, _, _) in enumerate(calls) if what == "helm")
    first_crd = min(i for i, (what, c, _) in enumerate(calls) if what == "run" and c[0] == "kubectl" and "--server-side" in c)
    assert last_install < first_crd, "vendored CRDs go in after the add-ons"


def test_make_demo_cluster_is_bare_and_a_reused_cluster_is_not_recreated(monkeypatch, tmp_path):
    script, calls = _kind_script(monkeypatch, tmp_path)
    assert script.main(["create", "--no-addons"]) == 0
    (config_text,) = [stdin for what, _, stdin in calls if what == "kind-config"]
    assert "extraPortMappings" not in config_text and "ingress-ready" not in config_text
    assert not [c for what, c, _ in calls if what == "helm"] and not [c for what, c, _ in calls if c[0] == "kubectl" and "apply" in c]
    script, calls = _kind_script(monkeypatch, tmp_path / "again", existing_cluster=True)
    assert script.main(["create", "--no-addons"]) == 0
    assert not [what for what, _, _ in calls if what == "kind-config"]
    assert any(c[:2] == ["docker", "cp"] for _, c, _ in calls), "a reused cluster gets the model copied again"
