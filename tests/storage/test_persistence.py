"""Sandbox(persist=folder): each object's database survives a restart with the same folder."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from dosandbox import Sandbox
from dosandbox._runtime.parts import storage_for
from dosandbox._storage.storage import persisted_object_ids


async def write(ctx: Any) -> None:
    await ctx.storage.put({"name": "ann", "visits": 3})
    ctx.sql.exec("CREATE TABLE msgs (id INTEGER PRIMARY KEY, body TEXT)")
    ctx.sql.exec("INSERT INTO msgs (body) VALUES ('hello'), ('world')")


async def read(ctx: Any) -> Any:
    return [await ctx.storage.list(), ctx.sql.exec("SELECT body FROM msgs ORDER BY id").to_list()]


def test_reopen_finds_kv_and_sql(tmp_path: Path, inside_for: Any) -> None:
    """A new Sandbox on the same folder sees every object's KV and SQL data."""
    first = Sandbox(seed=0, persist=tmp_path)
    inside_for(first)(write)
    inside_for(first)(lambda ctx: ctx.storage.put("other-object", 1), name="q")
    first.close()

    second = Sandbox(seed=0, persist=tmp_path)
    try:
        inside = inside_for(second)
        assert inside(read) == [
            {"name": "ann", "visits": 3},
            [{"body": "hello"}, {"body": "world"}],
        ]
        assert inside(lambda ctx: ctx.storage.get("other-object"), name="q") == 1
    finally:
        second.close()


def test_layout_and_persisted_object_ids(tmp_path: Path, inside_for: Any) -> None:
    """Files are persist/<namespace>/<object-id>.sqlite; persisted_object_ids lists them."""
    sb = Sandbox(seed=0, persist=tmp_path)
    try:
        inside = inside_for(sb)
        inside(write)
        ids = sorted([inside.handle("p").id, inside.handle("q").id])
        inside(lambda ctx: ctx.storage.put("x", 1), name="q")
        assert persisted_object_ids(sb.persist, "probe") == ids
        assert sorted(p.name for p in (tmp_path / "probe").glob("*.sqlite")) == [
            f"{i}.sqlite" for i in ids
        ]
        assert persisted_object_ids(sb.persist, "nothing") == []
    finally:
        sb.close()
    assert persisted_object_ids(Sandbox(seed=0).persist, "probe") == []


def test_looking_does_not_create_databases(tmp_path: Path, inside_for: Any) -> None:
    """Reading a never-used object's handle (kv, tables, size) creates no file."""
    sb = Sandbox(seed=0, persist=tmp_path)
    try:
        handle = inside_for(sb).handle("never-used")
        assert handle.kv.empty
        assert handle.kv_count() == 0
        assert handle.tables == {}
        assert handle.storage_size == 0
        assert handle.sql("SELECT 1").empty
        assert not (tmp_path / "probe").exists()
    finally:
        sb.close()


def test_metadata_api_round_trips_and_persists(tmp_path: Path, inside_for: Any) -> None:
    """_meta_get/_meta_set (used by alarms) store bytes in _cf_METADATA, across restarts."""
    sb = Sandbox(seed=0, persist=tmp_path)
    stub = inside_for(sb).stub()
    storage = storage_for(stub._record)
    assert storage._meta_get("probe-meta") is None
    storage._meta_set("probe-meta", b"\x01\x02")
    storage._meta_set("gone", b"x")
    storage._meta_set("gone", None)
    sb.close()

    again = Sandbox(seed=0, persist=tmp_path)
    try:
        storage = storage_for(inside_for(again).stub()._record)
        assert storage._meta_get("probe-meta") == b"\x01\x02"
        assert storage._meta_get("gone") is None
    finally:
        again.close()


def test_metadata_written_inside_an_event_joins_its_batch(inside: Any) -> None:
    """A metadata write inside object code is part of the event's batch (rolled back with it)."""

    async def body(ctx: Any) -> Any:
        storage = ctx.storage

        async def fn(txn: Any) -> None:
            storage._meta_set("k", b"v")
            raise RuntimeError("undo")

        with contextlib.suppress(RuntimeError):
            await storage.transaction(fn)
        return storage._meta_get("k")

    assert inside(body) is None


def test_closed_sandbox_storage_says_so(tmp_path: Path, inside_for: Any) -> None:
    """Using storage after the sandbox closed is a typed error that says what to do."""
    import pytest

    from dosandbox.errors import StorageError

    sb = Sandbox(seed=0, persist=tmp_path)
    stub = inside_for(sb).stub()
    inside_for(sb)(write)
    storage = storage_for(stub._record)
    sb.close()
    with pytest.raises(StorageError, match="closed"):
        storage._db.begin_write()
