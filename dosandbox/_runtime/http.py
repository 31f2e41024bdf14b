"""HTTP into an object: Fetch-API-shaped ``Request`` and ``Response``, and ``stub.fetch``.

URLs and headers are handled by httpx (``httpx.URL``, ``httpx.Headers``), never parsed by hand.

Relative URLs: ``stub.fetch("/ws?userId=alice")`` is resolved against :data:`BASE_URL`
(``http://dosandbox.local``). The deployed platform wants a full URL here (a relative one fails
with ``TypeError: Fetch API cannot load`` unless the ``durable_object_fetch_allows_relative_url``
compatibility flag is set); the host is ignored by the object, so any full URL works there.

Bodies are bytes held in memory. ``await request.text()`` / ``json()`` / ``bytes()`` /
``array_buffer()`` read them as the Fetch API does, once (``body_used``); the ``body`` property
gives the bytes synchronously (a sandbox convenience: on the platform ``body`` is a stream), so
sync code can do ``json.loads(response.body)``.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from .._core.aliases import AliasMixin
from .._core.errors import HttpError
from .websocket import WebSocket, hand_over

if TYPE_CHECKING:
    from .._core.record import ObjectRecord

__all__ = ["BASE_URL", "Request", "Response", "deliver_fetch", "fetch_request"]

BASE_URL = "http://dosandbox.local"
_BASE = httpx.URL(BASE_URL)

# Methods the Fetch standard normalizes to upper case; the rest keep their spelling.
_NORMALIZED_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"})
_FORBIDDEN_METHODS = frozenset({"CONNECT", "TRACE", "TRACK"})
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
# Statuses whose response has no body (Fetch "null body status").
_NULL_BODY_STATUSES = frozenset({101, 103, 204, 205, 304})
_INIT_KEYS = ("method", "headers", "body")


def _as_body(body: Any, headers: httpx.Headers, what: str) -> bytes | None:
    """A body as bytes; a ``str`` also sets ``content-type: text/plain;charset=UTF-8``."""
    if body is None:
        return None
    if isinstance(body, str):
        if "content-type" not in headers:
            headers["content-type"] = "text/plain;charset=UTF-8"
        return body.encode()
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    hint = " For JSON use Response.json(data)." if what == "Response" else (
        " For JSON pass body=json.dumps(data) and a content-type header."
    )
    raise HttpError(
        f"A {what} body must be str, bytes or None, not {type(body).__name__}.{hint}"
    )


def _headers(value: Any, what: str) -> httpx.Headers:
    if value is None:
        return httpx.Headers()
    if isinstance(value, (httpx.Headers, Mapping, list, tuple)):
        try:
            return httpx.Headers(value)
        except (TypeError, ValueError, UnicodeError) as exc:
            raise HttpError(f"{what} headers are not valid: {exc}") from exc
    raise HttpError(
        f"{what} headers must be a dict, a list of (name, value) pairs or httpx.Headers, "
        f"not {type(value).__name__}."
    )


class _Body(AliasMixin):
    """What Request and Response share: headers and a body that can be read once."""

    __slots__ = ("_body", "_body_used", "headers")

    _body: bytes | None
    _body_used: bool
    headers: httpx.Headers

    @property
    def body(self) -> bytes | None:
        """The body bytes (None when there is none). Reading it does not mark it used."""
        return self._body

    @property
    def body_used(self) -> bool:
        return self._body_used

    def _take(self) -> bytes:
        if self._body_used:
            raise HttpError(
                "Body has already been used. It can only be used once. Use clone() first if "
                "you need to read it twice (the platform raises the same TypeError); the "
                "`body` property gives the bytes without consuming them."
            )
        self._body_used = True
        return self._body or b""

    async def bytes(self) -> builtins.bytes:
        return self._take()

    async def array_buffer(self) -> builtins.bytes:
        return self._take()

    async def text(self) -> str:
        return self._take().decode("utf-8", errors="replace")

    async def _read_json(self) -> Any:
        raw = self._take()
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise HttpError(
                f"The body is not valid JSON ({exc}); it starts with {raw[:40]!r}."
            ) from exc


class _JsonMember:
    """``Response.json(data)`` builds a response; ``await response.json()`` reads one.

    JavaScript keeps the static and the instance ``json`` apart; Python needs a descriptor.
    """

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return owner._from_json  # type: ignore[attr-defined]
        return obj._read_json


class Request(_Body):
    """An HTTP request: ``Request(url, method=, headers=, body=)`` or ``Request(request, ...)``."""

    __slots__ = ("_url", "method")

    _url: httpx.URL
    method: str
    json = _JsonMember()

    def __init__(
        self,
        input: str | httpx.URL | Request,
        *,
        method: str | None = None,
        headers: Any = None,
        body: Any = None,
    ) -> None:
        if isinstance(input, Request):
            base_method, base_headers, base_body = input.method, input.headers, input._body
            url = input._url
        else:
            base_method, base_headers, base_body = "GET", None, None
            url = _resolve_url(input)
        self._url = url
        self.method = _method(method) if method is not None else base_method
        self.headers = _headers(headers if headers is not None else base_headers, "Request")
        self._body_used = False
        if body is None and isinstance(input, Request):
            self._body = base_body
        else:
            self._body = _as_body(body, self.headers, "Request")
        if self._body is not None and self.method in ("GET", "HEAD"):
            raise HttpError(
                f"Request with a GET or HEAD method cannot have a body ({self.method} "
                f"{self.url}); pass method='POST' (or PUT, PATCH...) to send one."
            )

    @property
    def url(self) -> str:
        return str(self._url)

    @property
    def parsed_url(self) -> httpx.URL:
        """The URL as an ``httpx.URL``: ``.path``, ``.params.get("userId")``, ``.host``..."""
        return self._url

    def clone(self) -> Request:
        if self._body_used:
            raise HttpError("Cannot clone a Request whose body was already read.")
        return self._copy()

    def _copy(self) -> Request:
        copy = Request.__new__(Request)
        copy._url = self._url
        copy.method = self.method
        copy.headers = httpx.Headers(self.headers)
        copy._body = self._body
        copy._body_used = False
        return copy

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


class Response(_Body):
    """An HTTP response: ``Response(body, status=, status_text=, headers=, web_socket=)``.

    ``Response.json(data, status=200, headers=None)`` makes a JSON response. Status 101 needs
    ``web_socket=`` (the client half of a :class:`~dosandbox.WebSocketPair`), as on the platform.
    """

    __slots__ = ("status", "status_text", "web_socket")

    json = _JsonMember()

    def __init__(
        self,
        body: Any = None,
        *,
        status: int = 200,
        status_text: str = "",
        headers: Any = None,
        web_socket: WebSocket | None = None,
    ) -> None:
        from .websocket import WebSocket

        if not isinstance(status, int) or isinstance(status, bool):
            raise HttpError(f"Response status must be an int, not {type(status).__name__}.")
        if web_socket is not None:
            if not isinstance(web_socket, WebSocket):
                raise HttpError(
                    f"Response(web_socket=...) takes a WebSocket (pair[0] of a WebSocketPair), "
                    f"not {type(web_socket).__name__}."
                )
            if status != 101:
                raise HttpError(
                    f"A Response with a web_socket must have status 101 (Switching Protocols), "
                    f"got {status}. Return Response(None, status=101, web_socket=pair[0])."
                )
        elif status == 101:
            raise HttpError(
                "Status 101 is only allowed with a WebSocket: "
                "Response(None, status=101, web_socket=pair[0])."
            )
        elif not 200 <= status <= 599:
            raise HttpError(
                f"Responses may only be constructed with status codes in the range 200 to 599, "
                f"inclusive (got {status}), as the Fetch API requires."
            )
        self.status = status
        self.status_text = str(status_text)
        self.web_socket = web_socket
        self.headers = _headers(headers, "Response")
        self._body_used = False
        self._body = _as_body(body, self.headers, "Response")
        if self._body is not None and status in _NULL_BODY_STATUSES:
            raise HttpError(f"A Response with null body status {status} cannot have a body.")

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    @classmethod
    def _from_json(
        cls, data: Any, *, status: int = 200, headers: Any = None, status_text: str = ""
    ) -> Response:
        try:
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=_js_json)
        except (TypeError, ValueError) as exc:
            raise HttpError(f"Response.json() cannot serialize the data: {exc}") from exc
        merged = _headers(headers, "Response")
        if "content-type" not in merged:
            merged["content-type"] = "application/json"
        return cls(text.encode(), status=status, headers=merged, status_text=status_text)

    def clone(self) -> Response:
        if self._body_used:
            raise HttpError("Cannot clone a Response whose body was already read.")
        if self.web_socket is not None:
            raise HttpError("Cannot clone a Response that carries a WebSocket.")
        return self._copy()

    def _copy(self) -> Response:
        copy = Response.__new__(Response)
        copy.status = self.status
        copy.status_text = self.status_text
        copy.web_socket = self.web_socket
        copy.headers = httpx.Headers(self.headers)
        copy._body = self._body
        copy._body_used = False
        return copy

    def __repr__(self) -> str:
        extra = " web_socket" if self.web_socket is not None else ""
        size = len(self._body) if self._body is not None else 0
        return f"<Response {self.status}{extra} {size} bytes>"


def _js_json(value: Any) -> Any:
    """What ``JSON.stringify`` does with a ``Date``: an ISO string in UTC with milliseconds."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _resolve_url(value: Any) -> httpx.URL:
    if not isinstance(value, (str, httpx.URL)):
        raise HttpError(
            f"fetch() takes a URL (str) or a Request, not {type(value).__name__}: "
            "stub.fetch('/path?x=1') or stub.fetch(Request(url, method='POST', body=...))."
        )
    try:
        url = httpx.URL(value)
        if url.is_relative_url:
            url = _BASE.join(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise HttpError(f"Invalid URL {str(value)!r}: {exc}") from exc
    if url.scheme not in ("http", "https"):
        raise HttpError(
            f"Fetch API cannot load: {value}. Only http(s) URLs reach an object; relative URLs "
            f"like '/path' are resolved against {BASE_URL}."
        )
    return url


def _method(value: Any) -> str:
    if not isinstance(value, str) or not value or not set(value) <= _TOKEN_CHARS:
        raise HttpError(f"{value!r} is not a valid HTTP method (a token like 'GET' or 'POST').")
    upper = value.upper()
    if upper in _FORBIDDEN_METHODS:
        raise HttpError(f"{value!r} is a forbidden HTTP method in the Fetch API.")
    return upper if upper in _NORMALIZED_METHODS else value


def is_upgrade(request: Request) -> bool:
    return request.headers.get("upgrade", "").lower() == "websocket"


# --- stub.fetch: the request a call carries, and the fetch event it becomes ----------------


def fetch_request(request: Any, init: dict[str, Any]) -> Request:
    """``stub.fetch(url_or_request, method=, headers=, body=)``: the object's own copy."""
    unknown = sorted(set(init) - set(_INIT_KEYS))
    if unknown:
        raise HttpError(
            f"fetch() got unknown option(s) {', '.join(unknown)}; it takes "
            f"{', '.join(_INIT_KEYS)}."
        )
    if request is None:
        raise HttpError("fetch() needs a URL or a Request, e.g. stub.fetch('/state').")
    req = Request(request, **init) if (init or not isinstance(request, Request)) else request
    # The object gets its own copy, as the platform serializes the request to it.
    return req._copy()


async def deliver_fetch(record: ObjectRecord, request: Request) -> Response:
    """Run one fetch event on ``record``'s object and return the caller's copy of its answer."""
    ns = record.namespace
    class_name = ns.cls.__name__
    if not callable(getattr(ns.cls, "fetch", None)):
        # workerd: JSG_FAIL_REQUIRE(Error, "Handler does not export a fetch() function.")
        # (src/workerd/api/global-scope.c++, ServiceWorkerGlobalScope::request).
        raise HttpError(
            f"Handler does not export a fetch() function: {ns.name} ({class_name}) has no "
            f"fetch handler, so {request.method} {request.url} has nowhere to go. Add "
            "fetch=... to define_durable_object (or a fetch(self, request) method), or call "
            "its RPC methods instead.",
            object_name=ns.name,
            object_id=record.hex,
            method_name="fetch",
        )

    def call(obj: Any) -> Any:
        return obj.fetch(request)

    result = await record.deliver("fetch", "fetch", call)
    if not isinstance(result, Response):
        raise HttpError(
            f"{ns.name}.fetch() returned {type(result).__name__} {result!r:.60}, not a "
            "Response. The platform fails the same way (TypeError: Incorrect type for "
            "Promise: the Promise did not resolve to 'Response'). Return Response(...) or "
            "Response.json(data).",
            object_name=ns.name,
            object_id=record.hex,
            method_name="fetch",
        )
    if result.web_socket is not None:
        hand_over(result.web_socket, upgrade=is_upgrade(request), record=record)
    return result._copy()
