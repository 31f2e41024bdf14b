"""RpcTarget: instances cross by reference; methods and getters on the class are reachable,
``_private`` members and instance attributes are not (workerd: "The RPC receiver does not
implement the method \"field\"."). Also the workers-sdk ``rpc`` fixture's counter."""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import DurableObject, MethodNotFoundError, RpcStub, RpcTarget, Sandbox


class Counter(RpcTarget):
    """The workers-sdk fixture's counter: a private count, increment, a value getter."""

    def __init__(self, start: int = 0) -> None:
        self._value = start
        self.field = "instance attribute"

    def increment(self, amount: int = 1) -> int:
        self._value += amount
        return self._value

    @property
    def value(self) -> int:
        return self._value

    def clone(self) -> Counter:
        return Counter(self._value)

    def _hidden(self) -> str:
        return "private"


class Service(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.kept: Any = None

    def new_counter(self, start: int = 0) -> Counter:
        return Counter(start)

    async def bump(self, target: Any) -> int:
        return await target.increment(100)

    def keep(self, target: Any) -> str:
        self.kept = target
        return "kept"

    async def use_kept(self) -> int:
        return await self.kept.increment(1)


@pytest.fixture
def sb() -> Sandbox:
    box = Sandbox()
    box.register("service", Service)
    return box


def test_counter_target_methods_and_getter_as_fixture(sb: Sandbox) -> None:
    """new_counter() returns a stub; increment() and the value getter work (workerd: 11, 16, 16)."""
    counter = sb.run(sb.durable_objects.service.get("s").new_counter(10))
    assert isinstance(counter, RpcStub)
    assert sb.run(counter.increment()) == 11
    assert sb.run(counter.increment(5)) == 16
    assert sb.run(counter.value) == 16


def test_counter_clone_is_an_independent_target(sb: Sandbox) -> None:
    """clone() returns a new target: incrementing it leaves the first one alone."""
    counter = sb.run(sb.durable_objects.service.get("s").new_counter(1))
    copy = sb.run(counter.clone())
    assert sb.run(copy.increment(10)) == 11
    assert sb.run(counter.value) == 1


def test_instance_fields_are_refused_as_workerd(sb: Sandbox) -> None:
    """An instance attribute is not reachable (workerd: does not implement the method "field")."""
    counter = sb.run(sb.durable_objects.service.get("s").new_counter())
    with pytest.raises(MethodNotFoundError) as info:
        sb.run(counter.field)
    assert 'does not implement the method "field"' in str(info.value)
    assert "instance attribute" in str(info.value) and "@property" in str(info.value)
    assert info.value.remote is True


def test_private_members_are_not_reachable(sb: Sandbox) -> None:
    """``_hidden`` is private in Python's spelling (as #private in JS): not reachable."""
    counter = sb.run(sb.durable_objects.service.get("s").new_counter())
    with pytest.raises(MethodNotFoundError, match="private"):
        sb.run(counter._hidden())
    assert "_hidden" not in dir(counter) and "increment" in dir(counter)


def test_calling_a_getter_is_not_a_function_as_workerd(sb: Sandbox) -> None:
    """``await counter.value()``: workerd's TypeError '"value" is not a function.'"""
    counter = sb.run(sb.durable_objects.service.get("s").new_counter())
    with pytest.raises(MethodNotFoundError, match='"value" is not a function'):
        sb.run(counter.value())


def test_unknown_member_suggests_a_close_name(sb: Sandbox) -> None:
    """A misspelt member names the platform's error and the likely intended name."""
    counter = sb.run(sb.durable_objects.service.get("s").new_counter())
    with pytest.raises(MethodNotFoundError, match="increment"):
        sb.run(counter.incremnt())


def test_notebook_target_passed_in_runs_on_notebook_side(sb: Sandbox) -> None:
    """A target passed as an argument is called by reference: the notebook's object changes
    (workerd: takeTarget gives 101 and the caller's counter is 101)."""
    mine = Counter(1)
    assert sb.run(sb.durable_objects.service.get("s").bump(mine)) == 101
    assert mine.value == 101


def test_method_read_as_value_is_a_function_stub(sb: Sandbox) -> None:
    """``await counter.increment`` gives a function stub (workerd: typeof is "function")."""
    counter = sb.run(sb.durable_objects.service.get("s").new_counter(3))
    increment = sb.run(counter.increment)
    assert isinstance(increment, RpcStub)
    assert sb.run(increment(2)) == 5


def test_calling_a_target_stub_itself_is_refused(sb: Sandbox) -> None:
    """A target stub is not a function: calling it says so and lists its methods."""
    counter = sb.run(sb.durable_objects.service.get("s").new_counter())
    with pytest.raises(Exception, match="not a function"):
        counter()


def test_private_names_fail_at_once_so_display_hooks_skip_them(sb: Sandbox) -> None:
    """``stub._repr_html_`` raises at once (an AttributeError), so IPython's display probing
    never mistakes a stub member for a display hook; the stub's repr names what it is."""
    counter = sb.run(sb.durable_objects.service.get("s").new_counter())
    assert getattr(counter, "_repr_html_", None) is None
    assert "Counter target from service:s" in repr(counter)


def test_a_durable_object_stub_method_is_refused_as_an_argument(sb: Sandbox) -> None:
    """``stub.method`` (not called) is refused over RPC like the stub itself (workerd refuses
    Durable Object stubs), with the fix."""
    from dosandbox import DataCloneError

    stub = sb.durable_objects.service.get("s")
    with pytest.raises(DataCloneError, match="name or id"):
        stub.keep(stub.new_counter)
