"""Bad input: each a typed error naming the problem, the value and the fix; nothing is lost."""

from __future__ import annotations

from typing import Any

from dosandbox import Limits, Sandbox
from dosandbox._storage.authorizer import INTERNAL_TAG
from dosandbox.errors import (
    DataCloneError,
    SqlError,
    SqlNotAuthorizedError,
    StorageLimitError,
    ValidationError,
)


async def seed(ctx: Any) -> None:
    await ctx.storage.put({"keep": 1, "also": [1, 2]})
    ctx.sql.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    ctx.sql.exec("INSERT OR REPLACE INTO t (id, v) VALUES (1, 'a'), (2, 'b')")


async def snapshot(ctx: Any) -> Any:
    return [await ctx.storage.list(), ctx.sql.exec("SELECT * FROM t ORDER BY id").to_list()]


INTACT = [{"also": [1, 2], "keep": 1}, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]]


def check(inside: Any, fn: Any, error_type: type, *fragments: str) -> BaseException:
    """fn fails inside the object with error_type; the object still has its data after."""
    inside(seed)
    err = inside.error(fn)
    assert isinstance(err, error_type), repr(err)
    for fragment in fragments:
        assert fragment in str(err), (fragment, str(err))
    assert inside(snapshot) == INTACT
    return err


def test_oversized_key(inside: Any) -> None:
    """A key over 2,048 UTF-8 bytes is refused with the platform's message and the size."""

    async def body(ctx: Any) -> None:
        await ctx.storage.put("é" * 1025, 1)  # 2,050 bytes in UTF-8

    err = check(inside, body, StorageLimitError, "Keys cannot be larger than 2048 bytes",
                "A key of size 2050 was provided")
    assert err.code == "STORAGE_LIMIT"


def test_key_of_exactly_2048_bytes_is_fine(inside: Any) -> None:
    """The limit is inclusive: 2,048 bytes is allowed, and get() checks keys too."""

    async def body(ctx: Any) -> Any:
        await ctx.storage.put("k" * 2048, 1)
        return await ctx.storage.get("k" * 2048)

    assert inside(body) == 1
    err = inside.error(lambda ctx: ctx.storage.get("k" * 2049))
    assert isinstance(err, StorageLimitError)


def test_oversized_value(inside: Any) -> None:
    """A value over 131,072 serialized bytes is refused, naming the size and the key."""

    async def body(ctx: Any) -> None:
        await ctx.storage.put("big", "x" * 131_100)

    check(inside, body, StorageLimitError, "Values cannot be larger than 131072 bytes",
          "131102", "'big'")


def test_batch_of_129_keys_writes_nothing(inside: Any) -> None:
    """put/get/delete with 129 keys fail whole (docs: 128 per batch), nothing is written."""

    async def put(ctx: Any) -> None:
        await ctx.storage.put({f"n{i}": i for i in range(129)})

    check(inside, put, StorageLimitError, "Maximum number of key value pairs is 128",
          "129 pairs")
    for fn in (lambda ctx: ctx.storage.get([f"n{i}" for i in range(129)]),
               lambda ctx: ctx.storage.delete(["keep"] * 129)):
        assert isinstance(inside.error(fn), StorageLimitError)
    assert inside(snapshot) == INTACT


def test_one_bad_pair_fails_the_whole_batch(inside: Any) -> None:
    """If one value of put({...}) cannot be stored, no pair of the batch is written."""

    async def body(ctx: Any) -> None:
        await ctx.storage.put({"fresh": 1, "bad": lambda: None})

    check(inside, body, DataCloneError, "put()['bad']")
    assert inside(lambda ctx: ctx.storage.get("fresh")) is None


def test_the_platform_has_no_kv_operation_limit(inside: Any) -> None:
    """By default 10,000 awaited puts in one event all succeed, as in workerd."""

    async def body(ctx: Any) -> int:
        for i in range(10_000):
            await ctx.storage.put(f"op{i:05d}", i)
        return len(await ctx.storage.list(prefix="op"))

    assert inside(body) == 10_000


