"""A real HTTP/1.1 and WebSocket endpoint for a sandbox: ``sb.serve()`` and ``dosandbox dev``.

The server is aiohttp's low-level web server running on the *caller's* asyncio loop (the
Jupyter kernel's, or the one ``dosandbox dev`` runs), so notebook cells keep working while it
serves. Object code still runs only on the sandbox's own loop: each request becomes a task
there, and the server drives the sandbox loop through what is ready (a "pump", the same
re-entrant drive a notebook call makes), then answers when the task is done. While it serves,
the clock follows the wall clock (realtime mode), so alarms and timers fire on time, and the
realtime follower moves anything that waits on time.

Every request goes to the Worker in front, as ``sb.fetch(request)`` sends it (:func:`dispatch`,
run on the sandbox loop): a project's ``WorkerEntrypoint``, ``Sandbox(worker=...)``, or with
neither, ``/<object>/<name>/...`` to that object's ``fetch``, the request unchanged. An
exception that escapes the Worker or the object answers 500, as on the platform.

WebSockets. An upgrade request goes to the object like any other; when its ``fetch`` answers
101 with the client half of a ``WebSocketPair`` (accepted with ``ctx.accept_web_socket`` or
``ws.accept()``), the server completes the real handshake and bridges the real socket to that
half, exactly where a simulated client would sit (:class:`RealSocket` plays the client end):

* a text or binary frame from the browser arrives at the object's half as a message;
* what the object sends leaves, in order, when the event that sent it has finished (the
  output gate, kept by the object's socket registry);
* a Close from the browser reaches ``web_socket_close`` with its code; the object's answer
  (or the runtime's automatic one, the same code) goes back on the wire;
* the object's own ``ws.close(code, reason)`` goes out as a Close frame, and the browser's echo
  reaches ``web_socket_close`` (as a browser always echoes the code, the echo carries it);
* a browser that goes away without a Close (a closed laptop, a dropped TCP connection) is a
  1006 for the object; an object that is reset drops the TCP connection (the browser sees
  1006);
* ``server.stop()`` sends Close 1001 (Going Away) to every browser, and the object's
  ``web_socket_close`` runs with 1001 as if the client had left.

One difference from the wire: a close frame without a status (``ws.close()`` with no code in
the object) goes out as 1000, because the server library always writes a status code.
Bodies are read whole before the object sees them, and sent whole (a ``Response`` holds
bytes); HTTP clients may still stream uploads and downloads (chunked transfer) over the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import socket
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from aiohttp import WSMsgType, web
from aiohttp.web_request import BaseRequest

from .._core.errors import (
    DurableObjectNotFoundError,
    HttpError,
    ServeError,
    WebSocketLimitError,
)
from .._core.world import World
from .._runtime.http import Request, Response, _headers
from .._runtime.websocket import TOO_LARGE_REASON, WebSocket, _Close, disconnect
from .jupyter_proxy import has_server_proxy, proxy_url

__all__ = ["GOING_AWAY", "RealSocket", "RequestLog", "Server", "dispatch"]

T = TypeVar("T")

# The close code a browser gets when the server stops (RFC 6455 §7.4.1: "going away").
GOING_AWAY = 1001
GOING_AWAY_REASON = "dosandbox server stopped"
# Messages kept per served socket and direction, for the inspector.
RECENT_MESSAGES = 10
# Seconds the shutdown waits for Close frames to be written and connections to end.
SHUTDOWN_TIMEOUT = 2.0
# A client with this much unsent in its TCP buffer gets a writer task of its own (it may wait).
_BUSY_BYTES = 64 * 1024
# Headers the server library writes itself: the object's values would contradict it.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
_HANDSHAKE_HEADERS = frozenset({
    "upgrade", "connection", "sec-websocket-accept", "sec-websocket-protocol",
    "sec-websocket-extensions", "content-length", "transfer-encoding",
})


class Sandboxish(Protocol):
    """What the server needs of a sandbox (the faces' ``Sandbox``; this layer cannot import it)."""

    world: World

    def fetch(self, request: Request) -> Awaitable[Response]: ...


Dispatch = Callable[[Any, Request], Awaitable[Response]]
RequestLog = Callable[[str, str, int, str, float], None]


# --- the seam: where a request goes ------------------------------------------------------------


async def dispatch(sandbox: Sandboxish, request: Request) -> Response:
    """Where a served request goes; runs on the sandbox loop: the Worker in front.

    That is the project's ``WorkerEntrypoint`` (or ``Sandbox(worker=...)``); with none,
    ``/<object>/<name>/rest`` goes to that object's ``fetch``, the request unchanged (the object
    sees the whole path), exactly as ``sb.fetch(request)`` does.
    """
    response: Response = await sandbox.fetch(request)
    return response


# --- one real WebSocket, bridged to the client half of a WebSocketPair ------------------------


class _Outgoing:
    """``RealSocket._messages``: the registry's flush appends frames here (its hot path)."""

    __slots__ = ("_socket",)

    def __init__(self, sock: RealSocket) -> None:
        self._socket = sock

    def append(self, frame: Any) -> None:
        self._socket._push(frame)

    def __len__(self) -> int:
        return len(self._socket._queue)


class RealSocket:
    """The client end of a served WebSocket: a real connection in place of a simulated client.

    Frames the object sends are queued per socket. The server writes the queues of every
    socket that has frames in one flush task (a broadcast to 1,000 sockets is one task step,
    not 1,000): a write that may wait (a Close, or a client whose TCP buffer is full) moves
    that socket to a writer task of its own, so one slow client never holds up the others.
    Frames from the browser are handed to the object's half, then the sandbox is pumped so
    the handler runs at once.
    """

    def __init__(self, server: Server, half: WebSocket, wire: web.WebSocketResponse,
                 request: BaseRequest, path: str) -> None:
        self._server = server
        self._half = half  # the client half; half._peer is the object's
        self._wire = wire
        self._request = request
        self._transport = request.transport
        self.path = path
        self._queue: deque[Any] = deque()
        self._writer: asyncio.Task[None] | None = None  # this socket's own writer, if busy
        self._ended = False
        self._done: asyncio.Future[None] = server._loop.create_future()
        self._messages = _Outgoing(self)
        self._going_away = False
        self._client_closed = False  # the browser sent Close (or went away)
        self._object_closing = False  # the object's Close is being written
        self.close_code: int | None = None
        self.messages_in = 0
        self.messages_out = 0
        # The last few messages each way, for the inspector's Sockets tab (a simulated
        # client keeps all of them; a real connection may carry millions).
        self._recent_out: deque[str | bytes] = deque(maxlen=RECENT_MESSAGES)
        self._recent_in: deque[str | bytes] = deque(maxlen=RECENT_MESSAGES)
        half._client = self
        pending, half._pending = half._pending, None
        for frame in pending or ():
            self._receive(frame)

    def __repr__(self) -> str:
        state = "closed" if self._ended else "open"
        return f"<RealSocket {self.path} {state} in={self.messages_in} out={self.messages_out}>"

    @property
    def messages(self) -> list[str | bytes]:
        """The last messages the object sent to this client (at most RECENT_MESSAGES)."""
        return list(self._recent_out)

    @property
    def sent(self) -> list[str | bytes]:
        """The last messages this client sent to the object (at most RECENT_MESSAGES)."""
        return list(self._recent_in)

    # --- from the object ------------------------------------------------------------------

    def _receive(self, frame: Any) -> None:
        """A frame from the object's half (ClientEnd protocol), including a Close."""
        self._push(frame)

    def _push(self, frame: Any) -> None:
        if self._ended:
            return  # the connection is gone: the platform drops what is sent to it
        self._queue.append(frame)
        if type(frame) is not _Close:
            self._recent_out.append(frame)
        if self._writer is None:
            self._server._mark_dirty(self)

    async def _write_queued(self) -> None:
        """Write what is queued without waiting; hand over to a writer task if it may wait."""
        queue, wire, transport = self._queue, self._wire, self._transport
        try:
            while queue:
                frame = queue[0]
                kind = type(frame)
                if kind is _Close or (
                    transport is not None and transport.get_write_buffer_size() > _BUSY_BYTES
                ):
                    self._writer = self._server._loop.create_task(self._write_alone())
                    return
                queue.popleft()
                if kind is str:
                    await wire.send_str(frame)
                else:
                    await wire.send_bytes(frame)
                self.messages_out += 1
        except (ConnectionError, RuntimeError):
            self._lost()  # the connection went away under us

    async def _write_alone(self) -> None:
        """This socket's own writer: frames in order, waiting for the client when it must."""
        queue, wire = self._queue, self._wire
        try:
            while queue:
                frame = queue.popleft()
                kind = type(frame)
                if kind is str:
                    await wire.send_str(frame)
                elif kind is bytes:
                    await wire.send_bytes(frame)
                else:
                    await self._close_from_object(frame)
                    self._end()
                    return
                self.messages_out += 1
        except (ConnectionError, RuntimeError):
            self._lost()
        except asyncio.CancelledError:
            self._lost()  # the shutdown ended this connection
            raise
        finally:
            self._writer = None

    def _end(self) -> None:
        self._ended = True
        self._queue.clear()
        if not self._done.done():
            self._done.set_result(None)

    async def _close_from_object(self, frame: _Close) -> None:
        half = self._half
        half._closed_in = True
        if not frame.clean:
            # A reset (or a disconnect of the object's side): drop the TCP connection, so the
            # browser sees 1006, as when the platform resets an object.
            transport = self._request.transport
            if transport is not None:
                transport.close()
            half._closed_out = True
            return
        code = GOING_AWAY if self._going_away else (1000 if frame.code == 1005 else frame.code)
        reason = GOING_AWAY_REASON if self._going_away else frame.reason
        self.close_code = code
        self._object_closing = True
        await self._wire.close(code=code, message=reason.encode())
        if not half._closed_out:
            # The object closed first. A browser answers a Close with the same code; the
            # object's web_socket_close then runs with it (clean), as with simulated clients.
            half._closed_out = True
            self._server._deliver(half._peer._arrive(_Close(frame.code, frame.reason)))

    # --- from the browser -----------------------------------------------------------------

    async def read_loop(self) -> None:
        """Hand each frame from the browser to the object until the connection ends."""
        wire, half, server = self._wire, self._half, self._server
        limit = server._world.limits.max_message_bytes
        while True:
            msg = await wire.receive()
            kind = msg.type
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                if half._closed_out or server._world.closed:
                    continue  # sent after its own Close: the platform drops it too
                self.messages_in += 1
                self._recent_in.append(msg.data)
                server._deliver(half._peer._arrive(msg.data))
            elif kind is WSMsgType.CLOSE:
                code = msg.data or 1005  # a Close without a status: 1005 for the object
                self._client_closed = True
                if not half._closed_out:
                    half._closed_out = True
                    server._deliver(half._peer._arrive(_Close(code, msg.extra or "")))
                break
            elif kind is WSMsgType.ERROR and _too_big(msg.data):
                self._too_big(limit)
                break
            else:  # CLOSING (our own Close is on its way), CLOSED or another ERROR
                break
        if self._object_closing:
            await self.finished()  # the object closed first: its writer echoes the Close
        elif not self._client_closed and not half._closed_out:
            # The connection ended without a Close from either side: 1006 for the object.
            self._lost()
        elif self._client_closed:
            # Wait (briefly) for the object's answer to go out before the handler returns.
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self.finished(), SHUTDOWN_TIMEOUT * 5)
        self._end()

    def _too_big(self, limit: int) -> None:
        """A message over the limit: the platform closes with 1009 and runs web_socket_error."""
        server_half = self._half._peer
        reg = server_half._registry
        self._half._closed_out = True
        if reg is None:
            return
        error = WebSocketLimitError(
            f"WebSocket message is too large: over {limit} bytes; an object receives messages "
            f"of at most {limit} bytes. The platform closes the connection with 1009 "
            f"({TOO_LARGE_REASON}) and calls web_socket_error; split the data or send a "
            "reference to it.",
            limit=limit,
        )
        self._server._deliver(reg.receive_error(server_half, error, 1009, TOO_LARGE_REASON))

    def _lost(self) -> None:
        """The browser is gone without a Close: the object sees 1006."""
        half = self._half
        self._client_closed = True
        self._end()
        if half._closed_out and half._closed_in:
            return
        self._server._deliver(disconnect(half))

    def going_away(self) -> None:
        """The server stops: the object hears the client leave with 1001 (run by the pump)."""
        self._going_away = True
        half = self._half
        if not half._closed_out and not self._server._world.closed:
            half._closed_out = True
            half._peer._arrive(_Close(GOING_AWAY, GOING_AWAY_REASON))

    def close_wire(self) -> None:
        """After what the object sent: Close 1001 to the browser (unless a Close already went)."""
        self._push(_Close(GOING_AWAY, GOING_AWAY_REASON))

    async def finished(self) -> None:
        """Wait until this socket is done (its Close written, or the connection gone)."""
        try:
            await asyncio.shield(self._done)
        except asyncio.CancelledError:
            if not self._done.cancelled():
                raise  # the waiting task itself is cancelled: let it end


