"""Functions over RPC: they arrive as callable stubs that run where they came from (workerd:
``callCb((a, b) => a + b, 2, 3)`` is 5; arguments and results are copied both ways)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dosandbox import DataCloneError, DurableObject, DurableObjectMethodError, RpcStub, Sandbox


class Caller(DurableObject):
    async def call_cb(self, cb: Any, *args: Any) -> Any:
        return await cb(*args)

    async def call_twice(self, cb: Any) -> list[Any]:
        return [await cb(1), await cb(2)]

    def make_doubler(self) -> Any:
        return lambda x: x * 2

    def make_tally(self) -> Any:
        count = 0

        def tally() -> int:
            nonlocal count
            count += 1
            return count
        return tally

    def echo(self, value: Any) -> Any:
        return value

    async def is_stub(self, value: Any) -> bool:
        return isinstance(value, RpcStub)


class Owner(DurableObject):
    """Passes its own callback to a peer: the callback runs back here, as an event of Owner."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.seen: list[Any] = []

    async def lend(self) -> Any:
        async def remember(x: int) -> str:
            self.seen.append(x)
            self.ctx.storage.kv.put("last", x)  # storage of the owner, from the owner's event
            return f"owner saw {x}"
        peer = self.env.CALLER.get("peer")
        return await peer.call_cb(remember, 7)

    def seen_values(self) -> list[Any]:
        return self.seen


@pytest.fixture
def sb() -> Sandbox:
    box = Sandbox()
    box.register("caller", Caller)
    box.register("owner", Owner)
    return box


def test_notebook_function_is_called_by_the_object_as_workerd(sb: Sandbox) -> None:
    """A notebook lambda passed as an argument is called by the object (workerd: 5)."""
    stub = sb.durable_objects.caller.get("a")
    assert sb.run(stub.call_cb(lambda a, b: a + b, 2, 3)) == 5
    assert sb.run(stub.call_twice(lambda x: x * 10)) == [10, 20]


def test_async_notebook_function_is_awaited(sb: Sandbox) -> None:
    """An async def callback is awaited on the notebook side (workerd: async callbacks work)."""
    async def plus_one(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1
    assert sb.run(sb.durable_objects.caller.get("a").call_cb(plus_one, 1)) == 2


def test_function_arrives_as_rpc_stub(sb: Sandbox) -> None:
    """The receiver holds an RpcStub, never the caller's function itself."""
    assert sb.run(sb.durable_objects.caller.get("a").is_stub(lambda: 1)) is True


def test_callback_arguments_and_results_are_copied_both_ways(sb: Sandbox) -> None:
    """A callback mutating its argument changes only its copy (workerd: caller keeps {v: 1})."""
    original = {"v": 1}

    def mutate(value: dict[str, int]) -> dict[str, int]:
        value["v"] = 9
        return value
    assert sb.run(sb.durable_objects.caller.get("a").call_cb(mutate, original)) == {"v": 9}
    assert original == {"v": 1}


def test_callback_error_reaches_the_object_with_its_type(sb: Sandbox) -> None:
    """A callback raising ValueError: the object's call fails with that type (workerd keeps
    RangeError for a throwing callback, remote)."""
    def bad() -> None:
        raise ValueError("cb bad")
    with pytest.raises(DurableObjectMethodError) as info:
        sb.run(sb.durable_objects.caller.get("a").call_cb(bad))
    assert isinstance(info.value, ValueError)
    assert "cb bad" in str(info.value)
    assert info.value.remote is True


def test_returned_function_runs_in_the_object_keeping_its_closure(sb: Sandbox) -> None:
    """A function returned by a method is a stub; its closure lives in the object (workerd:
    returnFnState gives 1 then 2)."""
    stub = sb.durable_objects.caller.get("a")
    doubler = sb.run(stub.make_doubler())
    assert sb.run(doubler(21)) == 42
    tally = sb.run(stub.make_tally())
    assert [sb.run(tally()), sb.run(tally())] == [1, 2]


def test_function_inside_a_dict_crosses_too(sb: Sandbox) -> None:
    """Functions nested in plain data cross as stubs (workerd: {f} echoed, f(1) is 2)."""
    back = sb.run(sb.durable_objects.caller.get("a").echo({"f": lambda x: x + 1}))
    assert isinstance(back["f"], RpcStub)
    assert sb.run(back["f"](1)) == 2


def test_object_callback_runs_in_its_owner_under_its_gate(sb: Sandbox) -> None:
    """A callback from object Owner, called by Caller, runs as an event of Owner: it sees Owner's
    state and storage, and the event log shows it on Owner."""
    owner = sb.durable_objects.owner.get("o")
    assert sb.run(owner.lend()) == "owner saw 7"
    assert sb.run(owner.seen_values()) == [7]
    assert sb.inspect(owner).kv["value"].tolist() == [7]
    kinds = [e.kind for e in sb.inspect(owner).event_list()]
    assert "stub.called" in kinds


def test_same_function_twice_in_one_message_is_one_stub(sb: Sandbox) -> None:
    """One function passed twice in one call arrives as one stub (structured clone keeps
    identity within a message)."""
    def f() -> int:
        return 1
    back = sb.run(sb.durable_objects.caller.get("a").echo([f, f]))
    assert back[0] is back[1]


def test_a_class_passed_as_value_is_refused_with_rpctarget_named(sb: Sandbox) -> None:
    """A plain class instance is refused with workerd's DataCloneError text, naming RpcTarget."""
    class Plain:
        pass
    with pytest.raises(DataCloneError) as info:
        sb.run(sb.durable_objects.caller.get("a").echo(Plain()))
    assert 'Could not serialize object of type "Plain"' in str(info.value)
    assert "RpcTarget" in str(info.value)
