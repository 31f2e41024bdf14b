"""``dosandbox dev`` as a real subprocess: Ready line, request log, reload on change with
storage kept, a clean stop on SIGTERM with nothing left running, and a port in use."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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


class _Dev:
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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "counter.py").write_text(COUNTER)
    return tmp_path


@pytest.fixture
def dev_process(project: Path) -> Iterator[tuple[_Dev, int]]:
    port = _free_port()
    dev = _Dev([str(project), "--port", str(port)])
    try:
        yield dev, port
    finally:
        if dev.proc.poll() is None:
            dev.proc.kill()  # ended by its own PID only
            dev.proc.wait(10)


def test_dev_serves_logs_reloads_and_stops_on_sigterm(
    dev_process: tuple[_Dev, int], project: Path
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
    dev_process: tuple[_Dev, int], project: Path
) -> None:
    """A syntax error in a changed object: reported, and the previous objects keep serving."""
    dev, port = dev_process
    dev.wait_for("Ready on")
    (project / "objects" / "counter.py").write_text("this is not python\n")
    dev.wait_for("Not reloaded")
    assert httpx.get(f"http://127.0.0.1:{port}/counter/a/", timeout=10).text == "v1 1"
    dev.proc.send_signal(signal.SIGINT)  # Ctrl-C stops it as cleanly
    assert dev.proc.wait(15) == 0


def test_dev_persist_keeps_storage_across_runs(project: Path, tmp_path: Path) -> None:
    """--persist DIR: a second run finds what the first stored."""
    data = tmp_path / "data"
    for expected in ("v1 1", "v1 2"):
        port = _free_port()
        dev = _Dev([str(project / "objects"), "--port", str(port), "--persist", str(data)])
        try:
            dev.wait_for("Ready on")
            assert httpx.get(f"http://127.0.0.1:{port}/counter/a/", timeout=10).text == expected
            dev.proc.send_signal(signal.SIGTERM)
            assert dev.proc.wait(15) == 0
        finally:
            if dev.proc.poll() is None:
                dev.proc.kill()
                dev.proc.wait(10)


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
    assert result.returncode == 1 and "has no objects/ folder" in result.stderr
