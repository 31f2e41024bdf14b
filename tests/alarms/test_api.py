"""The alarm API on ctx: set, get, delete, replace, past times, bad input, and how to look.

Platform facts: reference §6 (cloudflare-do-semantics.md), workerd actor-state.c++ setAlarm.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from dosandbox import AlarmInfo, DurableObject, Sandbox, SandboxWarning, define_durable_object
from dosandbox.errors import AlarmError, DriverError

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)


class Clock(DurableObject):
    """Sets, reads and deletes its alarm on request; records every run."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.runs: list[dict[str, Any]] = []

    async def set(self, when: Any) -> int | None:
        await self.ctx.set_alarm(when)
        return await self.ctx.get_alarm()

    async def get(self) -> int | None:
        return await self.ctx.get_alarm()

    async def delete(self) -> None:
        await self.ctx.delete_alarm()

    async def put(self, key: str, value: Any) -> None:
        await self.ctx.storage.put(key, value)

    async def read(self, key: str) -> Any:
        return await self.ctx.storage.get(key)

    async def history(self) -> list[dict[str, Any]]:
        return self.runs

    async def alarm(self, alarm_info: AlarmInfo) -> None:
        self.runs.append(
            {
                "at": time.time() * 1000,
                "retry_count": alarm_info.retry_count,
                "is_retry": alarm_info.is_retry,
                "scheduled_time": alarm_info.scheduled_time,
                "get_alarm": await self.ctx.get_alarm(),
            }
        )


@pytest.fixture
def clock_obj(do_sandbox: Sandbox) -> Any:
    do_sandbox.register("clock", Clock)
    return do_sandbox.durable_objects.clock.get("c")


def test_set_get_with_epoch_ms_datetime_and_timedelta(do_sandbox: Sandbox, clock_obj: Any) -> None:
    """set_alarm takes epoch ms, an aware datetime or a timedelta; get_alarm returns epoch ms."""
    assert do_sandbox.run(clock_obj.set(START_MS + 60_000)) == START_MS + 60_000
    in_2h = START + dt.timedelta(hours=2)
    assert do_sandbox.run(clock_obj.set(in_2h)) == START_MS + 7_200_000
    assert do_sandbox.run(clock_obj.set(dt.timedelta(seconds=5))) == START_MS + 5_000
    assert do_sandbox.run(clock_obj.set(float(START_MS + 1_500.9))) == START_MS + 1_500


def test_no_alarm_get_is_none_and_delete_is_a_no_op(do_sandbox: Sandbox, clock_obj: Any) -> None:
    """With no alarm, get_alarm is None and delete_alarm does nothing (conformance alarm-none)."""
    assert do_sandbox.run(clock_obj.get()) is None
    do_sandbox.run(clock_obj.delete())
    assert do_sandbox.run(clock_obj.get()) is None
    assert not any(e.kind == "alarm.deleted" for e in do_sandbox.event_log)


def test_setting_again_replaces_the_alarm(do_sandbox: Sandbox, clock_obj: Any) -> None:
    """One alarm per object: a second set_alarm replaces the first, which never fires."""
    do_sandbox.run(clock_obj.set(START_MS + 100))
    do_sandbox.run(clock_obj.set(START_MS + 600_000))
    report = do_sandbox.clock.advance(seconds=1)
    assert report.fired == []
    assert do_sandbox.run(clock_obj.history()) == []
    assert do_sandbox.run(clock_obj.get()) == START_MS + 600_000
    assert len(do_sandbox.alarms()) == 1


def test_delete_cancels_the_alarm(do_sandbox: Sandbox, clock_obj: Any) -> None:
    """delete_alarm cancels: nothing fires, get_alarm is None, sb.alarms() is empty."""
    do_sandbox.run(clock_obj.set(START_MS + 100))
    do_sandbox.run(clock_obj.delete())
    assert do_sandbox.run(clock_obj.get()) is None
    report = do_sandbox.clock.run_until_idle()
    assert report.fired == []
    assert do_sandbox.run(clock_obj.history()) == []
    assert len(do_sandbox.alarms()) == 0
    kinds = list(do_sandbox.events("alarm")["kind"])
    assert kinds == ["alarm.set", "alarm.deleted"]


