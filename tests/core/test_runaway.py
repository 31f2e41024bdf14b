"""Runaway code stops: Ctrl-C and the platform's CPU-time limit reach code that never yields.

Checked in workerd (Miniflare 4.20260426, compat 2026-04-26): a recursive CTE without an end
runs on (no answer after 15 s; workerd enforces no CPU limit locally) and holds every object of
the Worker meanwhile. On the platform an event past its CPU limit (30 s by default) resets the
object: "Durable Object exceeded its CPU time limit and was reset." The sandbox stops such code
on Ctrl-C (Jupyter's interrupt) and at ``Limits.max_cpu_ms_per_event``, resets the object (the
event's writes are discarded) and keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import apsw
import pytest

from dosandbox import DurableObject, Limits, Sandbox
from dosandbox._core.cpulimit import CPU_LIMIT_MESSAGE, WATCH_INTERVAL
from dosandbox._runtime.alarms import MAX_ALARM_MS, scheduler_for
from dosandbox.errors import (
    DurableObjectResetError,
    ExecutionInterruptedError,
    ValidationError,
)

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


class _Stuck(BaseException):
    """Raised into the test's thread by the backstop: the code under test ignored the stop."""


def _unstick() -> None:
    # Code that ignored Ctrl-C: abort every statement, then raise into the main thread, so a
    # broken build fails this test instead of hanging the suite.
    for conn in apsw.connections():
        conn.interrupt()
    main = threading.main_thread().ident or 0
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(main), ctypes.py_object(_Stuck))


