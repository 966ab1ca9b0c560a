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


_DECIMAL_SUFFIX = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIX = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}


def canonical(value: Fraction | int, *, binary: bool = False) -> str:
    """A quantity's canonical string, as apimachinery serialises it (`Quantity.CanonicalizeBytes`,
    pkg/api/resource/quantity.go; `AsCanonicalBytes`/`AsCanonicalBase1024Bytes` in amount.go):
    DecimalSI moves every factor of 10 into the exponent and lowers the exponent to a multiple of
    3 (`1500m`, `2`, `1k`, `5m`); BinarySI (`binary`) writes an integer of at least 1024 as a
    multiple of a power of 1024 (`512Ki`, `1536`), anything else as DecimalSI. `value` must be a
    whole number of nanounits (a Quantity's finest scale here)."""
    value = Fraction(value)
    if value == 0:
        return "0"
    if binary and abs(value) >= 1024 and value.denominator == 1:
        amount, exponent = int(value), 0
        while amount % 1024 == 0 and exponent < 6:
            amount, exponent = amount // 1024, exponent + 1
        return f"{amount}{_BINARY_SUFFIX[exponent]}"
    nanos = value * 10**9
    if nanos.denominator != 1:
        raise QuantityError(f"{value} is finer than a nanounit: not a quantity this formatter writes")
    amount, exponent = int(nanos), -9
    while amount % 10 == 0:
        amount, exponent = amount // 10, exponent + 1
    # Python's % is never negative: a remainder of 1 means the exponent is one above a multiple of 3.
    amount, exponent = amount * 10 ** (exponent % 3), exponent - exponent % 3
    if exponent > 18:
        amount, exponent = amount * 10 ** (exponent - 18), 18
    return f"{amount}{_DECIMAL_SUFFIX[exponent]}"
