"""HTTP into an object: Fetch-API-shaped ``Request`` and ``Response``, and ``stub.fetch``.

URLs and headers are handled by httpx (``httpx.URL``, ``httpx.Headers``), never parsed by hand.
On top of httpx, :func:`_parse_url` applies the few WHATWG URL rules httpx does not (the
platform parses URLs the WHATWG way): surrounding spaces and control characters and inner
tabs/newlines are dropped, ``\\`` is ``/`` before the query, a special URL always has a path
(``https://example.com`` → ``https://example.com/``), ``^`` in the path and ``'`` in the query
are percent-encoded. A request an object receives has no fragment and no user:password.

Relative URLs: ``stub.fetch("/ws?userId=alice")`` is resolved against :data:`BASE_URL`
(``http://dosandbox.local``), a sandbox convenience. The deployed platform wants a full URL here
(a relative one fails with ``TypeError: Invalid URL: /ws?userId=alice``); the host is ignored by
the object, so any full URL works there.

Redirects: a stub's ``fetch`` follows a 301/302/303/307/308 with a ``Location`` by default, as
the platform does: the next request goes to *the same object* with the new URL (whatever its
host), at most 20 times; ``redirect="manual"`` returns the 3xx itself. ``request.cf`` is a JSON
copy of ``cf=`` (None when not given). The request an object receives and the response a caller
gets back have read-only headers, as on the platform.

Bodies are bytes held in memory. ``await request.text()`` / ``json()`` / ``bytes()`` /
``array_buffer()`` read them as the Fetch API does, once (``body_used``); the ``body`` property
gives the bytes synchronously (a sandbox convenience: on the platform ``body`` is a stream), so
sync code can do ``json.loads(response.body)``.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urljoin

import httpx

from .._core.aliases import AliasMixin
from .._core.errors import HttpError, did_you_mean
from .websocket import WebSocket, hand_over

if TYPE_CHECKING:
    from .._core.record import ObjectRecord

__all__ = ["BASE_URL", "MAX_REDIRECTS", "Request", "Response", "deliver_fetch", "fetch_request"]

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
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# A stub's fetch follows at most this many redirects (workerd: 21 requests, then an error).
MAX_REDIRECTS = 20
_INIT_KEYS = ("method", "headers", "body", "redirect", "cf")
_REDIRECT_MODES = ("follow", "manual")

# workerd's statusText when none is given (checked for every status 200-599); other statuses
# get their class's name. Python's http.HTTPStatus differs for a few and across versions.
_STATUS_TEXT = {
    101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted",
    203: "Non-Authoritative Information", 204: "No Content", 205: "Reset Content",
    206: "Partial Content", 207: "Multi-Status", 208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect",
    308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized",
    402: "Payment Required", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout",
    409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot",
    421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
    424: "Failed Dependency", 426: "Upgrade Required", 428: "Precondition Required",
    429: "Too Many Requests", 431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
    510: "Not Extended", 511: "Network Authentication Required",
}
_STATUS_CLASS_TEXT = {2: "Successful", 3: "Redirection", 4: "Client Error", 5: "Server Error"}

# Keywords as JavaScript and Python Workers code spells them → ours.
_RESPONSE_CAMEL = {"statusText": "status_text", "webSocket": "web_socket"}

# --- URLs: httpx plus the WHATWG rules it lacks -------------------------------------------

# Schemes the WHATWG URL standard calls special ("file" is left to httpx as it is).
_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def _parse_url(value: str | httpx.URL, base: httpx.URL | None = None) -> httpx.URL:
    """``value`` parsed as the platform's URL parser would, relative ones against ``base``.

    Raises ``ValueError`` (for the caller to word) when it is not a URL.
    """
    text = str(value).strip(_C0_AND_SPACE)
    text = text.replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME.match(text)
    scheme = match.group(0)[:-1].lower() if match else (base.scheme if base else "")
    if match is not None:
        # Lower-cased first: httpx keeps a default port (":443") after an upper-case scheme.
        text = scheme + text[match.end() - 1:]
    if scheme in _SPECIAL_SCHEMES:
        # Before the query, a backslash is a path separator in special URLs.
        cut = _first(text, "?#")
        text = text[:cut].replace("\\", "/") + text[cut:]
    if match is None and base is not None:
        text = urljoin(str(base), text)  # what httpx.URL.join does, without parsing twice
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(str(exc)) from exc
    if url.scheme in _SPECIAL_SCHEMES:
        # httpx accepts hosts and ports a WHATWG parser refuses.
        if not url.host or "%" in url.host or (url.port is not None and url.port > 65535):
            raise ValueError("not a valid host and port")
        raw = url.raw_path.decode("ascii")
        path, sep, query = raw.partition("?")
        fixed = path.replace("^", "%5E") + sep + query.replace("'", "%27")
        # httpx serializes an empty path as nothing (and then keeps a default port), where
        # the platform writes "/": look at what follows "scheme://authority".
        after = str(url)[len(url.scheme) + 3:]
        empty_path = not after.startswith("/", _first(after, "/?#"))
        if fixed != raw or empty_path:
            url = url.copy_with(raw_path=fixed.encode("ascii"))
    return url


def _first(text: str, chars: str) -> int:
    """Where the first of ``chars`` is in ``text`` (its length when none is)."""
    return min((i for i in map(text.find, chars) if i >= 0), default=len(text))


def _request_url(value: Any) -> httpx.URL:
    """A Request's URL; a relative one resolves against :data:`BASE_URL` (sandbox only)."""
    if not isinstance(value, (str, httpx.URL)):
        raise HttpError(
            f"fetch() takes a URL (str) or a Request, not {type(value).__name__}: "
            "stub.fetch('/path?x=1') or stub.fetch(Request(url, method='POST', body=...))."
        )
    try:
        return _parse_url(value, _BASE)
    except ValueError as exc:
        raise HttpError(
            f"Invalid URL: {value} ({exc}). Give a full URL like 'https://example.com/path?x=1'"
            f" (in the sandbox a path like '/path' resolves against {BASE_URL})."
        ) from exc


