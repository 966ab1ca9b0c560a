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
