"""A persisted file that is not a database: a typed StorageError on first use, others work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dosandbox import DurableObject, Sandbox
from dosandbox.errors import StorageError


class Note(DurableObject):
    async def write(self, text: str) -> None:
        await self.ctx.storage.put("text", text)

    async def read(self) -> Any:
        return await self.ctx.storage.get("text")


def _garble(folder: Path, stub: Any) -> Path:
    path = folder / "note" / f"{stub.id}.sqlite"
    path.write_bytes(b"these bytes are not SQLite " * 200)
    return path


def test_garbage_file_is_a_storage_error_naming_it(tmp_path: Path) -> None:
    """register() still works; the broken object's first use names the file and the fix."""
    with Sandbox(seed=0, persist=tmp_path) as sb:
        sb.register("note", Note)
        for name in ("bad", "good"):
            sb.run(sb.durable_objects.note.get(name).write(name))
        bad_stub = sb.durable_objects.note.get("bad")
    bad_path = _garble(tmp_path, bad_stub)
    with Sandbox(seed=0, persist=tmp_path) as sb:
        sb.register("note", Note)  # reads every file's alarm: the bad one is logged, skipped
        logged = [e.message for e in sb.event_log if e.kind == "error"]
        assert any(bad_path.name in m and "not a SQLite database" in m for m in logged)
        bad = sb.durable_objects.note.get("bad")
        with pytest.raises(StorageError) as info:
            sb.run(bad.read())
        text = str(info.value)
        assert str(bad_path) in text and "not a SQLite database" in text
        assert "Move the file away" in text
        assert sb.run(sb.durable_objects.note.get("good").read()) == "good"
        with pytest.raises(StorageError, match="not a SQLite database"):
            sb.run(bad.read())  # the same answer every time, nothing half-opened
        with pytest.raises(StorageError, match="not a SQLite database"):
            _ = sb.inspect(bad).kv
        bad_path.unlink()  # the fix the message names: the object starts empty
        assert sb.run(sb.durable_objects.note.get("bad").read()) is None


def test_garbage_file_replacing_an_evicted_objects_database(tmp_path: Path) -> None:
    """A database replaced while its object was evicted fails on reopen with the same error."""
    with Sandbox(seed=0, persist=tmp_path) as sb:
        sb.register("note", Note)
        stub = sb.durable_objects.note.get("n")
        sb.run(stub.write("x"))
        sb.inspect(stub).evict()  # its database is closed now
        path = _garble(tmp_path, stub)
        with pytest.raises(StorageError, match="not a SQLite database") as info:
            sb.run(stub.read())
        assert str(path) in str(info.value)
        with pytest.raises(StorageError, match="not a SQLite database"):
            sb.run(stub.read())  # still closed, still the same typed error
        assert sb.run(sb.durable_objects.note.get("other").read()) is None
        path.unlink()
        assert sb.run(stub.read()) is None  # reopened: a fresh, empty database
