"""Header names and values are checked as the Fetch API's Headers does.

workerd (Miniflare 4.20260426): a value with a CR, LF or NUL inside is
"TypeError: Invalid header value.", a name that is not a token "TypeError: Invalid header
name.", both from new Headers(), headers.set(), append() and Request/Response init; a value's
surrounding whitespace is trimmed (" a\\n" reads "a"); a tab inside is kept.
"""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import DurableObject, DurableObjectMethodError, Request, Response, Sandbox
from dosandbox.errors import HttpError


class Echo(DurableObject):
    async def fetch(self, request: Request) -> Response:
        mode = request.headers.get("x-mode")
        if mode == "inject":
            response = Response("ok")
            response.headers["x-set"] = "a\r\nSet-Cookie: evil=1"
            return response
        return Response(request.headers.get("x-value", ""), headers={"x-back": " b "})


@pytest.mark.parametrize(
    "value", ["a\nb", "a\rb", "a\r\nSet-Cookie: x=1", "a\0b"], ids=["LF", "CR", "CRLF", "NUL"]
)
@pytest.mark.parametrize("make", [Request, Response], ids=["Request", "Response"])
def test_a_value_with_a_line_break_or_nul_is_refused(make: Any, value: str) -> None:
    """workerd's words first, then the header and the fix (it was accepted and sent)."""
    args = ("https://example.com/",) if make is Request else ("",)
    with pytest.raises(HttpError) as info:
        make(*args, headers={"x-a": value})
    assert info.value.message.startswith("Invalid header value.")
    assert "'x-a'" in info.value.message and "value.replace(" in info.value.message


@pytest.mark.parametrize("name", ["x\na", "x a", "x:a", ""], ids=["LF", "space", "colon", "empty"])
def test_a_name_that_is_not_a_token_is_refused(name: str) -> None:
    """"Invalid header name." with the allowed characters and an example."""
    with pytest.raises(HttpError) as info:
        Response("", headers=[(name, "v")])
    assert info.value.message.startswith("Invalid header name.")
    assert "e.g. 'x-user-id'" in info.value.message


def test_surrounding_whitespace_is_trimmed_and_a_tab_inside_kept() -> None:
    """As workerd normalizes: " a\\n" → "a"; "a\\tb" stays."""
    request = Request("https://example.com/", headers={"x-a": " a\n", "x-b": "a\tb"})
    assert request.headers["x-a"] == "a" and request.headers["x-b"] == "a\tb"


def test_setting_or_updating_a_bad_header_later_is_refused() -> None:
    """headers[...] = and headers.update() check too (Headers.set/append in workerd)."""
    response = Response("ok")
    with pytest.raises(HttpError, match="Invalid header value"):
        response.headers["x-a"] = "a\nb"
    with pytest.raises(HttpError, match="Invalid header name"):
        response.headers.update({"bad name": "v"})
    response.headers["x-c"] = " c "
    assert response.headers["x-c"] == "c" and "x-a" not in response.headers


def test_an_object_setting_a_bad_header_fails_its_fetch_and_keeps_serving() -> None:
    """Header injection from object code stops at the object; the next request works."""
    with Sandbox(seed=0) as sb:
        stub = sb.register("echo", Echo).get("e")
        with pytest.raises(DurableObjectMethodError) as info:
            sb.run(stub.fetch("/", headers={"x-mode": "inject"}))
        assert isinstance(info.value.__cause__, HttpError)
        response = sb.run(stub.fetch("/", headers={"x-value": "fine"}))
        assert response.status == 200 and response.body == b"fine"
        assert response.headers["x-back"] == "b"
        with pytest.raises(HttpError, match="Invalid header value"):
            stub.fetch("/", headers={"x-value": "a\nb"})
