"""Stubs and RPC: what a stub exposes, error wrapping, not-found errors, env bindings."""

from __future__ import annotations

import asyncio

import pytest

from dosandbox import (
    DurableObject,
    DurableObjectMethodError,
    DurableObjectNotFoundError,
    MethodNotFoundError,
    Sandbox,
)
from dosandbox.bindings import durable_objects, get_durable_object, has_durable_object


class Calc(DurableObject):
    """A calculator."""

    def add(self, a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    def state(self) -> str:  # a user method may be called `state`
        return "mine"

    def fail(self, message: str) -> None:
        raise ValueError(message)

    def _secret(self) -> str:
        return "hidden"


@pytest.fixture
def sb() -> Sandbox:
    sb = Sandbox()
    sb.register("calc", Calc)
    return sb


def test_stub_exposes_methods_fetch_id_name_only(sb: Sandbox) -> None:
    """dir(stub) is the RPC methods plus fetch, id and name; private methods are not RPC."""
    stub = sb.durable_objects.calc.get("c")
    assert dir(stub) == sorted(["add", "fail", "state", "fetch", "id", "name"])
    assert sb.run(stub.state()) == "mine"
    with pytest.raises(AttributeError):
        stub._secret  # noqa: B018


def test_unknown_method_lists_available_ones(sb: Sandbox) -> None:
    """METHOD_NOT_FOUND names the method, suggests the closest and lists the rest."""
    stub = sb.durable_objects.calc.get("c")
    with pytest.raises(MethodNotFoundError) as info:
        stub.ad(1, 2)
    err = info.value
    assert err.code == "METHOD_NOT_FOUND"
    assert "did you mean 'add'?" in str(err)
    assert "add, fail, state" in str(err)
    assert err.method_name == "ad" and err.object_name == "calc"
    assert sb.run(stub.add(1, 2)) == 3


def test_unknown_object_lists_registered_ones(sb: Sandbox) -> None:
    """DURABLE_OBJECT_NOT_FOUND names the object and lists the registered ones."""
    with pytest.raises(DurableObjectNotFoundError, match=r"'calk'.*did you mean 'calc'") as info:
        sb.durable_objects.calk  # noqa: B018
    assert info.value.code == "DURABLE_OBJECT_NOT_FOUND"
    assert sb.has_durable_object("calc") and not sb.has_durable_object("calk")
    assert sb.get_durable_object("calc").name == "calc"
    assert "calc" in sb.durable_objects


def test_method_error_is_wrapped_with_context_and_cause(sb: Sandbox) -> None:
    """An exception in a method arrives as DurableObjectMethodError with fields and __cause__."""
    stub = sb.durable_objects.calc.get("c")
    with pytest.raises(DurableObjectMethodError) as info:
        sb.run(stub.fail("boom"))
    err = info.value
    assert err.code == "RPC_ERROR"
    assert err.method_name == "fail"
    assert err.object_name == "calc"
    assert err.object_id == str(stub.id)
    assert isinstance(err.__cause__, ValueError)
    assert "ValueError: boom" in str(err)
    assert err.original_type == "ValueError"
    # The platform keeps the error's type name, so `except ValueError` still catches it.
    assert isinstance(err, ValueError)
    assert sb.run(stub.add(2, 2)) == 4


def test_user_error_with_custom_init_is_still_wrapped(sb: Sandbox) -> None:
    """A user error type with a custom __init__ is wrapped and still isinstance of it."""
    class Custom(Exception):
        def __init__(self, a: int, b: int) -> None:
            super().__init__(f"{a}/{b}")

    class Raiser(DurableObject):
        def go(self) -> None:
            raise Custom(1, 2)

    sb.register("raiser", Raiser)
    with pytest.raises(Custom) as info:
        sb.run(sb.durable_objects.raiser.get("r").go())
    assert isinstance(info.value, DurableObjectMethodError)
    assert "Custom: 1/2" in str(info.value)


def test_objects_call_each_other_through_env() -> None:
    """env.CALC is the calc namespace: objects call each other with a plain await."""
    class Front(DurableObject):
        async def total(self, values: list[int]) -> int:
            calc = self.env.CALC.get("shared")
            result = 0
            for v in values:
                result = await calc.add(result, v)
            return result

    sb = Sandbox(env={"GREETING": "hi"})
    sb.register("calc", Calc)
    sb.register("front", Front)
    assert sb.run(sb.durable_objects.front.get("f").total([1, 2, 3])) == 6
    assert sb.env.GREETING == "hi"


def test_nested_call_error_propagates_to_outer_caller() -> None:
    """An error raised two objects deep reaches the notebook with the inner method named."""
    class Front(DurableObject):
        async def relay(self) -> None:
            await self.env.CALC.get("c").fail("deep")

    sb = Sandbox()
    sb.register("calc", Calc)
    sb.register("front", Front)
    with pytest.raises(DurableObjectMethodError, match=r"calc\.fail"):
        sb.run(sb.durable_objects.front.get("f").relay())


def test_bindings_proxy_uses_the_active_sandbox() -> None:
    """dosandbox.bindings.durable_objects talks to the newest (or activated) sandbox."""
    first = Sandbox()
    first.register("calc", Calc)
    second = Sandbox()
    assert not has_durable_object("calc")
    first.activate()
    assert has_durable_object("calc")
    assert get_durable_object("calc") is first.durable_objects.calc
    assert first.run(durable_objects.calc.get("c").add(2, 3)) == 5
    second.activate()
    with pytest.raises(DurableObjectNotFoundError):
        durable_objects.calc  # noqa: B018


def test_await_works_inside_a_running_asyncio_loop(sb: Sandbox) -> None:
    """`await stub.m()` drives the sandbox from inside another running loop (like Jupyter)."""
    stub = sb.durable_objects.calc.get("c")

    async def cell() -> int:
        first = await stub.add(1, 1)
        return first + await stub.add(2, 2)

    assert asyncio.run(cell()) == 6


def test_unsent_call_says_how_to_send_it(sb: Sandbox) -> None:
    """The repr of an un-awaited call tells the user to await it or pass it to sb.run."""
    assert "await it, or pass it to sb.run()" in repr(sb.durable_objects.calc.get("c").add(1, 2))


def test_camel_case_aliases_on_namespace_and_sandbox(sb: Sandbox) -> None:
    """idFromName/newUniqueId/getDurableObject resolve to their snake_case members."""
    ns = sb.getDurableObject("calc")
    assert ns.idFromName("a") == ns.id_from_name("a")
    assert ns.newUniqueId().name is None
    assert sb.hasDurableObject("calc")
