"""Hibernation: evicting keeps sockets, tags and attachments; the next message re-runs init."""

from __future__ import annotations

import json
from typing import Any

from dosandbox import Response, Sandbox, WebSocketPair, define_durable_object


def test_evict_keeps_sockets_and_the_next_message_reruns_init(sb: Sandbox, room: Any) -> None:
    """Sockets stay connected through evict(); init runs again; tags/attachments survive."""
    ann = sb.connect(room, "/ws?tags=red,all&name=ann")
    bob = sb.connect(room, "/ws?tags=all&name=bob")
    ann.send({"op": "whoami"})
    ann.send({"op": "whoami"})
    assert json.loads(ann.messages[-1])["seen"] == 2
    handle = sb.inspect(room)
    room_class = sb.durable_objects.room.cls
    assert room_class.inits == 1
    assert handle.evict() is True
    assert handle.status == "evicted"
    assert not ann.closed and not bob.closed
    assert len(handle.sockets) == 2  # still connected while hibernated
    bob.send({"op": "whoami"})
    info = json.loads(bob.receive())
    assert room_class.inits == 2  # the constructor ran again for this message
    assert info == {"attachment": {"name": "bob"}, "tags": ["all"], "seen": 1, "listed": True}
    ann.send({"op": "broadcast", "tag": "all", "text": "after nap"})
    assert ann.messages[-1] == bob.messages[-1] == "after nap"


def test_hibernate_is_evict(sb: Sandbox, room: Any) -> None:
    """handle.hibernate() drops the instance and keeps sockets, like evict()."""
    client = sb.connect(room, "/ws")
    handle = sb.inspect(room)
    assert handle.hibernate() is True
    assert handle.instance is None
    client.send("hi")
    assert client.messages == ["hi"]
    assert handle.is_live


def test_woken_object_sees_the_same_socket_objects(do_sandbox: Sandbox) -> None:
    """After re-init, handlers and get_web_sockets() see the same logical WebSocket objects."""
    seen: list[Any] = []
    listed: list[Any] = []

    def init(ctx: Any) -> dict[str, Any]:
        return {"greeted": 0}

    async def fetch(request: Any, ctx: Any) -> Response:
        pair = WebSocketPair()
        ctx.accept_web_socket(pair[1], ["all"])
        pair[1].serialize_attachment({"n": len(ctx.get_web_sockets())})
        return Response(None, status=101, web_socket=pair[0])

    async def web_socket_message(ws: Any, message: Any, ctx: Any) -> None:
        ctx.state["greeted"] += 1
        seen.append(ws)
        listed.append(ctx.get_web_sockets("all"))
        ws.send(json.dumps([ctx.state["greeted"], ws.deserialize_attachment()]))

    do_sandbox.register(
        "lobby", define_durable_object(init=init, fetch=fetch,
                                       web_socket_message=web_socket_message)
    )
    stub = do_sandbox.durable_objects.lobby.get("l")
    first, second = do_sandbox.connect(stub, "/"), do_sandbox.connect(stub, "/")
    first.send("a")
    do_sandbox.inspect(stub).evict()
    first.send("b")
    second.send("c")
    assert seen[0] is seen[1]
    assert listed[1] == listed[2] and seen[0] in listed[1] and seen[2] in listed[1]
    # In-memory state restarted from init after the eviction; attachments did not.
    assert [json.loads(m) for m in first.messages] == [[1, {"n": 1}], [1, {"n": 1}]]
    assert [json.loads(m) for m in second.messages] == [[2, {"n": 2}]]
