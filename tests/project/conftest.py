"""Fixtures for Python Workers projects: write one into a temp folder, load it, close it."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dosandbox import Sandbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

ENTRY = '''\
from workers import DurableObject, Response, WorkerEntrypoint


class Counter(DurableObject):
    async def increment(self, amount=1):
        value = (await self.ctx.storage.get("n") or 0) + amount
        await self.ctx.storage.put("n", value)
        return value


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        stub = self.env.COUNTER.getByName("x")
        return Response(str(await stub.increment()))
'''

CONFIG = '''\
{
  // comments and trailing commas, as wrangler.jsonc allows
  "name": "tiny",
  "main": "src/entry.py",
  "compatibility_date": "2026-04-01",
  "compatibility_flags": ["python_workers"],
  "durable_objects": { "bindings": [{ "name": "COUNTER", "class_name": "Counter" },] },
  "migrations": [{ "tag": "v1", "new_sqlite_classes": ["Counter"] },],
  "vars": { "GREETING": "hello" },
}
'''


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """Write a project (entry.py text, wrangler.jsonc text, extra files) and return its root."""

    def make(entry: str = ENTRY, config: str = CONFIG, files: dict[str, str] | None = None,
             name: str = "proj") -> Path:
        root = tmp_path / name
        (root / "src").mkdir(parents=True)
        (root / "src" / "entry.py").write_text(textwrap.dedent(entry), encoding="utf-8")
        (root / "wrangler.jsonc").write_text(config, encoding="utf-8")
        for rel, text in (files or {}).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(textwrap.dedent(text), encoding="utf-8")
        return root

    return make


@pytest.fixture
def example(tmp_path: Path) -> Callable[[str], Path]:
    """A copy of one committed example (so __pycache__ never lands in examples/)."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("__pycache__"))
        return target

    return copy


@pytest.fixture
def load() -> Iterator[Callable[..., Sandbox]]:
    """``load(path)``: Sandbox.from_project, closed after the test."""
    opened: list[Sandbox] = []

    def open_(path: Path, **kwargs: object) -> Sandbox:
        sb = Sandbox.from_project(path, **kwargs)
        opened.append(sb)
        return sb

    yield open_
    for sb in opened:
        sb.close()
