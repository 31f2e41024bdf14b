"""URLs serialize as the platform's WHATWG parser does: Request.url and what the object sees."""

from __future__ import annotations

import re

import pytest

from dosandbox import DurableObject, Request, Response, Sandbox
from dosandbox.errors import HttpError

# (input, new Request(input).url, request.url inside the object), each checked in workerd.
URLS = [
    ("https://example.com", "https://example.com/", "https://example.com/"),
    ("HTTPS://EXAMPLE.COM/A", "https://example.com/A", "https://example.com/A"),
    ("http://example.com:80/", "http://example.com/", "http://example.com/"),
    ("HTTP://Ex.com:80", "http://ex.com/", "http://ex.com/"),
    ("HTTPS://EXAMPLE.com:443/x/../echo?q=1", "https://example.com/echo?q=1",
     "https://example.com/echo?q=1"),
    ("https://example.com:443/x", "https://example.com/x", "https://example.com/x"),
    ("https://EXAMPLE.com:0443/", "https://example.com/", "https://example.com/"),
    ("http://example.com:8080/x", "http://example.com:8080/x", "http://example.com:8080/x"),
    ("https://example.com?x=1", "https://example.com/?x=1", "https://example.com/?x=1"),
    ("https://example.com/a b", "https://example.com/a%20b", "https://example.com/a%20b"),
    ("https://example.com/?q=a b", "https://example.com/?q=a%20b", "https://example.com/?q=a%20b"),
    ("https://example.com/a/../b/./c", "https://example.com/b/c", "https://example.com/b/c"),
    ("https://example.com/%7Efoo", "https://example.com/%7Efoo", "https://example.com/%7Efoo"),
    ("https://example.com/%41", "https://example.com/%41", "https://example.com/%41"),
    ("https://example.com/%zz", "https://example.com/%zz", "https://example.com/%zz"),
    ("https://example.com/a%2Fb", "https://example.com/a%2Fb", "https://example.com/a%2Fb"),
    ("https://example.com/ä?q=ä", "https://example.com/%C3%A4?q=%C3%A4",
     "https://example.com/%C3%A4?q=%C3%A4"),
    ("https://example.com/?a=%41&b=ü", "https://example.com/?a=%41&b=%C3%BC",
     "https://example.com/?a=%41&b=%C3%BC"),
    ('https://example.com/"<>`{}', "https://example.com/%22%3C%3E%60%7B%7D",
     "https://example.com/%22%3C%3E%60%7B%7D"),
    ("https://example.com/?q=\"<>`{}'", "https://example.com/?q=%22%3C%3E`{}%27",
     "https://example.com/?q=%22%3C%3E`{}%27"),
    ("https://example.com/|^", "https://example.com/|%5E", "https://example.com/|%5E"),
    ("https://user:pass@example.com/", "https://user:pass@example.com/", "https://example.com/"),
    ("https://example.com/p#frag", "https://example.com/p#frag", "https://example.com/p"),
    ("https://example.com#f", "https://example.com/#f", "https://example.com/"),
    ("https://example.com/path?", "https://example.com/path?", "https://example.com/path?"),
    ("https://bücher.de/", "https://xn--bcher-kva.de/", "https://xn--bcher-kva.de/"),
    ("https://example.com\\a\\b", "https://example.com/a/b", "https://example.com/a/b"),
    ("https://example.com/a\\b?c\\d", "https://example.com/a/b?c\\d",
     "https://example.com/a/b?c\\d"),
    ("http://127.0.0.1:80/", "http://127.0.0.1/", "http://127.0.0.1/"),
    ("http://[::1]:8080/", "http://[::1]:8080/", "http://[::1]:8080/"),
    ("https://example.com./", "https://example.com./", "https://example.com./"),
    ("  https://example.com/trim  ", "https://example.com/trim", "https://example.com/trim"),
    ("https://example.com/a\tb\nc", "https://example.com/abc", "https://example.com/abc"),
]


class UrlEcho(DurableObject):
    """Answers with request.url as the object sees it."""

    def fetch(self, request: Request) -> Response:
        return Response(request.url)


@pytest.fixture
def sb(do_sandbox: Sandbox) -> Sandbox:
    do_sandbox.register("url_echo", UrlEcho)
    return do_sandbox


@pytest.mark.parametrize(("given", "request_url", "seen"), URLS)
def test_urls_serialize_as_workerd_does(
    sb: Sandbox, given: str, request_url: str, seen: str
) -> None:
    """Request(url).url and the object's request.url match workerd's, input by input."""
    assert Request(given).url == request_url
    stub = sb.durable_objects.url_echo.get("a")
    response = sb.run(stub.fetch(given))
    assert response.body is not None and response.body.decode() == seen
    # The caller's response.url keeps user:password, not the fragment (workerd).
    assert response.url == request_url.split("#")[0]


@pytest.mark.parametrize(
    "bad", ["https://exa mple.com/", "https://[::1/", "http://", "https://example.com:99999/"]
)
def test_invalid_urls_fail_like_workerd(sb: Sandbox, bad: str) -> None:
    """What workerd calls 'Invalid URL: ...' fails here with the same words; nothing is sent."""
    with pytest.raises(HttpError, match=f"Invalid URL: {re.escape(bad)}"):
        Request(bad)
    stub = sb.durable_objects.url_echo.get("a")
    with pytest.raises(HttpError, match="Invalid URL"):
        stub.fetch(bad)
    assert sb.run(stub.fetch("/ok")).body == b"http://dosandbox.local/ok"


def test_relative_urls_resolve_against_the_sandbox_base(sb: Sandbox) -> None:
    """A path (a sandbox convenience; the platform wants a full URL) gets the fixed base."""
    assert Request("/a b?x=1").url == "http://dosandbox.local/a%20b?x=1"
    assert Request("//other.example/p").url == "http://other.example/p"
    stub = sb.durable_objects.url_echo.get("a")
    assert sb.run(stub.fetch("/ws?userId=alice")).body == b"http://dosandbox.local/ws?userId=alice"
