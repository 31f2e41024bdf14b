"""dosandbox export: objects/ → a Python Workers project that behaves the same, idempotently."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from dosandbox import Sandbox
from dosandbox.cli import main

COUNTER = '''\
"""A counter with a fetch handler."""
from dosandbox import Response, define_durable_object


async def init(ctx):
    return {"count": await ctx.storage.get("count") or 0}


async def increment(ctx, amount=1):
    ctx.state["count"] += amount
    await ctx.storage.put("count", ctx.state["count"])
    return ctx.state["count"]


async def fetch(request, ctx):
    if request.method == "POST":
        return Response.json({"count": await increment(ctx)})
    return Response.json({"count": ctx.state["count"]})


counter = define_durable_object(init=init, methods={"increment": increment}, fetch=fetch)
'''

ROOM = '''\
"""A room keeping its last messages, with sockets and an alarm."""
from dosandbox import DurableObject, Response, WebSocketPair


class Room(DurableObject):
    async def fetch(self, request):
        client, server = WebSocketPair()
        self.ctx.accept_web_socket(server)
        return Response(None, status=101, web_socket=client)

    async def web_socket_message(self, ws, message):
        for other in self.ctx.get_web_sockets():
            other.send(message.upper())

    async def remind(self, seconds):
        await self.ctx.storage.set_alarm(self.ctx.storage_now() if False else seconds)

    async def alarm(self):
        await self.ctx.storage.put("rang", True)

    async def rang(self):
        return await self.ctx.storage.get("rang") or False
'''


@pytest.fixture
def objects(tmp_path: Path) -> Path:
    folder = tmp_path / "proj" / "objects"
    folder.mkdir(parents=True)
    (folder / "counter.py").write_text(COUNTER)
    (folder / "room.py").write_text(textwrap.dedent(ROOM).replace(
        "self.ctx.storage_now() if False else seconds", "seconds"))
    return folder


def _script(sb: Sandbox) -> list[object]:
    """The same calls on both sandboxes: through the Worker, RPC, a socket, an alarm."""
    out: list[object] = []
    for _ in range(2):
        out.append(sb.run(sb.run(sb.fetch("/counter/a", method="POST")).json()))
    out.append(sb.run(sb.run(sb.fetch("/counter/a")).json()))
    out.append(sb.run(sb.durable_objects.counter.get("a").increment(5)))
    out.append(sb.run(sb.fetch("/nowhere")).status)
    client = sb.connect("/room/lobby/ws")
    client.send("hi")
    out.append(client.messages)
    room = sb.durable_objects.room.get("lobby")
    sb.run(room.remind(sb.clock.now_ms + 5_000))
    sb.clock.advance(seconds=6)
    out.append(sb.run(room.rang()))
    out.append(sorted(sb.objects()["name"]))
    return out


def test_export_round_trip_behaves_the_same(objects, tmp_path, monkeypatch):
    """The exported project, loaded with from_project, answers the same calls the same way."""
    monkeypatch.chdir(objects.parent)
    assert main(["export", "--out", "worker"]) == 0
    with Sandbox.from_directory(objects, start=1_800_000_000) as original:
        expected = _script(original)
    exported = Sandbox.from_project(objects.parent / "worker", start=1_800_000_000)
    try:
        assert _script(exported) == expected
        assert exported.worker is not None and exported.worker.__name__ == "Default"
    finally:
        exported.close()


def test_export_twice_changes_nothing(objects, monkeypatch, capsys):
    """Running export a second time writes nothing and says so."""
    monkeypatch.chdir(objects.parent)
    assert main(["export", "--out", "worker"]) == 0
    out = objects.parent / "worker"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["export", "--out", "worker"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_export_writes_platform_shapes(objects, monkeypatch):
    """wrangler.jsonc has bindings, one migration and python_workers; entry.py the classes."""
    monkeypatch.chdir(objects.parent)
    main(["export", "--out", "worker"])
    root = objects.parent / "worker"
    from dosandbox._project.wrangler import WranglerFile

    data = WranglerFile.load(root / "wrangler.jsonc").data
    assert data["main"] == "src/entry.py" and "python_workers" in data["compatibility_flags"]
    assert data["durable_objects"]["bindings"] == [
        {"name": "COUNTER", "class_name": "Counter"}, {"name": "ROOM", "class_name": "Room"}]
    assert data["migrations"] == [{"tag": "v1", "new_sqlite_classes": ["Counter", "Room"]}]
    entry = (root / "src" / "entry.py").read_text()
    assert "class Counter(DurableObject):" in entry and "class Default(WorkerEntrypoint):" in entry
    assert "async def webSocketMessage(self, ws, message):" in entry
    assert (root / "src" / "objects" / "counter.py").read_text() == COUNTER.replace(
        "from dosandbox import", "from cloudwerk import")
    assert "workers-py" in (root / "pyproject.toml").read_text()


def test_export_migrations_are_append_only(objects, monkeypatch):
    """Adding an object later appends a v2 migration and keeps v1 byte for byte."""
    monkeypatch.chdir(objects.parent)
    main(["export", "--out", "worker"])
    config = objects.parent / "worker" / "wrangler.jsonc"
    first = config.read_text()
    (objects / "extra.py").write_text(COUNTER.replace("counter =", "extra ="))
    main(["export", "--out", "worker"])
    second = config.read_text()
    v1 = first[first.index('"migrations"'):].split("}")[0]
    assert v1 in second and '"tag": "v2"' in second and '"Extra"' in second


def test_export_of_broken_objects_writes_nothing(objects, monkeypatch, capsys):
    """A module that does not load stops the export before anything is written."""
    monkeypatch.chdir(objects.parent)
    (objects / "broken.py").write_text("def oops(:\n")
    assert main(["export", "--out", "worker"]) == 1
    assert not (objects.parent / "worker").exists()
    assert "broken.py" in capsys.readouterr().err


def test_objects_list_and_info_on_a_python_workers_project(make_project, capsys):
    """objects list/info read a Python Workers project's real module (--project)."""
    root = make_project()
    assert main(["objects", "list", "--project", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (obj,) = data["objects"]
    assert (obj["name"], obj["class_name"], obj["binding"]) == ("counter", "Counter", "COUNTER")
    assert [m["name"] for m in obj["methods"]] == ["increment"]
    assert main(["objects", "info", "counter", "--project", str(root)]) == 0
    text = capsys.readouterr().out
    assert "binding env.COUNTER" in text and "already created by migration v1" in text
    assert "Sandbox.from_project" in text


def test_objects_list_finds_project_in_current_folder(make_project, monkeypatch, capsys):
    """With no objects/ but a wrangler config whose main is .py, list reads that project."""
    monkeypatch.chdir(make_project())
    assert main(["objects", "list"]) == 0
    assert "Counter" in capsys.readouterr().out


def test_objects_list_project_error_is_one_line(tmp_path, capsys):
    """A project that does not load: exit 1 and the loader's message."""
    assert main(["objects", "list", "--project", str(tmp_path)]) == 1
    assert "No wrangler config" in capsys.readouterr().err
