"""Real WebSocket clients (the ``websockets`` library over loopback) reach objects through
sb.serve(): messages both ways, binary, tags, close codes, hibernation, the standard API,
concurrency, and bad input (refused upgrades, a client gone mid-frame, a message too big)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from dosandbox import Limits, Sandbox


def test_text_and_binary_messages_go_both_ways(kit: Any) -> None:
    """Text is echoed, binary comes back reversed: the object's handler saw each frame."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with websockets.connect(kit.ws_url(server, "/room/r/ws")) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            await ws.send(b"\x01\x02\x03")
            assert await ws.recv() == b"\x03\x02\x01"
        assert ("binary", b"\x01\x02\x03") in kit.Room.journal

    kit.serve(scenario)


def test_the_handle_lists_real_sockets_with_their_tags(kit: Any) -> None:
    """Connected browsers show in the inspector's sockets table, tags and all."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with websockets.connect(kit.ws_url(server, "/room/r/ws?tags=a,b")), \
                websockets.connect(kit.ws_url(server, "/room/r/ws?tags=c")):
            await kit.wait_for(lambda: len(server.sockets) == 2)
            frame = sb.inspect(sb.durable_objects.room.get("r")).sockets
            assert list(frame["socket"]) == ["ws-1", "ws-2"]
            assert [list(t) for t in frame["tags"]] == [["a", "b"], ["c"]]

    kit.serve(scenario)


def test_a_broadcast_to_a_tag_reaches_only_those_clients(kit: Any) -> None:
    """get_web_sockets('red') picks the real sockets tagged red."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        url = kit.ws_url(server, "/room/r/ws?tags=")
        async with websockets.connect(url + "red") as red1, \
                websockets.connect(url + "red") as red2, \
                websockets.connect(url + "blue") as blue:
            await red1.send(json.dumps({"op": "broadcast", "tag": "red", "text": "hi reds"}))
            assert await red1.recv() == "hi reds" and await red2.recv() == "hi reds"
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(blue.recv(), 0.2)

    kit.serve(scenario)


def test_a_client_close_code_reaches_web_socket_close_and_is_answered(kit: Any) -> None:
    """The browser closes with 4000: the object sees 4000, and the runtime answers with it."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        ws = await websockets.connect(kit.ws_url(server, "/room/r/ws"))
        await ws.close(4000, "bye")
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4000
        await kit.wait_for(lambda: ("close", 4000, "bye", True) in kit.Room.journal)
        await kit.wait_for(lambda: not server.sockets)
        assert sb.inspect(sb.durable_objects.room.get("r")).sockets.empty

    kit.serve(scenario)


def test_the_object_closing_reaches_the_client_with_its_code(kit: Any) -> None:
    """ws.close(4001, 'kicked') in the object: the client sees 4001; the echo reaches the object."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with websockets.connect(kit.ws_url(server, "/room/r/ws")) as ws:
            await ws.send(json.dumps({"op": "close", "code": 4001, "reason": "kicked"}))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "kicked")
        await kit.wait_for(lambda: ("close", 4001, "kicked", True) in kit.Room.journal)

    kit.serve(scenario)


def test_stop_closes_real_sockets_with_1001_and_tells_the_object(kit: Any) -> None:
    """server.stop(): the browser gets 1001 (going away), web_socket_close runs with 1001."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        ws = await websockets.connect(kit.ws_url(server, "/room/r/ws"))
        await kit.wait_for(lambda: len(server.sockets) == 1)
        server.stop()
        assert ("close", 1001, "dosandbox server stopped", True) in kit.Room.journal
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001

    kit.serve(scenario)


def test_hibernatable_sockets_outlive_an_evict(kit: Any) -> None:
    """Evicted between two messages, the object wakes (init again) with tags and attachment."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with websockets.connect(kit.ws_url(server, "/room/r/ws?tags=x&name=ann")) as ws:
            await ws.send(json.dumps({"op": "whoami"}))
            first = json.loads(await ws.recv())
            assert sb.evict_all() == 1
            await ws.send(json.dumps({"op": "whoami"}))
            second = json.loads(await ws.recv())
        assert first == {"attachment": {"name": "ann"}, "tags": ["x"], "inits": 1}
        assert second == {"attachment": {"name": "ann"}, "tags": ["x"], "inits": 2}

    kit.serve(scenario)


