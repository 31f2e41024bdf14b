"""``ctx.storage.kv``: the synchronous KV API of SQLite-backed objects.

workerd (conformance scenario kv-sync-api): get/put/delete take one key; ``list`` returns an
iterator of ``[key, value]``; ``put`` of a non-cloneable value is a DataCloneError; the async
API sees the synchronous one's writes at once and the other way round.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from dosandbox.errors import DataCloneError, StorageLimitError, ValidationError


def test_get_put_delete(inside: Any) -> None:
    """put then get, delete says whether the key existed, get of a missing key is None."""

    def body(ctx: Any) -> Any:
        kv = ctx.storage.kv
        kv.put("a", {"n": 1})
        first = kv.get("a")
        return [first, kv.get("missing"), kv.delete("a"), kv.delete("a"), kv.get("a")]

    assert inside(body) == [{"n": 1}, None, True, False, None]


def test_put_none_is_a_value(inside: Any) -> None:
    """put(k, None) stores None (the platform stores undefined); the key is listed."""

    def body(ctx: Any) -> Any:
        ctx.storage.kv.put("n", None)
        return [ctx.storage.kv.get("n"), list(ctx.storage.kv.list())]

    assert inside(body) == [None, [("n", None)]]


def test_shares_data_with_the_async_api(inside: Any) -> None:
    """Async writes are visible to kv at once and kv writes to the async API."""

    async def body(ctx: Any) -> Any:
        await ctx.storage.put("async", 1)
        ctx.storage.kv.put("sync", 2)
        return [ctx.storage.kv.get("async"), await ctx.storage.get("sync")]

    assert inside(body) == [1, 2]
    assert inside(lambda ctx: ctx.storage.list()) == {"async": 1, "sync": 2}


def test_list_is_an_iterator_with_the_options(inside: Any) -> None:
    """list() yields (key, value) in key order; prefix/start/startAfter/end/reverse/limit."""

    def body(ctx: Any) -> Any:
        kv = ctx.storage.kv
        for i, key in enumerate(["a", "b", "c", "d"]):
            kv.put(key, i)
        everything = kv.list()
        return [
            isinstance(everything, Iterator),
            list(everything),
            list(kv.list(start="b", limit=1)),
            list(kv.list(start_after="b")),
            list(kv.list({"startAfter": "a", "end": "c"})),
            list(kv.list(reverse=True, limit=2)),
            list(kv.list(prefix="c")),
        ]

    assert inside(body) == [
        True,
        [("a", 0), ("b", 1), ("c", 2), ("d", 3)],
        [("b", 1)],
        [("c", 2), ("d", 3)],
        [("b", 1)],
        [("d", 3), ("c", 2)],
        [("c", 2)],
    ]


def test_number_keys_become_their_text(inside: Any) -> None:
    """kv.put(2, v) stores key "2", as the platform coerces keys."""

    def body(ctx: Any) -> Any:
        ctx.storage.kv.put(2, "two")
        return [ctx.storage.kv.get("2"), ctx.storage.kv.delete(2)]

    assert inside(body) == ["two", True]


def test_single_keys_only(inside: Any) -> None:
    """A dict to put, a list to get/delete, or no value: a typed error naming the batch API."""
    err = inside.error(lambda ctx: ctx.storage.kv.put({"a": 1}))
    assert isinstance(err, ValidationError) and "storage.put({...})" in str(err)
    err = inside.error(lambda ctx: ctx.storage.kv.put("a"))
    assert isinstance(err, ValidationError) and "kv.put('k', v)" in str(err)
    err = inside.error(lambda ctx: ctx.storage.kv.get(["a"]))
    assert isinstance(err, ValidationError) and "storage.get([...])" in str(err)
    err = inside.error(lambda ctx: ctx.storage.kv.delete(None))
    assert isinstance(err, ValidationError) and "one key" in str(err)
    err = inside.error(lambda ctx: ctx.storage.kv.list("prefix"))
    assert isinstance(err, ValidationError)
    err = inside.error(lambda ctx: ctx.storage.kv.list(colour="red"))
    assert isinstance(err, ValidationError) and "colour" in str(err)
    assert inside(lambda ctx: list(ctx.storage.kv.list())) == []


def test_values_and_limits(inside: Any) -> None:
    """Uncloneable values, oversized keys and values are refused; earlier data is kept."""
    inside(lambda ctx: ctx.storage.kv.put("keep", 1))
    err = inside.error(lambda ctx: ctx.storage.kv.put("f", lambda: 1))
    assert isinstance(err, DataCloneError)
    err = inside.error(lambda ctx: ctx.storage.kv.put("k" * 3000, 1))
    assert isinstance(err, StorageLimitError) and "2048 bytes" in str(err)
    err = inside.error(lambda ctx: ctx.storage.kv.put("big", "x" * 200_000))
    assert isinstance(err, StorageLimitError) and "131072 bytes" in str(err)
    assert inside(lambda ctx: list(ctx.storage.kv.list())) == [("keep", 1)]


def test_rolled_back_with_a_transaction(inside: Any) -> None:
    """kv writes inside transaction_sync roll back with it."""

    def body(ctx: Any) -> Any:
        def fn() -> None:
            ctx.storage.kv.put("t", 1)
            raise RuntimeError("undo")

        with contextlib.suppress(RuntimeError):
            ctx.storage.transaction_sync(fn)
        return ctx.storage.kv.get("t")

    assert inside(body) is None