def _without_fragment(url: httpx.URL) -> httpx.URL:
    # A serialized URL has a "#" only where its fragment starts (copy_with costs a parse).
    return url.copy_with(fragment=None) if "#" in str(url) else url


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


# --- read-only views the platform hands out -----------------------------------------------

_IMMUTABLE_HEADERS = (
    "Can't modify immutable headers. The headers of a request an object receives, of a "
    "response stub.fetch() returns and of Response.redirect() are read-only, as on the "
    "platform; copy them (headers = response.headers.copy()), change the copy and build a new "
    "Request or Response with it."
)


class _CheckedHeaders(httpx.Headers):
    """``httpx.Headers`` that check what is set as the Fetch API's ``Headers`` does."""

    def __setitem__(self, key: str, value: str) -> None:
        name = key.encode(self._encoding or "utf-8") if isinstance(key, str) else key
        raw = value.encode(self._encoding or "utf-8") if isinstance(value, str) else value
        checked = _checked_value(name, raw, "A")
        super().__setitem__(key, checked.decode(self._encoding or "utf-8"))

    def update(self, headers: Any = None) -> None:  # type: ignore[override]
        super().update(_headers(headers, "The"))


class _ImmutableHeaders(httpx.Headers):
    """``httpx.Headers`` that refuse changes (the Fetch API's "immutable" guard)."""

    def __setitem__(self, key: str, value: str) -> None:
        raise HttpError(_IMMUTABLE_HEADERS)

    def __delitem__(self, key: str) -> None:
        raise HttpError(_IMMUTABLE_HEADERS)

    def update(self, headers: Any = None) -> None:  # type: ignore[override]
        raise HttpError(_IMMUTABLE_HEADERS)


def _same_guard(headers: httpx.Headers, like: httpx.Headers) -> httpx.Headers:
    """A copy of ``headers`` that is read-only when ``like`` is (clone() keeps the guard)."""
    if isinstance(like, _ImmutableHeaders):
        return _ImmutableHeaders(headers)
    return _CheckedHeaders(headers)


