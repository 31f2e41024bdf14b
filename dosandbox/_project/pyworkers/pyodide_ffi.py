"""``pyodide.ffi`` as a Python Worker imports it, served by dosandbox.

On the platform this is Pyodide's bridge to JavaScript. In the sandbox the "JavaScript side"
is Python objects, so the shapes are kept and the conversions are the ones that matter to code:

- ``to_js(value, *, depth=-1, dict_converter=None, default_converter=None, ...)``: lists and
  tuples become arrays (lists), dicts become ``Map``s unless ``dict_converter`` is given
  (``dict_converter=js.Object.fromEntries`` gives an object, as code passing options does),
  sets stay sets; the result of a list or a Map is a :class:`JsProxy`, with ``to_py()``.
- ``create_proxy(fn)`` / ``create_once_callable(fn)``: callables JavaScript can keep; calling
  after ``destroy()`` (or twice, for a once-callable) raises as Pyodide does.
- ``JsProxy`` (``isinstance`` works for WebSockets and what ``to_js`` makes), ``JsException``,
  ``jsnull``, ``destroy_proxies``, ``IN_BROWSER``.
"""

from __future__ import annotations

from abc import ABCMeta
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..._runtime.websocket import WebSocket

__all__ = [
    "IN_BROWSER",
    "JsArray",
    "JsException",
    "JsMap",
    "JsProxy",
    "create_once_callable",
    "create_proxy",
    "destroy_proxies",
    "jsnull",
    "to_js",
]

IN_BROWSER = False


class JsProxy(metaclass=ABCMeta):  # noqa: B024 - an ABC for register(), nothing abstract
    """A JavaScript object as Python holds it (here: sandbox objects standing for them)."""

    __slots__ = ()

    def to_py(self, *, depth: int = -1, default_converter: Any = None) -> Any:
        return _to_py(self, depth)


class JsArray(list, JsProxy):  # type: ignore[type-arg]
    """A JavaScript ``Array`` from ``to_js(list)``: a list with ``to_py()``."""

    __slots__ = ()


class JsMap(dict, JsProxy):  # type: ignore[type-arg]
    """A JavaScript ``Map`` from ``to_js(dict)``: a dict with ``to_py()``."""

    __slots__ = ()


def _to_py(value: Any, depth: int) -> Any:
    if depth == 0:
        return value
    if isinstance(value, dict):
        return {k: _to_py(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_py(v, depth - 1) for v in value]
    return value


class _JsNull:
    """JavaScript's ``null`` (``None`` is ``undefined``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "jsnull"

    def __bool__(self) -> bool:
        return False


jsnull = _JsNull()
JsProxy.register(WebSocket)  # a socket from WebSocketPair is a JavaScript object there


class JsException(Exception):
    """A JavaScript error raised into Python: ``.name`` and ``.message`` as in JavaScript."""

    def __init__(self, message: str = "", name: str = "Error") -> None:
        super().__init__(f"{name}: {message}" if message else name)
        self.name = name
        self.message = message


def to_js(
    value: Any,
    *,
    depth: int = -1,
    pyproxies: Any = None,
    create_pyproxies: bool = True,
    dict_converter: Callable[[Iterable[list[Any]]], Any] | None = None,
    default_converter: Callable[[Any, Any, Any], Any] | None = None,
    eager_converter: Callable[[Any, Any, Any], Any] | None = None,
) -> Any:
    """Python → JavaScript: arrays, Maps (or ``dict_converter``'s objects), the rest as is."""

    def convert(item: Any, level: int) -> Any:
        if level == 0 or isinstance(item, (str, bytes, int, float, bool)) or item is None:
            return item
        if isinstance(item, (list, tuple)):
            return JsArray(convert(v, level - 1) for v in item)
        if isinstance(item, Mapping):
            entries = [[k, convert(v, level - 1)] for k, v in item.items()]
            if dict_converter is not None:
                return dict_converter(entries)
            return JsMap((k, v) for k, v in entries)
        if isinstance(item, (set, frozenset)):
            return {convert(v, level - 1) for v in item}
        if default_converter is not None and not callable(item):
            return default_converter(item, lambda v: convert(v, level - 1), {})
        return item

    return convert(value, depth)


class _PyProxy:
    """What ``create_proxy`` returns: callable until ``destroy()``."""

    __slots__ = ("_fn", "_once", "_why")

    def __init__(self, fn: Callable[..., Any], once: bool) -> None:
        self._fn: Callable[..., Any] | None = fn
        self._once = once
        self._why = "This borrowed proxy was explicitly destroyed"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn = self._fn
        if fn is None:
            raise JsException(f"{self._why}.", name="Error")
        if self._once:
            self._fn = None
            self._why = "OnceProxy can only be called once"
        return fn(*args, **kwargs)

    def destroy(self) -> None:
        self._fn = None

    def __repr__(self) -> str:
        return f"<PyProxy {self._fn!r}>"


def create_proxy(obj: Callable[..., Any], *, capture_this: bool = False,
                 roundtrip: bool = True) -> Any:
    """A proxy JavaScript may call later; call ``destroy()`` on it when done."""
    return _PyProxy(obj, once=False)


def create_once_callable(obj: Callable[..., Any], *, _may_syncify: bool = False) -> Any:
    """A proxy JavaScript may call once; it frees itself after that call."""
    return _PyProxy(obj, once=True)


def destroy_proxies(proxies: Iterable[Any]) -> None:
    for proxy in proxies:
        proxy.destroy()


def __getattr__(name: str) -> Any:
    raise AttributeError(
        f"module 'pyodide.ffi' has no attribute {name!r} in the sandbox; it provides "
        f"{', '.join(__all__)}. The rest of Pyodide exists only on the platform."
    )
