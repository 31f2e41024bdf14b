"""One object's SQLite database: opening it, write batches (coalescing) and savepoints.

Write coalescing: on the platform, every write made without an intervening
suspension lands in one atomic batch, committed on the next event-loop turn and always before
the event's result leaves the object (the output gate). Here the first write opens an explicit
transaction (``BEGIN``) and schedules the commit with ``loop.call_soon``: that callback runs
only once the running task yields, which is exactly "the next turn". The record's
``before_output`` hook commits too, so a result never leaves before its writes are on disk.
``transaction()`` nests SAVEPOINTs inside the batch and holds the commit until it ends.

The connection is APSW's (``apsw.Connection``, with the SQLite it bundles), not the standard
library's ``sqlite3``: its statements cost about half as much from Python, which is most of a
small write's time. Like ``sqlite3`` with ``isolation_level=None`` it never opens a transaction
by itself.

Durability: persisted databases use WAL with ``synchronous=NORMAL``. A commit then writes the
WAL frames with ``write()`` before returning, so an acknowledged write survives ``kill -9`` of
the process (the data is in the OS page cache, and SQLite replays the WAL on the next open).
``FULL`` would add an fsync per commit, which only matters if the whole *machine* loses power;
a notebook sandbox does not promise that, and NORMAL keeps persisted writes fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apsw

from .._core.errors import (
    SqlError,
    SqlNotAuthorizedError,
    StorageError,
    StorageLimitError,
    TransactionError,
)
from .authorizer import INTERNAL_TAG, VACUUM_MESSAGE, Authorizer

if TYPE_CHECKING:
    from .._core.limits import Limits

__all__ = ["Database", "error_name", "sqlite_error"]

_get_running_loop = asyncio._get_running_loop


def tag(sql: str) -> str:
    """Mark a statement as the storage's own (see _authorizer.INTERNAL_TAG)."""
    return sql + INTERNAL_TAG


_BEGIN = tag("BEGIN")
_BATCH = ""  # the key of the batch's own snapshot in Database._snapshots (savepoints: names)
_COMMIT = tag("COMMIT")
_ROLLBACK = tag("ROLLBACK")

# workerd's SQLite limits besides those in Limits: expression depth, compound
# SELECT terms, LIKE pattern length, trigger depth; the string/BLOB size is the documented 2 MB.
_FIXED_LIMITS = {
    "SQLITE_LIMIT_EXPR_DEPTH": 100,
    "SQLITE_LIMIT_COMPOUND_SELECT": 5,
    "SQLITE_LIMIT_LIKE_PATTERN_LENGTH": 50,
    "SQLITE_LIMIT_TRIGGER_DEPTH": 10,
    "SQLITE_LIMIT_LENGTH": 2_000_000,
    "SQLITE_LIMIT_ATTACHED": 0,
}


class LogRun:
    """The write batch's pending event-log entry: consecutive runs of one SQL statement.

    One event per statement would cost more than the statement, so ``INSERT ... ×10,000``
    becomes one entry. It is written before any other storage event and before each commit,
    so the log keeps the order in which things happened.
    """

    __slots__ = ("emit", "query", "rows", "runs")

    def __init__(self, emit: Callable[[str, str], object] | None) -> None:
        self.emit = emit
        self.query: str | None = None
        self.runs = 0
        self.rows = 0

    def note(self, query: str, written: int, origin: str | None = None) -> None:
        """Count one write of ``query``; ``origin`` writes the entry at once, marked."""
        if self.query is not query and self.query != query:
            self.flush()
            self.query = query
        self.runs += 1
        self.rows += written
        if origin is not None:
            self.flush(origin)

    def flush(self, origin: str = "") -> None:
        """Write the pending run to the event log, if any."""
        query = self.query
        if query is None:
            return
        runs, rows = self.runs, self.rows
        self.query, self.runs, self.rows = None, 0, 0
        if self.emit is None:
            return
        text = " ".join(query.split())
        text = text if len(text) <= 60 else text[:60] + "…"
        times = f" ×{runs:,}" if runs > 1 else ""
        self.emit("sql.exec", f"{text}{times} — {rows:,} row(s) written{origin}")


