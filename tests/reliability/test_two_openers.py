"""Two processes on one persist folder: the second gets a typed error naming the first (slow)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dosandbox import DurableObject, Sandbox
from dosandbox.errors import StorageError

CHILDREN = Path(__file__).with_name("children.py")


class Box(DurableObject):
    async def read(self) -> int | None:
        return await self.ctx.storage.get("value")


@pytest.mark.slow
def test_a_second_process_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    """The child holds the folder; this process is refused with its pid; after SIGKILL, opens."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, str(CHILDREN), "hold", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        with pytest.raises(StorageError) as info:
            Sandbox(seed=0, persist=tmp_path)
        text = str(info.value)
        assert f"another process (pid {child.pid} " in text and "children.py hold" in text
        assert "stop that process" in text and str(tmp_path) in text
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    # A crashed holder's lock is gone with its process; its acknowledged write is there.
    with Sandbox(seed=0, persist=tmp_path) as sb:
        sb.register("box", Box)
        assert sb.run(sb.durable_objects.box.get("held").read()) == 1
