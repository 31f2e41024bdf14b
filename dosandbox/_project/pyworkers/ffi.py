"""The conversions a Python Worker sees at the edge of JavaScript, as the real SDK makes them.

On the platform ``self.ctx.storage`` and the Durable Object stubs on ``self.env`` are wrapped
by the ``workers`` SDK (``workers-runtime-sdk``: ``_BindingWrapper``, ``_EnvWrapper``,
``_FetcherWrapper``): arguments go through ``python_to_rpc`` (a ``tuple``, a ``bytearray`` or
an awaitable is refused with ``TypeError: <class 'tuple'> cannot be sent over RPC.``) and
results come back through ``python_from_rpc``, which turns JavaScript objects into ``JsDict``:
a ``dict`` whose keys also read as attributes (``row.greeting``). SQL rows, ``storage.get``
values, ``storage.list`` maps and RPC results arrive that way here too. Everything else on
``ctx`` (``acceptWebSocket``, ``getWebSockets``, ``blockConcurrencyWhile``...) is passed through
unchanged, as the SDK leaves the raw ``DurableObjectState`` there.

``JsDict.to_py()`` (a plain ``dict``) is a sandbox leniency for code written against older
SDKs, where rows were JsProxy objects that needed ``.to_py()``.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator, Iterator
from typing import Any

from ..._runtime.namespace import Namespace, RpcCall, Stub
from ..._runtime.websocket import WebSocket

__all__ = ["JsBinding", "JsDict", "PyCtx", "PyEnv", "from_js", "to_rpc"]


class JsDict(dict):  # type: ignore[type-arg]
    """A JavaScript object as Python sees it: a dict whose keys also read as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            if name == "to_py":
                return lambda: to_plain(self)
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def to_plain(value: Any) -> Any:
    """JsDict → dict, all the way down."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def from_js(value: Any) -> Any:
    """What ``python_from_rpc`` gives: dicts as JsDict, lists as lists, the rest unchanged."""
    kind = type(value)
    if kind is dict or kind is JsDict:
        return JsDict({k: from_js(v) for k, v in value.items()})
    if kind is list:
        return [from_js(v) for v in value]
    return value


def check_rpc(value: Any) -> None:
    """Refuse what ``python_to_rpc`` refuses, with its message."""
    if isinstance(value, (JsBinding, StubWrapper)) or (
        callable(value) and not isinstance(value, type)
    ):
        return
    if isinstance(value, (tuple, bytearray)):
        raise TypeError(f"{type(value)} cannot be sent over RPC.")
    if inspect.isawaitable(value):
        raise TypeError(
            f"Awaitable {type(value)} cannot be sent over RPC. Await it first and send its "
            "result."
        )
    if isinstance(value, dict):
        for v in value.values():
            check_rpc(v)
    elif isinstance(value, (list, set, frozenset)):
        for v in value:
            check_rpc(v)


def to_rpc(value: Any) -> Any:
    """What crosses to the other side: checked, JsDicts as plain dicts, wrappers unwrapped."""
    check_rpc(value)
    if isinstance(value, JsBinding):
        return value._target
    if isinstance(value, StubWrapper):
        return value._stub
    if isinstance(value, dict):
        return {k: to_rpc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_rpc(v) for v in value]
    return value


def _wrapped(value: Any) -> Any:
    """A result as the SDK hands it back: storage objects stay wrapped, data converted."""
    module = type(value).__module__
    if module.startswith("dosandbox._storage") or (
        hasattr(value, "__next__") and not isinstance(value, (str, bytes, WebSocket))
    ):
        return JsBinding(value)
    return from_js(value)


class _Converted:
    """An awaitable whose result is converted; the call already ran (writes took effect)."""

    __slots__ = ("_awaitable",)

    def __init__(self, awaitable: Any) -> None:
        self._awaitable = awaitable

    def __await__(self) -> Generator[Any, None, Any]:
        result = yield from _as_generator(self._awaitable)
        return _wrapped(result)


def _as_generator(awaitable: Any) -> Generator[Any, None, Any]:
    if inspect.iscoroutine(awaitable):
        return (yield from awaitable.__await__())
    return (yield from awaitable.__await__())


def _call(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = fn(*(to_rpc(a) for a in args), **{k: to_rpc(v) for k, v in kwargs.items()})
    if inspect.isawaitable(result):
        return _Converted(result)
    return _wrapped(result)


class JsBinding:
    """The SDK's ``_BindingWrapper``: ``ctx.storage``, ``storage.sql``, cursors, ``storage.kv``."""

    __slots__ = ("__weakref__", "_target")

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return _wrapped(attr)

        def call(*args: Any, **kwargs: Any) -> Any:
            return _call(attr, args, kwargs)

        call.__name__ = name
        call.__doc__ = getattr(attr, "__doc__", None)
        return call

    def __iter__(self) -> Iterator[Any]:
        for item in self._target:
            yield _wrapped(item)

    def __next__(self) -> Any:
        return _wrapped(next(self._target))

    def __len__(self) -> int:
        return len(self._target)

    def __getitem__(self, key: Any) -> Any:
        return _wrapped(self._target[key])

    def __dir__(self) -> list[str]:
        return dir(self._target)

    def __repr__(self) -> str:
        return f"<JsProxy {self._target!r}>"


