"""Values that could not come back are refused going in, as DataCloneErrors naming the path.

Frozen dataclasses as dict keys or set items, nesting beyond MAX_DEPTH, and everything else the
codec cannot write; ints of any size round-trip (as JS BigInts do).
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest

from dosandbox import DataCloneError, DurableObject, DurableObjectMethodError, Sandbox
from dosandbox._core.codec import MAX_DEPTH, clone, dumps, loads
from dosandbox._core.fastcodec import decode_value, encode_value


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Keeper(DurableObject):
    async def put(self, key: str, value: Any) -> None:
        await self.ctx.storage.put(key, value)

    async def put_made(self, key: str, kind: str) -> None:
        # Values made inside the object (RPC would refuse a dataclass before storage sees it).
        made: dict[str, Any] = {
            "dict key": {Point(1, 2): "p"},
            "set item": {Point(1, 2)},
            "frozenset item": frozenset({Point(1, 2)}),
            "tuple key": {(1, Point(1, 2)): "p"},
            "object": {"when": object()},
        }
        await self.ctx.storage.put(key, made[kind])

    async def put_nested(self, key: str, depth: int) -> None:
        await self.ctx.storage.put(key, nested(depth))

    async def get(self, key: str) -> Any:
        return await self.ctx.storage.get(key)

    async def keys(self) -> list[str]:
        return list(await self.ctx.storage.list())

    def echo(self, value: Any) -> Any:
        return value


def nested(depth: int) -> list[Any]:
    """A list ``depth`` containers deep (the outermost counts one)."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.fixture
def keeper() -> Iterator[Any]:
    with Sandbox(seed=0) as sb:
        sb.register("keeper", Keeper)
        yield sb, sb.durable_objects.keeper.get("k")


def stored_error(sb: Sandbox, call: Any) -> BaseException:
    """The error raised inside the object by ``call``."""
    with pytest.raises(DurableObjectMethodError) as info:
        sb.run(call)
    assert info.value.__cause__ is not None
    return info.value.__cause__


@pytest.mark.parametrize("kind", ["dict key", "set item", "frozenset item", "tuple key"])
def test_a_dataclass_as_key_or_set_item_is_refused_at_put(keeper: Any, kind: str) -> None:
    """It would come back as an unhashable dict: refused at put, naming the path and the fix."""
    sb, stub = keeper
    sb.run(stub.put("before", 1))
    err = stored_error(sb, stub.put_made("bad", kind))
    assert isinstance(err, DataCloneError)
    assert "put()['bad']" in err.message and "Point" in err.message
    assert "dataclasses.astuple(key)" in err.message
    # Nothing stored, and get/list keep working (they failed forever before).
    assert sb.run(stub.get("bad")) is None
    assert sb.run(stub.keys()) == ["before"]
    assert sb.inspect(stub).kv["key"].tolist() == ["before"]


def test_nesting_up_to_max_depth_round_trips_and_deeper_is_refused(keeper: Any) -> None:
    """MAX_DEPTH levels store and come back; one more is a DataCloneError, not RecursionError."""
    sb, stub = keeper
    ok = nested(MAX_DEPTH)
    sb.run(stub.put("deep", ok))
    assert sb.run(stub.get("deep")) == ok
    assert sb.run(stub.echo(ok)) == ok
    with pytest.raises(DataCloneError, match=f"nested more than {MAX_DEPTH} levels") as info:
        stub.echo(nested(MAX_DEPTH + 1))  # refused when the call is made, as RPC copies then
    assert info.value.details["path"].startswith("args[0][0][0]")
    err = stored_error(sb, stub.put_nested("deeper", MAX_DEPTH + 1))
    assert isinstance(err, DataCloneError) and "Flatten it" in err.message
    assert sb.run(stub.keys()) == ["deep"]


def test_a_very_deep_value_is_refused_whatever_the_stack() -> None:
    """10,000 levels (past Python's recursion limit) is the same DataCloneError."""
    with pytest.raises(DataCloneError, match="nested more than"):
        dumps(nested(10_000))
    with pytest.raises(DataCloneError, match="nested more than"):
        clone({"k": nested(10_000)})
    deep_key: tuple[Any, ...] = ()
    for _ in range(5_000):
        deep_key = (deep_key,)
    with pytest.raises(DataCloneError, match="nested more than"):
        dumps({deep_key: 1})


HUGE = [10**5000, -(10**5000), 2**1993, 2**1994, 10**600, -(2**70_000)]


@pytest.mark.parametrize("number", HUGE, ids=lambda n: f"{n.bit_length()}bits")
def test_ints_of_any_size_round_trip(keeper: Any, number: int) -> None:
    """Ints past Python's int/str digit limit are stored and come back (JS BigInt has no bound)."""
    sb, stub = keeper
    value = {"n": number, "in": [number], "as key": {number: 1}, "frac": Fraction(number, 7)}
    sb.run(stub.put("big", value))
    assert sb.run(stub.get("big")) == value
    assert sb.run(stub.echo(value)) == value
    assert loads(dumps(number)) == number


def test_big_ints_do_not_depend_on_the_int_digit_setting() -> None:
    """What is stored reads back under any sys.set_int_max_str_digits (640 is the floor)."""
    before = sys.get_int_max_str_digits()
    try:
        sys.set_int_max_str_digits(0)  # unlimited while writing
        data = dumps({"a": 10**3000, "b": [10**700]})
        fast = encode_value({"a": 10**3000})
        sys.set_int_max_str_digits(640)  # the strictest while reading
        assert loads(data) == {"a": 10**3000, "b": [10**700]}
        assert decode_value(data) == loads(data)
        assert fast is None  # the fast path leaves such values to dumps
        assert encode_value({"a": 10**620}) is None
    finally:
        sys.set_int_max_str_digits(before)


@pytest.mark.parametrize(
    "value",
    [{"n": 2**1993}, [2**1993 - 1, 5], {"n": 2**1994}, [-(2**1994)], {"s": "1" * 700, "n": 3}],
    ids=["edge", "edge-1", "over", "negative", "digits in a str"],
)
def test_the_fast_encoder_matches_dumps_around_the_big_int_bound(value: Any) -> None:
    """Byte-identical to dumps or declined, on both sides of the plain-int bound."""
    fast = encode_value(value)
    assert fast is None or fast == dumps(value)
    assert decode_value(dumps(value)) == value


def test_other_values_the_codec_cannot_write_are_data_clone_errors(keeper: Any) -> None:
    """A bytes regex: a DataCloneError naming the path and the fix (it was a TypeError)."""
    sb, stub = keeper
    with pytest.raises(DataCloneError, match=r"value\['re'\].*str pattern"):
        dumps({"re": re.compile(b"x+")})
    assert loads(dumps(re.compile("x+"))) == re.compile("x+")
    err = stored_error(sb, stub.put_made("x", "object"))
    assert isinstance(err, DataCloneError) and "put()['x']['when']" in err.message
    assert sb.run(stub.keys()) == []


def test_a_huge_int_in_a_path_is_shown_short() -> None:
    """A refused value under a huge-int key names it by size (its repr would raise)."""
    with pytest.raises(DataCloneError) as info:
        dumps({10**5000: object()})
    assert "<int of 16610 bits>" in info.value.message
    with pytest.raises(DataCloneError, match="int of 16610 bits"):
        clone({10**5000: object()})
