"""Objects served over loopback, a runner that serves a sandbox while a scenario runs, and
``dosandbox dev`` as a subprocess.

Every server binds 127.0.0.1 on a free port (``port=0``) and is stopped by the runner, even
when the scenario fails; every ``dosandbox dev`` started by ``start_dev`` is killed (by its own
PID) at the end of the test if it is still running.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import types
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dosandbox import DurableObject, Limits, Response, Sandbox, WebSocket, WebSocketPair


def last_segment(request: Any) -> str:
    """``/<object>/<name>/<rest>`` → ``<rest>`` (the object sees the whole path)."""
    return "/".join(request.parsed_url.path.split("/")[3:])


class Api(DurableObject):
    """HTTP endpoints: a counter, an echo, headers, a big body, a sleeper, a bug."""

    async def fetch(self, request: Any) -> Response:
        rest = last_segment(request)
        if rest == "count":
            n = (await self.ctx.storage.get("n") or 0) + 1
            await self.ctx.storage.put("n", n)
            return Response.json({"n": n})
        if rest == "echo":
            body = await request.bytes()
            return Response(
                body,
                status=201,
                headers={"x-method": request.method, "x-seen": request.headers.get("x-mine", ""),
                         "x-url": request.url, "content-type": "application/octet-stream"},
            )
        if rest == "cookies":
            return Response("two", headers=[("set-cookie", "a=1"), ("set-cookie", "b=2")])
        if rest == "big":
            return Response(bytes(range(256)) * 8192)  # 2 MiB
        if rest == "sleep":
            await asyncio.sleep(0.3)
            return Response("slept")
        if rest == "alarm":
            await self.ctx.set_alarm(dt.timedelta(milliseconds=200))
            return Response("set")
        if rest == "fired":
            return Response.json({"fired": await self.ctx.storage.get("fired") or False})
        if rest == "bug":
            raise RuntimeError("handler bug")
        return Response("no such endpoint", status=404)

    async def alarm(self, *args: Any) -> None:
        await self.ctx.storage.put("fired", True)


class Room(DurableObject):
    """WebSockets on .../ws (hibernatable, tags from ?tags=) and .../std (the standard API)."""

    journal: list[Any] = []  # noqa: RUF012  (reset by the fixture)
    inits = 0

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        type(self).inits += 1

    async def fetch(self, request: Any) -> Response:
        rest = last_segment(request)
        if request.headers.get("upgrade") != "websocket":
            return Response("Expected Upgrade: websocket", status=426)
        client, server = WebSocketPair()
        if rest == "ws":
            tags = request.parsed_url.params.get("tags")
            self.ctx.accept_web_socket(server, tags.split(",") if tags else None)
            server.serialize_attachment({"name": request.parsed_url.params.get("name")})
        elif rest == "std":
            server.accept()

            def on_message(event: Any) -> None:
                server.send(f"std:{event.data}")

            server.add_event_listener("message", on_message)
        else:
            return Response("no socket here", status=404)
        return Response(None, status=101, web_socket=client)

    async def web_socket_message(self, ws: WebSocket, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.journal.append(("binary", message))
            ws.send(message[::-1])
            return
        command = json.loads(message) if message.startswith("{") else {"op": "echo"}
        op = command["op"]
        self.journal.append(("message", op))
        if op == "echo":
            ws.send(message)
        elif op == "broadcast":
            for other in self.ctx.get_web_sockets(command.get("tag")):
                other.send(command["text"])
        elif op == "close":
            ws.close(command["code"], command.get("reason", ""))
        elif op == "whoami":
            ws.send(json.dumps({"attachment": ws.deserialize_attachment(),
                                "tags": self.ctx.get_tags(ws), "inits": type(self).inits}))

    async def web_socket_close(self, ws: WebSocket, code: int, reason: str, clean: bool) -> None:
        self.journal.append(("close", code, reason, clean))

    async def web_socket_error(self, ws: WebSocket, error: Any) -> None:
        self.journal.append(("error", type(error).__name__))


Scenario = Callable[[Sandbox, Any], Awaitable[None]]


def serve_while(scenario: Scenario, *, limits: Limits | None = None) -> Sandbox:
    """Serve a fresh sandbox (api, room) on a free port while ``scenario(sb, server)`` runs."""
    Room.journal = []
    Room.inits = 0
    sb = Sandbox(limits=limits)
    sb.register("api", Api)
    sb.register("room", Room)
    return serve_sandbox(sb, scenario)


def serve_sandbox(sb: Sandbox, scenario: Scenario) -> Sandbox:
    """Serve ``sb`` on a free port while ``scenario(sb, server)`` runs; then stop and close."""
    async def main() -> None:
        server = sb.serve(port=0)
        try:
            await scenario(sb, server)
        finally:
            server.stop()
            await asyncio.wait_for(server.wait_stopped(), 10)

    try:
        asyncio.run(main())
    finally:
        sb.close()
    return sb


def ws_url(server: Any, path: str) -> str:
    return server.url.replace("http://", "ws://") + path




async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll (on the server's loop, so it keeps serving) until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.fixture
def kit() -> types.SimpleNamespace:
    """The helpers: ``serve(scenario)``, ``ws_url(server, path)``, ``wait_for(pred)``, Room."""
    return types.SimpleNamespace(serve=serve_while, ws_url=ws_url, wait_for=wait_for, Room=Room)


# --- dosandbox dev as a subprocess ------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DevProcess:
    """A running ``dosandbox dev``: its process and the lines it printed, read by a thread."""

    def __init__(self, args: list[str]) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dosandbox", "dev", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 20) -> str:
        """The next printed line containing ``text`` (lines before it are kept in ``seen``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed; got: {self.seen}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # ended by its own PID only
            self.proc.wait(10)


@pytest.fixture
def start_dev() -> Iterator[Callable[[list[str]], DevProcess]]:
    """``start_dev(args)`` runs ``dosandbox dev *args``; leftovers are killed at the end."""
    started: list[DevProcess] = []

    def start(args: list[str]) -> DevProcess:
        started.append(DevProcess(args))
        return started[-1]

    yield start
    for dev in started:
        dev.kill()
