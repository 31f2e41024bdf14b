"""Promise pipelining: calls on a result not awaited yet (workerd: ``await s.makeCounter(10)
.inc()`` is 11, ``s.nested().counter.inc()`` is 8; a failing first call fails the chain)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dosandbox import (
    DataCloneError,
    DurableObject,
    DurableObjectMethodError,
    MethodNotFoundError,
    RpcTarget,
    Sandbox,
)


class Counter(RpcTarget):
    def __init__(self, n: int) -> None:
        self._n = n

    def inc(self, by: int = 1) -> int:
        self._n += by
        return self._n

    @property
    def value(self) -> int:
        return self._n


class Maker(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.calls = 0

    def make_counter(self, n: int) -> Counter:
        self.calls += 1
        return Counter(n)

    def nested(self) -> dict[str, Any]:
        return {"counter": Counter(7), "label": "n", "deep": {"b": 3}}

    def failing(self) -> Counter:
        raise TypeError("first failed")

    def number(self) -> int:
        return 5

    def make_doubler(self) -> Any:
        return lambda x: x * 2

    def call_count(self) -> int:
        return self.calls

    async def take(self, value: Any) -> Any:
        return value

    async def inside(self) -> int:
        return await self.env.MAKER.get("other").make_counter(1).inc(41)


@pytest.fixture
def sb() -> Sandbox:
    box = Sandbox()
    box.register("maker", Maker)
    return box


def test_pipelined_method_call_as_workerd(sb: Sandbox) -> None:
    """``await stub.make_counter(10).inc()`` is 11 without awaiting the first call."""
    assert sb.run(sb.durable_objects.maker.get("m").make_counter(10).inc()) == 11


def test_pipelined_property_path_then_call_as_workerd(sb: Sandbox) -> None:
    """``stub.nested().counter.inc()`` is 8, ``stub.nested().label`` is "n" (workerd)."""
    stub = sb.durable_objects.maker.get("m")
    assert sb.run(stub.nested().counter.inc()) == 8
    assert sb.run(stub.nested().label) == "n"
    assert sb.run(stub.nested().deep.b) == 3


def test_pipelined_property_read_on_target(sb: Sandbox) -> None:
    """``await stub.make_counter(3).value`` reads the getter of the returned target (workerd 3)."""
    assert sb.run(sb.durable_objects.maker.get("m").make_counter(3).value) == 3


def test_pipelined_call_of_returned_function(sb: Sandbox) -> None:
    """``await stub.make_doubler()(5)`` is 10 (workerd: pipelining a call on a function)."""
    assert sb.run(sb.durable_objects.maker.get("m").make_doubler()(5)) == 10


def test_first_call_error_surfaces_at_final_await_with_its_name(sb: Sandbox) -> None:
    """A failing first call fails the pipelined call with the same error (workerd: TypeError
    "first failed", remote), naming the method that failed."""
    with pytest.raises(DurableObjectMethodError) as info:
        sb.run(sb.durable_objects.maker.get("m").failing().inc())
    assert isinstance(info.value, TypeError)
    assert info.value.method_name == "failing"
    assert "first failed" in str(info.value)


def test_method_on_plain_result_is_not_implemented_as_workerd(sb: Sandbox) -> None:
    """``stub.number().foo()``: workerd's 'does not implement the method "foo"' (remote)."""
    with pytest.raises(MethodNotFoundError) as info:
        sb.run(sb.durable_objects.maker.get("m").number().foo())
    assert 'does not implement the method "foo"' in str(info.value)
    assert info.value.remote is True


def test_first_call_is_sent_once_for_several_steps(sb: Sandbox) -> None:
    """One pending call used by two pipelined steps reaches the object once."""
    stub = sb.durable_objects.maker.get("m")
    pending = stub.make_counter(0)
    assert sb.run(pending.inc()) == 1
    assert sb.run(pending.inc()) == 2
    assert sb.run(pending.value) == 2
    assert sb.run(stub.call_count()) == 1


def test_pending_call_as_argument_is_refused_as_workerd(sb: Sandbox) -> None:
    """A call not awaited as an argument (a cycle for a pipeline) is refused: workerd's
    DataCloneError 'Could not serialize object of type "RpcPromise"'."""
    stub = sb.durable_objects.maker.get("m")
    with pytest.raises(DataCloneError, match='type "RpcPromise"'):
        stub.take(stub.make_counter(1))
    with pytest.raises(DataCloneError, match='type "RpcPromise"'):
        stub.take(stub.make_counter(1).inc())


def test_pipelining_inside_object_code(sb: Sandbox) -> None:
    """Object code pipelines too: ``await other.make_counter(1).inc(41)`` is 42."""
    assert sb.run(sb.durable_objects.maker.get("m").inside()) == 42


def test_pipelined_call_awaited_from_a_running_loop(sb: Sandbox) -> None:
    """``await stub.make_counter(1).inc()`` in an async cell (another running loop) drives."""
    async def cell() -> int:
        return await sb.durable_objects.maker.get("m").make_counter(1).inc()
    assert asyncio.run(cell()) == 2
