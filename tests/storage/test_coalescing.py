"""Write coalescing and the output gate, observed from a second SQLite connection.

A persisted object's database is a real file, so another connection sees exactly what has
been committed. Platform facts (reference §3): writes without an intervening suspension are one
atomic batch, committed on the next event-loop turn and before the event's result leaves.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dosandbox import Sandbox
from dosandbox._storage.storage import database_path


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Sandbox]:
    sb = Sandbox(seed=0, persist=tmp_path, clock_mode="autojump")
    try:
        yield sb
    finally:
        sb.close()


def committed_keys(path: Path) -> list[str]:
    """The KV keys another connection can see right now."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_cf_KV'").fetchall():
            return []  # no KV write yet: the table is made by the first one
        return [k for (k,) in conn.execute("SELECT key FROM _cf_KV ORDER BY key")]
    finally:
        conn.close()


def committed_rows(path: Path) -> list[Any]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT x FROM t ORDER BY x").fetchall()
    finally:
        conn.close()


def test_writes_commit_at_the_next_suspension(disk: Sandbox, inside_for: Any) -> None:
    """Writes stay uncommitted until the method yields; then they commit as one batch."""
    inside = inside_for(disk)
    inside(lambda ctx: ctx.storage.put("init", 0))
    path = database_path(inside.handle()._record)
    assert path is not None

    async def body(ctx: Any) -> Any:
        seen = []
        await ctx.storage.put("a", 1)
        await ctx.storage.put("b", 2)  # awaiting storage does not yield to the loop
        seen.append(committed_keys(path))
        await asyncio.sleep(0)  # one event-loop turn
        seen.append(committed_keys(path))
        await ctx.storage.put("c", 3)
        seen.append(committed_keys(path))
        return seen

    assert inside(body) == [["init"], ["a", "b", "init"], ["a", "b", "init"]]
    # The output gate: "c" was committed before the result came back.
    assert committed_keys(path) == ["a", "b", "c", "init"]


def test_kv_and_sql_writes_share_one_batch(disk: Sandbox, inside_for: Any) -> None:
    """KV and SQL writes made together become visible together."""
    inside = inside_for(disk)

    def make(ctx: Any) -> None:
        ctx.sql.exec("CREATE TABLE t (x)")

    inside(make)
    path = database_path(inside.handle()._record)
    assert path is not None

    async def body(ctx: Any) -> Any:
        ctx.sql.exec("INSERT INTO t VALUES (1)")
        await ctx.storage.put("k", 1)
        before = [committed_rows(path), committed_keys(path)]
        await asyncio.sleep(0)
        return [before, [committed_rows(path), committed_keys(path)]]

    assert inside(body) == [[[], []], [[(1,)], ["k"]]]


def test_transaction_holds_the_batch_across_suspensions(disk: Sandbox, inside_for: Any) -> None:
    """Inside transaction(), nothing commits at a suspension until the function ends."""
    inside = inside_for(disk)
    inside(lambda ctx: ctx.storage.put("init", 0))
    path = database_path(inside.handle()._record)
    assert path is not None

    async def body(ctx: Any) -> Any:
        seen = []

        async def fn(txn: Any) -> None:
            await txn.put("x", 1)
            await asyncio.sleep(1)
            seen.append(committed_keys(path))

        await ctx.storage.transaction(fn)
        await asyncio.sleep(0)
        seen.append(committed_keys(path))
        return seen

    assert inside(body) == [["init"], ["init", "x"]]


def test_writes_before_a_raise_are_committed(disk: Sandbox, inside_for: Any) -> None:
    """An exception does not roll back the event's writes (only transaction() does)."""
    inside = inside_for(disk)

    async def body(ctx: Any) -> None:
        await ctx.storage.put("written", 1)
        raise RuntimeError("after the write")

    assert isinstance(inside.error(body), RuntimeError)
    path = database_path(inside.handle()._record)
    assert path is not None
    assert committed_keys(path) == ["written"]


def test_sync_commits_now(disk: Sandbox, inside_for: Any) -> None:
    """await storage.sync() makes the writes so far durable before returning."""
    inside = inside_for(disk)
    inside(lambda ctx: ctx.storage.put("init", 0))
    path = database_path(inside.handle()._record)
    assert path is not None

    async def body(ctx: Any) -> Any:
        await ctx.storage.put("a", 1)
        await ctx.storage.sync()
        return committed_keys(path)

    assert inside(body) == ["a", "init"]


def test_wal_mode_and_durable_settings(disk: Sandbox, inside_for: Any) -> None:
    """Persisted databases use WAL (readers never block the object)."""
    inside = inside_for(disk)
    inside(lambda ctx: ctx.storage.put("a", 1))
    path = database_path(inside.handle()._record)
    assert path is not None
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()
