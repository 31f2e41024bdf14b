"""How the change log catches user SQL (SQLite's pre-update hook): every kind of table and
statement restores to exactly the rows it had, and batches whose capture cannot be trusted
(a failed statement, VIRTUAL generated columns) fall back to an image of the database."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from dosandbox import DurableObject, DurableObjectResetError, Sandbox
from dosandbox._storage.history import entries_frame_rows
from dosandbox.errors import SqlError

from .conftest import START


class Lab(DurableObject):
    """Runs the SQL it is given; dumps every user table; bookmarks and restores."""

    async def run(self, *statements: Any) -> None:
        for statement in statements:
            query, *args = statement if isinstance(statement, (list, tuple)) else [statement]
            self.ctx.sql.exec(query, *args)

    async def run_txn_then_fail(self, good: str, bad: str) -> None:
        """``good`` commits; ``bad`` runs inside transaction_sync() that raises (rolled back)."""
        self.ctx.sql.exec(good)

        def fails() -> None:
            self.ctx.sql.exec(bad)
            raise ValueError("changed my mind")

        with pytest.raises(ValueError):
            self.ctx.storage.transaction_sync(fails)

    async def run_ignoring_error(self, *statements: str) -> None:
        """Runs each statement; SQL errors are caught (the batch goes on and commits)."""
        for statement in statements:
            with contextlib.suppress(SqlError):  # a failed statement inside a batch
                self.ctx.sql.exec(statement)

    async def dump(self) -> dict[str, list[Any]]:
        sql = self.ctx.sql
        tables = [r["name"] for r in sql.exec(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name").to_list()]
        return {t: [tuple(r) for r in sql.exec(f'SELECT _rowid_, * FROM "{t}"').raw()]
                if not self._without_rowid(t) else
                sorted(tuple(r) for r in sql.exec(f'SELECT * FROM "{t}"').raw())
                for t in tables}

    def _without_rowid(self, table: str) -> bool:
        rows = self.ctx.sql.exec("SELECT wr FROM pragma_table_list WHERE name = ?", table)
        return bool(rows.one()["wr"])

    async def bookmark(self) -> str:
        return await self.ctx.storage.get_current_bookmark()

    async def search(self, term: str) -> list[str]:
        rows = self.ctx.sql.exec("SELECT body FROM docs WHERE docs MATCH ?", term)
        return [r["body"] for r in rows]

    async def restore(self, bookmark: str) -> None:
        await self.ctx.storage.on_next_session_restore_bookmark(bookmark)
        self.ctx.abort("restoring")

    async def entries(self) -> list[dict[str, Any]]:
        return list(entries_frame_rows(self.ctx.storage._history))


@pytest.fixture
def lab() -> Any:
    with Sandbox(start=START, seed=0) as sandbox:
        sandbox.register("lab", Lab)
        yield sandbox


def record(sb: Sandbox, steps: list[list[Any]]) -> list[tuple[str, dict[str, list[Any]]]]:
    """Run each step as one event; after each, a bookmark and the dump it must restore to."""
    stub = sb.durable_objects.lab.get("x")
    seen = []
    for step in steps:
        sb.run(stub.run(*step))
        sb.clock.advance(1)
        seen.append((sb.run(stub.bookmark()), sb.run(stub.dump())))
    return seen


def check_restores(sb: Sandbox, seen: list[tuple[str, dict[str, list[Any]]]]) -> None:
    """Restore every bookmark, newest first then oldest: each gives exactly its dump."""
    for bookmark, dump in [*reversed(seen), *seen]:
        with pytest.raises(DurableObjectResetError):
            sb.run(sb.durable_objects.lab.get("x").restore(bookmark))
        assert sb.run(sb.durable_objects.lab.get("x").dump()) == dump


def test_without_rowid_table_with_a_composite_key_restores_exactly(lab: Sandbox) -> None:
    """WITHOUT ROWID rows are keyed by their primary key (updates that move the key too)."""
    seen = record(lab, [
        ["CREATE TABLE w (a TEXT, b INTEGER, v, PRIMARY KEY (b, a)) WITHOUT ROWID"],
        [("INSERT INTO w VALUES (?, ?, ?)", "x", 1, "one"),
         ("INSERT INTO w VALUES (?, ?, ?)", "y", 2, "two")],
        ["UPDATE w SET b = b + 10 WHERE a = 'x'", "UPDATE w SET v = 'deux' WHERE a = 'y'"],
        ["INSERT OR REPLACE INTO w VALUES ('y', 2, 'zwei')", "DELETE FROM w WHERE b = 11"],
        ["INSERT INTO w VALUES ('x', 1, 'again')"],
    ])
    check_restores(lab, seen)
    kinds = [e for e in lab.run(lab.durable_objects.lab.get("x").entries()) if e["sql_bytes"]]
    assert len(kinds) >= 4  # the row writes were logged as rows, not images


def test_rowid_table_without_a_key_rowid_moves_and_unique_replace(lab: Sandbox) -> None:
    """Hidden rowids, UPDATE of the rowid, and REPLACE deleting a UNIQUE conflict restore."""
    seen = record(lab, [
        ["CREATE TABLE r (name TEXT UNIQUE, n)"],
        ["INSERT INTO r VALUES ('a', 1)", "INSERT INTO r VALUES ('b', 2)",
         "INSERT INTO r VALUES ('c', 3)"],
        ["UPDATE r SET _rowid_ = 100 WHERE name = 'a'", "DELETE FROM r WHERE name = 'b'"],
        ["INSERT OR REPLACE INTO r VALUES ('c', 30)", "UPDATE r SET name = 'b' WHERE n = 30"],
        ["CREATE TABLE k (id INTEGER PRIMARY KEY, s TEXT)",
         "INSERT INTO k (s) VALUES ('p')", "INSERT INTO k (s) VALUES ('q')"],
        ["UPDATE k SET id = 7 WHERE s = 'p'", "INSERT OR REPLACE INTO k VALUES (7, 'pp')"],
    ])
    check_restores(lab, seen)


def test_trigger_rows_are_logged_once_and_not_run_again_on_restore(lab: Sandbox) -> None:
    """Rows a trigger wrote come back once: the replay runs with triggers off."""
    seen = record(lab, [
        ["CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
         "CREATE TABLE audit (n INTEGER PRIMARY KEY, what)",
         "CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN "
         "INSERT INTO audit (what) VALUES ('added ' || new.v); END"],
        ["INSERT INTO t (v) VALUES ('a')"],
        ["INSERT INTO t (v) VALUES ('b')", "DELETE FROM audit WHERE what = 'added a'"],
    ])
    check_restores(lab, seen)
    assert seen[-1][1]["audit"] == [(2, 2, "added b")]


def test_statement_failing_halfway_with_on_conflict_fail_keeps_an_image(lab: Sandbox) -> None:
    """ON CONFLICT FAIL keeps the rows before the failure; the batch is then kept as an image."""
    stub = lab.durable_objects.lab.get("x")
    lab.run(stub.run("CREATE TABLE f (id INTEGER PRIMARY KEY, v)",
                     "INSERT INTO f VALUES (3, 'three')"))
    lab.clock.advance(1)
    before = lab.run(stub.bookmark())
    lab.run(stub.run_ignoring_error(
        "INSERT INTO f VALUES (9, 'nine')",
        "INSERT OR FAIL INTO f SELECT value, 'v' FROM json_each('[1, 2, 3, 4]')",
        "INSERT INTO f SELECT value, 'w' FROM json_each('[5, 6, 3]')",  # ABORT: none kept
    ))
    after_dump = lab.run(stub.dump())
    assert after_dump["f"] == [(1, 1, "v"), (2, 2, "v"), (3, 3, "three"), (9, 9, "nine")]
    lab.clock.advance(1)
    after = lab.run(stub.bookmark())
    assert lab.run(stub.entries())[-1]["image_bytes"] > 0
    check_restores(lab, [(before, {"f": [(3, 3, "three")]}), (after, after_dump)])


def test_virtual_generated_columns_fall_back_to_images(lab: Sandbox) -> None:
    """Rows of tables with VIRTUAL generated columns cannot be read by the hook: images."""
    seen = record(lab, [
        ["CREATE TABLE g (id INTEGER PRIMARY KEY, name TEXT, "
         "shout TEXT GENERATED ALWAYS AS (upper(name)) VIRTUAL, "
         "tag TEXT GENERATED ALWAYS AS (name || '!') STORED)"],
        ["INSERT INTO g (name) VALUES ('a')", "INSERT INTO g (name) VALUES ('b')"],
        ["UPDATE g SET name = 'c' WHERE id = 1"],
    ])
    check_restores(lab, seen)
    assert seen[-1][1]["g"] == [(1, 1, "c", "C", "c!"), (2, 2, "b", "B", "b!")]


def test_stored_generated_columns_are_logged_as_rows(lab: Sandbox) -> None:
    """STORED generated columns are skipped on replay (SQLite computes them again)."""
    seen = record(lab, [
        ["CREATE TABLE s (id INTEGER PRIMARY KEY, name TEXT, "
         "tag TEXT GENERATED ALWAYS AS (name || '!') STORED)"],
        ["INSERT INTO s (name) VALUES ('a')"],
        ["UPDATE s SET name = 'b'"],
    ])
    assert lab.run(lab.durable_objects.lab.get("x").entries())[-1]["sql_bytes"] > 0
    check_restores(lab, seen)


def test_rolled_back_transaction_rows_are_not_replayed(lab: Sandbox) -> None:
    """Rows written inside a transaction that rolled back are forgotten with it."""
    stub = lab.durable_objects.lab.get("x")
    lab.run(stub.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v)"))
    lab.clock.advance(1)
    lab.run(stub.run_txn_then_fail("INSERT INTO t VALUES (1, 'kept')",
                                   "INSERT INTO t VALUES (2, 'rolled back')"))
    lab.clock.advance(1)
    mark = lab.run(stub.bookmark())
    lab.run(stub.run("DELETE FROM t"))
    check_restores(lab, [(mark, {"t": [(1, 1, "kept")]})])


def test_fts5_tables_restore_with_their_shadow_tables(lab: Sandbox) -> None:
    """An FTS5 index comes back through its shadow tables' rows, and still answers MATCH."""
    seen = record(lab, [
        ["CREATE VIRTUAL TABLE docs USING fts5(body)"],
        ["INSERT INTO docs (body) VALUES ('the quick brown fox')"],
        ["INSERT INTO docs (body) VALUES ('lazy dogs sleep')",
         "DELETE FROM docs WHERE body MATCH 'quick'"],
    ])
    check_restores(lab, seen)  # ends on the oldest bookmark...
    with pytest.raises(DurableObjectResetError):
        lab.run(lab.durable_objects.lab.get("x").restore(seen[1][0]))  # ...then the fox's
    stub = lab.durable_objects.lab.get("x")
    assert lab.run(stub.search("fox")) == ["the quick brown fox"]
    assert lab.run(stub.search("lazy")) == []


