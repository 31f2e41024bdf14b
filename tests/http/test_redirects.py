"""Redirects: Response.redirect, and stub.fetch following 3xx as the platform's stub does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dosandbox import DurableObject, Request, Response, Sandbox, WebSocketPair
from dosandbox.errors import HttpError


class Hops(DurableObject):
    """Answers /go?s=302&to=URL with a redirect there; records every request it receives."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.seen: list[dict[str, Any]] = []

    async def fetch(self, request: Request) -> Response:
        url = request.parsed_url
        body = await request.text() if request.body is not None else None
        self.seen.append({
            "method": request.method, "url": request.url, "body": body,
            "headers": dict(request.headers), "redirect": request.redirect,
        })
        if url.path.endswith("/go"):
            location = url.params.get("to")
            headers = {} if location is None else {"location": location}
            return Response(None, status=int(url.params.get("s", "302")), headers=headers)
        if url.path == "/loop":
            n = int(url.params.get("n", "0"))
            return Response(None, status=302, headers={"location": f"/loop?n={n + 1}"})
        if url.path == "/out":
            return Response.redirect("https://example.com/landing", 307)
        if url.path == "/forward":
            if "x-hop" in request.headers:
                return Response(None, status=302, headers={"location": "/landed"})
            # A copy of the received request keeps its redirect mode: "manual".
            forwarded = Request(request, headers={"x-hop": "1"})
            return await self.env.HOPS.get("other").fetch(forwarded)
        if url.path == "/ws":
            pair = WebSocketPair()
            self.ctx.accept_web_socket(pair[1])
            return Response(None, status=101, web_socket=pair[0])
        return Response.json({"final": request.url, "method": request.method, "body": body})

    def take(self) -> list[dict[str, Any]]:
        seen, self.seen = self.seen, []
        return seen


@pytest.fixture
def sb(do_sandbox: Sandbox) -> Sandbox:
    do_sandbox.register("hops", Hops)
    return do_sandbox


def _stub(sb: Sandbox) -> Any:
    return sb.durable_objects.hops.get("a")


# --- Response.redirect ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text"),
    [(301, "Moved Permanently"), (302, "Found"), (303, "See Other"),
     (307, "Temporary Redirect"), (308, "Permanent Redirect")],
)
def test_response_redirect_sets_location_and_status(status: int, text: str) -> None:
    """Response.redirect(url, status): Location is the serialized URL, no body (workerd)."""
    response = Response.redirect("https://EXAMPLE.com:443/a b", status)
    assert (response.status, response.status_text) == (status, text)
    assert response.headers["location"] == "https://example.com/a%20b"
    assert response.body is None


def test_response_redirect_defaults_to_302_and_keeps_other_schemes() -> None:
    """The default status is 302; any absolute URL works, fragment included."""
    assert Response.redirect("https://a.example/x").status == 302
    assert Response.redirect("https://a.example/p?q#frag").headers["location"] == (
        "https://a.example/p?q#frag"
    )
    assert Response.redirect("ftp://x/y").headers["location"] == "ftp://x/y"


@pytest.mark.parametrize("status", [200, 300, 304, 399, 0, -1])
def test_response_redirect_refuses_other_statuses(status: int) -> None:
    """Other statuses fail with workerd's RangeError message."""
    with pytest.raises(
        HttpError,
        match=rf"^\[HTTP_ERROR\] {status} is not a redirect status code\. It must be one of: "
        r"301, 302, 303, 307, or 308\.$",
    ):
        Response.redirect("https://a.example/", status)


def test_response_redirect_bad_input_is_named() -> None:
    """Relative or unparsable URLs fail like workerd ('Unable to parse URL'); types are named."""
    with pytest.raises(HttpError, match=r"Unable to parse URL: /foo\..*headers=\{'location'"):
        Response.redirect("/foo")
    with pytest.raises(HttpError, match=r"Unable to parse URL: https://exa mple\.com/"):
        Response.redirect("https://exa mple.com/")
    with pytest.raises(HttpError, match="takes a URL"):
        Response.redirect(42)  # type: ignore[arg-type]
    with pytest.raises(HttpError, match="status must be an int"):
        Response.redirect("https://a.example/", "302")  # type: ignore[arg-type]


