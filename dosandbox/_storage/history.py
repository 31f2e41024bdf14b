"""Point-in-time recovery: one object's change log, bookmarks, and its state at any entry.

Sources: Cloudflare's SQLite storage API page (``getCurrentBookmark``, ``getBookmarkForTime``,
``onNextSessionRestoreBookmark``) and the glossary's "bookmark": a bookmark names a state of
the object's database at a point in time, bookmarks compare in time order as plain strings,
any time in the last 30 days can be restored, the restore happens when the object next starts
and returns a bookmark that undoes it. workerd itself does not implement it locally (it returns
a zero bookmark and refuses the other two calls); the sandbox implements what the docs say.

How it is kept: a change log, not a copy per write. Each committed write batch adds one
:class:`Entry` holding what that batch changed:

* KV writes as the rows they wrote (``(key, encoded value)`` or ``(key, None)`` for a
  delete), noted by storage in Python as it writes them (a list append per write);
* user SQL tables as the rows each change left, caught by SQLite's pre-update hook
  (``(table, old rowid, new rowid, old row, new row)``, marshalled once at commit). The
  session extension was tried first: its ``changeset()`` prepares a statement per table on
  every commit (~50 µs), more than the write itself; and per row it costs ~0.9 µs, no less
  than the hook. A batch whose capture cannot be trusted (a statement failed after changing
  rows, a table with VIRTUAL generated columns, whose rows the hook cannot read) keeps an
  image instead;
* in a big batch (past its first ``_LEAN_AFTER`` rows) plain rowid tables only by rowid: the
  hook notes the rowids a row change names, and at commit one query a table reads those rows
  back, as SQLite returns them (``_READ_BACK`` entries). Reading a row's values inside the
  hook (``update.new``) was ~0.7 of its ~1.2 µs a row; the rows as they are at commit are
  what replay needs (each row's last state), and a rowid noted needlessly reads back as it
  was. Small batches keep the values: the query would cost more than it saves;
* the alarm's time as the batch left it.

A batch that changed the schema (CREATE/ALTER/DROP, ``delete_all``) keeps an *image* (the
database file, compressed with LZ4: zlib took ~6× as long, inside the write path) instead,
and so does an entry every few MiB of changes, so that rebuilding a state replays a bounded
stretch of the log: the newest image at or before the entry, then the KV rows and row
changes after it, merged to each row's last state and written once (with triggers off: the
log holds what they wrote). The log is bounded
by the 30-day window on the virtual clock and by ``Limits.max_history_bytes``: the oldest
entries go first, the first kept one becoming an image of its state.

Persisted sandboxes keep the log beside the objects, in ``<persist>/.dosandbox-history.db``
(one file and connection per sandbox), so bookmarks survive a restart. Each reopen starts
the log again from an image (see History.__init__: a crash between a commit and its log entry
loses that entry, and deltas after it would be replayed without it).

``sb.rewind(cp)`` forgets the entries after the checkpoint's (``drop_after``); the bookmarks of
the discarded future are told apart from the entries that reuse their seqs by ``forks``.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import marshal
import re
import zlib
from collections.abc import Callable, Iterable
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apsw
import lz4.block

from .._core.clock import describe_ms
from .._core.errors import BookmarkError, StorageError

if TYPE_CHECKING:
    from .database import Database

__all__ = [
    "WINDOW_MS", "ZERO_BOOKMARK", "Entry", "History", "HistoryStore", "store_for",
]

WINDOW_MS = 30 * 86_400_000  # the platform's point-in-time recovery window
# What workerd's local back-end answers for getCurrentBookmark() (it keeps no history).
ZERO_BOOKMARK = "00000000-00000000-00000000-" + "0" * 32
_BOOKMARK = re.compile(r"([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{16})([0-9a-f]{16})\Z")
_EXAMPLE = "0000019a-2b3c4d5e-0000002a-…"
# Changes between images: at least this many bytes of log, or the image's own size.
_IMAGE_EVERY = 1 << 20
_TRIM_AT_LEAST = 64  # entries dropped at once for the window (rebasing replays the log)
# Marks an entry's ``sql`` as marshalled row changes (older logs hold session changesets).
_ROWS = b"dsrows1\0"
# ... and a big batch's rowid tables read back at commit: (changes, ((table, rows, gone), ...)).
_READ_BACK = b"dsrows2\0"
_SCHEMA_VERSION = "PRAGMA schema_version"
_KV_PUT = "INSERT OR REPLACE INTO _cf_KV (key, value) VALUES (?, ?)"
_HOOK_ID = "dosandbox-history"
# Rows a batch notes in full before its rowid tables are noted by rowid only (see _hook_for).
_LEAN_AFTER = 64
_READ_BACK_CHUNK = 50_000  # rowids a read-back query names: ≤ 21 bytes each in JSON, ≤ ~1 MB
# The user tables whose rows can be read back by rowid: plain rowid tables, no hidden or
# generated columns, no column shadowing _rowid_ (what _RowReplay writes back).
_LEAN_TABLES = (
    "SELECT l.name FROM pragma_table_list AS l WHERE l.schema = 'main' AND l.type = 'table' "
    "AND NOT l.wr AND l.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
    "AND l.name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND NOT EXISTS (SELECT 1 FROM "
    "pragma_table_xinfo(l.name) AS x WHERE x.hidden != 0 OR lower(x.name) = '_rowid_')"
)
_KV_DELETE = "DELETE FROM _cf_KV WHERE key = ?"
# Marks an image compressed with LZ4 (its raw size follows, 4 bytes little-endian); older logs
# hold zlib images, which start with 0x78 and still read (see unpack_image).
_LZ4 = b"dslz4\0"
_LZ4_MAX = 0x7E000000  # LZ4's largest block (~2 GiB): a bigger database keeps a zlib image


class Entry:
    """One committed write batch (or the start, a restore, a rebased first entry)."""

    __slots__ = ("alarm_ms", "event_seq", "image", "kind", "kv", "seq", "size", "sql", "time_ms")

    def __init__(
        self,
        seq: int,
        time_ms: int,
        event_seq: int,
        kind: str,
        alarm_ms: int | None,
        kv: tuple[tuple[str, bytes | None], ...] | None = None,
        sql: bytes | None = None,
        image: bytes | None = None,
    ) -> None:
        self.seq = seq
        self.time_ms = time_ms
        self.event_seq = event_seq  # the first event of its batch (the log's seq)
        self.kind = kind  # "start", "write", "schema", "restore", "rewind"
        self.alarm_ms = alarm_ms
        self.kv = kv
        self.sql = sql
        self.image = image  # compressed database bytes; b"" is an empty database
        self.size = _size(kv, sql, image)

    def __repr__(self) -> str:
        return f"<Entry #{self.seq} {self.kind} at {describe_ms(self.time_ms)}>"


def _size(
    kv: tuple[tuple[str, bytes | None], ...] | None, sql: bytes | None, image: bytes | None
) -> int:
    size = 64  # the entry itself
    if kv:
        for key, value in kv:  # a loop: most batches hold one row, a generator costs more
            size += len(key) + 16 if value is None else len(key) + len(value) + 16
    if sql:
        size += len(sql)
    if image:
        size += len(image)
    return size


class History:
    """One object's entries, the hook that notes its SQL row changes, its bookmarks."""

    def __init__(
        self,
        key: str,
        db: Database,
        *,
        now_ms: Callable[[], int],
        event_seq: Callable[[], int],
        alarm_ms: Callable[[], int | None],
        limit_bytes: int,
        store: HistoryStore | None = None,
        store_key: str = "",
    ) -> None:
        self.key = key  # the object's id (hex): bookmarks carry it
        self._db = db
        self._now_ms = now_ms
        self._event_seq = event_seq
        self._alarm_ms = alarm_ms
        self.limit_bytes = limit_bytes
        self._store = store
        self._store_key = store_key
        self.kv: list[tuple[str, bytes | None]] = []  # the open batch's KV rows, in order
        # The open batch's user-table changes: (table, old rowid, new rowid, old, new).
        self.rows: list[tuple[Any, ...]] = []
        # A big batch's rowid tables: table → the rowids it changed, read back at commit.
        self._lean: dict[str, list[int]] = {}
        self._lean_tables: frozenset[str] = frozenset()  # which tables can be (see bind)
        self._lean_schema: int | None = None  # the schema version they were listed at
        self._hook = self._hook_for()  # noting rows into self.rows (see bind)
        self.hooked = False  # is it on now?
        self.schema_dirty = False  # storage made or dropped its own tables in this batch
        self.needs_image = False  # the rows above cannot be trusted: keep an image
        self._batch_event = 0
        self._cursor: Any = None
        self._schema = 0
        self.entries: list[Entry] = []
        self._times: list[int] = []
        self.total = 0
        self._since_image = 0
        self._image_size = 0
        # sb.rewind() discarded the entries after each of these seqs (see _mac): a bookmark of
        # a discarded future never names the entry that reused its seq, earlier ones work.
        self.forks: list[int] = []
        self.pending: int | None = None  # seq of a restore waiting for the next start
        loaded = store.load(store_key) if store is not None else None
        if loaded is not None:
            entries, self.forks, self.pending = loaded
            for entry in entries:
                self._append(entry, store=False)
        self.bind()
        if not self.entries:
            self._append(Entry(0, now_ms(), event_seq() + 1, "start", alarm_ms(),
                               image=self._take_image()))
        elif not db.suspended:
            # A batch's entry reaches the history file just after the batch commits (two
            # files: no transaction spans both), so a crash between them leaves a batch the
            # log lacks. Reopened, the log goes on from an image of the database as it is:
            # states from here on are exact whatever happened; earlier bookmarks still work.
            last = self.entries[-1]
            self._append(Entry(last.seq + 1, max(now_ms(), last.time_ms), event_seq() + 1,
                               "start", alarm_ms(), image=self._take_image()))

    # --- recording ---------------------------------------------------------------------------

    def bind(self) -> None:
        """Hook the database's connection (again after a reopen) to note user-table changes."""
        if self._db.suspended:
            return
        conn = self._db.conn
        # The row hook is on only while user SQL runs (sql.py turns it on, KV writes off):
        # SQLite calls it for every row written, ~3 µs a row even when it returns at once,
        # and KV rows are noted by storage itself. Writes never stream (sql.py runs a write
        # to its end inside exec), so no user row is written while it is off.
        self.hooked = False
        conn.preupdate_hook(None, id=_HOOK_ID)
        # Reused: a cursor per commit costs more than the query it runs.
        self._cursor = conn.cursor()
        self._schema = self._schema_version()
        self._lean_schema = None  # another database maybe (a restore): list them again
        self._lean.clear()

    def hook_on(self) -> None:
        """User SQL is about to run: note the rows it writes."""
        self._db.conn.preupdate_hook(self._hook, id=_HOOK_ID)
        self.hooked = True

    def hook_off(self) -> None:
        """KV rows are about to be written (noted by storage): SQLite need not call back."""
        self._db.conn.preupdate_hook(None, id=_HOOK_ID)
        self.hooked = False

    def _schema_version(self) -> int:
        return int(self._cursor.execute(_SCHEMA_VERSION).fetchall()[0][0])

    def _hook_for(self) -> Callable[[Any], None]:
        rows = self.rows
        note = rows.append
        lean = self._lean

        def changed(update: Any) -> None:
            # Runs inside SQLite for every row written: as little as possible, never raising.
            table = update.table_name
            ids = lean.get(table)
            if ids is not None:  # a big batch's rowid table: rowids only (see _read_back)
                # Both, whatever the op: SQLite leaves one undefined for INSERT and DELETE,
                # and a rowid noted too many is harmless (read back, it is as it was).
                ids.append(update.rowid)
                ids.append(update.rowid_new)
                return
            if table.startswith("_cf_"):  # KV rows are noted by storage; the alarm is alarm_ms
                return
            try:
                op = update.op
                if op == "INSERT":
                    note((table, None, update.rowid_new, None, update.new))
                elif op == "DELETE":
                    note((table, update.rowid, None, update.old, None))
                else:
                    note((table, update.rowid, update.rowid_new, update.old, update.new))
            except apsw.Error:  # e.g. VIRTUAL generated columns: the row cannot be read
                self.needs_image = True
            if len(rows) == _LEAN_AFTER and not lean:
                # A big batch: reading each row's values here (update.new) is most of what a
                # row costs, ~0.7 µs; its rowid is enough when the rows are read back at
                # commit, in one query a table. Small batches keep the values (no query).
                for name in self._lean_tables:
                    lean[name] = []

        return changed

    def _list_lean_tables(self) -> None:
        """Which user tables a big batch notes by rowid (again after every schema change)."""
        if self._lean_schema != self._schema:
            self._lean_tables = frozenset(
                name for (name,) in self._cursor.execute(_LEAN_TABLES).fetchall())
            self._lean_schema = self._schema

    def _read_back(self) -> tuple[tuple[str, list[tuple[Any, ...]], list[int]], ...]:
        """The rows the big batch changed in its rowid tables, as they are now (the state the
        batch left them in, what replay needs): (table, the rows there as (rowid, *values),
        the rowids gone) a table. Kept as SQLite returns them: no Python work a row."""
        blocks = []
        cursor = self._cursor
        for table, ids in self._lean.items():
            if not ids:
                continue
            wanted = set(ids)
            name = _quote(table)
            low, high = min(wanted), max(wanted)
            if high - low + 1 == len(wanted):  # every rowid of a range (inserts, mostly)
                found = cursor.execute(
                    f"SELECT _rowid_, * FROM {name} WHERE _rowid_ BETWEEN ? AND ?", (low, high)
                ).fetchall()
            else:  # in chunks: one JSON binding must stay under SQLITE_LIMIT_LENGTH (2 MB)
                ordered = sorted(wanted)
                found = []
                for at in range(0, len(ordered), _READ_BACK_CHUNK):
                    found += cursor.execute(
                        f"SELECT _rowid_, * FROM {name} WHERE _rowid_ IN "
                        "(SELECT value FROM json_each(?))",
                        (json.dumps(ordered[at : at + _READ_BACK_CHUNK]),),
                    ).fetchall()
            gone = [] if len(found) == len(wanted) else sorted(
                wanted.difference(map(itemgetter(0), found)))
            blocks.append((table, found, gone))
        return tuple(blocks)

    def begun(self) -> None:
        """A write batch opened: its entry belongs to the events from here on."""
        self._batch_event = self._event_seq() + 1

    def mark(self) -> tuple[int, int]:
        """How many KV rows and row changes the open batch holds (a savepoint's snapshot)."""
        return len(self.kv), len(self.rows)

    def truncate(self, mark: Any) -> None:
        """A savepoint or the batch rolled back: forget the rows written since."""
        kv, rows = mark or (0, 0)
        del self.kv[kv:]
        del self.rows[rows:]

    def statement_failed(self) -> None:
        """A statement failed: SQLite may have undone some of the rows the hook saw (or, with
        ON CONFLICT FAIL, kept them); only an image says surely what the batch left."""
        if self.rows or self._lean:
            self.needs_image = True

    def rolled_back(self) -> None:
        """The whole batch was rolled back: nothing of it happened."""
        self.kv.clear()
        self.rows.clear()
        self._lean.clear()
        self.schema_dirty = self.needs_image = False
        self._db.auth.schema_touched = False

    def committed(self) -> None:
        """The batch committed: add its entry (nothing if it changed nothing)."""
        # Runs after every write batch: kept lean (one put per event pays for all of it).
        schema = False
        if self.schema_dirty or self._db.auth.schema_touched:
            schema = self._schema_changed()
        untrusted = self.needs_image
        rows = self.rows
        kv = self.kv
        lean = self._lean
        alarm = self._alarm_ms()
        last = self.entries[-1]
        if not (kv or rows or lean or schema or untrusted) and alarm == last.alarm_ms:
            if self._lean_schema != self._schema:
                self._list_lean_tables()
            return
        image = schema or untrusted or self._since_image > max(_IMAGE_EVERY, self._image_size)
        sql = None
        if lean:
            if not image:
                sql = _READ_BACK + marshal.dumps((tuple(rows), self._read_back()))
            lean.clear()
        if rows:
            if not (image or sql):
                sql = _ROWS + marshal.dumps(tuple(rows))
            rows.clear()
        kv_rows = None
        if kv:
            kv_rows = tuple(kv)
            kv.clear()
        self.needs_image = False
        entry = Entry(last.seq + 1, self._now_ms(), self._batch_event or self._event_seq(),
                      "schema" if schema else "write", alarm, kv_rows, sql)
        self._batch_event = 0
        if self._lean_schema != self._schema:  # a schema change, a reopen: list them again
            self._list_lean_tables()
        if image:
            entry.kv = entry.sql = None
            entry.image = self._take_image()
            entry.size = _size(None, None, entry.image)
        self._append(entry)
        # The window moves slowly: looked at every 64 entries (and when over the size limit).
        if not entry.seq & 63 or (self.limit_bytes > 0 and self.total > self.limit_bytes):
            self._maybe_trim()

    def _schema_changed(self) -> bool:
        """Whether the batch changed the schema (user DDL, storage's own tables)."""
        self.schema_dirty = self._db.auth.schema_touched = False
        version = self._schema_version()
        if version == self._schema:
            return False
        self._schema = version
        return True

    def note_alarm(self, kind: str = "write") -> None:
        """Record the alarm if it changed with no write batch (an alarm that fired)."""
        alarm = self._alarm_ms()
        last = self.entries[-1]
        if alarm != last.alarm_ms:
            self._append(Entry(last.seq + 1, self._now_ms(), self._event_seq(), kind, alarm))

    def add_restore(self, image: bytes, kind: str) -> None:
        """The database was replaced by an earlier state: a new entry holding its image."""
        last = self.entries[-1]
        self._append(Entry(last.seq + 1, self._now_ms(), self._event_seq() + 1, kind,
                           self._alarm_ms(), image=image))
        self.kv.clear()

    def _append(self, entry: Entry, *, store: bool = True) -> None:
        self.entries.append(entry)
        self._times.append(entry.time_ms)
        self.total += entry.size
        if entry.image is not None:
            self._since_image = 0
            self._image_size = raw_size(entry.image)
        else:
            self._since_image += entry.size
        if store and self._store is not None:
            self._store.add(self._store_key, entry)

    def _take_image(self) -> bytes:
        return image_of(self._db.conn)

    # --- bounds ------------------------------------------------------------------------------

    def _maybe_trim(self) -> None:
        horizon = self._now_ms() - WINDOW_MS
        times = self._times
        # Entries before the last one at or before the horizon name states no longer current
        # at any time in the window.
        window_cut = max(0, bisect.bisect_right(times, horizon) - 1)
        over = self.limit_bytes > 0 and self.total > self.limit_bytes
        if window_cut < _TRIM_AT_LEAST and not over:
            return
        cut = window_cut
        if over:
            keep = self.limit_bytes * 3 // 4
            total, index = self.total, 0
            while index < len(self.entries) - 1 and total > keep:
                total -= self.entries[index].size
                index += 1
            cut = max(cut, index)
        if cut > 0:
            self.drop_before(cut)

    def drop_before(self, index: int) -> None:
        """Forget the entries before ``index``; that one becomes an image of its state."""
        first = self.entries[index]
        if first.image is None:
            conn = self.materialize(index)
            try:
                first.image = image_of(conn)
            finally:
                conn.close()
            first.kv = first.sql = None
            first.size = _size(None, None, first.image)
        del self.entries[:index]
        del self._times[:index]
        self.total = sum(e.size for e in self.entries)
        if self._store is not None:
            self._store.drop_before(self._store_key, first)

    def drop_after(self, index: int) -> None:
        """Forget the entries after ``index`` (sb.rewind()): their bookmarks stop working."""
        dropped = self.entries[index + 1 :]
        if not dropped:
            return
        del self.entries[index + 1 :]
        del self._times[index + 1 :]
        self.total -= sum(e.size for e in dropped)
        self.forks.append(self.entries[-1].seq)
        base = self._base(index)
        self._since_image = sum(e.size for e in self.entries[base + 1 :])
        self._image_size = raw_size(self.entries[base].image or b"")
        self.kv.clear()
        self.rows.clear()
        self._lean.clear()
        if self._store is not None:
            self._store.drop_after(self._store_key, self.entries[-1].seq)
            self._store.set_meta(self._store_key, self.forks, self.pending)

    # --- bookmarks ---------------------------------------------------------------------------

    def bookmark(self, index: int = -1) -> str:
        entry = self.entries[index]
        t = entry.time_ms
        mac = self._mac(entry)
        return f"{t >> 32:08x}-{t & 0xFFFFFFFF:08x}-{entry.seq:08x}-{self.key[:16]}{mac}"

    @property
    def branch(self) -> int:
        """How many times sb.rewind() discarded a stretch of this history."""
        return len(self.forks)

    def _mac(self, entry: Entry) -> str:
        # Forks cutting below the entry: constant while it lives (later forks that keep it cut
        # at or above it), and one more than any discarded entry of that seq counted.
        branch = sum(1 for fork in self.forks if fork < entry.seq)
        text = f"{self.key}/{branch}/{entry.seq}/{entry.time_ms}"
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def index_for_time(self, ms: int) -> int:
        """The entry current at ``ms`` (the last committed at or before it)."""
        now = self._now_ms()
        if ms > now:
            raise BookmarkError(
                f"getBookmarkForTime: {describe_ms(ms)} is in the future (the clock is at "
                f"{describe_ms(now)}); a bookmark names a state that existed. Pass a time up "
                "to now, or use get_current_bookmark()."
            )
        if ms < now - WINDOW_MS:
            raise BookmarkError(
                f"getBookmarkForTime: {describe_ms(ms)} is outside the point-in-time recovery "
                f"window: the platform keeps 30 days, back to {describe_ms(now - WINDOW_MS)} on "
                "the clock now. Pass a later time."
            )
        index = bisect.bisect_right(self._times, ms) - 1
        if index < 0:
            first = self.entries[0]
            if first.kind == "start" and first.image == b"":
                return 0  # before the object's first write it was empty, as at its start
            raise BookmarkError(
                f"getBookmarkForTime: this object's history is kept back to "
                f"{describe_ms(first.time_ms)} only (Limits.max_history_bytes="
                f"{self.limit_bytes:,} bytes, the oldest entries went first); pass a later "
                "time, or raise the limit (Sandbox(limits=Limits(max_history_bytes=...)))."
            )
        return index

    def resolve(self, bookmark: Any, what: str) -> int:
        """The index of the entry ``bookmark`` names, or the typed error saying why not."""
        if not isinstance(bookmark, str):
            raise BookmarkError(
                f"{what} takes a bookmark string (from get_current_bookmark() or "
                f"get_bookmark_for_time()), not {type(bookmark).__name__} {bookmark!r:.60}."
            )
        found = _BOOKMARK.match(bookmark)
        if found is None or bookmark == ZERO_BOOKMARK:
            raise BookmarkError(
                f"{what}: {bookmark!r:.80} is not a bookmark of this object. Bookmarks look "
                f"like {_EXAMPLE} (four groups of hex digits); get one from "
                "get_current_bookmark() or get_bookmark_for_time(t) and pass it unchanged."
            )
        high, low, seq_hex, tag, mac = found.groups()
        if tag != self.key[:16]:
            raise BookmarkError(
                f"{what}: this bookmark belongs to another Durable Object (id {tag}…), not to "
                f"{self.key[:16]}…; a bookmark restores only the object it came from. Ask "
                "this object for its own (get_bookmark_for_time(t))."
            )
        seq, ms = int(seq_hex, 16), (int(high, 16) << 32) | int(low, 16)
        index = seq - self.entries[0].seq
        entry = self.entries[index] if 0 <= index < len(self.entries) else None
        if entry is None and index < 0 and self.pending is None:
            raise BookmarkError(
                f"{what}: the state this bookmark names ({describe_ms(ms)}) is older than the "
                f"history this object keeps (back to {describe_ms(self.entries[0].time_ms)}, "
                f"Limits.max_history_bytes={self.limit_bytes:,} bytes and the 30-day window). "
                "Use a later bookmark, or raise the limit."
            )
        if entry is None or entry.time_ms != ms or self._mac(entry) != mac:
            raise BookmarkError(
                f"{what}: this bookmark names no state of this object's history: it was "
                "altered, or it came from a future that sb.rewind() discarded. Get a fresh one "
                "from get_current_bookmark() or get_bookmark_for_time(t)."
            )
        now = self._now_ms()
        until = self._times[index + 1] if index + 1 < len(self._times) else now
        if until < now - WINDOW_MS:
            raise BookmarkError(
                f"{what}: this bookmark names the state of {describe_ms(ms)}, outside the "
                f"30-day point-in-time recovery window (back to {describe_ms(now - WINDOW_MS)} "
                "on the clock now). Use a later bookmark."
            )
        return index

    def set_pending(self, index: int | None) -> None:
        self.pending = None if index is None else self.entries[index].seq
        if self._store is not None:
            self._store.set_meta(self._store_key, self.forks, self.pending)

    def pending_index(self) -> int | None:
        if self.pending is None:
            return None
        index = self.pending - self.entries[0].seq
        return index if 0 <= index < len(self.entries) else None

    # --- states ------------------------------------------------------------------------------

    def _base(self, index: int) -> int:
        entries = self.entries
        while entries[index].image is None:
            index -= 1
        return index

    def materialize(self, index: int) -> Any:
        """A new in-memory connection holding the database as it was after entry ``index``."""
        base = self._base(index)
        conn = apsw.Connection(":memory:")
        try:
            image = self.entries[base].image
            if image:
                conn.deserialize("main", unpack_image(image))
            kv: dict[str, bytes | None] = {}
            replay = _RowReplay(conn)
            for entry in self.entries[base + 1 : index + 1]:
                if entry.kv:
                    kv.update(entry.kv)
                sql = entry.sql
                if sql:
                    if sql.startswith(_ROWS):
                        replay.add(marshal.loads(sql[len(_ROWS):]))
                    elif sql.startswith(_READ_BACK):
                        changes, blocks = marshal.loads(sql[len(_READ_BACK):])
                        replay.add(changes)  # the batch's first rows: before the ones read back
                        replay.read_back(blocks)
                    else:  # a session changeset from an older log: applied in its turn
                        replay.changeset(sql)
            conn.execute("BEGIN")
            if kv:
                conn.executemany(_KV_PUT, [(k, v) for k, v in kv.items() if v is not None])
                conn.executemany(_KV_DELETE, [(k,) for k, v in kv.items() if v is None])
            replay.flush()
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    def alarm_at(self, index: int) -> int | None:
        return self.entries[index].alarm_ms

    def index_for_event(self, seq: int) -> int:
        """The entry current once event ``seq`` happened (its batch's writes included)."""
        entries = self.entries
        lo, hi = 0, len(entries)
        while lo < hi:  # entries are in event order: the last one begun at or before seq
            mid = (lo + hi) // 2
            if entries[mid].event_seq <= seq:
                lo = mid + 1
            else:
                hi = mid
        return max(0, lo - 1)


