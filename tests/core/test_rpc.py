"""Stubs and RPC: what a stub exposes, error wrapping, not-found errors, env bindings, what
workerd refuses (stubs, ids, 32 MiB), properties, locationHint."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dosandbox import (
    DataCloneError,
    DurableObject,
    DurableObjectMethodError,
    DurableObjectNotFoundError,
    MethodNotFoundError,
    Sandbox,
)
from dosandbox.bindings import durable_objects, get_durable_object, has_durable_object
from dosandbox.errors import ValidationError


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


def test_a_closed_sandbox_stops_being_the_active_one() -> None:
    """After close the bindings proxy names the problem instead of keeping the closed
    sandbox (and everything it held) alive."""
    import gc
    import weakref

    sb = Sandbox()
    sb.register("calc", Calc)
    assert has_durable_object("calc")
    ref = weakref.ref(sb.world)
    sb.close()
    with pytest.raises(DurableObjectNotFoundError, match="No sandbox is active"):
        durable_objects.calc  # noqa: B018
    del sb
    gc.collect()
    assert ref() is None


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


# --- what workerd refuses, and the 32 MiB limit ------------------------------------------------

MIB = 1024 * 1024


class Porter(DurableObject):
    """Passes things across RPC."""

    def take(self, value: object) -> str:
        return type(value).__name__

    def own_stub(self) -> object:
        return self.env.PORTER.get("other")

    def own_id(self) -> object:
        return self.ctx.id

    def blob(self, n: int) -> bytes:
        return b"\0" * n

    @property
    def label(self) -> str:
        return f"porter {self.ctx.id.name}"

    @property
    def broken(self) -> str:
        raise KeyError("no label")

    def __init__(self, ctx: object, env: object) -> None:
        super().__init__(ctx, env)  # type: ignore[arg-type]
        self.field = "set in __init__"


@pytest.fixture
def porter() -> Any:
    sb = Sandbox(seed=0)
    sb.register("porter", Porter)
    yield sb
    sb.close()


def test_a_stub_an_id_or_a_namespace_is_refused_as_an_argument(porter: Sandbox) -> None:
    """workerd's DataCloneError: 'Could not serialize object of type "DurableObject"' (and
    "DurableObjectId", "DurableObjectNamespace"), with the fix; the stub keeps working."""
    ns = porter.durable_objects.porter
    stub = ns.get("p")
    cases = [
        (ns.get("x"), "DurableObject", "str(stub.id)"),
        ({"nested": ns.get("x")}, "DurableObject", "str(stub.id)"),
        (ns.id_from_name("x"), "DurableObjectId", "id_from_string"),
        (ns, "DurableObjectNamespace", "env.<BINDING>"),
    ]
    for value, js_name, fix in cases:
        with pytest.raises(DataCloneError) as info:
            stub.take(value)
        assert f'Could not serialize object of type "{js_name}". This type does not support ' \
            "serialization." in str(info.value)
        assert fix in str(info.value)
    assert porter.run(stub.take(str(ns.id_from_name("x")))) == "str"


def test_a_stub_or_an_id_is_refused_as_a_result(porter: Sandbox) -> None:
    """Returning a stub or an id fails at the boundary, as in workerd; the object keeps serving."""
    stub = porter.durable_objects.porter.get("p")
    with pytest.raises(DataCloneError, match='"DurableObject"'):
        porter.run(stub.own_stub())
    with pytest.raises(DataCloneError, match='"DurableObjectId"'):
        porter.run(stub.own_id())
    assert porter.run(stub.take(1)) == "int"


def test_arguments_over_32_mib_are_refused_with_workerds_message(porter: Sandbox) -> None:
    """An argument past 32 MiB: workerd's text, the size, and the fix; under it passes."""
    stub = porter.durable_objects.porter.get("p")
    assert porter.run(stub.take(b"\0" * (32 * MIB - 100))) == "bytes"
    with pytest.raises(DataCloneError) as info:
        stub.take(b"\0" * (32 * MIB + 1))
    message = str(info.value)
    assert "Serialized RPC arguments or return values are limited to 32MiB, but the size of " \
        "this value was: " in message
    assert "Split the data" in message and not info.value.remote
    with pytest.raises(DataCloneError, match="limited to 32MiB"):
        stub.take({"text": "x" * (32 * MIB)})
    assert porter.run(stub.take(1)) == "int"


