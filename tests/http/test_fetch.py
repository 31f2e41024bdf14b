"""stub.fetch: Fetch-shaped Request/Response, the platform's errors, and driving."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from dosandbox import (
    DurableObject,
    DurableObjectMethodError,
    Request,
    Response,
    Sandbox,
    WebSocketPair,
    define_durable_object,
)
from dosandbox.errors import HttpError


class Echo(DurableObject):
    """Answers with what it received; counts requests in memory."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.count = 0

    async def fetch(self, request: Request) -> Any:
        self.count += 1
        url = request.parsed_url
        if url.path == "/echo":
            body = await request.text() if request.body is not None else None
            return Response.json(
                {
                    "method": request.method,
                    "url": request.url,
                    "who": url.params.get("who"),
                    "token": request.headers.get("X-Token"),
                    "body": body,
                    "count": self.count,
                },
                headers={"x-served-by": "echo"},
            )
        if url.path == "/bad":
            return {"not": "a response"}
        if url.path == "/boom":
            raise ValueError("kaboom")
        if url.path == "/ws":
            pair = WebSocketPair()
            self.ctx.accept_web_socket(pair[1])
            return Response(None, status=101, web_socket=pair[0])
        return Response("Not found", status=404)

    def hits(self) -> int:
        return self.count


class NoFetch(DurableObject):
    def ping(self) -> str:
        return "pong"


@pytest.fixture
def sb(do_sandbox: Sandbox) -> Sandbox:
    do_sandbox.register("echo", Echo)
    do_sandbox.register("nofetch", NoFetch)
    return do_sandbox


def test_relative_url_resolves_against_the_fixed_base(sb: Sandbox) -> None:
    """'/echo?who=ann' reaches the object as http://dosandbox.local/echo?who=ann."""
    stub = sb.durable_objects.echo.get("a")
    response = sb.run(stub.fetch("/echo?who=ann", headers={"x-token": "t1"}))
    assert response.status == 200 and response.ok
    data = json.loads(response.body)
    assert data["url"] == "http://dosandbox.local/echo?who=ann"
    assert data["who"] == "ann"
    assert data["token"] == "t1"  # header names are case-insensitive (httpx.Headers)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["X-Served-By"] == "echo"


def test_post_body_and_method_reach_the_handler(sb: Sandbox) -> None:
    """method= and body= travel; method names are normalized to upper case (Fetch)."""
    stub = sb.durable_objects.echo.get("a")
    response = sb.run(stub.fetch("https://x.example/echo", method="post", body="hello"))
    data = sb.run(response.json())
    assert data["method"] == "POST"
    assert data["body"] == "hello"
    assert data["url"] == "https://x.example/echo"


def test_fetch_with_a_request_object(sb: Sandbox) -> None:
    """stub.fetch(Request(...)) works, and the caller's request is not consumed."""
    stub = sb.durable_objects.echo.get("a")
    request = Request("/echo", method="PUT", body=b"\x00\x01", headers={"x-token": "abc"})
    response = sb.run(stub.fetch(request))
    data = json.loads(response.body)
    assert data["method"] == "PUT" and data["token"] == "abc"
    assert not request.body_used
    assert sb.run(request.bytes()) == b"\x00\x01"


def test_await_drives_from_a_foreign_running_loop(sb: Sandbox) -> None:
    """`await stub.fetch(...)` inside asyncio.run drives the sandbox (as in a notebook cell)."""
    stub = sb.durable_objects.echo.get("a")

    async def main() -> int:
        response = await stub.fetch("/echo")
        return response.status

    assert asyncio.run(main()) == 200
    assert sb.run(stub.hits()) == 1


def test_object_to_object_fetch_is_a_plain_await(sb: Sandbox) -> None:
    """Inside object code, awaiting another stub's fetch is an ordinary await."""

    async def relay(ctx: Any) -> Any:
        response = await ctx.env.ECHO.get("b").fetch("/echo?who=relay")
        return await response.json()

    sb.register("relay", define_durable_object(methods={"relay": relay}))
    data = sb.run(sb.durable_objects.relay.get("r").relay())
    assert data["who"] == "relay"


