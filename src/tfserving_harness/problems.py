"""A problem found in a rendered chart: which object, which field, what is wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    object: str  # Kind/name
    field: str  # dotted path inside the object, "" for the object as a whole
    message: str
    check: str  # which check found it: kubernetes-schema, crd-schema, tf-serving-config, invariant

    def __str__(self) -> str:
        where = f"{self.object} {self.field}".strip() if self.field else self.object
        return f"[{self.check}] {where}: {self.message}"


def json_path(parts) -> str:
    """jsonschema's deque path as `spec.template.spec.containers[0].args`."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def schema_error_problems(obj: str, errors, check: str) -> list[Problem]:
    """jsonschema errors as Problems. An unknown field is reported at its own path (`...securityContext
    .readOnlyRootFileSystem`, not the object holding it), with the fields that object does have."""
    import re

    problems = []
    for error in errors:
        path = json_path(error.absolute_path)
        properties = error.schema.get("properties") if isinstance(error.schema, dict) else None
        if error.validator == "additionalProperties" and isinstance(error.instance, dict) and properties is not None:
            patterns = list((error.schema.get("patternProperties") or {}))
            unknown = [k for k in error.instance if k not in properties and not any(re.search(p, k) for p in patterns)]
            if unknown:
                known = ", ".join(sorted(properties))
                problems += [Problem(obj, f"{path}.{key}" if path else key, f"unknown field (the API server would drop it); the fields here are: {known}", check) for key in unknown]
                continue
        problems.append(Problem(obj, path, error.message, check))
    return problems
