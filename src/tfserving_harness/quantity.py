"""Kubernetes resource quantities (`500m`, `2Gi`, `1e3`), parsed exactly, so they compare by value.

The grammar is apimachinery's `resource.ParseQuantity` (pkg/api/resource/quantity.go): a signed
decimal number, then one suffix: a binary SI one (`Ki` .. `Ei`), a decimal SI one (`n`, `u`, `m`,
``, `k`, `M`, `G`, `T`, `P`, `E`) or a decimal exponent (`e3`, `E-2`). `2GB`, `2 Gi` and `1.5.0`
are not quantities; the API server refuses them.
"""

from __future__ import annotations

import re
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": 1,
            "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?P<suffix>[eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?")


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


def parse(value: str | int | float) -> Fraction:
    """The exact value of a quantity; raises QuantityError with the expected form."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is a boolean, not a quantity")
    if isinstance(value, (int, float)):
        return Fraction(str(value))
    match = _QUANTITY.fullmatch(str(value))
    if not match:
        raise QuantityError(
            f"{value!r} is not a Kubernetes quantity: a number with an optional suffix and no space, "
            "e.g. 500m or 2 (CPU), 512Mi or 2Gi (memory, storage); GB/MB are not suffixes"
        )
    number, suffix = Fraction(match["number"]), match["suffix"] or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * Fraction(10) ** int(suffix[1:])
    return number * (_BINARY.get(suffix) or _DECIMAL[suffix])