@contextlib.contextmanager
def ctrl_c_after(seconds: float | None, backstop: float = 20.0) -> Iterator[None]:
    """Send SIGINT to this process (as Jupyter's interrupt does) ``seconds`` into the block."""
    done = threading.Event()

    def press() -> None:
        if seconds is not None and not done.wait(seconds):
            os.kill(os.getpid(), signal.SIGINT)
        if not done.wait(backstop):
            _unstick()

    thread = threading.Thread(target=press, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class Spinner(DurableObject):
    """Writes, then never ends: in Python or in SQL; ``alarm`` only on its first attempt."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        ctx.sql.exec("CREATE TABLE IF NOT EXISTS t (v TEXT)")

    def _half_write(self) -> None:
        self.ctx.storage.kv.put("half", "written")
        self.ctx.sql.exec("INSERT INTO t VALUES ('half')")

    async def spin(self, how: str) -> None:
        self._half_write()
        if how == "sql":
            self.ctx.sql.exec(ENDLESS).one()
        while True:
            pass

    async def arm(self, how: str) -> None:
        self.ctx.storage.kv.put("how", how)
        await self.ctx.storage.set_alarm(time.time() * 1000 + 1_000)

    async def alarm(self, info: Any) -> None:
        if info.retry_count == 0:
            await self.spin(self.ctx.storage.kv.get("how"))
        self.ctx.storage.kv.put("done", True)

    async def read(self) -> dict[str, Any]:
        rows = self.ctx.sql.exec("SELECT count(*) AS n FROM t").one()["n"]
        kv = self.ctx.storage.kv
        return {"half": kv.get("half"), "done": kv.get("done"), "rows": rows}

    async def burn(self, seconds: float) -> str:
        start = time.thread_time()  # CPU time: the limit counts CPU, not waiting
        while time.thread_time() - start < seconds:
            pass
        return "finished"

    async def blocked(self) -> None:
        def forever() -> None:
            while True:
                pass

        await self.ctx.block_concurrency_while(forever)


class Relay(DurableObject):
    async def relay(self) -> None:
        await self.env.SPINNER.get("called").spin("py")

    async def ping(self) -> str:
        return "pong"


class SlowStart(DurableObject):
    endless = True

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        while SlowStart.endless:
            pass

    async def ping(self) -> str:
        return "pong"


def _sandbox(cpu_ms: int | None = None) -> Sandbox:
    sb = Sandbox(start=START_MS, seed=0, limits=Limits(max_cpu_ms_per_event=cpu_ms))
    sb.register("spinner", Spinner)
    sb.register("relay", Relay)
    sb.register("slow_start", SlowStart)
    return sb


def _assert_untouched(sb: Sandbox, name: str) -> None:
    """The stopped event's writes are gone and the object answers through a new stub."""
    assert sb.run(sb.durable_objects.spinner.get(name).read()) == {
        "half": None, "done": None, "rows": 0,
    }
    assert asyncio.events._get_running_loop() is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# --- Ctrl-C ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["sql", "py"])
def test_ctrl_c_stops_a_method_that_never_ends_and_keeps_nothing_it_wrote(how: str) -> None:
    """Ctrl-C in an endless CTE or loop: ExecutionInterruptedError, the object reset, no writes."""
    with _sandbox() as sb:
        stub = sb.durable_objects.spinner.get("a")
        with ctrl_c_after(0.3), pytest.raises(ExecutionInterruptedError) as info:
            sb.run(stub.spin(how))
        error = info.value
        assert error.code == "INTERRUPTED" and error.durable_object_reset
        assert error.object_name == "spinner" and error.method_name == "spin"
        assert "Interrupted method spin() of spinner" in str(error)
        assert "new stub (sb.durable_objects.spinner.get(...))" in str(error)
        with pytest.raises(DurableObjectResetError, match="interrupted"):
            sb.run(stub.read())  # the stub that saw the reset keeps failing, as on the platform
        _assert_untouched(sb, "a")
        kinds = list(sb.events()["kind"])
        assert "kv.rollback" in kinds


@pytest.mark.parametrize("how", ["sql", "py"])
def test_ctrl_c_stops_an_alarm_handler_that_never_yields_under_advance(how: str) -> None:
    """advance() with a spinning alarm handler: Ctrl-C stops it; the retry later completes."""
    with _sandbox(cpu_ms=None) as sb:
        sb.run(sb.durable_objects.spinner.get("a").arm(how))
        with ctrl_c_after(0.3), pytest.raises(ExecutionInterruptedError, match="alarm handler"):
            sb.clock.advance(seconds=2)
        assert sb.clock.now_ms == START_MS + 1_000  # stopped at the event, not at the target
        _assert_untouched(sb, "a")
        assert len(sb.alarms()) == 1  # an interrupted attempt is a failed one: retried
        sb.clock.advance(seconds=5)
        assert sb.run(sb.durable_objects.spinner.get("a").read())["done"] is True


def test_ctrl_c_in_a_constructor_that_never_ends_resets_the_half_built_instance() -> None:
    """An endless constructor stops on Ctrl-C; the next stub builds a fresh instance."""
    with _sandbox() as sb:
        SlowStart.endless = True
        with ctrl_c_after(0.3), pytest.raises(ExecutionInterruptedError, match="the constructor"):
            sb.run(sb.durable_objects.slow_start.get("a").ping())
        SlowStart.endless = False
        assert sb.run(sb.durable_objects.slow_start.get("a").ping()) == "pong"


def test_an_object_calling_a_runaway_gets_its_interrupt_unwrapped() -> None:
    """A calls B, B spins: Ctrl-C resets B only; A's caller sees B's ExecutionInterruptedError."""
    with _sandbox() as sb:
        relay = sb.durable_objects.relay.get("r")
        with ctrl_c_after(0.3), pytest.raises(ExecutionInterruptedError) as info:
            sb.run(relay.relay())
        assert info.value.object_name == "spinner"
        assert sb.run(relay.ping()) == "pong"  # A was not reset
        _assert_untouched(sb, "called")


def test_ctrl_c_stops_a_runaway_query_from_the_handle() -> None:
    """handle.sql() with an endless query stops on Ctrl-C; the handle and object keep working."""
    with _sandbox() as sb:
        stub = sb.durable_objects.spinner.get("a")
        sb.run(stub.read())
        handle = sb.inspect(stub)
        with ctrl_c_after(0.3), pytest.raises(KeyboardInterrupt):
            handle.sql(ENDLESS)
        assert list(handle.sql("SELECT 41 + 1 AS n")["n"]) == [42]
        assert sb.run(stub.read())["rows"] == 0


def test_interrupt_then_next_unrelated_call_ten_times() -> None:
    """Ten rounds of interrupting a spinning call: the next call of another object answers."""
    with _sandbox() as sb:
        other = sb.durable_objects.relay.get("other")
        for round_ in range(10):
            with ctrl_c_after(0.05 + 0.02 * round_), pytest.raises(ExecutionInterruptedError):
                sb.run(sb.durable_objects.spinner.get(f"s{round_}").spin("py"))
            assert sb.run(other.ping()) == "pong"
            assert asyncio.events._get_running_loop() is None


def test_interrupt_then_next_call_ten_times_from_a_running_loop() -> None:
    """As in a Jupyter cell (`await` on the kernel's loop): the loop stays the kernel's own."""
    with _sandbox() as sb:
        other = sb.durable_objects.relay.get("other")

        async def cell() -> list[str]:
            outer = asyncio.get_running_loop()
            answers = []
            for round_ in range(10):
                with ctrl_c_after(0.05 + 0.02 * round_), pytest.raises(ExecutionInterruptedError):
                    await sb.durable_objects.spinner.get(f"s{round_}").spin("sql")
                assert asyncio.get_running_loop() is outer
                answers.append(await asyncio.wait_for(asyncio.ensure_future(other.ping()), 5))
            return answers

        loop = asyncio.new_event_loop()  # run_until_complete: no SIGINT handler of asyncio's
        try:
            assert loop.run_until_complete(cell()) == ["pong"] * 10
        finally:
            loop.close()


@pytest.mark.parametrize("where", ["enter", "exit"])
def test_an_interrupt_as_a_drive_starts_or_ends_gives_the_thread_its_loop_back(where: str) -> None:
    """KeyboardInterrupt landing in a drive's entry or exit leaves no sandbox loop running."""
    with _sandbox() as sb:
        other = sb.durable_objects.relay.get("other")
        wall = sb.clock._wall
        real = getattr(wall, where)
        pressed: list[bool] = []

        def interrupted() -> None:
            if not pressed:
                pressed.append(True)
                raise KeyboardInterrupt
            real()

        setattr(wall, where, interrupted)
        with pytest.raises(KeyboardInterrupt):
            sb.run(other.ping())
        assert asyncio.events._get_running_loop() is None
        assert not wall.active  # real time again outside the drive
        assert sb.run(other.ping()) == "pong"


def test_a_drive_repairs_a_running_loop_left_by_a_cut_drive() -> None:
    """A sandbox loop left set with no drive running (an interrupt between two steps) is undone."""
    with _sandbox() as sb:
        other = sb.durable_objects.relay.get("other")
        asyncio.events._set_running_loop(sb.loop)
        try:
            assert sb.run(other.ping()) == "pong"
        finally:
            stale = asyncio.events._get_running_loop()
            asyncio.events._set_running_loop(None)
        assert stale is None


# --- the CPU limit ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["sql", "py"])
def test_cpu_limit_resets_an_object_whose_method_never_yields(how: str) -> None:
    """Past max_cpu_ms_per_event the object is reset with workerd's message; nothing is kept."""
    with _sandbox(cpu_ms=300) as sb:
        with ctrl_c_after(None), pytest.raises(DurableObjectResetError) as info:
            sb.run(sb.durable_objects.spinner.get("a").spin(how))
        error = info.value
        assert str(error).startswith(f"[OBJECT_RESET] {CPU_LIMIT_MESSAGE} Its method spin() ran")
        assert "Limits.max_cpu_ms_per_event" in str(error) and error.durable_object_reset
        assert not error.remote
        _assert_untouched(sb, "a")
        errors = sb.events("error")["message"].tolist()
        assert any(CPU_LIMIT_MESSAGE in m for m in errors)


def test_cpu_limit_resets_an_alarm_handler_under_advance_and_the_retry_runs() -> None:
    """A spinning alarm handler is reset at the limit; advance() goes on; the retry succeeds."""
    with _sandbox(cpu_ms=300) as sb:
        sb.run(sb.durable_objects.spinner.get("a").arm("py"))
        with ctrl_c_after(None):
            report = sb.clock.advance(seconds=2)
        assert sb.clock.now_ms == START_MS + 2_000
        kinds = [event.kind for event in report]
        assert "alarm.error" in kinds and "alarm.retry" in kinds
        assert any(CPU_LIMIT_MESSAGE in event.message for event in report)
        _assert_untouched(sb, "a")
        sb.clock.advance(seconds=5)
        assert sb.run(sb.durable_objects.spinner.get("a").read())["done"] is True


def test_cpu_limit_reaches_a_block_concurrency_while_that_never_ends() -> None:
    """A block_concurrency_while callback past the limit resets the object, which then serves."""
    with _sandbox(cpu_ms=300) as sb:
        with ctrl_c_after(None), pytest.raises(DurableObjectResetError, match="exceeded its CPU"):
            sb.run(sb.durable_objects.spinner.get("a").blocked())
        _assert_untouched(sb, "a")


def test_cpu_limit_counts_cpu_time_and_none_turns_it_off() -> None:
    """0.6 s of CPU: reset under a 200 ms limit, finished with max_cpu_ms_per_event=None."""
    with (
        _sandbox(cpu_ms=200) as sb,
        ctrl_c_after(None),
        pytest.raises(DurableObjectResetError, match="exceeded its CPU time limit"),
    ):
        sb.run(sb.durable_objects.spinner.get("a").burn(0.6))
    with _sandbox(cpu_ms=None) as sb, ctrl_c_after(None):
        assert sb.run(sb.durable_objects.spinner.get("a").burn(0.6)) == "finished"
    assert Limits().max_cpu_ms_per_event == 30_000  # the platform's default


@pytest.mark.parametrize("bad", [0, -1, 1.5, "30s", True])
def test_a_cpu_limit_that_is_not_positive_milliseconds_is_refused(bad: Any) -> None:
    """Limits(max_cpu_ms_per_event=...) takes a positive int or None; a typed error says so."""
    with pytest.raises(ValidationError, match=r"max_cpu_ms_per_event=\.\.\.\) takes a positive"):
        Limits(max_cpu_ms_per_event=bad)
    with _sandbox(cpu_ms=1_000) as sb:
        assert sb.run(sb.durable_objects.relay.get("r").ping()) == "pong"


def test_one_watchdog_thread_serves_every_sandbox() -> None:
    """However many sandboxes exist, the process has one watchdog thread."""
    sandboxes = [_sandbox() for _ in range(5)]
    try:
        time.sleep(WATCH_INTERVAL * 2)
        names = [t.name for t in threading.enumerate()]
        assert names.count("dosandbox-watchdog") == 1
    finally:
        for sb in sandboxes:
            sb.close()


# --- far-future alarms -----------------------------------------------------------------------


class Far(DurableObject):
    fired: ClassVar[list[int]] = []

    async def arm(self, at_ms: int) -> None:
        await self.ctx.storage.set_alarm(at_ms)

    async def alarm(self, info: Any) -> None:
        Far.fired.append(info.scheduled_time)


@pytest.mark.parametrize("at_ms", [4_102_444_800_000, MAX_ALARM_MS])
def test_a_far_future_alarm_is_one_jump_of_run_next(at_ms: int) -> None:
    """set_alarm(2100-01-01 or the latest time the platform takes); run_next() fires it once."""
    Far.fired.clear()
    with Sandbox(start=START_MS + 123, seed=0) as sb:  # an origin with milliseconds
        sb.register("far", Far)
        sb.run(sb.durable_objects.far.get("a").arm(at_ms))
        report = sb.clock.run_next()
        assert sb.clock.now_ms == at_ms and Far.fired == [at_ms]
        assert [event.kind for event in report].count("alarm.fired") == 1
        assert "nothing was scheduled" in str(sb.clock.run_next())


def test_an_alarm_timer_a_hair_early_fires_instead_of_spinning() -> None:
    """A loop timer that float rounding puts just before its alarm's ms still fires it once."""
    Far.fired.clear()
    with Sandbox(start=START_MS, seed=0) as sb:
        sb.register("far", Far)
        at_ms = START_MS + 60_000
        sb.run(sb.durable_objects.far.get("a").arm(at_ms))
        timer = scheduler_for(sb.world)._timer
        assert timer is not None
        timer._when = (at_ms - 2 - START_MS) / 1000  # as rounding far in the future would
        with ctrl_c_after(None):
            sb.clock.run_next()
        assert Far.fired == [at_ms] and sb.pending_alarm_count() == 0
