"""Strict validation against the Kubernetes OpenAPI schemas that kubernetes-validate ships."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Mapping

import jsonschema
import kubernetes_validate
from referencing import Registry, Resource

from .manifests import ref
from .problems import Problem, schema_error_problems

_SCHEMA_ROOT = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"


def available_versions() -> list[str]:
    """Kubernetes minor versions with schemas, e.g. ['1.25', ..., '1.37']."""
    found = []
    for entry in _SCHEMA_ROOT.iterdir():
        match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", entry.name)
        if match:
            found.append((int(match[1]), int(match[2])))
    return [f"{a}.{b}" for a, b in sorted(found)]


def _schema_dir(kube_version: str) -> Path:
    major, minor = (int(x) for x in kube_version.lstrip("v").split(".")[:2])
    directory = _SCHEMA_ROOT / f"v{major}.{minor}.0-local-strict"
    if not directory.is_dir():
        raise ValueError(f"no Kubernetes schemas for {kube_version}; kubernetes-validate ships {', '.join(available_versions())}")
    return directory


@functools.lru_cache(maxsize=None)
def _definitions_file(directory: Path) -> dict:
    return json.loads((directory / "_definitions.json").read_text())


def definitions(kube_version: str) -> dict:
    """Every definition (`$defs`) of that Kubernetes version's strict schemas, parsed once; read-only."""
    return _definitions_file(_schema_dir(kube_version))["$defs"]


@functools.lru_cache(maxsize=None)
def _registry(directory: Path) -> Registry:
    return Resource.from_contents(_definitions_file(directory)) @ Registry()


@functools.lru_cache(maxsize=None)
def _kind_schema(kube_version: str, api_version: str, kind: str) -> dict | None:
    directory = _schema_dir(kube_version)
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_file = directory / f"{kind.lower()}-{group_version}.json"
    return json.loads(schema_file.read_text()) if schema_file.is_file() else None


@functools.lru_cache(maxsize=None)
def validator_for(kube_version: str, api_version: str, kind: str) -> jsonschema.Validator | None:
    """The strict validator for a built-in kind, or None when this Kubernetes version has no such kind."""
    schema = _kind_schema(kube_version, api_version, kind)
    if schema is None:
        return None
    registry = Resource.from_contents(schema) @ _registry(_schema_dir(kube_version))
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.lru_cache(maxsize=None)
def quick_check_for(kube_version: str, api_version: str, kind: str):
    """The same schema compiled by jsonschema-rs, formats unchecked as jsonschema leaves them: whether
    an object is valid in ~0.01 ms, where jsonschema's walk takes ~2 ms for a Deployment. It
    decides nothing alone: an object it refuses is walked by jsonschema for the problems, and
    tests/unit/test_schema_quick_check.py holds it to refusing whatever jsonschema refuses."""
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(_kind_schema(kube_version, api_version, kind), registry=_quick_registry(kube_version), validate_formats=False)


@functools.lru_cache(maxsize=None)
def _quick_registry(kube_version: str):
    """The version's definitions handed to jsonschema-rs once, for every kind: 4 of the 5 ms a
    validator took when each built its own."""
    import jsonschema_rs

    definitions = _definitions_file(_schema_dir(kube_version))
    return jsonschema_rs.Registry([(definitions["$id"], definitions)])


def validate(doc: Mapping, kube_version: str) -> list[Problem] | None:
    """Every schema error in one object, or None when the kind is not a built-in one."""
    api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    validator = validator_for(kube_version, api_version, kind)
    if validator is None:
        return None
    if quick_check_for(kube_version, api_version, kind).is_valid(doc):
        return []
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return schema_error_problems(ref(doc), errors, f"kubernetes-{kube_version}-schema")
