"""Keys the platform coerces: numbers become the strings JavaScript's ``String(n)`` gives.

``storage.put(1, v)`` stores key ``"1"`` on the platform (a key is converted with ToString), so
a ported ``put(1, ...)`` must find the same key here. Python ints are exact, like BigInts, so
they print in full; floats follow JS's Number-to-String rules (``1e21`` → ``"1e+21"``,
``1e16`` → ``"10000000000000000"``, ``-0.0`` → ``"0"``, ``nan`` → ``"NaN"``).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TypeGuard

__all__ = ["is_number_key", "number_key"]


def is_number_key(key: object) -> TypeGuard[int | float]:
    """An int or float (not a bool: ``put(True, v)`` is almost always a mistake)."""
    return isinstance(key, (int, float)) and not isinstance(key, bool)


def number_key(key: int | float) -> str:
    """The key the platform stores for the number ``key``."""
    if isinstance(key, int):
        return str(int(key))
    return _js_number_string(float(key))


def _js_number_string(x: float) -> str:
    """ECMAScript Number::toString(x) for radix 10."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"  # -0 too
    sign = "-" if x < 0 else ""
    # repr gives the shortest digits that round-trip, as the JS algorithm asks for.
    _, digit_tuple, exponent = Decimal(repr(abs(x))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = k + exponent  # x = 0.digits × 10^n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text