class PyCtx:
    """``self.ctx`` of a Python Workers Durable Object: the state, its ``storage`` wrapped."""

    __slots__ = ("_ctx", "_storage")
    _ctx: Any
    _storage: JsBinding | None

    def __new__(cls, ctx: Any) -> Any:
        if isinstance(ctx, PyCtx):
            return ctx  # idempotent, as the SDK's DurableObjectContext(ctx)
        self = object.__new__(cls)
        self._ctx = ctx
        self._storage = None
        return self

    @property
    def storage(self) -> JsBinding:
        if self._storage is None:
            self._storage = JsBinding(self._ctx.storage)
        return self._storage

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def __dir__(self) -> list[str]:
        return dir(self._ctx)

    def __repr__(self) -> str:
        return f"<DurableObjectState {self._ctx!r}>"


class StubWrapper:
    """A Durable Object stub from ``env.X.get(...)``: RPC arguments and results converted."""

    __slots__ = ("_stub",)

    def __init__(self, stub: Stub) -> None:
        self._stub = stub

    @property
    def id(self) -> Any:
        return self._stub.id

    @property
    def name(self) -> str | None:
        return self._stub.name

    def fetch(self, request: Any = None, /, **init: Any) -> RpcCall:
        return self._stub.fetch(request, **init)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._stub, name)
        if isinstance(attr, RpcCall):  # a property read: await stub.prop
            return _Converted(attr)

        def call(*args: Any, **kwargs: Any) -> Any:
            return _call(attr, args, kwargs)

        call.__name__ = name
        return call

    def __dir__(self) -> list[str]:
        return dir(self._stub)

    def __repr__(self) -> str:
        return repr(self._stub)


class NamespaceWrapper:
    """``env.LISTS``: ids as the namespace makes them, stubs wrapped."""

    __slots__ = ("_ns",)

    def __init__(self, ns: Namespace) -> None:
        self._ns = ns

    def get(self, *args: Any, **kwargs: Any) -> StubWrapper:
        return StubWrapper(self._ns.get(*args, **kwargs))

    def get_by_name(self, *args: Any, **kwargs: Any) -> StubWrapper:
        return StubWrapper(self._ns.get_by_name(*args, **kwargs))

    getByName = get_by_name

    def get_by_id(self, *args: Any, **kwargs: Any) -> StubWrapper:
        return StubWrapper(self._ns.get_by_id(*args, **kwargs))

    getById = get_by_id

    def jurisdiction(self, name: str) -> NamespaceWrapper:
        return NamespaceWrapper(self._ns.jurisdiction(name))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ns, name)

    def __dir__(self) -> list[str]:
        return dir(self._ns)

    def __repr__(self) -> str:
        return repr(self._ns)


class PyEnv:
    """``self.env`` of a Python Worker or object: bindings wrapped, variables as given."""

    __slots__ = ("_env",)
    _env: Any

    def __new__(cls, env: Any) -> Any:
        if isinstance(env, PyEnv):
            return env
        self = object.__new__(cls)
        self._env = env
        return self

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._env, name)
        if isinstance(value, Namespace):
            return NamespaceWrapper(value)
        return from_js(value)

    def __contains__(self, name: object) -> bool:
        return name in self._env

    def __dir__(self) -> list[str]:
        return dir(self._env)

    def __repr__(self) -> str:
        return repr(self._env)
