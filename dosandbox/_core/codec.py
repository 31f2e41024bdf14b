"""The structured-clone codec: how values cross RPC and storage boundaries.

On the platform, RPC arguments, return values and stored values are copied with V8's
structured clone: the receiver never shares an object with the sender, and a value that has
no clonable form fails with ``DataCloneError``. This module is the Python counterpart.

* :func:`clone` deep-copies a value (keeping shared references and cycles, as structured clone
  does) and refuses anything without a platform counterpart, naming the path of the bad value.
* :func:`dumps`/:func:`loads` turn a value into bytes for storage and back. The format is tagged
  JSON, readable in any SQLite browser and safe to open: never pickle.

``sender=`` is the RPC flavour: values that cross *by reference* on the platform (functions,
``RpcTarget`` instances, streams, ``Request``/``Response``) are handed to the hook the runtime
registers (:func:`register_reference_hook`), which replaces each with what the receiver gets (a
stub, a stream end). This layer knows no capability; without ``sender`` they are refused.

``plain_objects=True`` is the storage flavour: dataclass instances are stored as plain dicts,
as the platform stores class instances as plain objects without their prototype. RPC refuses
them, as the platform refuses class instances that do not extend ``RpcTarget``.

A value is refused going in when it could not come back, so a stored value never fails to
load:

* nested deeper than :data:`MAX_DEPTH` (256) containers. V8 has no fixed bound but runs out of
  stack (workerd: ``RangeError: Maximum call stack size exceeded`` from about 2,300 nested
  objects or 3,700 nested arrays); the sandbox's bound keeps every value it stored readable
  within Python's recursion limit, wherever it is read (a method, a widget callback).
* a dataclass instance as a dict key or set item (alone or inside a tuple or frozenset): it
  comes back as a plain dict, which cannot be a key.

Ints of any size cross, as JS BigInts do. Ints beyond :data:`_PLAIN_INT_BITS` bits are stored
as hex text (``{"bigint": "0x..."}``): a decimal literal that long would meet Python's limit on
int/str conversion (``sys.set_int_max_str_digits``, at least 640 digits) when read back.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .errors import DataCloneError

__all__ = [
    "MAX_DEPTH", "clone", "dumps", "loads", "register_reference_hook", "register_refusal",
]

# Containers nested deeper than this are refused (see the module docstring).
MAX_DEPTH = 256
# Ints up to this many bits have at most 600 decimal digits: stored as JSON numbers, readable
# under any int_max_str_digits setting (its floor is 640). Larger ones are stored as hex.
_PLAIN_INT_BITS = 1993

# Immutable values with a platform counterpart: returned as they are.
_IMMUTABLE: frozenset[type] = frozenset(
    {
        type(None), bool, int, float, str, bytes, complex,
        dt.datetime, dt.date, dt.time, dt.timedelta, dt.timezone,
        Decimal, Fraction, uuid.UUID, re.Pattern,
    }
)
_SCALARS = (type(None), bool, int, float, str)
# Values that hold no others: they never count towards MAX_DEPTH.
_LEAVES: frozenset[type] = _IMMUTABLE | {bytearray, memoryview}

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

# Where the memo of one clone keeps its sender (id() of a live object is never 0).
_SENDER = 0
# (value, path, sender) -> the receiver's replacement, or NotImplemented: RPC by reference.
_reference_hook: Callable[[Any, str, Any], Any] | None = None


def register_reference_hook(hook: Callable[[Any, str, Any], Any]) -> None:
    """Let the runtime pass values by reference over RPC (see the module docstring)."""
    global _reference_hook
    _reference_hook = hook


# Types workerd refuses by name (a Durable Object stub, id or namespace): JS name and the fix.
_refused_types: dict[type, tuple[str, str]] = {}


def register_refusal(cls: type, js_name: str, fix: str) -> None:
    """Refuse instances of ``cls`` as workerd does: 'Could not serialize object of type
    "<js_name>"', followed by ``fix``."""
    _refused_types[cls] = (js_name, fix)


def shown(value: Any) -> str:
    """A short repr for paths and messages, even for values whose repr fails or is huge."""
    if type(value) is int and value.bit_length() > 64:
        return f"<int of {value.bit_length()} bits>"
    try:
        text = repr(value)
    except Exception:  # a repr that raises (huge ints inside, a broken __repr__)
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else f"{text[:57]}..."


def _too_deep(path: str, value: Any) -> DataCloneError:
    where = path if len(path) <= 80 else f"{path[:40]}...{path[-30:]}"
    return DataCloneError(
        f"{where} is nested more than {MAX_DEPTH} levels deep; values that cross an object "
        f"boundary or are stored may nest at most {MAX_DEPTH} containers (V8 itself fails with "
        "'RangeError: Maximum call stack size exceeded' a few thousand levels down). Flatten "
        "it, e.g. keep a tree as a dict of id -> node holding its children's ids.",
        path=path,
        type_name=type(value).__name__,
    )


