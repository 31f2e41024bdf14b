"""Registering a name again is a deploy, as on the platform after `wrangler deploy`.

Platform facts (Cloudflare docs: "Durable Objects code updates", "Lifecycle of a Durable
Object", the WebSocket Hibernation API's "Code updates will disconnect all WebSockets"): an
idle object wakes on the new code after it hibernates (storage, alarm, hibernatable sockets
kept); one that cannot hibernate is reset ("Durable Object reset because its code was
updated."), its sockets closed. workerd cannot deploy in place, so these follow the docs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from dosandbox import (
    DurableObject,
    Response,
    Sandbox,
    WebSocketPair,
    define_durable_object,
)
from dosandbox.errors import (
    ConfigError,
    DriverError,
    DurableObjectResetError,
    MethodNotFoundError,
    WaitingOnTimeError,
)

START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def _counter(step: int) -> Any:
    async def init(ctx: Any) -> dict[str, int]:
        return {"n": 0, "inits": 1}

    async def inc(ctx: Any) -> tuple[int, int, int]:
        ctx.state["n"] += step
        total = (await ctx.storage.get("total") or 0) + step
        await ctx.storage.put("total", total)
        return ctx.state["n"], total, step

    return define_durable_object(init=init, methods={"inc": inc})


@pytest.fixture
def sb() -> Any:
    with Sandbox(start=START) as sandbox:
        yield sandbox


def test_register_again_runs_new_code_with_storage_kept_memory_gone(sb: Sandbox) -> None:
    """The second register of a name replaces the code; storage stays, in-memory state not."""
    sb.register("counter", _counter(1))
    stub = sb.durable_objects.counter.get("a")
    assert sb.run(stub.inc()) == (1, 1, 1)
    assert sb.run(stub.inc()) == (2, 2, 1)
    namespace = sb.register("counter", _counter(10))
    assert namespace is sb.durable_objects.counter  # same namespace: env bindings still work
    assert sb.run(stub.inc()) == (10, 12, 10)  # the held stub reaches the new code
    assert sb.inspect(stub).status == "live"
    assert sb.objects()["instance"].tolist() == [2]


def test_redeploy_logged_as_redeployed_for_the_object_and_the_namespace(sb: Sandbox) -> None:
    """The event log says "redeployed" for the namespace and in the object's own events."""
    sb.register("counter", _counter(1))
    stub = sb.durable_objects.counter.get("a")
    sb.run(stub.inc())
    sb.register("counter", _counter(2))
    own = sb.inspect(stub).events
    assert own["kind"].tolist()[-1] == "redeployed"
    assert "restarted on the new code" in own["message"].iloc[-1]
    summary = sb.events("redeployed")["message"].tolist()[-1]
    assert summary.startswith("redeployed counter (Counter): 1 live instance(s) restarted")


def test_redeploy_of_an_unused_name_changes_only_the_code(sb: Sandbox) -> None:
    """No instance yet: the deploy restarts nothing and the first call runs the new code."""
    sb.register("counter", _counter(1))
    sb.register("counter", _counter(5))
    assert sb.run(sb.durable_objects.counter.get("a").inc()) == (5, 5, 5)
    assert "no live instance" in sb.events("redeployed")["message"].iloc[-1]


def test_a_different_class_name_under_a_taken_name_is_refused_and_nothing_changes(
    sb: Sandbox,
) -> None:
    """Another class under a registered name would be a rename (a migration): ConfigError."""

    class Counter(DurableObject):
        def hi(self) -> str:
            return "v1"

    class Chat(DurableObject):
        def hi(self) -> str:
            return "chat"

    sb.register("counter", Counter)
    stub = sb.durable_objects.counter.get("a")
    assert sb.run(stub.hi()) == "v1"
    with pytest.raises(ConfigError, match=r"rename the class.*renamed_classes.*Keep the class"):
        sb.register("counter", Chat)
    with pytest.raises(ConfigError, match="rename the class"):
        sb.register("counter", _counter(1), class_name="Tally")
    assert sb.run(stub.hi()) == "v1"
    assert sb.inspect(stub).status == "live"


def test_class_based_rerun_cell_is_a_deploy(sb: Sandbox) -> None:
    """Re-running a cell that defines a class and registers it deploys the new class."""

    def cell(greeting: str) -> None:
        class Greeter(DurableObject):
            def greet(self) -> str:
                return greeting

        sb.register("greeter", Greeter)

    cell("hello")
    stub = sb.durable_objects.greeter.get("g")
    assert sb.run(stub.greet()) == "hello"
    cell("bonjour")
    assert sb.run(stub.greet()) == "bonjour"


