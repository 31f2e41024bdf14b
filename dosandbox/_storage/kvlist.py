"""``storage.list()`` options → one key range and one SQL query, with the platform's rules.

Sources: Cloudflare's KV storage documentation; workerd ``actor-state.c++``/``sqlite-kv.c++``;
conformance traces ``list-*`` and ``order-*`` in tests/conformance/expected_workerd.json.

* Order is UTF-8 byte order, i.e. code-point order: SQLite's BINARY collation on TEXT and
  Python's ``str`` comparison agree (JS ``<`` does not, for characters above U+FFFF).
* ``start`` is inclusive, ``start_after`` exclusive (workerd: ``start = k + "\\0"``), ``end``
  exclusive; ``prefix`` is intersected with that range; an empty range gives an empty result.
* ``reverse`` only changes the order (start/end keep their meaning), and ``limit`` applies
  after ordering: reverse + limit N = the N largest keys in range.
* ``start`` with ``start_after``, and ``limit`` ≤ 0, are errors with the platform's messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._core.errors import ValidationError

__all__ = ["KeyRange", "key_range", "prefix_successor"]

_LAST = 0x10FFFF


def prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: none)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1])
        if code < _LAST:
            code += 1
            if 0xD800 <= code <= 0xDFFF:  # surrogates have no UTF-8 form: skip to U+E000
                code = 0xE000
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


@dataclass(frozen=True, slots=True)
class KeyRange:
    """Keys ``lo <= key`` (or ``lo < key``) and ``key < hi``; None = unbounded."""

    lo: str | None
    lo_inclusive: bool
    hi: str | None
    reverse: bool
    limit: int | None

    def sql(self) -> tuple[str, tuple[Any, ...]]:
        where: list[str] = []
        params: list[Any] = []
        if self.lo is not None:
            where.append("key >= ?" if self.lo_inclusive else "key > ?")
            params.append(self.lo)
        if self.hi is not None:
            where.append("key < ?")
            params.append(self.hi)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        order = "DESC" if self.reverse else "ASC"
        params.append(-1 if self.limit is None else self.limit)
        return (
            f"SELECT key, value FROM _cf_KV{clause} ORDER BY key {order} LIMIT ?",
            tuple(params),
        )

    @property
    def empty(self) -> bool:
        return self.lo is not None and self.hi is not None and self.hi <= self.lo


def _text(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValidationError(
        f"list({name}=...) takes a string key, not {type(value).__name__} {value!r}. Keys are "
        "strings on the platform; convert with str()."
    )


def key_range(
    *,
    prefix: Any = None,
    start: Any = None,
    start_after: Any = None,
    end: Any = None,
    limit: Any = None,
    reverse: Any = False,
) -> KeyRange:
    """Validate ``list()`` options and turn them into one range."""
    prefix = _text("prefix", prefix)
    start = _text("start", start)
    start_after = _text("start_after", start_after)
    end = _text("end", end)
    if start is not None and start_after is not None:
        raise ValidationError(
            "list() cannot be called with both start and startAfter values. Use start= "
            "(inclusive) or start_after= (exclusive), not both."
        )
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise ValidationError(
                f"list(limit=...) takes a positive int, not {type(limit).__name__} {limit!r}."
            )
        if limit <= 0:
            raise ValidationError(
                f"List limit must be positive. Got limit={limit}; pass limit=None (or leave it "
                "out) to list every key in range."
            )
    if not isinstance(reverse, bool):
        raise ValidationError(f"list(reverse=...) takes True or False, not {reverse!r}.")
    # The lower bound: the largest of start (incl.), start_after (excl.) and prefix (incl.).
    lo, lo_inclusive = (start, True) if start_after is None else (start_after, False)
    if prefix and (lo is None or prefix > lo):
        lo, lo_inclusive = prefix, True
    # The upper bound (exclusive): the smallest of end and the prefix's successor.
    hi = end
    if prefix:
        succ = prefix_successor(prefix)
        if succ is not None and (hi is None or succ < hi):
            hi = succ
    return KeyRange(lo, lo_inclusive, hi, reverse, limit)
