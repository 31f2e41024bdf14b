"""The Worker in front of the objects, and ``fetch()`` to the outside under control.

On the platform every request reaches a Worker first; the Worker's ``fetch`` routes it to an
object through a binding (``env.ROOMS.get(id).fetch(request)``). :class:`Front` plays that part
for one sandbox: ``sb.fetch(...)`` and ``sb.connect("/room/lobby")`` go through it.

The Worker is one of:

- a class, as Python Workers write it (``class Default(WorkerEntrypoint)`` with
  ``async def fetch(self, request)``): a new instance per request, built as ``cls(ctx, env)``,
  as workerd builds one per invocation;
- a function ``fetch(request, env, ctx)`` (or taking only the first one or two), as a
  JavaScript module Worker's ``fetch`` or an old-style ``on_fetch(request, env)``;
- nothing: then ``/<object>/<name>/...`` goes to that object's ``fetch``, unchanged.

Worker code runs on the sandbox's loop, like object code, so ``await stub.method()`` inside it
is an ordinary await. The Worker holds no input gate (it is not an object). Each request, its
response and any failure are events (``worker.fetch``, ``worker.response``, ``worker.error``).

Outbound ``fetch()`` (``workers.fetch``, ``js.fetch``) goes to :class:`Outbound`: refused by
default, as a test should never reach the network by accident; ``sb.outbound = fn`` or a route
table answers it instead (Miniflare's ``outboundService`` and ``fetchMock`` do the same job).
Every request is an ``outbound.fetch`` event, answered or refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import weakref
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any

from .._core.aliases import AliasMixin
from .._core.errors import HttpError, OutboundFetchError, ValidationError
from .._core.events import (
    OUTBOUND_FETCH,
    WORKER_ERROR,
    WORKER_FETCH,
    WORKER_RESPONSE,
    WORKER_WAIT_UNTIL,
)
from .._core.loop import _get_running_loop
from .._core.world import World
from .http import BASE_URL, Request, Response, fetch_request
from .rpc import WorkerRequestHold, worker_request

__all__ = ["ExecutionContext", "Front", "Outbound", "WorkerCall", "outbound_fetch"]

# The sandbox loop → its Front, so fetch() called from running code finds its sandbox. Weak on
# both sides: a Front holds its sandbox's world, which holds the loop, so a strong value would
# keep its own key (and every sandbox ever made) alive.
_FRONTS: weakref.WeakKeyDictionary[Any, weakref.ref[Front]] = weakref.WeakKeyDictionary()


class ExecutionContext(AliasMixin):
    """The Worker's ``self.ctx`` (``ctx`` of a function Worker): ``wait_until`` and ``props``.

    ``wait_until(awaitable)`` runs work after the response is returned (the driver keeps the
    loop running until it is done or waits on time); a failure is a ``worker.error`` event.
    ``waitUntil`` and ``passThroughOnException`` are the platform's spellings.
    """

    def __init__(self, front: Front, label: str) -> None:
        self._front = front
        self._label = label
        self._hold = WorkerRequestHold(label)  # its stubs: they go when the request is done
        self.props: dict[str, Any] = {}

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        if not inspect.isawaitable(awaitable):
            raise ValidationError(
                f"ctx.wait_until() takes an awaitable (a coroutine or a task), not "
                f"{type(awaitable).__name__}; pass the call itself, e.g. "
                "ctx.wait_until(log_visit(request))."
            )
        world = self._front.world
        task = world.loop.create_task(_as_coroutine(awaitable))
        # The loop keeps only a weak reference to a task: the Front holds it until it ends.
        pending = self._front.waiting
        pending.add(task)
        label = self._label
        hold = self._hold
        hold.enter()  # the request's stubs stay usable until this work is done as well

        def done(t: asyncio.Task[Any]) -> None:
            pending.discard(t)
            hold.leave()
            if t.cancelled():
                return
            err = t.exception()
            if err is not None:
                world.event_log.emit(
                    WORKER_ERROR, f"wait_until work of {label} raised {type(err).__name__}: "
                    f"{err}", error=err,
                )
            else:
                world.event_log.emit(WORKER_WAIT_UNTIL, f"wait_until work of {label} done")

        task.add_done_callback(done)

    def pass_through_on_exception(self) -> None:
        """Accepted; there is no origin server behind the sandbox to pass through to."""

    waitUntil = wait_until
    passThroughOnException = pass_through_on_exception


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _positional_count(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return 3
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 3
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def check_worker(worker: Any) -> None:
    """Refuse a ``worker=`` that is neither a class with ``fetch`` nor a function."""
    if worker is None:
        return
    if isinstance(worker, type):
        if not callable(getattr(worker, "fetch", None)):
            raise ValidationError(
                f"Sandbox(worker={worker.__name__}) is a class without a fetch method; the "
                "Worker in front needs `async def fetch(self, request)` (class "
                "Default(WorkerEntrypoint) in a Python Worker)."
            )
        return
    if not callable(worker):
        raise ValidationError(
            f"Sandbox(worker=...) takes a Worker class (with `fetch(self, request)`) or a "
            f"function `fetch(request, env, ctx)`, not {type(worker).__name__} {worker!r:.60}."
        )


class Front:
    """One sandbox's Worker: dispatches ``sb.fetch`` requests, owns the outbound handler."""

    def __init__(
        self,
        world: World,
        *,
        env: Any,
        worker: Any = None,
        router: Callable[[Request], Awaitable[Response]] | None = None,
    ) -> None:
        check_worker(worker)
        self.world = world
        self.env = env
        self.worker = worker
        # What answers when there is no Worker: the sandbox's /<object>/<name>/... router.
        self._router = router
        self.outbound = Outbound(world)
        self.waiting: set[asyncio.Task[Any]] = set()  # ctx.wait_until work not done yet
        self._count = 0
        _FRONTS[world.loop] = weakref.ref(self)

    def close(self) -> None:
        """The sandbox closes: work still waiting in ctx.wait_until() is cancelled."""
        tasks = list(self.waiting)
        self.waiting.clear()
        for task in tasks:
            task.cancel()
        if tasks:

            async def settle() -> None:
                await asyncio.gather(*tasks, return_exceptions=True)

            # Let the cancelled work unwind (its finally blocks run) before the loop closes.
            with contextlib.suppress(Exception):
                self.world.driver.drive(settle(), "closing the sandbox")

    def fetch(self, request: Any = None, init: dict[str, Any] | None = None) -> WorkerCall:
        """An awaitable sending ``request`` (a URL or a Request) to the Worker."""
        return WorkerCall(self, fetch_request(request, init or {}))

    async def dispatch(self, request: Request) -> Response:
        """Run one request through the Worker (on the sandbox loop) and check its answer.

        An exception raised by the Worker (or an object it awaits) is a ``worker.error``
        event and is raised to the caller of ``sb.fetch``, so a notebook shows its traceback.
        The platform instead answers the client with a 500 and logs the exception; a server
        in front of the sandbox turns the raise into that 500.
        """
        self._count += 1
        label = f"request #{self._count} {request.method} {request.parsed_url.raw_path.decode()}"
        log = self.world.event_log
        started = self.world.clock.now_ms
        log.emit(WORKER_FETCH, f"{request.method} {request.url}", url=request.url,
                 method=request.method)
        received = request._for_object()
        try:
            result = await self._call(received, label)
            if not isinstance(result, Response):
                raise HttpError(
                    f"The Worker's fetch returned {type(result).__name__} {result!r:.60}, not a "
                    "Response, for " + f"{request.method} {request.url}. The platform fails "
                    "the same way (TypeError: Incorrect type for Promise: the Promise did not "
                    "resolve to 'Response'). Return Response(...) or Response.json(data)."
                )
        except Exception as exc:  # (a cancel or Ctrl-C is no error of the Worker's)
            log.emit(WORKER_ERROR, f"{request.method} {request.url} raised "
                     f"{type(exc).__name__}: {exc}", error=exc)
            raise
        took = self.world.clock.now_ms - started
        log.emit(
            WORKER_RESPONSE, f"{result.status} {request.method} {request.url}"
            + (" (WebSocket)" if result.web_socket is not None else "")
            + (f" after {took} ms" if took else ""),
            status=result.status, url=request.url,
        )
        return result

    async def _call(self, request: Request, label: str) -> Any:
        worker = self.worker
        ctx = ExecutionContext(self, label)
        if worker is None:
            if self._router is None:  # pragma: no cover - the sandbox always gives one
                raise HttpError("No Worker and no router: nothing answers this request.")
            return await self._router(request)
        token = worker_request.set(ctx._hold)
        try:
            if isinstance(worker, type):
                result = worker(ctx, self.env).fetch(request)
            else:
                args = (request, self.env, ctx)[: min(3, max(1, _positional_count(worker)))]
                result = worker(*args)
            if inspect.isawaitable(result):
                result = await result
        finally:
            worker_request.reset(token)
            ctx._hold.leave()  # answered: its stubs go now, or when its wait_until work ends
        return result