def _too_big(error: Any) -> bool:
    return getattr(error, "code", None) == 1009


# --- the server ------------------------------------------------------------------------------

# Every running server of this process by (host, port): a re-run cell takes its port over.
_RUNNING: dict[tuple[str, int], Server] = {}


def _check_address(host: Any, port: Any) -> tuple[str, int]:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ServeError(
            f"serve(port=...) takes a TCP port number 1-65535 (or 0 for any free one), not "
            f"{type(port).__name__} {port!r}; e.g. sb.serve(port=8787).",
            port=port if isinstance(port, int) else None,
        )
    if not isinstance(host, str) or not host:
        raise ServeError(
            f"serve(host=...) takes an address to listen on as a str, such as '127.0.0.1' "
            f"(this machine only) or '0.0.0.0' (every interface), not {host!r}.",
            host=host if isinstance(host, str) else None, port=port,
        )
    return host, port


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a ServeError naming the port and the fix."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(
            f"Cannot listen on {host!r}: it is not an address of this machine ({exc.strerror}). "
            "Use '127.0.0.1' (this machine only) or '0.0.0.0' (every interface).",
            host=host, port=port,
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's servers do
        sock.bind(address)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"Port {port} on {host} is already in use by another program. Pass another "
                f"port, e.g. sb.serve(port={port + 1 if port < 65535 else 8787}) (or "
                f"--port {port + 1 if port < 65535 else 8787}), or stop what listens there "
                f"(`lsof -i :{port}` names it).",
                host=host, port=port,
            ) from None
        if exc.errno == errno.EACCES:
            raise ServeError(
                f"Port {port} needs privileges to listen on (ports below 1024 do); use a port "
                "from 1024 up, e.g. 8787 (what wrangler dev uses).",
                host=host, port=port,
            ) from None
        raise ServeError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Pass another host or port.",
            host=host, port=port,
        ) from None
    return sock


