"""Typed errors that named no fix now name one (each is triggered for real here)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from dosandbox import (
    DurableObject,
    DurableObjectMethodError,
    Request,
    Response,
    Sandbox,
    WebSocketPair,
    WebSocketRequestResponsePair,
    define_durable_object,
)
from dosandbox.errors import (
    ConfigError,
    DriverError,
    HttpError,
    InvalidIdError,
    SqlError,
    ValidationError,
    WebSocketError,
)

# The future a "never" call waits on, resolved by the test afterwards so nothing is left over.
PENDING: list[asyncio.Future[None]] = []


class Probe(DurableObject):
    async def run(self, what: str) -> Any:
        ctx = self.ctx
        if what == "one":
            ctx.sql.exec("CREATE TABLE IF NOT EXISTS t (x)")
            return ctx.sql.exec("SELECT x FROM t").one()
        if what == "bindings":
            return ctx.sql.exec("SELECT ?, ?", 1).to_list()
        if what == "both":
            return await ctx.storage.list(start_after="a", startAfter="b")
        if what == "surrogate":
            await ctx.storage.put("a", 1)
            return await ctx.storage.list(prefix="\ud800")
        if what == "never":
            PENDING.append(asyncio.get_running_loop().create_future())
            await PENDING[-1]
        if what == "json":
            return await Request("https://example.com/", method="POST", body="not json").json()
        pair = WebSocketPair()
        if what == "long tag":
            ctx.accept_web_socket(pair[1], ["x" * 300])
        if what == "long auto-response":
            ctx.set_web_socket_auto_response(WebSocketRequestResponsePair("p" * 3000, "q"))
        return None


@pytest.fixture
def probe() -> Iterator[Any]:
    with Sandbox(seed=0) as sb:
        sb.register("probe", Probe)
        yield sb, sb.durable_objects.probe.get("p")


def inside(sb: Sandbox, stub: Any, what: str) -> Any:
    """The error ``what`` raises inside the object."""
    with pytest.raises(DurableObjectMethodError) as info:
        sb.run(stub.run(what))
    return info.value.__cause__


@pytest.mark.parametrize(
    ("what", "kind", "fix"),
    [
        ("one", SqlError, "Check the WHERE clause, or use to_list()"),
        ("bindings", SqlError, "Pass one value after the query for each ?"),
        ("both", ValidationError, "pass one."),
        ("surrogate", ValidationError, "fix the string"),
        ("json", HttpError, "Read it with text() instead"),
        ("long tag", WebSocketError, "Use a shorter tag"),
        ("long auto-response", WebSocketError, "answer longer messages in web_socket_message"),
    ],
)
def test_errors_inside_an_object_name_their_fix(
    probe: Any, what: str, kind: type[Exception], fix: str
) -> None:
    """Each error raised by object code says what to do; the object keeps serving."""
    sb, stub = probe
    err = inside(sb, stub, what)
    assert isinstance(err, kind) and fix in err.message  # type: ignore[attr-defined]
    assert sb.run(stub.run("nothing")) is None


def test_a_call_that_can_never_finish_says_how_to_end_it(probe: Any) -> None:
    """The driver's 'can never finish' names the ways out."""
    sb, stub = probe
    sb.driver.thread_wait = 0.05  # no thread will finish it: say so soon
    call = stub.run("never")
    with pytest.raises(DriverError, match="can never finish") as info:
        sb.run(call)
    assert "resolve what it awaits" in info.value.message
    PENDING.pop().set_result(None)  # as the message says: resolve it, and the call ends
    assert sb.run(stub.run("nothing")) is None


def test_an_id_of_another_namespace_says_which_ids_work(probe: Any) -> None:
    """A MAC mismatch names the namespace's own ways to make ids."""
    sb, _ = probe
    other = sb.register("other", type("Other", (Probe,), {}))
    with pytest.raises(InvalidIdError, match="Use an id made by this namespace"):
        sb.durable_objects.probe.id_from_string(str(other.id_from_name("x")))


def test_an_unknown_socket_id_on_a_handle_points_at_handle_sockets(probe: Any) -> None:
    """handle.client(unknown id) lists the open ones and where to look."""
    sb, stub = probe
    with pytest.raises(WebSocketError, match=r"handle.sockets lists them"):
        sb.inspect(stub).client("ws-99")


def test_state_type_that_is_not_a_type_shows_the_class_form() -> None:
    """state_type=CounterState() (an instance) is refused with the right spelling."""
    with pytest.raises(ConfigError, match=r"state_type=CounterState \(not CounterState\(\)\)"):
        define_durable_object(methods={"f": lambda ctx: 1}, state_type=object())


@pytest.mark.parametrize(
    ("make", "fix"),
    [
        (lambda: Request("https://example.com/", method="CONNECT"), "use GET, POST"),
        (lambda: Response("body", status=204), "pass body=None"),
        (lambda: Response.json({"a": object()}), "Pass JSON data"),
    ],
    ids=["forbidden method", "null body status", "json"],
)
def test_building_bad_requests_and_responses_names_the_fix(make: Any, fix: str) -> None:
    """Request/Response construction errors say what to pass instead."""
    with pytest.raises(HttpError) as info:
        make()
    assert fix in info.value.message


def test_clone_after_reading_or_with_a_web_socket_names_the_fix() -> None:
    """clone() after the body was read says to clone first; a WebSocket response says why not."""
    request = Request("https://example.com/", method="POST", body="x")
    asyncio.run(request.text())
    with pytest.raises(HttpError, match="call clone\\(\\) before reading"):
        request.clone()
    response = Response("x")
    asyncio.run(response.text())
    with pytest.raises(HttpError, match="call clone\\(\\) before reading"):
        response.clone()
    with_socket = Response(None, status=101, web_socket=WebSocketPair()[0])
    with pytest.raises(HttpError, match="Return the response itself"):
        with_socket.clone()
