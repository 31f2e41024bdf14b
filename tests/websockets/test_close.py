"""Closing from either side, close codes, sending on closed sockets, disconnects, resets."""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import Sandbox, WebSocket, WebSocketPair, define_durable_object
from dosandbox.errors import WebSocketError


def test_client_close_reaches_the_handler_with_its_code(sb: Sandbox, room: Any) -> None:
    """Client close(4001, 'bye') → web_socket_close(ws, 4001, 'bye', True); CLOSING in the handler.

    workerd (tests/conformance ws-client-close): during web_socket_close the socket is CLOSING
    (readyState 2) and still listed by get_web_sockets(); it leaves the list afterwards. The
    runtime answers the client's Close when the handler does not (web_socket_auto_reply_to_close).
    """
    client = sb.connect(room, "/ws")
    client.close(4001, "bye")
    assert client.closed and client.close_code == 4001 and client.close_reason == "bye"
    assert client.was_clean is True
    journal = sb.durable_objects.room.cls.journal
    assert journal == [("close", "ws-1", 4001, "bye", True, WebSocket.CLOSING, True)]
    assert sb.run(room.count()) == 0


def test_client_close_without_a_code_is_1005(sb: Sandbox, room: Any) -> None:
    """A browser's close() with no code sends no status: the object sees 1005 and ''."""
    client = sb.connect(room, "/ws")
    client.close()
    journal = sb.durable_objects.room.cls.journal
    assert journal[-1][2:5] == (1005, "", True)
    client.close(1000)  # closing again does nothing
    assert client.close_code == 1005


def test_object_close_reaches_the_client_and_the_echo_runs_the_handler(
    sb: Sandbox, room: Any
) -> None:
    """ws.close(4002, 'server out') → client sees it; its echo → web_socket_close(4002, True)."""
    client = sb.connect(room, "/ws")
    client.send({"op": "close", "code": 4002, "reason": "server out"})
    assert client.closed
    assert (client.close_code, client.close_reason) == (4002, "server out")
    journal = sb.durable_objects.room.cls.journal
    assert ("after_close_state", WebSocket.CLOSING) in journal
    # Still listed while the handler runs (workerd: ws-send-after-close), gone afterwards.
    assert journal[-1] == ("close", "ws-1", 4002, "server out", True, WebSocket.CLOSED, True)
    assert sb.run(room.count()) == 0


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 5000])
def test_object_close_codes_outside_the_allowed_ranges_are_refused(code: int) -> None:
    """workerd: close codes are 1000-4999 except 1004/1005/1006/1015 ('Invalid ... close code')."""
    sb = Sandbox(seed=0)

    async def close_with(ctx: Any, c: int) -> str:
        pair = WebSocketPair()
        ctx.accept_web_socket(pair[1])
        try:
            pair[1].close(c)
        except WebSocketError as exc:
            return f"refused {pair[1].ready_state}: {exc}"
        return f"closed {pair[1].ready_state}"

    sb.register("closer", define_durable_object(methods={"close_with": close_with}))
    stub = sb.durable_objects.closer.get("c")
    outcome = sb.run(stub.close_with(code))
    assert outcome.startswith("refused 1:")  # still OPEN: nothing changed
    assert f"Invalid WebSocket close code: {code}." in outcome
    assert sb.run(stub.close_with(1000)) == "closed 2"
    assert sb.run(stub.close_with(4999)) == "closed 2"
    sb.close()


def test_client_close_codes_follow_the_browser_rules(sb: Sandbox, room: Any) -> None:
    """A browser client may only send 1000 or 3000-4999; a refused close leaves it open."""
    client = sb.connect(room, "/ws")
    for code in (1001, 2999, 5000, 1005):
        with pytest.raises(WebSocketError, match=f"Invalid WebSocket close code: {code}"):
            client.close(code)
    with pytest.raises(WebSocketError, match="123 bytes"):
        client.close(1000, "x" * 124)
    with pytest.raises(WebSocketError, match="must also specify a code"):
        client.close(None, "why")
    client.send("still open")
    assert client.messages == ["still open"]
    client.close(3000, "x" * 123)
    assert client.close_code == 3000


def test_object_close_with_a_bad_code_is_logged_and_the_socket_keeps_working(
    sb: Sandbox, room: Any
) -> None:
    """A handler calling ws.close(1006) raises; the error is logged and the socket stays open."""
    client = sb.connect(room, "/ws")
    client.send({"op": "close", "code": 1006})
    assert not client.closed
    errors = sb.events("error")
    assert "Invalid WebSocket close code: 1006" in errors["message"].iloc[-1]
    client.send("hello")
    assert client.messages == ["hello"]


def test_sending_on_a_closed_socket_is_an_error_on_either_side(sb: Sandbox, room: Any) -> None:
    """Client send after close → WebSocketError; object send after close → logged TypeError."""
    client = sb.connect(room, "/ws")
    client.send({"op": "send_after_close"})
    assert client.close_code == 4000
    assert "too late" not in client.messages
    assert "Can't call WebSocket send() after close()" in sb.events("error")["message"].iloc[-1]
    with pytest.raises(WebSocketError, match="Can't send on a closed WebSocket"):
        client.send("anyone?")
    other = sb.connect(room, "/ws")
    other.send("fine")
    assert other.messages == ["fine"]


def test_disconnect_without_close_frame_is_1006(sb: Sandbox, room: Any) -> None:
    """A dropped connection reaches web_socket_close as (1006, ..., was_clean=False)."""
    client = sb.connect(room, "/ws")
    client.disconnect()
    assert client.closed and client.close_code == 1006
    journal = sb.durable_objects.room.cls.journal
    assert journal[-1][2:5] == (
        1006, "WebSocket disconnected without sending Close frame.", False
    )


def test_a_reset_closes_every_socket(do_sandbox: Sandbox) -> None:
    """When the object is reset (init throws after an eviction), clients see 1006 (reference §7)."""
    state = {"fail": False}

    def init(ctx: Any) -> dict[str, Any]:
        if state["fail"]:
            raise RuntimeError("bad deploy")
        return {}

    async def fetch(request: Any, ctx: Any) -> Any:
        from dosandbox import Response

        pair = WebSocketPair()
        ctx.accept_web_socket(pair[1], ["all"])
        return Response(None, status=101, web_socket=pair[0])

    async def web_socket_message(ws: Any, message: Any, ctx: Any) -> None:
        ws.send(message)

    do_sandbox.register(
        "fragile", define_durable_object(init=init, fetch=fetch,
                                         web_socket_message=web_socket_message)
    )
    stub = do_sandbox.durable_objects.fragile.get("f")
    a, b = do_sandbox.connect(stub, "/"), do_sandbox.connect(stub, "/")
    handle = do_sandbox.inspect(stub)
    handle.evict()
    state["fail"] = True
    a.send("wake up")
    assert a.closed and b.closed
    assert a.close_code == b.close_code == 1006
    assert "reset" in (a.close_reason or "")
    assert len(handle.sockets) == 0
    state["fail"] = False
    c = do_sandbox.connect(stub, "/")
    c.send("back")
    assert c.messages == ["back"]
