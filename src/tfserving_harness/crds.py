"""Validation of custom resources against the vendored upstream CRDs, with every object closed."""

from __future__ import annotations

import copy
import functools
from typing import Any, Mapping

import jsonschema

from . import yamlio
from .manifests import ref
from .paths import CRD_DIR
from .problems import Problem, schema_error_problems


def close_objects(schema: Any) -> Any:
    """Forbid fields the CRD does not list, so a misspelled field fails instead of being pruned."""
    if isinstance(schema, dict):
        closed = {key: close_objects(value) for key, value in schema.items()}
        if (
            "properties" in closed
            and "additionalProperties" not in closed
            and not closed.get("x-kubernetes-preserve-unknown-fields")
        ):
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [close_objects(item) for item in schema]
    return schema


def _with_object_meta(schema: dict) -> dict:
    """apiVersion/kind/metadata are not described in CRD schemas the way the API server applies them."""
    schema = copy.deepcopy(schema)
    properties = schema.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties["metadata"] = {"type": "object"}
    return schema


@functools.lru_cache(maxsize=None)
def _crd_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> closed openAPIV3Schema, for every served version of every vendored CRD."""
    schemas: dict[tuple[str, str], dict] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for crd in yamlio.load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served", True) and "schema" in version:
                    schema = close_objects(version["schema"]["openAPIV3Schema"])
                    schemas[(f"{group}/{version['name']}", kind)] = _with_object_meta(schema)
    return schemas


def closed_schema(api_version: str, kind: str) -> dict:
    """The closed openAPIV3Schema of a vendored CRD's kind (a copy: callers may change it)."""
    return copy.deepcopy(_crd_schemas()[(api_version, kind)])


def known_kinds() -> list[tuple[str, str]]:
    return sorted(_crd_schemas())


@functools.lru_cache(maxsize=None)
def validator_for(api_version: str, kind: str) -> jsonschema.Validator | None:
    schema = _crd_schemas().get((api_version, kind))
    return jsonschema.Draft7Validator(schema) if schema is not None else None


@functools.lru_cache(maxsize=None)
def quick_check_for(api_version: str, kind: str):
    """The closed schema compiled by jsonschema-rs, formats unchecked as jsonschema leaves them: whether
    an object is valid, ~100x faster; an object it refuses is walked by jsonschema for the problems
    (tests/unit/test_schema_quick_check.py holds it to refusing whatever jsonschema refuses). None
    when jsonschema-rs cannot compile the schema (the PrometheusRule CRD's `(?i)` is no ECMA-262)."""
    import jsonschema_rs

    try:
        return jsonschema_rs.Draft7Validator(_crd_schemas()[(api_version, kind)], validate_formats=False)
    except jsonschema_rs.ValidationError:
        return None


def validate(doc: Mapping) -> list[Problem] | None:
    """Every schema error in one custom resource, or None when no vendored CRD defines its kind."""
    api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    validator = validator_for(api_version, kind)
    if validator is None:
        return None
    quick_check = quick_check_for(api_version, kind)
    if quick_check is not None and quick_check.is_valid(doc):
        return []
    return schema_error_problems(ref(doc), validator.iter_errors(doc), "crd-schema")
