"""Realtime mode: the virtual clock follows the wall clock while the notebook's loop is idle.

In Jupyter the kernel's asyncio loop is running between cells; the sandbox puts a task on it
that steps the clock to the scaled wall time. Here ``asyncio.run`` plays the kernel's loop.
The assertions wait for conditions (with a generous deadline), never for durations.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from dosandbox import DurableObject, Sandbox

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)


class Beeper(DurableObject):
    """Counts alarm runs; re-arms every virtual second."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.beeps = 0

    async def arm(self) -> None:
        await self.ctx.set_alarm(time.time() * 1000 + 1_000)

    async def count(self) -> int:
        return self.beeps

    async def alarm(self, info: Any) -> None:
        self.beeps += 1
        await self.ctx.set_alarm(time.time() * 1000 + 1_000)


async def wait_until(condition: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def test_realtime_follows_the_wall_clock_fires_alarms_and_pauses(do_sandbox: Sandbox) -> None:
    """realtime(speed) moves the clock and fires alarms while idle; pause() stops it dead."""
    do_sandbox.register("beeper", Beeper)
    stub = do_sandbox.durable_objects.beeper.get("b")
    do_sandbox.run(stub.arm())
    record = stub._record

    async def notebook() -> None:
        do_sandbox.clock.realtime(speed=50)
        assert do_sandbox.clock.following_wall_clock
        assert await wait_until(lambda: record.parts.alarm.fired >= 3)
        assert do_sandbox.clock.now_ms >= START_MS + 3_000
        do_sandbox.clock.pause()
        assert do_sandbox.clock.mode == "manual"
        assert not do_sandbox.clock.following_wall_clock
        frozen = do_sandbox.clock.now_ms
        fired = record.parts.alarm.fired
        await asyncio.sleep(0.2)  # real time passes; virtual time must not
        assert do_sandbox.clock.now_ms == frozen
        assert record.parts.alarm.fired == fired

    asyncio.run(notebook())
    assert do_sandbox.run(stub.count()) == record.parts.alarm.fired
    fired_times = [e.time_ms for e in do_sandbox.event_log if e.kind == "alarm.fired"]
    assert fired_times == [START_MS + 1_000 * (i + 1) for i in range(len(fired_times))]


def test_setting_the_mode_starts_and_stops_following(do_sandbox: Sandbox) -> None:
    """clock.mode = 'realtime' starts the follower on the running loop; 'manual' stops it."""

    async def notebook() -> None:
        do_sandbox.clock.mode = "realtime"
        task = do_sandbox._stepper._realtime_task
        assert task is not None
        assert await wait_until(lambda: do_sandbox.clock.now_ms > START_MS)
        do_sandbox.clock.mode = "manual"
        assert not do_sandbox.clock.following_wall_clock
        await asyncio.sleep(0)
        assert task.cancelled() or task.done()

    asyncio.run(notebook())


def test_realtime_sandbox_made_inside_a_running_loop_follows_at_once() -> None:
    """Sandbox(clock_mode='realtime') made in a notebook starts following immediately."""

    async def notebook() -> None:
        sb = Sandbox(start=START, seed=0, clock_mode="realtime")
        try:
            assert sb.clock.following_wall_clock
            assert await wait_until(lambda: sb.clock.now_ms > START_MS)
        finally:
            sb.close()
        assert not sb.clock.following_wall_clock

    asyncio.run(notebook())


def test_realtime_without_a_running_loop_explains_itself(do_sandbox: Sandbox) -> None:
    """In a plain script there is no loop to follow on: an event says what realtime does then."""
    do_sandbox.clock.realtime()
    assert not do_sandbox.clock.following_wall_clock
    note = [e for e in do_sandbox.event_log if e.kind == "clock.realtime"]
    assert len(note) == 1 and "only while a driven call waits on time" in note[0].message
    do_sandbox.clock.pause()
    assert do_sandbox.clock.mode == "manual"


def test_bad_speed_is_a_clock_error(do_sandbox: Sandbox) -> None:
    """realtime(speed=...) takes a positive finite number; the mode is unchanged after."""
    import pytest

    from dosandbox.errors import ClockError

    for bad in (0, -1, float("inf"), "fast", True):
        with pytest.raises(ClockError, match="positive number"):
            do_sandbox.clock.realtime(speed=bad)
    assert do_sandbox.clock.mode == "manual"
