"""ctx.sql: cursors, several statements, bindings, prepare/bind, shared batches with KV."""

from __future__ import annotations

from typing import Any

from dosandbox._storage.sql import split_statements


async def make_table(ctx: Any) -> None:
    ctx.sql.exec(
        "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT, score REAL, "
        "data BLOB)"
    )
    ctx.sql.exec("INSERT INTO users (name, score, data) VALUES (?, ?, ?)", "ann", 1.5, b"\x00\xff")
    ctx.sql.exec("INSERT INTO users (name, score, data) VALUES (?, ?, ?)", "bob", None, None)


def test_cursor_iterates_rows_as_dicts(inside: Any) -> None:
    """Iterating a cursor yields one dict per row; types map INTEGER/REAL/TEXT/BLOB/NULL."""

    def body(ctx: Any) -> Any:
        return list(ctx.sql.exec("SELECT * FROM users ORDER BY id"))

    inside(make_table)
    assert inside(body) == [
        {"id": 1, "name": "ann", "score": 1.5, "data": b"\x00\xff"},
        {"id": 2, "name": "bob", "score": None, "data": None},
    ]


def test_cursor_fields(inside: Any) -> None:
    """column_names, rows_read (grows as you iterate), rows_written, last_row_id, changes."""

    def body(ctx: Any) -> Any:
        insert = ctx.sql.exec("INSERT INTO users (name) VALUES ('cy'), ('di')")
        cursor = ctx.sql.exec("SELECT id, name FROM users ORDER BY id")
        before = cursor.rows_read
        first = next(cursor)
        after_one = cursor.rows_read
        rest = cursor.to_list()
        return {
            "insert": [insert.rows_written, insert.changes, insert.last_row_id,
                       insert.column_names],
            "select": [cursor.column_names, before, first, after_one, len(rest),
                       cursor.rows_read, cursor.rows_written],
            "camel": [cursor.columnNames, cursor.rowsRead, insert.lastRowId],
        }

    inside(make_table)
    assert inside(body) == {
        "insert": [2, 2, 4, []],
        "select": [["id", "name"], 0, {"id": 1, "name": "ann"}, 1, 3, 4, 0],
        "camel": [["id", "name"], 4, 4],
    }


def test_duplicate_column_names(inside: Any) -> None:
    """Duplicate names collapse in dict rows (last wins) and stay in raw() and column_names."""

    def body(ctx: Any) -> Any:
        cursor = ctx.sql.exec("SELECT 1 AS a, 2 AS b, 3 AS a")
        names = cursor.column_names
        return [names, ctx.sql.exec("SELECT 1 AS a, 2 AS b, 3 AS a").one(), cursor.raw().to_list()]

    assert inside(body) == [["a", "b", "a"], {"a": 3, "b": 2}, [[1, 2, 3]]]


def test_raw_shares_the_cursor_position(inside: Any) -> None:
    """raw() yields value lists and advances the same cursor."""

    def body(ctx: Any) -> Any:
        cursor = ctx.sql.exec("SELECT id, name FROM users ORDER BY id")
        raw = cursor.raw()
        first = next(raw)
        return [first, cursor.to_list(), raw.to_list(), raw.column_names]

    inside(make_table)
    assert inside(body) == [[1, "ann"], [{"id": 2, "name": "bob"}], [], ["id", "name"]]


def test_one_returns_the_single_row(inside: Any) -> None:
    """one() returns the only row."""
    inside(make_table)
    assert inside(lambda ctx: ctx.sql.exec("SELECT name FROM users WHERE id = ?", 2).one()) == {
        "name": "bob"
    }


def test_to_df(inside: Any) -> None:
    """to_df() gives the remaining rows as a DataFrame with the result's columns."""
    inside(make_table)

    def body(ctx: Any) -> Any:
        frame = ctx.sql.exec("SELECT id, name FROM users ORDER BY id").to_df()
        return [list(frame.columns), frame.to_dict("records")]

    assert inside(body) == [["id", "name"], [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]]


def test_multiple_statements_run_in_order_and_bind_the_last(inside: Any) -> None:
    """Several ;-separated statements all run; bindings and the cursor belong to the last."""

    def body(ctx: Any) -> Any:
        cursor = ctx.sql.exec(
            "CREATE TABLE a (x); INSERT INTO a VALUES (1); INSERT INTO a VALUES (2); "
            "SELECT * FROM a WHERE x >= ? -- trailing comment", 2
        )
        return cursor.to_list()

    assert inside(body) == [{"x": 2}]


def test_bindings_on_an_earlier_statement_are_refused_after_it_ran(inside: Any) -> None:
    """Only the last statement may have parameters; the statements before it stay applied."""
    err = inside.error(
        lambda ctx: ctx.sql.exec("CREATE TABLE a (x); INSERT INTO a VALUES (?); SELECT 1", 2)
    )
    assert "only the last statement can have parameters" in str(err)
    names = inside(lambda ctx: ctx.sql.exec("SELECT name FROM sqlite_master").to_list())
    assert {"name": "a"} in names


