"""``dosandbox dev`` as a real subprocess: Ready line, request log, reload on change with
storage kept, a clean stop on SIGTERM with nothing left running, and a port in use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

COUNTER = '''\
from dosandbox import DurableObject, Response


class Counter(DurableObject):
    async def fetch(self, request):
        n = (await self.ctx.storage.get("n") or 0) + 1
        await self.ctx.storage.put("n", n)
        return Response(f"{VERSION} {n}")


VERSION = "v1"
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "counter.py").write_text(COUNTER)
    return tmp_path


@pytest.fixture
def dev_process(
    project: Path, start_dev: Callable[[list[str]], Any]
) -> tuple[Any, int]:
    port = _free_port()
    return start_dev([str(project), "--port", str(port)]), port


def test_dev_serves_logs_reloads_and_stops_on_sigterm(
    dev_process: tuple[Any, int], project: Path
) -> None:
    """Ready on the port, a log line per request, a reload keeps storage, SIGTERM exits 0."""
    dev, port = dev_process
    assert dev.wait_for("Ready on") == f"Ready on http://127.0.0.1:{port}"
    url = f"http://127.0.0.1:{port}/counter/a/"
    assert httpx.get(url, timeout=10).text == "v1 1"
    assert httpx.get(url, timeout=10).text == "v1 2"
    assert dev.wait_for("GET /counter/a/ 200 OK").startswith("GET /counter/a/ 200 OK (")
    time.sleep(0.05)  # a new mtime, even on coarse clocks
    (project / "objects" / "counter.py").write_text(COUNTER.replace('"v1"', '"v2"'))
    dev.wait_for("counter.py changed.")
    dev.wait_for("Reloading: the objects restart")
    dev.wait_for("Ready on")
    assert httpx.get(url, timeout=10).text == "v2 3"  # new code, same storage
    dev.proc.send_signal(signal.SIGTERM)
    assert dev.proc.wait(15) == 0
    dev.wait_for("Stopping")
    with socket.socket() as again:  # nothing left listening
        again.bind(("127.0.0.1", port))
    assert not Path(f"/proc/{dev.proc.pid}").exists()


def test_dev_keeps_serving_when_a_changed_file_does_not_load(
    dev_process: tuple[Any, int], project: Path
) -> None:
    """A syntax error in a changed object: reported, and the previous objects keep serving."""
    dev, port = dev_process
    dev.wait_for("Ready on")
    (project / "objects" / "counter.py").write_text("this is not python\n")
    dev.wait_for("Not reloaded")
    assert httpx.get(f"http://127.0.0.1:{port}/counter/a/", timeout=10).text == "v1 1"
    dev.proc.send_signal(signal.SIGINT)  # Ctrl-C stops it as cleanly
    assert dev.proc.wait(15) == 0


def test_dev_persist_keeps_storage_across_runs(
    project: Path, tmp_path: Path, start_dev: Callable[[list[str]], Any]
) -> None:
    """--persist DIR: a second run finds what the first stored."""
    data = tmp_path / "data"
    for expected in ("v1 1", "v1 2"):
        port = _free_port()
        dev = start_dev([str(project / "objects"), "--port", str(port), "--persist", str(data)])
        dev.wait_for("Ready on")
        assert httpx.get(f"http://127.0.0.1:{port}/counter/a/", timeout=10).text == expected
        dev.proc.send_signal(signal.SIGTERM)
        assert dev.proc.wait(15) == 0


def test_dev_on_a_port_in_use_exits_1_naming_the_port(project: Path) -> None:
    """Another program holds the port: exit status 1 and one line naming the port."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "dosandbox", "dev", str(project), "--port", str(port)],
            capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
    finally:
        holder.close()
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr


def test_dev_on_a_folder_without_objects_exits_1_saying_what_to_pass(tmp_path: Path) -> None:
    """A folder with no objects/ and no modules: exit 1 naming the folder to pass."""
    result = subprocess.run(
        [sys.executable, "-m", "dosandbox", "dev", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert result.returncode == 1 and "no objects/ folder" in result.stderr
