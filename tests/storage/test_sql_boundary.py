"""The SQL boundary holds: internal statements cannot be replayed, reserved names stay reserved,
read-only means read-only, big results stream, and SQL errors point at the token.

Platform behaviour quoted here was checked in workerd (Miniflare 4.20260426, compat 2026-04-26).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dosandbox import Limits, Sandbox
from dosandbox._storage import database as database_module
from dosandbox._storage import storage as storage_module
from dosandbox._storage.authorizer import INTERNAL_TAG
from dosandbox.errors import SqlError, SqlNotAuthorizedError, StorageError, StorageLimitError


def run(statement: str, *bindings: Any) -> Any:
    """A function for ``inside`` that runs ``statement`` and returns its rows."""

    def body(ctx: Any) -> Any:
        return ctx.sql.exec(statement, *bindings).to_list()

    return body


async def put_secret(ctx: Any) -> None:
    await ctx.storage.set_alarm(1_900_000_000_000)  # _cf_METADATA (schema changes come first: they
    await ctx.storage.put("secret", "s3cr3t")  # make SQLite prepare cached statements again)
    await ctx.storage.get("secret")
    await ctx.storage.put("other", 1)  # the internal SELECT now waits in the statement cache
    await ctx.storage.delete("none")
    await ctx.storage.get_alarm()


def names(inside: Any) -> list[str]:
    rows = inside(run("SELECT name FROM sqlite_master ORDER BY name"))
    return [r["name"] for r in rows]


# --- 1. internal statements cannot be forged or seen ------------------------------------------


def test_the_internal_marker_is_not_in_the_schema(inside: Any) -> None:
    """_cf_KV's and _cf_METADATA's CREATE text holds no marker (user SQL reads sqlite_master)."""
    inside(put_secret)
    rows = inside(run("SELECT name, sql FROM sqlite_master ORDER BY name"))
    assert [r["name"] for r in rows] == ["_cf_KV", "_cf_METADATA"]
    for row in rows:
        assert "dosandbox" not in row["sql"] and "/*" not in row["sql"], row
    assert rows[0]["sql"].startswith("CREATE TABLE _cf_KV (key TEXT PRIMARY KEY")


def test_a_persisted_schema_holds_no_marker(tmp_path: Path, inside_for: Any) -> None:
    """Opened with plain sqlite3, a persisted object's schema shows no internal marker."""
    with Sandbox(persist=tmp_path) as sb:
        inside_for(sb)(put_secret)
    (path,) = tmp_path.rglob("*.sqlite")
    conn = sqlite3.connect(path)
    try:
        texts = [sql for (sql,) in conn.execute("SELECT sql FROM sqlite_master")]
    finally:
        conn.close()
    assert texts and not any("dosandbox" in t for t in texts)


def _internal_statements() -> list[str]:
    found = {
        f"{module.__name__.rsplit('.', 1)[1]}.{name}": value
        for module in (storage_module, database_module)
        for name, value in vars(module).items()
        if isinstance(value, str) and INTERNAL_TAG in value
    }
    assert len(found) >= 10, found  # _GET, _PUT, _DELETE, _META_*, _KV_TABLE, _BEGIN, ...
    return sorted(found)


@pytest.mark.parametrize("name", _internal_statements())
def test_the_text_of_an_internal_statement_is_refused(inside: Any, name: str) -> None:
    """A user statement with the exact text of an internal (cached, trusted) one is refused."""
    module = {"storage": storage_module, "database": database_module}[name.split(".")[0]]
    statement = getattr(module, name.split(".")[1])
    inside(put_secret)
    bindings = ("secret",) * statement.count("?")
    err = inside.error(run(statement, *bindings[:1], *(("x",) * (len(bindings) - 1))))
    assert isinstance(err, SqlNotAuthorizedError), repr(err)
    assert "marks the sandbox's own statements" in err.message
    assert inside(lambda ctx: ctx.storage.get("secret")) == "s3cr3t"  # nothing changed
    assert inside(lambda ctx: ctx.storage.get_alarm()) == 1_900_000_000_000