def test_splitting_respects_strings_comments_and_triggers() -> None:
    """Semicolons inside quotes, comments and CREATE TRIGGER bodies do not split."""
    sql = (
        "INSERT INTO t VALUES ('a;b', \"c;d\", [e;f], `g;h`); -- x;y\n"
        "/* z; */ CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u VALUES (1); "
        "DELETE FROM v; END;  ;  -- done"
    )
    pieces = split_statements(sql)
    assert len(pieces) == 2
    assert pieces[0].startswith("INSERT INTO t VALUES ('a;b'")
    assert "DELETE FROM v; END;" in pieces[1]
    assert split_statements("") == []
    assert split_statements(" ; ; ") == []


def test_trigger_created_in_a_multi_statement_exec_works(inside: Any) -> None:
    """A CREATE TRIGGER with ; inside its body is one statement."""

    def body(ctx: Any) -> Any:
        ctx.sql.exec(
            "CREATE TABLE t (x); CREATE TABLE log (x); "
            "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.x); END; "
            "INSERT INTO t VALUES (7);"
        )
        return ctx.sql.exec("SELECT x FROM log").to_list()

    assert inside(body) == [{"x": 7}]


def test_binding_rules(inside: Any) -> None:
    """bool binds as TEXT 'true' (as on the platform), int as INTEGER, bytes as BLOB."""

    def body(ctx: Any) -> Any:
        return ctx.sql.exec(
            "SELECT ? AS b, typeof(?) AS tb, typeof(?) AS ti, typeof(?) AS tf, typeof(?) AS ts, "
            "typeof(?) AS tx, typeof(?) AS tn, typeof(?) AS tba",
            True, False, 7, 1.5, "s", b"x", None, bytearray(b"y"),
        ).one()

    assert inside(body) == {
        "b": "true", "tb": "text", "ti": "integer", "tf": "real", "ts": "text", "tx": "blob",
        "tn": "null", "tba": "blob",
    }


def test_large_integers_stay_exact(inside: Any) -> None:
    """Integers beyond 2**53 read back exactly (the platform's float64 would round them)."""
    assert inside(lambda ctx: ctx.sql.exec("SELECT 9007199254740993 AS big").one()) == {
        "big": 9007199254740993
    }


def test_prepare_bind_first_all_run(inside: Any) -> None:
    """The seed's prepare(q).bind(...).first()/all()/run() API."""

    def body(ctx: Any) -> Any:
        insert = ctx.sql.prepare("INSERT INTO users (name) VALUES (?)")
        result = insert.bind("eve").run()
        select = ctx.sql.prepare("SELECT id, name FROM users WHERE id > ? ORDER BY id")
        bound = select.bind(1)
        return {
            "run": [result.changes, result.last_row_id, result.lastRowId],
            "all": bound.all(),
            "first": bound.first(),
            "first_col": bound.first("name"),
            "none": select.bind(99).first(),
            "rebind_is_new": bound is not select.bind(1),
        }

    inside(make_table)
    assert inside(body) == {
        "run": [1, 3, 3],
        "all": [{"id": 2, "name": "bob"}, {"id": 3, "name": "eve"}],
        "first": {"id": 2, "name": "bob"},
        "first_col": "bob",
        "none": None,
        "rebind_is_new": True,
    }
    err = inside.error(lambda ctx: ctx.sql.prepare("SELECT 1 AS a").first("b"))
    assert "Column not found (b)" in str(err)


def test_database_size_grows_and_is_shared_with_kv(inside: Any) -> None:
    """database_size counts KV and SQL pages (as sql.databaseSize does)."""

    async def body(ctx: Any) -> Any:
        before = ctx.sql.database_size
        await ctx.storage.put({f"k{i}": "x" * 1000 for i in range(50)})
        after_kv = ctx.storage.sql.databaseSize
        return [before == 4096, after_kv > before + 40_000]

    assert inside(body) == [True, True]


def test_kv_and_sql_share_one_database_but_not_tables(inside: Any) -> None:
    """KV writes do not show up as user tables (workerd oracle sql-kv-separate)."""

    async def body(ctx: Any) -> Any:
        await ctx.storage.put("a", 1)
        ctx.sql.exec("CREATE TABLE t (x)")
        return ctx.sql.exec(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' "
            "ORDER BY name"
        ).to_list()

    assert inside(body) == [{"name": "t"}]


