"""The standard WebSocket API: server.accept() and add_event_listener, as workerd runs them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dosandbox import (
    DurableObject,
    Limits,
    Response,
    Sandbox,
    WebSocket,
    WebSocketPair,
    define_durable_object,
)
from dosandbox.errors import WaitingOnTimeError, WebSocketError, WebSocketLimitError


class Classic(DurableObject):
    """The chat demo's shape: accept() the server half, listen, return the client half.

    ``Classic.seen`` records what the listeners saw; it outlives instances.
    """

    seen: list[Any] = []  # noqa: RUF012  (reset by the fixture)

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.kept: WebSocket | None = None

    async def fetch(self, request: Any) -> Response:
        path = request.parsed_url.path
        client, server = WebSocketPair()
        if path == "/hib":
            self.ctx.accept_web_socket(server)
            return Response(None, status=101, web_socket=client)
        server.accept()
        # camelCase, as ported JavaScript writes it, and snake_case both work.
        server.addEventListener("message", lambda event: self.on_message(server, event))
        server.add_event_listener("close", lambda event: self.seen.append(
            ("close", event.code, event.reason, event.wasClean, server.ready_state)))
        server.add_event_listener("error", lambda event: self.seen.append(
            ("error", type(event.error).__name__, event.message)))
        if path == "/keep":
            self.kept = client
        return Response(None, status=101, web_socket=client)

    async def on_message(self, ws: WebSocket, event: Any) -> None:
        data = event.data
        self.seen.append(("message", data))
        if data == "close":
            ws.close(4000, "by server")
        elif data == "raise":
            raise RuntimeError("listener bug")
        elif data == "sleep":
            self.seen.append(("start",))
            await asyncio.sleep(10)
            self.seen.append(("end",))
        elif data == "listed":
            ws.send(str(len(self.ctx.get_web_sockets())))
        elif isinstance(data, bytes):
            ws.send(data[::-1])
        else:
            ws.send(f"echo:{data}")

    def accept_kept(self) -> str:
        assert self.kept is not None
        try:
            self.kept.accept()
        except WebSocketError as exc:
            return exc.message
        return "accepted"

    def ping(self) -> str:
        return "pong"


@pytest.fixture
def sb(do_sandbox: Sandbox) -> Sandbox:
    Classic.seen = []
    do_sandbox.register("classic", Classic)
    return do_sandbox


@pytest.fixture
def stub(sb: Sandbox) -> Any:
    return sb.durable_objects.classic.get("c")


def test_listeners_get_text_and_binary_messages(sb: Sandbox, stub: Any) -> None:
    """A message event carries .data: str for text, bytes for binary; replies reach the client."""
    client = sb.connect(stub, "/ws")
    client.send("hi")
    client.send(b"\x01\x02")
    assert client.messages == ["echo:hi", b"\x02\x01"]
    assert Classic.seen == [("message", "hi"), ("message", b"\x01\x02")]
    kinds = list(sb.inspect(stub).events["kind"])
    assert "ws.message" in kinds and "websocket" in kinds


def test_standard_sockets_are_not_hibernatable_sockets(sb: Sandbox, stub: Any) -> None:
    """get_web_sockets() lists only ctx.accept_web_socket sockets; handle.sockets shows both."""
    standard = sb.connect(stub, "/ws")
    sb.connect(stub, "/hib")
    standard.send("listed")
    assert standard.messages == ["1"]  # only the hibernatable one is listed
    frame = sb.inspect(stub).sockets
    assert list(frame["api"]) == ["standard", "hibernatable"]
    assert sb.inspect(stub).socket_count == 2


def test_client_close_is_answered_before_the_close_event(sb: Sandbox, stub: Any) -> None:
    """The runtime echoes the client's Close; the close listener sees code, reason, CLOSED."""
    client = sb.connect(stub, "/ws")
    client.close(4001, "client bye")
    assert Classic.seen == [("close", 4001, "client bye", True, WebSocket.CLOSED)]
    assert client.closed and (client.close_code, client.close_reason) == (4001, "client bye")
    assert len(sb.inspect(stub).sockets) == 0


def test_object_close_reaches_the_client_then_close_fires(sb: Sandbox, stub: Any) -> None:
    """ws.close(4000, ...) from a listener closes the client; its echo fires 'close' cleanly."""
    client = sb.connect(stub, "/ws")
    client.send("close")
    assert (client.close_code, client.close_reason, client.was_clean) == (4000, "by server", True)
    assert Classic.seen[-1] == ("close", 4000, "by server", True, WebSocket.CLOSED)