class _RowReplay:
    """The row changes of a stretch of the log, merged to each row's last state, written once.

    Written on a scratch connection holding the stretch's base image (its schema is the
    log's: a schema change makes an image), with triggers off: the log already holds the rows
    that triggers and foreign-key actions wrote.
    """

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        conn.config(apsw.SQLITE_DBCONFIG_ENABLE_TRIGGER, 0)
        self._last: dict[str, dict[Any, tuple[Any, ...] | None]] = {}
        self._keys: dict[str, tuple[int, ...] | None] = {}
        self._shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...] | None, str, str]] = {}

    def _shape(self, table: str) -> tuple[tuple[int, ...], tuple[int, ...] | None, str, str]:
        """(the written columns' positions, the key's positions or None for a rowid table,
        the upsert, the delete)."""
        shape = self._shapes.get(table)
        if shape is None:
            conn = self._conn
            columns = conn.execute(
                "SELECT name, pk, hidden FROM pragma_table_xinfo(?)", (table,)
            ).fetchall()
            (without_rowid,) = conn.execute(
                "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?", (table,)
            ).fetchone()
            written = tuple(i for i, (_, _, hidden) in enumerate(columns) if hidden == 0)
            names = [_quote(columns[i][0]) for i in written]
            name = _quote(table)
            if without_rowid:
                key = tuple(i for _, i in sorted(
                    (pk, i) for i, (_, pk, _) in enumerate(columns) if pk))
                where = " AND ".join(f"{_quote(columns[i][0])} = ?" for i in key)
                upsert = (f"INSERT OR REPLACE INTO {name} ({', '.join(names)}) "
                          f"VALUES ({', '.join('?' * len(names))})")
                shape = (written, key, upsert, f"DELETE FROM {name} WHERE {where}")
            else:
                upsert = (f"INSERT OR REPLACE INTO {name} (_rowid_, {', '.join(names)}) "
                          f"VALUES ({', '.join('?' * (len(names) + 1))})")
                shape = (written, None, upsert, f"DELETE FROM {name} WHERE _rowid_ = ?")
            self._shapes[table] = shape
        return shape

    def add(self, changes: Iterable[tuple[Any, ...]]) -> None:
        # The replay's inner loop (one pass per change of the stretch): kept flat.
        last, keys = self._last, self._keys
        for table, old_rowid, new_rowid, old, new in changes:
            rows = last.get(table)
            if rows is None:
                rows = last[table] = {}
                keys[table] = self._shape(table)[1]
            key = keys[table]
            if key is None:  # a rowid table: rows are keyed by rowid
                if old is not None and old_rowid != new_rowid:
                    rows[old_rowid] = None
                if new is not None:
                    rows[new_rowid] = new
                continue
            old_key = None if old is None else tuple(old[i] for i in key)
            new_key = None if new is None else tuple(new[i] for i in key)
            if old is not None and old_key != new_key:
                rows[old_key] = None
            if new is not None:
                rows[new_key] = new

    def read_back(self, blocks: Iterable[tuple[str, list[tuple[Any, ...]], list[int]]]) -> None:
        """Rows of rowid tables as a batch left them ((rowid, *values)) and the rowids gone."""
        last, keys = self._last, self._keys
        for table, found, gone in blocks:
            rows = last.get(table)
            if rows is None:
                rows = last[table] = {}
                keys[table] = self._shape(table)[1]
            for row in found:
                rows[row[0]] = row[1:]
            for rowid in gone:
                rows[rowid] = None

    def changeset(self, changeset: bytes) -> None:
        self.flush()
        apsw.Changeset.apply(changeset, self._conn, conflict=_conflict)

    def flush(self) -> None:
        conn = self._conn
        for table, rows in self._last.items():
            written, key, upsert, delete = self._shape(table)
            gone = [k for k, row in rows.items() if row is None]
            if gone:
                conn.executemany(delete, [(k,) for k in gone] if key is None else gone)
            kept = [(k, row) for k, row in rows.items() if row is not None]
            if kept:
                if key is None:
                    values = [(k, *(row[i] for i in written)) for k, row in kept]
                else:
                    values = [tuple(row[i] for i in written) for _, row in kept]
                conn.executemany(upsert, values)
        self._last.clear()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _conflict(code: int, change: Any) -> int:
    # Replaying onto the exact state the log was recorded on never conflicts: if it does,
    # the log does not fit the image, and nothing may be half-applied.
    return apsw.SQLITE_CHANGESET_ABORT


