"""``ctx.sql``: the SQL API of SQLite-backed objects, on the object's own database.

Sources: Cloudflare's SQL storage documentation; workerd ``api/sql.c++``; conformance traces
``sql-*``.

* ``exec(query, *bindings)`` runs now and returns a :class:`SqlCursor`. Several
  ``;``-separated statements run in order; bindings apply to the last one, and the cursor is
  the last one's (workerd). A statement that fails leaves the earlier ones applied.
* The authorizer (``authorizer``) refuses what the platform refuses, as
  :class:`~dosandbox.errors.SqlNotAuthorizedError`; other SQLite errors are
  :class:`~dosandbox.errors.SqlError` with SQLite's message and code name, as workerd shows them.
* Writes join the object's current write batch (``database``), so KV and SQL writes made
  together commit together.

Binding rules, where Python differs from the platform (each a choice, listed here):

* ``bool`` binds as TEXT ``'true'``/``'false'``, as the platform does (it string-coerces
  booleans; D1 binds 1/0; workers-sdk #9964). So ``WHERE done = ?`` with ``True`` matches the
  text ``'true'`` — the same surprise as in production.
* ``int`` binds as INTEGER. The platform binds every JS number as REAL (``typeof(?)`` is
  ``'real'``); Python has a real integer type, and INTEGER keeps ids exact. Columns with
  INTEGER/REAL affinity store the same value either way.
* ``float`` → REAL, ``str`` → TEXT, ``bytes``/``bytearray``/``memoryview`` → BLOB, ``None`` →
  NULL. Anything else (dict, datetime, Decimal...) is refused with a typed error instead of the
  platform's silent string coercion: convert it yourself (``json.dumps``, ``isoformat()``).
* Integers outside SQLite's 64-bit range are refused (the platform would round them to a
  double). Integers read back stay exact Python ints (the platform gives float64 numbers, so
  values beyond 2**53 lose precision there).

Column names: APSW gives a statement's columns only while it has a row to hand out, so a
statement that ended in ``execute()`` (no rows) needs another way to name them. The checked path
puts an exec tracer on its cursor (called once the statement is prepared, before it runs); the
hot path remembers per query text whether the statement has result columns at all (DML without
RETURNING never does, and it cannot gain any), and for an empty result of one that has, it
prepares the statement again on a probe cursor whose tracer reads the columns and stops it
before it runs. Probing each time (no cache) keeps ``SELECT *`` right after ``ALTER TABLE``.

Counters: ``rows_read`` counts the rows the cursor has handed out so far (it grows as you
iterate, as on the platform, which also counts rows *scanned*, e.g. by an UPDATE, that we cannot
see from Python); ``rows_written``/``changes`` count rows changed (SQLite's total_changes).

Results: ``exec()`` reads up to :data:`BLOCK` rows at once. A result with more keeps its
statement and streams the rest from SQLite as it is iterated, as workerd's cursor does: a
never-ending recursive CTE can be read in part, and iterating a huge table holds one block at a
time. ``to_list()``/``raw().to_list()``/``to_df()`` hold a streaming result whole, so they stop at
``Limits.max_sql_result_bytes`` (text/BLOB bytes plus 8 per value) with a
:class:`~dosandbox.errors.StorageLimitError` that says how to page. While such a cursor is open,
SQLite refuses to DROP its table (SQLITE_LOCKED, as workerd), and ``delete_all()`` cancels it.

The boundary (``authorizer``): user SQL runs with the authorizer's ``trusted`` cleared, from
prepare to its last row; text holding the storage's own mark is refused; read-only runs skip the
statement cache, so a write the object prepared before is still checked.
"""

from __future__ import annotations

import contextlib
import re
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from operator import length_hint
from typing import Any, ClassVar

import apsw

from .._core.aliases import AliasMixin
from .._core.errors import (
    SqlError,
    SqlNotAuthorizedError,
    StorageError,
    StorageLimitError,
    ValidationError,
)
from .authorizer import INTERNAL_MARK, MARK_MESSAGE, Authorizer
from .database import Database, sqlite_error

__all__ = ["SqlCursor", "SqlRunResult", "SqlStatement", "SqlStorage", "split_statements"]

_FAST_TYPES = frozenset({str, int, float, bytes, type(None)})

