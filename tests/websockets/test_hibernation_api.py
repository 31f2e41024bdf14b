"""The hibernation API: accept, tags, get_web_sockets, attachments, auto-response, limits."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from dosandbox import (
    Sandbox,
    WebSocket,
    WebSocketPair,
    WebSocketRequestResponsePair,
    define_durable_object,
)
from dosandbox.errors import WebSocketError, WebSocketLimitError


def test_pair_is_indexable_and_iterable() -> None:
    """WebSocketPair()[0] is the client, [1] the server; unpacking gives the same two."""
    pair = WebSocketPair()
    client, server = pair
    assert client is pair[0] and server is pair[1]
    assert client.ready_state == WebSocket.OPEN == 1
    assert (WebSocket.CONNECTING, WebSocket.CLOSING, WebSocket.CLOSED) == (0, 2, 3)
    assert WebSocket.READY_STATE_CLOSED == 3
    assert server.readyState == 1  # camelCase alias


def test_get_web_sockets_filters_by_tag(sb: Sandbox, room: Any) -> None:
    """get_web_sockets(tag) returns only sockets with that exact tag; no tag returns all."""
    sb.connect(room, "/ws?tags=red,all")
    sb.connect(room, "/ws?tags=blue,all")
    sb.connect(room, "/ws")
    assert sb.run(room.count()) == 3
    assert sb.run(room.count("all")) == 2
    assert sb.run(room.count("red")) == 1
    assert sb.run(room.count("re")) == 0  # exact match only
    # workerd order: no tag → newest first; with a tag → accept order (reference §7).
    assert sb.run(room.ids()) == ["ws-3", "ws-2", "ws-1"]
    assert sb.run(room.ids("all")) == ["ws-1", "ws-2"]


def test_broadcast_to_a_tag_reaches_only_tagged_clients(sb: Sandbox, room: Any) -> None:
    """A broadcast over get_web_sockets('red') reaches red clients only."""
    red = sb.connect(room, "/ws?tags=red")
    blue = sb.connect(room, "/ws?tags=blue")
    red2 = sb.connect(room, "/ws?tags=red,blue")
    blue.send({"op": "broadcast", "tag": "red", "text": "to red"})
    assert red.messages == ["to red"]
    assert red2.messages == ["to red"]
    assert blue.messages == []


def test_duplicate_tags_are_ignored_and_get_tags_returns_them(sb: Sandbox, room: Any) -> None:
    """Duplicate tags count once; get_tags(ws) returns the distinct tags in order."""
    client = sb.connect(room, "/ws?tags=a,b,a,c,b&name=ann")
    client.send({"op": "whoami"})
    info = json.loads(client.receive())
    assert info["tags"] == ["a", "b", "c"]
    assert info["attachment"] == {"name": "ann"}
    assert info["listed"] is True


def test_eleven_tags_are_refused_and_nothing_is_lost(sb: Sandbox, room: Any) -> None:
    """11 distinct tags → WebSocketLimitError (workerd: 'cannot have more than 10 tags')."""
    first = sb.connect(room, "/ws?tags=keep")
    eleven = ",".join(f"t{i}" for i in range(11))
    with pytest.raises(WebSocketLimitError, match="cannot have more than 10 tags") as info:
        sb.connect(room, f"/ws?tags={eleven}")
    assert "WEBSOCKET_LIMIT" in str(info.value)
    assert sb.run(room.count()) == 1
    ten = ",".join(f"t{i}" for i in range(10))
    sb.connect(room, f"/ws?tags={ten}")
    assert sb.run(room.count()) == 2
    first.send("still works")
    assert first.messages == ["still works"]


def test_a_tag_over_256_characters_is_refused(sb: Sandbox, room: Any) -> None:
    """A tag longer than 256 characters is refused with the platform's message."""
    with pytest.raises(WebSocketLimitError, match="longer than the max tag length"):
        sb.connect(room, "/ws?tags=" + "x" * 257)
    sb.connect(room, "/ws?tags=" + "x" * 256)
    assert sb.run(room.count()) == 1


def _probe_definition() -> Any:
    """An object whose RPC methods poke the hibernation API directly."""

    async def accept_twice(ctx: Any) -> str:
        pair = WebSocketPair()
        ctx.accept_web_socket(pair[1])
        ctx.accept_web_socket(pair[1])
        return "unreachable"

    async def accept_both_halves(ctx: Any) -> str:
        pair = WebSocketPair()
        ctx.accept_web_socket(pair[1])
        ctx.acceptWebSocket(pair[0])
        return "unreachable"

    async def accept_with(ctx: Any, tags: Any) -> list[str]:
        pair = WebSocketPair()
        ctx.accept_web_socket(pair[1], tags)
        return ctx.get_tags(pair[1])

    async def accept_many(ctx: Any, n: int) -> int:
        for _ in range(n):
            ctx.accept_web_socket(WebSocketPair()[1])
        return len(ctx.get_web_sockets())

    async def count(ctx: Any) -> int:
        return len(ctx.getWebSockets())

    async def attachment_copy(ctx: Any) -> Any:
        pair = WebSocketPair()
        ctx.accept_web_socket(pair[1])
        value = {"user": "ann", "joined": dt.datetime(2026, 1, 1), "rooms": {"a", "b"}}
        pair[1].serializeAttachment(value)
        value["user"] = "changed after serializing"
        first = pair[1].deserialize_attachment()
        first["user"] = "changed the copy"
        return [pair[1].deserialize_attachment(), WebSocketPair()[0].deserialize_attachment()]

    async def big_attachment(ctx: Any, size: int) -> Any:
        pair = WebSocketPair()
        ctx.accept_web_socket(pair[1])
        pair[1].serialize_attachment("small")
        try:
            pair[1].serialize_attachment("x" * size)
        except WebSocketLimitError as exc:
            return ["refused", str(exc), pair[1].deserialize_attachment()]
        return ["kept", len(pair[1].deserialize_attachment())]

    async def set_auto(ctx: Any, request: str | None, response: str | None) -> Any:
        if request is None:
            ctx.set_web_socket_auto_response()
        else:
            ctx.setWebSocketAutoResponse(WebSocketRequestResponsePair(request, response))
        pair = ctx.get_web_socket_auto_response()
        return None if pair is None else [pair.request, pair.getResponse()]

    return define_durable_object(
        methods={
            "accept_twice": accept_twice,
            "accept_both_halves": accept_both_halves,
            "accept_with": accept_with,
            "accept_many": accept_many,
            "count": count,
            "attachment_copy": attachment_copy,
            "big_attachment": big_attachment,
            "set_auto": set_auto,
        }
    )


