"""Fixtures for the CLI tests: a sample project of objects in a temp folder, and a runner."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dosandbox.cli import main

COUNTER = '''\
"""A counter per name, the seed's first example."""
from __future__ import annotations

import datetime as dt

from dosandbox import define_durable_object

from ._shared import clamp


async def increment(ctx, amount: int = 1) -> int:
    """Add amount (clamped at zero) and return the new count.

    More text that info does not show.
    """
    ctx.set_state(count=clamp(ctx.state["count"] + amount))
    return ctx.state["count"]


def get_count(ctx) -> int:
    return ctx.state["count"]


async def since(ctx, when: dt.datetime, *, labels: list[str] | None = None) -> dict[str, int]:
    """Counts since a point in time."""
    return {"count": ctx.state["count"]}


async def alarm(ctx):
    ctx.set_state(count=0)


default = define_durable_object(
    init=lambda ctx: {"count": 0},
    methods={"increment": increment, "get_count": get_count, "since": since},
    alarm=alarm,
)
'''

CHAT_ROOM = '''\
"""A chat room, written class-style."""
from dataclasses import dataclass

from dosandbox import DurableObject


@dataclass
class Message:
    user: str
    text: str


class ChatRoom(DurableObject):
    async def post(self, message: Message, /, notify: bool = True) -> int:
        """Post a message; returns how many the room holds."""
        return 1

    def history(self, limit: int = 10) -> list[Message]:
        return []

    async def fetch(self, request):
        return None

    async def web_socket_message(self, ws, message):
        pass
'''

SHARED = """\
def clamp(n: int) -> int:
    return max(0, n)
"""

# Files the convention skips: importing any of them would fail the test loudly.
SKIPPED = {
    "test_counter.py": "raise RuntimeError('tests are never imported as objects')\n",
    "counter_test.py": "raise RuntimeError('tests are never imported as objects')\n",
    "conftest.py": "raise RuntimeError('conftest is never imported as an object')\n",
}


@dataclass
class Project:
    root: Path

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A project folder (the current directory) with counter, chat_room and skipped files."""
    proj = Project(tmp_path / "proj")
    proj.write("objects/counter.py", COUNTER)
    proj.write("objects/chat_room.py", CHAT_ROOM)
    proj.write("objects/_shared.py", SHARED)
    for name, text in SKIPPED.items():
        proj.write(f"objects/{name}", text)
    monkeypatch.chdir(proj.root)
    # The CLI puts the project root on sys.path, as `python -m` would; undo it after.
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield proj
    for name in set(sys.modules) - before:
        if name.startswith("_dosandbox_objects_"):
            del sys.modules[name]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``dosandbox ARGS`` in-process; returns exit code, stdout and stderr."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