def test_the_1001st_kv_operation_in_one_event_when_the_limit_is_on(inside_for: Any) -> None:
    """With Limits(max_kv_ops_per_event=1_000), the 1,001st fails, the rest stay."""
    inside = inside_for(Sandbox(seed=0, limits=Limits(max_kv_ops_per_event=1_000)))

    async def body(ctx: Any) -> None:
        for i in range(1_001):
            await ctx.storage.put(f"op{i:04d}", i)

    inside(seed)
    err = inside.error(body)
    assert isinstance(err, StorageLimitError)
    for fragment in ("#1,001", "1,000 per request", "max_kv_ops_per_event", "no such limit"):
        assert fragment in str(err)
    # The 1,000 writes before the refused one were made and committed; the next event starts
    # a fresh count.
    assert inside(lambda ctx: ctx.storage.get("op0999")) == 999
    assert inside(lambda ctx: ctx.storage.get("op1000")) is None
    assert inside(lambda ctx: ctx.storage.put("next-event", 1)) is None
    assert inside(lambda ctx: ctx.storage.get(["keep", "also"])) == {"also": [1, 2], "keep": 1}


def test_value_that_cannot_be_cloned(inside: Any) -> None:
    """put() of a function / socket-like object raises DataCloneError naming the path."""

    class Conn:
        pass

    async def body(ctx: Any) -> None:
        await ctx.storage.put("user", {"name": "ann", "conn": Conn()})

    check(inside, body, DataCloneError, "put()['user']['conn']", "Conn")


def test_list_limit_zero_and_negative(inside: Any) -> None:
    """list(limit=0) and negative limits fail with the platform's 'List limit must be positive.'"""
    for limit in (0, -1):
        check(inside, lambda ctx, n=limit: ctx.storage.list(limit=n), ValidationError,
              "List limit must be positive.")


def test_start_with_start_after(inside: Any) -> None:
    """list(start=, start_after=) together fail with the platform's message."""
    check(inside, lambda ctx: ctx.storage.list(start="a", start_after="b"), ValidationError,
          "list() cannot be called with both start and startAfter values.")


def test_non_string_key(inside: Any) -> None:
    """Keys are strings or numbers: None, a bool or an object is a typed error with the fix."""
    check(inside, lambda ctx: ctx.storage.put(None, "x"), ValidationError, "keys are strings")
    check(inside, lambda ctx: ctx.storage.put(True, "x"), ValidationError, "keys are strings")
    check(inside, lambda ctx: ctx.storage.delete(object()), ValidationError, "list of keys")
    check(inside, lambda ctx: ctx.storage.get(None), ValidationError, "list of keys")
    assert inside(lambda ctx: ctx.storage.get("x")) is None  # nothing was written


def test_put_without_a_value(inside: Any) -> None:
    """put('k') without a value says how to call it."""
    check(inside, lambda ctx: ctx.storage.put("k"), ValidationError, "put('k', v)")


def test_unknown_option(inside: Any) -> None:
    """A misspelt option is refused rather than silently ignored."""
    check(inside, lambda ctx: ctx.storage.get("keep", alow_concurrency=True), ValidationError,
          "alow_concurrency", "allow_concurrency")


def test_lone_surrogate_key(inside: Any) -> None:
    """A key with a lone surrogate has no UTF-8 form: a typed error, not a crash."""
    check(inside, lambda ctx: ctx.storage.put("bad\ud800", 1), ValidationError, "surrogate")


def test_sql_syntax_error(inside: Any) -> None:
    """A syntax error is a SqlError with SQLite's message and code name."""
    check(inside, lambda ctx: ctx.sql.exec("SELEC 1"), SqlError,
          'near "SELEC": syntax error', "SQLITE_ERROR")


