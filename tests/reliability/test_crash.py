"""Acknowledged writes survive SIGKILL of the process; no batch is ever half applied (slow).

A child process (crash_writer.py) writes with persistence on and prints each write after its
call returned. We SIGKILL it at random moments, then open the database file with plain sqlite3
(which replays the WAL) and check: every acknowledged write is there, and for every write the
batches are whole (all of the first batch or none; the second only with the first).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dosandbox import Sandbox

WRITER = Path(__file__).with_name("crash_writer.py")
ROUNDS = 50


def read_state(folder: Path) -> dict[str, set[int]]:
    """Which writes' parts are in the database (via a fresh connection, as after a reboot)."""
    files = list((folder / "writer").glob("*.sqlite"))
    assert len(files) == 1
    conn = sqlite3.connect(files[0])
    try:
        parts: dict[str, set[int]] = {p: set() for p in "abcdtu"}
        for (key,) in conn.execute("SELECT key FROM _cf_KV"):
            parts[key[0]].add(int(key[1:]))
        for table in ("t", "u"):
            parts[table] = {i for (i,) in conn.execute(f"SELECT i FROM {table}")}
        return parts
    finally:
        conn.close()


def check(parts: dict[str, set[int]], acknowledged: set[int]) -> None:
    first = parts["a"]
    for name in "btcu":
        assert parts[name] == first, f"first batch half applied: {name} vs a"
    assert parts["d"] <= first, "second batch without the first"
    missing = acknowledged - parts["d"]
    assert not missing, f"acknowledged writes lost: {sorted(missing)[:10]}"


@pytest.mark.slow
def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    """50 SIGKILLs at random moments: acknowledged writes all present, no half batches."""
    rng = random.Random(1234)
    acknowledged: set[int] = set()
    next_i = 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for _ in range(ROUNDS):
        child = subprocess.Popen(
            [sys.executable, str(WRITER), str(tmp_path), str(next_i)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready", child.stderr.read()  # type: ignore[union-attr]
        time.sleep(rng.uniform(0, 0.15))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        assert child.returncode == -signal.SIGKILL
        for line in out.splitlines():
            if line.strip().isdigit():
                acknowledged.add(int(line))
        parts = read_state(tmp_path)
        check(parts, acknowledged)
        next_i = max(parts["a"], default=-1) + 1
    assert len(acknowledged) > ROUNDS  # the writer made progress between the kills
    print(f"{ROUNDS} SIGKILLs: {len(acknowledged):,} acknowledged writes, 0 lost, 0 torn")

    # dosandbox itself reopens the folder and sees the same data.
    sb = Sandbox(seed=0, persist=tmp_path)
    try:
        sys.path.insert(0, str(WRITER.parent))
        from crash_writer import Writer

        sb.register("writer", Writer)
        handle = sb.inspect(sb.durable_objects.writer.get("w"))
        assert handle.kv_count(prefix="d") == len(read_state(tmp_path)["d"])
    finally:
        sb.close()
        sys.path.remove(str(WRITER.parent))
