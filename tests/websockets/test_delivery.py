"""Delivery: order per socket, the output gate, handler errors, sizes, binary, connect errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dosandbox import (
    DurableObject,
    Response,
    Sandbox,
    SandboxWarning,
    WebSocketPair,
    define_durable_object,
)
from dosandbox.errors import HttpError, WaitingOnTimeError, WebSocketError, WebSocketLimitError


def test_messages_run_one_at_a_time_per_socket_and_interleave_across_sockets(
    sb: Sandbox, room: Any
) -> None:
    """A socket's next message waits for its previous handler; other sockets go meanwhile.

    Reference §7 [workerd]: the next message on a socket is delivered only after the previous
    handler's promise settles; different sockets interleave.
    """
    a = sb.connect(room, "/ws")
    b = sb.connect(room, "/ws")
    with pytest.raises(WaitingOnTimeError):
        a.send({"op": "sleep", "label": "a1", "seconds": 10})
    with pytest.raises(WaitingOnTimeError):
        a.send({"op": "mark", "label": "a2"})  # queued behind a1
    b.send({"op": "mark", "label": "b1"})  # runs while a1 sleeps
    journal = sb.durable_objects.room.cls.journal
    labels = [entry[1] for entry in journal if entry[0] in ("start", "end", "mark")]
    assert labels == ["a1", "b1"]
    sb.clock.advance(seconds=10)
    labels = [(entry[0], entry[1]) for entry in journal if entry[0] in ("start", "end", "mark")]
    assert labels == [("start", "a1"), ("mark", "b1"), ("end", "a1"), ("mark", "a2")]


def test_messages_leave_the_object_when_its_event_ends(sb: Sandbox, room: Any) -> None:
    """Output gate: a message sent mid-event reaches the client only after the event ends."""
    client = sb.connect(room, "/ws")
    with pytest.raises(WaitingOnTimeError):
        client.send({"op": "sleep", "label": "x", "seconds": 5})
    assert client.messages == []  # 'before x' was sent, but the event has not finished
    sb.clock.advance(seconds=5)
    assert client.messages == ["before x"]


def test_a_raising_handler_is_logged_and_the_object_keeps_serving(
    sb: Sandbox, room: Any
) -> None:
    """A handler exception goes to the event log; the socket stays open (no web_socket_error)."""
    client = sb.connect(room, "/ws?tags=all")
    client.send({"op": "raise"})
    errors = sb.events("error")
    assert "RuntimeError: handler bug" in errors["message"].iloc[-1]
    assert not client.closed
    client.send("next")
    assert client.messages == ["next"]
    journal = sb.durable_objects.room.cls.journal
    assert not [entry for entry in journal if entry[0] == "error"]
    assert sb.run(room.count("all")) == 1


def test_an_oversized_message_is_refused_with_1009_and_web_socket_error(
    sb: Sandbox, room: Any
) -> None:
    """Over 32 MiB: WebSocketLimitError, the object's web_socket_error runs, client sees 1009."""
    keeper = sb.connect(room, "/ws?tags=all")
    client = sb.connect(room, "/ws?tags=all")
    client.send("before")
    too_big = b"x" * (sb.limits.max_message_bytes + 1)
    with pytest.raises(WebSocketLimitError, match="too large"):
        client.send(too_big)
    assert client.closed and client.close_code == 1009
    journal = sb.durable_objects.room.cls.journal
    assert journal[-1] == ("error", "ws-2", "WebSocketLimitError")
    # Nothing else lost: the other socket and the instance's memory are intact.
    assert sb.run(room.count()) == 1
    assert sb.run(room.seen_count()) == 1
    keeper.send("still here")
    assert keeper.messages == ["still here"]


def test_binary_messages_stay_binary(sb: Sandbox, room: Any) -> None:
    """bytes from a client arrive as bytes; bytes the object sends arrive as bytes."""
    client = sb.connect(room, "/ws")
    client.send(b"\x01\x02\x03")
    assert client.messages == [b"\x03\x02\x01"]
    assert sb.durable_objects.room.cls.journal == [("binary", b"\x01\x02\x03")]


def test_receive_reads_messages_in_order(sb: Sandbox, room: Any) -> None:
    """receive() returns the next unread message; with none left, the last again, noticed.

    With nothing received yet it is a typed error that says to send first.
    """
    client = sb.connect(room, "/ws")
    with pytest.raises(WebSocketError, match=r"No message received yet.*client\.send"):
        client.receive()
    client.send("one")
    client.send({"op": "echo"})
    assert client.receive() == "one"
    assert client.receive_json() == {"op": "echo"}
    assert client.unread == 0
    with pytest.warns(SandboxWarning, match=r"no new message.*\(#2\) is returned again"):
        assert client.receive_json() == {"op": "echo"}  # a re-run cell reads it again
    assert client.messages == ["one", '{"op":"echo"}']
    client.send("three")
    assert client.receive() == "three"  # new messages are read as before


def test_a_message_sent_during_the_upgrade_arrives_first(sb: Sandbox, room: Any) -> None:
    """What fetch sends on the accepted socket before returning 101 reaches the new client."""
    client = sb.connect(room, "/ws?welcome=1")
    assert client.messages == ["welcome"]