class _FrozenCf(Mapping[str, Any]):
    """``request.cf`` inside the object: a read-only mapping, as the platform freezes it."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)

    def _refuse(self, *args: Any) -> NoReturn:
        raise HttpError(
            "request.cf is read-only inside the object, as on the platform (Cannot add "
            "property, object is not extensible); copy it first: cf = dict(request.cf)."
        )

    __setitem__ = _refuse
    __delitem__ = _refuse


def _cf_copy(value: Any) -> dict[str, Any] | None:
    """``cf=`` as the platform keeps it: a JSON copy of an object (None when not given)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise HttpError(
            "Incorrect type for the 'cf' field on 'RequestInitializerDict': the provided value "
            f"is not of type 'Object' (got {type(value).__name__}). Pass a dict, e.g. "
            "cf={'cacheTtl': 60}."
        )
    try:
        text = json.dumps(dict(value), default=_js_json)
    except (TypeError, ValueError) as exc:
        raise HttpError(
            f"cf= must hold JSON data (the platform copies it as JSON): {exc}. Use str, "
            "numbers, bools, None, lists and dicts with str keys."
        ) from exc
    copy: dict[str, Any] = json.loads(text)
    return copy


def _redirect_mode(value: Any) -> str:
    mode = value.lower() if isinstance(value, str) else value
    if mode not in _REDIRECT_MODES:
        # workerd's message, verbatim.
        raise HttpError(
            'Invalid redirect value, must be one of "follow" or "manual" ("error" won\'t be '
            "implemented since it does not make sense at the edge; use \"manual\" and check the "
            f'response status code). Got {value!r}.'
        )
    return str(mode)


def _fold_spellings(
    what: str, given: dict[str, Any], options: Mapping[str, Any], camel: Mapping[str, str]
) -> dict[str, Any]:
    """Fold camelCase keywords (``statusText=``) into ``given``; both spellings is an error."""
    for key, value in options.items():
        canonical = camel.get(key)
        if canonical is None:
            raise HttpError(
                f"{what}() got an unknown option {key!r}; {did_you_mean(key, [*given, *camel])}."
            )
        if given[canonical] is not None:
            raise HttpError(
                f"{what}() got both {key!r} and {canonical!r}; they are one option in two "
                "spellings. Keep one."
            )
        given[canonical] = value
    return given


# --- bodies and headers -------------------------------------------------------------------


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


_TOKEN_BYTES = frozenset(map(ord, _TOKEN_CHARS))
_HTTP_WHITESPACE = b" \t\r\n"


def _checked_value(name: bytes, value: bytes, what: str) -> bytes:
    """``value`` trimmed of surrounding whitespace, as the Fetch API normalizes it; an
    HttpError (workerd's "Invalid header name." / "Invalid header value.") for a name that is
    not a token or a value with a line break or NUL inside."""
    if not name or not _TOKEN_BYTES.issuperset(name):
        raise HttpError(
            f"Invalid header name. {what} header name {name.decode('latin-1')!r} is not a "
            "token: use letters, digits and !#$%&'*+-.^_`|~ only (no spaces, colons or line "
            "breaks), e.g. 'x-user-id'."
        )
    value = value.strip(_HTTP_WHITESPACE)
    if b"\r" in value or b"\n" in value or b"\0" in value:
        raise HttpError(
            f"Invalid header value. {what} header {name.decode('latin-1')!r} has a line "
            f"break or NUL inside its value {value.decode('latin-1')[:60]!r}: a header value "
            "is one line. Remove them, e.g. value.replace('\\n', ' ')."
        )
    return value


