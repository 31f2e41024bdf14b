"""The declared limits hold on every path: RPC payloads (32 MiB, counted over all arguments,
keyword arguments and nested values) and WebSocket messages an object receives (counted in
UTF-8 bytes for text)."""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import DataCloneError, DurableObject, Limits, Response, Sandbox, WebSocketPair
from dosandbox.errors import WebSocketLimitError

MIB = 1024 * 1024


class Sink(DurableObject):
    def take(self, *args: Any, **kwargs: Any) -> int:
        return len(args) + len(kwargs)

    def make(self, pieces: int, size: int) -> list[bytes]:
        return [b"\0" * size for _ in range(pieces)]

    async def fetch(self, request: Any) -> Response:
        client, server = WebSocketPair()
        self.ctx.accept_web_socket(server)
        return Response(None, status=101, web_socket=client)

    async def web_socket_message(self, ws: Any, message: Any) -> None:
        ws.send(f"got {len(message)}")


def test_many_arguments_are_counted_together() -> None:
    """40 one-MiB strings are over 32 MiB together, though each is small."""
    with Sandbox(seed=0) as sb:
        stub = sb.register("sink", Sink).get("s")
        piece = "x" * MIB
        assert sb.run(stub.take(*[piece] * 30)) == 30
        with pytest.raises(DataCloneError, match="limited to 32MiB"):
            stub.take(*[piece] * 40)
        with pytest.raises(DataCloneError, match="limited to 32MiB"):
            stub.take(data={"a": [piece] * 20, "b": [piece.encode()] * 20})
        assert sb.run(stub.take(1)) == 1


def test_a_nested_result_over_the_limit_is_refused() -> None:
    """A result made of many small pieces is measured whole, and marked remote."""
    with Sandbox(seed=0, limits=Limits(max_rpc_bytes=64 * 1024)) as sb:
        stub = sb.register("sink", Sink).get("s")
        assert len(sb.run(stub.make(10, 1024))) == 10
        with pytest.raises(DataCloneError, match="limited to 65536 bytes") as info:
            sb.run(stub.make(100, 1024))
        assert info.value.remote


def test_text_messages_are_measured_in_utf8_bytes() -> None:
    """8 'é' are 16 bytes (the limit, accepted); 9 are 18 (refused with 1009)."""
    with Sandbox(seed=0, limits=Limits(max_message_bytes=16)) as sb:
        stub = sb.register("sink", Sink).get("s")
        client = sb.connect(stub, "/ws")
        client.send("é" * 8)
        assert client.messages == ["got 8"]
        with pytest.raises(WebSocketLimitError, match="18 bytes"):
            client.send("é" * 9)
        assert (client.close_code, client.close_reason) == (1009, "Message is too large")


def test_binary_messages_at_and_over_the_limit() -> None:
    """bytes of exactly the limit pass; one more is refused; another socket keeps working."""
    with Sandbox(seed=0, limits=Limits(max_message_bytes=16)) as sb:
        stub = sb.register("sink", Sink).get("s")
        keeper = sb.connect(stub, "/ws")
        client = sb.connect(stub, "/ws")
        client.send(b"\1" * 16)
        with pytest.raises(WebSocketLimitError, match="17 bytes"):
            client.send(b"\1" * 17)
        assert client.closed and client.messages == ["got 16"]
        keeper.send(b"ok")
        assert keeper.messages == ["got 2"]