def test_the_issue_replay_returns_nothing(inside: Any) -> None:
    """The issue's replay (internal SELECT text with the marker) reads no other key's value."""
    inside(put_secret)
    query = storage_module._GET  # "/*dosandbox:…*/ SELECT value FROM _cf_KV WHERE key = ?"
    for text in (query, "SELECT value FROM _cf_KV WHERE key = ? " + INTERNAL_TAG.strip()):
        err = inside.error(run(text, "secret"))
        assert isinstance(err, SqlNotAuthorizedError), repr(err)
    handle = inside.handle()
    with pytest.raises(SqlNotAuthorizedError):
        handle.sql(query, "secret")
    with pytest.raises(SqlNotAuthorizedError):
        handle.sql(query, "secret", write=True)
    # The platform's own refusal stands for the plain text, cached or not.
    for _ in range(2):
        err = inside.error(run("SELECT value FROM _cf_KV WHERE key = ?", "secret"))
        assert isinstance(err, SqlNotAuthorizedError) and "_cf_KV" in err.message
    assert inside(run("SELECT 1 AS one /* dosandbox is fine in a comment */")) == [{"one": 1}]


def test_the_schema_text_of_cf_kv_is_refused_as_user_sql(inside: Any) -> None:
    """Replaying _cf_KV's stored CREATE (it IF NOT EXISTS) is refused like any _cf_ name."""
    inside(put_secret)
    (row,) = inside(run("SELECT sql FROM sqlite_master WHERE name = '_cf_KV'"))
    replay = row["sql"].replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)
    err = inside.error(run(replay))
    assert isinstance(err, SqlNotAuthorizedError) and "_cf_" in err.message


# --- 2. reserved names, dbstat, PRAGMA optimize -----------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["ALTER TABLE t RENAME/**/TO _cf_x", "ALTER TABLE t RENAME TO _cf_x",
     'ALTER TABLE t RENAME TO "_cf_x"', "ALTER TABLE t RENAME TO [_cf_x]",
     "ALTER TABLE t RENAME TO `_cf_x`", "ALTER TABLE t RENAME TO '_cf_x'",
     "ALTER TABLE main.t RENAME -- why not\n TO _cf_x", "alter table t rename/*a*/to/*b*/_cf_x",
     "ALTER TABLE t RENAME TO _cf_KV", "ALTER TABLE t RENAME TO _CF_KV"],
)
def test_renaming_a_table_into_cf_is_refused(inside: Any, statement: str) -> None:
    """RENAME TO a _cf_ name is refused however it is written; no reserved table appears."""
    inside(run("CREATE TABLE t (x)"))
    err = inside.error(run(statement))
    assert isinstance(err, SqlNotAuthorizedError), repr(err)
    assert "_cf_" in err.message and "another name" in err.message
    assert names(inside) == ["t"]


def test_renames_the_platform_allows_still_work(inside: Any) -> None:
    """RENAME TO _CF_x (the rule is case-sensitive), columns named _cf_y, quoted odd names."""
    inside(run('CREATE TABLE "RENAME TO _cf_" (x)'))
    inside(run('ALTER TABLE "RENAME TO _cf_" RENAME TO t'))
    inside(run("ALTER TABLE t RENAME COLUMN x TO _cf_y"))
    inside(run("ALTER TABLE t ADD COLUMN _cf_z"))
    inside(run("ALTER TABLE t RENAME TO _CF_mine"))
    assert names(inside) == ["_CF_mine"]
    assert inside(run("SELECT * FROM _CF_mine")) == []


async def _mixed_case_tables(ctx: Any) -> None:
    ctx.sql.exec("CREATE TABLE _CF_mine (x)")
    ctx.sql.exec("INSERT INTO _CF_mine VALUES (1)")
    ctx.sql.exec("CREATE TABLE _Cf_other (y)")
    await ctx.storage.put("k", 1)


