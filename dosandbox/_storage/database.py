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

Bounded resources: a persisted database holds three file descriptors (the file, ``-wal``,
``-shm``) while open, so one sandbox keeps at most ``Limits.max_open_databases`` open (a
:class:`DatabasePool`, least recently used first) and closes idle ones; an evicted object's
database is closed too (in memory, its pages are kept as compressed bytes: a connection costs
~90 KiB).
A closed database reopens on its next use: what its owners hold (``storage._conn``, cursors)
is swapped for stand-ins that reopen it, so code holding ``ctx.storage`` never notices. A
database with an open write batch or transaction is never closed.

One writer per persist folder: a :class:`FolderLock` (``flock`` on ``.dosandbox.lock``) makes
a second sandbox on the same folder fail at once, naming the holder; two writers would lose
each other's updates and fire each persisted alarm twice. The OS drops the lock when the
holder's process ends, however it ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import os
import sys
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import apsw

try:
    import fcntl
except ImportError:  # Windows: no flock, so the folder is not locked there
    fcntl = None  # type: ignore[assignment]

from .._core.errors import (
    SqlError,
    SqlNotAuthorizedError,
    StorageError,
    StorageLimitError,
    TransactionError,
)
from .authorizer import INTERNAL_TAG, KEPT_MODULES, VACUUM_MESSAGE, Authorizer

if TYPE_CHECKING:
    from .._core.limits import Limits

__all__ = [
    "Database", "DatabasePool", "FolderLock", "error_name", "pool_for", "read_metadata",
    "sqlite_error",
]

_get_running_loop = asyncio._get_running_loop


