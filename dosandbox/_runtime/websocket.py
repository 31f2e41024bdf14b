"""WebSockets: ``WebSocketPair``, the hibernation API, the standard API, and sockets that
outlive evictions.

Sources: developers.cloudflare.com/durable-objects/best-practices/websockets/, workerd
``src/workerd/api/web-socket.c++``, ``actor-state.c++`` and ``hibernation-manager.c++``.

The model. A :class:`WebSocketPair` is two connected :class:`WebSocket` halves. The object
accepts one half with ``ctx.accept_web_socket(ws, tags)`` and returns the other in a 101
``Response``; ``sb.connect`` wraps that other half in a simulated client. An accepted socket
belongs to the object's ``SocketRegistry`` (``sockets``), kept in the record's parts so it
outlives the instance: evicting (hibernating) the object keeps
sockets, tags and attachments, and the next message runs ``init`` again, then the handler,
with the very same ``WebSocket`` objects.

Platform rules kept here:

* Messages a socket receives reach ``web_socket_message`` one at a time, in order (the next
  starts when the previous handler finished); different sockets interleave, as Cloudflare's
  WebSocket documentation describes. (A third-party measurement claims workerd does not wait
  for the previous handler's promise; we follow the documentation.)
* Messages an object sends are outputs: they leave when the event that sent them has finished
  (the output gate), so a client never sees a message whose storage write was not committed.
* The auto-response pair answers a matching text message without waking the object.
* Close handshake as workerd does it (tests/conformance ws-client-close, ws-send-after-close):
  while ``web_socket_close`` runs after a client's Close, the socket is CLOSING (readyState 2)
  and still listed by ``get_web_sockets()``; ``ws.close(code, reason)`` there answers the
  client, and if the handler does not, the runtime answers with the client's code
  (``web_socket_auto_reply_to_close``). The socket leaves the list when the handler is done.
* An object's own ``ws.close(code, reason)`` reaches the client; the client echoes the Close
  (as browsers do) and ``web_socket_close`` runs with that code and ``was_clean=True``.
* An exception in a socket handler is logged (event log ``error``); the socket stays open and
  later messages are still delivered, as on the platform.
* A reset (not an eviction) closes every socket: clients see 1006.

The standard API (``server.accept()``, then ``server.add_event_listener("message", fn)``), as
workerd does it (checked in Miniflare 4.20260426): the socket belongs to the live instance, is
not listed by ``get_web_sockets()`` and cannot hibernate, so evicting the object closes it
(the client sees 1006, as when workerd restarts an object: it never evicts one with such a
socket for idleness). Listeners get a :class:`MessageEvent`, :class:`CloseEvent` or
:class:`ErrorEvent`; one event does not wait for the previous one's listener to finish. The
runtime answers a client's Close before the ``close`` event (readyState is CLOSED there). A
listener that raises errors the socket: the ``error`` listeners run and the client sees 1006.
A second ``accept()`` does nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from .._core import codec as _codec
from .._core.aliases import AliasMixin
from .._core.errors import HttpError, WebSocketError, WebSocketLimitError
from .._core.record import current_scope

if TYPE_CHECKING:
    from .._core.clock import VirtualClock
    from .._core.limits import Limits
    from .._core.record import ObjectRecord


class SocketHome(Protocol):
    """What a half accepted by an object sends and receives through (its SocketRegistry)."""

    clock: VirtualClock
    limits: Limits
    record: ObjectRecord
    outbox: list[tuple[WebSocket, Any]]
    _scheduled: bool

    def post(self, target: WebSocket, frame: Any) -> None: ...
    def schedule_flush(self) -> None: ...
    def receive(self, ws: WebSocket, frame: str | bytes) -> asyncio.Task[Any] | None: ...
    def receive_close(
        self, ws: WebSocket, code: int, reason: str, clean: bool
    ) -> asyncio.Task[Any] | None: ...
    def receive_error(
        self, ws: WebSocket, error: BaseException, code: int, reason: str
    ) -> Any: ...


class ClientEnd(Protocol):
    """The far end of a client half: a simulated client in a notebook, or a real socket."""

    _messages: Any

    def _receive(self, frame: Any) -> None: ...

__all__ = [
    "CLOSED",
    "CLOSING",
    "CONNECTING",
    "OPEN",
    "CloseEvent",
    "ErrorEvent",
    "MessageEvent",
    "WebSocket",
    "WebSocketPair",
    "WebSocketRequestResponsePair",
    "check_close_code",
    "disconnect",
    "hand_over",
]

CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3
STATE_NAMES = ("CONNECTING", "OPEN", "CLOSING", "CLOSED")
MAX_CLOSE_REASON_BYTES = 123
RESET_REASON = "Durable Object connection closed because the object was reset."
DISCONNECT_REASON = "WebSocket disconnected without sending Close frame."
# workerd's description of a received message over the limit (the close code is 1009).
TOO_LARGE_REASON = "Message is too large"
EVENT_TYPES = ("message", "close", "error")
# The socket handlers as the platform spells them (JavaScript and Python Workers classes).
SOCKET_HANDLER_NAMES = {
    "web_socket_message": "webSocketMessage",
    "web_socket_close": "webSocketClose",
    "web_socket_error": "webSocketError",
}
_HANDLER_CACHE: dict[tuple[type, str], str | None] = {}

# How ws.accept() reaches the object's socket registry (made on first use): ``parts``, which
# wires a record's capabilities, sets it, since this module cannot import parts.
registry_for: Callable[[ObjectRecord], Any] | None = None


def socket_handler(cls: type, canonical: str) -> str | None:
    """The attribute ``cls`` defines handler ``canonical`` under (either spelling), or None."""
    key = (cls, canonical)
    if key in _HANDLER_CACHE:
        return _HANDLER_CACHE[key]
    found = None
    for attr in (canonical, SOCKET_HANDLER_NAMES.get(canonical, canonical)):
        if callable(getattr(cls, attr, None)):
            found = attr
            break
    _HANDLER_CACHE[key] = found
    return found


class _Close:
    """A Close frame on its way to the other half."""

    __slots__ = ("clean", "code", "reason")

    def __init__(self, code: int, reason: str, clean: bool = True) -> None:
        self.code = code
        self.reason = reason
        self.clean = clean


class MessageEvent:
    """What a ``"message"`` listener receives: ``data`` is str (text) or bytes (binary)."""

    __slots__ = ("data",)
    type = "message"

    def __init__(self, data: str | bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"<MessageEvent data={self.data!r:.60}>"


class CloseEvent(AliasMixin):
    """What a ``"close"`` listener receives: ``code``, ``reason``, ``was_clean``."""

    __slots__ = ("code", "reason", "was_clean")
    type = "close"

    def __init__(self, code: int, reason: str, was_clean: bool) -> None:
        self.code = code
        self.reason = reason
        self.was_clean = was_clean

    def __repr__(self) -> str:
        return f"<CloseEvent code={self.code} reason={self.reason!r} was_clean={self.was_clean}>"


class ErrorEvent:
    """What an ``"error"`` listener receives: the ``error`` and its ``message``."""

    __slots__ = ("error", "message")
    type = "error"

    def __init__(self, error: BaseException) -> None:
        self.error = error
        text = error.message if isinstance(error, WebSocketError) else str(error)
        # workerd's text for an error event: "Uncaught Error: <message>".
        self.message = f"Uncaught {type(error).__name__}: {text}"

    def __repr__(self) -> str:
        return f"<ErrorEvent {self.message!r:.80}>"


def check_close_code(code: Any, reason: Any, *, browser: bool) -> tuple[int | None, str]:
    """Validate ``close(code, reason)``; returns ``(code or None, reason)``.

    Object side (workerd ``WebSocket::close``): 1000-4999 except 1004, 1005, 1006 and 1015.
    Client side (a browser, WHATWG WebSockets): only 1000 or 3000-4999. Both: a reason needs a
    code and is at most 123 UTF-8 bytes (RFC 6455 §5.5: a control frame payload is <= 125).
    """
    if code is not None:
        if not isinstance(code, int) or isinstance(code, bool):
            raise WebSocketError(f"Close code must be an int, not {type(code).__name__}.")
        if browser:
            ok = code == 1000 or 3000 <= code <= 4999
            allowed = "1000 or 3000-4999 (a browser's WebSocket.close() refuses the rest)"
        else:
            ok = 1000 <= code <= 4999 and code not in (1004, 1005, 1006, 1015)
            allowed = (
                "1000-4999 except 1004, 1005, 1006 and 1015 (those describe a closure and "
                "must never be sent, RFC 6455 §7.4.1); use 1000 for a normal close or "
                "4000-4999 for your own codes"
            )
        if not ok:
            raise WebSocketError(f"Invalid WebSocket close code: {code}. Allowed: {allowed}.")
    if reason is None:
        return code, ""
    if not isinstance(reason, str):
        raise WebSocketError(f"Close reason must be a str, not {type(reason).__name__}.")
    if code is None and reason:
        raise WebSocketError(
            "If you specify a WebSocket close reason, you must also specify a code: "
            f"close(1000, {reason!r})."
        )
    size = len(reason.encode())
    if size > MAX_CLOSE_REASON_BYTES:
        raise WebSocketError(
            f"WebSocket close reason must not be longer than 123 bytes when UTF-8 encoded "
            f"(got {size}). Shorten it."
        )
    return code, reason


class WebSocket(AliasMixin):
    """One half of a :class:`WebSocketPair`, as object code sees it.

    ``send(str | bytes)``, ``close(code, reason)``, ``ready_state``,
    ``serialize_attachment(value)`` / ``deserialize_attachment()``; for the standard API,
    ``accept()`` and ``add_event_listener(type, fn)``.
    """

    CONNECTING = READY_STATE_CONNECTING = CONNECTING
    OPEN = READY_STATE_OPEN = OPEN
    CLOSING = READY_STATE_CLOSING = CLOSING
    CLOSED = READY_STATE_CLOSED = CLOSED

    # Kept small on purpose: an object may hold 32,768 of these.
    __slots__ = (
        "_attachment", "_auto_ms", "_client", "_closed_in", "_closed_out", "_epoch", "_gen",
        "_id", "_last_ms", "_listeners", "_n_in", "_n_out", "_peer", "_pending", "_registry",
        "_tags", "_tail", "_used",
    )

    def __init__(self) -> None:
        self._peer: WebSocket = self
        self._registry: SocketHome | None = None
        self._client: ClientEnd | None = None
        self._closed_in = False
        self._closed_out = False
        self._used = False
        self._id = 0
        self._epoch = 0
        self._tags: tuple[str, ...] = ()
        self._attachment: bytes | None = None
        self._n_in = 0
        self._n_out = 0
        self._last_ms = 0
        self._auto_ms: int | None = None
        self._tail: asyncio.Task[Any] | None = None
        self._pending: list[Any] | None = None
        # Standard API: the generation of the instance that accepted it (0: not standard).
        self._gen = 0
        self._listeners: dict[str, list[Callable[[Any], Any]]] | None = None

    def __repr__(self) -> str:
        label = f"ws-{self._id}" if self._id else "WebSocket"
        tags = f" tags={list(self._tags)}" if self._tags else ""
        return f"<{label} {STATE_NAMES[self.ready_state]}{tags}>"

    @property
    def id(self) -> str | None:
        """The sandbox's name for an accepted socket (``ws-3``); None before it is accepted."""
        return f"ws-{self._id}" if self._id else None

    @property
    def api(self) -> str | None:
        """``"hibernatable"`` (ctx.accept_web_socket), ``"standard"`` (accept()) or None."""
        if self._registry is None:
            return None
        return "standard" if self._gen else "hibernatable"

    @property
    def ready_state(self) -> int:
        if self._closed_in and self._closed_out:
            return CLOSED
        if self._closed_in or self._closed_out:
            return CLOSING
        return OPEN

    # --- sending and closing -----------------------------------------------------------

    def send(self, message: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message to the other end."""
        reg = self._registry
        if reg is None:
            raise WebSocketError(
                "You must call one of accept() or state.acceptWebSocket() on this WebSocket "
                "before sending messages: ctx.accept_web_socket(pair[1], tags) (hibernatable) "
                "or pair[1].accept() (the standard API)."
            )
        if self._closed_out:
            raise WebSocketError(self._closed_message("send()"))
        kind = type(message)
        if kind is not str and kind is not bytes:
            message = _outgoing(message)
        self._n_out += 1
        self._last_ms = reg.clock._now_ms
        # reg.post(), inlined: this is the broadcast hot path.
        reg.outbox.append((self._peer, message))
        if not reg._scheduled:
            reg.schedule_flush()

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the close handshake; the client sees ``code`` and ``reason``.

        Closing twice, or closing a socket the client already closed, does nothing (as on the
        platform). Codes: 1000 or 3000-4999 are the usual ones (see :func:`check_close_code`).
        """
        code, reason = check_close_code(code, reason, browser=False)
        if self._closed_out:
            return
        reg = self._registry
        if reg is None:
            raise WebSocketError(
                "You must call one of accept() or state.acceptWebSocket() on this WebSocket "
                "before closing it: ctx.accept_web_socket(pair[1]) or pair[1].accept()."
            )
        self._closed_out = True
        self._last_ms = reg.clock._now_ms
        sent = 1005 if code is None else code
        reg.record.emit(
            "ws.close", f"ws-{self._id} closing by the object: {sent} {reason!r}",
            socket=self.id, code=sent, reason=reason, by="object",
        )
        reg.post(self._peer, _Close(sent, reason))

    def accept(self) -> None:
        """Accept this half with the standard API: events go to ``add_event_listener``.

        Call it in the object's code (its ``fetch``), then return the other half in a 101
        ``Response``. Such a socket is not hibernatable: it is not in ``get_web_sockets()``
        and closes when the object is evicted. Accepting twice does nothing, as on the platform.
        """
        if self._registry is not None:
            if self._gen:
                return
            raise WebSocketError(
                "Can't accept() WebSocket after enabling hibernation: "
                f"{self.id} was accepted with ctx.accept_web_socket(), so its events go to the "
                "web_socket_message/close/error handlers. Use one API per socket.",
                socket=self.id,
            )
        if self._used:
            raise WebSocketError(
                "Can't accept() WebSocket that was already used in a response. Accept the "
                "half you keep (pair[1]) and return the other (pair[0])."
            )
        if self._peer is self or self._client is not None:
            raise WebSocketError(
                "Only the object's half of a WebSocketPair can be accepted: make "
                "client, server = WebSocketPair() and call server.accept()."
            )
        scope = current_scope.get()
        if scope is None:
            raise WebSocketError(
                "ws.accept() is called by the object that keeps the socket, inside its code "
                "(its fetch handler); connect from a notebook with sb.connect(stub, url)."
            )
        assert registry_for is not None  # set when parts is imported, before any object runs
        registry_for(scope.record).accept_standard(self)

    def add_event_listener(self, event_type: str, listener: Callable[[Any], Any]) -> None:
        """Call ``listener(event)`` on each ``"message"``, ``"close"`` or ``"error"`` event.

        For sockets accepted with :meth:`accept`. ``listener`` may be ``def`` or
        ``async def``; adding the same listener twice does nothing.
        """
        self._check_event_type(event_type, "add_event_listener")
        if not callable(listener):
            raise WebSocketError(
                "Failed to execute 'addEventListener' on 'EventTarget': parameter 2 is not of "
                f"type 'function or HandlerObject' (got {type(listener).__name__}). Pass the "
                "function itself: ws.add_event_listener('message', on_message)."
            )
        if self._registry is not None and not self._gen:
            raise WebSocketError(
                f"{self.id} was accepted with ctx.accept_web_socket(), so its events go to the "
                "web_socket_message/close/error handlers and a listener would never run. "
                "Define those handlers, or accept the socket with ws.accept() instead.",
                socket=self.id,
            )
        listeners = self._listeners
        if listeners is None:
            listeners = self._listeners = {}
        bucket = listeners.setdefault(event_type, [])
        if listener not in bucket:
            bucket.append(listener)

    def remove_event_listener(self, event_type: str, listener: Callable[[Any], Any]) -> None:
        """Stop calling ``listener`` for ``event_type``; does nothing if it was not added."""
        self._check_event_type(event_type, "remove_event_listener")
        bucket = (self._listeners or {}).get(event_type)
        if bucket is not None and listener in bucket:
            bucket.remove(listener)

    @staticmethod
    def _check_event_type(event_type: Any, what: str) -> None:
        if event_type not in EVENT_TYPES:
            # The platform accepts any name and never calls it; a typo should not be silent.
            raise WebSocketError(
                f"{what}() takes 'message', 'close' or 'error', not {event_type!r}: an "
                "accepted socket fires no other event (it is already open, so 'open' never "
                "comes)."
            )

    def _closed_message(self, what: str) -> str:
        if not self._closed_in:
            who = "you called close()"
        elif self.ready_state == CLOSED:
            who = "the connection is closed"
        else:
            who = "the client closed it"
        return (
            f"Can't call WebSocket {what} after close(): {self.id or 'the socket'} is "
            f"{STATE_NAMES[self.ready_state]} ({who}). Check ws.ready_state == WebSocket.OPEN "
            "first, or use ctx.get_web_sockets(), which lists only connected sockets."
        )

    # --- attachments -------------------------------------------------------------------

    def serialize_attachment(self, value: Any) -> None:
        """Keep a structured-clone copy of ``value`` with the socket (survives hibernation)."""
        data = _codec.dumps(value, path="attachment")
        limits = self._registry.limits if self._registry is not None else _default_limits()
        if len(data) > limits.max_attachment_bytes:
            raise WebSocketLimitError(
                f"A WebSocket 'attachment' cannot be larger than {limits.max_attachment_bytes} "
                f"bytes. 'attachment' was {len(data)} bytes (serialized). Keep ids and small "
                "fields in the attachment and the rest in storage.",
                size=len(data),
            )
        self._attachment = data

    def deserialize_attachment(self) -> Any:
        """A fresh copy of the attachment, or None when none was set."""
        data = self._attachment
        return None if data is None else _codec.loads(data)

    # --- frames arriving at this half ----------------------------------------------------

    def _arrive(self, frame: Any) -> asyncio.Task[Any] | None:
        """A frame from the other half reaches this one."""
        client = self._client
        if client is not None:
            client._receive(frame)
            return None
        reg = self._registry
        if reg is not None:
            if type(frame) is _Close:
                return reg.receive_close(self, frame.code, frame.reason, frame.clean)
            return reg.receive(self, frame)
        # Nobody holds this half yet (a client that has not attached): keep it for them.
        if self._pending is None:
            self._pending = []
        self._pending.append(frame)
        return None


def _default_limits() -> Any:
    from .._core.limits import Limits

    return Limits()


def _outgoing(message: Any) -> str | bytes:
    if isinstance(message, (bytearray, memoryview)):
        return bytes(message)
    if isinstance(message, str):
        return str(message)
    if isinstance(message, bytes):
        return bytes(message)
    raise WebSocketError(
        f"ws.send() takes str (a text message) or bytes (a binary message), not "
        f"{type(message).__name__}. For structured data send json.dumps(data)."
    )


class WebSocketPair:
    """Two connected sockets: ``client, server = WebSocketPair()`` (``pair[0]``, ``pair[1]``)."""

    __slots__ = ("_halves",)

    def __init__(self) -> None:
        client, server = WebSocket(), WebSocket()
        client._peer = server
        server._peer = client
        self._halves = (client, server)

    def __getitem__(self, index: int) -> WebSocket:
        return self._halves[index]

    def __iter__(self) -> Iterator[WebSocket]:
        return iter(self._halves)

    def __len__(self) -> int:
        return 2

    def __repr__(self) -> str:
        return f"<WebSocketPair client={self._halves[0]!r} server={self._halves[1]!r}>"


class WebSocketRequestResponsePair(AliasMixin):
    """The auto-response: when a text message equals ``request``, reply ``response``."""

    __slots__ = ("_request", "_response")

    def __init__(self, request: str, response: str) -> None:
        for name, value in (("request", request), ("response", response)):
            if not isinstance(value, str):
                raise WebSocketError(
                    f"WebSocketRequestResponsePair {name} must be a str, not "
                    f"{type(value).__name__}."
                )
        self._request = request
        self._response = response

    @property
    def request(self) -> str:
        return self._request

    @property
    def response(self) -> str:
        return self._response

    def get_request(self) -> str:
        return self._request

    def get_response(self) -> str:
        return self._response

    def __repr__(self) -> str:
        return f"WebSocketRequestResponsePair({self._request!r}, {self._response!r})"


# --- a 101 Response hands a half over to the caller ----------------------------------------


def hand_over(ws: WebSocket, *, upgrade: bool, record: ObjectRecord) -> None:
    """Check the WebSocket a fetch returned can go to the caller, and mark it used."""
    problem = None
    if not upgrade:
        problem = (
            'Worker tried to return a WebSocket in a response to a request which did not '
            'contain the header "Upgrade: websocket". Connect with sb.connect(stub, url), '
            "or send that header."
        )
    elif ws._registry is not None:
        how = "accept()" if ws._gen else "acceptWebSocket()"
        problem = (
            f"Can't return WebSocket in a Response after calling {how}: accept "
            "pair[1] and return pair[0]."
        )
    elif ws._used:
        problem = "Can't return WebSocket that was already used in a response."
    elif ws._peer is ws:
        problem = "That WebSocket is not part of a WebSocketPair."
    if problem is not None:
        disconnect(ws)
        raise HttpError(
            problem, object_name=record.namespace.name, object_id=record.hex, method_name="fetch"
        )
    ws._used = True


def disconnect(ws: WebSocket) -> asyncio.Task[Any] | None:
    """``ws``'s end goes away without a Close frame: the other end sees 1006."""
    if ws._closed_out and ws._closed_in:
        return None
    ws._closed_in = ws._closed_out = True
    return ws._peer._arrive(_Close(1006, DISCONNECT_REASON, clean=False))
