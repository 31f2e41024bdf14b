"""The SQL authorizer refuses what the platform refuses, with its messages (reference §5).

Messages marked "workerd" are the ones recorded from workerd in
tests/conformance/expected_workerd.json; our errors start with them and add the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dosandbox import Sandbox
from dosandbox._storage.authorizer import TRANSACTION_MESSAGE
from dosandbox.errors import SqlError, SqlNotAuthorizedError


def run(statement: str) -> Any:
    """A function for ``inside`` that runs ``statement`` for its effect."""

    def body(ctx: Any) -> None:
        ctx.sql.exec(statement)

    return body


def refused(inside: Any, statement: str) -> str:
    """Run ``statement``; it must be refused. Returns the message."""
    err = inside.error(lambda ctx: ctx.sql.exec(statement))
    assert isinstance(err, SqlNotAuthorizedError), repr(err)
    assert err.code == "SQL_NOT_AUTHORIZED"
    return err.message


@pytest.mark.parametrize(
    "statement",
    ["BEGIN", "BEGIN TRANSACTION", "BEGIN IMMEDIATE", "COMMIT", "END", "ROLLBACK",
     "SAVEPOINT sp", "RELEASE sp", "ROLLBACK TO sp"],
)
def test_transaction_statements(inside: Any, statement: str) -> None:
    """BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE: workerd's message pointing at transaction()."""
    assert refused(inside, statement) == TRANSACTION_MESSAGE
    assert "state.storage.transaction()" in TRANSACTION_MESSAGE


def test_attach_and_detach(inside: Any, tmp_path: Path) -> None:
    """ATTACH/DETACH are refused ('not authorized', workerd) and no file is created."""
    target = tmp_path / "other.db"
    message = refused(inside, f"ATTACH DATABASE '{target}' AS other")
    assert message.startswith("not authorized: SQLITE_AUTH")
    assert "exactly one database" in message
    assert not target.exists()
    assert refused(inside, "DETACH DATABASE other").startswith("not authorized")


def test_vacuum_into_cannot_write_a_file(inside: Any, tmp_path: Path) -> None:
    """VACUUM INTO would write a copy outside the object: refused, the file never appears."""
    target = tmp_path / "copy.db"
    inside(run("CREATE TABLE t (x)"))
    message = refused(inside, f"VACUUM INTO '{target}'")
    assert "VACUUM" in message
    assert not target.exists()
    refused(inside, "VACUUM")