def test_response_redirect_headers_are_immutable() -> None:
    """Its headers are read-only (workerd: Can't modify immutable headers.), clones too."""
    response = Response.redirect("https://a.example/")
    with pytest.raises(HttpError, match="Can't modify immutable headers"):
        response.headers["set-cookie"] = "a=1"
    with pytest.raises(HttpError, match="Can't modify immutable headers"):
        response.clone().headers.update({"x": "1"})
    with pytest.raises(HttpError, match="Can't modify immutable headers"):
        del response.headers["location"]
    copy = response.headers.copy()
    copy["set-cookie"] = "a=1"
    rebuilt = Response(None, status=302, headers=copy)
    assert rebuilt.headers["set-cookie"] == "a=1"
    assert "set-cookie" not in response.headers


# --- stub.fetch follows redirects -------------------------------------------------------------


def test_stub_fetch_follows_a_redirect_back_into_the_same_object(sb: Sandbox) -> None:
    """A 302 to another host re-enters the same object with the new URL (workerd)."""
    stub = _stub(sb)
    response = sb.run(stub.fetch("https://host.example/go?to=https://other.example/target"))
    assert response.status == 200 and response.redirected
    assert response.url == "https://other.example/target"
    assert json.loads(response.body)["final"] == "https://other.example/target"
    seen = sb.run(stub.take())
    assert [s["url"] for s in seen] == [
        "https://host.example/go?to=https://other.example/target",
        "https://other.example/target",
    ]
    # Each hop arrives with redirect "manual", as requests an object receives do.
    assert {s["redirect"] for s in seen} == {"manual"}


def test_manual_returns_the_3xx_and_follow_is_the_default(sb: Sandbox) -> None:
    """redirect='manual' gives the 302 itself; 'follow' (any case) follows."""
    stub = _stub(sb)
    manual = sb.run(stub.fetch("https://h.example/go?to=/x", redirect="manual"))
    assert (manual.status, manual.redirected) == (302, False)
    assert manual.headers["location"] == "/x"
    assert manual.url == "https://h.example/go?to=/x"
    via_request = sb.run(stub.fetch(Request("https://h.example/go?to=/x", redirect="MANUAL")))
    assert via_request.status == 302
    assert sb.run(stub.fetch("https://h.example/go?to=/x", redirect="Follow")).status == 200
    assert Request("https://h.example/").redirect == "follow"


@pytest.mark.parametrize("mode", ["error", "bogus", " follow"])
def test_other_redirect_modes_are_refused_before_sending(sb: Sandbox, mode: str) -> None:
    """'error' and anything else fail with workerd's message; nothing reaches the object."""
    stub = _stub(sb)
    with pytest.raises(HttpError, match=r'Invalid redirect value, must be one of "follow" or '
                       r'"manual" \("error" won\'t be implemented'):
        stub.fetch("https://h.example/go?to=/x", redirect=mode)
    with pytest.raises(HttpError, match="Invalid redirect value"):
        Request("https://h.example/", redirect=mode)
    assert sb.run(stub.take()) == []


@pytest.mark.parametrize(
    ("status", "method", "after"),
    [(301, "POST", "GET"), (302, "POST", "GET"), (303, "POST", "GET"), (303, "PUT", "GET"),
     (303, "HEAD", "HEAD"), (302, "PUT", "PUT"), (307, "POST", "POST"), (308, "POST", "POST")],
)
def test_method_and_body_across_a_redirect(
    sb: Sandbox, status: int, method: str, after: str
) -> None:
    """303 (not GET/HEAD) and 301/302 with POST become GET without a body; others keep both."""
    stub = _stub(sb)
    body = None if method == "HEAD" else "payload"
    sb.run(stub.fetch(f"https://h.example/go?s={status}&to=/next", method=method, body=body,
                      headers={"content-type": "text/plain", "x-custom": "1"}))
    first, second = sb.run(stub.take())
    assert first["method"] == method
    assert second["method"] == after
    assert second["body"] == (body if after == method else None)
    # workerd keeps the other headers, content-type included.
    assert second["headers"]["x-custom"] == "1"
    assert second["headers"]["content-type"] == "text/plain"


def test_authorization_is_dropped_only_across_origins(sb: Sandbox) -> None:
    """Same origin keeps Authorization; another host or scheme drops it; cookies stay."""
    stub = _stub(sb)
    headers = {"authorization": "secret", "cookie": "c=1", "proxy-authorization": "p"}
    for to, kept in (("/next", True), ("https://o.example/next", False),
                     ("http://h.example/next", False)):
        sb.run(stub.fetch(f"https://h.example/go?to={to}", headers=headers))
        _, second = sb.run(stub.take())
        assert ("authorization" in second["headers"]) is kept
        assert second["headers"]["cookie"] == "c=1"
        assert second["headers"]["proxy-authorization"] == "p"


