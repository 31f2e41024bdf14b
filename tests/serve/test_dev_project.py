"""Python Workers projects served to real clients: ``dosandbox dev`` on a copy of
examples/python-chat (a subprocess: the page, WebSockets, reloads, a broken edit, SIGTERM), and
``Sandbox.from_project(...).serve()`` in process (examples/python-lists and python-chat routes,
a Worker that raises). Every request goes through the project's ``WorkerEntrypoint``, as on
``wrangler dev``. The examples are copied to tmp_path, never changed in place."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from dosandbox import Sandbox

from .conftest import serve_sandbox

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
STATS = 'return Response.json({"room": parts[1], "joined": joined})'


def _copy(example: str, tmp_path: Path) -> Path:
    target = tmp_path / example
    shutil.copytree(EXAMPLES / example, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` in the file (which must hold it), with a new mtime even on coarse clocks."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    time.sleep(0.05)
    path.write_text(text.replace(old, new))


def _port(ready_line: str) -> int:
    return int(ready_line.rsplit(":", 1)[1])


async def _recv_json(ws: Any, timeout: float = 10) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return data


async def _join(url: str, name: str) -> Any:
    """A chat client that has seen its own "joined" event."""
    ws = await websockets.connect(f"{url}/room/lobby?name={name}")
    assert await _recv_json(ws) == {"type": "joined", "name": name}
    return ws


# --- dosandbox dev on a copy of examples/python-chat -------------------------------------------


@pytest.fixture
def chat(tmp_path: Path) -> Path:
    return _copy("python-chat", tmp_path)


@pytest.fixture
def chat_dev(chat: Path, start_dev: Callable[[list[str]], Any]) -> tuple[Any, str]:
    """``dosandbox dev`` on the chat copy, ready: the process and its http:// URL."""
    dev = start_dev([str(chat), "--port", "0"])
    port = _port(dev.wait_for("Ready on"))
    return dev, f"http://127.0.0.1:{port}"


def test_dev_says_it_serves_the_projects_worker_and_bindings(chat_dev: tuple[Any, str]) -> None:
    """The "Serving" line names the Worker class, its file and the bindings."""
    dev, _ = chat_dev
    line = dev.wait_for("Serving")
    assert line.startswith("Serving python-chat: Worker Default in src/entry.py, bindings "
                           "ROOMS (ChatRoom); storage kept in a temporary folder")


def test_dev_serves_the_page_and_broadcasts_through_the_worker(chat_dev: tuple[Any, str]) -> None:
    """The Worker's HTML page over HTTP, its redirect, and a message from one real WebSocket
    reaching another through Worker → ChatRoom."""
    dev, url = chat_dev
    page = httpx.get(f"{url}/room/lobby", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text == (EXAMPLES / "python-chat" / "src" / "page.html").read_text()
    home = httpx.get(f"{url}/", timeout=10)
    assert home.status_code == 302 and home.headers["location"].endswith("/room/lobby")
    dev.wait_for("GET /room/lobby 200 OK")

    async def talk() -> None:
        ws_url = url.replace("http://", "ws://")
        ann = await _join(ws_url, "ann")
        bob = await _join(ws_url, "bob")
        try:
            assert await _recv_json(ann) == {"type": "joined", "name": "bob"}
            await ann.send("hello bob")
            said = {"type": "message", "name": "ann", "text": "hello bob"}
            assert await _recv_json(bob) == said
            assert await _recv_json(ann) == said
        finally:
            await ann.close()
            await bob.close()

    asyncio.run(talk())
    stats = httpx.get(f"{url}/stats/lobby", timeout=10).json()
    assert stats == {"room": "lobby", "joined": 2}


def test_dev_reloads_an_edit_of_the_worker_and_keeps_storage(
    chat_dev: tuple[Any, str], chat: Path
) -> None:
    """Editing src/entry.py changes the answer; the room's count in storage survives; a socket
    open across the reload is closed with 1001 (the server restarts); an edit of the
    wrangler file reloads too."""
    dev, url = chat_dev

    async def join_then_reload() -> int | None:
        ws = await _join(url.replace("http://", "ws://"), "ann")
        _edit(chat / "src" / "entry.py", STATS, STATS.replace("joined})", 'joined, "v": 2})'))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 20)
        return ws.close_code

    assert asyncio.run(join_then_reload()) == 1001
    dev.wait_for("entry.py changed.")
    dev.wait_for("Reloading: the Worker and its objects restart, their storage is kept.")
    dev.wait_for("Ready on")
    assert httpx.get(f"{url}/stats/lobby", timeout=10).json() == {
        "room": "lobby", "joined": 1, "v": 2}
    _edit(chat / "wrangler.toml", 'compatibility_date = "2026-04-01"',
          'compatibility_date = "2026-04-01"\n\n[vars]\nGREETING = "hi"')
    dev.wait_for("wrangler.toml changed.")
    dev.wait_for("Ready on")
    assert httpx.get(f"{url}/stats/lobby", timeout=10).json()["joined"] == 1