def test_missing_fetch_handler_is_a_typed_error_and_object_keeps_serving(sb: Sandbox) -> None:
    """No fetch handler: HttpError with workerd's 'Handler does not export a fetch() function.'"""
    stub = sb.durable_objects.nofetch.get("n")
    with pytest.raises(HttpError, match=r"Handler does not export a fetch\(\) function") as info:
        sb.run(stub.fetch("/anything"))
    assert info.value.code == "HTTP_ERROR"
    assert info.value.object_name == "nofetch"
    assert sb.run(stub.ping()) == "pong"


def test_fetch_returning_a_non_response_is_a_typed_error(sb: Sandbox) -> None:
    """A fetch returning a dict fails like workerd's 'did not resolve to Response'."""
    stub = sb.durable_objects.echo.get("a")
    sb.run(stub.fetch("/echo"))
    with pytest.raises(HttpError, match="did not resolve to 'Response'"):
        sb.run(stub.fetch("/bad"))
    # Nothing lost: the instance and its in-memory counter survive.
    assert sb.run(stub.hits()) == 2
    assert json.loads(sb.run(stub.fetch("/echo")).body)["count"] == 3


def test_exception_in_fetch_reaches_the_caller(sb: Sandbox) -> None:
    """An exception thrown by fetch() propagates to the caller's fetch (platform docs)."""
    stub = sb.durable_objects.echo.get("a")
    with pytest.raises(DurableObjectMethodError) as info:
        sb.run(stub.fetch("/boom"))
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.__cause__, ValueError)
    assert sb.run(stub.fetch("/nope")).status == 404


def test_websocket_response_needs_an_upgrade_request(sb: Sandbox) -> None:
    """A 101 to a request without 'Upgrade: websocket' fails (workerd's message); socket dropped."""
    stub = sb.durable_objects.echo.get("a")
    with pytest.raises(HttpError, match='did not contain the header "Upgrade: websocket"'):
        sb.run(stub.fetch("/ws"))
    assert len(sb.inspect(stub).sockets) == 0  # the accepted half was disconnected
    response = sb.run(stub.fetch("/ws", headers={"Upgrade": "websocket"}))
    assert response.status == 101 and response.web_socket is not None
    assert len(sb.inspect(stub).sockets) == 1


def test_unknown_fetch_options_are_refused(sb: Sandbox) -> None:
    """fetch() takes method, headers and body; a typo is named."""
    stub = sb.durable_objects.echo.get("a")
    with pytest.raises(HttpError, match="unknown option"):
        stub.fetch("/echo", metod="POST")
    with pytest.raises(HttpError, match="needs a URL"):
        stub.fetch()
    with pytest.raises(HttpError, match="takes a URL"):
        stub.fetch(42)


def test_non_http_urls_are_refused_by_fetch_not_by_request(sb: Sandbox) -> None:
    """Request('ftp://...') is fine (as on the platform); fetching it: 'Fetch API cannot load'."""
    assert Request("ftp://files.example/x").url == "ftp://files.example/x"
    stub = sb.durable_objects.echo.get("a")
    for url in ("ftp://files.example/x", "ws://example.com/", "about:blank"):
        with pytest.raises(HttpError, match=f"Fetch API cannot load: {url}"):
            stub.fetch(url)
    assert sb.run(stub.fetch("/echo")).status == 200


def test_get_with_a_body_is_refused() -> None:
    """Fetch: 'Request with a GET or HEAD method cannot have a body.'"""
    with pytest.raises(HttpError, match="GET or HEAD method cannot have a body"):
        Request("/x", body="data")
    assert Request("/x", method="POST", body="data").body == b"data"


def test_str_body_sets_text_content_type() -> None:
    """A str body gets content-type text/plain;charset=UTF-8, as in the Fetch API."""
    response = Response("héllo")
    assert response.headers["content-type"] == "text/plain;charset=UTF-8"
    assert response.body == "héllo".encode()
    custom = Response("x", headers={"Content-Type": "text/html"})
    assert custom.headers["content-type"] == "text/html"


