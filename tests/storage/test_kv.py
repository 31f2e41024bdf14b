"""The KV API on ctx.storage: values, batches, list semantics, events, options."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

KEYS_BY_CODEPOINT = ["a", "z", "\u00e9", "\u0800", "\ue000", "\uffff", "\U00010000", "\U0001f600"]


def test_put_get_delete_single(inside: Any) -> None:
    """put stores a value, get returns it, delete reports whether the key existed."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        await s.put("count", 41)
        await s.put("count", 42)
        got = await s.get("count")
        missing = await s.get("nope")
        deleted = [await s.delete("count"), await s.delete("count")]
        return [got, missing, *deleted, await s.get("count")]

    assert inside(body) == [42, None, True, False, None]


def test_values_round_trip_through_the_codec(inside: Any) -> None:
    """Rich values (bytes, datetime, Decimal, tuples, sets, nested, big ints) round-trip."""
    value = {
        "bytes": b"\x00\xff",
        "when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "price": Decimal("9.99"),
        "pair": (1, 2),
        "tags": {"x", "y"},
        "nested": {"list": [1, [2, {"deep": None}]], 3: "int key"},
        "big": 2**100,
        "float": 1.5,
        "nan_free": float("inf"),
    }

    async def body(ctx: Any) -> Any:
        await ctx.storage.put("v", value)
        return await ctx.storage.get("v") == value

    assert inside(body) is True


def test_get_returns_a_fresh_copy_every_time(inside: Any) -> None:
    """Mutating what get() returned changes neither storage nor the next get()."""

    async def body(ctx: Any) -> Any:
        original = {"items": [1]}
        await ctx.storage.put("k", original)
        original["items"].append("after put")
        first = await ctx.storage.get("k")
        first["items"].append("mutated")
        second = await ctx.storage.get("k")
        return [first is second, second]

    assert inside(body) == [False, {"items": [1]}]


def test_dataclass_is_stored_as_a_plain_dict(inside: Any) -> None:
    """Class instances are stored as plain objects, as the platform drops the prototype."""

    @dataclasses.dataclass
    class User:
        name: str
        age: int

    async def body(ctx: Any) -> Any:
        await ctx.storage.put("u", User("ann", 30))
        return await ctx.storage.get("u")

    assert inside(body) == {"name": "ann", "age": 30}


def test_put_none_stores_none(inside: Any) -> None:
    """None is a value (JS null); the key exists and delete() says it existed."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        await s.put("a", None)
        await s.put({"b": None})
        return [await s.list(), await s.delete("a"), await s.delete("a")]

    assert inside(body) == [{"a": None, "b": None}, True, False]


def test_batch_get_returns_found_keys_in_key_order(inside: Any) -> None:
    """get([...]) returns a dict of the found keys only, sorted, duplicates collapsed."""

    async def body(ctx: Any) -> Any:
        await ctx.storage.put({"b": 2, "a": 1, "c": 3})
        got = await ctx.storage.get(["c", "zz", "a", "a"])
        return list(got.items())

    assert inside(body) == [("a", 1), ("c", 3)]


def test_batch_put_and_delete(inside: Any) -> None:
    """put({...}) writes every pair; delete([...]) returns how many keys existed."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        await s.put({f"k{i}": i for i in range(128)})
        deleted = await s.delete(["k0", "k1", "k1", "missing"])
        return [deleted, len(await s.list()), await s.delete([]), await s.get([])]

    assert inside(body) == [2, 126, 0, {}]


def test_list_orders_by_utf8_bytes(inside: Any) -> None:
    """Keys list in UTF-8 byte (code point) order, also across the BMP boundary (oracle)."""

    async def body(ctx: Any) -> Any:
        await ctx.storage.put({k: k for k in reversed(KEYS_BY_CODEPOINT)})
        return [list(await ctx.storage.list()), list(await ctx.storage.list(reverse=True))]

    forward, backward = inside(body)
    assert forward == KEYS_BY_CODEPOINT
    assert backward == KEYS_BY_CODEPOINT[::-1]


def test_keys_with_nul_and_control_characters(inside: Any) -> None:
    """NUL and control characters sort by their byte value (workerd oracle order-nul)."""
    keys = ["a", "a\x00", "a\x00b", "a\x01", "a\t", "b"]

    async def body(ctx: Any) -> Any:
        await ctx.storage.put({k: 1 for k in reversed(keys)})
        s = ctx.storage
        return [
            list(await s.list()),
            list(await s.list(start_after="a")),
            list(await s.list(prefix="a\x00")),
        ]

    all_keys, after_a, prefixed = inside(body)
    assert all_keys == keys
    assert after_a == keys[1:]
    assert prefixed == ["a\x00", "a\x00b"]


