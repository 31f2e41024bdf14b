"""Runaway SQL and a runaway handler in a child process, stopped by SIGINT from here (slow)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("runaway_child.py")
EXPECTED = [
    "running sql", "stopped sql", "ok sql",
    "running handler", "stopped handler", "ok handler",
    "stopped by the cpu limit", "OK",
]


@pytest.mark.slow
def test_sigint_stops_runaway_code_and_the_child_carries_on() -> None:
    """Each "running ..." line gets SIGINT ~1 s later; the child recovers and prints OK."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                break
            seen.append(line)
            if line.startswith("running "):
                time.sleep(1.0)  # the runaway is well under way
                os.kill(child.pid, signal.SIGINT)
        code = child.wait(timeout=max(1, deadline - time.monotonic()))
        errors = child.stderr.read() if child.stderr is not None else ""
        assert seen == EXPECTED, errors
        assert code == 0, errors
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