def test_dev_reports_a_broken_edit_and_the_old_code_keeps_serving(
    chat_dev: tuple[Any, str], chat: Path
) -> None:
    """A syntax error in the Worker, then a binding naming a class the module lacks: each is
    reported with its file, nothing reloads, the old code answers; fixing both reloads."""
    dev, url = chat_dev
    entry, config = chat / "src" / "entry.py", chat / "wrangler.toml"
    good_entry, good_config = entry.read_text(), config.read_text()
    assert httpx.get(f"{url}/stats/lobby", timeout=10).json() == {"room": "lobby", "joined": 0}
    _edit(entry, STATS, STATS.replace("return ", "return ((", 1))
    line = dev.wait_for("SyntaxError")
    assert line.startswith(f"{entry}, line ")
    dev.wait_for("Not reloaded: fix the problem above; the previous code keeps serving.")
    assert httpx.get(f"{url}/stats/lobby", timeout=10).json() == {"room": "lobby", "joined": 0}

    time.sleep(0.05)
    entry.write_text(good_entry)
    _edit(config, '"ChatRoom"', '"Lobby"')  # the binding and its migration
    line = dev.wait_for("defines no such class")
    assert line.startswith(f"{config}: binding ROOMS names class Lobby, but ")
    assert "(its Durable Objects: ChatRoom)" in line
    dev.wait_for("Not reloaded")
    assert httpx.get(f"{url}/stats/lobby", timeout=10).status_code == 200

    time.sleep(0.05)
    config.write_text(good_config)
    dev.wait_for("Reloading: the Worker and its objects restart")
    dev.wait_for("Ready on")
    assert httpx.get(f"{url}/stats/lobby", timeout=10).json() == {"room": "lobby", "joined": 0}


def test_dev_stops_on_sigterm_closing_sockets_and_leaving_nothing_running(
    chat_dev: tuple[Any, str],
) -> None:
    """SIGTERM: a connected browser gets Close 1001, the process exits 0 and is gone (by
    PID), nothing answers on its port, and the port can be listened on again."""
    dev, url = chat_dev

    async def connected_through_sigterm() -> int | None:
        ws = await _join(url.replace("http://", "ws://"), "ann")
        dev.proc.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 15)
        return ws.close_code

    assert asyncio.run(connected_through_sigterm()) == 1001
    assert dev.proc.wait(15) == 0
    dev.wait_for("Stopping: closing connections (1001) and storage.")
    deadline = time.monotonic() + 5
    while Path(f"/proc/{dev.proc.pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # reaped by wait(); /proc follows at once on Linux
    assert not Path(f"/proc/{dev.proc.pid}").exists()
    with pytest.raises(httpx.ConnectError):  # nobody listens there any more
        httpx.get(url, timeout=5)
    with socket.socket() as again:  # and a new server may take the port (as dev itself would,
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT)
        again.bind(("127.0.0.1", _port(url)))
        again.listen()


def test_dev_on_a_project_that_does_not_load_exits_1_naming_the_file(chat: Path) -> None:
    """A binding naming a missing class at start: exit 1, one line naming the file and fix."""
    _edit(chat / "wrangler.toml", '"ChatRoom"', '"Lobby"')
    result = subprocess.run(
        [sys.executable, "-m", "dosandbox", "dev", str(chat), "--port", "0"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {chat / 'wrangler.toml'}: binding ROOMS names "
                                    "class Lobby")
    assert "Rename the class, or fix class_name in the config." in result.stderr
    assert "Ready on" not in result.stdout


def test_dev_on_a_wrangler_file_that_does_not_parse_exits_1_naming_it(tmp_path: Path) -> None:
    """A broken wrangler.jsonc is reported with its line, not taken for "no project here"."""
    (tmp_path / "wrangler.jsonc").write_text('{ "main": "src/entry.py",\n oops }')
    result = subprocess.run(
        [sys.executable, "-m", "dosandbox", "dev", str(tmp_path), "--port", "0"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'wrangler.jsonc'} is not valid JSONC "
                                    "at line 2")


def test_dev_prefers_objects_when_the_configs_main_does_not_exist_yet(
    tmp_path: Path, start_dev: Callable[[list[str]], Any]
) -> None:
    """A folder with objects/ and the wrangler.toml `dosandbox wrangler` writes (main =
    src/entry.py, not written yet) serves its objects, as before."""
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "counter.py").write_text(
        "from dosandbox import DurableObject, Response\n\n\n"
        "class Counter(DurableObject):\n"
        "    async def fetch(self, request):\n"
        "        return Response('counted')\n"
    )
    (tmp_path / "wrangler.toml").write_text('name = "x"\nmain = "src/entry.py"\n')
    dev = start_dev([str(tmp_path), "--port", "0"])
    port = _port(dev.wait_for("Ready on"))
    assert "as /<object>/<name>/..." in dev.wait_for("Serving counter from")
    assert httpx.get(f"http://127.0.0.1:{port}/counter/a/", timeout=10).text == "counted"


