"""An object's accepted sockets: the registry behind the hibernation API.

One :class:`SocketRegistry` per object lives in the record's parts so it outlives the instance
(hibernation). It indexes sockets by tag, holds the auto-response pair, delivers each socket's
events to the handlers one at a time and in order, and holds what the object sends until the
event that sent it has finished (the output gate). The rules it follows are listed in
``websocket``'s docstring, with sources.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._core.errors import WebSocketError, WebSocketLimitError
from .websocket import (
    RESET_REASON,
    STATE_NAMES,
    WebSocket,
    WebSocketRequestResponsePair,
    _Close,
)

if TYPE_CHECKING:
    from .._core.record import DropReason, ObjectRecord

__all__ = [
    "SocketRegistry",
    "auto_response_copy",
    "auto_response_timestamp",
    "get_tags",
    "sockets_frame",
]


class SocketRegistry:
    """An object's accepted sockets; lives in the record's parts and outlives evictions."""

    __slots__ = (
        "_held", "_scheduled", "auto_response", "by_tag", "clock", "epoch", "limits", "loop",
        "next_id", "outbox", "record", "sockets",
    )

    def __init__(self, record: ObjectRecord) -> None:
        world = record.world
        self.record = record
        self.loop = world.loop
        self.clock = world.clock
        self.limits = world.limits
        # dicts used as ordered sets: accept order, O(1) removal.
        self.sockets: dict[WebSocket, None] = {}
        self.by_tag: dict[str, dict[WebSocket, None]] = {}
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
                    "characters, counted as UTF-8 bytes).",
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
        return self._enqueue(ws, "web_socket_message", (frame,))

    def receive_close(
        self, ws: WebSocket, code: int, reason: str, clean: bool
    ) -> asyncio.Task[Any] | None:
        # workerd (checked by tests/conformance ws-client-close, ws-send-after-close): while
        # web_socket_close runs the socket is CLOSING (readyState 2) and still listed by
        # get_web_sockets(); it leaves the list when the handler is done.
        ws._closed_in = True
        ws._last_ms = self.clock._now_ms
        self.record.emit(
            "ws.close", f"ws-{ws._id} closed: {code} {reason!r} clean={clean}",
            socket=ws.id, code=code, reason=reason, was_clean=clean,
        )
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
        self.record.emit(
            "ws.error", f"ws-{ws._id} error: {error}; closed with {code}",
            socket=ws.id, code=code, error=error,
        )
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
        if not callable(getattr(record.namespace.cls, handler, None)):
            if handler != "web_socket_close":
                record.emit(
                    "ws.dropped",
                    f"ws-{ws._id}: no {handler} handler, so the event was dropped (as on the "
                    "platform)",
                    socket=ws.id,
                )
            return

        def call(obj: Any) -> Any:
            return getattr(obj, handler)(ws, *args)

        try:
            await record.deliver("websocket", handler, call)
        except Exception:
            # deliver() logged it; the platform drops the event and keeps the socket open.
            return

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
                    f"{size} was provided.",
                    limit=limit,
                )
        self.auto_response = pair
        self.record.emit(
            "ws.auto_response", f"auto-response set: {pair._request!r:.40} → {pair._response!r:.40}"
        )

    # --- lifecycle -----------------------------------------------------------------------

    def on_drop(self, reason: DropReason) -> None:
        """Eviction keeps sockets (hibernation); a reset closes them all (clients see 1006)."""
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

    # --- seeing it ---------------------------------------------------------------------

    def frame(self) -> Any:
        return _frame(self.sockets)


def _frame(sockets: Iterable[WebSocket]) -> Any:
    """One row per socket, for ``handle.sockets`` (pandas is imported only here)."""
    import pandas as pd

    columns = [
        "socket", "tags", "attachment", "ready_state", "messages_in", "messages_out",
        "last_activity", "auto_response_at",
    ]
    rows = []
    for ws in sockets:
        rows.append(
            {
                "socket": ws.id,
                "tags": list(ws._tags),
                "attachment": ws.deserialize_attachment(),
                "ready_state": STATE_NAMES[ws.ready_state],
                "messages_in": ws._n_in,
                "messages_out": ws._n_out,
                "last_activity": _datetime(ws._last_ms),
                "auto_response_at": _datetime(ws._auto_ms),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _datetime(ms: int | None) -> dt.datetime | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


# --- what DurableObjectContext and handles delegate to ---------------------------------------


def get_tags(ws: Any) -> list[str]:
    if not isinstance(ws, WebSocket):
        raise WebSocketError(f"get_tags() takes a WebSocket, not {type(ws).__name__}.")
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
    return _frame(reg.sockets if reg is not None else ())
