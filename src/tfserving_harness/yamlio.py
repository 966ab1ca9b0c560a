"""YAML parsing with libyaml when PyYAML has it: rendered charts are large and the pure-Python
parser dominated the unit tier's run time."""

from __future__ import annotations

from typing import Any, Iterator

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def load_all(text: str) -> Iterator[Any]:
    return yaml.load_all(text, Loader=_Loader)