def test_mixed_case_cf_tables_are_deleted_by_delete_all(inside: Any) -> None:
    """_CF_mine is the user's table (workerd only warns): delete_all() drops it, as workerd."""
    inside(_mixed_case_tables)
    assert names(inside) == ["_CF_mine", "_Cf_other", "_cf_KV"]
    inside(lambda ctx: ctx.storage.delete_all())
    assert names(inside) == []


def test_mixed_case_cf_tables_show_in_the_inspector(inside: Any) -> None:
    """handle.tables and the SQL tab list _CF_mine (LIKE was case-insensitive; the rule is not)."""
    from dosandbox.widgets import _data

    inside(_mixed_case_tables)
    handle = inside.handle()
    assert sorted(handle.tables) == ["_CF_mine", "_Cf_other"]
    assert handle.tables["_CF_mine"]["x"].tolist() == [1]
    assert [(t.name, t.rows) for t in _data.sql_tables(handle)] == [
        ("_CF_mine", 1), ("_Cf_other", 0)
    ]


def test_dbstat_is_not_there(inside: Any) -> None:
    """dbstat listed internal tables and sizes; workerd has none: 'no such table: dbstat'."""
    inside(put_secret)
    for statement in ("SELECT * FROM dbstat", "SELECT name, pgsize FROM dbstat",
                      "SELECT * FROM dbstat('main')"):
        err = inside.error(run(statement))
        assert type(err) is SqlError, repr(err)
        assert "dbstat" in err.message.splitlines()[0]
    err = inside.error(run("SELECT * FROM dbstat"))
    assert err.message.startswith("no such table: dbstat: SQLITE_ERROR\n")
    assert "database_size" in err.message
    handle = inside.handle()
    with pytest.raises(SqlError, match="dbstat"):
        handle.sql("SELECT name FROM dbstat")
    # A table of the user's own called dbstat is just a table.
    inside(run("CREATE TABLE dbstat (name TEXT)"))
    inside(run("INSERT INTO dbstat VALUES ('mine')"))
    assert inside(run("SELECT name FROM dbstat")) == [{"name": "mine"}]


def test_virtual_tables_the_platform_has_still_work(inside: Any) -> None:
    """fts5, fts5vocab, rtree and json_each/json_tree stay available."""
    inside(run("CREATE VIRTUAL TABLE docs USING fts5(body)"))
    inside(run("INSERT INTO docs VALUES ('hello world')"))
    assert inside(run("SELECT body FROM docs WHERE docs MATCH 'hello'")) == [
        {"body": "hello world"}
    ]
    inside(run("CREATE VIRTUAL TABLE words USING fts5vocab(docs, row)"))
    assert {r["term"] for r in inside(run("SELECT term FROM words"))} == {"hello", "world"}
    inside(run("CREATE VIRTUAL TABLE boxes USING rtree(id, x0, x1)"))
    assert inside(run("SELECT value FROM json_each('[1, 2]')")) == [{"value": 1}, {"value": 2}]
    assert len(inside(run("SELECT * FROM json_tree('[1]')"))) == 2


def test_pragma_optimize_and_analyze_run(inside: Any) -> None:
    """PRAGMA optimize, optimize(-1) and ANALYZE run as on workerd, _cf_KV included."""
    inside(put_secret)
    inside(run("CREATE TABLE t (x)"))
    inside(run("CREATE INDEX tx ON t (x)"))
    inside(run("INSERT INTO t VALUES (1), (2)"))
    planned = inside(run("PRAGMA optimize(-1)"))  # what it would do (workerd: the same two)
    assert planned == [{"optimize": 'ANALYZE "main"."t"'}, {"optimize": 'ANALYZE "main"."_cf_KV"'}]
    assert inside(run("PRAGMA optimize")) == []
    for statement in ("PRAGMA optimize(0x10002)", "PRAGMA optimize = 1", "ANALYZE", "ANALYZE t",
                      "ANALYZE _cf_KV", "SELECT * FROM pragma_optimize"):
        assert isinstance(inside(run(statement)), list)
    stats = inside(run("SELECT tbl FROM sqlite_stat1 ORDER BY tbl"))
    assert {"tbl": "t"} in stats
    assert inside(lambda ctx: ctx.storage.get("secret")) == "s3cr3t"


