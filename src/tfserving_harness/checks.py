"""Every check the unit tier runs on a render, usable on any values: schemas, TF Serving config
files, and the chart's own invariants. `scripts/check-values` runs these on a user's values files."""

from __future__ import annotations

import json
import posixpath
from typing import Iterable, Mapping, Sequence

from google.protobuf import text_format

from . import api_rules, crds, helm, k8s_schema, relationships, yamlio
from .manifests import WORKLOAD_KINDS, containers, identity, of_kind, pod_template, ref, selector_matches, server_container, server_flags
from .problems import Problem
from .tfs_config import CONFIG_FILE_FLAGS, batching_load_problems
from .tfs_flags import flags_for, image_version

#: Schema problems per (Kubernetes version, object as canonical JSON): most objects recur unchanged
#: across renders (the ServiceAccount, a Service, the ConfigMaps of every track-free scenario), and
#: validating one costs about 1 ms. Keyed on JSON, not on the frozen object's hash, because Python
#: holds `True == 1 == 1.0` and a schema does not.
_schema_memo: dict[tuple[str, str], tuple[Problem, ...]] = {}


def schema_problems(docs: Iterable[Mapping], kube_version: str) -> list[Problem]:
    """Kubernetes schemas (strict) for built-in kinds, closed CRD schemas for custom resources."""
    problems: list[Problem] = []
    for doc in docs:
        key = (kube_version, json.dumps(doc, sort_keys=True, separators=(",", ":"), default=repr))
        found = _schema_memo.get(key)
        if found is None:
            found = _schema_memo[key] = tuple(_object_schema_problems(doc, kube_version))
        problems.extend(found)
    return problems


def _object_schema_problems(doc: Mapping, kube_version: str) -> list[Problem]:
    found = k8s_schema.validate(doc, kube_version)
    if found is None:
        found = crds.validate(doc)
    if found is None:
        found = [Problem(ref(doc), "apiVersion", f"no schema for {doc.get('apiVersion')} {doc.get('kind')} in Kubernetes {kube_version} nor in the vendored CRDs", "schema")]
    return found


def _workloads(docs: Iterable[Mapping]) -> list[Mapping]:
    return [d for d in docs if d.get("kind") in WORKLOAD_KINDS]


def config_file_source(workload: Mapping, container: Mapping, docs: Sequence[Mapping], path: str):
    """(ConfigMap, key, problem) for a file the container reads from a ConfigMap volume (a flag's
    config file, a probe's script), following mount -> volume -> ConfigMap -> key."""
    directory, filename = posixpath.split(path)
    mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"].rstrip("/") == directory]
    if not mounts:
        return None, None, f"no volumeMount at {directory} for {path}"
    mount = mounts[0]
    if mount.get("subPath"):
        return None, None, f"volumeMount {mount['name']} at {directory} uses subPath, so ConfigMap updates never reach the pod"
    volumes = {v["name"]: v for v in pod_template(workload)["spec"].get("volumes", [])}
    volume = volumes.get(mount["name"])
    if volume is None or "configMap" not in volume:
        return None, None, f"volume {mount['name']} mounted at {directory} is not a ConfigMap volume"
    name = volume["configMap"]["name"]
    configmaps = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"] == name]
    if not configmaps:
        return None, None, f"ConfigMap/{name} (volume {mount['name']}) is not rendered by the chart"
    items = volume["configMap"].get("items")
    key = filename
    if items:
        by_path = {item["path"]: item["key"] for item in items}
        if filename not in by_path:
            return None, None, f"volume {mount['name']} projects {sorted(by_path)}, not {filename}"
        key = by_path[filename]
    if key not in configmaps[0].get("data", {}):
        return None, None, f"ConfigMap/{name} has no key {key} (keys: {sorted(configmaps[0].get('data', {}))})"
    return configmaps[0], key, None


def _is_true(value: str | None) -> bool:
    return value in ("true", "1")


