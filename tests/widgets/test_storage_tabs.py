"""The KV and SQL tabs: pages, prefix filter, value detail, tables, queries; all escaped."""

from __future__ import annotations

from typing import Any

from dosandbox import Sandbox
from dosandbox.errors import SqlError, SqlNotAuthorizedError


async def _make_table(ctx: Any, n: int) -> None:
    ctx.sql.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    for i in range(n):
        ctx.sql.exec("INSERT INTO items (name) VALUES (?)", f"<i>item {i}</i>")


def test_kv_tab_pages_filters_and_shows_value_detail(sb: Sandbox, stub: Any, rows: Any) -> None:
    """KV shows 50 keys a page in key order, filters by prefix, and details the chosen key."""
    handle = sb.inspect(stub)
    handle.seed_kv({f"user:{i:04d}": {"n": i} for i in range(120)} | {"config": [1, 2]})
    w = handle.widget()
    kv = w.select_tab("KV")
    assert "keys 1–50 of 121" in kv.position.value
    table = rows(kv.table.value)
    assert table[0] == ["key", "value", "type", "size"]
    assert [r[0] for r in table[1:3]] == ["config", "user:0000"]
    assert kv.prev_button.disabled and not kv.next_button.disabled
    kv.next_button.click()
    kv.next_button.click()
    assert "keys 101–121 of 121" in kv.position.value and kv.next_button.disabled
    kv.set_prefix("user:01")
    assert "keys 1–20 of 20" in kv.position.value
    assert rows(kv.table.value)[1][0] == "user:0100"
    kv.select("user:0107")
    assert "user:0107" in kv.detail.value and "n</span>: 107" in kv.detail.value
    kv.set_prefix("nothing-here")
    assert "keys 0–0 of 0" in kv.position.value and "no keys" in kv.table.value


def test_kv_tab_follows_writes_live(sb: Sandbox, stub: Any, rows: Any) -> None:
    """A put made by the object shows in an open KV tab without touching the widget."""
    w = sb.inspect(stub).widget()
    kv = w.select_tab("KV")
    assert "of 0" in kv.position.value
    sb.run(stub.put("greeting", "hello"))
    assert "keys 1–1 of 1" in kv.position.value
    assert rows(kv.table.value)[1][:3] == ["greeting", "hello", "str"]


def test_kv_script_value_shows_as_text_in_widget_and_snapshot(
    sb: Sandbox, stub: Any, rows: Any
) -> None:
    """A stored <script> value is escaped in the KV table, the detail and the static HTML."""
    from dosandbox.widgets import static_html

    attack = "<script>alert(1)</script>"
    sb.run(stub.put(attack, attack))
    handle = sb.inspect(stub)
    w = handle.widget()
    kv = w.select_tab("KV")
    for markup in (kv.table.value, kv.detail.value, static_html(handle), w.title.value,
                   w.tab("State").view.value):
        assert "<script>" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in kv.table.value
    assert rows(kv.table.value)[1][:2] == [attack, attack]  # what the reader sees: text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in w.tab("State").view.value
    assert "&lt;script&gt;" in static_html(handle)


def test_sql_tab_lists_tables_pages_rows_and_runs_queries(
    sb: Sandbox, stub: Any, rows: Any
) -> None:
    """SQL lists tables with row counts and schema, pages a table, and runs a query box."""
    sb.register("store", __import__("dosandbox").define_durable_object(
        methods={"make": _make_table}))
    store = sb.durable_objects.store.get("s")
    sb.run(store.make(120))
    w = sb.inspect(store).widget()
    sql = w.select_tab("SQL")
    listing = rows(sql.table_list.value)
    assert listing[1][:2] == ["items", "120"]
    assert "CREATE TABLE items" in listing[1][2]
    assert "rows 1–50 of 120" in sql.position.value
    sql.next_button.click()
    assert "rows 51–100 of 120" in sql.position.value
    page = rows(sql.table_page.value)
    assert page[0] == ["id", "name"] and page[1] == ["51", "<i>item 50</i>"]
    assert "<i>" not in sql.table_page.value  # escaped
    frame = sql.run_query("SELECT count(*) AS n FROM items")
    assert int(frame.iloc[0, 0]) == 120
    assert rows(sql.result.value)[1] == ["120"]


def test_sql_query_box_is_read_only_unless_writes_are_allowed(sb: Sandbox) -> None:
    """A write in the query box is refused (typed error shown) until 'allow writes' is on."""
    sb.register("store", __import__("dosandbox").define_durable_object(
        methods={"make": _make_table}))
    store = sb.durable_objects.store.get("s")
    sb.run(store.make(3))
    w = sb.inspect(store).widget()
    sql = w.select_tab("SQL")
    sql.query.value = "DELETE FROM items WHERE id = 1"
    sql.run_button.click()
    assert isinstance(w.last_error, SqlNotAuthorizedError)
    assert "read-only" in w.error.value
    assert sb.inspect(store).sql("SELECT count(*) AS n FROM items").iloc[0, 0] == 3
    sql.allow_writes.value = True
    sql.run_button.click()
    assert w.last_error is None
    assert "rows" in sql.table_list.value and ">2<" in sql.table_list.value
    sql.query.value = "SELEC nonsense"
    sql.run_button.click()
    assert isinstance(w.last_error, SqlError)
    sql.run_query("SELECT name FROM items ORDER BY id")  # still works after the error
    assert sql.result_frame["name"].tolist() == ["<i>item 1</i>", "<i>item 2</i>"]


def test_storage_tabs_on_an_object_without_storage(sb: Sandbox, stub: Any) -> None:
    """An object that stored nothing shows empty KV and SQL tabs, not errors."""
    sb.run(stub.inc())
    w = sb.inspect(stub).widget()
    assert "of 0" in w.select_tab("KV").position.value
    assert "no tables yet" in w.select_tab("SQL").table_list.value
    assert w.last_error is None
