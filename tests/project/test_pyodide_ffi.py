"""pyodide and pyodide.ffi (to_js, create_proxy, JsProxy) as a Python Worker imports them."""

from __future__ import annotations

import sys

import pytest

ENTRY = '''\
import pyodide
from js import Object, WebSocketPair
from pyodide.ffi import JsProxy, create_once_callable, create_proxy, jsnull, to_js
from workers import DurableObject, Response, WorkerEntrypoint


class Tagged(DurableObject):
    async def fetch(self, request):
        client, server = WebSocketPair.new().object_values()
        # Tags as a JavaScript array, as code written for Pyodide passes them.
        self.ctx.acceptWebSocket(server, to_js(["room", "lobby"]))
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws, message):
        for other in self.ctx.getWebSockets("lobby"):
            other.send(f"{message}:{isinstance(other, JsProxy)}")

    async def shapes(self):
        options = to_js({"prefix": "k"}, dict_converter=Object.fromEntries)
        await self.ctx.storage.put("k1", 1)
        listed = await self.ctx.storage.list(options)
        as_map = to_js({"a": [1, (2, 3)]})
        return {
            "listed": dict(listed),
            "map": [type(as_map).__name__, as_map.to_py(), isinstance(as_map, JsProxy)],
            "depth": to_js([[1]], depth=1).to_py(),
            "options": options.prefix,
            "null": [bool(jsnull), repr(jsnull)],
            "ffi": pyodide.ffi.to_js is to_js,
        }

    async def blocked(self):
        calls = []

        async def load():
            calls.append("loaded")

        proxy = create_proxy(load)
        await self.ctx.blockConcurrencyWhile(proxy)
        proxy.destroy()
        once = create_once_callable(lambda: calls.append("once"))
        once()
        errors = []
        for spent in (proxy, once):
            try:
                spent()
            except Exception as exc:
                errors.append(type(exc).__name__)
        return calls, errors


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await self.env.TAGGED.getByName("t").fetch(request)
'''

CONFIG = '''{
  "name": "ffi", "main": "src/entry.py", "compatibility_flags": ["python_workers"],
  "durable_objects": {"bindings": [{"name": "TAGGED", "class_name": "Tagged"}]},
  "migrations": [{"tag": "v1", "new_sqlite_classes": ["Tagged"]}]
}'''


@pytest.fixture
def sb(make_project, load):
    return load(make_project(ENTRY, CONFIG))


def test_to_js_shapes(sb):
    """to_js: dicts to Maps (to_py back), dict_converter objects, depth; jsnull is falsy."""
    result = sb.run(sb.durable_objects.tagged.get("t").shapes())
    assert result == {
        "listed": {"k1": 1},
        "map": ["JsMap", {"a": [1, [2, 3]]}, True],
        "depth": [[1]],
        "options": "k",
        "null": [False, "jsnull"],
        "ffi": True,
    }


def test_to_js_tags_and_js_proxy_sockets(sb):
    """acceptWebSocket(ws, to_js(tags)) works; a socket is a JsProxy, as in Pyodide."""
    first, second = sb.connect("/a"), sb.connect("/b")
    first.send("hi")
    assert first.messages == second.messages == ["hi:True"]


def test_create_proxy_and_once_callable(sb):
    """create_proxy works until destroy(); a once-callable refuses a second call."""
    calls, errors = sb.run(sb.durable_objects.tagged.get("t").blocked())
    assert calls == ["loaded", "once"] and errors == ["JsException", "JsException"]


def test_pyodide_modules_leave_with_the_project(make_project):
    """pyodide and pyodide.ffi are served while a project is open, then removed."""
    from dosandbox import Sandbox

    assert "pyodide" not in sys.modules
    with Sandbox.from_project(make_project(ENTRY, CONFIG)):
        import pyodide.ffi

        assert pyodide.ffi.create_proxy is not None
        with pytest.raises(AttributeError, match="only on the platform"):
            pyodide.http  # noqa: B018
    assert "pyodide" not in sys.modules and "pyodide.ffi" not in sys.modules
