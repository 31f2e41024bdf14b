"""The parts of Pyodide's ``js`` module Python Workers projects use, served by dosandbox.

``WebSocketPair.new().object_values()`` (client, server), ``Response.new(body, init)`` and
``Response.json``, ``Request.new``, ``Object.fromEntries/keys/values/entries``,
``JSON.stringify/parse``, ``Date.now()`` (the virtual clock, epoch ms) and ``Date.new(ms)``,
``console.log``, and ``fetch`` (to ``sb.outbound``, refused by default). Anything else a project
reaches for raises an AttributeError naming what exists, since the rest of JavaScript's globals
exist only on the platform.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..._core.loop import _get_running_loop
from ..._runtime.http import Request as _Request
from ..._runtime.websocket import WebSocket
from ..._runtime.websocket import WebSocketPair as _Pair
from ..._runtime.worker import front_of, outbound_fetch
from . import workers
from .ffi import from_js, to_plain
from .pyodide_ffi import JsProxy

__all__ = ["JSON", "Date", "Object", "Request", "Response", "WebSocketPair", "console", "fetch"]


class _PairProxy:
    """A new WebSocketPair as Python sees it: ``object_values()`` gives (client, server)."""

    def __init__(self) -> None:
        self._pair = _Pair()

    def object_values(self) -> tuple[WebSocket, WebSocket]:
        return self._pair[0], self._pair[1]

    def object_keys(self) -> list[str]:
        return ["0", "1"]

    def __getitem__(self, index: int | str) -> WebSocket:
        return self._pair[int(index)]

    def __iter__(self) -> Any:
        return iter(self.object_values())


JsProxy.register(_PairProxy)


class WebSocketPair:
    """``WebSocketPair.new()``, as Pyodide spells ``new WebSocketPair()``."""

    @staticmethod
    def new() -> _PairProxy:
        return _PairProxy()


_INIT_NAMES = {"statusText": "status_text", "webSocket": "web_socket"}


def _init(init: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    options = dict(init.items()) if isinstance(init, Mapping) else {}
    if init is not None and not isinstance(init, Mapping):
        raise TypeError(
            f"Response.new(body, init): init is an object such as {{'status': 404}}, not "
            f"{type(init).__name__}."
        )
    options.update(kwargs)
    return {_INIT_NAMES.get(k, k): v for k, v in options.items()}


class Response:
    """JavaScript's ``Response``: ``Response.new(body, {"status": 101, "webSocket": ws})``."""

    @staticmethod
    def new(body: Any = None, init: Any = None, **kwargs: Any) -> workers.Response:
        return workers.Response(body, **_init(init, kwargs))

    @staticmethod
    def json(data: Any, init: Any = None, **kwargs: Any) -> Any:
        return workers.Response.json(to_plain(data), **_init(init, kwargs))

    @staticmethod
    def redirect(url: str, status: int = 302) -> Any:
        return workers.Response.redirect(url, status)


class Request:
    """JavaScript's ``Request``: ``Request.new(url, {"method": "POST", "body": ...})``."""

    @staticmethod
    def new(input: Any, init: Any = None, **kwargs: Any) -> _Request:
        options = dict(init.items()) if isinstance(init, Mapping) else {}
        options.update(kwargs)
        return _Request(input, **options)


class Object:
    """``Object.fromEntries``, ``keys``, ``values``, ``entries``."""

    @staticmethod
    def fromEntries(entries: Iterable[Any]) -> Any:
        items = entries.items() if isinstance(entries, Mapping) else entries
        return from_js({k: v for k, v in items})

    @staticmethod
    def keys(value: Mapping[str, Any]) -> list[str]:
        return list(value.keys())

    @staticmethod
    def values(value: Mapping[str, Any]) -> list[Any]:
        return list(value.values())

    @staticmethod
    def entries(value: Mapping[str, Any]) -> list[list[Any]]:
        return [[k, v] for k, v in value.items()]


class JSON:
    """``JSON.stringify(value)`` (compact, as JavaScript writes it) and ``JSON.parse(text)``."""

    @staticmethod
    def stringify(value: Any) -> str:
        return json.dumps(to_plain(value), separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def parse(text: str) -> Any:
        return from_js(json.loads(text))


class Date:
    """``Date.now()`` reads the virtual clock inside sandbox code; ``Date.new(ms)``."""

    @staticmethod
    def now() -> int:
        front = front_of(_get_running_loop())
        if front is not None:
            return int(front.world.clock.now_ms)
        return int(time.time() * 1000)

    @staticmethod
    def new(ms: float | None = None) -> dt.datetime:
        if ms is None:
            ms = Date.now()
        return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


class console:
    """``console.log(...)`` and friends print, so the output appears where you acted."""

    @staticmethod
    def log(*args: Any) -> None:
        print(*args)

    error = warn = info = debug = log


async def fetch(resource: Any, init: Any = None, **kwargs: Any) -> Any:
    """JavaScript's ``fetch(url, init)``: to ``sb.outbound`` (refused by default)."""
    options = dict(init.items()) if isinstance(init, Mapping) else {}
    options.update(kwargs)
    return await outbound_fetch(resource, **options)


def __getattr__(name: str) -> Any:
    raise AttributeError(
        f"module 'js' has no attribute {name!r} in the sandbox; it provides "
        f"{', '.join(__all__)}. Other JavaScript globals exist only on the platform."
    )