def _dataclass_in_key(key: Any, depth: int = 0) -> Any:
    """The dataclass instance in ``key`` (itself, or inside its tuples), which would decode to
    an unhashable dict; None when there is none."""
    kind = type(key)
    if kind in _IMMUTABLE or depth > MAX_DEPTH:  # too deep: encoding refuses it anyway
        return None
    if kind is tuple or kind is frozenset:
        for item in key:
            found = _dataclass_in_key(item, depth + 1)
            if found is not None:
                return found
        return None
    return key if dataclasses.is_dataclass(key) and not isinstance(key, type) else None


def _unhashable_key(key: Any, path: str) -> DataCloneError:
    kind = type(_dataclass_in_key(key)).__name__
    return DataCloneError(
        f"{path} cannot be stored: a {kind} instance used as a dict key or set item comes back "
        "as a plain dict (storage keeps class instances as plain objects), and a dict cannot "
        "be a key. Use a plain hashable key instead, such as dataclasses.astuple(key) or a str.",
        path=path,
        type_name=kind,
    )


def _refuse(value: Any, path: str, why: str = "", *, rpc: bool = False) -> DataCloneError:
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
    if isinstance(value, Awaitable) and not why:
        fix = f"It is {'a coroutine' if kind == 'coroutine' else 'an awaitable'}: await it " \
              "and pass (or return) its result."
        rpc = False  # an RpcTarget is no fix for a missing await
    if rpc:  # workerd's words, and the platform's other way: pass the object by reference
        return DataCloneError(
            f'{path}: Could not serialize object of type "{kind}". This type does not support '
            f"serialization. {fix} Or make {kind} extend dosandbox.RpcTarget: its instances "
            "cross by reference, as a stub whose methods run where the object lives.",
            path=path,
            type_name=kind,
        )
    return DataCloneError(
        f"{path} cannot be cloned: could not serialize object of type {kind!r}. {fix}",
        path=path,
        type_name=kind,
    )


def clone(
    value: Any,
    *,
    path: str = "value",
    plain_objects: bool = False,
    arguments: bool = False,
    sender: Any = None,
) -> Any:
    """Deep-copy ``value`` as structured clone would, or raise ``DataCloneError``.

    ``arguments=True``: ``value`` is a call's argument tuple (or keyword dict), which does not
    count towards MAX_DEPTH itself; each argument may nest as deep as any value.
    ``sender``: an RPC message from that side; by-reference values go to the reference hook.
    """
    if type(value) in _IMMUTABLE:
        return value
    memo: dict[int, Any] = {} if sender is None else {_SENDER: sender}
    return _clone(value, path, memo, plain_objects, -1 if arguments else 0)


def _clone(value: Any, path: str, memo: dict[int, Any], plain: bool, depth: int) -> Any:
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    seen = memo.get(id(value))
    if seen is not None:
        return seen
    if depth >= MAX_DEPTH and kind not in _LEAVES:
        raise _too_deep(path, value)
    depth += 1
    if kind is list:
        out: list[Any] = []
        memo[id(value)] = out
        out.extend(_clone(v, f"{path}[{i}]", memo, plain, depth) for i, v in enumerate(value))
        return out
    if kind is dict:
        d: dict[Any, Any] = {}
        memo[id(value)] = d
        for k, v in value.items():
            text = repr(k) if type(k) is str else shown(k)
            ck = _clone(k, f"{path} key {text}", memo, plain, depth)
            cv = _clone(v, f"{path}[{text}]", memo, plain, depth)
            try:
                d[ck] = cv
            except TypeError:  # a plain-object key became an unhashable dict
                raise _unhashable_key(k, f"{path} key {text}") from None
        return d
    if kind is tuple:
        return tuple(_clone(v, f"{path}[{i}]", memo, plain, depth) for i, v in enumerate(value))
    if kind is set or kind is frozenset:
        items = [_clone(v, f"{path} item {shown(v)}", memo, plain, depth) for v in value]
        try:
            return kind(items)
        except TypeError:  # a plain-object item became an unhashable dict
            bad = next(v for v in value if _dataclass_in_key(v) is not None)
            raise _unhashable_key(bad, f"{path} item {shown(bad)}") from None
    if kind is bytearray:
        return bytearray(value)
    if kind is memoryview:
        return bytes(value)
    if isinstance(value, BaseException):
        return _clone_error(value, path, memo, plain, depth)
    sender = memo.get(_SENDER)
    if sender is not None and _reference_hook is not None:
        out = _reference_hook(value, path, sender)
        if out is not NotImplemented:
            memo[id(value)] = out  # the same function twice in one message: one stub
            return out
    if (plain or getattr(kind, "_dosandbox_plain_", False)) and dataclasses.is_dataclass(value):
        # Storage keeps class instances as plain objects; result records such as SqlRunResult
        # are plain objects on the platform, so they cross RPC as dicts too.
        as_dict: dict[str, Any] = {}
        memo[id(value)] = as_dict  # before the fields: keeps sharing and cycles
        for f in dataclasses.fields(value):
            as_dict[f.name] = _clone(getattr(value, f.name), f"{path}.{f.name}", memo, plain,
                                     depth)
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
    raise _refuse(value, path, rpc=sender is not None)