# --- Sandbox.from_project(...).serve() in process ----------------------------------------------


def _serve_project(path: Path, scenario: Callable[[Sandbox, Any], Awaitable[None]]) -> Sandbox:
    """Serve the project on a free port while ``scenario(sb, server)`` runs, then stop."""
    return serve_sandbox(Sandbox.from_project(path), scenario)


def test_from_project_serve_answers_the_lists_routes_through_the_worker(tmp_path: Path) -> None:
    """examples/python-lists over real HTTP: add, show, the Worker's 400 and 404, and the
    object's storage (env var MAX_MESSAGES from the config) seen in the inspector."""
    project = _copy("python-lists", tmp_path)

    async def scenario(sb: Sandbox, server: Any) -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            assert (await client.get("/alice/show")).text == "No messages"
            added = await client.get("/alice/add/hello%20world")
            assert (added.status_code, added.text) == (200, "Message sent (1 in alice)")
            assert (await client.get("/alice/add/again")).text == "Message sent (2 in alice)"
            assert (await client.get("/alice/show")).text == "hello world\nagain"
            bad = await client.get("/")
            assert (bad.status_code, bad.text) == (400, "List ID not specified")
            missing = await client.get("/alice/nope")
            assert (missing.status_code, missing.text) == (404, "Not Found")
        storage = sb.inspect(sb.durable_objects.lists.get("alice")).kv
        assert json.loads(dict(zip(storage["key"], storage["value"], strict=True))["messages"]) \
            == ["hello world", "again"]

    sb = _serve_project(project, scenario)
    fetched = [e for e in sb.event_log.select() if e.kind == "worker.fetch"]
    assert len(fetched) == 6  # every request went through the Worker


def test_from_project_serve_bridges_chat_websockets_through_the_worker(tmp_path: Path) -> None:
    """examples/python-chat in process: two real clients joined through the Worker, a
    broadcast reaches both, and the room's inspector lists both sockets with attachments."""
    project = _copy("python-chat", tmp_path)

    async def scenario(sb: Sandbox, server: Any) -> None:
        ws_url = server.url.replace("http://", "ws://").rstrip("/")
        ann = await _join(ws_url, "ann")
        bob = await _join(ws_url, "bob")
        try:
            assert await _recv_json(ann) == {"type": "joined", "name": "bob"}
            await bob.send("hi all")
            said = {"type": "message", "name": "bob", "text": "hi all"}
            assert await _recv_json(ann) == said and await _recv_json(bob) == said
            sockets = sb.inspect(sb.durable_objects.rooms.get("lobby")).sockets
            assert [a["name"] for a in sockets["attachment"]] == ["ann", "bob"]
        finally:
            await ann.close()
            await bob.close()

    _serve_project(project, scenario)


WORKER_THAT_RAISES = '''\
from urllib.parse import urlparse

from workers import DurableObject, Response, WorkerEntrypoint


class Box(DurableObject):
    async def explode(self):
        raise ValueError("the object broke")


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        if path == "/boom":
            raise RuntimeError("the Worker broke")
        if path == "/object":
            await self.env.BOX.getByName("a").explode()
        return Response("fine")
'''


def test_an_exception_in_the_workers_fetch_answers_500_and_serving_goes_on(
    tmp_path: Path,
) -> None:
    """A Worker that raises (itself, or through an object's RPC) answers 500 with the error,
    as the platform does; the next request is answered as usual."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "entry.py").write_text(WORKER_THAT_RAISES)
    (tmp_path / "wrangler.jsonc").write_text(json.dumps({
        "name": "raises", "main": "src/entry.py", "compatibility_flags": ["python_workers"],
        "durable_objects": {"bindings": [{"name": "BOX", "class_name": "Box"}]},
        "migrations": [{"tag": "v1", "new_sqlite_classes": ["Box"]}],
    }))

    async def scenario(sb: Sandbox, server: Any) -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            boom = await client.get("/boom")
            assert boom.status_code == 500
            assert boom.text == "Error handling GET /boom: the Worker broke\n"
            broke = await client.get("/object")
            assert broke.status_code == 500 and "the object broke" in broke.text
            fine = await client.get("/")
            assert (fine.status_code, fine.text) == (200, "fine")

    sb = _serve_project(tmp_path, scenario)
    errors = [e.message for e in sb.event_log.select() if e.kind == "worker.error"]
    assert len(errors) == 2 and "RuntimeError: the Worker broke" in errors[0]