_WRONG_BINDINGS = "Wrong number of parameter bindings for SQL query."
_MULTI_BINDINGS = (
    "When executing multiple SQL statements in a single call, only the last statement can "
    "have parameters."
)
_BINDING_COUNTS = re.compile(r"uses (\d+) and there are (\d+) supplied|has (\d+) bindings")
_TOO_BIG_INT = "Python int too large to convert to SQLite INTEGER"
_DDL_WORDS = ("CREATE", "DROP", "ALTER")
# What SQLite says to DELETE/UPDATE ... ORDER BY/LIMIT when built without that option.
_LIMIT_SYNTAX = frozenset({'near "order": syntax error', 'near "limit": syntax error'})
_DELETE_OR_UPDATE = re.compile(r"\s*(?:WITH\b.*?\)\s*)?(?:DELETE|UPDATE)\b", re.I | re.S)
# Plans: the query is one statement, within the size limit, not DDL, and it has no result
# columns (_PLAIN: execute() runs it to its end) or has some (_ROWS).
_PLAIN = object()
_ROWS = object()
_MAX_PLANS = 1024
_Description = tuple[tuple[Any, ...], ...]
# Rows read from SQLite at once: all of a small result, a block at a time of a larger one.
BLOCK = 512
_SQL_SPACE = " \t\n\f\r"  # what SQLite's tokenizer skips between statements
_CANCELED = "SQLite query was canceled because the database was deleted."  # workerd's words


# --- splitting ---------------------------------------------------------------------------------


def split_statements(query: str) -> list[str]:
    """Split on ``;`` outside strings, quoted names and comments; keep CREATE TRIGGER whole.

    Pieces holding only whitespace, comments or ``;`` are dropped; a trailing comment stays
    with the statement before it.
    """
    pieces: list[str] = []
    n = len(query)
    start = 0
    i = 0
    has_code = False
    while i < n:
        c = query[i]
        if c in "'\"`[":
            close = "]" if c == "[" else c
            j = query.find(close, i + 1)
            i = n if j < 0 else j + 1
            has_code = True
            continue
        if c == "-" and query.startswith("--", i):
            j = query.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if c == "/" and query.startswith("/*", i):
            j = query.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c == ";":
            chunk = query[start : i + 1]
            if apsw.complete(chunk):  # false inside CREATE TRIGGER ... BEGIN ... END
                if has_code:
                    pieces.append(chunk)
                elif pieces:
                    pieces[-1] += chunk
                start = i + 1
                has_code = False
        elif not c.isspace():
            has_code = True
        i += 1
    tail = query[start:]
    if has_code:
        pieces.append(tail)
    elif pieces and tail:
        pieces[-1] += tail  # a trailing comment or whitespace
    return pieces


# --- bindings ----------------------------------------------------------------------------------


def convert_bindings(bindings: Sequence[Any]) -> Sequence[Any]:
    """Python values → what SQLite receives, following the platform (see module docstring)."""
    for value in bindings:
        if type(value) not in _FAST_TYPES:
            break
    else:
        return bindings
    out: list[Any] = []
    for index, value in enumerate(bindings):
        kind = type(value)
        if kind in _FAST_TYPES:
            out.append(value)
        elif kind is bool:
            out.append("true" if value else "false")
        elif isinstance(value, (bytearray, memoryview)):
            out.append(bytes(value))
        elif isinstance(value, bool):
            out.append("true" if value else "false")
        elif isinstance(value, str):  # subclasses (StrEnum, IntEnum...) bind as their base
            out.append(str(value))
        elif isinstance(value, int):
            out.append(int(value))
        elif isinstance(value, float):
            out.append(float(value))
        elif isinstance(value, bytes):
            out.append(bytes(value))
        else:
            raise SqlError(
                f"Cannot bind binding #{index + 1} of type {kind.__name__} ({value!r:.60}). "
                "SQL binds str, int, float, bytes and None; convert other values first "
                "(json.dumps for structures, .isoformat() for dates, str() for Decimal/UUID)."
            )
    return out


# --- results -----------------------------------------------------------------------------------


_NO_ROWS: list[tuple[Any, ...]] = []  # shared and never mutated: cursors only read it
_new_cursor = object.__new__


