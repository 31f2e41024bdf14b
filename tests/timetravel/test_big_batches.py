"""Big write batches: past the first rows, a rowid table's rows are noted by rowid and read back
at commit. Every kind of change still restores to exactly the rows it left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dosandbox import DurableObjectResetError, Sandbox
from dosandbox._runtime.parts import existing_storage
from dosandbox._storage.history import _LEAN_AFTER, _READ_BACK, History

from .conftest import START
from .test_capture import Lab, check_restores, record

ROWS = 4 * _LEAN_AFTER  # well past the rows a batch notes in full


def _spread(n: int, start: int = 1) -> str:
    """A JSON array of n ints from start, for json_each(): many rows in one statement."""
    return "[" + ",".join(str(i) for i in range(start, start + n)) + "]"


@pytest.fixture
def lab() -> Any:
    with Sandbox(start=START, seed=0) as sandbox:
        sandbox.register("lab", Lab)
        yield sandbox


def _read_back_entries(sb: Sandbox) -> int:
    """How many of the object's log entries hold rows read back at commit."""
    storage = existing_storage(sb.inspect(sb.durable_objects.lab.get("x"))._record)
    assert storage is not None and storage._history is not None
    return sum(1 for e in storage._history.entries if e.sql and e.sql.startswith(_READ_BACK))


def test_big_batches_of_inserts_updates_moves_and_deletes_restore_exactly(lab: Sandbox) -> None:
    """Inserts, updates, rowid moves and deletes in big batches: each bookmark restores exactly."""
    seen = record(lab, [
        ["CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n REAL)"],
        [f"INSERT INTO t SELECT value, 'n' || value, value * 1.5 "
         f"FROM json_each('{_spread(ROWS)}')"],
        [*[["INSERT INTO t (name, n) VALUES (?, ?)", f"one {i}", i] for i in range(ROWS)]],
        ["UPDATE t SET name = upper(name) WHERE id % 3 = 0",
         "DELETE FROM t WHERE id % 5 = 0",
         "UPDATE t SET id = id + 10000 WHERE id % 7 = 0",
         "INSERT INTO t VALUES (5, 'back again', 0)"],
        ["DELETE FROM t WHERE id > 100"],
    ])
    assert _read_back_entries(lab) == 4
    check_restores(lab, seen)
    assert (5, 5, "back again", 0.0) in seen[3][1]["t"]


def test_big_batch_on_a_table_without_a_key_with_unique_replace(lab: Sandbox) -> None:
    """A rowid table without a key: INSERT OR REPLACE on a UNIQUE column moves rows to new
    rowids (SQLite deletes the old row); read back, the state is exact."""
    seen = record(lab, [
        ["CREATE TABLE u (name TEXT UNIQUE, v INTEGER)"],
        [f"INSERT INTO u SELECT 'k' || value, value FROM json_each('{_spread(ROWS)}')"],
        [f"INSERT OR REPLACE INTO u SELECT 'k' || (value * 2), -value "
         f"FROM json_each('{_spread(ROWS)}')"],
    ])
    assert _read_back_entries(lab) == 2
    check_restores(lab, seen)


def test_big_batch_with_triggers_cascades_and_a_without_rowid_table(lab: Sandbox) -> None:
    """Trigger rows (rowid and WITHOUT ROWID tables) and ON DELETE CASCADE rows of a big batch
    are logged once and not run again on restore."""
    seen = record(lab, [
        ["CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT)",
         "CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id) ON DELETE CASCADE)",
         "CREATE TABLE audit (n INTEGER, what TEXT)",
         "CREATE TABLE seen (name TEXT PRIMARY KEY, times INTEGER) WITHOUT ROWID",
         "CREATE TRIGGER log AFTER INSERT ON p BEGIN "
         "INSERT INTO audit VALUES (new.id, 'added ' || new.name); "
         "INSERT INTO seen VALUES (new.name, 1) "
         "ON CONFLICT (name) DO UPDATE SET times = times + 1; END"],
        [f"INSERT INTO p SELECT value, 'p' || (value % 50) FROM json_each('{_spread(ROWS)}')",
         f"INSERT INTO c SELECT value, value FROM json_each('{_spread(ROWS)}')"],
        ["DELETE FROM p WHERE id % 2 = 0"],
    ])
    assert _read_back_entries(lab) == 2
    check_restores(lab, seen)
    assert len(seen[-1][1]["c"]) == ROWS // 2
    assert len(seen[-1][1]["audit"]) == ROWS


