"""storage.transaction / transaction_sync: atomic KV + SQL, rollback, nesting, the input gate."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dosandbox import DurableObject, Sandbox
from dosandbox.errors import TransactionError


async def setup(ctx: Any) -> None:
    await ctx.storage.put("balance", 100)
    ctx.sql.exec("CREATE TABLE IF NOT EXISTS log (what TEXT)")


async def state(ctx: Any) -> Any:
    return [
        await ctx.storage.list(),
        [r["what"] for r in ctx.sql.exec("SELECT what FROM log ORDER BY rowid")],
    ]


def test_transaction_commits_kv_and_sql_and_returns_the_result(inside: Any) -> None:
    """The function's writes (KV and SQL) commit together; its result is returned."""

    async def body(ctx: Any) -> Any:
        async def move(txn: Any) -> str:
            balance = await txn.get("balance")
            await txn.put("balance", balance - 30)
            ctx.sql.exec("INSERT INTO log VALUES ('moved 30')")
            return "ok"

        return await ctx.storage.transaction(move)

    inside(setup)
    assert inside(body) == "ok"
    assert inside(state) == [{"balance": 70}, ["moved 30"]]


def test_raise_rolls_back_kv_and_sql_and_reraises_without_reset(inside: Any) -> None:
    """A raise undoes KV and SQL writes, reaches the caller as itself, keeps the instance."""

    async def body(ctx: Any) -> Any:
        ctx.state = "in-memory"

        async def fail(txn: Any) -> None:
            await ctx.storage.put("balance", 0)
            await ctx.storage.put("new", 1)
            ctx.sql.exec("INSERT INTO log VALUES ('should vanish')")
            raise KeyError("insufficient funds")

        try:
            await ctx.storage.transaction(fail)
        except KeyError as exc:
            return ["caught", str(exc)]

    inside(setup)
    generation = inside.handle()._record.generation
    assert inside(body) == ["caught", "'insufficient funds'"]
    assert inside(state) == [{"balance": 100}, []]
    assert inside.handle().state == "in-memory"
    assert inside.handle()._record.generation == generation
    assert "kv.rollback" in list(inside.sb.events()["kind"])


def test_sync_and_argumentless_functions(inside: Any) -> None:
    """fn may be a plain def, and may take no argument (the seed's examples)."""

    async def body(ctx: Any) -> Any:
        def plain(txn: Any) -> int:
            ctx.sql.exec("INSERT INTO log VALUES ('plain')")
            return 1

        async def no_arg() -> int:
            await ctx.storage.put("x", 2)
            return 2

        return [await ctx.storage.transaction(plain), await ctx.storage.transaction(no_arg)]

    inside(setup)
    assert inside(body) == [1, 2]
    assert inside(state) == [{"balance": 100, "x": 2}, ["plain"]]


def test_nested_transactions(inside: Any) -> None:
    """An inner raise caught by the outer function undoes only the inner writes."""

    async def body(ctx: Any) -> Any:
        async def outer(txn: Any) -> None:
            await txn.put("outer", 1)

            async def inner(txn2: Any) -> None:
                await txn2.put("inner", 1)
                raise ValueError("inner fails")

            with pytest.raises(ValueError):
                await ctx.storage.transaction(inner)
            await txn.put("after", 1)

        await ctx.storage.transaction(outer)

    inside(setup)
    inside(body)
    assert inside(state)[0] == {"after": 1, "balance": 100, "outer": 1}


def test_inner_raise_escaping_both_rolls_back_all(inside: Any) -> None:
    """An uncaught inner raise rolls back the outer transaction too (oracle txn-nested)."""

    async def body(ctx: Any) -> None:
        async def outer(txn: Any) -> None:
            await txn.put("a", 1)
            await ctx.storage.transaction(lambda t: (_ for _ in ()).throw(RuntimeError("x")))

        await ctx.storage.transaction(outer)

    inside(setup)
    err = inside.error(body)
    assert isinstance(err, RuntimeError)
    assert inside(state) == [{"balance": 100}, []]


def test_txn_rollback_then_use(inside: Any) -> None:
    """txn.rollback() undoes the writes so far; later txn calls fail with the platform's text."""

    async def body(ctx: Any) -> Any:
        async def fn(txn: Any) -> Any:
            await txn.put("balance", 1)
            txn.rollback()
            txn.rollback()  # may be called repeatedly
            try:
                await txn.put("balance", 2)
            except TransactionError as exc:
                return exc.message

        return await ctx.storage.transaction(fn)

    inside(setup)
    message = inside(body)
    assert message.startswith("Cannot put on rolled back transaction")  # the platform's text
    assert "start a new storage.transaction()" in message  # and the fix
    assert inside(state) == [{"balance": 100}, []]


