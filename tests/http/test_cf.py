"""request.cf: a JSON copy of cf=, None when not given, read-only inside the object."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dosandbox import DurableObject, Request, Response, Sandbox
from dosandbox.errors import HttpError


class CfEcho(DurableObject):
    """Answers with the cf it received; /poke tries to change it."""

    async def fetch(self, request: Request) -> Response:
        if request.parsed_url.path == "/poke":
            try:
                request.cf["added"] = 1  # type: ignore[index]
            except HttpError as exc:
                return Response.json({"refused": exc.message})
            return Response.json({"refused": None})
        if request.parsed_url.path == "/go":
            return Response(None, status=302, headers={"location": "/after"})
        cf = request.cf
        return Response.json({"cf": None if cf is None else dict(cf)})


@pytest.fixture
def sb(do_sandbox: Sandbox) -> Sandbox:
    do_sandbox.register("cf_echo", CfEcho)
    return do_sandbox


def _cf_seen(sb: Sandbox, *args: Any, **kwargs: Any) -> Any:
    stub = sb.durable_objects.cf_echo.get("a")
    return sb.run(sb.run(stub.fetch(*args, **kwargs)).json())["cf"]


def test_no_cf_is_none(sb: Sandbox) -> None:
    """Without cf= the object's request.cf is None (undefined in workerd)."""
    assert _cf_seen(sb, "https://h.example/") is None
    assert Request("https://h.example/").cf is None


def test_cf_passes_through_fetch_and_request(sb: Sandbox) -> None:
    """stub.fetch(url, cf=...) and Request(url, cf=...) both reach the object."""
    cf = {"a": 1, "nested": {"b": [1, 2]}}
    assert _cf_seen(sb, "https://h.example/", cf=cf) == cf
    assert _cf_seen(sb, Request("https://h.example/", cf={"via": "req"})) == {"via": "req"}
    # A copy of a request keeps its cf unless given another (workerd).
    base = Request("https://h.example/", cf={"k": "v"})
    assert Request(base).cf == {"k": "v"}
    assert Request(base, cf={"z": 1}).cf == {"z": 1}


def test_cf_is_kept_across_a_redirect(sb: Sandbox) -> None:
    """The followed request carries the same cf (workerd)."""
    assert _cf_seen(sb, "https://h.example/go", cf={"a": 1}) == {"a": 1}


def test_cf_is_a_json_copy() -> None:
    """Changing the dict later changes nothing; a datetime becomes its JSON string (workerd)."""
    given: dict[str, Any] = {"k": 1, "when": dt.datetime(1970, 1, 1, tzinfo=dt.UTC)}
    request = Request("https://h.example/", cf=given)
    given["k"] = 2
    assert request.cf == {"k": 1, "when": "1970-01-01T00:00:00.000Z"}


def test_cf_is_read_only_inside_the_object(sb: Sandbox) -> None:
    """Assigning into request.cf in the object fails (workerd: object is not extensible)."""
    stub = sb.durable_objects.cf_echo.get("a")
    answer = sb.run(sb.run(stub.fetch("https://h.example/poke", cf={"a": 1})).json())
    assert "request.cf is read-only inside the object" in answer["refused"]
    assert _cf_seen(sb, "https://h.example/", cf={"a": 1}) == {"a": 1}


@pytest.mark.parametrize("bad", [5, "x", ["a"]])
def test_cf_that_is_not_a_dict_is_refused(bad: Any) -> None:
    """A non-object cf fails with workerd's message."""
    with pytest.raises(HttpError, match="Incorrect type for the 'cf' field on "
                       "'RequestInitializerDict': the provided value is not of type 'Object'"):
        Request("https://h.example/", cf=bad)


def test_cf_that_is_not_json_is_refused(sb: Sandbox) -> None:
    """cf values must be JSON data; the error says why; the object keeps serving."""
    stub = sb.durable_objects.cf_echo.get("a")
    with pytest.raises(HttpError, match="cf= must hold JSON data"):
        stub.fetch("https://h.example/", cf={"s": {1, 2}})
    assert _cf_seen(sb, "https://h.example/") is None