def _headers(value: Any, what: str) -> httpx.Headers:
    if value is None:
        return _CheckedHeaders()
    if isinstance(value, (httpx.Headers, Mapping, list, tuple)):
        try:
            headers = httpx.Headers(value)
        except (TypeError, ValueError, UnicodeError) as exc:
            raise HttpError(
                f"{what} headers are not valid: {exc}. Pass names and values as str (ASCII "
                "or Latin-1), e.g. headers={'content-type': 'application/json'}."
            ) from exc
        pairs = headers.raw
        checked = [(name, _checked_value(name, raw, what)) for name, raw in pairs]
        return _CheckedHeaders(checked if checked != pairs else headers)
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
                f"The body is not valid JSON ({exc}); it starts with {raw[:40]!r}. Read it "
                "with text() instead, or have the sender send JSON (Response.json(data))."
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
    """An HTTP request: ``Request(url, method=, headers=, body=, redirect=, cf=)``.

    ``Request(request, ...)`` copies another request, overriding what is given. ``redirect``
    is ``"follow"`` (the default) or ``"manual"``; ``cf`` is a JSON copy of a dict (None when not
    given), as the platform's ``request.cf``.
    """

    __slots__ = ("_cf", "_url", "method", "redirect")

    _url: httpx.URL
    _cf: Mapping[str, Any] | None
    method: str
    redirect: str
    json = _JsonMember()

    def __init__(
        self,
        input: str | httpx.URL | Request,
        *,
        method: str | None = None,
        headers: Any = None,
        body: Any = None,
        redirect: str | None = None,
        cf: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        if options:
            # Every RequestInit member the platform reads is one word: nothing to fold.
            _fold_spellings("Request", dict.fromkeys(_INIT_KEYS), options, {})
        if isinstance(input, Request):
            base_method, base_headers, base_body = input.method, input.headers, input._body
            url, base_redirect, base_cf = input._url, input.redirect, input._cf
        else:
            base_method, base_headers, base_body = "GET", None, None
            url, base_redirect, base_cf = _request_url(input), "follow", None
        self._url = url
        self.method = _method(method) if method is not None else base_method
        self.redirect = _redirect_mode(redirect) if redirect is not None else base_redirect
        self._cf = _cf_copy(cf if cf is not None else base_cf)
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

    @property
    def cf(self) -> Mapping[str, Any] | None:
        """The ``cf=`` data given (a JSON copy), or None; read-only inside the object."""
        return self._cf

    def clone(self) -> Request:
        if self._body_used:
            raise HttpError(
                "Cannot clone a Request whose body was already read; call clone() before "
                "reading the body (or keep the bytes you read)."
            )
        return self._copy()

    def _copy(self) -> Request:
        copy = Request.__new__(Request)
        copy._url = self._url
        copy.method = self.method
        copy.redirect = self.redirect
        copy._cf = self._cf
        copy.headers = _same_guard(self.headers, self.headers)
        copy._body = self._body
        copy._body_used = False
        return copy

    def _for_object(self) -> Request:
        """The request as the object receives it.

        As on the platform: no fragment and no user:password in the URL, read-only headers
        and ``cf``, and ``redirect`` is ``"manual"`` (so forwarding it does not follow).
        """
        copy = self._copy()
        url = _without_fragment(self._url)
        copy._url = url.copy_with(userinfo=b"") if url.userinfo else url
        copy.redirect = "manual"
        copy.headers = _ImmutableHeaders(self.headers)
        cf = _cf_copy(self._cf)
        copy._cf = None if cf is None else _FrozenCf(cf)
        return copy

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


class Response(_Body):
    """An HTTP response: ``Response(body, status=, status_text=, headers=, web_socket=)``.

    ``statusText=`` and ``webSocket=`` work too, as JavaScript spells them.
    ``Response.json(data, status=200, headers=None)`` makes a JSON response and
    ``Response.redirect(url, status=302)`` a redirect. Status 101 needs ``web_socket=`` (the
    client half of a :class:`~dosandbox.WebSocketPair`), as on the platform. ``status_text``
    defaults to the platform's reason phrase (``"Not Found"`` for 404).
    """

    __slots__ = ("redirected", "status", "status_text", "url", "web_socket")

    json = _JsonMember()

    def __init__(
        self,
        body: Any = None,
        *,
        status: int = 200,
        status_text: str | None = None,
        headers: Any = None,
        web_socket: WebSocket | None = None,
        **options: Any,
    ) -> None:
        from .websocket import WebSocket

        if options:
            given = _fold_spellings(
                "Response",
                {"status": status, "status_text": status_text, "headers": headers,
                 "web_socket": web_socket},
                options,
                _RESPONSE_CAMEL,
            )
            status_text, web_socket = given["status_text"], given["web_socket"]
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
        self.status_text = _default_status_text(status) if status_text is None else str(
            status_text
        )
        self.web_socket = web_socket
        self.url = ""
        self.redirected = False
        self.headers = _headers(headers, "Response")
        self._body_used = False
        self._body = _as_body(body, self.headers, "Response")
        if self._body is not None and status in _NULL_BODY_STATUSES:
            raise HttpError(
                f"A Response with null body status {status} cannot have a body; pass "
                "body=None, or use a status that carries one (200)."
            )

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    @classmethod
    def _from_json(
        cls,
        data: Any,
        *,
        status: int = 200,
        headers: Any = None,
        status_text: str | None = None,
        **options: Any,
    ) -> Response:
        if options:
            given = _fold_spellings(
                "Response.json",
                {"status": status, "status_text": status_text, "headers": headers},
                options,
                {"statusText": "status_text"},
            )
            status_text = given["status_text"]
        try:
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=_js_json)
        except (TypeError, ValueError) as exc:
            raise HttpError(
                f"Response.json() cannot serialize the data: {exc}. Pass JSON data (dict, "
                "list, str, numbers, bools, None), converting other values first."
            ) from exc
        merged = _headers(headers, "Response")
        if "content-type" not in merged:
            merged["content-type"] = "application/json"
        return cls(text.encode(), status=status, headers=merged, status_text=status_text)

    @classmethod
    def redirect(cls, url: str | httpx.URL, status: int = 302) -> Response:
        """A redirect to the absolute ``url`` (status 301, 302, 303, 307 or 308)."""
        if not isinstance(status, int) or isinstance(status, bool):
            raise HttpError(
                f"Response.redirect() status must be an int, not {type(status).__name__}."
            )
        if status not in _REDIRECT_STATUSES:
            # workerd's RangeError, verbatim.
            raise HttpError(
                f"{status} is not a redirect status code. It must be one of: 301, 302, 303, "
                "307, or 308."
            )
        if not isinstance(url, (str, httpx.URL)):
            raise HttpError(
                f"Response.redirect() takes a URL (str), not {type(url).__name__}."
            )
        try:
            target = _parse_url(url)
            if target.is_relative_url:
                raise ValueError("relative")
        except ValueError as exc:
            raise HttpError(
                f"Unable to parse URL: {url}. Response.redirect() needs an absolute URL "
                "('https://example.com/next'); to redirect relative to the request, return "
                "Response(None, status=302, headers={'location': '/next'})."
            ) from exc
        response = cls(None, status=status, headers={"location": str(target)})
        response.headers = _ImmutableHeaders(response.headers)
        return response

    def clone(self) -> Response:
        if self._body_used:
            raise HttpError(
                "Cannot clone a Response whose body was already read; call clone() before "
                "reading the body (or keep the bytes you read)."
            )
        if self.web_socket is not None:
            raise HttpError(
                "Cannot clone a Response that carries a WebSocket: the socket belongs to one "
                "response. Return the response itself."
            )
        return self._copy()

    def _copy(self, *, immutable: bool = False) -> Response:
        copy = Response.__new__(Response)
        copy.status = self.status
        copy.status_text = self.status_text
        copy.web_socket = self.web_socket
        copy.url = self.url
        copy.redirected = self.redirected
        copy.headers = (
            _ImmutableHeaders(self.headers) if immutable
            else _same_guard(self.headers, self.headers)
        )
        copy._body = self._body
        copy._body_used = False
        return copy

    def __repr__(self) -> str:
        extra = " web_socket" if self.web_socket is not None else ""
        size = len(self._body) if self._body is not None else 0
        return f"<Response {self.status}{extra} {size} bytes>"


