"""The structured-clone codec: how values cross RPC and storage boundaries.

On the platform, RPC arguments, return values and stored values are copied with V8's
structured clone: the receiver never shares an object with the sender, and a value that has
no clonable form fails with ``DataCloneError``. This module is the Python counterpart.

* :func:`clone` deep-copies a value (keeping shared references and cycles, as structured clone
  does) and refuses anything without a platform counterpart, naming the path of the bad value.
* :func:`dumps`/:func:`loads` turn a value into bytes for storage and back. The format is tagged
  JSON, readable in any SQLite browser and safe to open: never pickle.

``plain_objects=True`` is the storage flavour: dataclass instances are stored as plain dicts,
as the platform stores class instances as plain objects without their prototype. RPC refuses
them, as the platform refuses class instances that do not extend ``RpcTarget``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import re
import uuid
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .errors import DataCloneError

__all__ = ["clone", "dumps", "loads", "register_passthrough", "register_refusal"]

# Immutable values with a platform counterpart: returned as they are.
_IMMUTABLE: frozenset[type] = frozenset(
    {
        type(None), bool, int, float, str, bytes, complex,
        dt.datetime, dt.date, dt.time, dt.timedelta, dt.timezone,
        Decimal, Fraction, uuid.UUID, re.Pattern,
    }
)
_SCALARS = (type(None), bool, int, float, str)

# Exception types that cross as themselves (the platform keeps built-in Error types).
_BUILTIN_ERRORS: dict[str, type[BaseException]] = {
    cls.__name__: cls
    for cls in (
        Exception, ValueError, TypeError, KeyError, IndexError, LookupError, RuntimeError,
        ArithmeticError, ZeroDivisionError, OverflowError, AttributeError, NameError,
        NotImplementedError, AssertionError, PermissionError, FileNotFoundError, OSError,
        TimeoutError, UnicodeError,
    )
}

_passthrough_types: tuple[type, ...] = ()


def register_passthrough(cls: type) -> None:
    """Let instances of ``cls`` cross RPC by reference (stubs, as on the platform)."""
    global _passthrough_types
    _passthrough_types = (*_passthrough_types, cls)


# Types workerd refuses by name (a Durable Object stub, id or namespace): JS name and the fix.
_refused_types: dict[type, tuple[str, str]] = {}


def register_refusal(cls: type, js_name: str, fix: str) -> None:
    """Refuse instances of ``cls`` as workerd does: 'Could not serialize object of type
    "<js_name>"', followed by ``fix``."""
    _refused_types[cls] = (js_name, fix)


def _refuse(value: Any, path: str, why: str = "") -> DataCloneError:
    kind = type(value).__name__
    refused = _refused_types.get(type(value))
    if refused is not None:
        js_name, fix = refused
        return DataCloneError(
            f'{path}: Could not serialize object of type "{js_name}". This type does not '
            f"support serialization. {fix}",
            path=path,
            type_name=js_name,
        )
    fix = why or (
        "Pass plain data instead: None, bool, int, float, str, bytes, list, tuple, dict, set, "
        "datetime, Decimal, UUID (convert objects with dataclasses.asdict or a dict)."
    )
    return DataCloneError(
        f"{path} cannot be cloned: could not serialize object of type {kind!r}. {fix}",
        path=path,
        type_name=kind,
    )


def clone(value: Any, *, path: str = "value", plain_objects: bool = False) -> Any:
    """Deep-copy ``value`` as structured clone would, or raise ``DataCloneError``."""
    if type(value) in _IMMUTABLE:
        return value
    return _clone(value, path, {}, plain_objects)


def _clone(value: Any, path: str, memo: dict[int, Any], plain: bool) -> Any:
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    seen = memo.get(id(value))
    if seen is not None:
        return seen
    if kind is list:
        out: list[Any] = []
        memo[id(value)] = out
        out.extend(_clone(v, f"{path}[{i}]", memo, plain) for i, v in enumerate(value))
        return out
    if kind is dict:
        d: dict[Any, Any] = {}
        memo[id(value)] = d
        for k, v in value.items():
            ck = _clone(k, f"{path} key {k!r}", memo, plain)
            d[ck] = _clone(v, f"{path}[{k!r}]", memo, plain)
        return d
    if kind is tuple:
        return tuple(_clone(v, f"{path}[{i}]", memo, plain) for i, v in enumerate(value))
    if kind is set or kind is frozenset:
        items = [_clone(v, f"{path} item {v!r}", memo, plain) for v in value]
        return kind(items)
    if kind is bytearray:
        return bytearray(value)
    if kind is memoryview:
        return bytes(value)
    if isinstance(value, BaseException):
        return _clone_error(value, path, memo, plain)
    if _passthrough_types and isinstance(value, _passthrough_types):
        return value
    if (plain or getattr(kind, "_dosandbox_plain_", False)) and dataclasses.is_dataclass(value):
        # Storage keeps class instances as plain objects; result records such as SqlRunResult
        # are plain objects on the platform, so they cross RPC as dicts too.
        as_dict: dict[str, Any] = {}
        memo[id(value)] = as_dict  # before the fields: keeps sharing and cycles
        for f in dataclasses.fields(value):
            as_dict[f.name] = _clone(getattr(value, f.name), f"{path}.{f.name}", memo, plain)
        return as_dict
    if callable(value):
        raise _refuse(
            value, path, "Functions cannot cross an object boundary; pass data and call a "
            "method on the other side instead."
        )
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        raise _refuse(
            value, path, "Class instances do not cross RPC on the platform (only RpcTarget "
            "subclasses do); pass dataclasses.asdict(value) instead."
        )
    raise _refuse(value, path)


