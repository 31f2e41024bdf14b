"""Socket handlers spelled as the platform spells them (webSocketMessage ...) on classes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from dosandbox import DurableObject, Limits, Response, Sandbox, WebSocketPair
from dosandbox.cli import main
from dosandbox.errors import ConfigError, WebSocketLimitError

ROOM_MODULE = '''"""A room written as a Python Workers class would be."""
from dosandbox import DurableObject, Response, WebSocketPair


class Room(DurableObject):
    async def fetch(self, request):
        client, server = WebSocketPair()
        self.ctx.acceptWebSocket(server)
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws, message):
        ws.send(message)

    async def webSocketClose(self, ws, code, reason, wasClean):
        pass
'''


class PlatformSpelled(DurableObject):
    """Handlers named as in JavaScript and Python Workers; ``seen`` outlives instances."""

    seen: list[Any] = []  # noqa: RUF012  (reset by the test)

    async def fetch(self, request: Any) -> Response:
        client, server = WebSocketPair()
        self.ctx.acceptWebSocket(server)
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws: Any, message: Any) -> None:
        self.seen.append(("message", message))
        ws.send(f"echo:{message}")

    async def webSocketClose(
        self, ws: Any, code: int, reason: str, was_clean: bool
    ) -> None:
        self.seen.append(("close", code, reason, was_clean))

    async def webSocketError(self, ws: Any, error: Any) -> None:
        self.seen.append(("error", type(error).__name__))


def test_platform_spelled_handlers_receive_the_events(do_sandbox: Sandbox) -> None:
    """webSocketMessage/Close/Error on a class are its handlers; nothing is dropped."""
    sb = Sandbox(start=do_sandbox.clock.now, limits=Limits(max_message_bytes=16))
    PlatformSpelled.seen = []
    sb.register("room", PlatformSpelled)
    stub = sb.durable_objects.room.get("r")
    client = sb.connect(stub, "/")
    client.send("hi")
    client.close(4000, "bye")
    other = sb.connect(stub, "/")
    with pytest.raises(WebSocketLimitError):
        other.send("x" * 17)
    assert client.messages == ["echo:hi"]
    assert PlatformSpelled.seen == [
        ("message", "hi"), ("close", 4000, "bye", True), ("error", "WebSocketLimitError"),
    ]
    assert "ws.dropped" not in list(sb.events()["kind"])
    sb.close()


def test_both_spellings_on_one_class_are_refused(do_sandbox: Sandbox) -> None:
    """web_socket_message and webSocketMessage together is a ConfigError naming both."""

    class Both(DurableObject):
        async def web_socket_message(self, ws: Any, message: Any) -> None: ...

        async def webSocketMessage(self, ws: Any, message: Any) -> None: ...

    with pytest.raises(ConfigError, match="both web_socket_message and webSocketMessage") as info:
        do_sandbox.register("both", Both)
    assert "Keep one" in info.value.message
    assert "both" not in do_sandbox.durable_objects
    do_sandbox.register("room", PlatformSpelled)  # the sandbox keeps working
    assert "room" in do_sandbox.durable_objects


def test_cli_info_and_list_show_platform_spelled_handlers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """objects list / info list webSocketMessage as a handler, not as an RPC method."""
    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "room.py").write_text(ROOM_MODULE)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert main(["objects", "info", "room", "--dir", str(objects)]) == 0
    out = capsys.readouterr().out
    assert "Handlers: fetch, webSocketMessage, webSocketClose" in out
    assert "Methods: none" in out
    assert main(["objects", "list", "--dir", str(objects)]) == 0
    assert "fetch, webSocketMessage, webSocketClose" in capsys.readouterr().out
