"""Times the platform (or the clock) cannot hold are refused, and nothing breaks after.

workerd (Miniflare 4.20260426) accepts alarm times up to 9223372036854 ms (nanoseconds in a
signed 64-bit integer) and answers beyond with "This API doesn't support dates after 2189.";
NaN and infinities: "The value cannot be converted because it is not a valid Date.".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from dosandbox import DurableObject, DurableObjectMethodError, Sandbox
from dosandbox.errors import AlarmError, ClockError

START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
MAX_ALARM_MS = 9_223_372_036_854


class Timer(DurableObject):
    async def arm(self, when: Any) -> Any:
        await self.ctx.storage.set_alarm(when)
        return await self.ctx.storage.get_alarm()

    async def alarm(self, info: Any = None) -> None:
        pass


@pytest.fixture
def timer() -> Iterator[Any]:
    with Sandbox(seed=0, start=START) as sb:
        sb.register("timer", Timer)
        yield sb, sb.durable_objects.timer.get("t")


def alarm_error(sb: Sandbox, call: Any) -> AlarmError:
    with pytest.raises(DurableObjectMethodError) as info:
        sb.run(call)
    assert isinstance(info.value.__cause__, AlarmError)
    return info.value.__cause__


@pytest.mark.parametrize(
    "when",
    [1e16, 1e300, 8.64e15, MAX_ALARM_MS + 1, dt.datetime.max, dt.timedelta(days=10**6)],
    ids=["1e16", "1e300", "js-date-max", "max+1", "datetime.max", "huge-timedelta"],
)
def test_alarm_times_beyond_the_platforms_range_are_refused(timer: Any, when: Any) -> None:
    """workerd's words, the bound and the fix; the views keep working afterwards."""
    sb, stub = timer
    err = alarm_error(sb, stub.arm(when))
    assert err.message.startswith("This API doesn't support dates after 2189")
    assert f"{MAX_ALARM_MS} ms" in err.message and "not microseconds" in err.message
    assert sb.alarms().empty and sb.pending_alarm_count() == 0
    assert len(sb.events()) > 0
    assert sb.run(stub.arm(START + dt.timedelta(minutes=1))) is not None


def test_the_last_alarm_time_the_platform_takes_is_accepted(timer: Any) -> None:
    """9223372036854 ms (2262-04-11T23:47:16.854Z) is the platform's latest alarm."""
    sb, stub = timer
    assert sb.run(stub.arm(MAX_ALARM_MS)) == MAX_ALARM_MS
    assert sb.alarms()["time"].iloc[0].year == 2262


@pytest.mark.parametrize("when", [float("nan"), float("inf"), float("-inf")])
def test_alarm_times_that_are_not_dates_are_refused(timer: Any, when: float) -> None:
    """NaN and infinities: workerd's "not a valid Date" message, with the fix."""
    sb, stub = timer
    err = alarm_error(sb, stub.arm(when))
    assert err.message.startswith("The value cannot be converted because it is not a valid Date")
    assert "epoch milliseconds" in err.message


@pytest.mark.parametrize(
    ("when", "start"),
    [(0.5, "setAlarm() cannot be called with an alarm time <= 0"),
     (dt.datetime(1, 1, 1), "This API doesn't support dates before 1687")],
)
def test_alarm_times_before_the_epoch_are_refused(timer: Any, when: Any, start: str) -> None:
    """0.5 ms is <= 0 on the platform (it was stored as 0 here); year 1 is before 1687."""
    sb, stub = timer
    assert alarm_error(sb, stub.arm(when)).message.startswith(start)


@pytest.mark.parametrize(
    "kwargs",
    [{"seconds": float("nan")}, {"seconds": float("inf")}, {"minutes": "5"}, {"days": None},
     {"hours": True}],
    ids=["nan", "inf", "str", "None", "bool"],
)
def test_advance_refuses_durations_that_are_not_finite_numbers(kwargs: dict[str, Any]) -> None:
    """A ClockError naming the argument and an example (it was ValueError/TypeError)."""
    with Sandbox(seed=0, start=START) as sb:
        with pytest.raises(ClockError, match=r"advance\(.*e\.g\."):
            sb.clock.advance(**kwargs)
        assert sb.clock.now == START


@pytest.mark.parametrize("delta", [float("nan"), "5", [1]], ids=["nan", "str", "list"])
def test_advance_refuses_a_bad_positional_delta(delta: Any) -> None:
    """advance('5') moved the clock 5 s before; now every non-number is a ClockError."""
    with Sandbox(seed=0, start=START) as sb:
        with pytest.raises(ClockError, match=r"advance\(delta\)"):
            sb.clock.advance(delta)
        assert sb.clock.now == START


@pytest.mark.parametrize("seconds", [1e300, 10**400, 2.6e11])
def test_advance_past_the_clocks_range_is_refused(seconds: float) -> None:
    """Past 9999-12-31 (the last datetime) is refused; the clock stays put and keeps working."""
    with Sandbox(seed=0, start=START) as sb:
        with pytest.raises(ClockError, match=r"past 9999-12-31T23:59:59\.999") as info:
            sb.clock.advance(seconds=seconds)
        assert "advance(days=365)" in info.value.message
        assert sb.clock.now == START
        sb.clock.advance(seconds=1)
        assert sb.clock.now == START + dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    "when",
    [float("nan"), float("inf"), "2030", 1e300, dt.datetime.max, dt.timedelta(days=10**8)],
    ids=["nan", "inf", "str", "1e300", "datetime.max", "huge-timedelta"],
)
def test_run_until_refuses_times_the_clock_cannot_hold(when: Any) -> None:
    """A ClockError (it was OverflowError/ValueError for the big ones), the clock unchanged."""
    with Sandbox(seed=0, start=START) as sb:
        with pytest.raises(ClockError):
            sb.clock.run_until(when)
        assert sb.clock.now == START
        report = sb.clock.run_until(START + dt.timedelta(hours=1))
        assert report.end_ms - report.start_ms == 3_600_000


@pytest.mark.parametrize(
    "start",
    [float("nan"), "2030", 1e300, dt.datetime.max, -5, 0],
    ids=["nan", "str", "1e300", "datetime.max", "negative", "zero"],
)
def test_sandbox_start_outside_the_clocks_range_is_a_clock_error(start: Any) -> None:
    """Sandbox(start=...) with a time the clock cannot hold: ClockError with an example."""
    with pytest.raises(ClockError, match=r"Sandbox\(start=\.\.\.\)"):
        Sandbox(start=start)


def test_the_clock_shows_its_last_millisecond_exactly() -> None:
    """Times print in exact integer milliseconds (no float rounding at the end of the range)."""
    with Sandbox(seed=0, start=START) as sb:
        assert sb.clock.format_ms(253_402_300_799_999) == "9999-12-31T23:59:59.999+00:00"
        assert sb.clock.format_ms(1_796_234_831_303).endswith(".303+00:00")


def test_a_stored_alarm_time_out_of_range_is_reported_not_scheduled(timer: Any) -> None:
    """An alarm row written before times were checked (1e16 ms) does not break the views."""
    from dosandbox._runtime.parts import alarm_for

    sb, stub = timer
    record = stub._record
    alarm_for(record)._restore(b'{"time":10000000000000000,"retry":0}')
    failed = sb.events("alarm.failed")
    assert "outside what the platform accepts" in failed["message"].iloc[-1]
    assert sb.alarms().empty and sb.pending_alarm_count() == 0
    assert sb.run(stub.arm(START + dt.timedelta(minutes=1))) is not None
    assert sb.pending_alarm_count() == 1
