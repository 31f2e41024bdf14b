"""Alarms on the virtual timeline: order, concurrency with requests, modes, interrupts, errors.

Platform facts (reference §6): only one alarm handler runs at a time per object; it may
interleave with normal requests at awaits; firing an evicted object constructs it first.
Sandbox rule (documented in dosandbox/_alarms.py): alarms due at one millisecond fire in the
order they were set, across objects.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from typing import Any

import pytest

from dosandbox import DurableObject, Sandbox, define_durable_object
from dosandbox.errors import ClockError

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)

ORDER: list[str] = []


class Named(DurableObject):
    """Records its own name in ORDER when its alarm fires."""

    async def arm(self, at_ms: int) -> None:
        await self.ctx.set_alarm(at_ms)

    async def alarm(self, info: Any) -> None:
        ORDER.append(self.ctx.id.name)


def test_same_instant_alarms_fire_in_set_order(do_sandbox: Sandbox) -> None:
    """Alarms due at one instant fire in the order set_alarm was called, across objects."""
    ORDER.clear()
    do_sandbox.register("named", Named)
    ns = do_sandbox.durable_objects.named
    at = START_MS + 5_000
    for name in ["d", "b", "e", "a", "c"]:
        do_sandbox.run(ns.get(name).arm(at))
    # Re-setting moves an object to the back of its instant's queue.
    do_sandbox.run(ns.get("b").arm(at))
    report = do_sandbox.clock.advance(seconds=5)
    assert ORDER == ["d", "e", "a", "c", "b"]
    fired = [e.object_id for e in report.fired if e.kind == "alarm.fired"]
    assert fired == [str(ns.id_from_name(n)) for n in ORDER]
    assert list(do_sandbox.alarms()["name"]) == []


def test_alarms_fire_in_time_order_with_sleeps_between(do_sandbox: Sandbox) -> None:
    """advance() fires alarms and sleeps in time order, each at its own time."""
    ORDER.clear()
    do_sandbox.register("named", Named)
    ns = do_sandbox.durable_objects.named
    for name, offset in [("third", 3_000), ("first", 1_000), ("second", 2_000)]:
        do_sandbox.run(ns.get(name).arm(START_MS + offset))
    report = do_sandbox.clock.advance(seconds=10)
    assert ORDER == ["first", "second", "third"]
    assert [e.time_ms - START_MS for e in report.fired] == [1_000, 2_000, 3_000]
    assert do_sandbox.clock.now_ms == START_MS + 10_000


def test_run_next_fires_one_instant_and_run_until_stops_at_its_time(do_sandbox: Sandbox) -> None:
    """run_next() jumps to the next alarm only; run_until() fires those due by then and stops."""
    ORDER.clear()
    do_sandbox.register("named", Named)
    ns = do_sandbox.durable_objects.named
    for i, name in enumerate(["x", "y", "z"]):
        do_sandbox.run(ns.get(name).arm(START_MS + (i + 1) * 60_000))
    do_sandbox.clock.run_next()
    assert (ORDER, do_sandbox.clock.now_ms) == (["x"], START_MS + 60_000)
    do_sandbox.clock.run_until(START + dt.timedelta(minutes=2, seconds=30))
    assert (ORDER, do_sandbox.clock.now_ms) == (["x", "y"], START_MS + 150_000)
    assert do_sandbox.clock.run_until_idle().note == ""
    assert ORDER == ["x", "y", "z"]


class Busy(DurableObject):
    """An alarm and a method that both await time, logging when each starts and ends."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.log: list[str] = []
        self.running_alarms = 0
        self.max_running_alarms = 0

    async def arm(self, at_ms: int) -> None:
        await self.ctx.set_alarm(at_ms)

    async def work(self, seconds: float) -> str:
        self.log.append(f"work start {self.ms()}")
        await asyncio.sleep(seconds)
        self.log.append(f"work end {self.ms()}")
        return "done"

    async def entries(self) -> list[str]:
        return self.log

    async def peak(self) -> int:
        return self.max_running_alarms

    def ms(self) -> int:
        return int(time.time() * 1000) - START_MS

    async def alarm(self, info: Any) -> None:
        self.running_alarms += 1
        self.max_running_alarms = max(self.max_running_alarms, self.running_alarms)
        self.log.append(f"alarm start {self.ms()}")
        # Re-arm 1 s ahead while this run still has 5 s to go: that alarm must wait.
        if self.ms() < 3_000:
            await self.ctx.set_alarm(time.time() * 1000 + 1_000)
        await asyncio.sleep(5)
        self.log.append(f"alarm end {self.ms()}")
        self.running_alarms -= 1