class Server:
    """A running endpoint for one sandbox: ``url``, ``proxy_url``, ``sockets``, ``stop()``.

    Made by ``sb.serve(port, host)``. Requests go through ``dispatch`` (see :func:`dispatch`)
    on the sandbox loop; ``on_request(method, path, status, status_text, ms)`` is told of
    every answered request (``dosandbox dev`` prints them).
    """

    def __init__(
        self,
        sandbox: Sandboxish,
        *,
        port: int = 8787,
        host: str = "127.0.0.1",
        dispatch: Dispatch = dispatch,
        on_request: RequestLog | None = None,
        announce: Callable[[str], None] | None = print,
    ) -> None:
        host, port = _check_address(host, port)
        world = sandbox.world
        world.check_open("sb.serve()")
        world.driver.check_outside("sb.serve()")
        self._sandbox = sandbox
        self._world = world
        self._dispatch = dispatch
        self._on_request = on_request
        self._announce = announce
        self.host = host
        self.requests = 0
        self.stopped = False
        self._sockets: dict[RealSocket, None] = {}
        self._parsed: dict[tuple[str, str, str], Request] = {}  # see _request
        self._dirty: dict[RealSocket, None] = {}  # sockets with frames to write
        self._flushing = False
        self._aserver: asyncio.AbstractServer | None = None
        self._shutdown: asyncio.Task[None] | None = None
        self._previous_mode: str | None = None
        self._done = asyncio.Event()  # set when stopped and every connection is closed
        running = asyncio.events._get_running_loop()  # not the sandbox's: checked above
        # No running loop (a plain script): the server runs while serve_forever() runs.
        self._own_loop = running is None
        self._in_serve_forever = False
        self._take_over(host, port)
        self._sock = _bind(host, port)  # first: a port in use leaves nothing to clean up
        self._loop = running if running is not None else asyncio.new_event_loop()
        self.port: int = self._sock.getsockname()[1]
        _RUNNING[(host, self.port)] = self
        self._web = web.Server(self._handle, loop=self._loop, access_log=None)
        if running is not None:
            self._starting: asyncio.Task[None] | None = running.create_task(self._start())
        else:
            self._starting = None
        self._follow_wall_clock()
        self._say_ready()

    # --- starting -------------------------------------------------------------------------

    def _take_over(self, host: str, port: int) -> None:
        older = _RUNNING.get((host, port))
        if older is not None and not older.stopped:
            # A server of this process holds the port (a re-run cell): stop it, keep going.
            older._world.event_log.emit(
                "serve", f"server on {older.url} stopped: a newer sb.serve() took port {port}",
                warning=True,
            )
            older.stop()

    async def _start(self) -> None:
        self._aserver = await self._loop.create_server(self._web, sock=self._sock)

    def _follow_wall_clock(self) -> None:
        clock = self._world.clock
        self._previous_mode = clock.mode
        if self._loop.is_running():
            clock.mode = "realtime"  # (re)starts the follower on this loop
        else:
            clock._mode = "realtime"  # the follower starts in serve_forever()

    def _say_ready(self) -> None:
        before = self._previous_mode
        clock_note = (
            "The clock follows the wall clock (realtime) while serving."
            if before == "realtime"
            else f"The clock now follows the wall clock (realtime) while serving, so alarms "
            f"fire on time; stop() puts it back to {before}."
        )
        self._world.event_log.emit("serve", f"serving {self.url}. {clock_note}", url=self.url)
        if self._announce is None:
            return
        lines = [f"Serving on {self.url}. {clock_note}"]
        proxied = self.proxy_url
        if proxied is not None:
            note = "" if has_server_proxy() else (
                " (needs jupyter-server-proxy in the Jupyter server's environment: "
                "pip install jupyter-server-proxy)"
            )
            lines.append(f"Through this Jupyter server: {proxied}{note}")
        if self._own_loop:
            lines.append("Call server.serve_forever() to answer requests (Ctrl-C stops).")
        self._announce("\n".join(lines))

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def proxy_url(self) -> str | None:
        """The URL through ``jupyter-server-proxy`` when running under Jupyter, else None."""
        return proxy_url(self.port)

    @property
    def sockets(self) -> list[RealSocket]:
        """The real WebSockets connected now, oldest first."""
        return list(self._sockets)

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "serving"
        return f"<Server {self.url} {state} requests={self.requests} sockets={len(self._sockets)}>"

    def _repr_html_(self) -> str:
        import html

        state = "stopped" if self.stopped else "serving"
        link = html.escape(self.proxy_url or self.url + "/")
        return (f'<code>dosandbox server</code> {state}: <a href="{link}" target="_blank">'
                f"{link}</a> ({self.requests} requests, {len(self._sockets)} sockets)")

    # --- running the sandbox from the server's loop ----------------------------------------

    def _pump(self) -> None:
        """Run everything ready in the sandbox now (a drive that does not move the clock)."""
        world = self._world
        if world.closed:
            return
        driver = world.driver
        if driver.depth:
            return  # inside a drive already (a re-entrant callback): that drive runs it
        with driver:
            driver.run_ready()

    def _deliver(self, task: Any = None) -> None:
        """A frame was handed to the object (``task`` may be None): run its handler now."""
        self._pump()

    async def _in_sandbox(self, coro: Awaitable[T]) -> T:
        """Run ``coro`` as a task on the sandbox loop and wait (on this loop) for its result."""
        task: asyncio.Task[T] = self._world.loop.create_task(coro)  # type: ignore[arg-type]
        self._pump()
        if not task.done():
            # It waits on time or on another event: the realtime follower and later requests
            # drive it on; its end wakes us.
            waiter = self._loop.create_future()

            def relay(done: asyncio.Task[T]) -> None:
                if not waiter.done():
                    waiter.set_result(None)

            task.add_done_callback(relay)
            try:
                await waiter
            except asyncio.CancelledError:
                task.cancel()
                raise
        return task.result()

    def _mark_dirty(self, sock: RealSocket) -> None:
        """``sock`` has frames to write: one flush task writes every such socket's frames."""
        self._dirty[sock] = None
        if not self._flushing:
            self._flushing = True
            # An empty context: this runs on the server's loop, not as the object's code.
            asyncio.Task(self._flush(), loop=self._loop, context=contextvars.Context())

    async def _flush(self) -> None:
        dirty = self._dirty
        try:
            while dirty:
                batch = list(dirty)
                dirty.clear()
                for sock in batch:
                    if sock._writer is None and not sock._ended:
                        await sock._write_queued()
        finally:
            self._flushing = False
            if dirty:  # frames pushed after the last look (e.g. the flush was cancelled)
                self._flushing = True
                asyncio.Task(self._flush(), loop=self._loop, context=contextvars.Context())

    # --- answering ------------------------------------------------------------------------

    async def _handle(self, http: BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        self.requests += 1
        upgrade = http.headers.get("upgrade", "").lower() == "websocket"
        status, text = 500, "Internal Server Error"
        try:
            if self.stopped or self._world.closed:
                answer: web.StreamResponse = _text(503, "This dosandbox server is stopping.\n")
            elif upgrade:
                answer = await self._upgrade(http)
            else:
                answer = await self._http(http)
            status, text = answer.status, answer.reason
            return answer
        finally:
            if self._on_request is not None:
                ms = (time.perf_counter() - started) * 1000
                self._on_request(http.method, http.path_qs, status, text, ms)

    async def _request(self, http: BaseRequest) -> Request | web.Response:
        """The platform-shaped Request for ``http``, or a 400 saying what is wrong with it."""
        body = await http.read()
        host = http.headers.get("host") or f"{self.host}:{self.port}"
        method = http.method
        try:
            if body and method in ("GET", "HEAD"):
                # Refused by the Fetch API: the constructor raises the platform's message.
                Request(f"http://{host}{http.raw_path}", method=method, body=body)
            # The URL is parsed once per (method, host, path): pages and APIs repeat them.
            key = (method, host, http.raw_path)
            proto = self._parsed.get(key)
            if proto is None:
                proto = Request(f"http://{host}{http.raw_path}", method=method)
                if len(self._parsed) >= 1024:
                    self._parsed.clear()
                self._parsed[key] = proto
            request = proto._copy()
            request.headers = _headers(list(http.headers.items()), "Request")
            request._body = body or None
            return request
        except HttpError as exc:
            return _text(400, f"Bad request: {exc.message}\n")

    async def _answer(self, request: Request) -> Response | web.Response:
        try:
            return await self._in_sandbox(self._dispatch(self._sandbox, request))
        except Exception as exc:  # the platform answers 500; the event log has the error
            return _error_page(exc, request)

    async def _http(self, http: BaseRequest) -> web.StreamResponse:
        request = await self._request(http)
        if isinstance(request, web.Response):
            return request
        response = await self._answer(request)
        if isinstance(response, web.Response):
            return response
        if response.web_socket is not None:  # pragma: no cover - hand_over refuses it
            disconnect(response.web_socket)
            return _text(500, "A WebSocket answered a request that did not ask for one.\n")
        return await self._http_answer(response)

    async def _upgrade(self, http: BaseRequest) -> web.StreamResponse:
        wire = web.WebSocketResponse(
            autoclose=False,  # the object (or the runtime for it) answers a Close
            compress=False,  # frames leave in order, each written at once
            max_msg_size=self._world.limits.max_message_bytes,
        )
        check = wire.can_prepare(http)
        if not check.ok:
            return _text(400, "Bad WebSocket handshake: send Upgrade: websocket with "
                              "Sec-WebSocket-Key and Sec-WebSocket-Version: 13.\n")
        request = await self._request(http)
        if isinstance(request, web.Response):
            return request
        response = await self._answer(request)
        if isinstance(response, web.Response):
            return response
        half = response.web_socket
        if response.status != 101 or half is None:
            # The object refused the upgrade (404, 426...): the browser sees that response.
            return await self._http_answer(response)
        if half._peer._registry is None:
            disconnect(half)
            return _text(500, "The object returned a WebSocket but never accepted the other "
                              "half: call ctx.accept_web_socket(pair[1]) (or pair[1].accept()) "
                              "before returning pair[0].\n")
        protocol = response.headers.get("sec-websocket-protocol")
        if protocol:
            wire._protocols = (protocol,)  # the object chose it, as the platform lets it
        for key, value in response.headers.multi_items():
            if key.lower() not in _HANDSHAKE_HEADERS:
                wire.headers.add(key, value)
        try:
            await wire.prepare(http)
        except (ConnectionError, RuntimeError):
            self._deliver(disconnect(half))
            return wire
        sock = RealSocket(self, half, wire, http, http.path_qs)
        self._sockets[sock] = None
        try:
            await sock.read_loop()
        finally:
            self._sockets.pop(sock, None)
        return wire

    async def _http_answer(self, response: Response) -> web.Response:
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in _FRAMING_HEADERS]
        return web.Response(body=response.body, status=response.status,
                            reason=response.status_text or None, headers=headers)

    # --- stopping -------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving: the port is free at once, WebSockets close with 1001 (Going Away).

        Each object's ``web_socket_close`` runs with 1001 before this returns; the Close
        frames leave on the server's loop right after (``await server.wait_stopped()`` waits
        for them). The clock goes back to the mode it had before ``serve()``.
        """
        if self.stopped:
            return
        self.stopped = True
        if _RUNNING.get((self.host, self.port)) is self:
            del _RUNNING[(self.host, self.port)]
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        if self._aserver is not None:
            self._aserver.close()  # no new connections; the port is free now
        self._sock.close()
        world = self._world
        for sock in list(self._sockets):
            sock.going_away()
        if not world.closed:
            self._pump()  # the objects' web_socket_close handlers run now
        for sock in list(self._sockets):
            sock.close_wire()
        if not world.closed:
            clock = world.clock
            others = [s for s in _RUNNING.values() if s._world is world and not s.stopped]
            if others:
                # Another server of this sandbox still serves on wall time: the last to
                # stop puts the clock back to the mode it had before the first serve().
                for other in others:
                    if other._previous_mode == "realtime":
                        other._previous_mode = self._previous_mode
            elif clock.mode == "realtime" and self._previous_mode not in (None, "realtime"):
                clock.mode = self._previous_mode  # type: ignore[assignment]
            world.event_log.emit("serve", f"stopped serving {self.url}", url=self.url)
        if self._loop.is_closed():
            return
        if self._loop.is_running():
            self._shutdown = self._loop.create_task(self._close_connections())
        else:
            self._loop.run_until_complete(self._close_connections())
            if self._own_loop and not self._in_serve_forever:
                self._loop.close()  # stopped without serve_forever(): nothing else will

    async def _close_connections(self) -> None:
        sockets = list(self._sockets)
        if sockets:
            waits = [asyncio.ensure_future(s.finished()) for s in sockets]
            _, pending = await asyncio.wait(waits, timeout=SHUTDOWN_TIMEOUT)
            for wait in pending:  # a client that never finished: stop waiting for it
                wait.cancel()
        with contextlib.suppress(Exception):
            await self._web.shutdown(SHUTDOWN_TIMEOUT)
        if self._aserver is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._aserver.wait_closed(), SHUTDOWN_TIMEOUT)
        self._done.set()

    async def wait_stopped(self) -> None:
        """Wait until the server has stopped (by ``stop()``) and its connections are closed."""
        await self._done.wait()

    def serve_forever(self) -> None:
        """In a plain script (no running asyncio loop): answer requests until stop() or Ctrl-C."""
        if not self._own_loop:
            raise ServeError(
                "serve_forever() is for plain scripts: here an asyncio loop already runs (a "
                "notebook), and the server answers in the background already.",
                port=self.port,
            )
        if self.stopped:
            return
        loop = self._loop

        async def run() -> None:
            await self._start()
            self._world.clock.mode = "realtime"  # the follower needs this loop running
            await self._done.wait()

        self._in_serve_forever = True
        try:
            loop.run_until_complete(run())
        except KeyboardInterrupt:
            print("Stopping (Ctrl-C).", file=sys.stderr)
        finally:
            self.stop()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


# --- answers made by the server itself ----------------------------------------------------


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain", charset="utf-8")


def _error_page(exc: Exception, request: Request) -> web.Response:
    """What a browser gets when the object (or routing) raised: the error, as wrangler dev shows."""
    if isinstance(exc, DurableObjectNotFoundError):
        return _text(404, f"{exc.message}\n")
    cause = exc.__cause__
    detail = f"{type(cause).__name__}: {cause}" if cause is not None else ""
    lines = [f"Error handling {request.method} {request.parsed_url.path}: {exc}"]
    if detail:
        lines.append(detail)
    return _text(500, "\n".join(lines) + "\n")