def test_foreign_keys_are_enforced_by_default(inside: Any) -> None:
    """PRAGMA foreign_keys reads 1, as on the platform, and violations fail."""

    def body(ctx: Any) -> Any:
        ctx.sql.exec("CREATE TABLE p (id INTEGER PRIMARY KEY)")
        ctx.sql.exec("CREATE TABLE c (pid INTEGER REFERENCES p(id))")
        return ctx.sql.exec("PRAGMA foreign_keys").raw().to_list()

    assert inside(body) == [[1]]
    err = inside.error(lambda ctx: ctx.sql.exec("INSERT INTO c VALUES (42)"))
    assert "FOREIGN KEY constraint failed" in str(err)


def test_sql_writes_are_logged_one_entry_per_run_of_a_statement(inside: Any) -> None:
    """Repeated identical statements share one log entry; reads are not logged."""

    def body(ctx: Any) -> None:
        ctx.sql.exec("CREATE TABLE t (x)")
        for i in range(3):
            ctx.sql.exec("INSERT INTO t VALUES (?)", i)
        ctx.sql.exec("SELECT * FROM t").to_list()
        ctx.sql.exec("DELETE FROM t WHERE x = 0")

    inside(body)
    events = inside.sb.events("sql")
    assert list(events["message"]) == [
        "CREATE TABLE t (x) — 0 row(s) written",
        "INSERT INTO t VALUES (?) ×3 — 3 row(s) written",
        "DELETE FROM t WHERE x = 0 — 1 row(s) written",
    ]


def test_a_cursor_keeps_its_results_after_later_statements(inside: Any) -> None:
    """Rows, column names and last_row_id belong to the cursor, not to the next statement."""

    def body(ctx: Any) -> Any:
        insert = ctx.sql.exec("INSERT INTO users (name) VALUES ('cy')")
        select = ctx.sql.exec("SELECT id, name FROM users ORDER BY id")
        empty = ctx.sql.exec("SELECT name AS only FROM users WHERE id < 0")
        ctx.sql.exec("INSERT INTO users (name) VALUES ('di')")
        ctx.sql.exec("SELECT 1 AS other")
        return [insert.last_row_id, select.column_names, len(select.to_list()),
                empty.column_names, empty.to_list()]

    inside(make_table)
    assert inside(body) == [3, ["id", "name"], 3, ["only"], []]


def test_empty_results_name_their_columns_on_every_path(inside: Any) -> None:
    """A SELECT or RETURNING without rows still names its columns, first run and fast path."""

    def body(ctx: Any) -> Any:
        names = []
        for _ in range(2):  # the second run takes exec()'s fast path
            names.append(ctx.sql.exec("SELECT id, name FROM users WHERE id = ?", 99).column_names)
            names.append(ctx.sql.exec(
                "INSERT INTO users (id, name) VALUES (?, 'x') ON CONFLICT DO NOTHING "
                "RETURNING id AS new_id", 1).column_names)
            names.append(ctx.sql.exec("UPDATE users SET name = 'z' WHERE id = ?", 99).column_names)
        return names

    inside(make_table)
    assert inside(body) == [["id", "name"], ["new_id"], []] * 2


def test_select_star_without_rows_sees_a_new_column(inside: Any) -> None:
    """Column names of an empty SELECT * follow ALTER TABLE (they are not cached)."""

    def body(ctx: Any) -> Any:
        query = "SELECT * FROM users WHERE id < 0"
        before = [ctx.sql.exec(query).column_names, ctx.sql.exec(query).column_names]
        ctx.sql.exec("ALTER TABLE users ADD COLUMN extra TEXT")
        return [*before, ctx.sql.exec(query).column_names]

    inside(make_table)
    old = ["id", "name", "score", "data"]
    assert inside(body) == [old, old, [*old, "extra"]]


def test_handle_sql_of_an_empty_result_keeps_its_columns(inside: Any) -> None:
    """handle.sql() of a SELECT without rows gives an empty DataFrame with the columns."""
    inside(make_table)
    df = inside.handle().sql("SELECT id, name FROM users WHERE id < 0")
    assert list(df.columns) == ["id", "name"] and len(df) == 0


def test_cursor_next_has_the_javascript_iterator_shape(inside: Any) -> None:
    """cursor.next() and raw().next() give {done, value}, then done with value None."""

    def body(ctx: Any) -> Any:
        ctx.sql.exec("CREATE TABLE t (x INTEGER)")
        ctx.sql.exec("INSERT INTO t VALUES (1), (2)")
        cursor = ctx.sql.exec("SELECT x FROM t ORDER BY x")
        raw = ctx.sql.exec("SELECT x FROM t ORDER BY x").raw()
        return [cursor.next(), cursor.next(), cursor.next(), raw.next(), list(raw), raw.next()]

    assert inside(body) == [
        {"done": False, "value": {"x": 1}},
        {"done": False, "value": {"x": 2}},
        {"done": True, "value": None},
        {"done": False, "value": [1]},
        [[2]],
        {"done": True, "value": None},
    ]