def test_sql_wrong_number_of_bindings(inside: Any) -> None:
    """Too many or too few bindings: the platform's message plus the counts."""
    for args in ((1, 2), ()):
        check(inside, lambda ctx, a=args: ctx.sql.exec("SELECT ? AS x", *a), SqlError,
              "Wrong number of parameter bindings for SQL query.")


def test_sql_constraint_error(inside: Any) -> None:
    """A constraint violation names the constraint and the extended code, as workerd does."""
    check(inside, lambda ctx: ctx.sql.exec("INSERT INTO t (id, v) VALUES (1, 'dup')"), SqlError,
          "UNIQUE constraint failed: t.id", "SQLITE_CONSTRAINT (extended: "
          "SQLITE_CONSTRAINT_PRIMARYKEY)")


def test_one_on_two_rows_and_on_none(inside: Any) -> None:
    """one() needs exactly one row; the platform's messages for none and several."""
    check(inside, lambda ctx: ctx.sql.exec("SELECT * FROM t").one(), SqlError,
          "Expected exactly one result from SQL query, but got multiple results.")
    check(inside, lambda ctx: ctx.sql.exec("SELECT * FROM t WHERE id = 99").one(), SqlError,
          "Expected exactly one result from SQL query, but got no results.")


def test_begin_in_exec(inside: Any) -> None:
    """BEGIN in SQL is refused, pointing at transaction()/transaction_sync()."""
    err = check(inside, lambda ctx: ctx.sql.exec("BEGIN TRANSACTION"), SqlNotAuthorizedError,
                "state.storage.transaction()")
    assert err.code == "SQL_NOT_AUTHORIZED"


def test_writing_to_cf_kv_through_sql(inside: Any) -> None:
    """INSERT/UPDATE/DELETE on _cf_KV are refused; KV keeps its data."""
    for statement in ("DELETE FROM _cf_KV", "INSERT INTO _cf_KV VALUES ('x', 'y')",
                      "UPDATE _cf_KV SET value = NULL"):
        check(inside, lambda ctx, q=statement: ctx.sql.exec(q), SqlNotAuthorizedError,
              "not authorized", "_cf_")


def test_unbindable_sql_value(inside: Any) -> None:
    """A dict binding is refused with a hint (the platform would string-coerce it)."""
    check(inside, lambda ctx: ctx.sql.exec("SELECT ?", {"a": 1}), SqlError, "binding #1",
          "json.dumps")


def test_sql_integer_out_of_range(inside: Any) -> None:
    """An int beyond SQLite's 64 bits is a SqlError that says what to do."""
    check(inside, lambda ctx: ctx.sql.exec("SELECT ?", 2**70), SqlError, "64-bit")


def test_too_many_bindings_and_too_long_statement(inside: Any) -> None:
    """The platform's 100 bound parameters and 100 KB statement limits."""
    marks = ", ".join("?" * 101)
    check(inside, lambda ctx: ctx.sql.exec(f"SELECT {marks}", *range(101)), StorageLimitError,
          "101", "100 per statement")
    long_sql = "SELECT 1 " + " " * 100_000
    check(inside, lambda ctx: ctx.sql.exec(long_sql), StorageLimitError, "100 KB")


def test_a_failed_statement_keeps_earlier_writes_of_the_batch(inside: Any) -> None:
    """A failing statement is undone alone; writes before it in the same event commit."""

    async def body(ctx: Any) -> None:
        await ctx.storage.put("before", 1)
        ctx.sql.exec("INSERT INTO t (v) VALUES ('c')")
        ctx.sql.exec("INSERT INTO nope VALUES (1)")

    inside(seed)
    assert isinstance(inside.error(body), SqlError)
    assert inside(lambda ctx: ctx.storage.get("before")) == 1
    assert inside(lambda ctx: ctx.sql.exec("SELECT count(*) AS n FROM t").one()) == {"n": 3}


