"""A fast path for storing the most common values: scalars and flat dicts/lists of scalars.

``codec.dumps`` walks every value in Python (building a path string per item for its error
messages); for a flat record such as ``{"id": 1, "name": "ann"}`` that walk costs more than the
SQLite write itself. Such values need no walk: their tagged-JSON form is ``{"o": {...}}`` or
``{"l": [...]}`` around plain JSON, which the C encoder writes directly. For anything else
:func:`encode_value` returns None and the caller uses ``codec.dumps``.
tests/storage/test_fastcodec.py checks the output is byte-identical to ``codec.dumps``.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

from .codec import _decode

__all__ = ["decode_value", "encode_value"]

_SCALARS = frozenset({str, int, float, bool, type(None)})
_STR = frozenset({str})


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
        return _plain(value).encode()
    # The type checks run in C (map + issuperset): a Python loop cost as much as the encoding.
    if kind is dict:
        if _STR.issuperset(map(type, value)) and _SCALARS.issuperset(map(type, value.values())):
            return _compact({"o": value}).encode()
        return None
    if kind is list:
        if _SCALARS.issuperset(map(type, value)):
            return _compact({"l": value}).encode()
        return None
    return None


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