def image_of(conn: Any) -> bytes:
    """The database file of ``conn``, compressed; b"" for a database without tables."""
    if not conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall():
        return b""
    data = bytearray(conn.serialize("main"))
    # A WAL database's header says so (bytes 18-19 = 2); in memory it must read as a plain
    # (rollback-journal) file, or SQLite looks for a -wal file it cannot open.
    data[18] = data[19] = 1
    # LZ4, not zlib: ~6× faster both ways (1.9 MB in ~1.7 ms against ~10 ms at zlib level 1)
    # for images ~25% larger. Images are taken inside the write path (every schema change and
    # every few MiB of changes), where zlib was most of what keeping history cost a batch put.
    if len(data) > _LZ4_MAX:
        return zlib.compress(data, 1)
    return _LZ4 + lz4.block.compress(data, store_size=True)


def unpack_image(image: bytes) -> bytes:
    """The database file an image (from :func:`image_of`, or a zlib one of an older log) holds."""
    if image.startswith(_LZ4):
        return lz4.block.decompress(memoryview(image)[len(_LZ4):])
    return zlib.decompress(image)


def raw_size(image: bytes) -> int:
    """The size of the database file an image holds (roughly, for an older zlib image)."""
    if image.startswith(_LZ4):
        return int.from_bytes(image[len(_LZ4) : len(_LZ4) + 4], "little")
    return len(image) * 4  # zlib at level 1 packs a database ~4-6×


