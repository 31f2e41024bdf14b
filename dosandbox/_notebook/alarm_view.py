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

__all__ = ["ALARM_COLUMNS", "RepeatingAlarmWatch", "alarm_view", "alarms_frame", "delete_alarm",
           "fire_now", "pending_alarm_count"]

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
    from .._core.frames import frame_of

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
    return frame_of(rows, ALARM_COLUMNS)


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


class RepeatingAlarmWatch:
    """One ``run_until_idle``: stops it once only alarms that re-arm themselves are left.

    Counts the ``alarm.fired`` events of the run per object. The run may stop when no timer
    but the alarm scheduler's is pending, no alarm waits for a retry, and every pending alarm
    fired ``repeats`` times in this run. With many alarms pending the full check backs off
    (at jump 1, 2, 4, 8, ...), so a run of 100,000 firings pays for it a few times only.
    """

    def __init__(self, world: World, repeats: int) -> None:
        self.world = world
        self.repeats = repeats
        self.stopped = False
        self.fired: dict[str, int] = {}
        self._next_full_check = 1
        self._unsubscribe = world.event_log.subscribe(self._on_event)

    def _on_event(self, event: Any) -> None:
        if event.kind == "alarm.fired" and event.object_id is not None:
            self.fired[event.object_id] = self.fired.get(event.object_id, 0) + 1

    def only_periodic_left(self, jumps: int) -> bool:
        scheduler = existing_scheduler(self.world)
        if scheduler is None:
            return False
        pending = scheduler.pending
        if not pending or pending > len(self.fired) or _other_timers(self.world, scheduler):
            return False
        if pending > 64:
            if jumps < self._next_full_check:
                return False
            self._next_full_check = jumps * 2
        for bucket in scheduler._buckets.values():
            for alarm in bucket:
                if alarm.retry_count or self.fired.get(alarm._hex, 0) < self.repeats:
                    return False
        self.stopped = True
        return True

    def describe(self) -> str:
        scheduler = existing_scheduler(self.world)
        alarms = scheduler.in_order() if scheduler is not None else []
        now = self.world.clock.now_ms
        parts = []
        for alarm in alarms[:3]:
            record = alarm.record
            label = record.id.name if record.id.name is not None else record.hex[:8] + "…"
            due = (alarm.time_ms - now) / 1000 if alarm.time_ms is not None else 0
            parts.append(f"{record.object_name} {label} fired {self.fired.get(alarm._hex, 0)} "
                         f"times, next in {due:g} s")
        if len(alarms) > 3:
            parts.append(f"{len(alarms) - 3} more")
        return "; ".join(parts)

    def close(self) -> None:
        self._unsubscribe()


def _other_timers(world: World, scheduler: Any) -> bool:
    """Is a timer other than the alarm scheduler's pending (a sleep, a timeout, a retry)?"""
    loop = world.loop
    live = len(loop._scheduled) - loop._timer_cancelled_count  # type: ignore[attr-defined]
    timer = scheduler._timer
    return live > (1 if timer is not None and not timer.cancelled() else 0)
