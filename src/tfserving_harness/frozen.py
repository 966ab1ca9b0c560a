"""Immutable JSON-like documents, so a cached render cannot be changed by one test for the next."""

from __future__ import annotations

import copy
from typing import Any


class FrozenDict(dict):
    """A dict that refuses changes. Still a dict, so jsonschema and json.dumps accept it."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("rendered documents are shared between tests and read-only; use thaw() for a copy")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)

    def __deepcopy__(self, memo: dict) -> dict:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}


class FrozenList(list):
    """A list that refuses changes. Still a list, so jsonschema and json.dumps accept it."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("rendered documents are shared between tests and read-only; use thaw() for a copy")

    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = sort = reverse = _refuse  # type: ignore[assignment]
    __iadd__ = __imul__ = _refuse  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)

    def __deepcopy__(self, memo: dict) -> list:
        return [copy.deepcopy(v, memo) for v in self]


def freeze(value: Any) -> Any:
    if isinstance(value, dict):
        frozen = FrozenDict()
        for key, item in value.items():
            dict.__setitem__(frozen, key, freeze(item))
        return frozen
    if isinstance(value, list):
        frozen_list = FrozenList()
        for item in value:
            list.append(frozen_list, freeze(item))
        return frozen_list
    return value


def thaw(value: Any) -> Any:
    """A mutable deep copy of a frozen document."""
    return copy.deepcopy(value)