def test_list_range_options(inside: Any) -> None:
    """start is inclusive, start_after and end exclusive; prefix intersects the range."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        await s.put({k: 0 for k in ["a", "b", "ba", "bb", "bc", "c", "d"]})
        return [
            list(await s.list(start="b")),
            list(await s.list(start_after="b")),
            list(await s.list(startAfter="b", end="c")),
            list(await s.list(end="b")),
            list(await s.list(prefix="b", start="bb")),
            list(await s.list(prefix="b", end="bb")),
            list(await s.list(prefix="b", start="a", end="z")),
            list(await s.list(prefix="")),
        ]

    assert inside(body) == [
        ["b", "ba", "bb", "bc", "c", "d"],
        ["ba", "bb", "bc", "c", "d"],
        ["ba", "bb", "bc"],
        ["a"],
        ["bb", "bc"],
        ["b", "ba"],
        ["b", "ba", "bb", "bc"],
        ["a", "b", "ba", "bb", "bc", "c", "d"],
    ]


def test_list_reverse_keeps_start_end_and_limit_takes_the_largest(inside: Any) -> None:
    """reverse only flips the order; reverse + limit N gives the N largest keys in range."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        await s.put({k: 0 for k in "abcdef"})
        return [
            list(await s.list(limit=2)),
            list(await s.list(reverse=True, limit=2)),
            list(await s.list(start="b", end="e", reverse=True)),
            list(await s.list(start="b", end="e", reverse=True, limit=1)),
        ]

    assert inside(body) == [["a", "b"], ["f", "e"], ["d", "c", "b"], ["d"]]


def test_list_empty_ranges_are_empty_not_errors(inside: Any) -> None:
    """end <= start, a prefix outside [start, end), or no match give an empty dict."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        await s.put({k: 0 for k in "abc"})
        return [
            await s.list(start="c", end="a"),
            await s.list(start="b", end="b"),
            await s.list(prefix="b", start="c"),
            await s.list(prefix="zz"),
        ]

    assert inside(body) == [{}, {}, {}, {}]


def test_prefix_ending_in_the_last_code_point(inside: Any) -> None:
    """A prefix ending in U+10FFFF still selects exactly the keys that start with it."""
    top = "\U0010ffff"

    async def body(ctx: Any) -> Any:
        keys = ["a", "a" + top, "a" + top + "x", "a" + top + top, "b"]
        await ctx.storage.put({k: 0 for k in keys})
        return list(await ctx.storage.list(prefix="a" + top))

    assert inside(body) == ["a" + "\U0010ffff", "a\U0010ffffx", "a\U0010ffff\U0010ffff"]


def test_empty_key_is_a_key(inside: Any) -> None:
    """The empty string is a valid key and sorts first (workerd oracle order-empty-key)."""

    async def body(ctx: Any) -> Any:
        await ctx.storage.put({"a": 1, "": "empty"})
        return [await ctx.storage.get(""), list(await ctx.storage.list())]

    assert inside(body) == ["empty", ["", "a"]]


def test_platform_options_are_accepted(inside: Any) -> None:
    """allowConcurrency/noCache/allowUnconfirmed are accepted as hints (either spelling)."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        await s.put("a", 1, allow_unconfirmed=True, noCache=True)
        await s.delete("zz", allowUnconfirmed=True)
        return [await s.get("a", allowConcurrency=True), await s.list(no_cache=True)]

    assert inside(body) == [1, {"a": 1}]


def test_camel_case_methods_resolve(inside: Any) -> None:
    """deleteAll and transactionSync work through the alias table."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        await s.put("a", 1)
        s.transactionSync(lambda: None)
        await s.deleteAll()
        return await s.list()

    assert inside(body) == {}


def test_each_write_call_is_one_event_and_reads_are_none(inside: Any) -> None:
    """The event log gets one entry per write call (a batch is one), none for reads."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        await s.put("a", 1)
        await s.put({"b": 2, "c": 3})
        await s.get("a")
        await s.list()
        await s.delete(["b", "c"])

    inside(body)
    events = inside.sb.events()
    kinds = [k for k in events["kind"] if k.startswith("kv.")]
    assert kinds == ["kv.put", "kv.put", "kv.delete"]
    messages = list(events[events["kind"] == "kv.put"]["message"])
    assert messages == ["put 'a'", "put 2 keys: 'b', 'c'"]


def test_storage_calls_never_suspend(inside: Any) -> None:
    """Every storage awaitable finishes on its first step: awaiting it lets nothing else in."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        steps = []
        for call in (s.put("a", 1), s.get("a"), s.list(), s.delete("a"), s.sync()):
            coro = call.__await__()
            try:
                coro.send(None)
            except StopIteration:
                steps.append("done")
            else:  # pragma: no cover - would mean the call suspended
                steps.append("suspended")
                coro.close()
        return steps

    assert inside(body) == ["done"] * 5


def test_storage_is_per_object(inside: Any) -> None:
    """Two objects of one namespace have separate databases."""

    async def write(ctx: Any) -> None:
        await ctx.storage.put("mine", str(ctx.id))

    async def read(ctx: Any) -> Any:
        return await ctx.storage.list()

    inside(write, name="one")
    assert inside(read, name="two") == {}
    assert list(inside(read, name="one")) == ["mine"]


def test_list_takes_a_dict_of_options_as_ported_code_does(inside: Any) -> None:
    """list({"prefix": ..., "startAfter": ...}) works like the keyword form."""

    async def body(ctx: Any) -> Any:
        await ctx.storage.put({k: 0 for k in ["u:1", "u:2", "u:3", "v"]})
        return [
            list(await ctx.storage.list({"prefix": "u:", "startAfter": "u:1"})),
            list(await ctx.storage.list({"prefix": "u:"}, reverse=True, limit=1)),
        ]

    assert inside(body) == [["u:2", "u:3"], ["u:3"]]
