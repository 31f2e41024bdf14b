"""The Sockets tab: connected sockets with tags and counts, a send box and a close button."""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import Response, Sandbox, WebSocketPair, define_durable_object
from dosandbox.errors import WebSocketError


async def _fetch(request: Any, ctx: Any) -> Any:
    pair = WebSocketPair()
    ctx.accept_web_socket(pair[1], ["room:lobby", "user:alice"])
    pair[1].serialize_attachment({"user": "alice"})
    return Response(None, status=101, web_socket=pair[0])


async def _message(ws: Any, message: Any, ctx: Any) -> None:
    ws.send(f"echo:{message}")


async def _close(ws: Any, code: int, reason: str, ctx: Any) -> None:
    pass


def _echo(sandbox: Sandbox) -> Any:
    sandbox.register(
        "echo",
        define_durable_object(fetch=_fetch, web_socket_message=_message,
                              web_socket_close=_close),
    )
    return sandbox.durable_objects.echo.get("room")


def test_sockets_tab_lists_sockets_with_tags_attachment_and_counts(
    do_sandbox: Sandbox, rows: Any
) -> None:
    """Each accepted socket shows its id, tags, attachment, state and message counts."""
    stub = _echo(do_sandbox)
    client = do_sandbox.connect(stub, "/ws")
    client.send("hi")
    w = do_sandbox.inspect(stub).widget()
    tab = w.select_tab("Sockets")
    table = rows(tab.table.value)
    header, first = table[0], dict(zip(table[0], table[1], strict=True))
    assert "tags" in header and "attachment" in header
    assert first["socket"] == "ws-1" and first["ready_state"] == "OPEN"
    assert "room:lobby" in first["tags"] and "alice" in first["attachment"]
    assert first["messages_in"] == "1" and first["messages_out"] == "1"
    assert list(tab.rows) == ["ws-1"]
    assert "[room:lobby, user:alice]" in tab.row("ws-1").summary.value


def test_send_box_delivers_a_message_to_the_object(do_sandbox: Sandbox) -> None:
    """Typing in a socket's send box and clicking Send runs web_socket_message."""
    stub = _echo(do_sandbox)
    client = do_sandbox.connect(stub, "/ws")
    w = do_sandbox.inspect(stub).widget()
    tab = w.select_tab("Sockets")
    row = tab.row("ws-1")
    row.message.value = "hello from the inspector"
    row.send_button.click()
    assert w.last_error is None
    assert client.messages == ["echo:hello from the inspector"]
    assert row.message.value == ""
    assert "in 1 · out 1" in tab.row("ws-1").summary.value  # the tab refreshed live


def test_close_button_closes_the_socket_and_removes_its_row(do_sandbox: Sandbox) -> None:
    """Close closes from the client side; the row goes; sending again is a typed error."""
    stub = _echo(do_sandbox)
    client = do_sandbox.connect(stub, "/ws")
    w = do_sandbox.inspect(stub).widget()
    tab = w.select_tab("Sockets")
    row = tab.row("ws-1")
    row.close_button.click()
    assert w.last_error is None
    assert client.closed
    assert tab.rows == {}
    assert "no sockets connected" in tab.table.value
    with pytest.raises(WebSocketError, match="no open socket 'ws-1'"):
        row.send("too late")  # the old row's twin: that socket is gone
    again = do_sandbox.connect(stub, "/ws")  # the object and the tab keep working
    tab.row("ws-2").send("back")
    assert again.messages == ["echo:back"]