class SqlCursor(AliasMixin):
    """The result of ``exec``: iterate rows as dicts, or ``to_list()``, ``one()``, ``raw()``."""

    __slots__ = ("_columns", "_last_row_id", "_pos", "_rows", "rows_written")

    def __init__(
        self,
        rows: list[tuple[Any, ...]],
        description: tuple[tuple[Any, ...], ...] | None,
        last_row_id: int | None,
        rows_written: int,
    ) -> None:
        # exec()'s fast path fills these slots directly (no __init__ call): keep them in step.
        # Everything is read from SQLite when the statement runs: the APSW cursor is
        # reused by the next statement (a result of more than BLOCK rows: _StreamingCursor).
        self._rows = rows
        self._pos = 0
        self._columns: Any = description  # APSW's description; its names once asked for
        self._last_row_id = last_row_id
        self.rows_written = rows_written

    @property
    def column_names(self) -> list[str]:
        """The result's column names, in order (may repeat; ``[]`` without result columns)."""
        columns = self._columns
        if type(columns) is not list:
            columns = self._columns = [] if columns is None else [d[0] for d in columns]
        return columns

    @property
    def last_row_id(self) -> int:
        """The rowid of the last row inserted (0 if none)."""
        return self._last_row_id or 0

    def __repr__(self) -> str:
        left = len(self._rows) - self._pos
        more = "+" if self._more() else ""
        return (
            f"<SqlCursor columns={self.column_names} rows_left={left}{more} "
            f"rows_written={self.rows_written}>"
        )

    @property
    def rows_read(self) -> int:
        """Rows handed out so far (grows as you iterate, as on the platform)."""
        return self._pos

    @property
    def changes(self) -> int:
        return self.rows_written

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        pos = self._pos
        if pos >= len(self._rows):
            if not self._refill():
                raise StopIteration
            pos = self._pos
        self._pos = pos + 1
        return dict(zip(self.column_names, self._rows[pos], strict=True))

    def next(self) -> dict[str, Any]:
        """The JavaScript iterator step: ``{"done": False, "value": row}``, then
        ``{"done": True, "value": None}`` once the rows are used up (as ported code reads)."""
        return _js_step(self)

    # A result held whole has nothing more to read; _StreamingCursor reads on from SQLite.
    def _more(self) -> bool:
        return False

    def _refill(self) -> bool:
        """With the buffer used up: read the next block; False at the end of the result."""
        return False

    def _left(self, want: int) -> int:
        """Rows left in the buffer, reading until there are ``want`` (or the result ends)."""
        return len(self._rows) - self._pos

    def _take(self) -> list[tuple[Any, ...]]:
        rows = self._rows[self._pos :] if self._pos else self._rows
        self._pos = len(self._rows)
        return rows

    def to_list(self) -> list[dict[str, Any]]:
        """The remaining rows as dicts (duplicate column names: the last one wins)."""
        names = self.column_names
        return [dict(zip(names, row, strict=True)) for row in self._take()]

    def one(self) -> dict[str, Any]:
        """The only remaining row; an error if there are none or several."""
        left = self._left(2)
        if left == 0:
            raise SqlError(
                "Expected exactly one result from SQL query, but got no results. Check the "
                "WHERE clause, or use to_list() (or prepare(...).first()) when none is fine."
            )
        if left > 1:
            raise SqlError(
                "Expected exactly one result from SQL query, but got multiple results. Add a "
                "WHERE or LIMIT 1, or use to_list()."
            )
        return self.to_list()[0]

    def raw(self) -> RawCursor:
        """The rows as lists of values (shares its position with this cursor)."""
        return RawCursor(self)

    def to_df(self) -> Any:
        """The remaining rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self._take(), columns=self.column_names)


class _StreamingCursor(SqlCursor):
    """A result of more than BLOCK rows: the rest is read from SQLite as it is asked for.

    ``_rows`` holds the current block; ``_done`` counts the rows handed out from earlier ones.
    """

    __slots__ = ("__weakref__", "_auth", "_budget", "_canceled", "_done", "_source")

    def __init__(
        self, source: apsw.Cursor, first: list[tuple[Any, ...]],
        description: _Description | None, last_row_id: int, rows_written: int,
        auth: Authorizer, budget: int,
    ) -> None:
        super().__init__(first, description, last_row_id, rows_written)
        self._source: apsw.Cursor | None = source
        self._auth = auth
        self._budget = budget
        self._done = 0
        self._canceled = False

    @property
    def rows_read(self) -> int:
        return self._done + self._pos

    def _more(self) -> bool:
        return self._source is not None

    def _fetch(self) -> list[tuple[Any, ...]]:
        """The next block from SQLite ([] at the end)."""
        if self._canceled:
            raise SqlError(
                f"{_CANCELED} delete_all() ended every open cursor of this object; run the "
                "query again."
            )
        source = self._source
        if source is None:
            return []
        auth = self._auth
        trusted = auth.trusted
        auth.trusted = False  # still user SQL: anything SQLite prepares again is checked
        try:
            block = list(islice(source, BLOCK))
        except (apsw.CursorClosedError, apsw.ConnectionClosedError) as exc:
            self._source = None
            raise StorageError(
                "This object's storage was closed (its sandbox was closed) while the cursor "
                "still had rows to read. Run the query again in a live sandbox, and read what "
                "you need before closing it."
            ) from exc
        except apsw.Error as exc:
            self._source = None
            raise sqlite_error(exc, auth) from exc
        except MemoryError as exc:
            self._source = None
            raise _out_of_memory() from exc
        finally:
            auth.trusted = trusted
        if len(block) < BLOCK:
            self._source = None  # SQLite is done with the statement
        return block

    def _refill(self) -> bool:
        block = self._fetch()
        self._done += len(self._rows)
        self._rows, self._pos = block, 0
        return bool(block)

    def _left(self, want: int) -> int:
        while len(self._rows) - self._pos < want and (self._source is not None or self._canceled):
            block = self._fetch()
            self._done += self._pos
            self._rows, self._pos = self._rows[self._pos :] + block, 0
        return len(self._rows) - self._pos

    def _take(self) -> list[tuple[Any, ...]]:
        if self._canceled:
            self._fetch()  # raises
        rows = self._rows[self._pos :]
        held = _size(rows)
        while self._source is not None:
            block = self._fetch()
            rows += block
            held += _size(block)
            if held > self._budget:
                # Keep what was read: iterating goes on from here, no row is lost.
                self._done += self._pos
                self._rows, self._pos = rows, 0
                raise StorageLimitError(
                    f"This SQL result holds more than {self._budget:,} bytes "
                    "(Limits.max_sql_result_bytes), too much for to_list()/to_df() to hold at "
                    "once. Read it in pages (... ORDER BY id LIMIT ? OFFSET ?, or WHERE id > ? "
                    "ORDER BY id LIMIT ?), or stream it: for row in cursor: ... The cursor "
                    "stays where it was."
                )
        self._done += self._pos + len(rows)
        self._rows, self._pos = _NO_ROWS, 0
        return rows

    def _cancel(self) -> None:
        """delete_all(): the statement ends now; reading on fails with workerd's message."""
        source, self._source = self._source, None
        if source is not None:
            source.close(True)
        self._done += self._pos
        self._rows, self._pos = _NO_ROWS, 0
        self._canceled = True