class WorkerCall:
    """``sb.fetch(...)``: awaitable once, from a cell, a coroutine or inside sandbox code.

    From outside the sandbox loop (a notebook cell, a coroutine of the notebook's loop such as
    a server's request handler) awaiting it drives the sandbox until the Worker answered;
    inside Worker or object code it is an ordinary await. ``sb.run(call)`` works too.
    """

    __slots__ = ("_front", "_request")

    def __init__(self, front: Front, request: Request) -> None:
        self._front = front
        self._request = request

    @property
    def request(self) -> Request:
        return self._request

    def __repr__(self) -> str:
        return (f"<WorkerCall {self._request.method} {self._request.url} not sent yet: await "
                "it, or pass it to sb.run()>")

    def _dosandbox_coroutine(self) -> Any:
        return self._front.dispatch(self._request)

    def __await__(self) -> Generator[Any, None, Response]:
        world = self._front.world
        running = _get_running_loop()
        what = f"sb.fetch({self._request.url})"
        if running is world.loop:
            return (yield from self._front.dispatch(self._request).__await__())
        if running is not None and _other_tasks_ready(running):
            # Siblings in asyncio.gather(): send this request, let them send theirs, then
            # drive, so they meet inside the sandbox as concurrent requests.
            task = world.loop.create_task(self._front.dispatch(self._request))
            yield
            return world.driver.drive(task, what)
        return world.driver.drive(self._front.dispatch(self._request), what)


