"""The sandbox's view of alarms: ``handle.alarm``, ``handle.fire_alarm()``, ``sb.alarms()``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from .._core.errors import AlarmError
from .._core.record import ObjectRecord
from .._core.stepper import StepReport, step_report
from .._core.world import World
from .._runtime.alarms import Alarm, _iso, existing_scheduler
from .._runtime.parts import existing_alarm

__all__ = ["ALARM_COLUMNS", "alarm_view", "alarms_frame", "delete_alarm", "fire_now",
           "pending_alarm_count"]

UTC = dt.UTC
ALARM_COLUMNS = ["object", "name", "id", "time", "in_seconds", "retry_count"]


def fire_now(record: ObjectRecord) -> StepReport:
    """``handle.fire_alarm()``: run the pending alarm now, without moving the clock."""
    alarm = existing_alarm(record)
    name = f"{record.object_name} {record.hex[:12]}…"
    if alarm is None or alarm.time_ms is None:
        state = " (its handler is running now)" if alarm is not None and alarm.running else ""
        raise AlarmError(
            f"{name} has no alarm set{state}, so there is nothing to fire. Set one in object "
            "code with `await ctx.set_alarm(...)`; handle.alarm shows the pending alarm.",
            object_name=record.object_name, object_id=record.hex,
        )
    if alarm.running:
        raise AlarmError(
            f"{name}'s alarm handler is running already; the platform runs one alarm handler "
            "at a time per object. Move the clock to let it finish first.",
            object_name=record.object_name, object_id=record.hex,
        )
    world = record.world
    world.driver.check_outside("fire_alarm()")
    start_ms, first_seq = world.clock.now_ms, world.event_log.last_seq
    due = alarm.time_ms
    pending = alarm

    async def fire() -> None:
        pending._unschedule()
        await pending._start(f" early by fire_alarm() (was due {_iso(due)})")

    world.driver.drive(fire(), "fire_alarm()")
    return step_report(world, start_ms, first_seq)


def delete_alarm(record: ObjectRecord, why: str) -> None:
    """Delete the pending alarm from outside, as ``ctx.storage.delete_alarm()`` would."""
    alarm = existing_alarm(record)
    if alarm is not None:
        alarm.delete_now(reason=why)


def alarm_view(record: ObjectRecord) -> dict[str, Any] | None:
    """``handle.alarm``: the pending alarm as a dict, or None."""
    alarm = existing_alarm(record)
    if alarm is None or alarm.time_ms is None:
        return None
    now = alarm.scheduler.clock.now_ms
    return {
        "time_ms": alarm.time_ms,
        "datetime": dt.datetime.fromtimestamp(alarm.time_ms / 1000, tz=UTC),
        "in_seconds": (alarm.time_ms - now) / 1000,
        "retry_count": alarm.retry_count,
    }


def pending_alarm_count(world: World) -> int:
    """How many alarms wait on the timeline (the scheduler's count, no DataFrame)."""
    scheduler = existing_scheduler(world)
    return 0 if scheduler is None else int(scheduler.pending)


def alarms_frame(world: World, records: Iterable[ObjectRecord]) -> Any:
    """``sb.alarms()``: every pending alarm, soonest first (ties in firing order)."""
    import pandas as pd

    now = world.clock.now_ms
    scheduler = existing_scheduler(world)
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    if scheduler is not None:
        for alarm in scheduler.in_order():
            seen.add(id(alarm))
            rows.append(_row(alarm, now))
    for record in records:
        pending = existing_alarm(record)
        # Pending but not in a bucket: due while its previous run is still going.
        if pending is not None and pending.time_ms is not None and id(pending) not in seen:
            rows.append(_row(pending, now))
    return pd.DataFrame(rows, columns=ALARM_COLUMNS)


def _row(alarm: Alarm, now: int) -> dict[str, Any]:
    record = alarm.record
    time_ms = alarm.time_ms if alarm.time_ms is not None else now
    return {
        "object": record.object_name,
        "name": record.id.name,
        "id": record.hex,
        "time": dt.datetime.fromtimestamp(time_ms / 1000, tz=UTC),
        "in_seconds": (time_ms - now) / 1000,
        "retry_count": alarm.retry_count,
    }