def test_method_removed_by_a_deploy_is_not_found_through_a_held_stub(sb: Sandbox) -> None:
    """A stub that already called a method the new code lacks gets the platform's error."""

    class Shop(DurableObject):
        def buy(self) -> str:
            return "bought"

        def ping(self) -> str:
            return "pong"

    sb.register("shop", Shop)
    stub = sb.durable_objects.shop.get("s")
    assert sb.run(stub.buy()) == "bought"

    class Shop(DurableObject):  # type: ignore[no-redef]
        def ping(self) -> str:
            return "pong 2"

    sb.register("shop", Shop)
    with pytest.raises(MethodNotFoundError, match='does not implement the method "buy"'):
        stub.buy()
    assert sb.run(stub.ping()) == "pong 2"


def test_alarm_survives_the_deploy_and_runs_the_new_handler(sb: Sandbox) -> None:
    """A pending alarm stays set across a deploy and fires the new code's handler."""

    def version(tag: str) -> Any:
        async def arm(ctx: Any) -> None:
            await ctx.storage.set_alarm(dt.timedelta(seconds=30))

        async def alarm(ctx: Any) -> None:
            await ctx.storage.put("fired_by", tag)

        async def fired_by(ctx: Any) -> Any:
            return await ctx.storage.get("fired_by")

        return define_durable_object(methods={"arm": arm, "fired_by": fired_by}, alarm=alarm)

    sb.register("job", version("v1"))
    stub = sb.durable_objects.job.get("j")
    sb.run(stub.arm())
    sb.register("job", version("v2"))
    assert sb.inspect(stub).alarm is not None
    sb.clock.advance(seconds=30)
    assert sb.run(stub.fired_by()) == "v2"


class Room(DurableObject):
    """A chat room with hibernatable sockets; ``prefix`` comes from the subclass per version."""

    prefix = "v1"

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.seen = 0

    async def fetch(self, request: Any) -> Response:
        client, server = WebSocketPair()
        if request.parsed_url.path == "/standard":
            server.accept()
            server.add_event_listener("message", lambda event: server.send(
                f"{self.prefix}:{event.data}"))
        else:
            self.ctx.accept_web_socket(server)
        return Response(None, status=101, web_socket=client)

    async def web_socket_message(self, ws: Any, message: Any) -> None:
        self.seen += 1
        ws.send(f"{self.prefix}:{message}:{self.seen}")


def _room(prefix: str) -> type[DurableObject]:
    return type("Room", (Room,), {"prefix": prefix})


def test_hibernatable_sockets_stay_connected_and_reach_the_new_code(sb: Sandbox) -> None:
    """An idle room keeps its hibernatable sockets; the next message runs the new handler."""
    sb.register("room", _room("v1"))
    stub = sb.durable_objects.room.get("r")
    alice = sb.connect(stub, "/ws")
    alice.send("hi")
    assert alice.receive() == "v1:hi:1"
    sb.register("room", _room("v2"))
    assert not alice.closed
    alice.send("again")
    assert alice.receive() == "v2:again:1"  # in-memory count started over
    own = sb.inspect(stub).events
    assert "1 hibernatable socket(s) kept" in own[own["kind"] == "redeployed"]["message"].iloc[0]


def test_standard_api_sockets_close_and_the_object_is_reset_by_the_deploy(sb: Sandbox) -> None:
    """ws.accept() sockets cannot hibernate: the deploy resets the object and closes them all."""
    sb.register("room", _room("v1"))
    stub = sb.durable_objects.room.get("r")
    standard = sb.connect(stub, "/standard")
    hibernatable = sb.connect(stub, "/ws")
    standard.send("x")
    assert standard.receive() == "v1:x"
    sb.register("room", _room("v2"))
    for client in (standard, hibernatable):
        assert client.closed
        assert client.close_code == 1006
        assert client.close_reason == (
            "Durable Object connection closed because the object was reset."
        )
    assert "reset by the deploy (1 standard-API socket(s)" in (
        sb.events("redeployed")["message"].iloc[-2]
    )
    again = sb.connect(stub, "/standard")  # the stub still works: new code
    again.send("y")
    assert again.receive() == "v2:y"


class Slow(DurableObject):
    async def slow(self) -> str:
        await asyncio.sleep(10)
        return "v1 done"

    def version(self) -> str:
        return "v1"


class Caller(DurableObject):
    async def relay(self) -> str:
        try:
            return str(await self.env.SLOW.get("s").slow())
        except DurableObjectResetError as exc:
            self.ctx.storage.kv.put("error", exc.message)
            return "failed"

    def error(self) -> Any:
        return self.ctx.storage.kv.get("error")


