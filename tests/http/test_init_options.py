"""Request/Response keywords in both spellings, default statusText, read-only headers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dosandbox import DurableObject, Request, Response, Sandbox, WebSocketPair
from dosandbox.errors import HttpError


def test_camel_case_keywords_as_javascript_spells_them() -> None:
    """Response(statusText=, webSocket=) and Response.json(statusText=) work as in JS."""
    response = Response("x", status=202, statusText="Fine")
    assert response.status_text == "Fine" and response.statusText == "Fine"
    client = WebSocketPair()[0]
    upgraded = Response(None, status=101, webSocket=client)
    assert upgraded.web_socket is client
    made = Response.json({"a": 1}, status=201, statusText="Made")
    assert (made.status, made.status_text) == (201, "Made")


@pytest.mark.parametrize(
    ("build", "message"),
    [(lambda: Response("x", status_text="a", statusText="b"), "both 'statusText' and "
      "'status_text'"),
     (lambda: Response(None, status=101, web_socket=WebSocketPair()[0],
                       webSocket=WebSocketPair()[0]), "both 'webSocket' and 'web_socket'"),
     (lambda: Response.json({}, status_text="a", statusText="b"), "both 'statusText'")],
)
def test_both_spellings_at_once_is_an_error(build: Any, message: str) -> None:
    """Giving status_text and statusText (or web_socket and webSocket) is refused."""
    with pytest.raises(HttpError, match=message):
        build()


def test_unknown_keywords_are_named_with_a_hint() -> None:
    """A typo is a typed error naming the closest keyword and the available ones."""
    with pytest.raises(HttpError, match=r"Response\(\) got an unknown option 'stauts'; did you "
                       r"mean 'status'\?"):
        Response("x", stauts=404)
    with pytest.raises(HttpError, match=r"Response\.json\(\) got an unknown option 'header'"):
        Response.json({}, header={})
    with pytest.raises(HttpError, match=r"Request\(\) got an unknown option 'metod'; did you "
                       r"mean 'method'\?"):
        Request("https://h.example/", metod="POST")
    with pytest.raises(HttpError, match="did you mean 'redirect'"):
        Request("https://h.example/", redirct="manual")


@pytest.mark.parametrize(
    ("status", "text"),
    [(200, "OK"), (201, "Created"), (299, "Successful"), (306, "Redirection"),
     (404, "Not Found"), (413, "Payload Too Large"), (418, "I'm a teapot"),
     (425, "Client Error"), (500, "Internal Server Error"), (599, "Server Error")],
)
def test_default_status_text_is_the_platforms(status: int, text: str) -> None:
    """Without status_text, workerd's reason phrase (or the status class's name) is used."""
    body = None if status in (204, 205, 304) else "x"
    assert Response(body, status=status).status_text == text
    assert Response("x", status=status, status_text="").status_text == ""


class Mutator(DurableObject):
    """Tries to change the headers of the request it receives."""

    async def fetch(self, request: Request) -> Response:
        try:
            request.headers["x-added"] = "1"
        except HttpError as exc:
            own = Request(request, headers=request.headers.copy())
            own.headers["x-added"] = "1"
            return Response.json({"refused": exc.message, "copy": own.headers["x-added"]})
        return Response.json({"refused": None})


@pytest.fixture
def sb(do_sandbox: Sandbox) -> Sandbox:
    do_sandbox.register("mutator", Mutator)
    return do_sandbox


def test_received_request_headers_are_read_only(sb: Sandbox) -> None:
    """In the object, request.headers refuse changes (workerd); a copy can be changed."""
    stub = sb.durable_objects.mutator.get("a")
    answer = json.loads(sb.run(stub.fetch("https://h.example/")).body)
    assert answer["refused"].startswith("Can't modify immutable headers.")
    assert answer["copy"] == "1"


def test_fetched_response_headers_are_read_only(sb: Sandbox) -> None:
    """The caller's response has immutable headers, clones too; headers.copy() is free."""
    stub = sb.durable_objects.mutator.get("a")
    response = sb.run(stub.fetch("https://h.example/"))
    assert isinstance(response.headers, httpx.Headers)
    for change in (lambda h: h.__setitem__("x", "1"), lambda h: h.pop("content-type"),
                   lambda h: h.setdefault("x", "1"), lambda h: h.update({"x": "1"})):
        with pytest.raises(HttpError, match="Can't modify immutable headers"):
            change(response.headers)
        with pytest.raises(HttpError, match="Can't modify immutable headers"):
            change(response.clone().headers)
    assert response.headers["content-type"] == "application/json"
    mine = response.headers.copy()
    mine["x"] = "1"
    assert Response("y", headers=mine).headers["x"] == "1"


def test_constructed_requests_and_responses_stay_mutable() -> None:
    """Headers of a Request or Response you build are yours to change (workerd)."""
    request = Request("https://h.example/")
    request.headers["x"] = "1"
    response = Response("x")
    response.headers["x"] = "2"
    assert (request.headers["x"], response.headers["x"]) == ("1", "2")
    assert response.url == "" and response.redirected is False
