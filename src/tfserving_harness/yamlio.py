"""YAML parsing and writing with libyaml when PyYAML has it: rendered charts are large and the
pure-Python parser dominated the unit tier's run time; the pure-Python emitter took ~0.1 s for one
promtool test file that libyaml writes, byte for byte the same, in ~0.01 s."""

from __future__ import annotations

from typing import Any, Iterator

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def load_all(text: str) -> Iterator[Any]:
    return yaml.load_all(text, Loader=_Loader)


def dump(data: Any, **kwargs: Any) -> str:
    """yaml.safe_dump's text (same keyword arguments: sort_keys, width, ...)."""
    return yaml.dump(data, Dumper=_Dumper, **kwargs)
