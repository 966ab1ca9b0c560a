"""What a `helm upgrade` from one render to another would do to fields Kubernetes will not change.

Given the documents of two renders (before / after), report per object:
- immutable fields whose value changes (the API server rejects the upgrade, or the object must be
  deleted and recreated: a Deployment's `spec.selector`, a Service's `spec.clusterIP`, a PVC's
  storage class...),
- objects that disappear (a renamed Service is a new Service: new ClusterIP, clients lose it),
- the dotted paths that differ between two versions of an object (`changed_paths`), to assert that
  e.g. a traffic switch leaves a Deployment's spec byte-identical.

The unit tier uses it on before/after render pairs; a kind test can use it on a release's manifest
before and after `helm upgrade`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import yamlio
from .manifests import identity, ref

_MISSING = object()

#: Kind -> (dotted path, why it matters). A change of any of these is reported.
IMMUTABLE_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "Deployment": (("spec.selector", "spec.selector is immutable in apps/v1: the upgrade is rejected"),),
    "ReplicaSet": (("spec.selector", "spec.selector is immutable in apps/v1: the upgrade is rejected"),),
    "DaemonSet": (("spec.selector", "spec.selector is immutable in apps/v1: the upgrade is rejected"),),
    "StatefulSet": (
        ("spec.selector", "spec.selector is immutable in apps/v1: the upgrade is rejected"),
        ("spec.serviceName", "spec.serviceName of a StatefulSet is immutable"),
        ("spec.volumeClaimTemplates", "spec.volumeClaimTemplates of a StatefulSet are immutable"),
        ("spec.podManagementPolicy", "spec.podManagementPolicy of a StatefulSet is immutable"),
    ),
    "Job": (
        ("spec.selector", "spec.selector of a Job is immutable"),
        ("spec.template", "spec.template of a Job is immutable"),
    ),
    "Service": (
        ("spec.clusterIP", "spec.clusterIP is immutable once allocated: the Service must be recreated and clients lose it"),
        ("spec.clusterIPs", "spec.clusterIPs are immutable once allocated"),
    ),
    "PersistentVolumeClaim": (
        ("spec.accessModes", "spec.accessModes of a bound PVC are immutable"),
        ("spec.storageClassName", "spec.storageClassName of a PVC is immutable"),
        ("spec.volumeName", "spec.volumeName of a bound PVC is immutable"),
        ("spec.selector", "spec.selector of a PVC is immutable"),
        ("spec.volumeMode", "spec.volumeMode of a PVC is immutable"),
        ("spec.dataSource", "spec.dataSource of a PVC is immutable"),
        ("spec.dataSourceRef", "spec.dataSourceRef of a PVC is immutable"),
    ),
}


@dataclass(frozen=True)
class ImmutableChange:
    object: str  # Kind/name
    field: str  # dotted path
    before: Any
    after: Any
    why: str

    def __str__(self) -> str:
        return f"{self.object} {self.field}: {_show(self.before)} -> {_show(self.after)} ({self.why})"


@dataclass
class UpgradeReport:
    immutable: list[ImmutableChange] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # Kind/name present before, gone after
    added: list[str] = field(default_factory=list)  # Kind/name new after

    @property
    def safe(self) -> bool:
        """No immutable field changes and nothing removed (additions are fine)."""
        return not self.immutable and not self.removed

    def by_object(self) -> dict[str, list[ImmutableChange]]:
        grouped: dict[str, list[ImmutableChange]] = {}
        for change in self.immutable:
            grouped.setdefault(change.object, []).append(change)
        return grouped

    def __str__(self) -> str:
        lines = [str(c) for c in self.immutable] + [f"{r} is removed (a renamed object is a new object)" for r in self.removed]
        return "\n".join(lines) if lines else "upgrade is safe: no immutable field changes, nothing removed"


def _show(value: Any) -> str:
    return "<absent>" if value is _MISSING else repr(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def get_path(doc: Mapping, path: str, default: Any = _MISSING) -> Any:
    """The value at a dotted path (no list indexes), or `default`."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value


def _index(docs: Iterable[Mapping]) -> dict[tuple[str, str, str, str], Mapping]:
    return {identity(d): d for d in docs}


def _pvc_storage_shrinks(before: Mapping, after: Mapping) -> list[ImmutableChange]:
    from kubernetes.utils import parse_quantity  # only needed for PVCs

    path = "spec.resources.requests.storage"
    old, new = get_path(before, path), get_path(after, path)
    if old is _MISSING or new is _MISSING or parse_quantity(new) >= parse_quantity(old):
        return []
    return [ImmutableChange(ref(after), path, old, new, "a PVC's storage request can only grow")]


def _immutable_configmap(before: Mapping, after: Mapping) -> list[ImmutableChange]:
    if not before.get("immutable"):
        return []
    return [
        ImmutableChange(ref(after), key, before.get(key, _MISSING), after.get(key, _MISSING), f"{before['kind']} is immutable: data cannot change")
        for key in ("data", "binaryData", "immutable")
        if _plain(before.get(key, _MISSING)) != _plain(after.get(key, _MISSING))
    ]


_EXTRA_CHECKS: dict[str, Callable[[Mapping, Mapping], list[ImmutableChange]]] = {
    "PersistentVolumeClaim": _pvc_storage_shrinks,
    "ConfigMap": _immutable_configmap,
    "Secret": _immutable_configmap,
}


def object_changes(before: Mapping, after: Mapping) -> list[ImmutableChange]:
    """Immutable-field changes between two versions of one object."""
    kind = after.get("kind", "")
    changes = []
    for path, why in IMMUTABLE_FIELDS.get(kind, ()):
        old, new = get_path(before, path), get_path(after, path)
        if _plain(old) != _plain(new):
            changes.append(ImmutableChange(ref(after), path, old, new, why))
    if kind in _EXTRA_CHECKS:
        changes.extend(_EXTRA_CHECKS[kind](before, after))
    return changes


def compare(before_docs: Sequence[Mapping], after_docs: Sequence[Mapping]) -> UpgradeReport:
    """Everything an upgrade from `before_docs` to `after_docs` breaks or removes."""
    before, after = _index(before_docs), _index(after_docs)
    report = UpgradeReport()
    for key in sorted(before.keys() & after.keys()):
        report.immutable.extend(object_changes(before[key], after[key]))
    report.removed = sorted(ref(before[k]) for k in before.keys() - after.keys())
    report.added = sorted(ref(after[k]) for k in after.keys() - before.keys())
    return report


def changed_paths(before: Any, after: Any) -> list[str]:
    """Dotted paths (list items as `[i]`) whose leaf differs, appears or disappears. Empty means the
    two documents are equal, i.e. the same YAML whatever the key order."""
    old, new = _leaves_deep(before), _leaves_deep(after)
    return sorted(path for path in old.keys() | new.keys() if old.get(path, _MISSING) != new.get(path, _MISSING))


def _leaves_deep(value: Any, path: str = "") -> dict[str, Any]:
    leaves: dict[str, Any] = {}
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            leaves.update(_leaves_deep(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            leaves.update(_leaves_deep(item, f"{path}[{index}]"))
    elif isinstance(value, (Mapping, list)):
        leaves[path] = "{}" if isinstance(value, Mapping) else "[]"  # an empty map or list is a leaf too
    else:
        leaves[path] = value
    return leaves


def parse_manifest(text: str) -> list[dict]:
    """The objects of a multi-document manifest, e.g. `helm get manifest RELEASE` of a live release,
    so a cluster test can compare the release before and after `helm upgrade`."""
    return [doc for doc in yamlio.load_all(text) if doc]