def test_alarm_interleaves_with_rpc_at_awaits(do_sandbox: Sandbox) -> None:
    """An RPC may run while the alarm handler awaits (the platform allows it at awaits)."""
    do_sandbox.register("busy", Busy)
    stub = do_sandbox.durable_objects.busy.get("b")
    do_sandbox.run(stub.arm(START_MS + 10_000))
    do_sandbox.clock.advance(seconds=11)  # the alarm started at 10 s and sleeps until 15 s
    do_sandbox.clock.mode = "autojump"
    assert do_sandbox.run(stub.work(1)) == "done"  # runs 11 s → 12 s, inside the alarm's sleep
    do_sandbox.clock.run_until_idle()
    assert do_sandbox.run(stub.entries()) == [
        "alarm start 10000", "work start 11000", "work end 12000", "alarm end 15000",
    ]


def test_only_one_alarm_handler_at_a_time(do_sandbox: Sandbox) -> None:
    """An alarm due while the previous run still sleeps starts when that run ends, not before."""
    do_sandbox.register("busy", Busy)
    stub = do_sandbox.durable_objects.busy.get("b")
    do_sandbox.run(stub.arm(START_MS + 1_000))
    report = do_sandbox.clock.run_until_idle()
    assert do_sandbox.run(stub.entries()) == [
        "alarm start 1000", "alarm end 6000", "alarm start 6000", "alarm end 11000",
    ]
    assert do_sandbox.run(stub.peak()) == 1
    second = [e for e in report.fired if e.kind == "alarm.fired"][1]
    assert "was due while the previous run was still going" in second.message


def test_autojump_runs_sleeps_inside_methods_and_fires_alarms_on_the_way() -> None:
    """In autojump mode a method's asyncio.sleep jumps the clock, firing alarms due meanwhile."""
    sb = Sandbox(start=START, seed=0, clock_mode="autojump")
    try:
        ORDER.clear()
        sb.register("named", Named)
        sb.register("busy", Busy)
        sb.run(sb.durable_objects.named.get("mid").arm(START_MS + 20_000))
        busy = sb.durable_objects.busy.get("b")
        assert sb.run(busy.work(60)) == "done"
        assert sb.clock.now_ms == START_MS + 60_000
        assert ORDER == ["mid"]
        assert sb.run(busy.entries()) == ["work start 0", "work end 60000"]
    finally:
        sb.close()


def test_firing_an_evicted_object_constructs_it(do_sandbox: Sandbox) -> None:
    """Alarms survive eviction; firing runs init again, then the handler."""
    counts = {"init": 0, "alarm": 0}

    def init(ctx: Any) -> dict[str, int]:
        counts["init"] += 1
        return {}

    async def alarm(ctx: Any) -> None:
        counts["alarm"] += 1

    async def arm(ctx: Any) -> None:
        await ctx.set_alarm(dt.timedelta(minutes=5))

    do_sandbox.register("lazy", define_durable_object(init=init, alarm=alarm, methods={"arm": arm}))
    stub = do_sandbox.durable_objects.lazy.get("l")
    do_sandbox.run(stub.arm())
    assert do_sandbox.inspect(stub).evict()
    assert do_sandbox.inspect(stub).alarm is not None  # the alarm stays
    report = do_sandbox.clock.advance(minutes=5)
    assert counts == {"init": 2, "alarm": 1}
    kinds = [e.kind for e in report]
    # alarm.fired is the alarm's own log line (no second "alarm done" entry on the hot path)
    assert kinds.index("alarm.fired") < kinds.index("instance.created")
    assert "alarm.error" not in kinds


def test_sigint_stops_a_run_between_events_with_nothing_half_done(do_sandbox: Sandbox) -> None:
    """Ctrl-C during run_until_idle stops after the running event; the rest stays pending."""
    fired: list[str] = []

    class Interrupting(DurableObject):
        async def arm(self, at_ms: int) -> None:
            await self.ctx.set_alarm(at_ms)

        async def alarm(self, info: Any) -> None:
            name = self.ctx.id.name
            if name == "second":
                signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl-C now
            await self.ctx.storage.put("fired", True)
            fired.append(name)

    do_sandbox.register("i", Interrupting)
    ns = do_sandbox.durable_objects.i
    names = ["first", "second", "third", "fourth"]
    for n, name in enumerate(names):
        do_sandbox.run(ns.get(name).arm(START_MS + (n + 1) * 1_000))
    with pytest.raises(KeyboardInterrupt, match="interrupted between two events"):
        do_sandbox.clock.run_until_idle()
    assert fired == ["first", "second"]  # the interrupted handler finished, storage included
    assert do_sandbox.clock.now_ms == START_MS + 2_000
    assert list(do_sandbox.alarms()["name"]) == ["third", "fourth"]
    do_sandbox.clock.run_until_idle()  # carries on where it stopped
    assert fired == names


