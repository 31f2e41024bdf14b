"""The workers/js modules' shapes and conversions, as the real SDK gives them."""

from __future__ import annotations

import pytest

from dosandbox.errors import DurableObjectMethodError

ENTRY = '''\
from js import JSON, Date, Object, Response as JsResponse
from workers import DurableObject, Response, WorkerEntrypoint, env


class Shapes(DurableObject):
    async def row(self):
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (a, b)")
        self.ctx.storage.sql.exec("INSERT INTO t VALUES (?, ?)", 1, "x")
        row = self.ctx.storage.sql.exec("SELECT a, b FROM t").one()
        rows = [r.b for r in self.ctx.storage.sql.exec("SELECT b FROM t")]
        return {"a": row.a, "plain": type(row.to_py()).__name__, "rows": rows}

    async def stored(self):
        await self.ctx.storage.put("d", {"k": {"n": 1}})
        value = await self.ctx.storage.get("d")
        return value.k.n

    async def put_tuple(self):
        await self.ctx.storage.put("t", (1, 2))

    async def echo(self, value):
        return value

    def now(self):
        return Date.now()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        stub = self.env.SHAPES.getByName("s")
        if request.url.endswith("/tuple"):
            await stub.echo((1, 2))
        back = await stub.echo({"nested": {"x": 1}})
        body = JSON.stringify(Object.fromEntries([["x", back.nested.x], ["g", env.GREETING]]))
        return JsResponse.new(body, {"status": 203, "headers": {"x-kind": "js"}})
'''

CONFIG = '''{
  "name": "shapes", "main": "src/entry.py", "compatibility_flags": ["python_workers"],
  "durable_objects": {"bindings": [{"name": "SHAPES", "class_name": "Shapes"}]},
  "migrations": [{"tag": "v1", "new_sqlite_classes": ["Shapes"]}],
  "vars": {"GREETING": "hello"}
}'''


@pytest.fixture
def sb(make_project, load):
    return load(make_project(ENTRY, CONFIG))


def test_sql_rows_read_as_attributes(sb):
    """SQL rows are JsDict (row.a), as python_from_rpc makes them; to_py() gives a dict."""
    result = sb.run(sb.durable_objects.shapes.get("s").row())
    assert result == {"a": 1, "plain": "dict", "rows": ["x"]}


def test_storage_values_convert_nested(sb):
    """storage.get gives nested JsDicts: value.k.n."""
    assert sb.run(sb.durable_objects.shapes.get("s").stored()) == 1


def test_tuple_refused_by_storage_as_sdk(sb):
    """storage.put of a tuple fails as python_to_rpc does: "<class 'tuple'> cannot be sent"."""
    with pytest.raises(DurableObjectMethodError) as err:
        sb.run(sb.durable_objects.shapes.get("s").put_tuple())
    assert "<class 'tuple'> cannot be sent over RPC." in str(err.value.__cause__)


def test_rpc_results_js_module_and_env(sb):
    """RPC results as JsDict, js.JSON/Object/Response.new, `from workers import env`."""
    response = sb.run(sb.fetch("/"))
    assert response.status == 203 and response.headers["x-kind"] == "js"
    assert sb.run(response.text()) == '{"x":1,"g":"hello"}'


def test_tuple_refused_over_rpc_from_worker(sb):
    """A tuple argument from the Worker's stub is refused as the SDK refuses it."""
    with pytest.raises(TypeError, match="cannot be sent over RPC"):
        sb.run(sb.fetch("/tuple"))


def test_date_now_is_virtual_clock(sb):
    """js.Date.now() inside object code reads the sandbox's clock (epoch ms)."""
    assert sb.run(sb.durable_objects.shapes.get("s").now()) == sb.clock.now_ms


def test_js_module_names_what_it_lacks(sb):
    """An unknown js global is an AttributeError listing what the sandbox provides."""
    import js  # the sandbox's, installed while the project is loaded

    with pytest.raises(AttributeError, match="WebSocketPair"):
        js.document  # noqa: B018