def flag_combination_problems(flags: Mapping[str, str]) -> list[str]:
    """Flag combinations tensorflow_model_server refuses or silently ignores (model_servers/server.cc)."""
    problems: list[str] = []
    if "batching_parameters_file" in flags and not _is_true(flags.get("enable_batching")):
        problems.append("--batching_parameters_file without --enable_batching=true: the server refuses to start")
    if _is_true(flags.get("enable_per_model_batching_parameters")) and not _is_true(flags.get("enable_batching")):
        problems.append("--enable_per_model_batching_parameters without --enable_batching=true has no effect")
    parallelism = ("tensorflow_intra_op_parallelism", "tensorflow_inter_op_parallelism", "tensorflow_session_parallelism")
    if all(flags.get(flag, "0").lstrip("-").isdigit() and int(flags.get(flag, "0")) > 0 for flag in parallelism):
        problems.append("--tensorflow_session_parallelism together with intra- and inter-op parallelism: the server refuses to start")
    if "grpc_channel_arguments" in flags:
        for argument in flags["grpc_channel_arguments"].split(","):
            if argument.count("=") != 1:
                problems.append(f"--grpc_channel_arguments item {argument!r} is not one key=value pair: the server splits on ',' then '=' and reads the first two parts unchecked")
    return problems


