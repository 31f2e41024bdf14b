"""The structured-clone codec: copies, round trips and DataCloneError paths."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest

from dosandbox import DataCloneError, DurableObject, Sandbox
from dosandbox._core.codec import clone, dumps, loads

ROUND_TRIP = [
    None, True, False, 0, -1, 2**100, 1.5, float("inf"), -0.0, "", "héllo 🌍", b"\x00\xff",
    bytearray(b"ab"), [1, [2, 3]], (1, "a"), {"a": 1}, {1: "int key", (1, 2): "tuple key"},
    {1, 2}, frozenset({3}), dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    dt.datetime(2026, 1, 2, 3, 4, 5), dt.date(2026, 1, 2), dt.timedelta(seconds=90),
    Decimal("1.10"), uuid.UUID(int=5), re.compile("a+", re.I), ValueError("bad"),
]


@pytest.mark.parametrize("value", ROUND_TRIP, ids=lambda v: type(v).__name__)
def test_values_round_trip_through_storage_bytes(value: object) -> None:
    """Every type with a platform counterpart survives dumps/loads with equal value and type."""
    back = loads(dumps(value))
    assert type(back) is type(value)
    if isinstance(value, BaseException):
        assert back.args == value.args
    else:
        assert back == value


@pytest.mark.parametrize("value", ROUND_TRIP, ids=lambda v: type(v).__name__)
def test_values_round_trip_through_rpc(value: object) -> None:
    """Every clonable type comes back from an RPC echo with equal value and type."""
    class Echo(DurableObject):
        def echo(self, v: object) -> object:
            return v

    sb = Sandbox()
    sb.register("echo", Echo)
    back = sb.run(sb.durable_objects.echo.get("e").echo(value))
    assert type(back) is type(value)
    if not isinstance(value, BaseException):
        assert back == value


def test_nan_survives() -> None:
    """NaN stays NaN (structured clone keeps it)."""
    back = loads(dumps(float("nan")))
    assert back != back


def test_shared_references_and_cycles_are_kept() -> None:
    """Structured clone keeps sharing and cycles within one value."""
    shared = [1]
    value: dict[str, object] = {"a": shared, "b": shared}
    value["self"] = value
    for copy in (clone(value), loads(dumps(value))):
        assert copy["a"] is copy["b"]
        assert copy["self"] is copy
        assert copy["a"] is not shared


def test_mutating_an_argument_inside_the_object_leaves_the_caller_alone() -> None:
    """Arguments are copied in: the object's mutation never reaches the caller's value."""
    class Mutator(DurableObject):
        def mutate(self, items: list[int], info: dict[str, object]) -> list[int]:
            items.append(99)
            info["touched"] = True
            return items

    sb = Sandbox()
    sb.register("m", Mutator)
    mine, info = [1, 2], {"n": 1}
    result = sb.run(sb.durable_objects.m.get("x").mutate(mine, info))
    assert mine == [1, 2] and info == {"n": 1}
    assert result == [1, 2, 99]
    assert result is not mine


def test_results_are_copied_out() -> None:
    """A returned object is a copy: mutating it does not change the object's state."""
    class Holder(DurableObject):
        def __init__(self, ctx: object, env: object) -> None:
            super().__init__(ctx, env)  # type: ignore[arg-type]
            self.items = [1]

        def items_list(self) -> list[int]:
            return self.items

    sb = Sandbox()
    sb.register("h", Holder)
    stub = sb.durable_objects.h.get("x")
    sb.run(stub.items_list()).append(2)
    assert sb.run(stub.items_list()) == [1]


def test_lambda_argument_names_its_path() -> None:
    """A function nested in an argument fails with DataCloneError naming args[1]['user'].conn."""
    with pytest.raises(DataCloneError) as info:
        clone(("x", {"user": {"conn": lambda: 1}}), path="args")
    assert "args[1]['user']['conn']" in str(info.value)
    assert info.value.code == "DATA_CLONE_ERROR"
    assert isinstance(info.value, TypeError)


def test_dataclass_is_refused_over_rpc_but_stored_as_plain_dict() -> None:
    """RPC refuses class instances (platform: only RpcTarget); storage keeps them as dicts."""
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    with pytest.raises(DataCloneError, match="asdict"):
        clone(Point(1, 2))
    assert loads(dumps(Point(1, 2))) == {"x": 1, "y": 2}


def test_rpc_with_open_file_fails_and_sandbox_keeps_working(tmp_path) -> None:
    """Passing an open file is a DataCloneError; the next call works (a lambda crosses as a
    stub, as functions do on the platform: tests/rpc)."""
    class Echo(DurableObject):
        def echo(self, v: object) -> object:
            return v

    sb = Sandbox()
    sb.register("echo", Echo)
    stub = sb.durable_objects.echo.get("e")
    with pytest.raises(DataCloneError, match=r"args\[0\]"):
        sb.run(stub.echo(object()))
    with open(tmp_path / "f.txt", "w") as handle, pytest.raises(
        DataCloneError, match="TextIOWrapper"
    ):
        sb.run(stub.echo(handle))
    assert sb.run(stub.echo([1])) == [1]


def test_unclonable_result_is_a_data_clone_error() -> None:
    """A method returning a plain class instance fails at the boundary with a DataCloneError
    naming RpcTarget (a function would cross as a stub, as on the platform)."""
    class Leaky(DurableObject):
        def leak(self) -> object:
            return object()

    sb = Sandbox()
    sb.register("leaky", Leaky)
    with pytest.raises(DataCloneError, match=r"leak\(\) result"):
        sb.run(sb.durable_objects.leaky.get("x").leak())


def test_stubs_are_refused_over_rpc_as_in_workerd() -> None:
    """A stub as an argument is a DataCloneError naming "DurableObject" and the fix (workerd)."""
    class Caller(DurableObject):
        async def call_other(self, other: object) -> object:
            return await other.ping()  # type: ignore[attr-defined]

    class Pinger(DurableObject):
        def ping(self) -> str:
            return "pong"

    sb = Sandbox()
    sb.register("caller", Caller)
    sb.register("pinger", Pinger)
    other = sb.durable_objects.pinger.get("p")
    with pytest.raises(DataCloneError, match=r'object of type "DurableObject".*str\(stub.id\)'):
        sb.durable_objects.caller.get("c").call_other(other)
    assert sb.run(other.ping()) == "pong"