@pytest.mark.parametrize(
    ("start", "location", "final"),
    [("https://h.example/a/b/go", "next?x=1", "https://h.example/a/b/next?x=1"),
     ("https://h.example/a/b/go", "../up", "https://h.example/a/up"),
     ("https://h.example/go", "//other.example/p", "https://other.example/p"),
     ("https://h.example/go", "/x#frag", "https://h.example/x"),
     ("https://h.example/go", "ftp://files.example/y", "ftp://files.example/y")],
)
def test_location_resolves_against_the_request_url(
    sb: Sandbox, start: str, location: str, final: str
) -> None:
    """Relative Locations resolve against the current URL; the fragment is dropped (workerd)."""
    stub = _stub(sb)
    followed = sb.run(stub.fetch(f"{start}?to={location.replace('#', '%23')}"))
    assert followed.url == final
    assert sb.run(stub.take())[-1]["url"] == final


@pytest.mark.parametrize("path", ["/go?s=300&to=/x", "/go?s=304&to=/x", "/go", "/go?to="])
def test_non_redirects_and_missing_location_come_back_as_they_are(
    sb: Sandbox, path: str
) -> None:
    """300 and 304 are not followed; neither is a 3xx without (or with an empty) Location."""
    stub = _stub(sb)
    response = sb.run(stub.fetch(f"https://h.example{path}"))
    assert 300 <= response.status < 400 and not response.redirected
    assert len(sb.run(stub.take())) == 1


def test_twenty_redirects_at_most(sb: Sandbox) -> None:
    """21 requests reach the object, then 'Too many redirects.' listing each URL; it serves on."""
    stub = _stub(sb)
    with pytest.raises(HttpError, match=r"Too many redirects\..*at most 20") as info:
        sb.run(stub.fetch("https://h.example/loop"))
    assert "https://h.example/loop, https://h.example/loop?n=1," in info.value.message
    assert info.value.message.count("https://h.example/loop") == 21
    assert info.value.object_name == "hops"
    assert len(sb.run(stub.take())) == 21
    assert sb.run(stub.fetch("https://h.example/loop", redirect="manual")).status == 302


def test_invalid_location_is_an_error_and_nothing_is_lost(sb: Sandbox) -> None:
    """An unparsable Location fails as workerd does: 'Invalid Location header; ...'."""
    stub = _stub(sb)
    with pytest.raises(HttpError, match="Invalid Location header; unable to follow redirect"):
        sb.run(stub.fetch("https://h.example/go?to=http%3A%2F%2F%5Bbad"))
    assert len(sb.run(stub.take())) == 1
    assert sb.run(stub.fetch("https://h.example/ok")).status == 200


def test_response_redirect_from_the_object_is_followed(sb: Sandbox) -> None:
    """Response.redirect(...) in fetch() sends the caller's next request to the same object."""
    stub = _stub(sb)
    response = sb.run(stub.fetch("https://h.example/out"))
    assert response.url == "https://example.com/landing" and response.redirected
    assert [s["url"] for s in sb.run(stub.take())] == [
        "https://h.example/out", "https://example.com/landing"]


def test_forwarding_a_received_request_does_not_follow(sb: Sandbox) -> None:
    """A copy of a received request has redirect 'manual': the 3xx comes back unfollowed."""
    stub = _stub(sb)
    response = sb.run(stub.fetch("https://h.example/forward"))
    other = sb.durable_objects.hops.get("other")
    assert [s["url"] for s in sb.run(other.take())] == ["https://h.example/forward"]
    # The caller's own fetch (mode "follow") then follows the 302 it got back.
    assert response.url == "https://h.example/landed"
    assert [s["url"] for s in sb.run(stub.take())] == [
        "https://h.example/forward", "https://h.example/landed"]


def test_a_websocket_upgrade_follows_a_redirect(sb: Sandbox) -> None:
    """An upgrade request redirected to /ws gets the 101 and its socket (workerd)."""
    stub = _stub(sb)
    response = sb.run(stub.fetch("https://h.example/go?to=/ws", headers={"upgrade": "websocket"}))
    assert response.status == 101 and response.web_socket is not None
    assert response.redirected and response.url == "https://h.example/ws"
    assert response.status_text == "Switching Protocols"