def test_clock_bad_input_is_typed_and_loses_nothing(do_sandbox: Sandbox) -> None:
    """advance(seconds=-1) and run_until(past) raise ClockError; clock and alarms are unchanged."""
    ORDER.clear()
    do_sandbox.register("named", Named)
    stub = do_sandbox.durable_objects.named.get("n")
    do_sandbox.run(stub.arm(START_MS + 30_000))
    do_sandbox.clock.advance(seconds=10)
    with pytest.raises(ClockError, match="positive duration"):
        do_sandbox.clock.advance(seconds=-1)
    with pytest.raises(ClockError, match="before now"):
        do_sandbox.clock.run_until(START)
    with pytest.raises(ClockError):
        do_sandbox.clock.run_until("noon")
    assert do_sandbox.clock.now_ms == START_MS + 10_000
    assert do_sandbox.inspect(stub).alarm["time_ms"] == START_MS + 30_000
    do_sandbox.clock.advance(seconds=20)
    assert ORDER == ["n"]


def test_step_report_lists_only_what_fired_in_order(do_sandbox: Sandbox) -> None:
    """StepReport.fired lists alarm events of the step in order; other steps don't repeat them."""
    ORDER.clear()
    do_sandbox.register("named", Named)
    ns = do_sandbox.durable_objects.named
    do_sandbox.run(ns.get("p").arm(START_MS + 1_000))
    do_sandbox.run(ns.get("q").arm(START_MS + 9_000))
    first = do_sandbox.clock.advance(seconds=5)
    second = do_sandbox.clock.advance(seconds=5)
    p_id, q_id = str(ns.id_from_name("p")), str(ns.id_from_name("q"))
    assert [(e.kind, e.object_id) for e in first.fired] == [("alarm.fired", p_id)]
    assert [(e.kind, e.object_id) for e in second.fired] == [("alarm.fired", q_id)]
    assert "alarm.fired" in repr(first)


def test_daily_alarm_keeps_firing_for_more_than_a_year(do_sandbox: Sandbox) -> None:
    """A daily alarm fires 400 times in 400 days: past 2**24 s (194 days) of virtual time too."""

    async def daily(ctx: Any) -> None:
        ctx.set_state({"n": ctx.state["n"] + 1})
        await ctx.set_alarm(time.time() * 1000 + 86_400_000)

    async def arm(ctx: Any) -> None:
        await ctx.set_alarm(time.time() * 1000 + 86_400_000)

    async def count(ctx: Any) -> int:
        return int(ctx.state["n"])

    do_sandbox.register("daily", define_durable_object(
        init=lambda ctx: {"n": 0}, alarm=daily, methods={"arm": arm, "count": count}))
    stub = do_sandbox.durable_objects.daily.get("d")
    do_sandbox.run(stub.arm())
    report = do_sandbox.clock.advance(days=400)
    assert report.note == ""
    assert do_sandbox.run(stub.count()) == 400
    fired = [e.time_ms for e in do_sandbox.event_log if e.kind == "alarm.fired"]
    assert fired[-1] == START_MS + 400 * 86_400_000


class TimedOut(DurableObject):
    """An alarm handler that uses asyncio.timeout() before its first await."""

    async def arm(self, at_ms: int) -> None:
        await self.ctx.set_alarm(at_ms)

    async def alarm(self, info: Any) -> None:
        task = asyncio.current_task()
        async with asyncio.timeout(5):  # needs current_task(): the handler's own task
            await asyncio.sleep(1)
        self.ran_as_one_task = task is asyncio.current_task() and task is not None

    async def ran(self) -> bool:
        return getattr(self, "ran_as_one_task", False)


def test_handler_runs_as_its_own_task_from_its_first_line(do_sandbox: Sandbox) -> None:
    """Alarm handlers start at once when due but as their own task (asyncio.timeout works)."""
    do_sandbox.register("timed", TimedOut)
    stub = do_sandbox.durable_objects.timed.get("t")
    do_sandbox.run(stub.arm(START_MS + 1_000))
    do_sandbox.clock.advance(seconds=3)
    assert do_sandbox.run(stub.ran()) is True


class Waker(DurableObject):
    """Its alarm sets another object's alarm to 'now' over RPC, then records itself."""

    async def arm(self, at_ms: int) -> None:
        await self.ctx.set_alarm(at_ms)

    async def alarm(self, info: Any) -> None:
        ORDER.append(f"{self.ctx.id.name} start")
        if self.ctx.id.name == "first":
            other = self.ctx.env.WAKER.get_by_name("sleeper")
            await other.arm(int(time.time() * 1000))
        ORDER.append(f"{self.ctx.id.name} end")


def test_alarm_set_to_now_by_a_running_handler_fires_at_the_same_instant(
    do_sandbox: Sandbox,
) -> None:
    """A handler setting another object's alarm to now: that alarm fires at this instant, after."""
    ORDER.clear()
    do_sandbox.register("waker", Waker)
    ns = do_sandbox.durable_objects.waker
    do_sandbox.run(ns.get("first").arm(START_MS + 1_000))
    report = do_sandbox.clock.advance(seconds=1)
    fired = [(e.time_ms - START_MS, e.object_id) for e in report.fired if e.kind == "alarm.fired"]
    ids = [str(ns.id_from_name(name)) for name in ("first", "sleeper")]
    assert fired == [(1_000, ids[0]), (1_000, ids[1])]
    assert ORDER == ["first start", "first end", "sleeper start", "sleeper end"]
