"""Open databases stay bounded: idle ones close (LRU, eviction) and reopen unnoticed on use."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

from dosandbox import DurableObject, Limits, Sandbox
from dosandbox._runtime.parts import parts_of
from dosandbox._storage.database import pool_for

START = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class Keeper(DurableObject):
    """Holds ctx.storage and ctx.sql from its constructor on, as user code may."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.s = ctx.storage
        self.q = ctx.sql
        self.kv = ctx.storage.kv

    async def write(self, n: int) -> None:
        self.q.exec("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
        self.q.exec("INSERT INTO t VALUES (?)", n)
        await self.s.put("n", n)
        self.kv.put("sync", n)

    async def read(self) -> Any:
        rows = self.q.exec("SELECT n FROM t ORDER BY n").to_list()
        return [await self.s.get("n"), self.kv.get("sync"), [r["n"] for r in rows]]

    async def write_around(self, others: list[str]) -> Any:
        """Writes before and after awaiting other objects, which open their databases."""
        await self.s.put("before", 1)
        for name in others:
            await self.env.KEEPER.get(name).write(7)
        await self.s.put("after", 2)
        return await self.read()

    async def transaction_around(self, others: list[str], fail: bool) -> None:
        async def body(txn: Any) -> None:
            await txn.put("in_txn", 1)
            for name in others:
                await self.env.KEEPER.get(name).write(7)
                assert not self.ctx.storage._db.suspended  # a running transaction stays open
            if fail:
                raise ValueError("roll back")

        with contextlib.suppress(ValueError):
            await self.s.transaction(body)

    async def peek(self) -> Any:
        return await self.s.get("x")

    async def arm(self, at: int) -> None:
        await self.s.set_alarm(at)

    async def alarm(self, info: Any = None) -> None:
        await self.s.put("fired", True)


def _db(sb: Sandbox, name: str) -> Any:
    record = sb.durable_objects.keeper.get(name)._record
    storage = parts_of(record).storage
    assert storage is not None
    return storage._db


def _open(limit: int, folder: Path) -> Sandbox:
    sb = Sandbox(start=START, seed=0, persist=folder, limits=Limits(max_open_databases=limit))
    sb.register("keeper", Keeper)
    return sb


def test_at_most_max_open_databases_stay_open(tmp_path: Path) -> None:
    """20 persisted objects with a bound of 3: 3 open databases, every write kept."""
    with _open(3, tmp_path) as sb:
        ns = sb.durable_objects.keeper
        for i in range(20):
            sb.run(ns.get(f"k{i}").write(i))
            assert len(pool_for(sb.world)) <= 3
        for i in range(20):
            assert sb.run(ns.get(f"k{i}").read()) == [i, i, [i]]
        assert sum(not _db(sb, f"k{i}").suspended for i in range(20)) == 3


def test_file_descriptors_stay_bounded(tmp_path: Path) -> None:
    """60 persisted objects keep at most bound × 3 descriptors open (plus the sandbox's one
    point-in-time recovery history file, 3 more whatever the count), not 180."""
    fd_dir = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    with _open(4, tmp_path) as sb:
        before = len(os.listdir(fd_dir))
        peak = 0
        for i in range(60):
            sb.run(sb.durable_objects.keeper.get(f"k{i}").write(i))
            peak = max(peak, len(os.listdir(fd_dir)) - before)
        assert peak <= 4 * 3 + 3


def test_held_storage_works_after_its_database_was_closed(tmp_path: Path) -> None:
    """ctx.storage, ctx.sql and storage.kv held by an instance keep working across a reopen."""
    with _open(2, tmp_path) as sb:
        ns = sb.durable_objects.keeper
        sb.run(ns.get("a").write(1))
        for name in ("b", "c", "d"):
            sb.run(ns.get(name).write(2))
        assert _db(sb, "a").suspended  # closed while idle...
        assert sb.run(ns.get("a").read()) == [1, 1, [1]]  # ...and reopened by the held objects
        assert not _db(sb, "a").suspended


def test_closed_between_awaits_of_one_event(tmp_path: Path) -> None:
    """An event that awaits other objects finds its storage reopened, its writes all there."""
    with _open(2, tmp_path) as sb:
        stub = sb.durable_objects.keeper.get("a")
        sb.run(stub.write(1))
        assert sb.run(stub.write_around(["b", "c", "d"])) == [1, 1, [1]]
        assert sb.inspect(stub).kv_count() == 4  # n, sync, before, after


def test_a_running_transaction_is_never_closed(tmp_path: Path) -> None:
    """transaction() awaiting other objects keeps its database open; commit and rollback hold."""
    with _open(2, tmp_path) as sb:
        stub = sb.durable_objects.keeper.get("a")
        sb.run(stub.transaction_around(["b", "c", "d"], False))
        sb.run(stub.transaction_around(["e", "f", "g"], True))
        handle = sb.inspect(stub)
        assert handle.kv_count() == 1 and handle.kv["key"].tolist() == ["in_txn"]
    with _open(2, tmp_path) as again:
        assert again.inspect(again.durable_objects.keeper.get("a")).kv_count() == 1


async def _read_slowly(ctx: Any) -> int:
    sql = ctx.sql
    sql.exec("CREATE TABLE IF NOT EXISTS big (n INTEGER)")
    sql.exec("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 20000) "
             "INSERT INTO big SELECT n FROM c")
    await asyncio.sleep(0)  # the batch commits
    total = 0
    cursor = sql.exec("SELECT n FROM big")
    for i, row in enumerate(cursor):
        if i == 10:
            for name in ("b", "c", "d"):  # open other databases mid-read
                await ctx.env.KEEPER.get(name).write(1)
        total += row["n"]
    return total


def test_a_cursor_being_read_survives_other_databases_opening(
    tmp_path: Path, inside_for: Any
) -> None:
    """A SELECT iterated across awaits reads every row while other databases open and close."""
    with _open(2, tmp_path) as sb:
        inside = inside_for(sb)
        assert inside(_read_slowly) == 20000 * 20001 // 2


def test_eviction_closes_a_persisted_database(tmp_path: Path) -> None:
    """handle.evict() closes the object's files; the next call reopens them, data intact."""
    with _open(64, tmp_path) as sb:
        stub = sb.durable_objects.keeper.get("a")
        sb.run(stub.write(5))
        sb.inspect(stub).evict()
        assert _db(sb, "a").suspended and len(pool_for(sb.world)) == 0
        assert sb.run(stub.read()) == [5, 5, [5]]


def test_eviction_keeps_in_memory_data_as_compressed_pages() -> None:
    """An evicted in-memory object drops its connection, keeps KV, SQL and the alarm."""
    with Sandbox(start=START, seed=0) as sb:
        sb.register("keeper", Keeper)
        stub = sb.durable_objects.keeper.get("a")
        sb.run(stub.write(3))
        sb.run(stub.arm(START + 5_000))
        size = sb.inspect(stub).storage_size
        sb.inspect(stub).evict()
        db = _db(sb, "a")
        assert db.suspended and db._image is not None and len(db._image) < 2_000
        handle = sb.inspect(stub)
        assert handle.storage_size == size and sorted(handle.tables) == ["t"]
        assert sb.run(stub.read()) == [3, 3, [3]]
        sb.clock.advance(seconds=10)  # the alarm, kept too, fires
        assert handle.kv["key"].tolist() == ["fired", "n", "sync"]


def test_eviction_of_an_object_with_an_empty_database_keeps_nothing() -> None:
    """An evicted object whose database has no tables keeps no page image; it reopens empty."""
    with Sandbox(start=START, seed=0) as sb:
        sb.register("keeper", Keeper)
        stub = sb.durable_objects.keeper.get("a")
        assert sb.run(stub.peek()) is None  # storage opened, nothing written
        sb.inspect(stub).evict()
        db = _db(sb, "a")
        assert db.suspended and db._image is None
        assert sb.inspect(stub).tables == {} and sb.inspect(stub).storage_size == 4096


def test_register_restores_alarms_without_opening_databases(tmp_path: Path) -> None:
    """register() reads each persisted alarm and closes the file: no database stays open."""
    with _open(64, tmp_path) as sb:
        for i in range(10):
            sb.run(sb.durable_objects.keeper.get(f"k{i}").arm(START + 1_000 * (i + 1)))
    with _open(64, tmp_path) as again:
        assert len(pool_for(again.world)) == 0
        assert len(again.alarms()) == 10
        assert all(parts_of(r).storage is None for r in again.namespaces["keeper"].records.values())
        again.clock.advance(seconds=20)
        fired = [again.inspect(again.durable_objects.keeper.get(f"k{i}")).kv_count()
                 for i in range(10)]
        assert fired == [1] * 10


def test_register_restores_alarms_left_in_the_wal_by_a_crash(tmp_path: Path) -> None:
    """An alarm only in the -wal file (no clean close) is found: that file is opened normally."""
    sb = _open(64, tmp_path)
    sb.run(sb.durable_objects.keeper.get("k").arm(START + 1_000))
    wal = Path(f"{_db(sb, 'k').path}-wal")
    assert wal.exists() and wal.stat().st_size > 0
    sb._folder_lock.release()  # as if the process had died: files still open, WAL unmerged
    try:
        with _open(64, tmp_path) as again:
            assert len(again.alarms()) == 1
    finally:
        sb.close()