def copy_into(source: Any, target: Any) -> None:
    """Replace ``target``'s database with ``source``'s, pages and schema (SQLite backup)."""
    with target.backup("main", source, "main") as backup:
        backup.step(-1)


# --- persisted history ------------------------------------------------------------------------

HISTORY_NAME = ".dosandbox-history.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
  object TEXT, seq INTEGER, time_ms INTEGER, event_seq INTEGER, kind TEXT, alarm_ms INTEGER,
  kv BLOB, sql BLOB, image BLOB, PRIMARY KEY (object, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (object TEXT PRIMARY KEY, branch INTEGER, pending INTEGER);
CREATE TABLE IF NOT EXISTS forks (object TEXT, seq INTEGER);
"""


class HistoryStore:
    """The history of a persist folder's objects, in one SQLite file beside them."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / HISTORY_NAME
        self.users = 0
        try:
            conn = apsw.Connection(str(self.path))
            conn.set_busy_timeout(5_000)
            conn.execute("PRAGMA journal_mode=WAL").fetchall()
            conn.execute("PRAGMA synchronous=NORMAL").fetchall()
            conn.execute(_SCHEMA)
        except apsw.Error as exc:
            raise StorageError(
                f"{self.path} cannot be opened as the sandbox's point-in-time recovery history "
                f"({exc}). Move the file away (bookmarks made before are then lost) or pick "
                "another persist= folder.",
                path=str(self.path),
            ) from exc
        self.conn = conn

    def load(self, key: str) -> tuple[list[Entry], list[int], int | None] | None:
        rows: Any = self.conn.execute(
            "SELECT seq, time_ms, event_seq, kind, alarm_ms, kv, sql, image FROM entries "
            "WHERE object = ? ORDER BY seq", (key,)
        ).fetchall()
        if not rows:
            return None
        entries = [
            Entry(seq, t, ev, kind, alarm, marshal.loads(kv) if kv is not None else None,
                  bytes(sql) if sql is not None else None,
                  bytes(image) if image is not None else None)
            for seq, t, ev, kind, alarm, kv, sql, image in rows
        ]
        meta: Any = self.conn.execute(
            "SELECT pending FROM objects WHERE object = ?", (key,)
        ).fetchall()
        forks: Any = self.conn.execute(
            "SELECT seq FROM forks WHERE object = ? ORDER BY rowid", (key,)
        ).fetchall()
        return entries, [int(seq) for (seq,) in forks], meta[0][0] if meta else None

    def add(self, key: str, entry: Entry) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, entry.seq, entry.time_ms, entry.event_seq, entry.kind, entry.alarm_ms,
             marshal.dumps(entry.kv) if entry.kv is not None else None, entry.sql, entry.image),
        )

    def drop_before(self, key: str, first: Entry) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM entries WHERE object = ? AND seq < ?", (key, first.seq))
            self.conn.execute(
                "UPDATE entries SET kv = NULL, sql = NULL, image = ? WHERE object = ? AND seq = ?",
                (first.image, key, first.seq),
            )

    def drop_after(self, key: str, last_seq: int) -> None:
        self.conn.execute("DELETE FROM entries WHERE object = ? AND seq > ?", (key, last_seq))

    def set_meta(self, key: str, forks: list[int], pending: int | None) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?)", (key, len(forks), pending)
            )
            known: Any = self.conn.execute(
                "SELECT count(*) FROM forks WHERE object = ?", (key,)).fetchall()
            self.conn.executemany("INSERT INTO forks VALUES (?, ?)",
                                  [(key, seq) for seq in forks[known[0][0]:]])

    def release(self) -> None:
        """One history fewer uses it; the last one closes the file."""
        self.users -= 1
        if self.users <= 0:
            self.conn.close()
            _stores.pop(self.path, None)


_stores: dict[Path, HistoryStore] = {}


def store_for(folder: Path) -> HistoryStore:
    """The open history store of a persist folder (opened on first use, shared)."""
    path = folder / HISTORY_NAME
    store = _stores.get(path)
    if store is None:
        store = _stores[path] = HistoryStore(folder)
    store.users += 1
    return store


def entries_frame_rows(history: History) -> Iterable[dict[str, Any]]:
    """One row per entry, for views: seq, time, kind, what it holds."""
    for entry in history.entries:
        yield {
            "seq": entry.seq,
            "time_ms": entry.time_ms,
            "event_seq": entry.event_seq,
            "kind": entry.kind,
            "kv_rows": len(entry.kv) if entry.kv else 0,
            "sql_bytes": len(entry.sql) if entry.sql else 0,
            "image_bytes": len(entry.image) if entry.image else 0,
            "alarm_ms": entry.alarm_ms,
        }
