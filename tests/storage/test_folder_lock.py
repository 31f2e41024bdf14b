"""One writer per persist folder: another holder's folder is refused naming the holder; a
newer sandbox of this process (a re-run cell) closes the older one and takes over."""

from __future__ import annotations

import fcntl
import time
from pathlib import Path
from typing import Any

import pytest

from dosandbox import DurableObject, Sandbox
from dosandbox._storage.database import LOCK_NAME
from dosandbox.errors import DriverError, StorageError


class Counter(DurableObject):
    async def increment(self) -> int:
        value = (await self.ctx.storage.get("n") or 0) + 1
        await self.ctx.storage.put("n", value)
        return value

    async def arm(self) -> None:
        await self.ctx.storage.set_alarm(time.time() * 1000 + 1_000)

    async def alarm(self, info: Any = None) -> None:
        await self.ctx.storage.put("fired", (await self.ctx.storage.get("fired") or 0) + 1)


def test_a_folder_held_elsewhere_is_refused_naming_the_holder(tmp_path: Path) -> None:
    """A folder locked by someone else: StorageError naming the holder and the fix."""
    with open(tmp_path / LOCK_NAME, "w", encoding="utf-8") as other:  # another holder's lock
        other.write("pid 4242 since 2026-12-02T10:00:00: other_notebook.py\n")
        other.flush()
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(StorageError) as info:
            Sandbox(seed=0, persist=tmp_path)
        text = str(info.value)
        assert str(tmp_path) in text and "another process (pid 4242" in text
        assert "another persist= folder" in text
        assert info.value.details["holder"].startswith("pid 4242")
    with Sandbox(seed=0, persist=tmp_path) as sb:  # released: it opens
        assert sb.persist == tmp_path


def test_a_rerun_cell_takes_the_folder_over(tmp_path: Path) -> None:
    """sb = Sandbox(persist=...) again in this process closes the older sandbox, keeps data."""
    first = Sandbox(seed=0, persist=tmp_path)
    first.register("counter", Counter)
    first.run(first.durable_objects.counter.get("c").increment())
    with Sandbox(seed=0, persist=tmp_path) as second:  # the re-run cell
        assert first.closed
        assert "taken over from an earlier Sandbox" in second.events()["message"].iloc[0]
        second.register("counter", Counter)
        assert second.run(second.durable_objects.counter.get("c").increment()) == 2
        with pytest.raises(DriverError, match="closed"):
            first.run(first.durable_objects.counter.get("c").increment())


def test_close_releases_the_folder(tmp_path: Path) -> None:
    """After sb.close() the next sandbox opens the folder and sees every write."""
    with Sandbox(seed=0, persist=tmp_path) as first:
        first.register("counter", Counter)
        for _ in range(3):
            first.run(first.durable_objects.counter.get("c").increment())
    with Sandbox(seed=0, persist=tmp_path) as second:
        second.register("counter", Counter)
        assert second.run(second.durable_objects.counter.get("c").increment()) == 4


def test_a_forgotten_sandbox_lets_go_when_collected(tmp_path: Path) -> None:
    """A sandbox nothing refers to any more does not block the folder (it is collected)."""
    Sandbox(seed=0, persist=tmp_path).register("counter", Counter)
    Sandbox(seed=0).close()  # the newest sandbox is the active one: the first is unreferenced
    with Sandbox(seed=0, persist=tmp_path) as again:
        assert again.persist == tmp_path


def test_the_persisted_alarm_fires_once(tmp_path: Path) -> None:
    """With the folder locked, a persisted alarm fires once, not once per opener."""
    with Sandbox(seed=0, persist=tmp_path) as first:
        first.register("counter", Counter)
        first.run(first.durable_objects.counter.get("c").arm())
    second = Sandbox(seed=0, persist=tmp_path)
    second.register("counter", Counter)
    with Sandbox(seed=0, persist=tmp_path) as third:  # takes over: second is closed
        third.register("counter", Counter)
        third.clock.advance(seconds=5)
        assert second.closed
        handle = third.inspect(third.durable_objects.counter.get("c"))
        assert handle.kv["value"][handle.kv["key"] == "fired"].tolist() == [1]


def test_a_stale_lock_file_does_not_block(tmp_path: Path) -> None:
    """A lock file left by a dead process (pid text, no lock held) is taken over."""
    (tmp_path / LOCK_NAME).write_text("pid 999999 since 2020-01-01T00:00:00: crashed.py\n")
    with Sandbox(seed=0, persist=tmp_path) as sb:
        sb.register("counter", Counter)
        assert sb.run(sb.durable_objects.counter.get("c").increment()) == 1
    assert (tmp_path / LOCK_NAME).read_text().startswith("pid ")


def test_in_memory_sandboxes_need_no_lock(tmp_path: Path) -> None:
    """Without persist= any number of sandboxes coexist, and none writes a lock file."""
    with Sandbox(seed=0) as a, Sandbox(seed=0) as b:
        assert a.persist is None and b.persist is None
    assert not (tmp_path / LOCK_NAME).exists()
