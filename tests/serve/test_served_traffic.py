"""The inspector's Sockets tab shows the last messages each way of a served (real) socket too."""

from __future__ import annotations

from typing import Any

import websockets

from dosandbox import Sandbox
from dosandbox.widgets import _data


def test_a_served_socket_shows_its_last_messages_each_way(kit: Any) -> None:
    """A real client's sent and received messages appear in the Sockets tab's traffic."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with websockets.connect(kit.ws_url(server, "/room/r/ws")) as ws:
            for text in ("one", "two", "three", "four"):
                await ws.send(text)
                assert await ws.recv() == text
            handle = sb.inspect(sb.durable_objects.room.get("r"))
            traffic = _data.socket_traffic(handle, "ws-1")
            assert traffic.to_object == ["two", "three", "four"]
            assert traffic.from_object == ["two", "three", "four"]
            widget = handle.widget(tab="Sockets")
            html = widget.tab("Sockets").box.children
            assert "four" in repr(html)

    kit.serve(scenario)
