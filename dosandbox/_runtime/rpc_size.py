"""The platform's 32 MiB limit on what one RPC message carries: arguments, or a result.

workerd measures the V8 serialization of the value; :func:`serialized_size` estimates it
closely enough for the limit (the conformance suite checks both sides of 32 MiB), and
:func:`surely_small` skips the measure for the common small message.
"""

from __future__ import annotations

from typing import Any

from .._core.errors import DataCloneError
from .._core.limits import Limits

__all__ = ["SMALL_TYPES", "check_size", "serialized_size", "surely_small"]

SMALL_TYPES = frozenset({int, float, bool, type(None)})
_CONTAINERS = frozenset({list, tuple, dict})
_SURELYSMALL_TYPES_ITEMS = 64  # × at most 128 KiB each (64 Ki characters × 2 bytes): under 9 MiB


def surely_small(values: tuple[Any, ...], limits: Limits) -> bool:
    """At most 64 scalars and short strings, looking into lists, tuples and dicts: far under
    the limit, so the exact measure (a second walk of the value) is not needed."""
    if limits.max_rpc_bytes < 10 * 1024**2:
        return False
    budget = _SURELYSMALL_TYPES_ITEMS
    stack = list(values)
    while stack:
        value = stack.pop()
        budget -= 1
        if budget < 0:
            return False
        kind = type(value)
        if kind in SMALL_TYPES:
            continue
        if kind is str or kind is bytes:
            if len(value) >= 65_536:
                return False
        elif kind in _CONTAINERS:
            if len(value) > budget:
                return False
            if kind is dict:
                stack.extend(value)  # the keys
                stack.extend(value.values())
            else:
                stack.extend(value)
        else:
            return False
    return True


def check_size(
    limits: Limits, value: Any, what: str, *, remote: bool = False,
    object_name: str | None = None, object_id: str | None = None,
) -> None:
    """Refuse ``value`` as the platform does when its serialized size passes the limit."""
    limit = limits.max_rpc_bytes
    size = serialized_size(value)
    if size <= limit:
        return
    shown = f"{limit // 1024**2}MiB" if limit % 1024**2 == 0 else f"{limit} bytes"
    raise DataCloneError(
        f"Serialized RPC arguments or return values are limited to {shown}, "
        f"but the size of this value was: {size} bytes ({what}, as the sandbox estimates the "
        "serialized size). Split the data over several calls, or keep it in storage and pass "
        "its key.",
        object_name=object_name,
        object_id=object_id,
        limit=limit,
        size=size,
        remote=remote,
    )


def serialized_size(value: Any) -> int:
    """About how many bytes V8's serializer writes for ``value`` (workerd measures that).

    Strings count one byte a character (two if any is beyond Latin-1), bytes their length, plus
    a few bytes of framing per value; a value seen twice counts once (a back-reference).
    """
    seen: set[int] = set()
    total = 2  # the serializer's version header
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            n = len(item)
            total += (n if n < 64 or item.isascii() or max(item) <= "\xff" else 2 * n) + 5
        elif kind is bytes or kind is bytearray or kind is memoryview:
            total += len(item) + 12
        elif kind in SMALL_TYPES:
            total += 9 if kind is float or (kind is int and not -(1 << 31) <= item < 1 << 31) \
                else 5
            if kind is int and item.bit_length() > 64:
                total += item.bit_length() // 8
        elif kind in (list, tuple, dict, set, frozenset):
            if id(item) in seen:
                total += 5  # a back-reference
                continue
            seen.add(id(item))
            total += 6
            if kind is dict:
                stack.extend(item.keys())
                stack.extend(item.values())
            else:
                stack.extend(item)
        else:
            total += 16  # dates, decimals, errors...: a small fixed record
    return total