def test_websocket_events_are_in_the_event_log(sb: Sandbox, room: Any) -> None:
    """Opening, messages, errors and closing all appear in the event log."""
    client = sb.connect(room, "/ws")
    client.send("hi")
    client.close(1000, "done")
    kinds = list(sb.inspect(room).events["kind"])
    for kind in ("ws.open", "ws.message", "ws.close"):
        assert kind in kinds
    other = sb.connect(room, "/ws")
    with pytest.raises(WebSocketLimitError):
        other.send("y" * (sb.limits.max_message_bytes + 1))
    assert "ws.error" in list(sb.inspect(room).events["kind"])


def test_handle_sockets_shows_tags_attachment_state_and_traffic(sb: Sandbox, room: Any) -> None:
    """handle.sockets is a DataFrame with one row per accepted socket."""
    a = sb.connect(room, "/ws?tags=red,all&name=ann")
    sb.connect(room, "/ws?tags=all")
    a.send({"op": "broadcast", "tag": "all", "text": "hello"})
    frame = sb.inspect(room).sockets
    assert list(frame.columns) == [
        "socket", "api", "tags", "attachment", "ready_state", "messages_in", "messages_out",
        "last_activity", "auto_response_at",
    ]
    assert list(frame["socket"]) == ["ws-1", "ws-2"]
    assert list(frame["api"]) == ["hibernatable", "hibernatable"]
    assert frame.loc[0, "tags"] == ["red", "all"]
    assert frame.loc[0, "attachment"] == {"name": "ann"}
    assert list(frame["ready_state"]) == ["OPEN", "OPEN"]
    assert list(frame["messages_in"]) == [1, 0]
    assert list(frame["messages_out"]) == [1, 1]
    assert frame.loc[0, "last_activity"] == sb.clock.now


def test_connect_errors_are_typed_and_leave_the_object_working(do_sandbox: Sandbox) -> None:
    """No fetch, a non-101 answer, or a half never accepted: each a typed error."""

    class NoFetch(DurableObject):
        def ping(self) -> str:
            return "pong"

    class Forgetful(DurableObject):
        def fetch(self, request: Any) -> Response:
            if request.parsed_url.path == "/plain":
                return Response("hello")
            pair = WebSocketPair()  # forgets ctx.accept_web_socket(pair[1])
            return Response(None, status=101, web_socket=pair[0])

    do_sandbox.register("nofetch", NoFetch)
    do_sandbox.register("forgetful", Forgetful)
    nofetch = do_sandbox.durable_objects.nofetch.get("n")
    forgetful = do_sandbox.durable_objects.forgetful.get("f")
    with pytest.raises(HttpError, match=r"does not export a fetch\(\) function"):
        do_sandbox.connect(nofetch, "/ws")
    assert do_sandbox.run(nofetch.ping()) == "pong"
    with pytest.raises(HttpError, match="received 200 instead"):
        do_sandbox.connect(forgetful, "/plain")
    with pytest.raises(WebSocketError, match="never accepted the other half"):
        do_sandbox.connect(forgetful, "/ws")
    assert do_sandbox.run(forgetful.fetch("/plain")).body == b"hello"


def test_object_send_refuses_non_text_non_bytes(do_sandbox: Sandbox) -> None:
    """ws.send(dict) is refused with a hint to json.dumps; unaccepted sockets cannot send."""

    async def try_send(ctx: Any) -> list[str]:
        pair = WebSocketPair()
        out = []
        try:
            pair[1].send("early")
        except WebSocketError as exc:
            out.append(str(exc))
        ctx.acceptWebSocket(pair[1])
        try:
            pair[1].send({"a": 1})
        except WebSocketError as exc:
            out.append(str(exc))
        pair[1].send(bytearray(b"ok"))
        return out

    do_sandbox.register("sender", define_durable_object(methods={"try_send": try_send}))
    early, wrong_type = do_sandbox.run(do_sandbox.durable_objects.sender.get("s").try_send())
    assert "You must call one of accept() or state.acceptWebSocket() on this WebSocket" in early
    assert "json.dumps" in wrong_type


def test_seed_shaped_close_handler_with_three_arguments(do_sandbox: Sandbox) -> None:
    """The seed's webSocketClose(ws, code, reason, ctx) shape works alongside the platform's."""
    seen: list[Any] = []

    async def fetch(request: Any, ctx: Any) -> Response:
        pair = WebSocketPair()
        ctx.acceptWebSocket(pair[1], ["all"])
        return Response(None, status=101, web_socket=pair[0])

    async def close(ws: Any, code: int, reason: str, ctx: Any) -> None:
        seen.append((code, reason, ws.readyState, len(ctx.getWebSockets("all"))))

    do_sandbox.register("seedish", define_durable_object(fetch=fetch, webSocketClose=close))
    stub = do_sandbox.durable_objects.seedish.get("s")
    client = do_sandbox.connect(stub, "/")
    client.send(json.dumps({"type": "chat"}))  # no message handler: dropped, as on the platform
    assert "ws.dropped" in list(do_sandbox.events()["kind"])
    client.close(3001, "later")
    assert seen == [(3001, "later", 2, 1)]  # CLOSING and still listed, as in workerd