def test_big_batch_with_a_rolled_back_transaction_restores_what_committed(lab: Sandbox) -> None:
    """A transaction_sync() rolled back inside a big batch: only what committed is restored."""
    stub = lab.durable_objects.lab.get("x")
    lab.run(stub.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    lab.clock.advance(1)
    seen = [(lab.run(stub.bookmark()), lab.run(stub.dump()))]
    lab.run(stub.run_txn_then_fail(
        f"INSERT INTO t SELECT value, 'kept' FROM json_each('{_spread(ROWS)}')",
        f"INSERT INTO t SELECT value, 'undone' FROM json_each('{_spread(ROWS, ROWS + 1)}')",
    ))
    lab.clock.advance(1)
    seen.append((lab.run(stub.bookmark()), lab.run(stub.dump())))
    assert {v for _, _, v in seen[-1][1]["t"]} == {"kept"}
    assert _read_back_entries(lab) == 1
    check_restores(lab, seen)


def test_big_batch_with_a_failing_statement_keeps_an_image(lab: Sandbox) -> None:
    """A statement failing halfway in a big batch: the batch is kept as an image, exact."""
    stub = lab.durable_objects.lab.get("x")
    lab.run(stub.run("CREATE TABLE f (id INTEGER PRIMARY KEY, v)"))
    lab.clock.advance(1)
    before = lab.run(stub.bookmark())
    lab.run(stub.run_ignoring_error(
        f"INSERT INTO f SELECT value, 'a' FROM json_each('{_spread(ROWS)}')",
        # Nine new rows, then id 1 again: FAIL keeps the nine.
        f"INSERT OR FAIL INTO f SELECT value, 'b' FROM json_each('{_spread(9, ROWS + 1)[:-1]},1]')",
    ))
    after_dump = lab.run(stub.dump())
    assert len(after_dump["f"]) == ROWS + 9  # the rows before the failure stay
    lab.clock.advance(1)
    after = lab.run(stub.bookmark())
    assert lab.run(stub.entries())[-1]["image_bytes"] > 0
    assert _read_back_entries(lab) == 0
    check_restores(lab, [(before, {"f": []}), (after, after_dump)])


def test_small_batches_keep_their_rows_without_reading_back(lab: Sandbox) -> None:
    """A batch of fewer rows than the threshold notes them in full (no query at commit)."""
    record(lab, [
        ["CREATE TABLE t (id INTEGER PRIMARY KEY, v)"],
        [*[["INSERT INTO t VALUES (?, ?)", i, i] for i in range(_LEAN_AFTER - 1)]],
    ])
    assert _read_back_entries(lab) == 0


def test_big_batches_after_a_reopen_restore_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Persisted: big batches before and after a reopen (which lists the tables again)."""
    calls: list[int] = []
    read_back = History._read_back

    def counted(self: History) -> Any:
        calls.append(1)
        return read_back(self)

    monkeypatch.setattr(History, "_read_back", counted)
    with Sandbox(start=START, seed=0, persist=tmp_path) as sb:
        sb.register("lab", Lab)
        seen = record(sb, [
            ["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"],
            [f"INSERT INTO t SELECT value, 'first' FROM json_each('{_spread(ROWS)}')"],
        ])
    with Sandbox(start=START, seed=0, persist=tmp_path) as sb:
        sb.register("lab", Lab)
        sb.clock.advance(5)
        seen += record(sb, [
            ["UPDATE t SET v = 'second' WHERE id % 2 = 1"],
            ["UPDATE t SET v = 'third' WHERE id % 3 = 1", "DELETE FROM t WHERE id % 4 = 0"],
        ])
        check_restores(sb, seen)
        with pytest.raises(DurableObjectResetError):
            sb.run(sb.durable_objects.lab.get("x").restore(seen[1][0]))
        assert {v for _, _, v in sb.run(sb.durable_objects.lab.get("x").dump())["t"]} == {
            "first"}
    assert len(calls) >= 2


def test_rowids_read_back_in_chunks_restore_exactly(
    lab: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scattered rowids are read back in chunks (one JSON binding stays under SQLite's 2 MB
    string limit; the chunk is lowered here): the state is exact."""
    from dosandbox._storage import history

    monkeypatch.setattr(history, "_READ_BACK_CHUNK", 7)
    seen = record(lab, [
        ["CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"],
        [f"INSERT INTO t SELECT value, value FROM json_each('{_spread(ROWS)}')"],
        ["UPDATE t SET v = -v WHERE id % 3 = 0", "DELETE FROM t WHERE id % 5 = 0"],
    ])
    assert _read_back_entries(lab) == 2
    check_restores(lab, seen)
