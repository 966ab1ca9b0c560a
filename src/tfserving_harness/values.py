"""Values as Helm merges them: chart defaults, then each file in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from . import yamlio
from .paths import chart_dir


def merge(base: Any, override: Any) -> Any:
    """Helm's coalescing: maps merge key by key, anything else is replaced, null deletes a key."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge(base.get(key), value)
    return merged


def effective_values(values_files: Sequence[str | Path] = (), overrides: dict | None = None) -> dict:
    values = yamlio.load((chart_dir() / "values.yaml").read_text()) or {}
    for values_file in values_files:
        values = merge(values, yamlio.load(Path(values_file).read_text()) or {})
    return merge(values, overrides or {})