def test_a_result_over_32_mib_is_refused_and_marked_remote(porter: Sandbox) -> None:
    """workerd marks the result-size error remote; the object keeps serving."""
    stub = porter.durable_objects.porter.get("p")
    assert len(porter.run(stub.blob(32 * MIB - 100))) == 32 * MIB - 100
    with pytest.raises(DataCloneError, match="limited to 32MiB") as info:
        porter.run(stub.blob(32 * MIB + 1))
    assert info.value.remote and "result of blob()" in str(info.value)
    assert porter.run(stub.take(1)) == "int"


def test_the_rpc_limit_follows_limits() -> None:
    """Limits(max_rpc_bytes=...) lowers the limit (and the message says so)."""
    from dosandbox import Limits

    with Sandbox(seed=0, limits=Limits(max_rpc_bytes=1024)) as sb:
        stub = sb.register("porter", Porter).get("p")
        with pytest.raises(DataCloneError, match="limited to 1024 bytes"):
            stub.take("x" * 2000)
        assert sb.run(stub.take("x" * 100)) == "str"


# --- properties over RPC -----------------------------------------------------------------------


def test_await_stub_property_reads_a_getter(porter: Sandbox) -> None:
    """`await stub.prop` reads a getter of the class over RPC; dir(stub) lists it."""
    stub = porter.durable_objects.porter.get("p")
    assert porter.run(stub.label) == "porter p"
    assert "label" in dir(stub)

    async def cell() -> str:
        return await stub.label  # type: ignore[no-any-return]

    assert asyncio.run(cell()) == "porter p"


def test_instance_attributes_are_not_reachable_as_in_workerd(porter: Sandbox) -> None:
    """A field set in __init__ is not over RPC: workerd's 'does not implement' message, remote."""
    stub = porter.durable_objects.porter.get("p")
    with pytest.raises(MethodNotFoundError) as info:
        stub.field  # noqa: B018
    assert 'The RPC receiver does not implement the method "field".' in str(info.value)
    assert "@property" in str(info.value) and info.value.remote
    with pytest.raises(MethodNotFoundError, match='"nope"'):
        stub.nope  # noqa: B018
    assert porter.run(stub.label) == "porter p"


def test_calling_a_property_or_awaiting_a_method_is_refused(porter: Sandbox) -> None:
    """stub.label() is workerd's '"label" is not a function.'; await stub.take says call it."""
    stub = porter.durable_objects.porter.get("p")
    with pytest.raises(MethodNotFoundError, match='"label" is not a function'):
        stub.label()
    with pytest.raises(ValidationError, match="call it"):
        porter.run(stub.take)  # type: ignore[arg-type]
    with pytest.raises(DurableObjectMethodError, match="KeyError") as info:
        porter.run(stub.broken)
    assert info.value.method_name == "broken"
    assert porter.run(stub.label) == "porter p"


# --- locationHint --------------------------------------------------------------------------------


def test_location_hint_is_accepted_and_ignored_in_every_form(porter: Sandbox) -> None:
    """Keyword (snake or camel) and options-dict forms all reach the same object (workerd)."""
    ns = porter.durable_objects.porter
    object_id = ns.id_from_name("h")
    stubs = [
        ns.get(object_id, locationHint="weur"),
        ns.get(object_id, {"locationHint": "weur"}),
        ns.get("h", location_hint="enam"),
        ns.get_by_name("h", {"locationHint": "xyz"}),  # workerd accepts any value
        ns.get_by_id(object_id, locationHint=123),
        ns.getByName("h", {"locationHint": "apac", "other": 1}),
    ]
    assert {porter.run(s.label) for s in stubs} == {"porter h"}
    assert {str(s.id) for s in stubs} == {str(object_id)}


def test_bad_get_options_are_refused(porter: Sandbox) -> None:
    """Options that are not a dict give workerd's TypeError text; unknown keywords are named."""
    ns = porter.durable_objects.porter
    with pytest.raises(ValidationError, match="is not of type 'GetDurableObjectOptions'"):
        ns.get("h", "weur")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"unexpected option.*hint"):
        ns.get_by_name("h", hint="weur")
    assert porter.run(ns.get("h").label) == "porter h"