def test_run_next_does_not_stop_at_a_deleted_alarm(do_sandbox: Sandbox, clock_obj: Any) -> None:
    """After deleting the earliest alarm, run_next() jumps to the next real one, not to a ghost."""
    do_sandbox.register("other", Clock)
    other = do_sandbox.durable_objects.other.get("o")
    do_sandbox.run(clock_obj.set(START_MS + 1_000))
    do_sandbox.run(other.set(START_MS + 5_000))
    do_sandbox.run(clock_obj.delete())
    report = do_sandbox.clock.run_next()
    assert do_sandbox.clock.now_ms == START_MS + 5_000
    assert [e.object_name for e in report.fired if e.kind == "alarm.fired"] == ["other"]


def test_alarm_fires_once_then_is_cleared(do_sandbox: Sandbox, clock_obj: Any) -> None:
    """It fires once at its time; get_alarm is None inside the handler and after it."""
    do_sandbox.run(clock_obj.set(START_MS + 50))
    report = do_sandbox.clock.advance(seconds=3)
    assert [e.kind for e in report.fired] == ["alarm.fired"]
    assert report.fired[0].time_ms == START_MS + 50
    runs = do_sandbox.run(clock_obj.history())
    assert runs == [
        {"at": START_MS + 50, "retry_count": 0, "is_retry": False,
         "scheduled_time": START_MS + 50, "get_alarm": None}
    ]
    assert do_sandbox.run(clock_obj.get()) is None
    assert do_sandbox.clock.now_ms == START_MS + 3_000


def test_past_time_is_stored_as_now_and_fires_asap(do_sandbox: Sandbox, clock_obj: Any) -> None:
    """A past time reads back as now (workerd stores max(t, now)) and fires without moving time."""
    do_sandbox.clock.advance(seconds=10)
    now = do_sandbox.clock.now_ms
    assert do_sandbox.run(clock_obj.set(now - 5_000)) == now
    # The alarm ran as soon as the sandbox loop ran again: at the end of that same call.
    assert [r["at"] for r in do_sandbox.run(clock_obj.history())] == [now]
    assert do_sandbox.clock.now_ms == now
    set_event = next(e for e in do_sandbox.event_log if e.kind == "alarm.set")
    assert "5 s ago: fires ASAP" in set_event.message


def test_re_arming_in_the_past_moves_the_clock_instead_of_spinning(do_sandbox: Sandbox) -> None:
    """A handler that re-arms at 'now' fires again 1 ms later each time, not forever at once."""

    async def alarm(ctx: Any) -> None:
        ctx.set_state({"n": ctx.state["n"] + 1})
        await ctx.set_alarm(time.time() * 1000)

    async def arm(ctx: Any) -> None:
        await ctx.set_alarm(time.time() * 1000 + 1_000)

    async def count(ctx: Any) -> int:
        return int(ctx.state["n"])

    do_sandbox.register("spinner", define_durable_object(
        init=lambda ctx: {"n": 0}, alarm=alarm, methods={"arm": arm, "count": count}))
    spinner = do_sandbox.durable_objects.spinner.get("s")
    do_sandbox.run(spinner.arm())
    do_sandbox.clock.advance(milliseconds=1_009)
    assert do_sandbox.run(spinner.count()) == 10  # at +1000, +1001, ..., +1009 ms
    assert do_sandbox.inspect(spinner).alarm["time_ms"] == START_MS + 1_010


@pytest.mark.parametrize(
    "bad",
    ["tomorrow", -5, 0, None, [1, 2], True, float("nan"), float("inf")],
    ids=["string", "negative", "zero", "none", "list", "bool", "nan", "inf"],
)
def test_bad_alarm_times_are_typed_errors_and_nothing_is_lost(
    do_sandbox: Sandbox, clock_obj: Any, bad: Any
) -> None:
    """set_alarm with a wrong type or a time <= 0 raises AlarmError; the old alarm stays."""
    do_sandbox.run(clock_obj.set(START_MS + 60_000))
    do_sandbox.run(clock_obj.put("k", "v"))
    with pytest.raises(AlarmError) as info:
        do_sandbox.run(clock_obj.set(bad))
    assert info.value.__cause__.code == "ALARM_ERROR"  # type: ignore[union-attr]
    assert do_sandbox.run(clock_obj.get()) == START_MS + 60_000
    assert do_sandbox.run(clock_obj.read("k")) == "v"
    do_sandbox.clock.advance(minutes=1)
    assert len(do_sandbox.run(clock_obj.history())) == 1