def test_standard_api_sockets_work_and_close_1006_on_evict(kit: Any) -> None:
    """ws.accept() sockets get messages; evicting the object drops them (the browser: 1006)."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with websockets.connect(kit.ws_url(server, "/room/r/std")) as ws:
            await ws.send("ping")
            assert await ws.recv() == "std:ping"
            sb.evict_all()
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is None  # no Close frame: the browser reports 1006

    kit.serve(scenario)


def test_many_concurrent_clients_all_get_a_broadcast(kit: Any) -> None:
    """40 clients connected at once; one broadcast reaches every one of them."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        clients = await asyncio.gather(
            *(websockets.connect(kit.ws_url(server, "/room/big/ws")) for _ in range(40))
        )
        await clients[0].send(json.dumps({"op": "broadcast", "text": "all"}))
        got = await asyncio.gather(*(asyncio.wait_for(c.recv(), 5) for c in clients))
        assert got == ["all"] * 40
        await asyncio.gather(*(c.close() for c in clients))

    kit.serve(scenario)


def test_an_upgrade_the_object_refuses_is_that_http_answer(kit: Any) -> None:
    """The object answers 404 to the upgrade: the client's handshake fails with 404."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(kit.ws_url(server, "/room/r/not-a-socket"))
        assert refused.value.response.status_code == 404
        assert b"no socket here" in refused.value.response.body
        async with websockets.connect(kit.ws_url(server, "/room/r/ws")) as ws:
            await ws.send("still serving")
            assert await ws.recv() == "still serving"

    kit.serve(scenario)


def test_an_upgrade_without_a_key_is_a_400_before_the_object(kit: Any) -> None:
    """Upgrade: websocket without Sec-WebSocket-Key is a bad handshake; no object runs."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /room/r/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(4096), 5)
        writer.close()
        assert b" 400 " in answer.split(b"\r\n")[0] and b"Sec-WebSocket-Key" in answer
        assert kit.Room.inits == 0

    kit.serve(scenario)


def test_a_client_gone_mid_frame_is_a_1006_and_loses_nothing(kit: Any) -> None:
    """A whole message, then half a frame and a dropped connection: the first message was
    handled, the object sees 1006, and the server keeps serving."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16))
        writer.write(b"GET /room/r/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Key: " + key + b"\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b" 101 " in head.split(b"\r\n")[0]
        mask = b"\x01\x02\x03\x04"
        payload = b"whole"
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        writer.write(b"\x81" + bytes([0x80 | len(payload)]) + mask + masked)
        writer.write(b"\x81" + bytes([0x80 | 100]) + mask + b"only a bit")  # 100 promised
        await writer.drain()
        await kit.wait_for(lambda: ("message", "echo") in kit.Room.journal)
        writer.transport.abort()
        await kit.wait_for(lambda: any(e[:2] == ("close", 1006) for e in kit.Room.journal))
        async with websockets.connect(kit.ws_url(server, "/room/r/ws")) as ws:
            await ws.send("after")
            assert await ws.recv() == "after"

    kit.serve(scenario)


def test_a_message_over_the_limit_closes_1009_and_runs_web_socket_error(kit: Any) -> None:
    """Past Limits(max_message_bytes): the client sees 1009, web_socket_error runs."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with websockets.connect(kit.ws_url(server, "/room/r/ws")) as ws:
            await ws.send("x" * 2000)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await kit.wait_for(lambda: ("error", "WebSocketLimitError") in kit.Room.journal)

    kit.serve(scenario, limits=Limits(max_message_bytes=1000))


def test_a_101_whose_other_half_was_never_accepted_is_a_500_saying_so(kit: Any) -> None:
    """fetch returns pair[0] without accepting pair[1]: 500 naming accept_web_socket."""
    from dosandbox import DurableObject, Response, WebSocketPair

    class Forgetful(DurableObject):
        async def fetch(self, request: Any) -> Response:
            client, _server = WebSocketPair()
            return Response(None, status=101, web_socket=client)

    async def scenario(sb: Sandbox, server: Any) -> None:
        sb.register("forgetful", Forgetful)
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(kit.ws_url(server, "/forgetful/x/ws"))
        assert refused.value.response.status_code == 500
        assert b"accept_web_socket" in refused.value.response.body

    kit.serve(scenario)
