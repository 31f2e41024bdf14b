"""The handle's view of storage: KV pages, counts, tables, ad-hoc SQL, seeding, size."""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import Limits, Sandbox
from dosandbox.errors import StorageLimitError, TransactionError, ValidationError


async def fill(ctx: Any) -> None:
    await ctx.storage.put({"user:1": {"name": "ann"}, "user:2": {"name": "bob"}, "count": 2})
    ctx.sql.exec("CREATE TABLE msgs (id INTEGER PRIMARY KEY, body TEXT)")
    ctx.sql.exec("INSERT INTO msgs (body) VALUES ('hi'), ('yo')")


def test_kv_frame(inside: Any) -> None:
    """handle.kv shows key, decoded value, type and serialized size in key order."""
    inside(fill)
    frame = inside.handle().kv
    assert list(frame.columns) == ["key", "value", "type", "size"]
    assert list(frame["key"]) == ["count", "user:1", "user:2"]
    assert list(frame["value"]) == [2, {"name": "ann"}, {"name": "bob"}]
    assert list(frame["type"]) == ["int", "dict", "dict"]
    assert all(size > 0 for size in frame["size"])


def test_kv_page_and_count(inside: Any) -> None:
    """kv_page pages in key order with an optional prefix; kv_count counts."""
    inside(fill)
    handle = inside.handle()
    assert list(handle.kv_page(offset=1, limit=1)["key"]) == ["user:1"]
    assert list(handle.kv_page(prefix="user:", limit=10)["key"]) == ["user:1", "user:2"]
    assert list(handle.kv_page(prefix="user:", offset=1)["key"]) == ["user:2"]
    assert handle.kv_count() == 3
    assert handle.kv_count(prefix="user:") == 2
    with pytest.raises(ValidationError):
        handle.kv_page(limit=0)
    with pytest.raises(ValidationError):
        handle.kv_page(offset=-1)


def test_a_large_store_stays_cheap_to_look_at(do_sandbox: Sandbox, inside: Any) -> None:
    """With 20,000 keys, handle.kv returns the first 1,000 and pages reach the end."""
    handle = inside.handle()
    handle.seed_kv({f"k{i:05d}": i for i in range(20_000)})
    assert len(handle.kv) == 1_000
    assert handle.kv_count() == 20_000
    last = handle.kv_page(offset=19_998, limit=5)
    assert list(last["key"]) == ["k19998", "k19999"]


def test_tables_and_sql(inside: Any) -> None:
    """handle.tables maps user tables to DataFrames; handle.sql answers queries."""
    inside(fill)
    handle = inside.handle()
    tables = handle.tables
    assert list(tables) == ["msgs"]
    assert tables["msgs"].to_dict("records") == [{"id": 1, "body": "hi"}, {"id": 2, "body": "yo"}]
    frame = handle.sql("SELECT body FROM msgs WHERE id = ?", 2)
    assert frame.to_dict("records") == [{"body": "yo"}]


def test_handle_writes_are_logged_and_committed(inside: Any) -> None:
    """sql(write=True) and seed_kv commit at once and appear in the event log."""
    inside(fill)
    handle = inside.handle()
    handle.sql("DELETE FROM msgs WHERE id = 1", write=True)
    assert handle.seed_kv({"seeded": True}) == 1
    messages = list(inside.sb.events()["message"])
    assert "DELETE FROM msgs WHERE id = 1 — 1 row(s) written (from handle)" in messages
    assert "seeded 1 keys: 'seeded'" in messages
    assert inside(lambda ctx: ctx.storage.get("seeded")) is True
    assert inside.handle().tables["msgs"].to_dict("records") == [{"id": 2, "body": "yo"}]


def test_seed_kv_before_the_first_event(do_sandbox: Sandbox, inside: Any) -> None:
    """seed_kv prepares storage before the object exists; init can read it."""
    handle = inside.handle("fresh")
    assert handle.status == "not created"
    handle.seed_kv({"config": {"limit": 5}})
    assert handle.status == "not created"
    assert inside(lambda ctx: ctx.storage.get("config"), name="fresh") == {"limit": 5}


def test_seed_kv_checks_keys_and_values(inside: Any) -> None:
    """seed_kv applies the key/value limits (no 128 cap) and writes nothing on error."""
    handle = inside.handle()
    with pytest.raises(StorageLimitError):
        handle.seed_kv({"ok": 1, "k" * 3000: 2})
    with pytest.raises(ValidationError):
        handle.seed_kv([("a", 1)])
    assert handle.kv_count() == 0


def test_storage_size(inside: Any) -> None:
    """storage_size is the database size in bytes, and grows with data."""
    handle = inside.handle()
    inside(fill)
    before = handle.storage_size
    handle.seed_kv({f"x{i}": "y" * 2000 for i in range(40)})
    assert handle.storage_size > before + 60_000


def test_handle_writes_refused_while_a_transaction_runs() -> None:
    """Writing from the handle while the object is inside transaction() is refused."""
    import asyncio

    from dosandbox import DurableObject
    from dosandbox.errors import WaitingOnTimeError

    class Slow(DurableObject):
        async def hold(self) -> None:
            async def fn(txn: Any) -> None:
                await txn.put("x", 1)
                await asyncio.sleep(10)

            await self.ctx.storage.transaction(fn)

    sb = Sandbox(seed=0, limits=Limits())
    try:
        sb.register("slow", Slow)
        stub = sb.durable_objects.slow.get("s")
        with pytest.raises(WaitingOnTimeError):
            sb.run(stub.hold())  # stays in flight, inside its transaction
        handle = sb.inspect(stub)
        assert handle.in_flight == 1
        with pytest.raises(TransactionError, match=r"inside storage\.transaction"):
            handle.seed_kv({"y": 2})
        with pytest.raises(TransactionError):
            handle.sql("DELETE FROM nothing", write=True)
        sb.clock.advance(seconds=11)
        assert handle.in_flight == 0
        assert list(handle.kv["key"]) == ["x"]
    finally:
        sb.close()
