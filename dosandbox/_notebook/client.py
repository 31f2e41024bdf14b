"""Simulated WebSocket clients: ``client = sb.connect(stub, "/ws?userId=alice")``.

A client plays a browser tab: it upgrades through the object's ``fetch`` (with
``Upgrade: websocket``), then ``send()``, ``receive()``, ``close()``. Every call is a driver:
when it returns, the object's handlers for it have run and what they sent has arrived in
``client.messages``. Close codes follow the browser's rules (1000 or 3000-4999); a client
answers a Close from the object with a Close, as browsers do. It works the same against a
socket the object accepted with ``ctx.accept_web_socket`` (hibernatable) or ``ws.accept()``
(the standard API).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .._core.errors import HttpError, WebSocketError, WebSocketLimitError
from .._core.notices import notify
from .._core.world import World
from .._runtime.http import Request, Response
from .._runtime.namespace import Stub
from .._runtime.websocket import (
    CLOSED,
    DISCONNECT_REASON,
    STATE_NAMES,
    TOO_LARGE_REASON,
    WebSocket,
    _Close,
    check_close_code,
    disconnect,
)

__all__ = ["SimulatedClient", "connect"]


async def _settle() -> None:
    """Nothing to wait for: the drive just runs whatever became ready."""


def connect(world: World, stub: Any, url: str = "/", *, headers: Any = None) -> SimulatedClient:
    """Open a WebSocket to ``stub`` through its ``fetch`` handler and return the client."""
    world.driver.check_outside("sb.connect()")
    if not isinstance(stub, Stub):
        raise WebSocketError(
            f"sb.connect() takes a stub (sb.durable_objects.<name>.get(...)), not "
            f"{type(stub).__name__}."
        )
    request = Request(url, headers=headers)
    request.headers["upgrade"] = "websocket"
    request.headers.setdefault("connection", "Upgrade")
    request.headers.setdefault("sec-websocket-version", "13")
    key = base64.b64encode(world.rng.getrandbits(128).to_bytes(16, "big")).decode()
    request.headers.setdefault("sec-websocket-key", key)
    response: Response = world.driver.drive(stub.fetch(request)._invoke(), "sb.connect()")
    ws = response.web_socket
    if response.status != 101 or ws is None:
        raise HttpError(
            "Failed to establish the WebSocket connection: expected server to reply with HTTP "
            f"status code 101 (switching protocols), but received {response.status} instead. "
            f"Its fetch handler must return Response(None, status=101, web_socket=pair[0]) "
            f"for {request.url}.",
            object_name=stub._namespace.name,
            object_id=str(stub.id),
        )
    if ws._peer._registry is None:
        disconnect(ws)
        raise WebSocketError(
            "The object returned a WebSocket but never accepted the other half, so no "
            "handler would ever see this client's messages. Call "
            "ctx.accept_web_socket(pair[1], tags) (or pair[1].accept() for the standard API) "
            "before returning pair[0].",
            object_name=stub._namespace.name,
            object_id=str(stub.id),
        )
    client = SimulatedClient(world, ws, request.url)
    return client


class SimulatedClient:
    """One connected client: ``send``, ``messages``, ``receive``, ``close``, ``closed``."""

    __slots__ = ("_messages", "_read", "_sent", "_world", "_ws", "close_code", "close_reason",
                 "url", "was_clean")

    def __init__(self, world: World, ws: WebSocket, url: str) -> None:
        self._world = world
        self._ws = ws
        self._messages: list[str | bytes] = []
        self._read = 0
        self._sent: list[str | bytes] = []
        self.url = url
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.was_clean: bool | None = None
        ws._client = self
        pending, ws._pending = ws._pending, None
        for frame in pending or ():
            self._receive(frame)

    def __repr__(self) -> str:
        state = STATE_NAMES[self._ws.ready_state]
        extra = f" code={self.close_code}" if self.close_code is not None else ""
        return f"<SimulatedClient {self.url} {state}{extra} messages={len(self._messages)}>"

    # --- what arrived -----------------------------------------------------------------------

    @property
    def messages(self) -> list[str | bytes]:
        """Every message received, in order (text as str, binary as bytes)."""
        return list(self._messages)

    @property
    def sent(self) -> list[str | bytes]:
        """Every message this client sent to the object, in order (as sent on the wire)."""
        return list(self._sent)

    @property
    def unread(self) -> int:
        return len(self._messages) - self._read

    def receive(self) -> str | bytes:
        """The next unread message.

        When every message was read already (a re-run cell), the last one is returned again,
        with a notice (``ALREADY_READ``) saying so, so a cell that receives can run twice.
        With nothing received at all, a WebSocketError says what to do.
        """
        count = len(self._messages)
        if self._read >= count:
            state = "" if not self.closed else f" The socket is closed ({self.close_code})."
            if not count:
                raise WebSocketError(
                    f"No message received yet.{state} Send something the object answers "
                    "first (client.send(...)); client.messages lists what arrives."
                )
            notify(
                f"receive(): no new message on {self.url}, so the last one (#{count}) is "
                f"returned again.{state} client.unread says how many are new; client.messages "
                "has them all.",
                code="ALREADY_READ",
            )
            return self._messages[-1]
        message = self._messages[self._read]
        self._read += 1
        return message

    def receive_json(self) -> Any:
        """The next unread message, parsed as JSON."""
        return json.loads(self.receive())

    @property
    def ready_state(self) -> int:
        return self._ws.ready_state

    @property
    def closed(self) -> bool:
        return self._ws.ready_state == CLOSED

    def _receive(self, frame: Any) -> None:
        if type(frame) is not _Close:
            self._messages.append(frame)
            return
        ws = self._ws
        ws._closed_in = True
        if self.close_code is None:
            self.close_code = frame.code
            self.close_reason = frame.reason
            self.was_clean = frame.clean
        if not ws._closed_out:
            ws._closed_out = True
            if frame.clean:
                # A browser answers a Close frame with a Close frame carrying the same code.
                ws._peer._arrive(_Close(frame.code, frame.reason))

    # --- sending and closing ------------------------------------------------------------------

    def send(self, message: str | bytes | dict[str, Any] | list[Any]) -> None:
        """Send text (str), binary (bytes) or JSON (dict/list); returns when handled."""
        world = self._world
        world.driver.check_outside("client.send()")
        ws = self._ws
        if ws._closed_out or ws._closed_in:
            raise WebSocketError(
                f"Can't send on a closed WebSocket: this client is "
                f"{STATE_NAMES[ws.ready_state]} (close code {self.close_code}). A browser "
                "would silently drop the message; connect again with sb.connect()."
            )
        if isinstance(message, (dict, list)):
            frame: str | bytes = json.dumps(message, separators=(",", ":"))
        elif isinstance(message, str):
            frame = message
        elif isinstance(message, (bytes, bytearray, memoryview)):
            frame = bytes(message)
        else:
            raise WebSocketError(
                f"client.send() takes str (text), bytes (binary) or a dict/list (sent as "
                f"JSON text), not {type(message).__name__}."
            )
        server = ws._peer
        reg = server._registry
        assert reg is not None  # connect() checked the object accepted the server half
        limit = reg.limits.max_message_bytes
        size = len(frame)
        if isinstance(frame, str) and size * 4 > limit:  # else it cannot be over the limit
            size = len(frame.encode())
        if size > limit:
            self._too_big(size, limit, server)
        self._sent.append(frame)
        task = server._arrive(frame)
        world.driver.drive(task if task is not None else _settle(), "client.send()")

    def _too_big(self, size: int, limit: int, server: WebSocket) -> None:
        error = WebSocketLimitError(
            f"WebSocket message is too large: {size} bytes; an object receives messages of at "
            f"most {limit} bytes. The platform closes the connection with 1009 "
            f"({TOO_LARGE_REASON}) and calls web_socket_error (or the 'error' listeners); split "
            "the data or send a reference to it.",
            size=size,
            limit=limit,
        )
        reg = server._registry
        assert reg is not None
        task = reg.receive_error(server, error, 1009, TOO_LARGE_REASON)
        self._world.driver.drive(task, "client.send()")
        raise error

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close as a browser does; the object's ``web_socket_close`` has run on return.

        Without a code the object sees 1005 (no status), as with ``ws.close()`` in a browser.
        Closing again does nothing.
        """
        world = self._world
        world.driver.check_outside("client.close()")
        code, reason = check_close_code(code, reason, browser=True)
        ws = self._ws
        if ws._closed_out:
            return
        ws._closed_out = True
        task = ws._peer._arrive(_Close(1005 if code is None else code, reason))
        world.driver.drive(task if task is not None else _settle(), "client.close()")

    def disconnect(self) -> None:
        """Drop the connection without a Close frame (a closed laptop): the object sees 1006."""
        world = self._world
        world.driver.check_outside("client.disconnect()")
        ws = self._ws
        if self.close_code is None:
            self.close_code, self.close_reason, self.was_clean = 1006, DISCONNECT_REASON, False
        task = disconnect(ws)
        world.driver.drive(task if task is not None else _settle(), "client.disconnect()")