def test_txn_used_after_the_closure(inside: Any) -> None:
    """A txn kept past its function fails with the platform's 'already committed' text."""

    async def body(ctx: Any) -> Any:
        kept = []
        await ctx.storage.transaction(lambda txn: kept.append(txn))
        await kept[0].get("balance")

    inside(setup)
    err = inside.error(body)
    assert isinstance(err, TransactionError)
    assert "already committed: did you move `txn` outside of the closure?" in str(err)


def test_delete_all_inside_a_transaction(inside: Any) -> None:
    """delete_all() in a transaction fails (platform text) and rolls the transaction back."""

    async def body(ctx: Any) -> None:
        async def fn(txn: Any) -> None:
            await txn.put("balance", 5)
            await ctx.storage.delete_all()

        await ctx.storage.transaction(fn)

    inside(setup)
    err = inside.error(body)
    assert isinstance(err, TransactionError)
    assert "Cannot call deleteAll() within a transaction" in str(err)
    assert inside(state) == [{"balance": 100}, []]


def test_transaction_sync(inside: Any) -> None:
    """transaction_sync commits, rolls back on raise, nests, and refuses async callbacks."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage

        def ok() -> int:
            ctx.sql.exec("INSERT INTO log VALUES ('sync')")
            return s.transaction_sync(lambda: 41) + 1

        def fail() -> None:
            ctx.sql.exec("INSERT INTO log VALUES ('undone')")
            raise LookupError("nope")

        async def not_sync() -> None:
            ctx.sql.exec("INSERT INTO log VALUES ('undone too')")

        out: list[Any] = [s.transaction_sync(ok)]
        for fn in (fail, not_sync):
            try:
                s.transaction_sync(fn)
            except (LookupError, TransactionError) as exc:
                out.append(type(exc).__name__)
        return out

    inside(setup)
    assert inside(body) == [42, "LookupError", "TransactionError"]
    assert inside(state) == [{"balance": 100}, ["sync"]]


def test_delete_all_wipes_kv_and_sql_atomically(inside: Any) -> None:
    """delete_all() removes every key, table, view and trigger; the object keeps working."""

    async def body(ctx: Any) -> Any:
        ctx.sql.exec(
            "CREATE TABLE p (id INTEGER PRIMARY KEY AUTOINCREMENT); "
            "CREATE TABLE c (pid REFERENCES p(id)); INSERT INTO p DEFAULT VALUES; "
            "INSERT INTO c VALUES (1); CREATE VIEW v AS SELECT * FROM p; "
            "CREATE INDEX ci ON c(pid); CREATE VIRTUAL TABLE f USING fts5(x);"
        )
        await ctx.storage.delete_all()
        names = ctx.sql.exec(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' "
            "AND name != 'sqlite_sequence'"  # SQLite's own, emptied; it cannot be dropped
        ).to_list()
        await ctx.storage.put("fresh", 1)
        return [names, await ctx.storage.list()]

    inside(setup)
    assert inside(body) == [[], {"fresh": 1}]


# --- the input gate ---------------------------------------------------------------------------


class Bank(DurableObject):
    async def slow_transfer(self, log: list[str]) -> None:
        async def fn(txn: Any) -> None:
            await txn.put("balance", 50)
            await asyncio.sleep(1)  # not storage: the gate would open here without the txn
            await txn.put("balance", 60)

        await self.ctx.storage.transaction(fn)

    async def read(self) -> Any:
        return await self.ctx.storage.get("balance")

    async def failing_transfer(self) -> None:
        async def fn(txn: Any) -> None:
            await txn.put("balance", -1)
            await asyncio.sleep(1)
            raise RuntimeError("abort transfer")

        await self.ctx.storage.transaction(fn)


def test_other_events_wait_while_a_transaction_runs() -> None:
    """An event arriving while a transaction awaits a timer runs only after it ends."""
    sb = Sandbox(seed=0, clock_mode="autojump")
    try:
        sb.register("bank", Bank)
        stub = sb.durable_objects.bank.get("b")

        async def both() -> Any:
            first = asyncio.ensure_future(stub.slow_transfer([]))
            await asyncio.sleep(0)  # let the transaction start
            second = await stub.read()
            await first
            return second

        assert sb.run(both()) == 60  # never the half-done 50
    finally:
        sb.close()


def test_a_failing_async_transaction_rolls_back_and_does_not_reset() -> None:
    """After a failed transaction held the gate, queued events run on the same instance."""
    sb = Sandbox(seed=0, clock_mode="autojump")
    try:
        sb.register("bank", Bank)
        stub = sb.durable_objects.bank.get("b")
        handle = sb.inspect(stub)

        async def both() -> Any:
            first = asyncio.ensure_future(stub.failing_transfer())
            await asyncio.sleep(0)
            second = await stub.read()
            with pytest.raises(RuntimeError, match="abort transfer"):
                await first
            return second

        assert sb.run(both()) is None
        assert handle.status == "live"
        assert handle._record.generation == 1
    finally:
        sb.close()
