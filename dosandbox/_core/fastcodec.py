"""A fast path for storing the most common values: scalars and flat dicts/lists of scalars.

``codec.dumps`` walks every value in Python (building a path string per item for its error
messages); for a flat record such as ``{"id": 1, "name": "ann"}`` that walk costs more than the
SQLite write itself. Such values need no walk: their tagged-JSON form is ``{"o": {...}}`` or
``{"l": [...]}`` around plain JSON, which the C encoder writes directly. For anything else
:func:`encode_value` returns None and the caller uses ``codec.dumps``.
tests/storage/test_fastcodec.py checks the output is byte-identical to ``codec.dumps``.

``codec.dumps`` stores ints beyond ``_PLAIN_INT_BITS`` bits as hex text, so a value holding one
is declined here. Such an int prints as 600 or more digits, so only an encoded text that long
is looked at again (its ints' sizes, in C).
"""

from __future__ import annotations

import json
import json.encoder
import operator
from collections.abc import Callable, Iterable
from itertools import compress, repeat
from typing import Any

from .codec import _PLAIN_INT_BITS, _decode

__all__ = ["decode_value", "encode_value"]

_SCALARS = frozenset({str, int, float, bool, type(None)})
_STR = frozenset({str})
# The fewest digits an int beyond _PLAIN_INT_BITS bits prints as (2**1993 has 600).
_BIG_DIGITS = 600


def _one_shot_encoder(separators: tuple[str, str] | None) -> Callable[[Any], str]:
    """``JSONEncoder(separators=...).encode`` without its per-call set-up.

    ``encode`` builds a new C encoder on every call, which costs as much as encoding a small
    record; the values encoded here are flat (no cycles possible), so one encoder made once
    without the circular-reference check writes the same bytes.
    """
    encoder = json.JSONEncoder(separators=separators)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C accelerator
        return encoder.encode
    iterencode = make(
        None, encoder.default, json.encoder.encode_basestring_ascii, None,
        encoder.key_separator, encoder.item_separator, False, False, True,
    )
    join = "".join
    return lambda value: join(iterencode(value, 0))


_compact = _one_shot_encoder((",", ":"))
_plain = _one_shot_encoder(None)


def encode_value(value: Any) -> bytes | None:
    """``_codec.dumps(value)`` for scalars and flat dicts/lists of scalars, else None."""
    kind = type(value)
    if kind in _SCALARS:
        if kind is int and value.bit_length() > _PLAIN_INT_BITS:
            return None
        return _plain(value).encode()
    # The type checks run in C (map + issuperset): a Python loop cost as much as the encoding.
    if kind is dict:
        if _STR.issuperset(map(type, value)) and _SCALARS.issuperset(map(type, value.values())):
            return _checked({"o": value}, value.values())
        return None
    if kind is list:
        if _SCALARS.issuperset(map(type, value)):
            return _checked({"l": value}, value)
        return None
    return None


def _checked(tree: Any, items: Iterable[Any]) -> bytes | None:
    """The encoded bytes, or None when ``items`` hold an int that dumps stores as hex."""
    try:
        text = _compact(tree)
    except ValueError:  # an int beyond sys.get_int_max_str_digits(): dumps stores it as hex
        return None
    if len(text) >= _BIG_DIGITS:
        ints = compress(items, map(operator.is_, repeat(int), map(type, items)))
        if max(map(int.bit_length, ints), default=0) > _PLAIN_INT_BITS:
            return None
    return text.encode()


def decode_value(data: bytes) -> Any:
    """``_codec.loads(data)``, with the tag walk skipped for the shapes encoded above."""
    tree = json.loads(data)
    kind = type(tree)
    if kind in _SCALARS:
        return tree
    if kind is dict and len(tree) == 1:
        body = tree.get("o")
        if type(body) is dict:
            for item in body.values():
                if type(item) not in _SCALARS:
                    return _decode(tree, [])
            return body
        body = tree.get("l")
        if type(body) is list:
            for item in body:
                if type(item) not in _SCALARS:
                    return _decode(tree, [])
            return body
    return _decode(tree, [])
