"""What a fresh object's SQL sees: internal tables appear when first needed, as in workerd.

workerd (conformance scenario sql-fresh-schema): a fresh object's ``sqlite_master`` is empty
and ``databaseSize`` is 4096; the first KV write makes ``_cf_KV`` (8192), the first alarm
``_cf_METADATA`` (12288); reads never create them; ``deleteAll()`` returns to 4096.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from dosandbox import DurableObject, Sandbox

SCHEMA = "SELECT name FROM sqlite_master ORDER BY name"


def names(ctx: Any) -> list[str]:
    return [row["name"] for row in ctx.sql.exec(SCHEMA)]


def test_fresh_object_is_empty(inside: Any) -> None:
    """No tables and 4096 bytes; get, list and get_alarm create nothing."""

    async def body(ctx: Any) -> Any:
        fresh = [names(ctx), ctx.sql.database_size]
        await ctx.storage.get("a")
        await ctx.storage.get(["a", "b"])
        await ctx.storage.list()
        ctx.storage.kv.get("a")
        list(ctx.storage.kv.list())
        await ctx.storage.get_alarm()
        ctx.storage.delete_alarm()
        return [*fresh, names(ctx), ctx.sql.database_size]

    assert inside(body) == [[], 4096, [], 4096]


def test_tables_appear_with_the_first_kv_write_and_alarm(inside: Any) -> None:
    """put → _cf_KV (8192); set_alarm → _cf_METADATA (12288); delete_alarm keeps it."""

    async def body(ctx: Any) -> Any:
        await ctx.storage.put("a", 1)
        after_put = [names(ctx), ctx.sql.database_size]
        await ctx.storage.set_alarm(time.time() * 1000 + 60_000)
        after_alarm = [names(ctx), ctx.sql.database_size]
        await ctx.storage.delete_alarm()
        return [after_put, after_alarm, names(ctx)]

    assert inside(body) == [
        [["_cf_KV"], 8192],
        [["_cf_KV", "_cf_METADATA"], 12288],
        ["_cf_KV", "_cf_METADATA"],
    ]


def test_a_delete_makes_the_kv_table(inside: Any) -> None:
    """delete() of an absent key is a write: _cf_KV exists afterwards (as in workerd)."""

    async def body(ctx: Any) -> Any:
        return [await ctx.storage.delete("a"), names(ctx)]

    assert inside(body) == [False, ["_cf_KV"]]


def test_an_alarm_set_before_storage_opened_shows_its_table(inside: Any) -> None:
    """ctx.set_alarm first (no database yet), SQL later: _cf_METADATA is there."""
    inside(lambda ctx: ctx.set_alarm(time.time() * 1000 + 60_000))
    assert inside(names) == ["_cf_METADATA"]


def test_delete_all_returns_to_a_fresh_schema(inside: Any) -> None:
    """delete_all() drops the internal tables too: empty schema, 4096 bytes, KV still works."""

    async def body(ctx: Any) -> Any:
        ctx.sql.exec("CREATE TABLE t (x)")
        await ctx.storage.put("a", 1)
        await ctx.storage.set_alarm(time.time() * 1000 + 60_000)
        await ctx.storage.delete_all()
        wiped = [names(ctx), ctx.sql.database_size, await ctx.storage.get_alarm()]
        await ctx.storage.put("b", 2)
        return [*wiped, await ctx.storage.list(), names(ctx)]

    assert inside(body) == [[], 4096, None, {"b": 2}, ["_cf_KV"]]


def test_a_rolled_back_first_write_leaves_no_table(inside: Any) -> None:
    """The table made by a write that rolls back goes with it; the next write makes it again."""

    async def body(ctx: Any) -> Any:
        async def fn(txn: Any) -> None:
            await txn.put("a", 1)
            raise RuntimeError("undo")

        with contextlib.suppress(RuntimeError):
            await ctx.storage.transaction(fn)
        rolled_back = [names(ctx), await ctx.storage.get("a")]
        await ctx.storage.put("b", 2)
        return [*rolled_back, await ctx.storage.get("b"), names(ctx)]

    assert inside(body) == [[], None, 2, ["_cf_KV"]]


class Keeper(DurableObject):
    async def save(self) -> None:
        await self.ctx.storage.put("k", 1)

    async def read(self) -> Any:
        return [await self.ctx.storage.get("k"), names(self.ctx)]


def test_persisted_tables_are_found_on_reopen(tmp_path: Path) -> None:
    """A database written earlier is read back, with its _cf_KV, by a new sandbox."""
    with Sandbox(persist=tmp_path) as sb:
        sb.register("keeper", Keeper)
        sb.run(sb.durable_objects.keeper.get_by_name("x").save())
    with Sandbox(persist=tmp_path) as sb:
        sb.register("keeper", Keeper)
        assert sb.run(sb.durable_objects.keeper.get_by_name("x").read()) == [1, ["_cf_KV"]]