def _other_tasks_ready(loop: Any) -> bool:
    for handle in getattr(loop, "_ready", ()):
        if isinstance(getattr(handle._callback, "__self__", None), asyncio.Task):
            return True
    return False


# --- outbound fetch --------------------------------------------------------------------------

Route = Response | Callable[[Request], Any]
_HOW_TO = (
    "Mock it with a route table, sb.outbound = {'https://api.example.com/': "
    "Response.json({...})} (a URL prefix or a host name, or '*', mapped to a Response or to a "
    "function of the request), or answer every request with a function, sb.outbound = fn "
    "(def or async def fn(request) -> Response); to allow the real network, make that "
    "function send the request (e.g. with httpx)."
)


class Outbound:
    """Where ``fetch()`` from Worker or object code goes: nowhere (the default) or a handler.

    ``handler`` is None (refuse, with the way to allow or mock it), a function of the request
    returning a Response (sync or async), or a route table: keys are URL prefixes
    (``"https://api.example.com/v1/"``), host names (``"api.example.com"``) or ``"*"``; the
    longest matching key wins; values are a Response (a fresh copy each time) or a function.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self._handler: Callable[[Request], Any] | dict[str, Route] | None = None

    @property
    def handler(self) -> Callable[[Request], Any] | dict[str, Route] | None:
        return self._handler

    def set(self, value: Any) -> None:
        if value is None or (callable(value) and not isinstance(value, Mapping)):
            self._handler = value
            return
        if not isinstance(value, Mapping):
            raise ValidationError(
                f"sb.outbound takes a function, a route table (dict) or None, not "
                f"{type(value).__name__} {value!r:.60}. " + _HOW_TO
            )
        table: dict[str, Route] = {}
        for key, route in value.items():
            if not isinstance(key, str) or not key:
                raise ValidationError(
                    f"sb.outbound route {key!r} is not a URL prefix or host name; write keys "
                    "like 'https://api.example.com/' or 'api.example.com' (or '*' for the rest)."
                )
            if not isinstance(route, Response) and not callable(route):
                raise ValidationError(
                    f"sb.outbound route {key!r} maps to {type(route).__name__} {route!r:.60}; a "
                    "route gives a Response (e.g. Response.json({'ok': True})) or a function "
                    "of the request returning one."
                )
            table[key] = route
        self._handler = table

    def _route(self, table: dict[str, Route], request: Request) -> Route | None:
        url, host = request.url, request.parsed_url.host
        best: tuple[int, Route] | None = None
        for key, route in table.items():
            if "://" in key:
                hit = url.startswith(key) or url == key.rstrip("/") + "/"
            else:
                hit = key == "*" or host == key.lower()
            weight = 0 if key == "*" else len(key)
            if hit and (best is None or weight > best[0]):
                best = (weight, route)
        return None if best is None else best[1]

    async def fetch(self, request: Request) -> Response:
        log = self.world.event_log
        what = f"{request.method} {request.url}"
        handler = self._handler
        route: Route | None
        if isinstance(handler, dict):
            route = self._route(handler, request)
            if route is None:
                log.emit(OUTBOUND_FETCH, f"refused {what}: no route", url=request.url,
                         method=request.method, refused=True)
                raise OutboundFetchError(
                    f"fetch({request.url}) matches no route of sb.outbound (routes: "
                    f"{', '.join(sorted(handler))}). Add a route for it, e.g. "
                    f"sb.outbound[{request.parsed_url.host!r}] = Response('...'), or a '*' "
                    "route for every other URL."
                )
        else:
            route = handler
        if route is None:
            log.emit(OUTBOUND_FETCH, f"refused {what}: the network is off", url=request.url,
                     method=request.method, refused=True)
            raise OutboundFetchError(
                f"fetch({request.url}) from Worker or object code would reach the network, "
                "which the sandbox refuses unless you say where requests go. " + _HOW_TO
            )
        if isinstance(route, Response):
            result: Any = route
        else:
            try:
                result = route(request)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                log.emit(OUTBOUND_FETCH, f"{what}: the sb.outbound handler raised "
                         f"{type(exc).__name__}: {exc}", url=request.url, method=request.method,
                         error=exc)
                raise
        if not isinstance(result, Response):
            log.emit(OUTBOUND_FETCH, f"{what}: handler gave no Response", url=request.url,
                     method=request.method, refused=True)
            raise OutboundFetchError(
                f"The sb.outbound handler answered fetch({request.url}) with "
                f"{type(result).__name__} {result!r:.60}, not a Response; return "
                "Response('text'), Response.json(data) or Response(None, status=204)."
            )
        log.emit(OUTBOUND_FETCH, f"{result.status} {what}", url=request.url,
                 method=request.method, status=result.status)
        answer = result._copy(immutable=True)
        answer.url = request.url
        return answer


def front_of(loop: Any) -> Front | None:
    """The Front of the sandbox whose loop is ``loop`` (None outside every sandbox)."""
    ref = None if loop is None else _FRONTS.get(loop)
    return None if ref is None else ref()


async def outbound_fetch(resource: Any = None, /, **init: Any) -> Response:
    """``fetch(url_or_request, method=, headers=, body=)`` from Worker or object code."""
    front = front_of(_get_running_loop())
    if front is None:
        raise OutboundFetchError(
            "fetch() was called outside a sandbox's Worker or object code, so there is no "
            "sb.outbound to send it to. Call it from the Worker's fetch or an object's method "
            "(await sb.fetch(...) runs them)."
        )
    if isinstance(resource, str) and "://" not in resource:
        # The platform has no base URL for an outbound fetch: "TypeError: Invalid URL".
        raise OutboundFetchError(
            f"Invalid URL: {resource}. An outbound fetch() needs an absolute URL "
            f"('https://api.example.com{resource if resource.startswith('/') else '/'}'); "
            f"relative URLs only work for sb.fetch, which resolves them against {BASE_URL}."
        )
    return await front.outbound.fetch(fetch_request(resource, init))