def test_no_sql_path_reads_or_writes_another_file(inside: Any, tmp_path: Path) -> None:
    """ATTACH, VACUUM INTO, load_extension, readfile/writefile and PRAGMAs cannot touch files."""
    secret = tmp_path / "secret.db"
    import sqlite3

    conn = sqlite3.connect(secret)
    conn.execute("CREATE TABLE s (v)")
    conn.execute("INSERT INTO s VALUES ('do not read')")
    conn.commit()
    conn.close()
    attempts = [
        f"ATTACH '{secret}' AS s",
        f"ATTACH 'file:{secret}?mode=ro' AS s",
        f"VACUUM INTO '{tmp_path / 'out.db'}'",
        f"SELECT load_extension('{tmp_path / 'evil.so'}')",
        f"PRAGMA temp_store_directory = '{tmp_path}'",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA main.journal_mode",
    ]
    for statement in attempts:
        err = inside.error(lambda ctx, q=statement: ctx.sql.exec(q))
        assert isinstance(err, SqlNotAuthorizedError), (statement, err)
    for name in ("readfile", "writefile"):
        # Not compiled into Python's SQLite; refused by name in case a build has them.
        err = inside.error(lambda ctx, n=name: ctx.sql.exec(f"SELECT {n}('{secret}')"))
        assert isinstance(err, SqlError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.db"]


@pytest.mark.parametrize(
    "statement",
    ["PRAGMA user_version", "PRAGMA user_version = 3", "PRAGMA journal_mode",
     "PRAGMA max_page_count", "PRAGMA page_size = 8192", "PRAGMA synchronous = OFF",
     "PRAGMA writable_schema = ON", "PRAGMA foreign_keys = maybe", "PRAGMA table_info"],
)
def test_pragmas_outside_the_allowed_list(inside: Any, statement: str) -> None:
    """PRAGMAs the platform does not allow are refused (workerd: 'not authorized')."""
    assert refused(inside, statement).startswith("not authorized: SQLITE_AUTH")


def test_allowed_pragmas_answer(inside: Any) -> None:
    """table_info, table_list, foreign_keys, page_size, data_version, quick_check work."""

    def body(ctx: Any) -> Any:
        ctx.sql.exec("CREATE TABLE t (a INTEGER, b TEXT)")
        run = ctx.sql.exec
        return {
            "table_info": run("PRAGMA table_info(t)").raw().to_list(),
            "foreign_keys": run("PRAGMA foreign_keys").raw().to_list(),
            "set": run("PRAGMA foreign_keys = 'on'").raw().to_list(),
            "page_size": run("PRAGMA page_size").raw().to_list()[0][0] > 0,
            "data_version": len(run("PRAGMA data_version").raw().to_list()),
            "quick_check": run("PRAGMA quick_check").raw().to_list(),
            "table_list": "t" in [r["name"] for r in run("PRAGMA table_list")],
        }

    assert inside(body) == {
        "table_info": [[0, "a", "INTEGER", 0, None, 0], [1, "b", "TEXT", 0, None, 0]],
        "foreign_keys": [[1]],
        "set": [],
        "page_size": True,
        "data_version": 1,
        "quick_check": [["ok"]],
        "table_list": True,
    }


def test_reading_cf_kv(inside: Any) -> None:
    """Reading _cf_KV fails with workerd's 'access to _cf_KV.key is prohibited'."""
    inside(lambda ctx: ctx.storage.put("a", 1))
    assert refused(inside, "SELECT * FROM _cf_KV").startswith(
        "access to _cf_KV.key is prohibited: SQLITE_AUTH"
    )
    refused(inside, "SELECT count(*) FROM _Cf_Kv")
    inside(lambda ctx: ctx.storage.set_alarm(4102444800000))  # creates _cf_METADATA
    refused(inside, "SELECT * FROM _cf_METADATA")
    refused(inside, "PRAGMA table_info(_cf_KV)")


def test_views_and_triggers_cannot_reach_cf_tables(inside: Any) -> None:
    """A view or trigger over _cf_KV is refused when it would read or write it."""
    inside(lambda ctx: ctx.storage.put("a", 1))
    inside(run("CREATE VIEW v AS SELECT * FROM _cf_KV"))
    refused(inside, "SELECT * FROM v")
    inside(run(
        "CREATE TABLE t (x); CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM _cf_KV; END"
    ))
    refused(inside, "INSERT INTO t VALUES (1)")
    assert inside(lambda ctx: ctx.storage.get("a")) == 1


def test_reserved_names_cannot_be_created_or_renamed_to(inside: Any) -> None:
    """Tables, indexes, views and renames into _cf_ are refused; other case is allowed."""
    inside(lambda ctx: ctx.storage.put("a", 1))  # _cf_KV exists from the first KV write
    for statement in ("CREATE TABLE _cf_mine (x)", "CREATE INDEX _cf_i ON _cf_KV(value)",
                      "CREATE VIEW _cf_v AS SELECT 1", "DROP TABLE _cf_KV"):
        refused(inside, statement)
    inside(run("CREATE TABLE t (x)"))
    refused(inside, "ALTER TABLE t RENAME TO _cf_t")
    # workerd allows _CF_ in another case (oracle sql-refuse-cf-create); so do we.
    inside(run("CREATE TABLE _CF_Mine (x)"))
    inside(run("ALTER TABLE t RENAME TO t2"))
    assert inside(lambda ctx: ctx.sql.exec("SELECT count(*) AS n FROM t2").one()) == {"n": 0}


def test_temp_objects(inside: Any) -> None:
    """TEMP tables, views, triggers and indexes are refused (workerd: 'not authorized')."""
    assert refused(inside, "CREATE TEMP TABLE tt (x)").startswith("not authorized")
    refused(inside, "CREATE TEMPORARY VIEW tv AS SELECT 1")


def test_functions(inside: Any) -> None:
    """sqlite_*() functions are refused (workerd's message); ordinary functions work."""
    err = inside.error(lambda ctx: ctx.sql.exec("SELECT sqlite_version() AS v"))
    assert isinstance(err, SqlNotAuthorizedError)
    assert err.message.startswith("not authorized to use function: sqlite_version")
    refused(inside, "SELECT load_extension('x')")
    assert inside(lambda ctx: ctx.sql.exec(
        "SELECT abs(-1) AS a, json_extract('{\"k\": 2}', '$.k') AS j, date('2026-01-01') AS d"
    ).one()) == {"a": 1, "j": 2, "d": "2026-01-01"}


@pytest.mark.parametrize("call", ["if(1, 2, 3)", "unistr('a')", "median(1)", "percentile(1, 50)"])
def test_functions_newer_than_the_platforms_sqlite(inside: Any, call: str) -> None:
    """Functions the platform's older SQLite lacks are refused with workerd's 'no such function'."""
    name = call.split("(")[0]
    err = inside.error(lambda ctx: ctx.sql.exec(f"SELECT {call} AS v"))
    assert type(err) is SqlError and err.code == "SQL_ERROR", repr(err)
    assert err.message.startswith(f"no such function: {name}: SQLITE_ERROR")
    assert inside(lambda ctx: ctx.sql.exec("SELECT iif(1, 2, 3) AS v").one()) == {"v": 2}


@pytest.mark.parametrize(
    "statement",
    ["DELETE FROM t ORDER BY x LIMIT 1", "delete from t limit 1", "UPDATE t SET x = 2 LIMIT 1"],
)
def test_delete_or_update_with_limit_explains_the_portable_form(
    inside: Any, statement: str
) -> None:
    """DELETE/UPDATE … LIMIT (fine on the platform, absent here) says how to write it for both."""
    inside(run("CREATE TABLE t (x)"))
    inside(run("INSERT INTO t VALUES (1), (2)"))
    err = inside.error(run(statement))
    assert isinstance(err, SqlError) and "syntax error" in err.message
    assert "SQLITE_ENABLE_UPDATE_DELETE_LIMIT" in err.message
    portable = "DELETE FROM t WHERE rowid IN (SELECT rowid FROM t ORDER BY x LIMIT 1)"
    inside(run(portable))
    assert inside(lambda ctx: ctx.sql.exec("SELECT x FROM t").to_list()) == [{"x": 2}]


def test_virtual_tables(inside: Any) -> None:
    """fts5 is allowed; other virtual table modules are refused."""
    inside(run("CREATE VIRTUAL TABLE docs USING fts5(body)"))
    inside(run("INSERT INTO docs VALUES ('hello world')"))
    assert inside(
        lambda ctx: ctx.sql.exec("SELECT body FROM docs WHERE docs MATCH 'hello'").to_list()
    ) == [{"body": "hello world"}]
    refused(inside, "CREATE VIRTUAL TABLE s USING fts4(body)")


def test_refusals_leave_the_object_working(inside: Any) -> None:
    """After every kind of refusal the object's KV and SQL still work."""
    inside(lambda ctx: ctx.storage.put("a", 1))
    for statement in ("BEGIN", "ATTACH 'x.db' AS x", "PRAGMA user_version",
                      "SELECT * FROM _cf_KV", "CREATE TEMP TABLE tt (x)"):
        refused(inside, statement)

    async def body(ctx: Any) -> Any:
        await ctx.storage.put("ok", True)
        ctx.sql.exec("CREATE TABLE IF NOT EXISTS fine (x)")
        return [await ctx.storage.get("ok"), ctx.sql.exec("SELECT count(*) AS n FROM fine").one()]

    assert inside(body) == [True, {"n": 0}]


def test_handle_sql_is_read_only_unless_write(do_sandbox: Sandbox, inside: Any) -> None:
    """handle.sql() refuses writes and PRAGMA changes unless write=True."""
    inside(run("CREATE TABLE t (x)"))
    inside(lambda ctx: ctx.storage.put("a", 1))
    handle = inside.handle()
    for statement in ("INSERT INTO t VALUES (1)", "DROP TABLE t", "CREATE TABLE u (x)",
                      "PRAGMA foreign_keys = OFF"):
        with pytest.raises(SqlNotAuthorizedError, match="read-only"):
            handle.sql(statement)
    handle.sql("INSERT INTO t VALUES (?)", 5, write=True)
    assert handle.sql("SELECT x FROM t").to_dict("records") == [{"x": 5}]
    with pytest.raises(SqlNotAuthorizedError):
        handle.sql("SELECT * FROM _cf_KV", write=True)
