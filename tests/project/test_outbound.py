"""fetch() to the outside: refused by default, answered by sb.outbound, always logged."""

from __future__ import annotations

import pytest

from dosandbox import Response, Sandbox
from dosandbox.errors import DurableObjectMethodError, OutboundFetchError, ValidationError

ENTRY = '''\
from workers import DurableObject, Response, WorkerEntrypoint, fetch
import js


class Proxy(DurableObject):
    async def weather(self, city):
        response = await fetch(f"https://api.example.com/weather/{city}")
        return (await response.json())["temp"]


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/js"):
            answer = await js.fetch("https://other.example.org/x", {"method": "POST"})
            return Response(await answer.text(), status=answer.status)
        temp = await self.env.PROXY.getByName("p").weather("paris")
        return Response(str(temp))
'''

CONFIG = '''{
  "name": "out", "main": "src/entry.py", "compatibility_flags": ["python_workers"],
  "durable_objects": {"bindings": [{"name": "PROXY", "class_name": "Proxy"}]},
  "migrations": [{"tag": "v1", "new_sqlite_classes": ["Proxy"]}]
}'''


@pytest.fixture
def sb(make_project, load):
    return load(make_project(ENTRY, CONFIG))


def test_network_refused_by_default(sb):
    """By default an outbound fetch fails with how to mock or allow it, and is logged."""
    with pytest.raises(DurableObjectMethodError) as err:
        sb.run(sb.fetch("/"))
    cause = err.value.__cause__
    assert isinstance(cause, OutboundFetchError) and cause.code == "OUTBOUND_FETCH_REFUSED"
    assert "sb.outbound" in cause.message and "httpx" in cause.message
    assert "refused" in sb.events(kind="outbound")["message"].iloc[0]


def test_route_table_answers(sb):
    """A route table by URL prefix answers with a fresh copy each time."""
    sb.outbound = {"https://api.example.com/weather/": Response.json({"temp": 21})}
    assert sb.run(sb.run(sb.fetch("/")).text()) == "21"
    assert sb.run(sb.run(sb.fetch("/")).text()) == "21"
    assert list(sb.events(kind="outbound")["message"])[-1].startswith("200 GET")


def test_route_by_host_function_and_star(sb):
    """Host keys and '*' work; a function route sees the request; longest key wins."""
    seen = []

    def other(request):
        seen.append(request.method)
        return Response("from fn", status=202)

    sb.outbound = {"*": Response("star"), "other.example.org": other}
    response = sb.run(sb.fetch("/js"))
    assert (response.status, sb.run(response.text()), seen) == (202, "from fn", ["POST"])


def test_unrouted_url_refused_with_routes(sb):
    """A URL no route matches is refused, naming the routes there are."""
    sb.outbound = {"https://elsewhere.example/": Response("x")}
    with pytest.raises(DurableObjectMethodError) as err:
        sb.run(sb.fetch("/"))
    assert "matches no route" in err.value.__cause__.message


def test_async_handler(sb):
    """sb.outbound = async fn answers every request."""
    async def handler(request):
        return Response.json({"temp": len(request.url)})

    sb.outbound = handler
    assert int(sb.run(sb.run(sb.fetch("/")).text())) == len(
        "https://api.example.com/weather/paris")


def test_handler_must_return_response(sb):
    """A handler answering with a dict is refused with the fix."""
    sb.outbound = lambda request: {"temp": 1}
    with pytest.raises(DurableObjectMethodError) as err:
        sb.run(sb.fetch("/"))
    assert "not a Response" in err.value.__cause__.message


def test_bad_outbound_values_refused():
    """sb.outbound takes a function, a dict of routes or None."""
    with Sandbox() as box:
        with pytest.raises(ValidationError, match="takes a function"):
            box.outbound = 42
        with pytest.raises(ValidationError, match="maps to int"):
            box.outbound = {"api.example.com": 1}
        with pytest.raises(ValidationError, match="not a URL prefix"):
            box.outbound = {"": Response("x")}
        box.outbound = None
        assert box.outbound is None


def test_relative_outbound_url_refused(make_project, load):
    """An outbound fetch needs an absolute URL, as on the platform (Invalid URL)."""
    entry = ENTRY.replace('f"https://api.example.com/weather/{city}"', '"/relative"')
    sb = load(make_project(entry, CONFIG))
    sb.outbound = {"*": Response("x")}
    with pytest.raises(DurableObjectMethodError) as err:
        sb.run(sb.fetch("/"))
    assert "Invalid URL: /relative" in err.value.__cause__.message


def test_fetch_outside_a_sandbox_refused():
    """workers.fetch outside sandbox code has nowhere to go; the error says where it works."""
    import asyncio

    from dosandbox._project.pyworkers import workers

    with pytest.raises(OutboundFetchError, match="outside a sandbox"):
        asyncio.run(workers.fetch("https://example.com/"))