def tag(sql: str) -> str:
    """Mark a statement as the storage's own (see authorizer.INTERNAL_TAG).

    In front: SQLite stores a CREATE statement from its CREATE keyword on, so the mark never
    reaches ``sqlite_master``, which user SQL may read.
    """
    return INTERNAL_TAG + sql


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
        pool: DatabasePool | None = None,
    ) -> None:
        self.path = path
        self.limits = limits
        self.loop = loop
        self.on_batch_lost = on_batch_lost
        # Flushed just before a batch commits, so the log shows writes before their commit.
        self.log_run = LogRun(log_emit)
        self.conn: Any = None  # set by _connect(); a _StandIn while suspended
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
        # Closed while idle (see suspend()); in memory, its pages meanwhile.
        self.suspended = False
        self._image: bytes | None = None
        self._pool = pool
        # Owners' hooks, run after every (re)connect and suspend: they re-read ``conn``.
        self.on_connect: list[Callable[[], None]] = []
        # The point-in-time recovery log (history.History), told of each commit and rollback.
        self.history: Any = None
        self._connect()

    def _connect(self) -> None:
        """Open the connection (again after suspend()) and configure it; typed errors."""
        path = self.path
        previous = self.conn  # kept if this fails: a stand-in then stays one
        try:
            # APSW never begins a transaction implicitly: we issue BEGIN/COMMIT ourselves.
            conn = apsw.Connection(
                ":memory:" if path is None else str(path), statementcachesize=512
            )
        except apsw.Error as exc:
            raise _open_error(path, exc) from exc
        try:
            # Wait for another connection's lock (e.g. a notebook reading the file with
            # sqlite3) as Python's sqlite3 did by default, instead of failing with SQLITE_BUSY.
            conn.set_busy_timeout(5_000)
            if self._image is not None:
                conn.deserialize("main", zlib.decompress(self._image))
            self.conn = conn
            self._configure()
        except apsw.Error as exc:
            self.conn = previous
            conn.close()
            raise _open_error(path, exc) from exc
        self._image = None
        self.suspended = False
        if self._pool is not None:
            self._pool.opened(self)

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
        conn.drop_modules(KEPT_MODULES)  # no dbstat (it lists _cf_KV and its size), as workerd
        conn.authorizer = self.auth
        # A Python call every few ms of a long statement: Ctrl-C and the CPU limit reach it.
        from .._core.cpulimit import SQL_PROGRESS_STEPS, sql_progress

        conn.set_progress_handler(sql_progress, SQL_PROGRESS_STEPS)

    # --- closing while idle, reopening on use ------------------------------------------------

    @property
    def idle(self) -> bool:
        """Open, with no write batch, transaction or unfinished read (an open cursor holds
        a read transaction): closing it now loses nothing."""
        return not (self.suspended or self.closed or self.batch_open
                    or self.conn.txn_state() != apsw.SQLITE_TXN_NONE)

    def suspend(self) -> bool:
        """Close the connection of an idle database; it reopens on its next use.

        In memory the data lives only in the connection, so its pages are kept as bytes,
        compressed (a small database's pages are mostly free space: 8 KiB become ~200 bytes;
        nothing for a database without tables). Returns False if it is not idle.
        """
        if not self.idle:
            return False
        conn = self.conn
        if self.path is None and conn.execute(tag("SELECT 1 FROM sqlite_master")).fetchall():
            self._image = zlib.compress(conn.serialize("main"), 1)
        conn.close()
        self.conn = self.stand_in(lambda: self.conn)
        self.suspended = True
        if self._pool is not None:
            self._pool.closed(self)
        for bind in self.on_connect:
            bind()
        return True

    def resume(self) -> None:
        """Reopen a suspended database (a stand-in's first use calls this)."""
        if not self.suspended:
            return
        if self.closed:
            raise StorageError(
                "This object's storage is closed (its sandbox was closed). Make a new Sandbox "
                "(with the same persist= folder to find the data again)."
            )
        self._connect()
        for bind in self.on_connect:
            bind()

    def stand_in(self, current: Callable[[], Any]) -> Any:
        """What an owner holds instead of the connection or a cursor while suspended."""
        return _StandIn(self, current)

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
        if self.history is not None:
            self.history.begun()
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
        if self._pool is not None:  # after every event (before_output): recently used
            self._pool.touch(self)
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
        if self.history is not None:
            self.history.committed()

    def discard_batch(self) -> bool:
        """Roll back the open batch (a reset before it committed); True if there was one.

        On the platform a reset breaks the output gate and writes not yet confirmed are lost.
        """
        if not self.batch_open or self.closed:
            return False
        self._roll_back_batch()
        return True

    def _roll_back_batch(self) -> None:
        """Undo the open batch in SQLite and in the state kept beside it (the alarm timer)."""
        if self.conn.in_transaction:
            self.conn.execute(_ROLLBACK)
        self.batch_open = False
        self.savepoints.clear()
        snapshots = self._snapshots.get(_BATCH, ())
        for (_, restore), snapshot in zip(self.snapshot_hooks, snapshots, strict=False):
            restore(snapshot)
        self._snapshots.clear()
        if self.history is not None:
            self.history.rolled_back()

    def check_batch(self, exc: BaseException) -> None:
        """After a failed statement: did SQLite roll the whole batch back (e.g. SQLITE_FULL)?"""
        if self.history is not None:
            self.history.statement_failed()
        if self.batch_open and not self.conn.in_transaction:
            self._batch_lost(exc)

    def _batch_lost(self, exc: BaseException) -> None:
        self._roll_back_batch()
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
        if self._pool is not None:
            self._pool.closed(self)
        if self.suspended:
            self.closed = True
            self._image = None
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


class _StandIn:
    """A suspended database's connection or cursor: any use reopens it, then forwards."""

    __slots__ = ("_current", "_db")

    def __init__(self, db: Database, current: Callable[[], Any]) -> None:
        self._db = db
        self._current = current  # the owner's attribute, real again once reopened

    def __getattr__(self, name: str) -> Any:
        self._db.resume()
        return getattr(self._current(), name)

    def __repr__(self) -> str:
        return f"<closed while idle: {self._db.path or 'in memory'}>"


