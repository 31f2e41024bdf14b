"""Byte streams and Request/Response over RPC (workerd: a ReadableStream argument is read by
the callee chunk by chunk; a sender's error arrives as "ReadableStream received over RPC
disconnected prematurely."; Request and Response cross as the receiver's own copies)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from dosandbox import DurableObject, ReadableStream, Request, Response, Sandbox
from dosandbox.errors import DurableObjectMethodError, StreamError

PULLED: list[int] = []


async def chunks(n: int, size: int = 4) -> AsyncIterator[bytes]:
    for i in range(n):
        PULLED.append(i)
        yield bytes(size)


class Sink(DurableObject):
    async def consume(self, stream: ReadableStream) -> list[int]:
        return [len(chunk) async for chunk in stream]

    async def first_only(self, stream: ReadableStream) -> int:
        async for chunk in stream:
            return len(chunk)
        return -1

    async def consume_err(self, stream: ReadableStream) -> dict[str, Any]:
        got: list[int] = []
        try:
            async for chunk in stream:
                got.append(len(chunk))
        except StreamError as exc:
            return {"chunks": got, "err": exc.message.split(" The ")[0]}
        return {"chunks": got}

    def produce(self, n: int) -> AsyncIterator[bytes]:
        async def gen() -> AsyncIterator[bytes]:
            for i in range(1, n + 1):
                yield bytes([i, i])
        return gen()

    async def request_info(self, req: Request) -> dict[str, Any]:
        return {"url": req.url, "method": req.method, "h": req.headers.get("x-a"),
                "body": await req.text()}

    def response(self) -> Response:
        return Response("hello", status=201, headers={"x-b": "2"})


@pytest.fixture
def sb() -> Sandbox:
    PULLED.clear()
    box = Sandbox()
    box.register("sink", Sink)
    return box


def test_stream_argument_is_consumed_by_the_object_as_workerd(sb: Sandbox) -> None:
    """An async iterator of bytes is read by the callee (workerd streamArg: [4, 4, 4])."""
    assert sb.run(sb.durable_objects.sink.get("s").consume(chunks(3))) == [4, 4, 4]


def test_stream_is_pulled_only_as_read(sb: Sandbox) -> None:
    """Back-pressure: a reader taking one chunk pulls only that one from the sender."""
    assert sb.run(sb.durable_objects.sink.get("s").first_only(chunks(100))) == 4
    assert PULLED == [0]


def test_stream_sender_error_reaches_reader_as_workerd(sb: Sandbox) -> None:
    """The sender raising mid-stream: the reader got the earlier chunks, then workerd's
    'ReadableStream received over RPC disconnected prematurely.'"""
    async def broken() -> AsyncIterator[bytes]:
        yield bytes(4)
        yield bytes(4)
        raise TypeError("boom")
    result = sb.run(sb.durable_objects.sink.get("s").consume_err(broken()))
    assert result == {"chunks": [4, 4],
                      "err": "ReadableStream received over RPC disconnected prematurely."}


def test_stream_of_text_is_refused_naming_the_fix(sb: Sandbox) -> None:
    """A str chunk is a StreamError saying streams carry bytes (workerd: byte streams only)."""
    async def text() -> AsyncIterator[str]:
        yield "abc"
    with pytest.raises(DurableObjectMethodError) as info:
        sb.run(sb.durable_objects.sink.get("s").consume(text()))
    assert isinstance(info.value.__cause__, StreamError)
    assert "encode" in str(info.value)


def test_stream_result_is_read_by_the_caller_as_workerd(sb: Sandbox) -> None:
    """A stream returned by a method is read on the notebook side (workerd: [[1,1],[2,2],[3,3]])."""
    stream = sb.run(sb.durable_objects.sink.get("s").produce(3))
    assert isinstance(stream, ReadableStream)

    async def read() -> list[list[int]]:
        return [list(chunk) async for chunk in stream]
    assert sb.run(read()) == [[1, 1], [2, 2], [3, 3]]


def test_request_argument_crosses_as_workerd(sb: Sandbox) -> None:
    """A Request passes over RPC with url, method, headers and body (workerd reqArg)."""
    req = Request("https://x.test/p?q=1", method="POST", headers={"x-a": "1"}, body="bodyy")
    assert sb.run(sb.durable_objects.sink.get("s").request_info(req)) == {
        "url": "https://x.test/p?q=1", "method": "POST", "h": "1", "body": "bodyy"}


def test_response_result_crosses_as_workerd(sb: Sandbox) -> None:
    """A Response returned by a method keeps status, headers and body (workerd respResult)."""
    resp = sb.run(sb.durable_objects.sink.get("s").response())
    assert isinstance(resp, Response)
    assert (resp.status, resp.headers["x-b"], resp.text_sync() if hasattr(resp, "text_sync")
            else None) [:2] == (201, "2")
    assert sb.run(resp.text()) == "hello"
