"""Writes take effect when they are called, as a platform call starts its work at once.

workerd (conformance scenario storage-void-writes): ``void storage.put(k, v)`` followed by a
``get`` in the same event sees the value; an un-awaited ``setAlarm`` is set.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dosandbox import DurableObject, Sandbox
from dosandbox._core.done import DONE, Done
from dosandbox.errors import AlarmError, DataCloneError, TransactionError, ValidationError


def test_unawaited_put_and_delete_write(inside: Any) -> None:
    """put and delete without await still write; a later event sees it."""

    def body(ctx: Any) -> Any:
        ctx.storage.put("a", 1)
        ctx.storage.put({"b": 2, "c": 3})
        ctx.storage.delete("c")
        return "sync handler, nothing awaited"

    inside(body)
    assert inside(lambda ctx: ctx.storage.list()) == {"a": 1, "b": 2}


def test_awaiting_still_gives_the_result(inside: Any) -> None:
    """Awaiting a write gives what it always gave: None, True/False, a count."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        return [await s.put("a", 1), await s.delete("a"), await s.delete("a"),
                await s.put({"x": 1, "y": 2}), await s.delete(["x", "y", "z"]),
                await s.delete_all()]

    assert inside(body) == [None, True, False, None, 2, None]


def test_a_write_returns_a_finished_awaitable(inside: Any) -> None:
    """The returned awaitable is already done and its result is readable without await."""

    def body(ctx: Any) -> Any:
        put = ctx.storage.put("a", 1)
        deleted = ctx.storage.delete("a")
        return [put is DONE, put.done(), isinstance(deleted, Done), deleted.result()]

    assert inside(body) == [True, True, True, True]


def test_errors_raise_at_the_call_and_nothing_is_written(inside: Any) -> None:
    """A bad put or set_alarm raises where it is called, awaited or not; nothing lands."""
    err = inside.error(lambda ctx: ctx.storage.put("f", lambda: 1))
    assert isinstance(err, DataCloneError)
    err = inside.error(lambda ctx: ctx.storage.set_alarm(0))
    assert isinstance(err, AlarmError) and "alarm time <= 0" in str(err)
    err = inside.error(lambda ctx: ctx.storage.put("k"))
    assert isinstance(err, ValidationError)
    assert inside(lambda ctx: ctx.storage.list()) == {}
    assert inside(lambda ctx: ctx.storage.get_alarm()) is None


def test_unawaited_set_alarm_in_the_constructor_fires() -> None:
    """A constructor that calls set_alarm without await arms it, as on the platform."""
    runs: list[int] = []

    class Ticker(DurableObject):
        def __init__(self, ctx: Any, env: Any) -> None:
            super().__init__(ctx, env)
            ctx.storage.set_alarm(time.time() * 1000 + 5_000)

        async def ping(self) -> str:
            return "pong"

        async def alarm(self) -> None:
            runs.append(int(time.time() * 1000))

    with Sandbox() as sb:
        sb.register("ticker", Ticker)
        stub = sb.durable_objects.ticker.get_by_name("t")
        start = sb.clock.now_ms
        assert sb.run(stub.ping()) == "pong"
        assert sb.inspect(stub).alarm is not None
        sb.clock.advance(seconds=6)
        assert runs == [start + 5_000]


def test_unawaited_context_alarm_calls(inside: Any) -> None:
    """ctx.set_alarm / ctx.delete_alarm (the cloudwerk API's) also act at call time."""

    def body(ctx: Any) -> Any:
        ctx.set_alarm(time.time() * 1000 + 60_000)
        return "set"

    inside(body)
    assert inside(lambda ctx: ctx.get_alarm()) is not None
    inside(lambda ctx: [ctx.delete_alarm(), None][1])
    assert inside(lambda ctx: ctx.get_alarm()) is None


def test_wait_until_accepts_a_write(inside: Any) -> None:
    """ctx.wait_until(storage.put(...)) is fine: the write is already done."""
    inside(lambda ctx: ctx.wait_until(ctx.storage.put("w", 1)))
    assert inside(lambda ctx: ctx.storage.get("w")) == 1


def test_a_write_is_accepted_where_a_coroutine_was(inside: Any) -> None:
    """asyncio.create_task(put(...)) and gather() take the finished awaitable, as a coroutine."""

    async def body(ctx: Any) -> Any:
        task = asyncio.create_task(ctx.storage.put("t", 1))
        deleted = await asyncio.gather(ctx.storage.delete("nope"), ctx.storage.put("g", 2))
        return [await task, deleted]

    assert inside(body) == [None, [False, None]]
    assert inside(lambda ctx: ctx.storage.list()) == {"g": 2, "t": 1}


class Queued(DurableObject):
    """One event holds a transaction for a second; another writes meanwhile."""

    async def long_transaction(self) -> None:
        async def fn(txn: Any) -> None:
            await txn.put("txn", 1)
            await asyncio.sleep(1)
            raise RuntimeError("roll back")

        await self.ctx.storage.transaction(fn)

    async def put_then_read(self) -> Any:
        await asyncio.sleep(0.5)  # wakes while the transaction runs
        self.ctx.storage.put("k", "mine")  # queued behind it, not awaited
        return await self.ctx.storage.get("k")

    async def unawaited_put(self) -> bool:
        await asyncio.sleep(0.5)
        pending = self.ctx.storage.put("outside", 2)  # not awaited
        return pending.done()  # type: ignore[attr-defined]

    async def bad_put(self) -> str:
        await asyncio.sleep(0.5)
        try:
            self.ctx.storage.put("k", lambda: 1)
        except DataCloneError:
            return "raised at the call"
        return "accepted"

    async def sync_put(self) -> str:
        await asyncio.sleep(0.5)
        try:
            self.ctx.storage.kv.put("sync", 1)
        except TransactionError as exc:
            return str(exc)
        return "written"


def race(method: str) -> tuple[Any, dict[str, Any]]:
    with Sandbox(clock_mode="autojump") as sb:
        sb.register("queued", Queued)
        stub = sb.durable_objects.queued.get_by_name("q")

        async def both() -> list[Any]:
            return await asyncio.gather(getattr(stub, method)(), stub.long_transaction(),
                                        return_exceptions=True)

        result = sb.run(both())[0]
        frame = sb.inspect(stub).kv
        return result, dict(zip(frame["key"], frame["value"], strict=True))


def test_a_write_during_another_events_transaction_waits_and_still_lands() -> None:
    """A write made while another event's transaction() runs lands after it, even unawaited
    (and outside the transaction, which rolls back)."""
    assert race("unawaited_put") == (False, {"outside": 2})


def test_a_queued_write_is_read_back_by_its_own_event() -> None:
    """put (queued behind another event's transaction) then get: the get sees the put."""
    assert race("put_then_read") == ("mine", {"k": "mine"})


def test_a_queued_write_checks_its_argument_at_the_call() -> None:
    """A bad value raises at the call even when the write has to wait; nothing is written."""
    assert race("bad_put") == ("raised at the call", {})


def test_the_sync_api_refuses_to_join_another_events_transaction() -> None:
    """kv.put while another event's transaction runs is a TransactionError naming the fix."""
    result, stored = race("sync_put")
    assert "storage.transaction()" in result and "await ctx.storage" in result
    assert stored == {}
