"""Who keeps a received stub, as workerd does (checked in workerd 2026-12-03): an object's
instance keeps every stub it received (except a call's arguments) across its events until it is
evicted or reset; a Worker request keeps its stubs until it and its ``wait_until`` work end, and
another request using one gets "Cannot perform I/O on behalf of a different request."."""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import DurableObject, RpcTarget, Sandbox
from dosandbox._runtime.parts import parts_of
from dosandbox.errors import StubDisposedError

DISPOSED: list[str] = []


class Token(RpcTarget):
    def __init__(self, name: str) -> None:
        self._name = name

    def ping(self) -> str:
        return f"pong {self._name}"

    def __dispose__(self) -> None:
        DISPOSED.append(self._name)


class Maker(DurableObject):
    def make(self, name: str) -> Token:
        return Token(name)


class Holder(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.kept: Any = None

    async def fetch_and_keep(self, name: str) -> str:
        self.kept = await self.env.MAKER.get("m").make(name)
        return str(await self.kept.ping())

    async def fetch_and_drop(self, name: str) -> str:
        token = await self.env.MAKER.get("m").make(name)
        return str(await token.ping())

    async def fetch_and_dispose(self, name: str) -> str:
        with await self.env.MAKER.get("m").make(name) as token:
            return str(await token.ping())

    async def use_kept(self) -> str:
        return str(await self.kept.ping())

    async def arm(self) -> None:
        await self.ctx.storage.set_alarm(1_000)

    async def alarm(self) -> None:
        self.kept = await self.env.MAKER.get("m").make("alarm")

    def abort(self) -> None:
        self.ctx.abort("bye")


@pytest.fixture
def sb() -> Any:
    DISPOSED.clear()
    with Sandbox() as box:
        box.register("maker", Maker)
        box.register("holder", Holder)
        yield box


def _held(sb: Sandbox, name: str = "h") -> dict[int, Any]:
    """The stubs the holder's instance keeps (its parts)."""
    return parts_of(sb.inspect(sb.durable_objects.holder.get(name))._record).stubs or {}


def test_a_stub_kept_in_a_field_works_in_a_later_event(sb: Sandbox) -> None:
    """workerd: fetchAndKeep then useKept gives "pong k1" twice, nothing disposed between."""
    holder = sb.durable_objects.holder.get("h")
    assert sb.run(holder.fetch_and_keep("k1")) == "pong k1"
    sb.clock.run_until_idle()
    assert DISPOSED == []
    assert sb.run(holder.use_kept()) == "pong k1"


def test_a_stub_received_in_an_alarm_works_in_a_later_call(sb: Sandbox) -> None:
    """workerd: a target received in alarm() and kept answers a later RPC call."""
    holder = sb.durable_objects.holder.get("h")
    sb.run(holder.arm())
    sb.clock.advance(seconds=2)
    assert sb.run(holder.use_kept()) == "pong alarm"
    assert DISPOSED == []


def test_stubs_go_when_the_instance_is_reset_as_workerd(sb: Sandbox) -> None:
    """workerd: ctx.abort() disposes every stub the instance held, kept in a field or not."""
    holder = sb.durable_objects.holder.get("h")
    sb.run(holder.fetch_and_keep("k1"))
    sb.run(holder.fetch_and_drop("nk"))
    assert DISPOSED == []
    with pytest.raises(Exception, match="bye"):
        sb.run(holder.abort())
    sb.clock.run_until_idle()
    assert sorted(DISPOSED) == ["k1", "nk"]
    assert _held(sb) == {}


def test_a_stub_disposed_early_leaves_its_holder(sb: Sandbox) -> None:
    """Stubs disposed with `with` inside events do not pile up on a long-lived instance."""
    holder = sb.durable_objects.holder.get("h")
    for i in range(50):
        assert sb.run(holder.fetch_and_dispose(f"t{i}")) == f"pong t{i}"
    sb.clock.run_until_idle()
    assert len(DISPOSED) == 50
    assert _held(sb) == {}


def test_a_closed_sandbox_is_not_kept_alive_by_held_stubs() -> None:
    """Closing disposes what instances held, and nothing keeps the sandbox's world reachable."""
    import gc
    import weakref

    DISPOSED.clear()
    sb = Sandbox()
    sb.register("maker", Maker)
    sb.register("holder", Holder)
    sb.run(sb.durable_objects.holder.get("h").fetch_and_keep("k1"))
    world = weakref.ref(sb.world)
    sb.close()
    assert DISPOSED == ["k1"]
    del sb
    gc.collect()
    assert world() is None


class KeepingWorker:
    kept: Any = None

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env

    async def fetch(self, request: Any) -> Any:
        from dosandbox import Response

        path = request.url.rsplit("/", 1)[-1]
        if path == "keep":
            KeepingWorker.kept = await self.env.MAKER.get("m").make("w1")
            return Response(await KeepingWorker.kept.ping())
        if path == "use":
            return Response(await KeepingWorker.kept.ping())
        token = await self.env.MAKER.get("m").make("w2")

        async def later() -> None:
            await self.env.MAKER.get("m").make("noise")
            KeepingWorker.kept = "waited " + await token.ping()

        self.ctx.wait_until(later())
        return Response("ok")


def _text(sb: Sandbox, path: str) -> str:
    async def go() -> str:
        return str(await (await sb.fetch(path)).text())
    return sb.run(go())


def test_a_worker_request_s_stubs_go_when_it_ends_as_workerd() -> None:
    """workerd: a stub a Worker kept in a global is disposed when the request ends, and the
    next request using it gets "Cannot perform I/O on behalf of a different request."."""
    DISPOSED.clear()
    with Sandbox(worker=KeepingWorker) as sb:
        sb.register("maker", Maker)
        assert _text(sb, "/keep") == "pong w1"
        sb.clock.run_until_idle()
        assert DISPOSED == ["w1"]
        with pytest.raises(StubDisposedError,
                           match="Cannot perform I/O on behalf of a different request"):
            _text(sb, "/use")


def test_a_worker_stub_lives_through_wait_until_work_as_workerd() -> None:
    """workerd: a stub used inside ctx.waitUntil work after the response still answers, and is
    disposed when that work is done."""
    DISPOSED.clear()
    with Sandbox(worker=KeepingWorker) as sb:
        sb.register("maker", Maker)
        assert _text(sb, "/wait") == "ok"
        sb.clock.run_until_idle()
        assert KeepingWorker.kept == "waited pong w2"
        assert sorted(DISPOSED) == ["noise", "w2"]
