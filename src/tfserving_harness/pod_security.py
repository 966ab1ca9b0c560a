"""Pod Security Standards, `restricted` profile (which includes `baseline`), checked statically on a
pod spec, field by field, the way the Pod Security Admission controller does it.

Source: https://kubernetes.io/docs/concepts/security/pod-security-standards/ (policy version
"latest"). Every rule is one function below so a violation names the control it breaks. Checks
every container: `containers`, `initContainers` and `ephemeralContainers`.

Not covered (not decidable from the manifest alone): what user the image runs as when neither the
pod nor the container sets `runAsUser` (admission does not check that either; the kubelet does).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Mapping

from .manifests import pod_spec, ref
from .problems import Problem

CHECK = "pod-security-restricted"

#: Volume types the restricted profile allows (everything else, hostPath included, is refused).
RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
#: The only capability a restricted container may add.
RESTRICTED_ADDABLE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
#: Sysctls the baseline profile allows (namespaced, "safe").
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SECCOMP_ALLOWED = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ALLOWED = frozenset({"RuntimeDefault", "Localhost"})
SELINUX_TYPES_ALLOWED = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

Finding = tuple[str, str]  # (field path relative to the pod spec, message)


def _containers(spec: Mapping) -> Iterator[tuple[str, Mapping]]:
    for list_name in CONTAINER_LISTS:
        for index, container in enumerate(spec.get(list_name) or []):
            yield f"{list_name}[{index}]", container


def host_namespaces(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield field, f"{field} must be unset or false"


def privileged(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    for where, container in _containers(spec):
        if (container.get("securityContext") or {}).get("privileged"):
            yield f"{where}.securityContext.privileged", "privileged containers are not allowed"


def windows_host_process(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    if ((spec.get("securityContext") or {}).get("windowsOptions") or {}).get("hostProcess"):
        yield "securityContext.windowsOptions.hostProcess", "Windows HostProcess pods are not allowed"
    for where, container in _containers(spec):
        if (((container.get("securityContext") or {}).get("windowsOptions")) or {}).get("hostProcess"):
            yield f"{where}.securityContext.windowsOptions.hostProcess", "Windows HostProcess containers are not allowed"


def capabilities(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    for where, container in _containers(spec):
        caps = (container.get("securityContext") or {}).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield f"{where}.securityContext.capabilities.drop", "must drop ALL capabilities"
        extra = sorted(set(caps.get("add") or []) - RESTRICTED_ADDABLE_CAPABILITIES)
        if extra:
            yield f"{where}.securityContext.capabilities.add", f"may add only NET_BIND_SERVICE, adds {extra}"


def volume_types(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    for index, volume in enumerate(spec.get("volumes") or []):
        types = set(volume) - {"name"}
        if "hostPath" in types:
            yield f"volumes[{index}].hostPath", f"volume {volume.get('name')!r}: hostPath volumes are not allowed"
        elif not types <= RESTRICTED_VOLUME_TYPES:
            yield f"volumes[{index}]", f"volume {volume.get('name')!r} is of type {sorted(types - RESTRICTED_VOLUME_TYPES)}; restricted allows only {sorted(RESTRICTED_VOLUME_TYPES)}"


def host_ports(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    for where, container in _containers(spec):
        for index, port in enumerate(container.get("ports") or []):
            if port.get("hostPort"):
                yield f"{where}.ports[{index}].hostPort", f"hostPort {port['hostPort']} is not allowed"


def apparmor(spec: Mapping, metadata: Mapping) -> Iterable[Finding]:
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    for key, value in (metadata.get("annotations") or {}).items():
        if key.startswith(prefix) and value != "runtime/default" and not str(value).startswith("localhost/"):
            yield f"metadata.annotations.{key}", f"AppArmor profile {value!r} is not runtime/default or localhost/*"
    contexts = [("securityContext", spec.get("securityContext") or {})]
    contexts += [(f"{where}.securityContext", c.get("securityContext") or {}) for where, c in _containers(spec)]
    for where, context in contexts:
        profile_type = (context.get("appArmorProfile") or {}).get("type")
        if profile_type is not None and profile_type not in APPARMOR_ALLOWED:
            yield f"{where}.appArmorProfile.type", f"AppArmor profile type {profile_type!r} is not allowed"


def selinux(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    contexts = [("securityContext", spec.get("securityContext") or {})]
    contexts += [(f"{where}.securityContext", c.get("securityContext") or {}) for where, c in _containers(spec)]
    for where, context in contexts:
        options = context.get("seLinuxOptions") or {}
        if options.get("type", "") not in SELINUX_TYPES_ALLOWED:
            yield f"{where}.seLinuxOptions.type", f"SELinux type {options['type']!r} is not allowed"
        for field in ("user", "role"):
            if options.get(field):
                yield f"{where}.seLinuxOptions.{field}", f"SELinux {field} must not be set"


def proc_mount(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    for where, container in _containers(spec):
        mount = (container.get("securityContext") or {}).get("procMount")
        if mount not in (None, "Default"):
            yield f"{where}.securityContext.procMount", f"procMount {mount!r} is not allowed"


def sysctls(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    for index, sysctl in enumerate((spec.get("securityContext") or {}).get("sysctls") or []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"securityContext.sysctls[{index}]", f"sysctl {sysctl.get('name')!r} is not in the safe set"


def privilege_escalation(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    for where, container in _containers(spec):
        if (container.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False:
            yield f"{where}.securityContext.allowPrivilegeEscalation", "must be set to false"


def run_as_non_root(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    pod_level = (spec.get("securityContext") or {}).get("runAsNonRoot")
    if pod_level is False:
        yield "securityContext.runAsNonRoot", "must not be false"
    for where, container in _containers(spec):
        value = (container.get("securityContext") or {}).get("runAsNonRoot")
        if value is False:
            yield f"{where}.securityContext.runAsNonRoot", "must not be false"
        elif value is None and pod_level is not True:
            yield f"{where}.securityContext.runAsNonRoot", "must be true here or in the pod securityContext"


def run_as_user(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    if (spec.get("securityContext") or {}).get("runAsUser") == 0:
        yield "securityContext.runAsUser", "must not be 0 (root)"
    for where, container in _containers(spec):
        if (container.get("securityContext") or {}).get("runAsUser") == 0:
            yield f"{where}.securityContext.runAsUser", "must not be 0 (root)"


def seccomp(spec: Mapping, _: Mapping) -> Iterable[Finding]:
    pod_type = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    if pod_type is not None and pod_type not in SECCOMP_ALLOWED:
        yield "securityContext.seccompProfile.type", f"{pod_type!r} is not RuntimeDefault or Localhost"
    for where, container in _containers(spec):
        container_type = ((container.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
        if container_type is not None and container_type not in SECCOMP_ALLOWED:
            yield f"{where}.securityContext.seccompProfile.type", f"{container_type!r} is not RuntimeDefault or Localhost"
        elif container_type is None and pod_type is None:
            yield f"{where}.securityContext.seccompProfile", "must be RuntimeDefault or Localhost here or in the pod securityContext"


#: Every control, in the order the Pod Security Standards page lists them.
RULES: tuple[Callable[[Mapping, Mapping], Iterable[Finding]], ...] = (
    host_namespaces,
    privileged,
    windows_host_process,
    capabilities,
    volume_types,
    host_ports,
    apparmor,
    selinux,
    proc_mount,
    sysctls,
    privilege_escalation,
    run_as_non_root,
    run_as_user,
    seccomp,
)


def pod_spec_findings(spec: Mapping, metadata: Mapping | None = None) -> list[tuple[str, str, str]]:
    """(rule, field, message) for every restricted-profile violation of a pod spec."""
    return [(rule.__name__, field, message) for rule in RULES for field, message in rule(spec, metadata or {})]


def restricted_problems(docs: Iterable[Mapping[str, Any]]) -> list[Problem]:
    """Restricted-profile violations of every pod template (workloads) and bare Pod in `docs`."""
    problems: list[Problem] = []
    for doc in docs:
        if (found := pod_spec(doc)) is None:
            continue
        spec, metadata, base = found
        for rule, field, message in pod_spec_findings(spec, metadata):
            path = field.replace("metadata.", "spec.template.metadata.", 1) if field.startswith("metadata.") and base != "spec" else (field if field.startswith("metadata.") else f"{base}.{field}")
            problems.append(Problem(ref(doc), path, f"{rule}: {message}", CHECK))
    return problems
