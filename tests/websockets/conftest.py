"""A small WebSocket object driven by JSON commands, and fixtures around it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from dosandbox import (
    DurableObject,
    Response,
    Sandbox,
    WebSocket,
    WebSocketPair,
    WebSocketRequestResponsePair,
)


class Room(DurableObject):
    """Accepts sockets on /ws (tags from ?tags=a,b) and obeys JSON commands from them.

    ``Room.journal`` records what the handlers saw; it lives outside the instance so tests
    can read it across evictions.
    """

    journal: list[Any] = []  # noqa: RUF012  (reset by the fixture)
    inits = 0

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        type(self).inits += 1
        self.seen = 0  # in-memory only: lost on eviction

    async def fetch(self, request: Any) -> Response:
        url = request.parsed_url
        if url.path != "/ws":
            return Response("Not found", status=404)
        if request.headers.get("upgrade") != "websocket":
            return Response("Expected Upgrade: websocket", status=426)
        client, server = WebSocketPair()
        tags = url.params.get("tags")
        self.ctx.accept_web_socket(server, tags.split(",") if tags else None)
        if url.params.get("name"):
            server.serialize_attachment({"name": url.params["name"]})
        if url.params.get("welcome"):
            server.send("welcome")
        return Response(None, status=101, web_socket=client)

    async def web_socket_message(self, ws: WebSocket, message: str | bytes) -> None:
        self.seen += 1
        if isinstance(message, bytes):
            self.journal.append(("binary", message))
            ws.send(message[::-1])
            return
        command = json.loads(message) if message.startswith("{") else {"op": "echo"}
        op = command["op"]
        self.journal.append(("message", op, self.seen))
        if op == "echo":
            ws.send(message)
        elif op == "broadcast":
            for other in self.ctx.get_web_sockets(command.get("tag")):
                other.send(command["text"])
        elif op == "close":
            ws.close(command.get("code"), command.get("reason"))
            self.journal.append(("after_close_state", ws.ready_state))
        elif op == "raise":
            raise RuntimeError("handler bug")
        elif op == "attach":
            ws.serialize_attachment(command["value"])
        elif op == "whoami":
            ws.send(json.dumps({
                "attachment": ws.deserialize_attachment(),
                "tags": self.ctx.get_tags(ws),
                "seen": self.seen,
                "listed": ws in self.ctx.get_web_sockets(),
            }))
        elif op == "sleep":
            self.journal.append(("start", command["label"]))
            ws.send(f"before {command['label']}")
            await asyncio.sleep(command["seconds"])
            self.journal.append(("end", command["label"]))
        elif op == "mark":
            self.journal.append(("mark", command["label"]))
        elif op == "send_after_close":
            ws.close(4000, "done")
            ws.send("too late")

    async def web_socket_close(
        self, ws: WebSocket, code: int, reason: str, was_clean: bool
    ) -> None:
        self.journal.append(
            ("close", ws.id, code, reason, was_clean, ws.ready_state,
             ws in self.ctx.get_web_sockets())
        )

    async def web_socket_error(self, ws: WebSocket, error: Any) -> None:
        self.journal.append(("error", ws.id, type(error).__name__))

    # RPC helpers for tests
    def count(self, tag: str | None = None) -> int:
        return len(self.ctx.get_web_sockets(tag))

    def ids(self, tag: str | None = None) -> list[str]:
        return [ws.id for ws in self.ctx.get_web_sockets(tag)]

    def seen_count(self) -> int:
        return self.seen

    def set_auto(self, request: str, response: str) -> None:
        self.ctx.set_web_socket_auto_response(WebSocketRequestResponsePair(request, response))


@pytest.fixture
def sb(do_sandbox: Sandbox) -> Sandbox:
    Room.journal = []
    Room.inits = 0
    do_sandbox.register("room", Room)
    return do_sandbox


@pytest.fixture
def room(sb: Sandbox) -> Any:
    return sb.durable_objects.room.get("r1")