def test_a_dropped_connection_fires_close_with_1006(sb: Sandbox, stub: Any) -> None:
    """client.disconnect(): the close listener sees 1006, was_clean False."""
    client = sb.connect(stub, "/ws")
    client.disconnect()
    event = Classic.seen[-1]
    assert event[:4] == ("close", 1006, "WebSocket disconnected without sending Close frame.",
                         False)


def test_a_raising_listener_errors_the_socket(sb: Sandbox, stub: Any) -> None:
    """As in workerd: the error listeners run, the client sees 1006; the object keeps serving."""
    client = sb.connect(stub, "/ws")
    client.send("raise")
    assert Classic.seen[-1] == ("error", "RuntimeError", "Uncaught RuntimeError: listener bug")
    assert client.closed and client.close_code == 1006
    with pytest.raises(WebSocketError, match="closed WebSocket"):
        client.send("again")
    assert sb.run(stub.ping()) == "pong"
    assert "error" in list(sb.inspect(stub).events["kind"])
    other = sb.connect(stub, "/ws")
    other.send("still")
    assert other.messages == ["echo:still"]


def test_a_message_does_not_wait_for_the_previous_listener(sb: Sandbox, stub: Any) -> None:
    """Listeners are not chained per socket: a second message runs while the first sleeps."""
    client = sb.connect(stub, "/ws")
    with pytest.raises(WaitingOnTimeError):
        client.send("sleep")
    client.send("next")
    assert Classic.seen == [("message", "sleep"), ("start",), ("message", "next")]
    assert client.messages == ["echo:next"]
    sb.clock.advance(seconds=10)
    assert Classic.seen[-1] == ("end",)


def test_evicting_closes_standard_sockets_and_keeps_hibernatable_ones(
    sb: Sandbox, stub: Any
) -> None:
    """Standard-API sockets cannot hibernate: evict() closes them (1006); the others stay."""
    standard = sb.connect(stub, "/ws")
    hibernatable = sb.connect(stub, "/hib")
    assert sb.inspect(stub).evict() is True
    assert standard.closed and standard.close_code == 1006 and standard.was_clean is False
    assert not hibernatable.closed
    assert list(sb.inspect(stub).sockets["api"]) == ["hibernatable"]
    messages = list(sb.inspect(stub).events["message"])
    assert any("standard-API socket(s) closed" in m for m in messages)
    assert Classic.seen == []  # the instance is gone: no close listener runs


def test_the_inspector_shows_which_api_a_socket_uses(sb: Sandbox, stub: Any) -> None:
    """The Sockets tab's row summary names the API: standard or hibernatable."""
    sb.connect(stub, "/ws")
    sb.connect(stub, "/hib")
    tab = sb.inspect(stub).widget().select_tab("Sockets")
    assert "(standard)" in tab.row("ws-1").summary.value
    assert "(hibernatable)" in tab.row("ws-2").summary.value
    tab.row("ws-1").send("from the inspector")
    assert Classic.seen[-1] == ("message", "from the inspector")


def test_an_oversized_message_errors_a_standard_socket(do_sandbox: Sandbox) -> None:
    """Over the limit: WebSocketLimitError, the 'error' listeners run, the client sees 1009."""
    sb = Sandbox(start=do_sandbox.clock.now, limits=Limits(max_message_bytes=8))
    Classic.seen = []
    sb.register("classic", Classic)
    stub = sb.durable_objects.classic.get("c")
    client = sb.connect(stub, "/ws")
    client.send("x" * 8)  # exactly the limit is accepted, as in workerd
    assert client.messages == ["echo:xxxxxxxx"]  # what the object sends is not limited
    with pytest.raises(WebSocketLimitError, match="too large"):
        client.send("x" * 9)
    assert (client.close_code, client.close_reason) == (1009, "Message is too large")
    assert Classic.seen[-1][:2] == ("error", "WebSocketLimitError")
    assert sb.run(stub.ping()) == "pong"
    sb.close()


def test_accepting_twice_does_nothing(do_sandbox: Sandbox) -> None:
    """A second accept() is a no-op, as in workerd: same socket, one row."""

    async def fetch(request: Any, ctx: Any) -> Response:
        client, server = WebSocketPair()
        server.accept()
        server.accept()
        server.send(str(server.id))
        return Response(None, status=101, web_socket=client)

    do_sandbox.register("twice", define_durable_object(fetch=fetch))
    stub = do_sandbox.durable_objects.twice.get("t")
    client = do_sandbox.connect(stub, "/")
    assert client.messages == ["ws-1"]
    assert list(do_sandbox.inspect(stub).sockets["socket"]) == ["ws-1"]


