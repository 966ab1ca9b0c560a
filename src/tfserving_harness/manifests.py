"""Finding things in rendered documents."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping, Sequence


def ref(doc: Mapping) -> str:
    """`Kind/name`, the way failure messages name an object."""
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def identity(doc: Mapping) -> tuple[str, str, str, str]:
    """(API group, kind, namespace, name): what the API server keys an object by, so two renders'
    objects (or two objects of one render) with the same identity are the same object."""
    api_version = str(doc.get("apiVersion", ""))
    group = api_version.rpartition("/")[0]
    metadata = doc.get("metadata") or {}
    return group, str(doc.get("kind", "")), str(metadata.get("namespace") or ""), str(metadata.get("name", ""))


def of_kind(docs: Iterable[Mapping], kind: str) -> list[Mapping]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: Iterable[Mapping], kind: str, name: str | None = None) -> Mapping:
    """The single object of a kind (and name): fails loudly when there are none or several."""
    matches = [d for d in of_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    if len(matches) != 1:
        found = [ref(d) for d in of_kind(docs, kind)]
        raise LookupError(f"expected exactly one {kind}{'/' + name if name else ''}, found {len(matches)}; {kind}s rendered: {found}")
    return matches[0]


#: Kinds whose spec.template is the pod template the checks read.
WORKLOAD_KINDS = ("Deployment", "StatefulSet")


def pod_spec(doc: Mapping) -> tuple[Mapping, Mapping, str] | None:
    """(pod spec, pod metadata, the spec's path in `doc`) of a bare Pod or of an object with a pod
    template (spec.template.spec); None for anything else."""
    if doc.get("kind") == "Pod":
        return doc.get("spec") or {}, doc.get("metadata") or {}, "spec"
    template = (doc.get("spec") or {}).get("template")
    if isinstance(template, Mapping) and "spec" in template:
        return template["spec"], template.get("metadata") or {}, "spec.template.spec"
    return None


def pod_template(workload: Mapping) -> Mapping:
    return workload["spec"]["template"]


def containers(workload: Mapping, *, init: bool = False) -> Sequence[Mapping]:
    spec = pod_template(workload)["spec"]
    return spec.get("initContainers" if init else "containers", [])


def server_container(workload: Mapping) -> Mapping:
    """The container that runs tensorflow_model_server."""
    for container in containers(workload):
        if container.get("command", [None])[0] == "tensorflow_model_server":
            return container
    raise LookupError(f"{ref(workload)} has no container whose command is tensorflow_model_server")


def server_flags(container: Mapping) -> dict[str, str]:
    """`--name=value` arguments as a dict (a bare `--name` maps to "true")."""
    flags: dict[str, str] = {}
    for arg in container.get("args", []):
        if not arg.startswith("--"):
            continue
        flag, _, value = arg[2:].partition("=")
        flags[flag] = value if "=" in arg else "true"
    return flags


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """True when every selector label is on the object (a Service/matchLabels selector)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, leaf) in a document; list items as `[i]`."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")
    else:
        yield path, value


def configmap_volume_files(configmap: Mapping, volume: Mapping) -> dict[str, bytes]:
    """The files a `configMap` volume shows its pod, by path inside the mount: each `items` entry's
    key at its `path` (without `items`, every key at its own name); `data` as UTF-8, `binaryData`
    base64-decoded. A key that `items` names and the ConfigMap lacks raises KeyError: the kubelet
    fails such a mount (unless `optional`)."""
    import base64

    content = {key: value.encode() for key, value in (configmap.get("data") or {}).items()}
    content.update({key: base64.b64decode(value, validate=True) for key, value in (configmap.get("binaryData") or {}).items()})
    items = volume["configMap"].get("items")
    if items is None:
        return content
    return {item["path"]: content[item["key"]] for item in items}


def write_like_kubelet(root, files: Mapping[str, bytes]) -> None:
    """Write a ConfigMap volume's files under `root` the way the kubelet's atomic writer lays them
    out: the files in a timestamped `..<ts>` folder, `..data` a symlink to it, and each top-level
    entry a symlink through `..data` (so `root/a/b` is reached through the symlink `root/a`)."""
    from pathlib import Path

    root = Path(root)
    payload = root / "..2026_01_01_00_00_00.000000000"
    for path, data in files.items():
        target = payload / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (root / "..data").symlink_to(payload.name)
    for top in sorted({path.split("/", 1)[0] for path in files}):
        (root / top).symlink_to(f"..data/{top}")