def _clone_error(
    value: BaseException, path: str, memo: dict[int, Any], plain: bool, depth: int
) -> Any:
    cls = _BUILTIN_ERRORS.get(type(value).__name__, Exception)
    if type(value) is cls:
        args = tuple(
            _clone(a, f"{path}.args[{i}]", memo, plain, depth) for i, a in enumerate(value.args)
        )
        return cls(*args)
    # Unknown error types cross as a plain Exception with the same message, as on the platform.
    return Exception(str(value))


# --- bytes for storage ---------------------------------------------------------------------


def dumps(value: Any, *, path: str = "value") -> bytes:
    """Serialize a clonable value to bytes (tagged JSON), or raise ``DataCloneError``."""
    kind = type(value)
    if kind in _SCALARS and not (kind is int and value.bit_length() > _PLAIN_INT_BITS):
        return json.dumps(value).encode()
    return json.dumps(_encode(value, path, {}, 0), separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """Rebuild a value written by :func:`dumps`; each call returns a fresh copy."""
    tree = json.loads(data)
    if type(tree) in _SCALARS:
        return tree
    return _decode(tree, [])


def _encode(value: Any, path: str, refs: dict[int, int], depth: int) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        if kind is int and value.bit_length() > _PLAIN_INT_BITS:
            return {"bigint": hex(value)}
        return value
    if kind in (list, dict, set):
        n = refs.get(id(value))
        if n is not None:
            return {"ref": n}
        refs[id(value)] = len(refs)
    if depth >= MAX_DEPTH and kind not in _LEAVES:
        raise _too_deep(path, value)
    depth += 1
    if kind is list:
        return {"l": [_encode(v, f"{path}[{i}]", refs, depth) for i, v in enumerate(value)]}
    if kind is dict:
        if all(type(k) is str for k in value):
            return {"o": {k: _encode(v, f"{path}[{k!r}]", refs, depth) for k, v in value.items()}}
        pairs = []
        for k, v in value.items():
            text = shown(k)  # a short repr: non-str keys may be huge ints or long tuples
            if type(k) not in _SCALARS and _dataclass_in_key(k) is not None:
                raise _unhashable_key(k, f"{path} key {text}")
            pairs.append([_encode(k, f"{path} key {text}", refs, depth),
                          _encode(v, f"{path}[{text}]", refs, depth)])
        return {"d": pairs}
    if kind is tuple:
        return {"t": [_encode(v, f"{path}[{i}]", refs, depth) for i, v in enumerate(value)]}
    if kind is set or kind is frozenset:
        tag = "s" if kind is set else "fs"
        items = []
        for v in value:
            item_path = f"{path} item {shown(v)}"
            if type(v) not in _SCALARS and _dataclass_in_key(v) is not None:
                raise _unhashable_key(v, item_path)
            items.append(_encode(v, item_path, refs, depth))
        return {tag: items}
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
        return {"frac": [_encode(value.numerator, path, refs, depth),
                         _encode(value.denominator, path, refs, depth)]}
    if kind is complex:
        return {"c": [value.real, value.imag]}
    if kind is uuid.UUID:
        return {"uuid": str(value)}
    if kind is re.Pattern:
        if type(value.pattern) is not str:
            raise _refuse(value, path, "A regular expression is stored as its text: compile it "
                          "from a str pattern (re.compile('...')), not from bytes.")
        return {"re": [value.pattern, value.flags]}
    if isinstance(value, BaseException):
        err = _clone_error(value, path, {}, True, depth)
        return {"err": [type(err).__name__, [_encode(a, path, refs, depth) for a in err.args]]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Stored as a plain dict, so it takes a reference number like one (decoding numbers
        # every "o"); a second sight of the same instance becomes a reference.
        n = refs.get(id(value))
        if n is not None:
            return {"ref": n}
        refs[id(value)] = len(refs)
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"o": {k: _encode(v, f"{path}.{k}", refs, depth) for k, v in fields.items()}}
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
            item = _decode(v, refs)  # the value first, as the assignment always decoded it
            key = _decode(k, refs)
            try:
                d[key] = item
            except TypeError:  # stored before such keys were refused (see _unhashable_key)
                raise DataCloneError(
                    "A stored value has a dict key that comes back as a plain dict (a "
                    "dataclass key, stored by an older dosandbox), so it cannot be rebuilt. "
                    "Delete the key with storage.delete() and store it again with plain keys.",
                    path="value",
                    type_name="dict",
                ) from None
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
    "frac": lambda b, r: Fraction(_decode(b[0], r), _decode(b[1], r)),
    "c": lambda b, r: complex(b[0], b[1]),
    "uuid": lambda b, r: uuid.UUID(b),
    "re": lambda b, r: re.compile(b[0], b[1]),
    "bigint": lambda b, r: int(b, 16),
    "err": lambda b, r: _BUILTIN_ERRORS.get(b[0], Exception)(*(_decode(a, r) for a in b[1])),
}