def test_call_in_flight_fails_with_the_platforms_code_update_error(sb: Sandbox) -> None:
    """An event in flight at the deploy fails with workerd's text; the stub then works on."""
    sb.register("slow", Slow)
    sb.register("caller", Caller)
    caller = sb.durable_objects.caller.get("c")
    with pytest.raises(WaitingOnTimeError):
        sb.run(caller.relay())

    class Slow2(Slow):
        def version(self) -> str:
            return "v2"

    Slow2.__name__ = "Slow"
    sb.register("slow", Slow2)
    sb.clock.advance(seconds=0)
    error = sb.run(caller.error())
    assert error.startswith("Durable Object reset because its code was updated.")
    assert "Call again: the next call runs the new code" in error
    assert sb.run(sb.durable_objects.slow.get("s").version()) == "v2"
    assert "1 event(s) in flight" in sb.events("redeployed")["message"].iloc[-2]


def test_register_from_inside_object_code_is_refused(sb: Sandbox) -> None:
    """A deploy from inside object code would reset the code running it: DriverError."""

    class Deployer(DurableObject):
        def deploy(self) -> None:
            sb.register("deployer", Deployer)

    sb.register("deployer", Deployer)
    with pytest.raises(Exception, match="called from inside object code") as info:
        sb.run(sb.durable_objects.deployer.get("d").deploy())
    assert isinstance(info.value.__cause__, DriverError)


def test_from_directory_again_deploys_the_changed_files_with_persisted_storage(
    tmp_path: Any,
) -> None:
    """Re-running Sandbox.from_directory on a changed folder sees the new code, same storage."""
    objects = tmp_path / "objects"
    objects.mkdir()
    source = (
        "from dosandbox import define_durable_object\n"
        "async def inc(ctx):\n"
        "    n = (await ctx.storage.get('n') or 0) + {step}\n"
        "    await ctx.storage.put('n', n)\n"
        "    return n\n"
        "default = define_durable_object(methods={{'inc': inc}})\n"
    )
    (objects / "counter.py").write_text(source.format(step=1))
    first = Sandbox.from_directory(objects, persist=tmp_path / "data", start=START)
    assert first.run(first.durable_objects.counter.get("a").inc()) == 1
    (objects / "counter.py").write_text(source.format(step=100))
    second = Sandbox.from_directory(objects, persist=tmp_path / "data", start=START)
    try:
        assert first.closed  # the earlier sandbox on the folder was taken over
        assert second.run(second.durable_objects.counter.get("a").inc()) == 101
    finally:
        second.close()


def test_inspector_says_redeployed_until_the_next_event(sb: Sandbox) -> None:
    """status is "redeployed" between the deploy and the next event, in the inspector too."""
    pytest.importorskip("ipywidgets")
    sb.register("counter", _counter(1))
    stub = sb.durable_objects.counter.get("a")
    sb.run(stub.inc())
    handle = sb.inspect(stub)
    sb.register("counter", _counter(2))
    assert handle.status == "redeployed"
    assert sb.objects()["status"].tolist() == ["redeployed"]
    inspector = handle.widget()
    try:
        assert "redeployed" in inspector.title.value
        state = inspector.select_tab("State")
        state.refresh()
        assert "Redeployed: new code was registered" in state.view.value
        events = inspector.select_tab("Events")
        events.refresh()
        assert "restarted on the new code" in events.table.value
    finally:
        inspector.close()
    sb.run(stub.inc())
    assert handle.status == "live"


def test_a_new_name_cannot_take_another_namespaces_binding_or_class(sb: Sandbox) -> None:
    """'Counter' next to 'counter' would share env.COUNTER and class Counter: ConfigError."""
    sb.register("counter", _counter(1))
    with pytest.raises(ConfigError, match=r"env\.COUNTER.*'counter' \(Counter\) already has"):
        sb.register("Counter", _counter(2))

    class Counter(DurableObject):
        def hi(self) -> str:
            return "hi"

    with pytest.raises(ConfigError, match="the class name Counter"):
        sb.register("tally", Counter)
    assert sorted(sb.durable_objects) == ["counter"]
    assert sb.env.COUNTER is sb.durable_objects.counter


def test_one_class_under_two_names_is_still_allowed(sb: Sandbox) -> None:
    """The same class registered twice (two bindings of one class) is no clash."""

    class Shared(DurableObject):
        def hi(self) -> str:
            return "hi"

    sb.register("first", Shared)
    sb.register("second", Shared)
    assert sb.run(sb.durable_objects.second.get("x").hi()) == "hi"
