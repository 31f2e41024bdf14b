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
from typing import Any

from .codec import _decode

__all__ = ["decode_value", "encode_value"]

_SCALARS = frozenset({str, int, float, bool, type(None)})
_compact = json.JSONEncoder(separators=(",", ":")).encode
_plain = json.JSONEncoder().encode


def encode_value(value: Any) -> bytes | None:
    """``_codec.dumps(value)`` for scalars and flat dicts/lists of scalars, else None."""
    kind = type(value)
    if kind in _SCALARS:
        return _plain(value).encode()
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or type(item) not in _SCALARS:
                return None
        return _compact({"o": value}).encode()
    if kind is list:
        for item in value:
            if type(item) not in _SCALARS:
                return None
        return _compact({"l": value}).encode()
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
