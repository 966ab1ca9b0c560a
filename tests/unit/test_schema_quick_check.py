"""Every render's objects go through the strict Kubernetes and CRD schemas (checks.schema_problems),
which ask jsonschema-rs first whether an object is valid (k8s_schema.quick_check_for,
crds.quick_check_for: ~100x faster) and walk it with jsonschema, which words the problems, only when
it is not. Sound only while jsonschema-rs accepts nothing jsonschema refuses: held here on every
object of the defaults and of the scenarios that render custom resources, at both supported
Kubernetes versions, and on each object broken the ways a values mistake breaks one: an unknown
field at each level, a number where a string goes, a string where a number or a flag goes."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from tfserving_harness import crds, helm, k8s_schema
from tfserving_harness.frozen import thaw
from tfserving_harness.testing import scenario_file

pytest.importorskip("jsonschema_rs", reason="installed by `make setup`")

SCENARIOS = [None, "monitoring-stack", "keda", "gateway-api", "hpa-custom-metric", "tracks-canary"]
#: Places broken per object, spread over its tree: enough to reach every level of a Deployment.
PER_OBJECT = 12


def _validators(doc, kube_version: str):
    """(jsonschema's validator, jsonschema-rs's) for the object's kind, as checks.schema_problems picks them."""
    api_version, kind = doc["apiVersion"], doc["kind"]
    if k8s_schema.validator_for(kube_version, api_version, kind) is not None:
        return k8s_schema.validator_for(kube_version, api_version, kind), k8s_schema.quick_check_for(kube_version, api_version, kind)
    return crds.validator_for(api_version, kind), crds.quick_check_for(api_version, kind)


def _places(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _places(value, (*path, index))


def _broken(doc: Any) -> Iterator[Any]:
    """The object with one mistake at a time, at up to PER_OBJECT places spread over it."""
    places = list(_places(doc))
    for path, node in places[:: max(1, len(places) // PER_OBJECT)]:
        if isinstance(node, dict):
            mistake: Any = {**thaw(node), "tfsUnknownField": 1}
        elif isinstance(node, str):
            mistake = 12345
        elif isinstance(node, (bool, int)):
            mistake = "twelve"
        else:
            continue
        copy = thaw(doc)
        if not path:
            yield mistake
            continue
        parent = copy
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = mistake
        yield copy


def test_jsonschema_rs_refuses_whatever_jsonschema_refuses():
    objects: dict[str, tuple[Any, str]] = {}
    for kube_version in helm.SUPPORTED_KUBE_VERSIONS:
        for name in SCENARIOS:
            for doc in helm.render_chart(values_files=[scenario_file(name)] if name else [], kube_version=kube_version):
                objects.setdefault(json.dumps([doc, kube_version], sort_keys=True), (doc, kube_version))
    kinds = {doc["kind"] for doc, _ in objects.values()}
    assert {"Deployment", "ServiceMonitor", "ScaledObject", "HTTPRoute"} <= kinds, f"the scenarios render too few kinds to be checking: {sorted(kinds)}"
    wrongly_accepted, refused = [], 0
    for doc, kube_version in objects.values():
        walk, quick = _validators(doc, kube_version)
        if quick is None:
            continue  # no quick check for this kind: jsonschema walks every object of it
        for variant in [doc, *_broken(doc)]:
            if not quick.is_valid(variant):
                refused += 1
            elif next(walk.iter_errors(variant), None) is not None:
                wrongly_accepted.append(f"{doc['kind']} (Kubernetes {kube_version}): {next(walk.iter_errors(variant)).message}")
    assert refused >= 200, f"jsonschema-rs refused only {refused} broken objects: the mistakes are not reaching the schemas"
    assert not wrongly_accepted, "jsonschema-rs accepts what jsonschema refuses, so these problems would go unreported:\n" + "\n".join(wrongly_accepted[:20])
