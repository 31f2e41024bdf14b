"""The ``workers`` module a Python Worker imports, served by dosandbox.

Names and shapes follow the real SDK (``workers-runtime-sdk``, which needs Pyodide and cannot
run under CPython): ``DurableObject`` and ``WorkerEntrypoint`` store ``ctx`` and ``env``
(wrapped as the SDK wraps them), ``Response(body, status, status_text, headers, web_socket)``
with ``Response.json``/``from_json``/``redirect``, ``Request``, ``fetch`` (to ``sb.outbound``),
``handler``, ``env`` and ``wait_until``.
"""

from __future__ import annotations

import functools
from http import HTTPMethod, HTTPStatus
from typing import Any

from ..._runtime.http import Request
from ..._runtime.http import Response as _Response
from ..._runtime.object import DurableObject as _DurableObject
from ..._runtime.worker import ExecutionContext, front_of, outbound_fetch
from . import state
from .ffi import JsDict, PyCtx, PyEnv

__all__ = [
    "DurableObject",
    "JsDict",
    "Request",
    "Response",
    "WorkerEntrypoint",
    "fetch",
    "handler",
    "import_from_javascript",
    "waitUntil",
    "wait_until",
]
# ``env`` is served by the module __getattr__ below: the env of the Worker being run.


class Response(_Response):
    """``Response(body=None, status=None, status_text="", headers=None, web_socket=None)``."""

    __slots__ = ()

    def __init__(
        self,
        body: Any = None,
        status: HTTPStatus | int | None = None,
        status_text: str = "",
        headers: Any = None,
        web_socket: Any = None,
        **options: Any,
    ) -> None:
        if isinstance(status, HTTPStatus):
            status = status.value
        super().__init__(
            body,
            status=200 if status is None else status,
            status_text=status_text or None,
            headers=headers,
            web_socket=web_socket,
            **options,
        )

    @staticmethod
    def from_json(
        data: Any,
        status: HTTPStatus | int = HTTPStatus.OK,
        status_text: str = "",
        headers: Any = None,
    ) -> _Response:
        """A JSON response (``content-type: application/json``), as the SDK's ``from_json``."""
        code = status.value if isinstance(status, HTTPStatus) else status
        return Response._from_json(data, status=code, status_text=status_text or None,
                                   headers=headers)


def _wrap_init(cls: type, wrap_ctx: bool) -> None:
    """Wrap ``ctx`` and ``env`` in the class's own ``__init__``, as the SDK's ``_wrap_class``."""
    original = cls.__dict__.get("__init__")
    if original is None or getattr(original, "__dosandbox_wrapped__", False):
        return

    @functools.wraps(original)
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> None:
        items = list(args)
        if items and wrap_ctx:
            items[0] = PyCtx(items[0])
        if len(items) > 1:
            items[1] = PyEnv(items[1])
        original(self, *items, **kwargs)

    wrapped.__dosandbox_wrapped__ = True  # type: ignore[attr-defined]
    cls.__init__ = wrapped  # type: ignore[misc]


class DurableObject(_DurableObject):
    """Base class of a Durable Object: ``__init__(self, ctx, env)`` stores both."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _wrap_init(cls, wrap_ctx=True)


class WorkerEntrypoint:
    """Base class of a Worker: ``class Default(WorkerEntrypoint)`` with ``async def fetch``."""

    ctx: ExecutionContext
    env: Any

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _wrap_init(cls, wrap_ctx=False)


_wrap_init(DurableObject, wrap_ctx=True)
_wrap_init(WorkerEntrypoint, wrap_ctx=False)


async def fetch(resource: Any, **options: Any) -> _Response:
    """``await fetch(url, method=, headers=, body=)``: to ``sb.outbound`` (refused by default)."""
    method = options.get("method")
    if isinstance(method, HTTPMethod):
        options["method"] = method.value
    return await outbound_fetch(resource, **options)


def handler(func: Any) -> Any:
    """Old-style ``@handler async def on_fetch(request, env)``: arguments as the SDK gives."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if len(args) > 1:
            args = (args[0], PyEnv(args[1]), *args[2:])
        return func(*args, **kwargs)

    return wrapper


def wait_until(awaitable: Any) -> None:
    """``waitUntil`` of the current request: run ``awaitable`` after the response."""
    from ..._core.loop import _get_running_loop

    front = front_of(_get_running_loop()) or state.loading_front()
    if front is None:
        raise RuntimeError(
            "workers.wait_until() was called outside a request: call it from the Worker's "
            "fetch or an object's code (sb.fetch(...) runs them)."
        )
    ExecutionContext(front, "workers.wait_until").wait_until(awaitable)


waitUntil = wait_until


def _current_env() -> PyEnv:
    from ..._core.loop import _get_running_loop

    front = front_of(_get_running_loop()) or state.loading_front()
    if front is None:
        raise ImportError(
            "workers.env is the env of the Worker being loaded or run; import it inside a "
            "project loaded with Sandbox.from_project(...) (or dosandbox.load_project)."
        )
    return PyEnv(front.env)


class _CloudflareWorkers:
    """``import_from_javascript("cloudflare:workers")``: ``env`` and ``waitUntil``."""

    @property
    def env(self) -> PyEnv:
        return _current_env()

    waitUntil = staticmethod(wait_until)


def import_from_javascript(name: str) -> Any:
    if name == "cloudflare:workers":
        return _CloudflareWorkers()
    raise ImportError(
        f"import_from_javascript({name!r}): the sandbox provides only 'cloudflare:workers' "
        "(env, waitUntil); other JavaScript modules exist only on the platform."
    )


def __getattr__(name: str) -> Any:
    if name == "env":
        return _current_env()
    raise AttributeError(f"module 'workers' has no attribute {name!r}")