@pytest.mark.parametrize(
    "statement", ["PRAGMA optimize(1.5)", "PRAGMA optimize(abc)", "PRAGMA optimize = on",
                  "PRAGMA optimize(99999999999999999999)", 'PRAGMA optimize("_cf_KV")'],
)
def test_pragma_optimize_takes_an_integer(inside: Any, statement: str) -> None:
    """PRAGMA optimize's argument is a bit mask; anything else is 'not authorized' (workerd)."""
    err = inside.error(run(statement))
    assert isinstance(err, SqlNotAuthorizedError), repr(err)
    assert err.message.startswith("not authorized: SQLITE_AUTH") and "integer" in err.message


def test_pragma_optimize_is_a_write_for_the_handle(inside: Any) -> None:
    """Read-only handle.sql() refuses PRAGMA optimize/ANALYZE (they write sqlite_stat1)."""
    inside(run("CREATE TABLE t (x)"))
    handle = inside.handle()
    with pytest.raises(SqlNotAuthorizedError, match="read-only"):
        handle.sql("ANALYZE")
    assert handle.sql("PRAGMA optimize", write=True).empty


# --- 3. read-only holds for every statement ---------------------------------------------------


async def _delete_then_refill(ctx: Any) -> None:
    ctx.sql.exec("CREATE TABLE IF NOT EXISTS t (x)")
    ctx.sql.exec("INSERT INTO t VALUES (0)")
    ctx.sql.exec("DELETE FROM t")  # now prepared and cached as a write the object may make
    ctx.sql.exec("DELETE FROM t")  # and once more through exec()'s fast path
    ctx.sql.exec("INSERT INTO t VALUES (1), (2)")


def test_handle_sql_refuses_a_delete_the_object_ran_before(inside: Any) -> None:
    """The issue's reproduction: the object ran DELETE FROM t; handle.sql() must refuse it."""
    inside(_delete_then_refill)
    handle = inside.handle()
    with pytest.raises(SqlNotAuthorizedError, match="read-only"):
        handle.sql("DELETE FROM t")
    assert handle.sql("SELECT count(*) AS n FROM t").iloc[0, 0] == 2
    # The object's own DELETE still runs afterwards (the refusal was not cached either).
    inside(run("DELETE FROM t"))
    assert handle.sql("SELECT count(*) AS n FROM t").iloc[0, 0] == 0


def test_read_only_holds_for_pragmas_and_several_statements(inside: Any) -> None:
    """Cached PRAGMA writes and ;-separated writes are refused read-only too; nothing changes."""

    def body(ctx: Any) -> None:
        ctx.sql.exec("CREATE TABLE t (x)")
        ctx.sql.exec("INSERT INTO t VALUES (1)")
        ctx.sql.exec("PRAGMA foreign_keys = ON")
        ctx.sql.exec("SELECT 1; DELETE FROM t")
        ctx.sql.exec("INSERT INTO t VALUES (1)")

    inside(body)
    handle = inside.handle()
    for statement in ("PRAGMA foreign_keys = ON", "SELECT 1; DELETE FROM t", "DELETE FROM t"):
        with pytest.raises(SqlNotAuthorizedError, match="read-only"):
            handle.sql(statement)
    assert handle.sql("SELECT x FROM t")["x"].tolist() == [1]


def test_the_sql_tab_refuses_a_delete_the_object_ran_before(inside: Any) -> None:
    """The inspector's query box (writes not allowed) refuses a cached DELETE; rows stay."""
    from dosandbox.widgets._live import hub_for

    inside(_delete_then_refill)
    handle = inside.handle()
    widget = handle.widget()
    try:
        tab = widget.select_tab("SQL")
        tab.query.value = "DELETE FROM t"
        tab.run_button.click()
        assert isinstance(widget.last_error, SqlNotAuthorizedError)
        assert handle.sql("SELECT count(*) AS n FROM t").iloc[0, 0] == 2
    finally:
        for view in hub_for(inside.sb).views():
            view.close()


# --- 4. big results stream; holding them all is bounded ---------------------------------------


