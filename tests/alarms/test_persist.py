"""Alarms are durable: with ``persist=`` they come back when the sandbox is reopened.

Platform (reference §6): alarms survive eviction, hibernation and restarts; delivery is
at-least-once. The sandbox stores the alarm in the object's ``_cf_METADATA`` table, in the same
write batch as the event's other writes, and clears it only when a handler succeeds.
(wrangler dev differs: it does not re-fire an alarm that came due while it was stopped,
workers-sdk #7781; the platform does, and so does the sandbox.)
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from dosandbox import DurableObject, Sandbox, SandboxWarning

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)


class Durable(DurableObject):
    """Stores a count of alarm runs; may fail on request."""

    async def arm(self, at_ms: int, fail: bool = False) -> None:
        await self.ctx.storage.put("fail", fail)
        await self.ctx.set_alarm(at_ms)

    async def runs(self) -> int:
        return int(await self.ctx.storage.get("runs") or 0)

    async def alarm(self, info: Any) -> None:
        await self.ctx.storage.put("runs", await self.runs() + 1)
        await self.ctx.storage.put("last_retry", info.retry_count)
        if await self.ctx.storage.get("fail"):
            raise RuntimeError("still failing")


def open_sb(folder: Path, start: dt.datetime = START) -> Sandbox:
    sb = Sandbox(start=start, seed=0, persist=folder)
    sb.register("durable", Durable)
    return sb


def test_pending_alarm_is_restored_on_reopen(tmp_path: Path) -> None:
    """A pending alarm set before close is pending again after reopening, and fires on time."""
    sb = open_sb(tmp_path)
    sb.run(sb.durable_objects.durable.get("d").arm(START_MS + 3_600_000))
    sb.close()

    sb2 = open_sb(tmp_path)
    try:
        stub = sb2.durable_objects.durable.get("d")
        frame = sb2.alarms()
        assert list(frame["id"]) == [str(stub.id)]
        assert sb2.inspect(stub).alarm["time_ms"] == START_MS + 3_600_000
        assert any(e.kind == "alarm.restored" for e in sb2.event_log)
        assert sb2.clock.advance(minutes=59).fired == []
        report = sb2.clock.advance(minutes=1)
        assert [e.time_ms for e in report.fired if e.kind == "alarm.fired"] == [
            START_MS + 3_600_000
        ]
        assert sb2.run(stub.runs()) == 1
    finally:
        sb2.close()


def test_overdue_alarm_fires_at_the_next_step(tmp_path: Path) -> None:
    """An alarm whose time passed while the sandbox was closed fires at the next step."""
    sb = open_sb(tmp_path)
    sb.run(sb.durable_objects.durable.get("d").arm(START_MS + 60_000))
    sb.close()

    later = START + dt.timedelta(hours=1)
    sb2 = open_sb(tmp_path, start=later)
    try:
        stub = sb2.durable_objects.durable.get("d")
        restored = next(e for e in sb2.event_log if e.kind == "alarm.restored")
        assert "3540 s overdue" in restored.message
        assert sb2.inspect(stub).alarm["time_ms"] == int(later.timestamp() * 1000)
        report = sb2.clock.run_next()
        assert sb2.clock.now == later  # no time needed to pass
        assert [e.kind for e in report.fired][:1] == ["alarm.fired"]
        assert sb2.run(stub.runs()) == 1
        assert sb2.inspect(stub).alarm is None
    finally:
        sb2.close()


def test_fired_alarm_stays_cleared_after_reopen(tmp_path: Path) -> None:
    """After a successful run the alarm is gone from disk too: reopening restores nothing."""
    sb = open_sb(tmp_path)
    stub = sb.durable_objects.durable.get("d")
    sb.run(stub.arm(START_MS + 1_000))
    sb.clock.advance(seconds=1)
    sb.close()

    sb2 = open_sb(tmp_path)
    try:
        assert len(sb2.alarms()) == 0
        assert sb2.run(sb2.durable_objects.durable.get("d").runs()) == 1
    finally:
        sb2.close()


def test_retry_count_survives_a_restart(tmp_path: Path) -> None:
    """A pending retry is restored with its retry count, so the backoff continues."""
    sb = open_sb(tmp_path)
    stub = sb.durable_objects.durable.get("d")
    sb.run(stub.arm(START_MS + 1_000, fail=True))
    sb.clock.advance(seconds=7)  # attempts at 1 s, 3 s, 7 s: retry 3 is due at 15 s
    assert sb.inspect(stub).alarm["retry_count"] == 3
    sb.close()

    sb2 = open_sb(tmp_path, start=START + dt.timedelta(seconds=7))
    try:
        stub2 = sb2.durable_objects.durable.get("d")
        assert sb2.inspect(stub2).alarm == {
            "time_ms": START_MS + 15_000,
            "datetime": START + dt.timedelta(seconds=15),
            "in_seconds": 8.0,
            "retry_count": 3,
        }
        with pytest.warns(SandboxWarning, match="alarm dropped"):
            sb2.clock.run_until_idle()
        assert sb2.run(stub2.runs()) == 7
    finally:
        sb2.close()


def test_alarm_interrupted_by_close_runs_again(tmp_path: Path) -> None:
    """At-least-once: a handler cut short by a restart runs again after reopening."""

    class Slow(DurableObject):
        async def arm(self) -> None:
            await self.ctx.set_alarm(time.time() * 1000 + 1_000)

        async def alarm(self, info: Any) -> None:
            import asyncio

            await self.ctx.storage.put("started", (await self.ctx.storage.get("started") or 0) + 1)
            await asyncio.sleep(60)
            await self.ctx.storage.put("finished", True)

        async def counts(self) -> list[Any]:
            return [await self.ctx.storage.get("started"), await self.ctx.storage.get("finished")]

    sb = Sandbox(start=START, seed=0, persist=tmp_path)
    sb.register("slow", Slow)
    sb.run(sb.durable_objects.slow.get("s").arm())
    sb.clock.advance(seconds=10)  # started at 1 s, sleeping until 61 s
    sb.close()

    sb2 = Sandbox(start=START + dt.timedelta(seconds=10), seed=0, persist=tmp_path)
    try:
        sb2.register("slow", Slow)
        stub = sb2.durable_objects.slow.get("s")
        sb2.clock.run_until_idle()
        assert sb2.run(stub.counts()) == [2, True]
    finally:
        sb2.close()


def test_alarm_row_is_in_the_objects_metadata_table(tmp_path: Path) -> None:
    """The alarm is stored in _cf_METADATA of the object's own database file."""
    sb = open_sb(tmp_path)
    stub = sb.durable_objects.durable.get("d")
    sb.run(stub.arm(START_MS + 5_000))
    sb.close()
    db = tmp_path / "durable" / f"{stub.id}.sqlite"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key, value FROM _cf_METADATA").fetchall()
    assert rows == [("alarm", b'{"time":%d,"retry":0}' % (START_MS + 5_000))]


def test_delete_all_removes_the_alarm(tmp_path: Path) -> None:
    """storage.delete_all() deletes the alarm too (compat date >= 2026-02-24), on disk as well."""

    class Wiper(DurableObject):
        async def arm(self) -> None:
            await self.ctx.set_alarm(time.time() * 1000 + 60_000)

        async def wipe(self) -> Any:
            await self.ctx.storage.delete_all()
            return await self.ctx.get_alarm()

        async def alarm(self, info: Any) -> None:
            raise AssertionError("a deleted alarm must not fire")

    sb = Sandbox(start=START, seed=0, persist=tmp_path)
    sb.register("wiper", Wiper)
    stub = sb.durable_objects.wiper.get("w")
    sb.run(stub.arm())
    assert sb.run(stub.wipe()) is None
    sb.close()
    sb2 = Sandbox(start=START, seed=0, persist=tmp_path)
    try:
        sb2.register("wiper", Wiper)
        assert len(sb2.alarms()) == 0
        assert sb2.clock.run_until_idle().fired == []
    finally:
        sb2.close()