def test_bad_time_messages_teach(do_sandbox: Sandbox, clock_obj: Any) -> None:
    """The messages name the value and the fix; <= 0 quotes workerd's own message."""
    with pytest.raises(AlarmError, match=r"not str 'tomorrow'.*time\.time\(\) \* 1000"):
        do_sandbox.run(clock_obj.set("tomorrow"))
    with pytest.raises(AlarmError, match=r"cannot be called with an alarm time <= 0 \(got -5\)"):
        do_sandbox.run(clock_obj.set(-5))


def test_alarm_info_shape_and_camel_case() -> None:
    """alarm_info has retry_count, is_retry, scheduled_time, and their camelCase names."""
    info = AlarmInfo(2, 1234)
    assert (info.retry_count, info.is_retry, info.scheduled_time) == (2, True, 1234)
    assert (info.retryCount, info.isRetry, info.scheduledTime) == (2, True, 1234)
    assert AlarmInfo(0, 5).is_retry is False
    assert "retry_count=2" in repr(info)


def test_handlers_with_and_without_alarm_info(do_sandbox: Sandbox) -> None:
    """Definition alarms take (ctx) or (ctx, alarm_info); a class may define alarm(self)."""
    seen: list[Any] = []

    async def with_info(ctx: Any, alarm_info: Any) -> None:
        seen.append(("def+info", alarm_info.retry_count))

    async def without_info(ctx: Any) -> None:
        seen.append(("def", None))

    class Bare(DurableObject):
        async def arm(self) -> None:
            await self.ctx.set_alarm(dt.timedelta(seconds=3))

        async def alarm(self) -> None:
            seen.append(("class", None))

    async def arm(ctx: Any, seconds: int) -> None:
        await ctx.set_alarm(dt.timedelta(seconds=seconds))

    do_sandbox.register("a", define_durable_object(alarm=with_info, methods={"arm": arm}))
    do_sandbox.register("b", define_durable_object(alarm=without_info, methods={"arm": arm}))
    do_sandbox.register("c", Bare)
    do_sandbox.run(do_sandbox.durable_objects.a.get("x").arm(1))
    do_sandbox.run(do_sandbox.durable_objects.b.get("x").arm(2))
    do_sandbox.run(do_sandbox.durable_objects.c.get("x").arm())
    do_sandbox.clock.run_until_idle()
    assert seen == [("def+info", 0), ("def", None), ("class", None)]


def test_no_handler_warns_and_drops(do_sandbox: Sandbox) -> None:
    """An alarm on a class without alarm() logs workerd's warning and is dropped, not retried."""

    class NoHandler(DurableObject):
        async def arm(self) -> None:
            await self.ctx.set_alarm(dt.timedelta(seconds=1))

    do_sandbox.register("nh", NoHandler)
    stub = do_sandbox.durable_objects.nh.get("x")
    do_sandbox.run(stub.arm())
    with pytest.warns(SandboxWarning, match="no alarm handler") as notices:
        report = do_sandbox.clock.run_until_idle()
    assert [w.message.code for w in notices] == ["ALARM_DROPPED"]  # type: ignore[union-attr]
    dropped = [e for e in report if e.kind == "alarm.dropped"]
    assert len(dropped) == 1
    assert dropped[0].message.startswith("Attempted to run a scheduled alarm without a handler")
    assert not any(e.kind == "alarm.retry" for e in report)
    assert do_sandbox.inspect(stub).alarm is None


def test_handle_alarm_view(do_sandbox: Sandbox, clock_obj: Any) -> None:
    """handle.alarm shows time_ms, datetime, in_seconds and retry_count, or None."""
    handle = do_sandbox.inspect(clock_obj)
    assert handle.alarm is None
    do_sandbox.run(clock_obj.set(START_MS + 90_000))
    do_sandbox.clock.advance(seconds=30)
    assert handle.alarm == {
        "time_ms": START_MS + 90_000,
        "datetime": START + dt.timedelta(seconds=90),
        "in_seconds": 60.0,
        "retry_count": 0,
    }


