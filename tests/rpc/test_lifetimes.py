"""Stub lifetimes as workerd has them: argument stubs are disposed when the call returns
("RPC stub used after being disposed."), ``dup()`` keeps one, ``with``/``dispose()`` end one,
a target's ``__dispose__`` runs when its last stub goes, and a stub whose owner was evicted
or reset fails with "The execution context which hosts this callback is no longer running."."""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import (
    DataCloneError,
    DurableObject,
    DurableObjectMethodError,
    RpcTarget,
    Sandbox,
)
from dosandbox.errors import DriverError, StubDisposedError, StubOwnerGoneError

DISPOSED: list[str] = []


class Resource(RpcTarget):
    def __init__(self, name: str) -> None:
        self._name = name

    def hi(self) -> str:
        return f"hi {self._name}"

    def __dispose__(self) -> None:
        DISPOSED.append(self._name)


class Holder(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.kept: Any = None

    def keep(self, cb: Any) -> str:
        self.kept = cb
        return "kept"

    def keep_dup(self, cb: Any) -> str:
        self.kept = cb.dup()
        return "kept"

    async def call_kept(self, x: int) -> Any:
        return await self.kept(x)

    def make(self, name: str) -> Resource:
        return Resource(name)

    async def borrow(self) -> str:
        # A stub received inside this event: the instance keeps it until it goes.
        res = await self.env.HOLDER.get("lender").make("borrowed")
        return await res.hi()


@pytest.fixture
def sb() -> Sandbox:
    DISPOSED.clear()
    box = Sandbox()
    box.register("holder", Holder)
    return box


def test_argument_stub_is_disposed_when_the_call_returns_as_workerd(sb: Sandbox) -> None:
    """A callback kept past its call fails (workerd: 'RPC stub used after being disposed.',
    remote)."""
    stub = sb.durable_objects.holder.get("h")
    sb.run(stub.keep(lambda x: x + 1))
    with pytest.raises(DurableObjectMethodError) as info:
        sb.run(stub.call_kept(1))
    assert isinstance(info.value.__cause__, StubDisposedError)
    assert "RPC stub used after being disposed." in str(info.value)


def test_dup_keeps_an_argument_stub_as_workerd(sb: Sandbox) -> None:
    """``cb.dup()`` inside the call keeps it usable afterwards (workerd: keptCbDup gives 2)."""
    stub = sb.durable_objects.holder.get("h")
    sb.run(stub.keep_dup(lambda x: x + 1))
    assert sb.run(stub.call_kept(1)) == 2


def test_dispose_then_call_is_the_platform_error(sb: Sandbox) -> None:
    """A disposed result stub: StubDisposedError 'RPC stub used after being disposed.'"""
    res = sb.run(sb.durable_objects.holder.get("h").make("a"))
    res.dispose()
    res.dispose()  # twice is fine, as in workerd
    assert res.disposed
    with pytest.raises(StubDisposedError, match="used after being disposed"):
        sb.run(res.hi())


def test_with_block_disposes_and_runs_the_hook(sb: Sandbox) -> None:
    """``with stub:`` is the platform's ``using``: on exit the target's __dispose__ runs."""
    with sb.run(sb.durable_objects.holder.get("h").make("w")) as res:
        assert sb.run(res.hi()) == "hi w"
    sb.clock.run_until_idle()
    assert DISPOSED == ["w"]


def test_dispose_hook_waits_for_the_last_dup_as_workerd(sb: Sandbox) -> None:
    """With a dup alive the hook does not run; it runs when the dup goes (workerd: d3 disposed
    only after both)."""
    res = sb.run(sb.durable_objects.holder.get("h").make("d"))
    second = res.dup()
    res.dispose()
    sb.clock.run_until_idle()
    assert DISPOSED == []
    assert sb.run(second.hi()) == "hi d"
    second.dispose()
    sb.clock.run_until_idle()
    assert DISPOSED == ["d"]


def test_stub_received_inside_an_event_lives_until_its_instance_goes(sb: Sandbox) -> None:
    """A target an object received is not disposed when the event ends, only when its instance
    is evicted (workerd, checked 2026-12-03: disposed only on abort/eviction)."""
    stub = sb.durable_objects.holder.get("h")
    assert sb.run(stub.borrow()) == "hi borrowed"
    sb.clock.run_until_idle()
    assert DISPOSED == []
    sb.inspect(stub).evict()
    sb.clock.run_until_idle()
    assert DISPOSED == ["borrowed"]


def test_stub_of_an_evicted_owner_fails_as_workerd(sb: Sandbox) -> None:
    """After its owner is evicted a target stub fails with StubOwnerGoneError (workerd: 'The
    execution context which hosts this callback is no longer running.')."""
    stub = sb.durable_objects.holder.get("h")
    res = sb.run(stub.make("e"))
    sb.inspect(stub).evict()
    with pytest.raises(StubOwnerGoneError, match="no longer running"):
        sb.run(res.hi())


def test_stub_of_a_reset_owner_fails_as_workerd(sb: Sandbox) -> None:
    """After ctx.abort() in its owner a target stub fails the same way (workerd abortOwner)."""
    class Aborter(DurableObject):
        def make(self) -> Resource:
            return Resource("r")

        def abort(self) -> None:
            self.ctx.abort("gone")

    sb.register("aborter", Aborter)
    stub = sb.durable_objects.aborter.get("a")
    res = sb.run(stub.make())
    with pytest.raises(Exception, match="gone"):
        sb.run(stub.abort())
    with pytest.raises(StubOwnerGoneError):
        sb.run(res.hi())


def test_stub_of_a_closed_sandbox_is_refused(sb: Sandbox) -> None:
    """A stub whose sandbox was closed cannot be called nor passed into another sandbox."""
    res = sb.run(sb.durable_objects.holder.get("h").make("c"))
    sb.close()
    with pytest.raises(DriverError):
        sb.run(res.hi())
    other = Sandbox()
    other.register("holder", Holder)
    with pytest.raises(StubOwnerGoneError, match="closed"):
        other.durable_objects.holder.get("h").keep(res)


def test_stub_of_another_open_sandbox_is_refused(sb: Sandbox) -> None:
    """A capability reaches only its own sandbox: passing it to another is a DataCloneError."""
    res = sb.run(sb.durable_objects.holder.get("h").make("o"))
    other = Sandbox()
    other.register("holder", Holder)
    with pytest.raises(DataCloneError, match="another Sandbox"):
        other.durable_objects.holder.get("h").keep(res)


def test_capability_events_are_logged(sb: Sandbox) -> None:
    """Created, called and disposed stubs appear in the object's event log."""
    stub = sb.durable_objects.holder.get("h")
    res = sb.run(stub.make("l"))
    sb.run(res.hi())
    res.dispose()
    kinds = [e.kind for e in sb.inspect(stub).event_list() if e.kind.startswith("stub.")]
    assert kinds == ["stub.created", "stub.called", "stub.disposed"]
