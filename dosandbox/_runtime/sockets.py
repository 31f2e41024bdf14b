"""An object's accepted sockets: the registry behind the hibernation API and the standard API.

One :class:`SocketRegistry` per object lives in the record's parts so it outlives the instance
(hibernation). It indexes sockets by tag, holds the auto-response pair and the handler event
timeout, delivers each socket's events to the handlers one at a time and in order (or to the
listeners of a standard-API socket), and holds what the object sends until the event that sent
it has finished (the output gate). The rules it follows are listed in ``websocket``'s
docstring, with sources.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._core.errors import DurableObjectMethodError, WebSocketError, WebSocketLimitError
from .websocket import (
    RESET_REASON,
    STATE_NAMES,
    CloseEvent,
    ErrorEvent,
    MessageEvent,
    WebSocket,
    WebSocketRequestResponsePair,
    _Close,
    disconnect,
    socket_handler,
)

if TYPE_CHECKING:
    from .._core.record import DropReason, ObjectRecord

__all__ = [
    "MAX_EVENT_TIMEOUT_MS",
    "SocketRegistry",
    "auto_response_copy",
    "auto_response_timestamp",
    "get_tags",
    "sockets_frame",
]


# workerd: setHibernatableWebSocketEventTimeout() refuses more than 7 days.
MAX_EVENT_TIMEOUT_MS = 604_800_000


class SocketRegistry:
    """An object's accepted sockets; lives in the record's parts and outlives evictions."""

    __slots__ = (
        "_held", "_scheduled", "auto_response", "by_tag", "clock", "epoch", "event_timeout_ms",
        "limits", "loop", "next_id", "outbox", "record", "sockets", "standard",
    )

    def __init__(self, record: ObjectRecord) -> None:
        world = record.world
        self.record = record
        self.loop = world.loop
        self.clock = world.clock
        self.limits = world.limits
        # dicts used as ordered sets: accept order, O(1) removal.
        self.sockets: dict[WebSocket, None] = {}
        # Standard-API sockets (ws.accept()): not listed, not hibernatable.
        self.standard: dict[WebSocket, None] = {}
        self.by_tag: dict[str, dict[WebSocket, None]] = {}
        self.event_timeout_ms: int | None = None
        self.auto_response: WebSocketRequestResponsePair | None = None
        self.outbox: list[tuple[WebSocket, Any]] = []
        self._scheduled = False
        self._held = False
        self.next_id = 0
        self.epoch = 0

    # --- accepting ------------------------------------------------------------------------

    def accept(self, ws: Any, tags: Any) -> None:
        if not isinstance(ws, WebSocket):
            raise WebSocketError(
                f"accept_web_socket() takes a WebSocket (pair[1] of a WebSocketPair()), not "
                f"{type(ws).__name__}."
            )
        if ws._registry is not None:
            # workerd's message for a second acceptWebSocket names accept(), whatever was used.
            raise WebSocketError(
                "Cannot call `acceptWebSocket()` if the WebSocket was already accepted via "
                f"`accept()`: {ws.id} is already accepted. Accept each socket once.",
                socket=ws.id,
            )
        if ws._used:
            raise WebSocketError(
                "This WebSocket was already returned in a Response; accept the other half of "
                "the pair (pair[1]) and return pair[0]."
            )
        peer = ws._peer
        if peer is ws or peer._registry is not None or peer._client is not None or peer._used:
            raise WebSocketError(
                "Cannot call `acceptWebSocket()` on this WebSocket because its pair has already "
                "been accepted or used in a Response. Make a new WebSocketPair() per connection."
            )
        clean_tags = self._check_tags(tags)
        limit = self.limits.max_sockets
        if len(self.sockets) >= limit:
            raise WebSocketLimitError(
                f"only {limit} websockets can be accepted on a single Durable Object instance. "
                "Close idle sockets, or shard connections over several objects "
                "(e.g. one object per room).",
                limit=limit,
            )
        self.next_id += 1
        ws._id = self.next_id
        ws._registry = self
        ws._tags = clean_tags
        ws._epoch = self.epoch
        ws._last_ms = self.clock._now_ms
        self.sockets[ws] = None
        for tag in clean_tags:
            bucket = self.by_tag.get(tag)
            if bucket is None:
                bucket = self.by_tag[tag] = {}
            bucket[ws] = None
        label = f" tags {list(clean_tags)}" if clean_tags else ""
        self.record.emit(
            "ws.open", f"ws-{ws._id} accepted{label}", socket=ws.id, tags=list(clean_tags)
        )

    def accept_standard(self, ws: WebSocket) -> None:
        """``ws.accept()`` inside the object: the socket belongs to the live instance."""
        instance = self.record.instance
        assert instance is not None  # accept() runs in the object's code
        self.next_id += 1
        ws._id = self.next_id
        ws._registry = self
        ws._gen = instance.generation
        ws._last_ms = self.clock._now_ms
        self.standard[ws] = None
        self.record.emit(
            "ws.open", f"ws-{ws._id} accepted (standard API: not hibernatable)",
            socket=ws.id, tags=[], api="standard",
        )

    def _check_tags(self, tags: Any) -> tuple[str, ...]:
        if tags is None:
            return ()
        if isinstance(tags, (str, bytes)) or not isinstance(tags, (list, tuple)):
            raise WebSocketError(
                f"accept_web_socket(ws, tags) takes a list of str as tags, not "
                f"{type(tags).__name__} {tags!r:.40}: write tags=[{tags!r:.40}]."
            )
        limits = self.limits
        if len(tags) > limits.max_tags:
            # workerd counts the list as given, duplicates included (conformance ws-too-many-tags).
            raise WebSocketLimitError(
                f"a Hibernatable WebSocket cannot have more than {limits.max_tags} tags (got "
                f"{len(tags)}). Use fewer, broader tags, or keep details in the attachment.",
                limit=limits.max_tags,
            )
        seen: dict[str, None] = {}
        for i, tag in enumerate(tags):
            if not isinstance(tag, str):
                raise WebSocketError(
                    f"Tags are strings; tags[{i}] is {type(tag).__name__} {tag!r:.40}. (The "
                    "platform would turn it into the string 'null'/'[object Object]'; a None "
                    "here usually means a missing query parameter, such as ?userId=.)"
                )
            if len(tag.encode()) > limits.max_tag_chars:
                raise WebSocketLimitError(
                    f'"{tag}" is longer than the max tag length ({limits.max_tag_chars} '
                    "characters, counted as UTF-8 bytes). Use a shorter tag, e.g. an id, "
                    "and keep details in the attachment.",
                    limit=limits.max_tag_chars,
                )
            seen[tag] = None  # duplicates are ignored, as on the platform
        if len(seen) > limits.max_tags:
            raise WebSocketLimitError(
                f"a Hibernatable WebSocket cannot have more than {limits.max_tags} tags (got "
                f"{len(seen)} distinct). Use fewer, broader tags, or keep details in the "
                "attachment.",
                limit=limits.max_tags,
            )
        return tuple(seen)

    def get(self, tag: str | None) -> list[WebSocket]:
        if tag is None:
            # workerd: no tag → most recently accepted first.
            return list(reversed(self.sockets))
        if not isinstance(tag, str):
            return []
        bucket = self.by_tag.get(tag)
        return list(bucket) if bucket else []

    def _forget(self, ws: WebSocket) -> None:
        """The socket is disconnected: it leaves get_web_sockets()."""
        if self.sockets.pop(ws, 0) is None:
            for tag in ws._tags:
                bucket = self.by_tag.get(tag)
                if bucket is not None:
                    bucket.pop(ws, None)
                    if not bucket:
                        del self.by_tag[tag]

    # --- output: the object's messages leave after its event (the output gate) ----------

    def post(self, target: WebSocket, frame: Any) -> None:
        self.outbox.append((target, frame))
        if not self._scheduled:
            self.schedule_flush()

    def schedule_flush(self) -> None:
        """Arrange one flush for what is in the outbox (``_scheduled`` stays True until then)."""
        self._scheduled = True
        instance = self.record.instance
        if instance is not None and instance.in_flight:
            self._held = True  # an event is running: the output hook releases it at its end
        else:
            self.loop.call_soon(self.flush)

    def on_output(self) -> None:
        """``record.before_output`` hook: release what the event sent, after its commit."""
        if self._held:
            self._held = False
            # call_soon: every output hook (storage's commit) runs before the messages leave.
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = self._held = False
        box, self.outbox = self.outbox, []
        for target, frame in box:
            client = target._client
            if client is not None and type(frame) is not _Close:
                client._messages.append(frame)
            else:
                target._arrive(frame)

    # --- input: frames from clients ------------------------------------------------------

    def receive(self, ws: WebSocket, frame: str | bytes) -> asyncio.Task[Any] | None:
        now = self.clock._now_ms
        pair = self.auto_response
        if ws._gen:
            pair = None  # the auto-response belongs to the hibernation API
        if pair is not None and type(frame) is str and frame == pair._request:
            # Answered by the runtime: the object is not woken, even if evicted.
            ws._auto_ms = now
            self.record.emit(
                "ws.auto_response", f"ws-{ws._id} auto-response {pair._response!r:.40}",
                socket=ws.id,
            )
            ws._peer._arrive(pair._response)
            return None
        ws._n_in += 1
        ws._last_ms = now
        size = len(frame)
        self.record.emit(
            "ws.message",
            f"ws-{ws._id} received {'text' if type(frame) is str else 'binary'} ({size})",
            socket=ws.id, size=size,
        )
        if ws._gen:
            return self._dispatch(ws, MessageEvent(frame))
        return self._enqueue(ws, "web_socket_message", (frame,))

    def receive_close(
        self, ws: WebSocket, code: int, reason: str, clean: bool
    ) -> asyncio.Task[Any] | None:
        # workerd (checked by tests/conformance ws-client-close, ws-send-after-close): while
        # web_socket_close runs the socket is CLOSING (readyState 2) and still listed by
        # get_web_sockets(); it leaves the list when the handler is done.
        if ws._closed_in:
            # Already closed from this side (a protocol error such as 1009): the client's
            # echo of that Close is not a new event, as in workerd (no close handler runs).
            return None
        ws._closed_in = True
        ws._last_ms = self.clock._now_ms
        self.record.emit(
            "ws.close", f"ws-{ws._id} closed: {code} {reason!r} clean={clean}",
            socket=ws.id, code=code, reason=reason, was_clean=clean,
        )
        if ws._gen:
            # Standard API (workerd): the runtime answers the Close first, so the socket is
            # CLOSED when the "close" listeners run.
            if not ws._closed_out and clean:
                ws._peer._arrive(_Close(code, reason))
            ws._closed_out = True
            self.standard.pop(ws, None)
            return self._dispatch(ws, CloseEvent(code, reason, clean))
        task = self._enqueue(ws, "web_socket_close", (code, reason, clean))

        def finish(_: asyncio.Task[Any]) -> None:
            if not ws._closed_out and clean:
                # The handler did not answer: the runtime answers the client's Close itself
                # (web_socket_auto_reply_to_close), so the client's handshake completes.
                ws._peer._arrive(_Close(code, reason))
            ws._closed_out = True
            self._forget(ws)

        task.add_done_callback(finish)
        return task

    def receive_error(self, ws: WebSocket, error: BaseException, code: int, reason: str) -> Any:
        """A protocol error (e.g. a message over the size limit): error handler, then gone."""
        ws._closed_in = True
        if not ws._closed_out:
            ws._closed_out = True
            ws._peer._arrive(_Close(code, reason))
        self._forget(ws)
        self.standard.pop(ws, None)
        self.record.emit(
            "ws.error", f"ws-{ws._id} error: {error}; closed with {code}",
            socket=ws.id, code=code, error=error,
        )
        if ws._gen:
            return self._dispatch(ws, ErrorEvent(error))
        return self._enqueue(ws, "web_socket_error", (error,))

    def _enqueue(self, ws: WebSocket, handler: str, args: tuple[Any, ...]) -> asyncio.Task[Any]:
        previous = ws._tail
        task = self.loop.create_task(self._run(ws, previous, handler, args, self.epoch))
        ws._tail = task

        def done(t: asyncio.Task[Any]) -> None:
            if ws._tail is t:
                ws._tail = None

        task.add_done_callback(done)
        return task

    async def _run(
        self,
        ws: WebSocket,
        previous: asyncio.Task[Any] | None,
        handler: str,
        args: tuple[Any, ...],
        epoch: int,
    ) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait((previous,))
        if epoch != self.epoch:
            return  # the object was reset meanwhile: its sockets are gone
        record = self.record
        attr = socket_handler(record.namespace.cls, handler)
        if attr is None:
            if handler != "web_socket_close":
                record.emit(
                    "ws.dropped",
                    f"ws-{ws._id}: no {handler} handler, so the event was dropped (as on the "
                    "platform)",
                    socket=ws.id,
                )
            return

        def call(obj: Any) -> Any:
            return getattr(obj, attr)(ws, *args)

        timeout = self.event_timeout_ms
        timer: asyncio.TimerHandle | None = None
        expired: list[bool] = []
        if timeout is not None:
            task = asyncio.current_task()
            assert task is not None

            def expire() -> None:
                expired.append(True)
                task.cancel()

            timer = self.loop.call_later(timeout / 1000, expire)
        try:
            await record.deliver("websocket", handler, call)
        except asyncio.CancelledError:
            if not expired:
                raise
            # workerd drops a handler still running at the timeout; the socket stays open, the
            # object is not reset and later events are delivered.
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            record.emit(
                "ws.timeout",
                f"ws-{ws._id}: {handler} was still running after the {timeout} ms set by "
                "set_hibernatable_web_socket_event_timeout(), so it was canceled",
                socket=ws.id, timeout_ms=timeout,
            )
        except Exception:
            # deliver() logged it; the platform drops the event and keeps the socket open.
            return
        finally:
            if timer is not None:
                timer.cancel()

    # --- the standard API: listeners ------------------------------------------------------

    def _dispatch(self, ws: WebSocket, event: Any) -> asyncio.Task[Any]:
        # One task per event, not chained: a listener's promise is not awaited by the platform,
        # so the next message does not wait for the previous listener to finish.
        return self.loop.create_task(self._run_listeners(ws, event))

    async def _run_listeners(self, ws: WebSocket, event: Any) -> None:
        record = self.record
        instance = record.instance
        if instance is None or instance.generation != ws._gen:
            return  # the instance that accepted it is gone, and the socket with it
        listeners = list((ws._listeners or {}).get(event.type, ()))
        if not listeners:
            if event.type == "message":
                record.emit(
                    "ws.dropped",
                    f"ws-{ws._id}: no 'message' listener, so the message was dropped (as on "
                    "the platform)",
                    socket=ws.id,
                )
            return

        def call(obj: Any) -> Any:
            # Every listener is called; the async ones then run together, as in JavaScript.
            pending: list[Any] = []
            try:
                for fn in listeners:
                    result = fn(event)
                    if inspect.isawaitable(result):
                        pending.append(result)
            except BaseException:
                for result in pending:
                    if inspect.iscoroutine(result):
                        result.close()  # never started: no "never awaited" warning
                raise
            return asyncio.gather(*pending) if pending else None

        try:
            await record.deliver("websocket", f"{event.type} listener", call)
        except Exception as exc:
            # deliver() logged it. In workerd an exception thrown by a listener errors the
            # socket: the "error" listeners run, and the client sees 1006.
            if event.type != "error" and ws in self.standard:
                cause = exc.__cause__ if isinstance(exc, DurableObjectMethodError) else exc
                self.standard.pop(ws, None)
                disconnect(ws)
                self.record.emit(
                    "ws.error", f"ws-{ws._id}: a {event.type} listener raised; disconnected",
                    socket=ws.id, code=1006, error=cause,
                )
                await self._run_listeners(ws, ErrorEvent(cause or exc))

    # --- auto-response -----------------------------------------------------------------

    def set_auto_response(self, pair: Any) -> None:
        if pair is None:
            self.auto_response = None
            self.record.emit("ws.auto_response", "auto-response removed")
            return
        if not isinstance(pair, WebSocketRequestResponsePair):
            raise WebSocketError(
                "set_web_socket_auto_response() takes a WebSocketRequestResponsePair(request, "
                f"response) (or nothing, to remove it), not {type(pair).__name__}."
            )
        limit = self.limits.max_auto_response_bytes
        for name, text in (("Request", pair._request), ("Response", pair._response)):
            size = len(text.encode())
            if size > limit:
                raise WebSocketLimitError(
                    f"{name} cannot be larger than {limit} bytes. A {name.lower()} of size "
                    f"{size} was provided. Auto-responses are short fixed texts such as "
                    "'ping'/'pong'; answer longer messages in web_socket_message.",
                    limit=limit,
                )
        self.auto_response = pair
        self.record.emit(
            "ws.auto_response", f"auto-response set: {pair._request!r:.40} → {pair._response!r:.40}"
        )

    # --- the handler event timeout ------------------------------------------------------

    def set_event_timeout(self, timeout_ms: Any) -> None:
        """``ctx.set_hibernatable_web_socket_event_timeout(ms)``; None or 0 unsets it."""
        if timeout_ms is None:
            self.event_timeout_ms = None
            return
        if isinstance(timeout_ms, dt.timedelta):
            timeout_ms = timeout_ms / dt.timedelta(milliseconds=1)
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)):
            raise WebSocketError(
                "set_hibernatable_web_socket_event_timeout() takes milliseconds (an int) or a "
                f"timedelta, not {type(timeout_ms).__name__} {timeout_ms!r:.40}."
            )
        if isinstance(timeout_ms, float) and not math.isfinite(timeout_ms):
            raise WebSocketError(
                "The value cannot be converted because it is not an integer: pass a number of "
                f"milliseconds, not {timeout_ms}."
            )
        if timeout_ms < 0:
            raise WebSocketLimitError(
                "The value cannot be converted because it is negative and this API expects a "
                f"positive number (got {timeout_ms}). Pass milliseconds, or None to unset.",
                limit=MAX_EVENT_TIMEOUT_MS,
            )
        if timeout_ms > MAX_EVENT_TIMEOUT_MS:
            raise WebSocketLimitError(
                f"Event timeout should not exceed {MAX_EVENT_TIMEOUT_MS} ms. Got {timeout_ms}; "
                "the longest is 7 days.",
                limit=MAX_EVENT_TIMEOUT_MS,
            )
        # workerd truncates a fraction (1.5 → 1); 0 unsets, as no argument does.
        self.event_timeout_ms = int(timeout_ms) or None

    # --- lifecycle -----------------------------------------------------------------------

    def on_drop(self, reason: DropReason) -> None:
        """Eviction keeps hibernatable sockets; standard-API sockets and a reset close them."""
        if self.standard:
            self._close_standard(reason)
        if reason.keeps_sockets or not self.sockets:
            return
        self.epoch += 1
        sockets = list(self.sockets)
        for ws in sockets:
            ws._closed_in = ws._closed_out = True
            ws._tail = None
            ws._peer._arrive(_Close(1006, RESET_REASON, clean=False))
        self.sockets.clear()
        self.by_tag.clear()
        self.outbox.clear()
        self.record.emit(
            "ws.close", f"{len(sockets)} socket(s) closed: the object was reset ({reason})",
            code=1006, reason=RESET_REASON,
        )

    def _close_standard(self, reason: DropReason) -> None:
        # The instance holding them is gone: the platform never hibernates an object with
        # standard-API sockets, and workerd drops them when it restarts one (clients see 1006).
        sockets = list(self.standard)
        self.standard.clear()
        for ws in sockets:
            ws._closed_in = ws._closed_out = True
            ws._peer._arrive(_Close(1006, RESET_REASON, clean=False))
        self.record.emit(
            "ws.close",
            f"{len(sockets)} standard-API socket(s) closed: the object was {reason} "
            "(sockets accepted with ws.accept() cannot hibernate; use ctx.accept_web_socket())",
            code=1006, reason=RESET_REASON,
        )

    # --- seeing it ---------------------------------------------------------------------

    def every(self) -> list[WebSocket]:
        """Every connected socket of both APIs, in accept order."""
        if not self.standard:
            return list(self.sockets)
        return sorted([*self.sockets, *self.standard], key=lambda ws: ws._id)

    @property
    def count(self) -> int:
        return len(self.sockets) + len(self.standard)

    def frame(self) -> Any:
        return _frame(self.every())


def _frame(sockets: Iterable[WebSocket]) -> Any:
    """One row per socket, for ``handle.sockets`` (pandas is imported only here)."""
    from .._core.frames import frame_of

    columns = [
        "socket", "api", "tags", "attachment", "ready_state", "messages_in", "messages_out",
        "last_activity", "auto_response_at",
    ]
    rows = []
    for ws in sockets:
        rows.append(
            {
                "socket": ws.id,
                "api": ws.api,
                "tags": list(ws._tags),
                "attachment": ws.deserialize_attachment(),
                "ready_state": STATE_NAMES[ws.ready_state],
                "messages_in": ws._n_in,
                "messages_out": ws._n_out,
                "last_activity": _datetime(ws._last_ms),
                "auto_response_at": _datetime(ws._auto_ms),
            }
        )
    return frame_of(rows, columns)


def _datetime(ms: int | None) -> dt.datetime | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


# --- what DurableObjectContext and handles delegate to ---------------------------------------


def get_tags(ws: Any) -> list[str]:
    if not isinstance(ws, WebSocket):
        raise WebSocketError(f"get_tags() takes a WebSocket, not {type(ws).__name__}.")
    if ws._gen:
        raise WebSocketError(
            f"only hibernatable websockets can have tags: {ws.id} was accepted with "
            "ws.accept(). Accept it with ctx.accept_web_socket(ws, tags) to use tags.",
            socket=ws.id,
        )
    if ws._registry is None:
        raise WebSocketError(
            "you must call 'acceptWebSocket()' before attempting to access the tags of a "
            "WebSocket: ctx.accept_web_socket(ws, tags) first."
        )
    return list(ws._tags)


def auto_response_copy(reg: SocketRegistry | None) -> WebSocketRequestResponsePair | None:
    pair = reg.auto_response if reg is not None else None
    # A new pair object each call, as on the platform.
    return None if pair is None else WebSocketRequestResponsePair(pair._request, pair._response)


def auto_response_timestamp(ws: Any) -> dt.datetime | None:
    if not isinstance(ws, WebSocket):
        raise WebSocketError(
            "get_web_socket_auto_response_timestamp() takes a WebSocket, not "
            f"{type(ws).__name__}."
        )
    return _datetime(ws._auto_ms)


def sockets_frame(reg: SocketRegistry | None) -> Any:
    return _frame(reg.every() if reg is not None else ())
