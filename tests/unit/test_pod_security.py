"""The `restricted` Pod Security Standard, field by field: the checker itself (on broken pods), the
default render without any values, and every ci/ scenario that does not declare an exception."""

from __future__ import annotations

import copy

import pytest

from tfserving_harness import helm, pod_security
from tfserving_harness.frozen import thaw
from tfserving_harness.manifests import one, pod_template
from tfserving_harness.testing import ci_scenarios, scenario_directives

GOOD_POD = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "app",
            "image": "x",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            "ports": [{"containerPort": 8501}],
        }
    ],
    "initContainers": [
        {"name": "init", "image": "y", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}
    ],
    "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}, {"name": "m", "persistentVolumeClaim": {"claimName": "p"}}],
}


def test_checker_accepts_a_compliant_pod():
    assert pod_security.pod_spec_findings(GOOD_POD) == []


def _broken(path: str, value):
    """GOOD_POD with one field set: `path` is dotted, list items as [i]."""
    pod = copy.deepcopy(GOOD_POD)
    parts = path.replace("[", ".[").split(".")
    target = pod
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target.setdefault(part, {})
    last = parts[-1]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return pod


DELETE = object()

BROKEN = [
    ("host_namespaces", "hostNetwork", True),
    ("host_namespaces", "hostPID", True),
    ("host_namespaces", "hostIPC", True),
    ("privileged", "containers[0].securityContext.privileged", True),
    ("windows_host_process", "securityContext.windowsOptions", {"hostProcess": True}),
    ("capabilities", "containers[0].securityContext.capabilities", {"drop": ["NET_RAW"]}),
    ("capabilities", "initContainers[0].securityContext.capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
    ("volume_types", "volumes", [{"name": "h", "hostPath": {"path": "/"}}]),
    ("volume_types", "volumes", [{"name": "n", "nfs": {"server": "s", "path": "/"}}]),
    ("volume_types", "volumes", [{"name": "i", "image": {"reference": "r"}}]),
    ("host_ports", "containers[0].ports", [{"containerPort": 8501, "hostPort": 8501}]),
    ("apparmor", "securityContext.appArmorProfile", {"type": "Unconfined"}),
    ("selinux", "securityContext.seLinuxOptions", {"type": "spc_t"}),
    ("selinux", "containers[0].securityContext.seLinuxOptions", {"user": "system_u"}),
    ("proc_mount", "containers[0].securityContext.procMount", "Unmasked"),
    ("sysctls", "securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}]),
    ("privilege_escalation", "initContainers[0].securityContext.allowPrivilegeEscalation", DELETE),
    ("privilege_escalation", "containers[0].securityContext.allowPrivilegeEscalation", True),
    ("run_as_non_root", "securityContext.runAsNonRoot", DELETE),
    ("run_as_non_root", "containers[0].securityContext.runAsNonRoot", False),
    ("run_as_user", "securityContext.runAsUser", 0),
    ("run_as_user", "initContainers[0].securityContext.runAsUser", 0),
    ("seccomp", "securityContext.seccompProfile", DELETE),
    ("seccomp", "containers[0].securityContext.seccompProfile", {"type": "Unconfined"}),
]


@pytest.mark.parametrize(("rule", "path", "value"), BROKEN, ids=[f"{r}:{p}" for r, p, _ in BROKEN])
def test_checker_catches_each_violation(rule, path, value):
    findings = pod_security.pod_spec_findings(_broken(path, value))
    assert findings, f"{path}={value!r} passed"
    assert {r for r, _, _ in findings} == {rule}, findings


def test_checker_reads_apparmor_annotations():
    findings = pod_security.pod_spec_findings(GOOD_POD, {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}})
    assert [r for r, _, _ in findings] == ["apparmor"]


def test_container_level_settings_satisfy_the_profile_without_pod_level():
    pod = _broken("securityContext", {})
    for container in (*pod["containers"], *pod["initContainers"]):
        container["securityContext"].update(runAsNonRoot=True, seccompProfile={"type": "Localhost", "localhostProfile": "p.json"})
    assert pod_security.pod_spec_findings(pod) == []


def test_problems_name_the_workload_and_full_field(default_docs):
    deployment = thaw(one(default_docs, "Deployment"))
    deployment["spec"]["template"]["spec"]["hostNetwork"] = True
    (problem,) = pod_security.restricted_problems([deployment])
    assert (problem.object, problem.field) == ("Deployment/tfs-tf-serving", "spec.template.spec.hostNetwork")


def test_default_render_is_restricted_without_any_values(default_docs):
    problems = pod_security.restricted_problems(default_docs)
    assert not problems, "\n".join(map(str, problems))
    spec = pod_template(one(default_docs, "Deployment"))["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsUser"] >= 10000 and spec["securityContext"]["runAsGroup"] >= 10000, "ids no node user or group has"
    assert spec["enableServiceLinks"] is False
    container = spec["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert next(v for v in spec["volumes"] if v["name"] == tmp["name"])["emptyDir"] == {"sizeLimit": "1Gi"}
    assert "ephemeral-storage" in container["resources"]["requests"]


SCENARIOS = ci_scenarios()


@pytest.mark.parametrize("values_file", SCENARIOS)
def test_scenario_is_restricted_unless_it_declares_why_not(values_file, scenario):
    directives = scenario_directives(values_file)
    docs = scenario(values_file)
    problems = pod_security.restricted_problems(docs)
    if "pod-security-exception" in directives:
        assert problems, f"{values_file.name} declares an exception ({directives['pod-security-exception']}) but is restricted: drop it"
        assert all(p.message.startswith("volume_types:") for p in problems), "an exception covers the volume type only:\n" + "\n".join(map(str, problems))
    else:
        assert not problems, "\n".join(map(str, problems))


def test_init_container_gets_the_restricted_context(render):
    docs = render(
        {
            "modelStorage": {"source": "initContainer", "initContainer": {"image": {"repository": "amazon/aws-cli", "tag": "2"}, "command": ["true"]}},
            "models": [{"name": "m", "basePath": "/models/m"}],
        }
    )
    inits = pod_template(one(docs, "Deployment"))["spec"]["initContainers"]
    assert [c["name"] for c in inits] == ["download-models", "check-models"]
    for init in inits:
        assert init["securityContext"]["allowPrivilegeEscalation"] is False and init["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod_security.restricted_problems(docs) == []


def test_run_as_non_root_without_a_user_fails(render):
    with pytest.raises(helm.RenderError) as failed:
        render({"podSecurityContext": {"runAsUser": None}})
    assert "tf-serving: podSecurityContext.runAsUser is not set but runAsNonRoot is true" in failed.value.stderr


def test_root_user_with_run_as_non_root_fails(render):
    with pytest.raises(helm.RenderError) as failed:
        render({"podSecurityContext": {"runAsUser": 0}})
    assert "is 0 while runAsNonRoot is true" in failed.value.stderr


def test_image_pull_secrets_and_pull_policy_reach_the_pod(render):
    docs = render({"imagePullSecrets": [{"name": "regcred"}], "image": {"pullPolicy": "Always"}})
    spec = pod_template(one(docs, "Deployment"))["spec"]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["containers"][0]["imagePullPolicy"] == "Always"


def test_container_root_user_overrides_a_non_root_pod_user_and_fails(render):
    with pytest.raises(helm.RenderError) as failed:
        render({"securityContext": {"runAsUser": 0}})
    assert "is 0 while runAsNonRoot is true" in failed.value.stderr
