"""The seed's chat room, ported line by line, with three simulated clients."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from dosandbox import Response, Sandbox, WebSocketPair, define_durable_object

LOG: list[str] = []


# --- the seed's "WebSocket Handlers" example, in Python -------------------------------------


async def init(ctx: Any) -> dict[str, Any]:
    return {"messages": []}


async def fetch(request: Any, ctx: Any) -> Response:
    url = request.parsed_url
    if url.path == "/ws":
        pair = WebSocketPair()
        user_id = url.params.get("userId")
        # Accept with tags for filtering
        ctx.accept_web_socket(pair[1], [user_id, "all"])
        return Response(None, status=101, web_socket=pair[0])
    return Response("Not found", status=404)


async def web_socket_message(ws: Any, message: Any, ctx: Any) -> None:
    data = json.loads(message)
    if data["type"] == "chat":
        msg = {
            "id": str(uuid.uuid4()),
            "userId": data["userId"],
            "content": data["content"],
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        }
        ctx.state["messages"].append(msg)
        await ctx.storage.put("messages", ctx.state["messages"])
        # Broadcast to all connected clients
        for client in ctx.get_web_sockets("all"):
            client.send(json.dumps({"type": "message", "data": msg}))


async def web_socket_close(ws: Any, code: int, reason: str, ctx: Any) -> None:
    LOG.append(f"WebSocket closed: {code} {reason}")


async def web_socket_error(ws: Any, error: Any, ctx: Any) -> None:
    LOG.append(f"WebSocket error: {error}")


chat_room = define_durable_object(
    init=init,
    fetch=fetch,
    webSocketMessage=web_socket_message,
    webSocketClose=web_socket_close,
    webSocketError=web_socket_error,
)


@pytest.fixture
def room(do_sandbox: Sandbox) -> Any:
    LOG.clear()
    do_sandbox.register("chat_room", chat_room)
    return do_sandbox.durable_objects.chat_room.get("lobby")


def test_three_clients_each_receive_exactly_the_broadcast_sequence(
    do_sandbox: Sandbox, room: Any
) -> None:
    """Every client's messages is the full broadcast sequence, in order, and nothing else."""
    alice = do_sandbox.connect(room, "/ws?userId=alice")
    bob = do_sandbox.connect(room, "/ws?userId=bob")
    carol = do_sandbox.connect(room, "/ws?userId=carol")
    script = [(alice, "hi all"), (bob, "hey alice"), (carol, "hello!"), (alice, "bye")]
    for client, text in script:
        user = client.url.split("userId=")[1]
        client.send({"type": "chat", "userId": user, "content": text})
    handle = do_sandbox.inspect(room)
    stored = handle.state["messages"]
    assert [(m["userId"], m["content"]) for m in stored] == [
        ("alice", "hi all"), ("bob", "hey alice"), ("carol", "hello!"), ("alice", "bye"),
    ]
    expected = [{"type": "message", "data": m} for m in stored]
    for client in (alice, bob, carol):
        assert [json.loads(m) for m in client.messages] == expected
    # The storage write was committed before the broadcast left the object (output gate).
    assert do_sandbox.run(_stored_messages(room)) == stored


async def _stored_messages(stub: Any) -> Any:
    return await stub.read_messages()


def test_close_and_tags_in_the_chat_room(do_sandbox: Sandbox, room: Any) -> None:
    """A client that leaves gets no more broadcasts; the close handler logs its code."""
    alice = do_sandbox.connect(room, "/ws?userId=alice")
    bob = do_sandbox.connect(room, "/ws?userId=bob")
    bob.close(1000, "gone home")
    assert bob.closed and bob.close_code == 1000 and bob.close_reason == "gone home"
    assert LOG == ["WebSocket closed: 1000 gone home"]
    alice.send({"type": "chat", "userId": "alice", "content": "anyone?"})
    assert len(alice.messages) == 1
    assert bob.messages == []
    sockets = do_sandbox.inspect(room).sockets
    assert list(sockets["tags"]) == [["alice", "all"]]
    with pytest.raises(Exception, match="closed"):
        bob.send({"type": "chat", "userId": "bob", "content": "still here?"})


def test_unknown_path_is_404(do_sandbox: Sandbox, room: Any) -> None:
    """The fetch handler's fallback answers 404; sb.connect there says it wanted 101."""
    response = do_sandbox.run(room.fetch("/state"))
    assert response.status == 404
    with pytest.raises(Exception, match="expected server to reply with HTTP status code 101"):
        do_sandbox.connect(room, "/nope")


# An RPC method to read storage from outside (added to the ported definition).
@chat_room.method
async def read_messages(ctx: Any) -> Any:
    return await ctx.storage.get("messages")