@pytest.fixture
def probe(sb: Sandbox) -> Any:
    sb.register("probe", _probe_definition())
    return sb.durable_objects.probe.get("p")


def test_accepting_a_socket_twice_is_refused(sb: Sandbox, probe: Any) -> None:
    """A second accept_web_socket on one socket fails with workerd's message; the first stays."""
    with pytest.raises(WebSocketError, match="already accepted"):
        sb.run(probe.accept_twice())
    assert sb.run(probe.count()) == 1


def test_accepting_the_other_half_of_a_used_pair_is_refused(sb: Sandbox, probe: Any) -> None:
    """Once pair[1] is accepted, pair[0] cannot be: 'its pair has already been accepted'."""
    with pytest.raises(WebSocketError, match="its pair has already been accepted"):
        sb.run(probe.accept_both_halves())
    assert sb.run(probe.count()) == 1


def test_tags_must_be_a_list_of_strings(sb: Sandbox, probe: Any) -> None:
    """A bare string or a None tag is refused with a hint; a valid list works afterwards."""
    with pytest.raises(WebSocketError, match="list of str"):
        sb.run(probe.accept_with("room-1"))
    with pytest.raises(WebSocketError, match="missing query parameter"):
        sb.run(probe.accept_with([None, "all"]))
    assert sb.run(probe.accept_with(["room-1", "all", "room-1"])) == ["room-1", "all"]
    assert sb.run(probe.count()) == 1


def test_attachment_round_trip_is_a_copy(sb: Sandbox, probe: Any) -> None:
    """An attachment is a structured-clone snapshot; each read is a fresh copy; unset → None."""
    stored, unset = sb.run(probe.attachment_copy())
    assert stored == {"user": "ann", "joined": dt.datetime(2026, 1, 1), "rooms": {"a", "b"}}
    assert unset is None


def test_attachment_over_16384_bytes_is_refused_and_the_old_one_kept(
    sb: Sandbox, probe: Any
) -> None:
    """A serialized attachment over 16,384 bytes → WebSocketLimitError; the previous stays."""
    outcome, message, kept = sb.run(probe.big_attachment(20_000))
    assert outcome == "refused"
    assert "cannot be larger than 16384 bytes" in message
    assert kept == "small"
    assert sb.run(probe.big_attachment(16_000)) == ["kept", 16_000]


def test_the_32769th_socket_is_refused(sb: Sandbox, probe: Any) -> None:
    """32,768 accepted sockets per object (the real default); the next one is refused."""
    assert sb.limits.max_sockets == 32_768
    assert sb.run(probe.accept_many(32_768)) == 32_768
    with pytest.raises(WebSocketLimitError, match="only 32768 websockets can be accepted"):
        sb.run(probe.accept_many(1))
    assert sb.run(probe.count()) == 32_768


def test_auto_response_limits_and_removal(sb: Sandbox, probe: Any) -> None:
    """Request/response over 2,048 bytes are refused; calling with nothing removes the pair."""
    assert sb.run(probe.set_auto("ping", "pong")) == ["ping", "pong"]
    with pytest.raises(WebSocketLimitError, match="Request cannot be larger than 2048 bytes"):
        sb.run(probe.set_auto("p" * 2049, "pong"))
    with pytest.raises(WebSocketLimitError, match="Response cannot be larger than 2048 bytes"):
        sb.run(probe.set_auto("ping", "p" * 2049))
    assert sb.run(probe.set_auto("ping", "p" * 2048)) == ["ping", "p" * 2048]
    assert sb.run(probe.set_auto(None, None)) is None


def test_auto_response_answers_without_waking_the_object(sb: Sandbox, room: Any) -> None:
    """A matching text message is answered by the runtime: no handler, no init, even evicted."""
    client = sb.connect(room, "/ws")
    sb.run(room.set_auto("ping", "pong"))
    handle = sb.inspect(room)
    handle.evict()
    room_class = sb.durable_objects.room.cls
    inits = room_class.inits
    client.send("ping")
    assert client.messages == ["pong"]
    assert handle.status == "evicted"
    assert room_class.inits == inits  # init did not run again
    assert handle.sockets.loc[0, "auto_response_at"] == sb.clock.now
    assert handle.sockets.loc[0, "messages_in"] == 0
    # Near misses and binary frames reach the handler (which wakes the object).
    client.send("Ping")
    assert client.messages == ["pong", "Ping"]
    client.send(b"ping")
    assert client.messages[-1] == b"gnip"
    assert room_class.inits == inits + 1