def test_storage_full_is_a_limit_error_and_resets_the_instance(inside_for: Any) -> None:
    """Past Limits.max_storage_bytes the batch rolls back, the instance resets, data stays."""
    sb = Sandbox(seed=0, limits=Limits(max_storage_bytes=64 * 1024))
    try:
        inside = inside_for(sb)
        inside(lambda ctx: ctx.storage.put("committed", 1))

        async def fill(ctx: Any) -> None:
            for i in range(200):
                await ctx.storage.put(f"blob{i}", "x" * 4_000)

        err = inside.error(fill)
        assert isinstance(err, StorageLimitError)
        assert "SQLITE_FULL" in str(err) and "max_storage_bytes" in str(err)
        assert inside(lambda ctx: ctx.storage.get("committed")) == 1
        assert inside(lambda ctx: ctx.storage.get("blob0")) is None
        assert inside(lambda ctx: ctx.storage.put("small", 2)) is None
        kinds = list(sb.events()["kind"])
        assert "error" in kinds
    finally:
        sb.close()


def test_errors_carry_the_object(inside: Any) -> None:
    """Limit errors say which object they came from."""
    inside(seed)
    err = inside.error(lambda ctx: ctx.storage.put("x" * 3000, 1))
    assert err.object_name == "probe"
    assert err.object_id == inside.handle().id


def test_statement_cache_does_not_bypass_refusals(inside: Any) -> None:
    """The storage's own (trusted, cached) KV statements cannot be replayed from user SQL."""
    inside(seed)
    assert inside(lambda ctx: ctx.storage.get("keep")) == 1  # the trusted SELECT is cached now
    for text in ("SELECT value FROM _cf_KV WHERE key = ?",
                 "SELECT value FROM _cf_KV WHERE key = ?" + INTERNAL_TAG.replace("dosandbox", "x")):
        err = inside.error(lambda ctx, q=text: ctx.sql.exec(q, "keep"))
        assert isinstance(err, SqlNotAuthorizedError)


def test_statement_that_ran_before_still_gets_every_error(inside: Any) -> None:
    """A statement run once takes exec()'s fast path next time; its bad calls fail the same."""
    query = "SELECT ? AS x"

    def body(ctx: Any, args: tuple[Any, ...]) -> Any:
        ctx.sql.exec(query, 1)  # now a known statement
        return ctx.sql.exec(query, *args).to_list()

    check(inside, lambda ctx: body(ctx, tuple(range(101))), StorageLimitError, "101",
          "100 per statement")
    check(inside, lambda ctx: body(ctx, (1, 2)), SqlError,
          "Wrong number of parameter bindings for SQL query.")
    check(inside, lambda ctx: body(ctx, ({"a": 1},)), SqlError, "binding #1", "json.dumps")
    check(inside, lambda ctx: body(ctx, (2**70,)), SqlError, "64-bit")
    assert inside(lambda ctx: body(ctx, (True,))) == [{"x": "true"}]


def test_binding_and_integer_messages_are_exact(inside: Any) -> None:
    """The wrong-count and out-of-range messages keep their exact text, counts included."""
    check(inside, lambda ctx: ctx.sql.exec("SELECT ? AS x", 1, 2), SqlError,
          "Wrong number of parameter bindings for SQL query. (The current statement uses 1, "
          "and there are 2 supplied.)")
    check(inside, lambda ctx: ctx.sql.exec("SELECT ? AS x"), SqlError,
          "Wrong number of parameter bindings for SQL query. (The current statement uses 1, "
          "and there are 0 supplied.)")
    check(inside, lambda ctx: ctx.sql.exec("SELECT ?", -(2**63) - 1), SqlError,
          "Python int too large to convert to SQLite INTEGER: SQLite integers are 64-bit")
    check(inside, lambda ctx: ctx.sql.exec("SELECT ?", "a\ud800"), SqlError,
          "Cannot bind a string with a lone surrogate ('\\ud800')")