def _size(rows: list[tuple[Any, ...]]) -> int:
    """Bytes of row data as SQLite holds it: text/BLOB lengths plus 8 for each value."""
    if not rows:
        return 0
    return sum(map(length_hint, chain.from_iterable(rows))) + 8 * len(rows) * len(rows[0])


def _out_of_memory() -> StorageLimitError:
    return StorageLimitError(
        "Out of memory reading this SQL result. Read it in pages (... LIMIT ? OFFSET ?) or "
        "stream it (for row in cursor: ...), and select only the columns you need."
    )


class RawCursor(AliasMixin):
    """``cursor.raw()``: rows as lists; ``column_names`` and ``to_list()`` as on the cursor."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: SqlCursor) -> None:
        self._cursor = cursor

    @property
    def column_names(self) -> list[str]:
        return self._cursor.column_names

    def __iter__(self) -> Iterator[list[Any]]:
        return self

    def __next__(self) -> list[Any]:
        cursor = self._cursor
        pos = cursor._pos
        if pos >= len(cursor._rows):
            if not cursor._refill():
                raise StopIteration
            pos = cursor._pos
        cursor._pos = pos + 1
        return list(cursor._rows[pos])

    def next(self) -> dict[str, Any]:
        """``{"done": False, "value": [values]}``, then ``{"done": True, "value": None}``."""
        return _js_step(self)

    def to_list(self) -> list[list[Any]]:
        return [list(row) for row in self._cursor._take()]


def _js_step(rows: Iterator[Any]) -> dict[str, Any]:
    for row in rows:
        return {"done": False, "value": row}
    return {"done": True, "value": None}


@dataclass(frozen=True, slots=True)
class SqlRunResult:
    """What ``prepare(q).bind(...).run()`` returns (the cloudwerk API's ``SqlRunResult``)."""

    # A plain object on the platform: returned over RPC it arrives as a dict.
    _dosandbox_plain_: ClassVar[bool] = True

    changes: int
    last_row_id: int

    def __getattr__(self, name: str) -> Any:
        if name == "lastRowId":
            return self.last_row_id
        raise AttributeError(name)


class SqlStatement(AliasMixin):
    """``sql.prepare(query)``: bind values, then ``first()``, ``all()`` or ``run()``."""

    __slots__ = ("_bindings", "_query", "_sql")

    def __init__(self, sql: SqlStorage, query: str, bindings: tuple[Any, ...] = ()) -> None:
        self._sql = sql
        self._query = query
        self._bindings = bindings

    def __repr__(self) -> str:
        return f"<SqlStatement {self._query[:60]!r} bindings={len(self._bindings)}>"

    def bind(self, *values: Any) -> SqlStatement:
        """A new statement with these values bound (the original is unchanged)."""
        return SqlStatement(self._sql, self._query, values)

    def _exec(self) -> SqlCursor:
        return self._sql.exec(self._query, *self._bindings)

    def first(self, column: str | None = None) -> Any:
        """The first row (a dict) or None; with ``column``, that column's value."""
        cursor = self._exec()
        row = next(cursor, None)
        if row is None or column is None:
            return row
        if column not in row:
            raise SqlError(
                f"Column not found ({column}): the query returns {cursor.column_names}."
            )
        return row[column]

    def all(self) -> list[dict[str, Any]]:
        """Every row, as dicts."""
        return self._exec().to_list()

    def run(self) -> SqlRunResult:
        """Run for its effect: ``changes`` and ``last_row_id``."""
        cursor = self._exec()
        return SqlRunResult(cursor.rows_written, cursor.last_row_id)


# --- the API -----------------------------------------------------------------------------------


class SqlStorage(AliasMixin):
    """``ctx.sql`` (also ``ctx.storage.sql``)."""

    __slots__ = (
        "_auth", "_budget", "_conn", "_cursor", "_db", "_log_run", "_max_bindings", "_name",
        "_open", "_plans", "_probe", "_quick_len", "_seen", "_traced",
    )

    def __init__(self, db: Database, object_name: str) -> None:
        self._name = object_name
        self._db = db
        self._conn = db.conn
        self._auth = db.auth
        limits = db.limits
        self._max_bindings = limits.max_sql_bindings
        # Below this many characters a statement cannot exceed the byte limit (≤ 4 bytes each).
        self._quick_len = limits.max_sql_statement_bytes // 4
        # One APSW cursor for every statement on the hot path: results are read out before
        # exec() returns, and creating a cursor per call costs more than our checks. (A result
        # larger than a block keeps its cursor; the next statement gets a new one.)
        self._cursor = self._conn.cursor()
        # The checked path's cursor: its exec tracer notes the description of the statement
        # it is about to run (APSW has none once a statement has ended, e.g. with no rows).
        self._seen: _Description | None = None
        self._traced = self._traced_cursor()
        # Results still streaming from SQLite (delete_all() cancels them).
        self._open: weakref.WeakSet[_StreamingCursor] = weakref.WeakSet()
        self._budget = limits.max_sql_result_bytes
        # Prepares a statement to read its columns, and stops it before it runs (see _columns).
        self._probe = self._conn.cursor()
        self._probe.exec_trace = self._stop_after_description
        # Query texts that passed every check once (see exec).
        self._plans: dict[str, object] = {}
        # Consecutive runs of one SQL text become one log entry (the write batch's LogRun).
        self._log_run = db.log_run
        # The database closes while idle and reopens on use (Database.suspend): rebind then.
        db.on_connect.append(self._rebind)

    def __repr__(self) -> str:
        return f"<SqlStorage of {self._name}>"

    def _rebind(self) -> None:
        """Take the database's connection and new cursors (stand-ins while it is closed)."""
        db = self._db
        self._conn = db.conn
        if db.suspended:
            self._cursor = db.stand_in(lambda: self._cursor)
            self._traced = db.stand_in(lambda: self._traced)
            self._probe = db.stand_in(lambda: self._probe)
            return
        self._cursor = self._conn.cursor()
        self._traced = self._traced_cursor()
        self._probe = self._conn.cursor()
        self._probe.exec_trace = self._stop_after_description

    def _traced_cursor(self) -> apsw.Cursor:
        cursor = self._conn.cursor()
        cursor.exec_trace = self._note_description
        return cursor

    def _stream(
        self, source: apsw.Cursor, first: list[tuple[Any, ...]], description: _Description | None,
        written: int,
    ) -> SqlCursor:
        """The cursor of a result larger than a block: it keeps ``source`` to read on."""
        cursor = _StreamingCursor(
            source, first, description, self._conn.last_insert_rowid(), written, self._auth,
            self._budget,
        )
        self._open.add(cursor)
        return cursor

    def _cancel_cursors(self) -> None:
        """End every result still streaming (delete_all(): their tables are about to go)."""
        for cursor in list(self._open):
            cursor._cancel()
        self._open.clear()

    def exec(self, query: str, *bindings: Any) -> SqlCursor:
        """Run ``query`` now (several ``;``-separated statements run in order)."""
        # The hot path of every object that uses SQL, kept flat: a statement already run once
        # (so known to be one statement within the size limit, and not DDL), plain bindings
        # and an open batch go straight to SQLite. Anything else takes _run(), the checked path.
        history = self._db.history
        if history is not None and not history.hooked:
            history.hook_on()  # point-in-time recovery notes the rows this writes
        try:
            plan = self._plans.get(query)
        except TypeError:  # unhashable: not a str
            plan = None
        if plan is None or not self._db.batch_open:
            return self._run(query, bindings)
        for value in bindings:
            if type(value) not in _FAST_TYPES:
                return self._run(query, bindings)
        conn = self._conn
        auth = self._auth
        before = conn.total_changes()
        auth.trusted = False
        auth.statement = query
        try:
            cur = self._cursor.execute(query, bindings)
            if plan is _PLAIN:  # no result columns: execute() has run it to its end
                description = None
                rows = _NO_ROWS
            else:
                try:
                    description = cur.description
                except apsw.ExecutionCompleteError:  # it ended without a row
                    description = self._columns(query, bindings)
                    rows = _NO_ROWS
                else:
                    rows = list(islice(cur, BLOCK))
                    if len(rows) == BLOCK and not cur.is_readonly:
                        rows += cur.fetchall()  # see _execute
        except (apsw.Error, OverflowError, UnicodeEncodeError, MemoryError) as exc:
            raise self._failed(exc, query, bindings) from exc
        finally:
            auth.trusted = True
        written = conn.total_changes() - before
        if written:
            run = self._log_run
            if run.query is query:  # the common repeat of one statement
                run.runs += 1
                run.rows += written
            else:
                run.note(query, written)
        if len(rows) == BLOCK and cur.is_readonly:  # maybe more: the cursor stays with them
            self._cursor = conn.cursor()
            return self._stream(cur, rows, description, written)
        cursor = _new_cursor(SqlCursor)
        cursor._rows = rows
        cursor._pos = 0
        cursor._columns = description
        cursor._last_row_id = conn.last_insert_rowid()
        cursor.rows_written = written
        return cursor

    def _execute(
        self, query: str, params: Sequence[Any], multi: bool, cache: bool
    ) -> tuple[_Description | None, list[tuple[Any, ...]], apsw.Cursor | None]:
        """Run on the traced cursor: (description or None without result columns, the first
        block of rows, the APSW cursor if there may be more)."""
        self._seen = None
        cur = (
            self._run_many(query, params, cache) if multi
            else self._traced.execute(query, params, can_cache=cache)
        )
        description = self._seen or None  # () for a statement without result columns
        if description is None:
            return None, _NO_ROWS, None
        rows = list(islice(cur, BLOCK))
        if len(rows) < BLOCK:
            return description, rows, None
        if not cur.is_readonly:
            # A write (INSERT ... RETURNING) still running would stop its batch's COMMIT
            # ("SQL statements in progress"), and SQLite has its rows in memory already.
            return description, rows + cur.fetchall(), None
        self._traced = self._traced_cursor()  # cur stays with the result
        return description, rows, cur

    def _note_description(self, cursor: apsw.Cursor, sql: str, bindings: Any) -> bool:
        self._seen = cursor.description
        return True

    def _stop_after_description(self, cursor: apsw.Cursor, sql: str, bindings: Any) -> bool:
        self._seen = cursor.description
        return False  # apsw.ExecTraceAbort: the statement does not run

    def _columns(self, query: str, params: Sequence[Any]) -> _Description | None:
        """The result columns of a statement that has just run to its end without a row."""
        self._seen = None
        with contextlib.suppress(apsw.ExecTraceAbort):  # raised as the tracer stops it
            self._probe.execute(query, params)
        return self._seen or None

    def _failed(self, exc: BaseException, query: str, bindings: Sequence[Any]) -> Exception:
        """The typed error for a statement that failed (the batch is checked first)."""
        if isinstance(exc, MemoryError):
            return _out_of_memory()
        if isinstance(exc, apsw.BindingsError):
            if len(bindings) > self._max_bindings:  # exec()'s fast path leaves this to SQLite
                self._check_size(query, bindings)  # raises the limit error
            return _binding_error(exc, _WRONG_BINDINGS)
        self._db.check_batch(exc)
        return _error(exc, self._auth)

    def prepare(self, query: str) -> SqlStatement:
        """A statement to ``bind(...)`` and then ``first()``, ``all()`` or ``run()``."""
        if not isinstance(query, str):
            raise ValidationError(f"prepare() takes the SQL text, not {type(query).__name__}.")
        return SqlStatement(self, query)

    @property
    def database_size(self) -> int:
        """Bytes used by this object's database (KV and SQL together)."""
        return self._db.size_bytes()

    def _check_size(self, query: Any, bindings: Sequence[Any]) -> None:
        if type(query) is not str:
            raise ValidationError(
                f"exec() takes the SQL text first, not {type(query).__name__}; pass values "
                "as further arguments: exec('SELECT * FROM t WHERE id = ?', 42)."
            )
        limit = self._db.limits.max_sql_statement_bytes
        size = len(query.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise StorageLimitError(
                f"SQL statement too long: {size:,} bytes; the platform allows {limit:,} "
                "(100 KB). Pass data as bindings or split the work into several exec() calls."
            )
        if len(bindings) > self._max_bindings:
            raise StorageLimitError(
                f"Too many SQL bindings: {len(bindings)}; the platform allows "
                f"{self._max_bindings} per statement. Insert in chunks, or pass a JSON array "
                "as one binding and read it with json_each(?)."
            )

    def _run(
        self,
        query: Any,
        bindings: Sequence[Any],
        *,
        read_only: bool = False,
        outside: bool = False,
    ) -> SqlCursor:
        """exec() with every check, for exec()'s other calls and for the handle.

        Statements that exec() ran here are remembered (a plan) so that their next calls may
        take the fast path. For the handle, ``read_only`` refuses writes and ``outside``
        commits at once.
        """
        history = self._db.history
        if history is not None and not history.hooked:
            history.hook_on()  # (handle.sql(write=True) comes here without exec())
        if type(query) is not str or len(query) > self._quick_len or len(
            bindings
        ) > self._max_bindings:
            self._check_size(query, bindings)
        if INTERNAL_MARK in query:  # never the text of a trusted statement (see authorizer)
            raise SqlNotAuthorizedError(MARK_MESSAGE)
        params = convert_bindings(bindings)
        db = self._db
        if not read_only:
            if outside:
                db.check_outside_write()
            if not db.batch_open:
                db.begin_write()
        conn = self._conn
        auth = self._auth
        before = conn.total_changes()
        auth.trusted = False
        auth.read_only = read_only
        auth.statement = query
        multi = ";" in query
        try:
            # Read-only: prepared afresh, so the authorizer sees a write the object cached.
            description, rows, more = self._execute(query, params, multi, not read_only)
        except (apsw.Error, OverflowError, UnicodeEncodeError, MemoryError) as exc:
            raise self._failed(exc, query, bindings) from exc
        finally:
            auth.trusted = True
            auth.read_only = False
        written = conn.total_changes() - before
        ddl = _is_ddl(query)
        if not read_only and (written or (description is None and ddl)):
            self._log_run.note(query, written, " (from handle)" if outside else None)
        if outside:
            if not read_only:
                db.commit()
        elif not multi and not ddl:
            plans = self._plans
            if len(plans) >= _MAX_PLANS:
                plans.clear()
            plans[query] = _PLAIN if description is None else _ROWS
        if more is not None:
            return self._stream(more, rows, description, written)
        return SqlCursor(rows, description, conn.last_insert_rowid(), written)

    def _run_many(self, query: str, params: Sequence[Any], cache: bool) -> apsw.Cursor:
        """Run every statement but the last; the last runs on the traced cursor."""
        # As workerd: each statement after the first starts at its first token (error offsets).
        statements = [s if i == 0 else s.lstrip(_SQL_SPACE)
                      for i, s in enumerate(split_statements(query))]
        conn = self._conn
        auth = self._auth
        if not statements:
            return self._traced.execute("", (), can_cache=cache)
        for statement in statements[:-1]:
            auth.statement = statement
            try:
                conn.execute(statement, can_cache=cache).fetchall()
            except apsw.BindingsError as exc:
                raise _binding_error(exc, _MULTI_BINDINGS if params else _WRONG_BINDINGS) from exc
        auth.statement = statements[-1]
        return self._traced.execute(statements[-1], params, can_cache=cache)


def _is_ddl(query: str) -> bool:
    if ";" not in query:
        return query.lstrip()[:6].upper().startswith(_DDL_WORDS)
    return any(q.lstrip()[:6].upper().startswith(_DDL_WORDS) for q in split_statements(query))


def _binding_error(exc: apsw.BindingsError, message: str) -> SqlError:
    detail = str(exc)
    counts = _BINDING_COUNTS.search(detail)
    if counts is None:
        return SqlError(detail)
    # APSW: "Incorrect number of bindings supplied.  The current statement uses 1 and there
    # are 2 supplied.  Current offset is 0", or "Statement has 1 bindings but you didn't supply
    # any!" — keep the counts, lead with the platform's words.
    uses, supplied, needs = counts.groups()
    if needs is not None:
        uses, supplied = needs, "0"
    return SqlError(
        f"{message} (The current statement uses {uses}, and there are {supplied} supplied.) "
        "Pass one value after the query for each ? in it."
    )


def _error(exc: BaseException, auth: Any) -> Exception:
    if isinstance(exc, OverflowError):  # APSW says only "int too big to convert"
        return SqlError(
            f"{_TOO_BIG_INT}: SQLite integers are 64-bit (±9.2e18). Bind a larger number as "
            "str, or as float if you can lose precision (the platform binds numbers as doubles)."
        )
    if isinstance(exc, UnicodeEncodeError):
        return SqlError(
            f"Cannot bind a string with a lone surrogate ({exc.object[exc.start:exc.end]!r}): "
            "it has no UTF-8 form. Fix the string (e.g. .encode('utf-8', 'replace'))."
        )
    message = str(exc)
    if message.lower() in _LIMIT_SYNTAX and _DELETE_OR_UPDATE.match(auth.statement or ""):
        return SqlError(
            f"{message}: SQLITE_ERROR. DELETE/UPDATE with ORDER BY or LIMIT runs on the "
            "platform (workerd's SQLite is built with SQLITE_ENABLE_UPDATE_DELETE_LIMIT) but "
            "not on the SQLite this sandbox bundles. Write it so that it runs on both: "
            "DELETE FROM t WHERE rowid IN (SELECT rowid FROM t ORDER BY x LIMIT 10)."
        )
    return sqlite_error(exc, auth, auth.statement)