class DatabasePool:
    """One sandbox's open persisted databases, least recently used first, at most ``limit``.

    Opening one more closes the least recently used idle ones; busy ones (an open batch or
    transaction) stay open, so the bound may be passed for a while but no write is cut.
    """

    __slots__ = ("_open", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._open: OrderedDict[Database, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def opened(self, db: Database) -> None:
        self._open[db] = None
        if len(self._open) > self.limit:
            for old in list(self._open):
                if len(self._open) <= self.limit:
                    break
                if old is not db:
                    old.suspend()  # removes itself through closed(); busy ones refuse

    def touch(self, db: Database) -> None:
        if db in self._open:  # not if suspended or closed
            self._open.move_to_end(db)

    def closed(self, db: Database) -> None:
        self._open.pop(db, None)


_pools: weakref.WeakKeyDictionary[Any, DatabasePool] = weakref.WeakKeyDictionary()


def pool_for(world: Any) -> DatabasePool:
    """The database pool of one sandbox's World (made on first use)."""
    pool = _pools.get(world)
    if pool is None:
        pool = _pools[world] = DatabasePool(world.limits.max_open_databases)
    return pool


def read_metadata(path: Path, key: str) -> bytes | None:
    """One ``_cf_METADATA`` value of a database file, read and closed at once (no pool).

    Used to restore alarms without keeping every database open. A file without a ``-wal``
    (closed cleanly) is opened immutable: no locks and no ``-wal``/``-shm`` files made.
    """
    leftover = any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal"))
    try:
        if leftover:  # a crash left writes in the WAL: SQLite replays them
            conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE)
        else:
            uri = path.resolve().as_uri() + "?immutable=1"
            conn = apsw.Connection(uri, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
    except apsw.Error as exc:
        raise _open_error(path, exc) from exc
    try:
        if not conn.execute(tag(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_cf_METADATA'"
        )).fetchall():
            return None
        rows = conn.execute(tag("SELECT value FROM _cf_METADATA WHERE key = ?"), (key,))
        found: Any = rows.fetchall()
        return bytes(found[0][0]) if found else None
    except apsw.Error as exc:
        raise _open_error(path, exc) from exc
    finally:
        conn.close()


def _open_error(path: Path | None, exc: BaseException) -> StorageError:
    """The typed error for a database file SQLite cannot open or read."""
    if path is None:
        return StorageError(f"An in-memory database could not be opened: {exc}.")
    name = error_name(exc) or type(exc).__name__
    if isinstance(exc, (apsw.NotADBError, apsw.CorruptError)):
        return StorageError(
            f"{path} is not a SQLite database ({exc}: {name}), but it is where this "
            "object's storage is kept. Move the file away (the object then starts empty) or "
            "put back the database it replaced; keep other files out of the persist= folder.",
            path=str(path),
        )
    return StorageError(
        f"{path} cannot be opened as this object's database ({exc}: {name}). Check that the "
        "file and its folder are readable and writable, or pick another persist= folder.",
        path=str(path),
    )


LOCK_NAME = ".dosandbox.lock"
# Folders this process holds, so a second opener can tell a sandbox of its own apart.
_held: dict[str, weakref.ref[FolderLock]] = {}


class FolderLock:
    """The one writer of a persist folder: an exclusive ``flock`` on ``<folder>/.dosandbox.lock``.

    The file says who holds it (pid, since when, the command), for the second opener's
    message only: the lock itself is the kernel's, released when the holder closes it or its
    process ends (a crash too), so a stale file never blocks anybody.

    Within one process the newer opener takes the folder over: the holder's
    ``release_holder`` (its sandbox's close) runs first, and ``took_over`` says so. That is a
    notebook cell re-run (``sb = Sandbox(persist=...)`` again): the old sandbox is closed, so
    nothing writes the folder twice; another process still gets the typed error.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._key = str(folder.resolve())
        self._file: IO[str] | None = None
        # Set by the owner: how to close it when a newer opener in this process takes over.
        self.release_holder: Callable[[], None] | None = None
        self.took_over = False
        if fcntl is None:
            return
        try:
            file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        except OSError as exc:
            raise StorageError(
                f"{self.path} cannot be created ({exc.strerror or exc}): the persist= folder "
                "must be writable. Fix its permissions or pick another folder.",
                path=str(self.path),
            ) from None
        if not self._try_lock(file):
            held = _held.get(self._key)
            holder = held() if held is not None else None
            if holder is not None:
                if holder.release_holder is not None:
                    holder.release_holder()  # a re-run cell: close the older sandbox
                    self.took_over = True
                else:
                    gc.collect()  # a sandbox of ours that nothing refers to any more lets go
            del holder
            if not self._try_lock(file):
                file.seek(0)
                owner = file.read(500).strip()
                file.close()
                raise self._held_error(owner)
        file.seek(0)
        file.truncate()
        started = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        file.write(f"pid {os.getpid()} since {started}: {' '.join(sys.argv)[:300]}\n")
        file.flush()
        self._file = file
        _held[self._key] = weakref.ref(self)

    @staticmethod
    def _try_lock(file: IO[str]) -> bool:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:  # a file system without flock (some network mounts): unlocked
            return True
        return True

    def _held_error(self, owner: str) -> StorageError:
        folder = self.path.parent
        pid = owner.split()[1] if owner.startswith("pid ") else "?"
        if pid == str(os.getpid()):
            who = f"another Sandbox in this process ({owner or 'pid ' + pid})"
            fix = "Call .close() on that sandbox first (or open it with `with Sandbox(...)`)"
        else:
            who = f"another process ({owner or 'unknown'})"
            fix = ("Close that sandbox (sb.close()) or stop that process first; a process that "
                   "ended, even by a crash, lets go at once")
        return StorageError(
            f"The persist folder {folder} is in use by {who}. Two sandboxes writing one folder "
            f"would lose each other's updates and fire each persisted alarm twice. {fix}, or "
            "use another persist= folder.",
            path=str(folder),
            holder=owner,
        )

    def release(self) -> None:
        """Let go (Sandbox.close(); the OS does it too when the process ends)."""
        file, self._file = self._file, None
        if file is None:
            return
        held = _held.get(self._key)
        if held is not None and held() is self:
            del _held[self._key]
        file.close()  # closing the descriptor releases the flock

    def __del__(self) -> None:
        # Collected unclosed (a forgotten sandbox): only close the file, which lets go; _held
        # drops its dead reference by itself (and module globals may be gone at exit).
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()


def sqlite_error(
    exc: BaseException, auth: Authorizer | None = None, statement: str | None = None
) -> StorageError:
    """A typed error for a failed statement, with SQLite's message and code name.

    Where SQLite knows the token it stopped at, the message says so as workerd does ("near
    "SELEC": syntax error at offset 0: SQLITE_ERROR"); given the user's ``statement``, the
    lines after it show that statement with a caret under the token, and the fix.
    """
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
        offset = getattr(exc, "error_offset", -1)
        at = f" at offset {offset}" if type(offset) is int and offset >= 0 else ""
        text = f"{message}{at}: {suffix}"
        if statement and (at or message == "incomplete input"):
            text += "\n" + _show_statement(statement, offset if at else -1, message)
        elif statement and message.startswith("no such table: "):
            text += "\n" + _fix(message)
        return SqlError(text)
    return SqlError(message)


_SHOWN = 76  # characters of a long line shown around the token


def _show_statement(statement: str, offset: int, message: str) -> str:
    """The line of ``statement`` holding byte ``offset`` (the end if -1), a caret, the fix."""
    data = statement.encode("utf-8", "surrogatepass")
    at = len(statement) if offset < 0 else len(data[:offset].decode("utf-8", "ignore"))
    start = statement.rfind("\n", 0, at) + 1
    end = statement.find("\n", at)
    line = statement[start : len(statement) if end < 0 else end].replace("\t", " ").rstrip()
    column = at - start
    if len(line) > _SHOWN:
        left = max(0, min(column - _SHOWN // 3, len(line) - _SHOWN))
        head = "…" if left else ""
        tail = "…" if left + _SHOWN < len(line) else ""
        column += len(head) - left
        line = head + line[left : left + _SHOWN] + tail
    where = f"   (line {statement.count(chr(10), 0, start) + 1})" if "\n" in statement else ""
    shown = f"    {line}{where}"
    if offset >= 0:
        shown += f"\n    {' ' * column}^"
    return f"{shown}\n{_fix(message)}"


def _fix(message: str) -> str:
    if message == "incomplete input":
        return (
            "The statement ends too early: close every parenthesis and quote, and finish its "
            "last clause."
        )
    if message.startswith("no such column"):
        return (
            "Check the name against the table's columns (PRAGMA table_info(t) lists them); "
            'text in double quotes is a name, so write strings in single quotes: \'text\'.'
        )
    if message.startswith(("no such function", "wrong number of arguments")):
        return "Check the function's name and how many arguments it takes."
    if message == "no such table: dbstat":
        return "The platform's SQLite has no dbstat; ctx.sql.database_size gives the size in bytes."
    if message.startswith("no such table"):
        return (
            "Check the name (SELECT name FROM sqlite_master lists the tables) or create the "
            "table first (CREATE TABLE IF NOT EXISTS ...)."
        )
    if "already exists" in message:
        return "Use CREATE ... IF NOT EXISTS, or DROP the old one first."
    return (
        "Check the spelling just before the marked token: a typo, a missing comma or "
        'parenthesis, or a keyword used as a name (quote it: "order").'
    )


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