def test_a_batch_missing_from_the_persisted_log_does_not_corrupt_later_states(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between a batch's commit and its log entry: reopened, the log restarts from an
    image of the database, so later bookmarks restore exactly (the lost batch included)."""
    from dosandbox._storage.history import HistoryStore

    from .conftest import Shop

    with Sandbox(start=START, seed=0, persist=tmp_path) as sb:
        sb.register("shop", Shop)
        shop = sb.durable_objects.shop.get("a")
        sb.run(shop.add("apple", 1))
        with monkeypatch.context() as patch:  # the process "dies" before the entry is written
            patch.setattr(HistoryStore, "add", lambda self, key, entry: None)
            sb.run(shop.add("pear", 2))
    with Sandbox(start=START, seed=0, persist=tmp_path) as sb:
        sb.register("shop", Shop)
        shop = sb.durable_objects.shop.get("a")
        sb.run(shop.add("plum", 3))
        mark = sb.run(shop.bookmark())
        sb.run(shop.add("fig", 4))
        with pytest.raises(DurableObjectResetError):
            sb.run(shop.restore(mark))
        items = sb.run(sb.durable_objects.shop.get("a").state())["items"]
        assert [i["name"] for i in items] == ["apple", "pear", "plum"]


def test_rows_written_from_the_handle_between_kv_writes_are_in_the_history() -> None:
    """handle.sql(write=True) after KV writes (which turn the row hook off) is still captured."""
    from dosandbox import DurableObject, Sandbox

    class Box(DurableObject):
        def setup(self) -> None:
            self.ctx.sql.exec("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
            self.ctx.sql.exec("INSERT INTO t VALUES (1)")

        async def note(self) -> None:
            await self.ctx.storage.put("k", 1)

    with Sandbox() as sb:
        sb.register("box", Box)
        stub = sb.durable_objects.box.get("b")
        sb.run(stub.setup())
        sb.run(stub.note())  # a KV write: the row hook is off after it
        before = sb.clock.now
        sb.clock.advance(seconds=1)
        handle = sb.inspect(stub)
        handle.sql("INSERT INTO t VALUES (2)", write=True)
        sb.clock.advance(seconds=1)
        assert list(handle.at(sb.clock.now).tables["t"]["v"]) == [1, 2]
        assert list(handle.at(before).tables["t"]["v"]) == [1]