COUNT_TO = (
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
    "SELECT i, 'row number ' || i AS label FROM c"
)
FOREVER = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT i FROM c"


@pytest.fixture
def small_results(inside_for: Any) -> Iterator[Any]:
    """An ``inside`` whose sandbox holds at most 64 KiB of rows at once."""
    with Sandbox(limits=Limits(max_sql_result_bytes=64 * 1024)) as sb:
        yield inside_for(sb)


@pytest.mark.parametrize("take", ["to_list", "raw", "to_df"])
def test_a_result_too_big_to_hold_is_a_typed_error(small_results: Any, take: str) -> None:
    """to_list()/raw().to_list()/to_df() over the budget: StorageLimitError saying how to page."""

    def body(ctx: Any) -> Any:
        cursor = ctx.sql.exec(COUNT_TO, 100_000)
        if take == "raw":
            return cursor.raw().to_list()
        return cursor.to_df() if take == "to_df" else cursor.to_list()

    err = small_results.error(body)
    assert isinstance(err, StorageLimitError), repr(err)
    for fragment in ("max_sql_result_bytes", "LIMIT", "OFFSET", "for row in cursor"):
        assert fragment in err.message, err.message
    # Under the budget it all comes back, and the object keeps working.
    rows = small_results(lambda ctx: ctx.sql.exec(COUNT_TO, 500).to_list())
    assert len(rows) == 500 and rows[-1] == {"i": 500, "label": "row number 500"}