def _clone_error(value: BaseException, path: str, memo: dict[int, Any], plain: bool) -> Any:
    cls = _BUILTIN_ERRORS.get(type(value).__name__, Exception)
    if type(value) is cls:
        args = tuple(_clone(a, f"{path}.args[{i}]", memo, plain) for i, a in enumerate(value.args))
        return cls(*args)
    # Unknown error types cross as a plain Exception with the same message, as on the platform.
    return Exception(str(value))


# --- bytes for storage ---------------------------------------------------------------------


def dumps(value: Any, *, path: str = "value") -> bytes:
    """Serialize a clonable value to bytes (tagged JSON), or raise ``DataCloneError``."""
    if type(value) in _SCALARS:
        return json.dumps(value).encode()
    return json.dumps(_encode(value, path, {}), separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """Rebuild a value written by :func:`dumps`; each call returns a fresh copy."""
    tree = json.loads(data)
    if type(tree) in _SCALARS:
        return tree
    return _decode(tree, [])


def _encode(value: Any, path: str, refs: dict[int, int]) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind in (list, dict, set):
        n = refs.get(id(value))
        if n is not None:
            return {"ref": n}
        refs[id(value)] = len(refs)
    if kind is list:
        return {"l": [_encode(v, f"{path}[{i}]", refs) for i, v in enumerate(value)]}
    if kind is dict:
        if all(type(k) is str for k in value):
            return {"o": {k: _encode(v, f"{path}[{k!r}]", refs) for k, v in value.items()}}
        return {
            "d": [
                [_encode(k, f"{path} key {k!r}", refs), _encode(v, f"{path}[{k!r}]", refs)]
                for k, v in value.items()
            ]
        }
    if kind is tuple:
        return {"t": [_encode(v, f"{path}[{i}]", refs) for i, v in enumerate(value)]}
    if kind is set or kind is frozenset:
        tag = "s" if kind is set else "fs"
        return {tag: [_encode(v, f"{path} item {v!r}", refs) for v in value]}
    if kind is bytes or kind is memoryview:
        return {"b": base64.b64encode(bytes(value)).decode()}
    if kind is bytearray:
        return {"ba": base64.b64encode(value).decode()}
    if kind is dt.datetime:
        return {"dt": value.isoformat()}
    if kind is dt.date:
        return {"date": value.isoformat()}
    if kind is dt.time:
        return {"time": value.isoformat()}
    if kind is dt.timedelta:
        return {"td": [value.days, value.seconds, value.microseconds]}
    if kind is dt.timezone:
        return {"tz": [value.utcoffset(None).total_seconds(), value.tzname(None)]}
    if kind is Decimal:
        return {"dec": str(value)}
    if kind is Fraction:
        return {"frac": [value.numerator, value.denominator]}
    if kind is complex:
        return {"c": [value.real, value.imag]}
    if kind is uuid.UUID:
        return {"uuid": str(value)}
    if kind is re.Pattern:
        return {"re": [value.pattern, value.flags]}
    if isinstance(value, BaseException):
        err = _clone_error(value, path, {}, True)
        return {"err": [type(err).__name__, [_encode(a, path, refs) for a in err.args]]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Stored as a plain dict, so it takes a reference number like one (decoding numbers
        # every "o"); a second sight of the same instance becomes a reference.
        n = refs.get(id(value))
        if n is not None:
            return {"ref": n}
        refs[id(value)] = len(refs)
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"o": {k: _encode(v, f"{path}.{k}", refs) for k, v in fields.items()}}
    raise _refuse(value, path)


def _decode(tree: Any, refs: list[Any]) -> Any:
    if type(tree) in _SCALARS:
        return tree
    ((tag, body),) = tree.items()
    if tag == "l":
        out: list[Any] = []
        refs.append(out)
        out.extend(_decode(v, refs) for v in body)
        return out
    if tag == "o":
        o: dict[str, Any] = {}
        refs.append(o)
        for k, v in body.items():
            o[k] = _decode(v, refs)
        return o
    if tag == "d":
        d: dict[Any, Any] = {}
        refs.append(d)
        for k, v in body:
            d[_decode(k, refs)] = _decode(v, refs)
        return d
    if tag == "s":
        s: set[Any] = set()
        refs.append(s)
        s.update(_decode(v, refs) for v in body)
        return s
    if tag == "ref":
        return refs[body]
    return _DECODERS[tag](body, refs)


_DECODERS: dict[str, Any] = {
    "t": lambda b, r: tuple(_decode(v, r) for v in b),
    "fs": lambda b, r: frozenset(_decode(v, r) for v in b),
    "b": lambda b, r: base64.b64decode(b),
    "ba": lambda b, r: bytearray(base64.b64decode(b)),
    "dt": lambda b, r: dt.datetime.fromisoformat(b),
    "date": lambda b, r: dt.date.fromisoformat(b),
    "time": lambda b, r: dt.time.fromisoformat(b),
    "td": lambda b, r: dt.timedelta(days=b[0], seconds=b[1], microseconds=b[2]),
    "tz": lambda b, r: dt.timezone(dt.timedelta(seconds=b[0]), b[1]),
    "dec": lambda b, r: Decimal(b),
    "frac": lambda b, r: Fraction(b[0], b[1]),
    "c": lambda b, r: complex(b[0], b[1]),
    "uuid": lambda b, r: uuid.UUID(b),
    "re": lambda b, r: re.compile(b[0], b[1]),
    "err": lambda b, r: _BUILTIN_ERRORS.get(b[0], Exception)(*(_decode(a, r) for a in b[1])),
}
