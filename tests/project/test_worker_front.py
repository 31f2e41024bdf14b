"""The Worker in front: Sandbox(worker=...), the default router, wait_until, errors, drivers."""

from __future__ import annotations

import asyncio

import pytest

from dosandbox import Request, Response, Sandbox, WorkerCall, define_durable_object
from dosandbox.errors import DriverError, HttpError, ValidationError


def _echo_definition():
    async def fetch(request, ctx):
        return Response(f"{ctx.id.name} {request.method} {request.parsed_url.path}")

    async def hello(ctx):
        return "hi"

    return define_durable_object(fetch=fetch, methods={"hello": hello})


@pytest.fixture
def sb():
    with Sandbox() as box:
        box.register("echo", _echo_definition())
        yield box


def test_router_without_worker_reaches_object_fetch(sb):
    """/<object>/<name>/... reaches that object's fetch with the request unchanged."""
    response = sb.run(sb.fetch("/echo/alice/path/x?y=1", method="POST", body="b"))
    assert sb.run(response.text()) == "alice POST /echo/alice/path/x"


def test_router_404_lists_objects(sb):
    """Anything else is a 404 naming the routes there are."""
    response = sb.run(sb.fetch("/nothing"))
    assert response.status == 404 and "/echo/<name>/" in sb.run(response.text())


def test_function_worker_gets_env_and_ctx():
    """worker=fn(request, env, ctx): env holds the bindings; wait_until runs after."""
    ran = []

    async def later():
        ran.append("later")

    async def worker(request, env, ctx):
        ctx.wait_until(later())
        return await env.ECHO.get("w").fetch(request)

    with Sandbox(worker=worker) as box:
        box.register("echo", _echo_definition())
        assert box.run(box.run(box.fetch("/a")).text()) == "w GET /a"
        assert ran == ["later"]
        assert "worker.wait_until" in set(box.events()["kind"])


def test_class_worker_new_instance_per_request():
    """worker=cls: built as cls(ctx, env) for each request, as workerd does."""
    made = []

    class Front:
        def __init__(self, ctx, env):
            self.ctx, self.env = ctx, env
            made.append(self)

        async def fetch(self, request):
            return Response(await self.env.ECHO.get("c").hello())

    with Sandbox(worker=Front) as box:
        box.register("echo", _echo_definition())
        assert box.run(box.run(box.fetch("/")).text()) == "hi"
        box.run(box.fetch("/"))
        assert len(made) == 2 and made[0] is not made[1]


def test_worker_error_raises_and_is_logged():
    """An exception in the Worker reaches the caller and is a worker.error event."""
    def worker(request):
        raise KeyError("boom")

    with Sandbox(worker=worker) as box:
        with pytest.raises(KeyError):
            box.run(box.fetch("/"))
        assert "KeyError" in box.events(kind="worker.error")["message"].iloc[0]


def test_worker_must_return_a_response():
    """A Worker returning a str fails as the platform's 'did not resolve to Response'."""
    with Sandbox(worker=lambda request: "text") as box, pytest.raises(
        HttpError, match="did not resolve to 'Response'"
    ):
        box.run(box.fetch("/"))


def test_bad_worker_argument_refused():
    """worker= that is not callable, or a class without fetch, is refused with the shape."""
    with pytest.raises(ValidationError, match="Worker class"):
        Sandbox(worker=42)

    class NoFetch:
        pass

    with pytest.raises(ValidationError, match="without a fetch method"):
        Sandbox(worker=NoFetch)


def test_fetch_takes_a_request_and_awaits_in_a_coroutine(sb):
    """sb.fetch(Request) from a coroutine of another loop (as a server does) drives."""
    async def handler():
        call = sb.fetch(Request("http://example.com/echo/r/q", method="PUT"))
        assert isinstance(call, WorkerCall)
        response = await call
        return await response.text()

    assert asyncio.run(handler()) == "r PUT /echo/r/q"


def test_concurrent_fetches_with_gather(sb):
    """Several sb.fetch awaited together meet inside the sandbox as concurrent requests."""
    async def both():
        return await asyncio.gather(sb.fetch("/echo/a/1"), sb.fetch("/echo/b/2"))

    first, second = asyncio.run(both())
    assert (first.status, second.status) == (200, 200)


def test_fetch_inside_object_code_is_an_await():
    """Inside object code, awaiting sb.fetch is an ordinary await (no second driver)."""
    with Sandbox() as box:
        async def relay(ctx):
            response = await box.fetch("/echo/inner/x")
            return await response.text()

        box.register("relay", define_durable_object(methods={"relay": relay}))
        box.register("echo", _echo_definition())
        assert box.run(box.durable_objects.relay.get("r").relay()) == "inner GET /echo/inner/x"


def test_connect_through_worker_needs_a_101(sb):
    """sb.connect(url) to a route that does not upgrade names the status and the fix."""
    with pytest.raises(HttpError, match="received 200"):
        sb.connect("/echo/x/ws")


def test_connect_url_and_stub_forms_do_not_mix(sb):
    """sb.connect('/a', '/b') is refused: one URL through the Worker, or a stub and a URL."""
    with pytest.raises(ValidationError, match="give one URL"):
        sb.connect("/a", "/b")


def test_driver_refused_from_object_code_for_connect():
    """sb.connect(url) inside object code is a driver call, refused with the reason."""
    with Sandbox() as box:
        async def bad(ctx):
            box.connect("/x")

        box.register("bad", define_durable_object(methods={"bad": bad}))
        with pytest.raises(Exception) as err:
            box.run(box.durable_objects.bad.get("b").bad())
        assert isinstance(err.value.__cause__, DriverError) or "inside object code" in str(
            err.value)