def test_mixing_the_two_apis_is_refused(do_sandbox: Sandbox) -> None:
    """accept() after accept_web_socket and the reverse fail with workerd's words."""

    async def mix(ctx: Any) -> list[str]:
        out = []
        first, second = WebSocketPair(), WebSocketPair()
        ctx.accept_web_socket(first[1])
        second[1].accept()
        for attempt in (
            first[1].accept,
            lambda: ctx.accept_web_socket(second[1]),
            lambda: first[1].add_event_listener("message", print),
            lambda: ctx.get_tags(second[1]),
        ):
            try:
                attempt()
            except WebSocketError as exc:
                out.append(exc.message)
        return out

    do_sandbox.register("mixer", define_durable_object(methods={"mix": mix}))
    after_hib, after_std, listener, tags = do_sandbox.run(
        do_sandbox.durable_objects.mixer.get("m").mix()
    )
    assert after_hib.startswith("Can't accept() WebSocket after enabling hibernation")
    assert after_std.startswith(
        "Cannot call `acceptWebSocket()` if the WebSocket was already accepted via `accept()`"
    )
    assert "a listener would never run" in listener
    assert tags.startswith("only hibernatable websockets can have tags")


def test_accepting_a_half_already_returned_is_refused(sb: Sandbox, stub: Any) -> None:
    """The half handed to the client cannot be accepted later (workerd's message)."""
    sb.connect(stub, "/keep")
    message = sb.run(stub.accept_kept())
    assert message.startswith("Can't accept() WebSocket that was already used in a response.")


def test_accept_outside_an_object_or_without_a_pair_is_refused() -> None:
    """accept() in notebook code, or on a lone WebSocket, is a WebSocketError with the fix."""
    with pytest.raises(WebSocketError, match="inside its code"):
        WebSocketPair()[1].accept()
    with pytest.raises(WebSocketError, match="half of a WebSocketPair"):
        WebSocket().accept()


def test_bad_listeners_and_event_names_are_refused(do_sandbox: Sandbox) -> None:
    """A non-callable listener or an event name other than message/close/error is refused."""
    ws = WebSocketPair()[1]
    with pytest.raises(WebSocketError, match="parameter 2 is not of type"):
        ws.add_event_listener("message", "on_message")  # type: ignore[arg-type]
    with pytest.raises(WebSocketError, match="'message', 'close' or 'error'"):
        ws.add_event_listener("open", print)
    with pytest.raises(WebSocketError, match="not 'mesage'"):
        ws.addEventListener("mesage", print)
    with pytest.raises(WebSocketError, match="'message', 'close' or 'error'"):
        ws.remove_event_listener("bogus", print)
    ws.add_event_listener("message", print)  # the socket is still usable after the refusals
    assert ws._listeners == {"message": [print]}


def test_removed_listeners_stop_and_unheard_messages_are_logged(do_sandbox: Sandbox) -> None:
    """remove_event_listener stops a listener; a message nobody listens to is ws.dropped."""
    heard: list[Any] = []

    async def fetch(request: Any, ctx: Any) -> Response:
        client, server = WebSocketPair()
        server.accept()

        def once(event: Any) -> None:
            heard.append(event.data)
            server.removeEventListener("message", once)

        server.add_event_listener("message", once)
        server.add_event_listener("message", once)  # adding twice does nothing
        return Response(None, status=101, web_socket=client)

    do_sandbox.register("once", define_durable_object(fetch=fetch))
    stub = do_sandbox.durable_objects.once.get("o")
    client = do_sandbox.connect(stub, "/")
    client.send("first")
    client.send("second")
    assert heard == ["first"]
    assert "ws.dropped" in list(do_sandbox.inspect(stub).events["kind"])


def test_sending_on_a_closed_standard_socket_is_refused(do_sandbox: Sandbox) -> None:
    """send() after close() is workerd's error; the object keeps serving."""

    async def fetch(request: Any, ctx: Any) -> Response:
        client, server = WebSocketPair()
        server.accept()

        def on_message(event: Any) -> None:
            server.close(1000, "done")
            try:
                server.send("too late")
            except WebSocketError as exc:
                ctx.state = exc.message

        server.add_event_listener("message", on_message)
        return Response(None, status=101, web_socket=client)

    def last_error(ctx: Any) -> Any:
        return ctx.state

    do_sandbox.register(
        "closer", define_durable_object(fetch=fetch, methods={"last_error": last_error})
    )
    stub = do_sandbox.durable_objects.closer.get("c")
    client = do_sandbox.connect(stub, "/")
    client.send("go")
    assert client.close_code == 1000
    assert do_sandbox.run(stub.last_error()).startswith("Can't call WebSocket send() after close()")