class Database:
    """A connection plus the state of the current write batch."""

    def __init__(
        self,
        path: Path | None,
        limits: Limits,
        loop: asyncio.AbstractEventLoop,
        on_batch_lost: Callable[[BaseException], None] | None = None,
        log_emit: Callable[[str, str], object] | None = None,
    ) -> None:
        self.path = path
        self.limits = limits
        self.loop = loop
        self.on_batch_lost = on_batch_lost
        # Flushed just before a batch commits, so the log shows writes before their commit.
        self.log_run = LogRun(log_emit)
        # APSW never begins a transaction implicitly: we issue BEGIN/COMMIT ourselves.
        self.conn = apsw.Connection(
            ":memory:" if path is None else str(path), statementcachesize=512
        )
        # Wait for another connection's lock (e.g. a notebook reading the file with sqlite3)
        # as Python's sqlite3 did by default, instead of failing at once with SQLITE_BUSY.
        self.conn.set_busy_timeout(5_000)
        self.auth = Authorizer()
        self.batch_open = False
        self.commit_scheduled = False
        self.savepoints: list[str] = []
        self._savepoint_seq = 0
        # State kept outside SQLite that a rollback must undo too (the scheduled alarm):
        # (take a snapshot, restore it) pairs, and the snapshots taken at each savepoint.
        self.snapshot_hooks: list[tuple[Callable[[], Any], Callable[[Any], None]]] = []
        self._snapshots: dict[str, list[Any]] = {}
        self.closed = False
        self._configure()

    def _configure(self) -> None:
        conn = self.conn
        # fetchall() everywhere: some PRAGMAs answer a row, and a statement left unfinished
        # would stay active until its cursor is collected.
        if self.path is not None:
            conn.execute(tag("PRAGMA journal_mode=WAL")).fetchall()
            conn.execute(tag("PRAGMA synchronous=NORMAL")).fetchall()
        conn.execute(tag("PRAGMA foreign_keys=ON")).fetchall()  # the platform enforces them
        page_size = self.scalar("PRAGMA page_size")
        max_pages = max(1, self.limits.max_storage_bytes // page_size)
        conn.execute(tag(f"PRAGMA max_page_count={max_pages}")).fetchall()
        conn.limit(apsw.SQLITE_LIMIT_SQL_LENGTH, self.limits.max_sql_statement_bytes)
        conn.limit(apsw.SQLITE_LIMIT_VARIABLE_NUMBER, self.limits.max_sql_bindings)
        conn.limit(apsw.SQLITE_LIMIT_COLUMN, self.limits.max_sql_columns)
        for name, value in _FIXED_LIMITS.items():
            conn.limit(getattr(apsw, name), value)
        conn.authorizer = self.auth

    # --- the write batch ---------------------------------------------------------------------

    def begin_write(self) -> None:
        """Make sure a batch is open; the first write of a turn schedules its commit."""
        if self.batch_open:
            return
        if self.closed:
            raise StorageError(
                "This object's storage is closed (its sandbox was closed). Make a new Sandbox "
                "(with the same persist= folder to find the data again)."
            )
        self.conn.execute(_BEGIN)
        self.batch_open = True
        if self.snapshot_hooks:  # what discard_batch() restores
            self._snapshots[_BATCH] = [take() for take, _ in self.snapshot_hooks]
        self.schedule_commit()

    def schedule_commit(self) -> None:
        # Only inside the sandbox loop: writes from outside (handles) commit explicitly.
        if not self.commit_scheduled and _get_running_loop() is self.loop:
            self.commit_scheduled = True
            self.loop.call_soon(self._turn_commit)

    def _turn_commit(self) -> None:
        self.commit_scheduled = False
        self.commit()

    def check_outside_write(self) -> None:
        """A write from outside the object (a handle) must not join a running transaction()."""
        if self.savepoints:
            raise TransactionError(
                "This object is inside storage.transaction() right now; writing from outside "
                "would join its transaction. Let the call finish first (move the clock)."
            )

    def commit(self) -> None:
        """Commit the open batch unless a transaction() is still running inside it."""
        if not self.batch_open or self.savepoints or self.closed:
            return
        if self.log_run.query is not None:
            self.log_run.flush()
        try:
            self.conn.execute(_COMMIT)
        except apsw.Error as exc:
            self._batch_lost(exc)
            raise sqlite_error(exc, self.auth) from exc
        self.batch_open = False
        self._snapshots.pop(_BATCH, None)

    def discard_batch(self) -> bool:
        """Roll back the open batch (a reset before it committed); True if there was one.

        On the platform a reset breaks the output gate and writes not yet confirmed are lost.
        """
        if not self.batch_open or self.closed:
            return False
        if self.conn.in_transaction:
            self.conn.execute(_ROLLBACK)
        self.batch_open = False
        self.savepoints.clear()
        snapshots = self._snapshots.get(_BATCH, ())
        for (_, restore), snapshot in zip(self.snapshot_hooks, snapshots, strict=False):
            restore(snapshot)
        self._snapshots.clear()
        return True

    def check_batch(self, exc: BaseException) -> None:
        """After a failed statement: did SQLite roll the whole batch back (e.g. SQLITE_FULL)?"""
        if self.batch_open and not self.conn.in_transaction:
            self._batch_lost(exc)

    def _batch_lost(self, exc: BaseException) -> None:
        if self.conn.in_transaction:
            self.conn.execute(_ROLLBACK)
        self.batch_open = False
        self.savepoints.clear()
        if self.on_batch_lost is not None:
            self.on_batch_lost(exc)

    # --- savepoints (storage.transaction / transaction_sync) ---------------------------------

    def savepoint(self) -> str:
        self.begin_write()
        self._savepoint_seq += 1
        name = f"_cf_txn{self._savepoint_seq}"
        self.conn.execute(tag(f"SAVEPOINT {name}"))
        self.savepoints.append(name)
        if self.snapshot_hooks:
            self._snapshots[name] = [take() for take, _ in self.snapshot_hooks]
        return name

    def rollback_to(self, name: str) -> None:
        if name in self.savepoints and self.conn.in_transaction:
            self.conn.execute(tag(f"ROLLBACK TO {name}"))
            snapshots = self._snapshots.get(name, ())
            for (_, restore), snapshot in zip(self.snapshot_hooks, snapshots, strict=False):
                restore(snapshot)

    def release(self, name: str) -> None:
        if name not in self.savepoints:
            return  # already gone with its batch
        index = self.savepoints.index(name)
        if self.conn.in_transaction:
            self.conn.execute(tag(f"RELEASE {name}"))
        for released in self.savepoints[index:]:
            self._snapshots.pop(released, None)
        del self.savepoints[index:]
        if not self.savepoints and self.batch_open:
            self.schedule_commit()

    # --- helpers -----------------------------------------------------------------------------

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self.conn.execute(tag(sql), params).fetchall()
        return rows[0][0] if rows else None

    def size_bytes(self) -> int:
        """(page_count − freelist_count) × page_size, as ``sql.databaseSize`` reports.

        At least one page: workerd's database always has its header page (a fresh object
        reports 4096), while SQLite writes page 1 only with the first table.
        """
        pages = self.scalar("PRAGMA page_count")
        free = self.scalar("PRAGMA freelist_count")
        return int(max(pages - free, 1) * self.scalar("PRAGMA page_size"))

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self.batch_open and self.conn.in_transaction:
                if self.savepoints:  # a transaction() never finished: it must not half-apply
                    self.conn.execute(_ROLLBACK)
                else:
                    self.conn.execute(_COMMIT)
        finally:
            self.batch_open = False
            self.savepoints.clear()
            self.closed = True
            self.conn.close()


def sqlite_error(exc: BaseException, auth: Authorizer | None = None) -> StorageError:
    """A typed error for a failed statement, with SQLite's message and code name."""
    if auth is not None and auth.denial is not None:
        denial, auth.denial = auth.denial, None  # read once: the next statement starts clean
        if denial.startswith("no such function:"):  # a function the platform lacks: its error
            return SqlError(denial)
        return SqlNotAuthorizedError(denial)
    name = error_name(exc)
    message = str(exc)
    if message == "cannot VACUUM from within a transaction":  # user SQL runs inside a batch
        return SqlNotAuthorizedError(VACUUM_MESSAGE)
    if name == "SQLITE_FULL":
        return StorageLimitError(
            f"{message}: SQLITE_FULL. This object's database reached its storage limit "
            "(Limits.max_storage_bytes; 10 GB per object on the platform). The write batch "
            "was rolled back. Delete data you no longer need (storage.delete, DELETE FROM) or "
            "spread data over more objects."
        )
    if name == "SQLITE_TOOBIG" or message in ("string or blob too big", "statement too long"):
        return StorageLimitError(
            f"{message}: SQLITE_TOOBIG. The platform limits a row, string or BLOB to 2 MB and "
            "a statement to 100 KB; split the data or the statement."
        )
    if name is not None:
        parts = name.split("_")
        # workerd's shape: "UNIQUE constraint failed: t.x: SQLITE_CONSTRAINT (extended: ...)"
        suffix = f"{parts[0]}_{parts[1]} (extended: {name})" if len(parts) > 2 else name
        return SqlError(f"{message}: {suffix}")
    return SqlError(message)


def error_name(exc: BaseException) -> str | None:
    """SQLite's name for an APSW error's result code (extended if it has one), or None.

    E.g. ``SQLITE_CONSTRAINT_PRIMARYKEY``, ``SQLITE_FULL``; None for errors that did not come
    from SQLite (``apsw.BindingsError``, ``OverflowError``...).
    """
    # Both tables map code → name and name → code; a primary code (SQLITE_ERROR, SQLITE_FULL)
    # is only in the second.
    for table, code in (
        (apsw.mapping_extended_result_codes, getattr(exc, "extendedresult", None)),
        (apsw.mapping_result_codes, getattr(exc, "result", None)),
    ):
        name = table.get(code) if type(code) is int else None
        if isinstance(name, str):
            return name
    return None