def test_fire_alarm_runs_it_now_without_moving_the_clock(
    do_sandbox: Sandbox, clock_obj: Any
) -> None:
    """handle.fire_alarm() runs the pending alarm at once and returns what happened."""
    do_sandbox.run(clock_obj.set(START_MS + 3_600_000))
    report = do_sandbox.inspect(clock_obj).fire_alarm()
    assert do_sandbox.clock.now_ms == START_MS
    assert [e.kind for e in report.fired] == ["alarm.fired"]
    assert "early by fire_alarm()" in report.fired[0].message
    runs = do_sandbox.run(clock_obj.history())
    assert [(r["at"], r["scheduled_time"]) for r in runs] == [(START_MS, START_MS + 3_600_000)]
    assert do_sandbox.inspect(clock_obj).alarm is None
    assert do_sandbox.clock.run_until_idle().fired == []  # it does not fire a second time


def test_fire_alarm_without_an_alarm_is_a_typed_error(do_sandbox: Sandbox, clock_obj: Any) -> None:
    """fire_alarm() with no alarm set raises AlarmError; the object keeps working."""
    do_sandbox.run(clock_obj.put("k", 1))
    with pytest.raises(AlarmError, match="has no alarm set"):
        do_sandbox.inspect(clock_obj).fire_alarm()
    assert do_sandbox.run(clock_obj.read("k")) == 1
    do_sandbox.run(clock_obj.set(START_MS + 10))
    do_sandbox.inspect(clock_obj).fire_alarm()
    assert len(do_sandbox.run(clock_obj.history())) == 1


def test_fire_alarm_from_object_code_is_a_driver_error(do_sandbox: Sandbox) -> None:
    """fire_alarm() is a notebook-side driver; calling it inside an object says why it fails."""

    class Inner(DurableObject):
        async def poke(self) -> str:
            await self.ctx.set_alarm(dt.timedelta(seconds=5))
            try:
                do_sandbox.inspect(self.env.INNER.get("i")).fire_alarm()
            except DriverError as exc:
                return exc.code
            return "no error"

        async def alarm(self, info: Any) -> None:
            pass

    do_sandbox.register("inner", Inner)
    stub = do_sandbox.durable_objects.inner.get("i")
    assert do_sandbox.run(stub.poke()) == "DRIVER_ERROR"
    assert do_sandbox.inspect(stub).alarm is not None


def test_sb_alarms_lists_pending_alarms_in_firing_order(do_sandbox: Sandbox) -> None:
    """sb.alarms() has one row per pending alarm: object, name, id, time, in_seconds, retries."""
    do_sandbox.register("clock", Clock)
    ns = do_sandbox.durable_objects.clock
    do_sandbox.run(ns.get("late").set(START_MS + 120_000))
    do_sandbox.run(ns.get("early").set(START_MS + 60_000))
    frame = do_sandbox.alarms()
    assert list(frame.columns) == ["object", "name", "id", "time", "in_seconds", "retry_count"]
    assert list(frame["name"]) == ["early", "late"]
    assert list(frame["in_seconds"]) == [60.0, 120.0]
    assert list(frame["id"]) == [str(ns.id_from_name("early")), str(ns.id_from_name("late"))]
    assert frame["time"].iloc[0] == START + dt.timedelta(minutes=1)


def test_alarm_events_are_in_the_log(do_sandbox: Sandbox, clock_obj: Any) -> None:
    """Set, fire and delete each leave an event for the object."""
    do_sandbox.run(clock_obj.set(START_MS + 1_000))
    do_sandbox.clock.advance(seconds=1)
    do_sandbox.run(clock_obj.set(START_MS + 5_000))
    do_sandbox.run(clock_obj.delete())
    kinds = list(do_sandbox.inspect(clock_obj).events["kind"])
    alarm_kinds = [k for k in kinds if k.startswith("alarm.")]
    assert alarm_kinds == ["alarm.set", "alarm.fired", "alarm.set", "alarm.deleted"]


def test_camel_case_alarm_methods(do_sandbox: Sandbox) -> None:
    """Ported code may call ctx.setAlarm / getAlarm / deleteAlarm."""

    async def port(ctx: Any) -> list[Any]:
        await ctx.setAlarm(time.time() * 1000 + 1_000)
        first = await ctx.getAlarm()
        await ctx.deleteAlarm()
        return [first, await ctx.getAlarm()]

    do_sandbox.register("ported", define_durable_object(methods={"port": port}))
    ported = do_sandbox.durable_objects.ported.get("p")
    assert do_sandbox.run(ported.port()) == [START_MS + 1_000, None]