def _default_status_text(status: int) -> str:
    return _STATUS_TEXT.get(status) or _STATUS_CLASS_TEXT.get(status // 100, "")


def _js_json(value: Any) -> Any:
    """What ``JSON.stringify`` does with a ``Date``: an ISO string in UTC with milliseconds."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _method(value: Any) -> str:
    if not isinstance(value, str) or not value or not set(value) <= _TOKEN_CHARS:
        raise HttpError(f"{value!r} is not a valid HTTP method (a token like 'GET' or 'POST').")
    upper = value.upper()
    if upper in _FORBIDDEN_METHODS:
        raise HttpError(
            f"{value!r} is a forbidden HTTP method in the Fetch API; use GET, POST, PUT, "
            "PATCH, DELETE, HEAD or OPTIONS."
        )
    return upper if upper in _NORMALIZED_METHODS else value


def is_upgrade(request: Request) -> bool:
    return request.headers.get("upgrade", "").lower() == "websocket"


# --- stub.fetch: the request a call carries, and the fetch events it becomes --------------


def fetch_request(request: Any, init: dict[str, Any]) -> Request:
    """``stub.fetch(url_or_request, method=, headers=, body=, redirect=, cf=)``'s request.

    A snapshot taken when the call is made, as the platform serializes the request then.
    """
    unknown = sorted(set(init) - set(_INIT_KEYS))
    if unknown:
        raise HttpError(
            f"fetch() got unknown option(s) {', '.join(unknown)}; "
            f"{did_you_mean(unknown[0], _INIT_KEYS)}."
        )
    if request is None:
        raise HttpError("fetch() needs a URL or a Request, e.g. stub.fetch('/state').")
    req = Request(request, **init) if (init or not isinstance(request, Request)) else request
    if req.parsed_url.scheme not in ("http", "https"):
        # workerd: "TypeError: Fetch API cannot load: ftp://x/".
        raise HttpError(
            f"Fetch API cannot load: {req.url}. Only http(s) URLs reach an object; relative "
            f"URLs like '/path' are resolved against {BASE_URL}."
        )
    return req._copy()


def _follow(request: Request, status: int, url: httpx.URL) -> Request:
    """The next request of a redirect chain, as the platform's fetch builds it."""
    nxt = request._copy()
    nxt.headers = httpx.Headers(request.headers)  # the caller's own copy, even of a received one
    if (status == 303 and request.method not in ("GET", "HEAD")) or (
        status in (301, 302) and request.method == "POST"
    ):
        # The body is dropped (its length with it); workerd keeps the other headers.
        nxt.method, nxt._body = "GET", None
        nxt.headers.pop("content-length", None)
    if _origin(url) != _origin(request.parsed_url):
        nxt.headers.pop("authorization", None)
    nxt._url = url
    return nxt


async def deliver_fetch(record: ObjectRecord, request: Request) -> Response:
    """Deliver ``request`` to ``record``'s object, following redirects as a stub's fetch does.

    Each hop is one fetch event on the same object. Returns the caller's copy of the last
    response: read-only headers, ``url`` (the last URL asked) and ``redirected``.
    """
    urls = [_without_fragment(request.parsed_url)]
    while True:
        response = await _deliver_once(record, request)
        location = response.headers.get("location")
        if request.redirect == "manual" or response.status not in _REDIRECT_STATUSES or not (
            location
        ):
            break
        try:
            target = _without_fragment(_parse_url(location, request.parsed_url))
        except ValueError as exc:
            raise HttpError(
                f"Invalid Location header; unable to follow redirect. {record.namespace.name}."
                f"fetch() answered {request.url} with {response.status} to {location!r}; "
                "send a full or relative URL, or pass redirect='manual' to handle it yourself.",
                object_name=record.namespace.name,
                object_id=record.hex,
                method_name="fetch",
            ) from exc
        if len(urls) > MAX_REDIRECTS:
            raise HttpError(
                f"Too many redirects. {record.namespace.name}.fetch() redirected "
                f"{len(urls)} times in a row and the platform follows at most {MAX_REDIRECTS}: "
                f"{', '.join(map(str, urls))}. Stop the loop, or pass redirect='manual' to get "
                "the 3xx response itself.",
                object_name=record.namespace.name,
                object_id=record.hex,
                method_name="fetch",
            )
        request = _follow(request, response.status, target)
        urls.append(target)
    result = response._copy(immutable=True)
    result.url = str(urls[-1])
    result.redirected = len(urls) > 1
    return result


async def _deliver_once(record: ObjectRecord, request: Request) -> Response:
    """Run one fetch event on ``record``'s object and return its Response."""
    ns = record.namespace
    class_name = ns.cls.__name__
    received = request._for_object()
    if not callable(getattr(ns.cls, "fetch", None)):
        # workerd: JSG_FAIL_REQUIRE(Error, "Handler does not export a fetch() function.")
        # (src/workerd/api/global-scope.c++, ServiceWorkerGlobalScope::request).
        raise HttpError(
            f"Handler does not export a fetch() function: {ns.name} ({class_name}) has no "
            f"fetch handler, so {request.method} {received.url} has nowhere to go. Add "
            "fetch=... to define_durable_object (or a fetch(self, request) method), or call "
            "its RPC methods instead.",
            object_name=ns.name,
            object_id=record.hex,
            method_name="fetch",
        )

    def call(obj: Any) -> Any:
        return obj.fetch(received)

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
    return result