def test_body_reads_once_like_the_fetch_api() -> None:
    """text()/json() consume the body; a second read fails; clone() first to read twice."""
    response = Response.json({"a": 1})
    copy = response.clone()
    assert asyncio.run(response.json()) == {"a": 1}
    assert response.body_used
    with pytest.raises(HttpError, match="already been used"):
        asyncio.run(response.text())
    assert response.body == b'{"a":1}'  # the bytes stay readable
    assert asyncio.run(copy.text()) == '{"a":1}'


def test_response_json_static_and_instance() -> None:
    """Response.json(data, status=, headers=) builds; await response.json() reads."""
    response = Response.json({"when": __import__("datetime").datetime(2026, 1, 1)}, status=201,
                             headers={"x-a": "1"})
    assert response.status == 201
    assert response.headers["x-a"] == "1"
    # Dates serialize as JSON.stringify does.
    assert asyncio.run(response.json()) == {"when": "2026-01-01T00:00:00.000Z"}
    with pytest.raises(HttpError, match="cannot serialize"):
        Response.json({"s": {1, 2}})


def test_response_status_rules() -> None:
    """Statuses 200-599, 101 only with a WebSocket, no body on null-body statuses."""
    with pytest.raises(HttpError, match="range 200 to 599"):
        Response("x", status=600)
    with pytest.raises(HttpError, match="only allowed with a WebSocket"):
        Response(None, status=101)
    with pytest.raises(HttpError, match="must have status 101"):
        Response(None, status=200, web_socket=WebSocketPair()[0])
    with pytest.raises(HttpError, match="null body status 204"):
        Response("x", status=204)
    with pytest.raises(HttpError, match=r"Response\.json"):
        Response({"a": 1})
    assert Response(None, status=204).body is None


def test_camel_case_aliases_on_request_and_response() -> None:
    """Ported code can say statusText, bodyUsed, arrayBuffer, webSocket."""
    response = Response("x", status=202, status_text="Accepted")
    assert response.statusText == "Accepted"
    assert response.webSocket is None
    assert asyncio.run(response.arrayBuffer()) == b"x"
    assert response.bodyUsed


def test_request_headers_are_httpx_headers() -> None:
    """Headers are httpx.Headers: case-insensitive, multi-valued."""
    request = Request("/x", headers=[("Set-Thing", "a"), ("set-thing", "b")])
    assert isinstance(request.headers, httpx.Headers)
    assert request.headers.get_list("SET-THING") == ["a", "b"]
    with pytest.raises(HttpError, match="headers must be"):
        Request("/x", headers=42)


class Sleepy(DurableObject):
    """fetch and an RPC method that both sleep on the virtual clock, logging start and end."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.log: list[str] = []

    async def _nap(self, who: str, seconds: float) -> None:
        self.log.append(f"{who} start")
        await asyncio.sleep(seconds)
        self.log.append(f"{who} end")

    async def fetch(self, request: Request) -> Response:
        url = request.parsed_url
        await self._nap(url.params["who"], float(url.params["s"]))
        return Response("ok")

    async def nap(self, who: str, seconds: float) -> None:
        await self._nap(who, seconds)

    def read(self) -> list[str]:
        return self.log


@pytest.mark.parametrize("kind", ["fetch", "rpc"])
def test_gather_in_a_notebook_cell_overlaps_fetches_as_it_does_method_calls(kind: str) -> None:
    """asyncio.gather of two fetches from a notebook loop overlaps them, like two method calls."""
    sb = Sandbox(seed=0, clock_mode="autojump")
    sb.register("sleepy", Sleepy)
    stub = sb.durable_objects.sleepy.get("x")

    def call(who: str, seconds: int) -> Any:
        if kind == "fetch":
            return stub.fetch(f"/nap?who={who}&s={seconds}")
        return stub.nap(who, seconds)

    async def cell() -> list[str]:
        start = sb.clock.now_ms
        await asyncio.gather(call("a", 5), call("b", 1))
        assert sb.clock.now_ms - start == 5_000  # overlapped: 5 s, not 6 s
        return await stub.read()

    assert asyncio.run(cell()) == ["a start", "b start", "b end", "a end"]
    sb.close()
