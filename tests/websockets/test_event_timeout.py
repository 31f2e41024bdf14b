"""ctx.set_hibernatable_web_socket_event_timeout: workerd's bounds, and handlers canceled."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from typing import Any

import pytest

from dosandbox import DurableObject, Response, Sandbox, WebSocketPair
from dosandbox.errors import WaitingOnTimeError, WebSocketError


class Slow(DurableObject):
    """A hibernatable socket whose handler sleeps on ``sleep:<seconds>``."""

    seen: list[Any] = []  # noqa: RUF012  (reset by the fixture)
    inits = 0

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        type(self).inits += 1

    async def fetch(self, request: Any) -> Response:
        client, server = WebSocketPair()
        self.ctx.accept_web_socket(server)
        return Response(None, status=101, web_socket=client)

    async def web_socket_message(self, ws: Any, message: Any) -> None:
        if message.startswith("sleep:"):
            self.seen.append("start")
            ws.send("started")
            await asyncio.sleep(float(message[6:]))
            self.seen.append("end")
            ws.send("finished")
        else:
            ws.send(f"echo:{message}")

    def set_timeout(self, *args: Any) -> Any:
        try:
            self.ctx.set_hibernatable_web_socket_event_timeout(*args)
        except WebSocketError as exc:
            return [type(exc).__name__, exc.message]
        return self.ctx.getHibernatableWebSocketEventTimeout()


@pytest.fixture
def stub(do_sandbox: Sandbox) -> Any:
    Slow.seen = []
    Slow.inits = 0
    do_sandbox.register("slow", Slow)
    return do_sandbox.durable_objects.slow.get("s")


def test_the_timeout_is_unset_until_set(do_sandbox: Sandbox, stub: Any) -> None:
    """get returns None by default; 0, None or no argument unset it; fractions truncate."""
    assert do_sandbox.run(stub.set_timeout(None)) is None
    assert do_sandbox.run(stub.set_timeout(1000)) == 1000
    assert do_sandbox.run(stub.set_timeout(0)) is None
    assert do_sandbox.run(stub.set_timeout(1.5)) == 1
    assert do_sandbox.run(stub.set_timeout()) is None
    assert do_sandbox.run(stub.set_timeout(dt.timedelta(seconds=2))) == 2000
    assert do_sandbox.run(stub.set_timeout(604_800_000)) == 604_800_000


@pytest.mark.parametrize(
    ("value", "error", "text"),
    [
        (-1, "WebSocketLimitError", "it is negative and this API expects a positive number"),
        (604_800_001, "WebSocketLimitError", "Event timeout should not exceed 604800000 ms."),
        (2**53, "WebSocketLimitError", "Event timeout should not exceed 604800000 ms."),
        (math.nan, "WebSocketError", "not an integer"),
        ("5000", "WebSocketError", "takes milliseconds (an int) or a timedelta"),
        (True, "WebSocketError", "takes milliseconds (an int) or a timedelta"),
    ],
)
def test_bad_timeouts_are_refused_and_the_old_one_kept(
    do_sandbox: Sandbox, stub: Any, value: Any, error: str, text: str
) -> None:
    """Out of bounds or not a number: a typed error with workerd's words; nothing changes."""
    assert do_sandbox.run(stub.set_timeout(5000)) == 5000
    name, message = do_sandbox.run(stub.set_timeout(value))
    assert name == error and text in message
    assert do_sandbox.run(stub.set_timeout(5000)) == 5000


def test_a_handler_running_past_the_timeout_is_canceled(do_sandbox: Sandbox, stub: Any) -> None:
    """As in workerd: the handler stops, the socket stays open, later messages arrive."""
    do_sandbox.run(stub.set_timeout(1000))
    client = do_sandbox.connect(stub, "/")
    with pytest.raises(WaitingOnTimeError):
        client.send("sleep:10")
    do_sandbox.clock.advance(seconds=1)
    assert Slow.seen == ["start"]
    assert client.messages == ["started"]
    assert "ws.timeout" in list(do_sandbox.inspect(stub).events["kind"])
    client.send("after")
    assert client.messages[-1] == "echo:after" and not client.closed
    do_sandbox.clock.advance(seconds=20)
    assert Slow.seen == ["start"] and Slow.inits == 1  # never resumed; never reset


def test_without_a_timeout_a_slow_handler_finishes(do_sandbox: Sandbox, stub: Any) -> None:
    """No timeout set: a handler sleeping 10 s runs to its end."""
    client = do_sandbox.connect(stub, "/")
    with pytest.raises(WaitingOnTimeError):
        client.send("sleep:10")
    do_sandbox.clock.advance(seconds=10)
    assert Slow.seen == ["start", "end"]
    assert client.messages == ["started", "finished"]