def server_problems(docs: Sequence[Mapping]) -> list[Problem]:
    """Flags, ports and config files of every tensorflow_model_server container."""
    problems: list[Problem] = []
    for workload in _workloads(docs):
        try:
            container = server_container(workload)
        except LookupError:
            continue
        index = list(containers(workload)).index(container)
        args_path = f"spec.template.spec.containers[{index}].args"
        flags = server_flags(container)
        image = container.get("image", "")
        version = None if "@" in image else image_version(image.rpartition(":")[2])
        known = flags_for(version)
        seen: set[str] = set()
        for position, arg in enumerate(container.get("args", [])):
            flag = arg[2:].partition("=")[0] if arg.startswith("--") else None
            if flag is None:
                problems.append(Problem(ref(workload), f"{args_path}[{position}]", f"{arg!r} is not a --flag=value argument", "invariant"))
            elif flag not in known:
                problems.append(Problem(ref(workload), f"{args_path}[{position}]", f"--{flag} is not a flag of tensorflow_model_server {version or 'of the newest release'} (model_servers/main.cc): it prints 'unknown argument' and starts without it", "invariant"))
            elif flag in seen:
                problems.append(Problem(ref(workload), f"{args_path}[{position}]", f"--{flag} is given twice: the last one wins, so one of the values is ignored", "invariant"))
            if flag:
                seen.add(flag)
        for message in flag_combination_problems(flags):
            problems.append(Problem(ref(workload), args_path, message, "invariant"))
        ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        for flag, port_name in (("port", "grpc"), ("rest_api_port", "http")):
            if flag not in flags:
                problems.append(Problem(ref(workload), args_path, f"--{flag} is not set (the binary's default for --rest_api_port is 0: REST off)", "invariant"))
            elif ports.get(port_name) != int(flags[flag]):
                problems.append(Problem(ref(workload), args_path, f"--{flag}={flags[flag]} but the container port named {port_name} is {ports.get(port_name)}", "invariant"))
        if "model_config_file" in flags and ("model_name" in flags or "model_base_path" in flags):
            problems.append(Problem(ref(workload), args_path, "--model_name/--model_base_path are ignored when --model_config_file is set", "invariant"))
        for flag, parse in CONFIG_FILE_FLAGS.items():
            if flag not in flags:
                continue
            configmap, key, error = config_file_source(workload, container, docs, flags[flag])
            if error:
                problems.append(Problem(ref(workload), args_path, f"--{flag}={flags[flag]}: {error}", "invariant"))
                continue
            try:
                parsed = parse(configmap["data"][key])
            except text_format.ParseError as parse_error:
                problems.append(Problem(ref(configmap), f"data.{key}", f"does not parse as TF Serving expects for --{flag}: {parse_error}", "tf-serving-config"))
                continue
            if flag == "batching_parameters_file":
                for message in batching_load_problems(parsed):
                    problems.append(Problem(ref(configmap), f"data.{key}", f"the model server would fail every model load: {message}", "tf-serving-config"))
        for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = container.get(probe_name) or {}
            for handler in ("tcpSocket", "httpGet", "grpc"):
                port = (probe.get(handler) or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    problems.append(Problem(ref(workload), f"spec.template.spec.containers[{index}].{probe_name}.{handler}.port", f"names port {port!r}, which the container does not declare", "invariant"))
                elif isinstance(port, int) and port not in ports.values():
                    problems.append(Problem(ref(workload), f"spec.template.spec.containers[{index}].{probe_name}.{handler}.port", f"port {port} is not a container port", "invariant"))
            for handler in set(probe) & {"exec", "httpGet"}:
                problems.append(Problem(ref(workload), f"spec.template.spec.containers[{index}].{probe_name}.{handler}", "a probe that may send HTTP requests: every /v1/ request is counted in TF Serving's REST metrics; use tcpSocket or grpc", "invariant"))
    return problems


def service_problems(docs: Sequence[Mapping]) -> list[Problem]:
    """Every Service with a selector reaches pods the chart renders, on ports those pods declare."""
    problems: list[Problem] = []
    workloads = _workloads(docs)
    for service in of_kind(docs, "Service"):
        selector = service["spec"].get("selector")
        if not selector:
            continue
        selected = [w for w in workloads if selector_matches(selector, pod_template(w)["metadata"].get("labels", {}))]
        if not selected:
            problems.append(Problem(ref(service), "spec.selector", f"{dict(selector)} selects no pod template the chart renders", "invariant"))
            continue
        for index, port in enumerate(service["spec"].get("ports", [])):
            target = port.get("targetPort", port["port"])
            for workload in selected:
                declared = [p for c in containers(workload) for p in c.get("ports", [])]
                if not any(p.get("name") == target or p["containerPort"] == target for p in declared):
                    problems.append(Problem(ref(service), f"spec.ports[{index}].targetPort", f"{target!r} is not a port of {ref(workload)}'s containers", "invariant"))
    return problems


def workload_problems(docs: Sequence[Mapping]) -> list[Problem]:
    """Pod templates match their own selector, and ServiceAccounts the pods use exist or are external."""
    problems: list[Problem] = []
    for workload in _workloads(docs):
        selector = workload["spec"]["selector"].get("matchLabels", {})
        labels = pod_template(workload)["metadata"].get("labels", {})
        if not selector_matches(selector, labels):
            problems.append(Problem(ref(workload), "spec.selector.matchLabels", f"{dict(selector)} does not match the pod template labels {dict(labels)}", "invariant"))
        spec = pod_template(workload)["spec"]
        mounts = {m["name"] for c in [*containers(workload), *containers(workload, init=True)] for m in c.get("volumeMounts", [])}
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for missing in sorted(mounts - volumes):
            problems.append(Problem(ref(workload), "spec.template.spec.volumes", f"volumeMount {missing!r} has no volume", "invariant"))
    return problems


def autoscaler_problems(docs: Sequence[Mapping]) -> list[Problem]:
    """Every HPA, ScaledObject and VPA targets a Deployment the chart renders, no Deployment has two
    replica owners, and a Deployment whose replicas a scaler owns does not set spec.replicas."""
    problems: list[Problem] = []
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    owners: dict[str, str] = {}
    targets = [(d, "spec.scaleTargetRef", d["spec"]["scaleTargetRef"]) for d in of_kind(docs, "HorizontalPodAutoscaler") + of_kind(docs, "ScaledObject")]
    targets += [(d, "spec.targetRef", d["spec"]["targetRef"]) for d in of_kind(docs, "VerticalPodAutoscaler")]
    for scaler, field, target in targets:
        name = target.get("name")
        if target.get("kind", "Deployment") != "Deployment" or name not in deployments:
            problems.append(Problem(ref(scaler), field, f"targets {target.get('kind', 'Deployment')}/{name}, which the chart does not render", "invariant"))
            continue
        if scaler["kind"] == "VerticalPodAutoscaler":
            continue
        if name in owners:
            problems.append(Problem(ref(scaler), field, f"Deployment/{name} is already scaled by {owners[name]}", "invariant"))
        owners[name] = ref(scaler)
        if "replicas" in deployments[name]["spec"]:
            problems.append(Problem(ref(deployments[name]), "spec.replicas", f"is set although {ref(scaler)} owns the replica count; every upgrade would reset it", "invariant"))
    return problems


def promql_problems(docs: Sequence[Mapping]) -> list[Problem]:
    """Every PromQL expression the chart renders (PrometheusRule rules, KEDA Prometheus triggers,
    prometheus-adapter rules, Grafana dashboards) parses, and reads only metrics that exist: TF
    Serving's, kube-state-metrics'/cAdvisor's (promql.KNOWN_METRICS) or a rendered recording rule."""
    import json

    import yaml

    from . import promql

    recorded = {name for rule in of_kind(docs, "PrometheusRule") for name in promql.recorded_names(rule)}
    sources: list[tuple[Mapping, str, str]] = []  # (object, field, expression)
    for rule in of_kind(docs, "PrometheusRule"):
        sources.extend((rule, path, expr) for path, expr in promql.rule_expressions(rule))
    for scaled in of_kind(docs, "ScaledObject"):
        for index, trigger in enumerate(scaled["spec"].get("triggers", [])):
            if trigger.get("type") == "prometheus":
                sources.append((scaled, f"spec.triggers[{index}].metadata.query", trigger["metadata"].get("query", "")))
    problems: list[Problem] = []
    for configmap in of_kind(docs, "ConfigMap"):
        for key, text in (configmap.get("data") or {}).items():
            try:
                if key.endswith(".json"):
                    content = json.loads(text)
                    if isinstance(content, dict) and "panels" in content:
                        sources.extend((configmap, f"data.{key} {path}", expr) for path, expr in promql.dashboard_expressions(content))
                elif key == "config.yaml":
                    content = yamlio.load(text)
                    if isinstance(content, dict) and ("rules" in content or "externalRules" in content):
                        sources.extend((configmap, f"data.{key} {path}", expr) for path, expr in promql.adapter_expressions(content))
            except (ValueError, yaml.YAMLError) as error:
                problems.append(Problem(ref(configmap), f"data.{key}", f"does not parse: {error}", "promql"))
    for obj, field, expr in sources:
        try:
            unknown = promql.unknown_metrics(expr, recorded)
        except promql.PromQLError as error:
            problems.append(Problem(ref(obj), field, f"not valid PromQL: {error}", "promql"))
            continue
        if unknown:
            problems.append(Problem(ref(obj), field, f"reads metrics that neither TF Serving, kube-state-metrics, cAdvisor nor a rendered recording rule provide: {sorted(unknown)}", "promql"))
    return problems


def duplicate_problems(docs: Sequence[Mapping]) -> list[Problem]:
    """Two rendered objects with the same group, kind, namespace and name: helm refuses the release
    (or, across apiVersions of one group, one silently replaces the other)."""
    problems: list[Problem] = []
    first: dict[tuple[str, str, str, str], int] = {}
    for index, doc in enumerate(docs):
        key = identity(doc)
        if key in first:
            group, kind, namespace, name = key
            where = f"{namespace}/{name}" if namespace else name
            problems.append(
                Problem(
                    ref(doc),
                    "metadata.name",
                    f"document {index} ({doc.get('apiVersion')}) and document {first[key]} ({docs[first[key]].get('apiVersion')}) are both "
                    f"{kind} {where} in API group {group or 'core'}; one would overwrite the other: give them different names",
                    "invariant",
                )
            )
        else:
            first[key] = index
    return problems


def check_documents(docs: Sequence[Mapping], kube_version: str, *, values: Mapping | None = None, release: str = helm.DEFAULT_RELEASE) -> list[Problem]:
    """Everything: schemas and the API server's own rules, TF Serving config files and flags,
    relationships; with `values` (as Helm merged them) also the traffic relationships they imply."""
    return [
        *schema_problems(docs, kube_version),
        *api_rules.api_problems(docs),
        *(relationships.relationship_problems(docs, values, release) if values is not None else ()),
        *duplicate_problems(docs),
        *server_problems(docs),
        *service_problems(docs),
        *workload_problems(docs),
        *autoscaler_problems(docs),
        *promql_problems(docs),
    ]