def test_iterating_streams_past_the_budget(small_results: Any) -> None:
    """Iterating a cursor streams rows from SQLite: 100,000 rows pass a 64 KiB budget."""

    def body(ctx: Any) -> Any:
        cursor = ctx.sql.exec(COUNT_TO, 100_000)
        total = sum(row["i"] for row in cursor)
        return total, cursor.rows_read

    assert small_results(body) == (100_000 * 100_001 // 2, 100_000)


def test_the_rows_stay_after_the_error(small_results: Any) -> None:
    """After to_list() is refused the cursor goes on from where it was: no row is lost."""

    def body(ctx: Any) -> Any:
        cursor = ctx.sql.exec(COUNT_TO, 20_000)
        first = next(cursor)["i"]
        with contextlib.suppress(StorageLimitError):
            cursor.to_list()
        rest = [row[0] for row in cursor.raw()]
        return first, rest[0], rest[-1], len(rest), cursor.rows_read

    assert small_results(body) == (1, 2, 20_000, 19_999, 20_000)


def test_a_never_ending_select_can_be_read_in_part(inside: Any) -> None:
    """A recursive CTE without end: take rows and stop, as on workerd (1,2,3), or one()."""

    def body(ctx: Any) -> Any:
        taken = []
        for row in ctx.sql.exec(FOREVER):
            taken.append(row["i"])
            if len(taken) == 3:
                break
        cursor = ctx.sql.exec(FOREVER)
        steps = [cursor.next()["value"]["i"] for _ in range(2)]
        first = ctx.sql.prepare(FOREVER).first("i")
        ctx.sql.exec("CREATE TABLE t (x)")  # the sandbox goes on
        return taken, steps, first

    assert inside(body) == ([1, 2, 3], [1, 2], 1)
    err = inside.error(lambda ctx: ctx.sql.exec(FOREVER + " LIMIT 5000").one())
    assert isinstance(err, SqlError) and "multiple results" in err.message


def test_a_streaming_cursor_and_other_statements(inside: Any) -> None:
    """While a big cursor is open, other statements run; DROP of its table is SQLITE_LOCKED."""

    def body(ctx: Any) -> Any:
        ctx.sql.exec("CREATE TABLE t (x)")
        ctx.sql.exec("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
                     "WHERE i < 5000) INSERT INTO t SELECT i FROM c")
        cursor = ctx.sql.exec("SELECT x FROM t ORDER BY x")
        first = next(cursor)["x"]
        other = ctx.sql.exec("SELECT count(*) AS n FROM t").one()["n"]
        try:
            ctx.sql.exec("DROP TABLE t")
        except SqlError as exc:
            locked = str(exc)
        rest = [row["x"] for row in cursor]
        return first, other, locked, len(rest), rest[-1]

    first, other, locked, left, last = inside(body)
    assert (first, other, left, last) == (1, 5000, 4999, 5000)
    assert "database table is locked" in locked and "SQLITE_LOCKED" in locked
    assert inside(run("DROP TABLE t")) == []  # once the cursor is done


def test_delete_all_cancels_open_cursors(inside: Any) -> None:
    """delete_all() with a cursor mid-way works; the cursor then fails with workerd's message."""

    async def body(ctx: Any) -> Any:
        ctx.sql.exec("CREATE TABLE t (x)")
        ctx.sql.exec("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
                     "WHERE i < 5000) INSERT INTO t SELECT i FROM c")
        cursor = ctx.sql.exec("SELECT x FROM t")
        next(cursor)
        await ctx.storage.delete_all()
        try:
            cursor.to_list()
        except SqlError as exc:
            return str(exc)
        return None

    message = inside(body)
    assert message is not None
    assert "SQLite query was canceled because the database was deleted." in message
    assert names(inside) == []


def test_a_streaming_cursor_after_the_sandbox_closed(inside_for: Any) -> None:
    """A cursor kept past Sandbox.close() fails with a typed StorageError, not an APSW error."""
    kept: list[Any] = []
    with Sandbox() as sb:
        inside_for(sb)(lambda ctx: kept.append(ctx.sql.exec(FOREVER)))
    with pytest.raises(StorageError) as info:
        kept[0].to_list()
    assert "closed" in str(info.value)


def test_memory_error_while_fetching_is_a_typed_error(
    inside: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If Python runs out of memory fetching rows, the object gets StorageLimitError."""
    from dosandbox._storage import sql as sql_module

    def no_memory(*args: Any) -> Any:
        raise MemoryError

    inside(run("CREATE TABLE t (x)"))
    monkeypatch.setattr(sql_module, "islice", no_memory)
    err = inside.error(run("SELECT x FROM t"))
    assert isinstance(err, StorageLimitError), repr(err)
    assert "LIMIT" in err.message
    monkeypatch.undo()
    assert inside(run("SELECT x FROM t")) == []


# --- 5. SQL errors point at the token ---------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "head", "line", "caret"),
    [
        ("SELEC 1", 'near "SELEC": syntax error at offset 0: SQLITE_ERROR', "SELEC 1", 0),
        ("  SELEC 1", 'near "SELEC": syntax error at offset 2: SQLITE_ERROR', "  SELEC 1", 2),
        ("SELECT 1;   SELEC 2", 'near "SELEC": syntax error at offset 0: SQLITE_ERROR',
         "SELEC 2", 0),
        ("SELECT 1; /*c*/ SELEC 2", 'near "SELEC": syntax error at offset 6: SQLITE_ERROR',
         "/*c*/ SELEC 2", 6),
        ("SELECT 'ééé' FROM t WHER name", 'near "name": syntax error at offset 28: SQLITE_ERROR',
         "SELECT 'ééé' FROM t WHER name", 25),
        ("SELECT nosuch FROM t", "no such column: nosuch at offset 7: SQLITE_ERROR",
         "SELECT nosuch FROM t", 7),
    ],
)
def test_a_syntax_error_points_at_the_token(
    inside: Any, statement: str, head: str, line: str, caret: int
) -> None:
    """workerd's message first (with its byte offset), then the statement and a caret."""
    inside(run("CREATE TABLE IF NOT EXISTS t (x)"))
    err = inside.error(run(statement))
    assert type(err) is SqlError, repr(err)
    lines = err.message.splitlines()
    assert lines[0] == head
    assert lines[1] == "    " + line
    assert lines[2] == "    " + " " * caret + "^"
    assert len(lines) == 4 and lines[3]  # the fix


def test_a_syntax_error_in_a_long_statement_shows_the_part_around_the_token(inside: Any) -> None:
    """A long statement is cut around the token; a multi-line one shows the token's line."""
    long = "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(60)) + " FORM t"
    err = inside.error(run(long))
    lines = err.message.splitlines()
    assert lines[0].startswith('near "FORM": syntax error at offset ')
    assert len(lines[1]) <= 4 + 80 and "FORM t" in lines[1] and lines[1].startswith("    …")
    assert lines[2].index("^") == lines[1].index("FORM")
    multi = "SELECT x\nFROM t\nWHERE x = = 1\nORDER BY x"
    err = inside.error(run(multi))
    lines = err.message.splitlines()
    assert lines[0] == 'near "=": syntax error at offset 26: SQLITE_ERROR'
    assert lines[1] == "    WHERE x = = 1   (line 3)"
    assert lines[2] == "    " + " " * 10 + "^"
    assert "spelling" in lines[3]


def test_an_incomplete_statement_shows_the_statement(inside: Any) -> None:
    """'incomplete input' (no offset, as in workerd) shows the statement and says what to fix."""
    err = inside.error(run("SELECT (1 + 2"))
    lines = err.message.splitlines()
    assert lines[0] == "incomplete input: SQLITE_ERROR"
    assert lines[1] == "    SELECT (1 + 2"
    assert "parenthesis" in lines[2]


def test_errors_without_a_token_keep_their_message(inside: Any) -> None:
    """No such table, constraint errors: workerd's text, no pointer (SQLite gives no offset)."""
    inside(run("CREATE TABLE t (x UNIQUE)"))
    inside(run("INSERT INTO t VALUES (1)"))
    err = inside.error(run("SELECT * FROM nosuch"))
    head, fix = err.message.splitlines()
    assert head == "no such table: nosuch: SQLITE_ERROR" and "CREATE TABLE IF NOT EXISTS" in fix
    err = inside.error(run("INSERT INTO t VALUES (1)"))
    assert err.message.startswith("UNIQUE constraint failed: t.x: SQLITE_CONSTRAINT")
    assert "\n" not in err.message


def test_the_handle_points_at_the_token_too(inside: Any) -> None:
    """handle.sql() errors show the statement and the caret as well."""
    handle = inside.handle()
    with pytest.raises(SqlError) as info:
        handle.sql("SELECT 1 FRM x")
    assert 'near "x": syntax error at offset 13' in str(info.value)
    assert "    SELECT 1 FRM x" in str(info.value)


def test_a_big_returning_result_does_not_hold_up_the_commit(inside: Any) -> None:
    """INSERT … RETURNING of many rows is read whole (a running write would block COMMIT)."""

    def body(ctx: Any) -> Any:
        ctx.sql.exec("CREATE TABLE t (x)")
        cursor = ctx.sql.exec(
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000) "
            "INSERT INTO t SELECT i FROM c RETURNING x"
        )
        return next(cursor)["x"], cursor.rows_written

    assert inside(body) == (1, 3000)
    assert inside(run("SELECT count(*) AS n FROM t")) == [{"n": 3000}]
    handle = inside.handle()
    frame = handle.sql("INSERT INTO t SELECT x + 3000 FROM t RETURNING x", write=True)
    assert len(frame) == 3000
    assert handle.sql("SELECT count(*) AS n FROM t").iloc[0, 0] == 6000


def test_the_sql_tab_shows_the_pointer_lined_up(inside: Any) -> None:
    """The SQL tab shows a syntax error's statement and caret in monospace, escaped."""
    from dosandbox.widgets._live import hub_for

    widget = inside.handle().widget()
    try:
        tab = widget.select_tab("SQL")
        tab.query.value = "SELECT '<b>' FRM t"
        tab.run_button.click()
        assert isinstance(widget.last_error, SqlError)
        assert tab.result.value.startswith("<pre")
        shown = tab.result.value
        assert "&lt;b&gt;" in shown and "FRM t\n" in shown and "<b>" not in shown
        assert tab.run_query("SELECT 1 AS one")["one"].tolist() == [1]
        assert "<pre" not in tab.result.value
    finally:
        for view in hub_for(inside.sb).views():
            view.close()
