"""Execution model: the virtual-time loop, the driver, input gates, eviction."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import time

import pytest

from dosandbox import DurableObject, Sandbox, define_durable_object
from dosandbox.errors import (
    ClockError,
    DriverError,
    DurableObjectMethodError,
    DurableObjectResetError,
    ValidationError,
    WaitingOnTimeError,
)

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Log(DurableObject):
    """Records the order in which things happen."""

    def __init__(self, ctx, env) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx, env)
        self.log: list[str] = []

    async def no_suspend(self, tag: str) -> list[str]:
        self.log.append(f"{tag} start")
        await self._compute()  # a coroutine that never suspends keeps the gate closed
        self.log.append(f"{tag} end")
        return self.log

    async def sleeper(self, tag: str, seconds: float) -> list[str]:
        self.log.append(f"{tag} start")
        await asyncio.sleep(seconds)  # a timer opens the gate
        self.log.append(f"{tag} end")
        return self.log

    async def _compute(self) -> int:
        return 1

    def read(self) -> list[str]:
        return self.log


def make(mode: str = "manual") -> Sandbox:
    sb = Sandbox(start=START, clock_mode=mode)
    sb.register("log", Log)
    return sb


def test_awaiting_a_non_suspending_coroutine_does_not_interleave() -> None:
    """Two concurrent calls: the first finishes before the second starts when it never yields."""
    sb = make()
    stub = sb.durable_objects.log.get("x")

    async def both() -> list[str]:
        await asyncio.gather(stub.no_suspend("a"), stub.no_suspend("b"))
        return await stub.read()

    assert sb.run(both()) == ["a start", "a end", "b start", "b end"]


def test_sleeping_on_the_clock_lets_the_next_call_in() -> None:
    """When the first call sleeps on a timer, the second runs to completion in between."""
    sb = make("autojump")
    stub = sb.durable_objects.log.get("x")

    async def both() -> list[str]:
        await asyncio.gather(stub.sleeper("a", 5), stub.no_suspend("b"))
        return await stub.read()

    assert sb.run(both()) == ["a start", "b start", "b end", "a end"]
    assert sb.clock.now_ms == int(START.timestamp() * 1000) + 5000


def test_manual_mode_call_waiting_on_time_raises_and_stays_in_flight() -> None:
    """A call that sleeps in manual mode says what it waits for; advancing finishes it."""
    sb = make()
    stub = sb.durable_objects.log.get("x")
    with pytest.raises(WaitingOnTimeError, match=r"due in 10 s.*advance\(seconds=10\)"):
        sb.run(stub.sleeper("a", 10))
    assert sb.inspect(stub).in_flight == 1
    report = sb.clock.advance(seconds=10)
    assert sb.inspect(stub).in_flight == 0
    assert sb.run(stub.read()) == ["a start", "a end"]
    assert report.end_ms - report.start_ms == 10_000


def test_autojump_moves_the_clock_to_each_timer() -> None:
    """In autojump mode a sleep of 60 s returns at once, with the clock 60 s later."""
    sb = make("autojump")
    before = sb.clock.now_ms
    sb.run(sb.durable_objects.log.get("x").sleeper("a", 60))
    assert sb.clock.now_ms - before == 60_000


def test_time_read_inside_a_method_is_the_virtual_clock() -> None:
    """time.time(), datetime.now() and loop.time() inside object code follow the clock."""
    class Clocky(DurableObject):
        def now(self) -> tuple[float, str, float]:
            return (
                time.time(),
                dt.datetime.now(dt.UTC).isoformat(),
                asyncio.get_running_loop().time(),
            )

    sb = Sandbox(start=START)
    sb.register("clocky", Clocky)
    stub = sb.durable_objects.clocky.get("c")
    wall, iso, loop_time = sb.run(stub.now())
    assert wall == START.timestamp()
    assert iso == START.isoformat()
    assert loop_time == 0.0
    sb.clock.advance(minutes=5)
    assert sb.run(stub.now())[0] == START.timestamp() + 300
    assert abs(time.time() - START.timestamp()) > 3600  # outside object code: real time


def test_virtual_time_can_be_switched_off() -> None:
    """Sandbox(virtual_time=False) leaves time.time() real inside object code."""
    class Clocky(DurableObject):
        def now(self) -> float:
            return time.time()

    sb = Sandbox(start=START, virtual_time=False)
    sb.register("clocky", Clocky)
    assert abs(sb.run(sb.durable_objects.clocky.get("c").now()) - time.time()) < 60


def test_driver_inside_object_code_is_refused() -> None:
    """Calling sb.run from inside a method fails with a DriverError saying to await."""
    sb = Sandbox()

    class Bad(DurableObject):
        def nested(self) -> None:
            sb.run(asyncio.sleep(0))

    sb.register("bad", Bad)
    with pytest.raises(DurableObjectMethodError, match="inside object code") as info:
        sb.run(sb.durable_objects.bad.get("b").nested())
    assert isinstance(info.value.__cause__, DriverError)


def test_block_concurrency_while_holds_other_events_until_done() -> None:
    """Events arriving during block_concurrency_while wait, even across a timer await."""
    order: list[str] = []

    class Gate(DurableObject):
        def __init__(self, ctx, env) -> None:  # type: ignore[no-untyped-def]
            super().__init__(ctx, env)
            ctx.block_concurrency_while(self.load)

        async def load(self) -> None:
            order.append("load start")
            await asyncio.sleep(1)
            order.append("load end")

        def hit(self, tag: str) -> None:
            order.append(tag)

    sb = Sandbox(clock_mode="autojump")
    sb.register("gate", Gate)
    stub = sb.durable_objects.gate.get("g")

    async def both() -> None:
        await asyncio.gather(stub.hit("first"), stub.hit("second"))

    sb.run(both())
    assert order == ["load start", "load end", "first", "second"]


def test_block_concurrency_while_failure_resets_the_instance() -> None:
    """If the callback raises, the queued call fails with OBJECT_RESET, that stub stays broken
    (as in workerd) and a new stub runs init again."""
    attempts: list[int] = []

    async def init(ctx):  # type: ignore[no-untyped-def]
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("migration failed")
        return {"ready": True}

    sb = Sandbox()
    sb.register("flaky", define_durable_object(init=init, methods={"ready": lambda c: c.state}))
    stub = sb.durable_objects.flaky.get("f")
    with pytest.raises(DurableObjectResetError, match="reset") as info:
        sb.run(stub.ready())
    assert info.value.code == "OBJECT_RESET"
    assert isinstance(info.value.__cause__, RuntimeError)
    assert info.value.durable_object_reset and not info.value.remote
    with pytest.raises(DurableObjectResetError, match="migration failed"):
        sb.run(stub.ready())
    assert len(attempts) == 1
    assert sb.run(sb.durable_objects.flaky.get("f").ready()) == {"ready": True}
    assert len(attempts) == 2


def test_init_runs_under_block_concurrency_while() -> None:
    """init finishes (even across a sleep) before any method sees the state."""
    async def init(ctx):  # type: ignore[no-untyped-def]
        await asyncio.sleep(2)
        return {"count": 10}

    sb = Sandbox(clock_mode="autojump")
    sb.register("c", define_durable_object(init=init, methods={"get": lambda c: c.state}))
    stub = sb.durable_objects.c.get("x")

    async def many() -> list[object]:
        return list(await asyncio.gather(stub.get(), stub.get()))

    assert sb.run(many()) == [{"count": 10}, {"count": 10}]


def test_evict_then_call_runs_init_again_and_state_is_gone() -> None:
    """evict() drops in-memory state; the next call builds a new instance with fresh init."""
    inits: list[int] = []

    def init(ctx):  # type: ignore[no-untyped-def]
        inits.append(1)
        return {"count": 0}

    def bump(ctx):  # type: ignore[no-untyped-def]
        ctx.set_state(count=ctx.state["count"] + 1)
        return ctx.state["count"]

    sb = Sandbox()
    sb.register("c", define_durable_object(init=init, methods={"bump": bump}))
    stub = sb.durable_objects.c.get("x")
    handle = sb.inspect(stub)
    assert handle.status == "not created"
    assert sb.run(stub.bump()) == 1 and sb.run(stub.bump()) == 2
    assert handle.state == {"count": 2}
    assert handle.evict() is True
    assert handle.status == "evicted" and handle.state is None
    assert sb.run(stub.bump()) == 1
    assert len(inits) == 2
    assert list(handle.events["kind"]).count("evicted") == 1


def test_evict_refuses_while_events_are_in_flight() -> None:
    """The platform evicts only idle objects: evict() with a call in flight is refused."""
    sb = make()
    stub = sb.durable_objects.log.get("x")
    with pytest.raises(WaitingOnTimeError):
        sb.run(stub.sleeper("a", 1))
    with pytest.raises(ValidationError, match="in flight"):
        sb.inspect(stub).evict()
    sb.clock.advance(seconds=1)
    assert sb.inspect(stub).evict() is True


def test_set_state_merges_into_dicts_and_objects() -> None:
    """set_state merges keys into a dict state, or attributes into an object state."""
    class Obj:
        def __init__(self) -> None:
            self.a = 1

    def init_obj(ctx):  # type: ignore[no-untyped-def]
        return Obj()

    def update(ctx, **kw):  # type: ignore[no-untyped-def]
        ctx.set_state(kw)
        ctx.setState(z=9)  # the seed's camelCase name works too
        s = ctx.get_state()
        return sorted(vars(s).items()) if not isinstance(s, dict) else sorted(s.items())

    sb = Sandbox()
    sb.register("o", define_durable_object(init=init_obj, methods={"update": update}))
    sb.register("d", define_durable_object(methods={"update": update}))
    assert sb.run(sb.durable_objects.o.get("x").update(b=2)) == [("a", 1), ("b", 2), ("z", 9)]
    assert sb.run(sb.durable_objects.d.get("x").update(b=2)) == [("b", 2), ("z", 9)]


def test_wait_until_runs_in_the_background() -> None:
    """wait_until work does not delay the result and still runs when the clock moves."""
    done: list[str] = []

    async def later() -> None:
        await asyncio.sleep(5)
        done.append("background")

    def kick(ctx):  # type: ignore[no-untyped-def]
        ctx.wait_until(later())
        return "returned"

    sb = Sandbox()
    sb.register("k", define_durable_object(methods={"kick": kick}))
    assert sb.run(sb.durable_objects.k.get("x").kick()) == "returned"
    assert done == []
    sb.clock.advance(seconds=5)
    assert done == ["background"]


def test_clock_refuses_to_move_backwards() -> None:
    """advance(-1) and run_until(past) are CLOCK_ERRORs; the clock is unchanged after."""
    sb = make()
    before = sb.clock.now_ms
    with pytest.raises(ClockError, match="positive duration"):
        sb.clock.advance(seconds=-1)
    with pytest.raises(ClockError, match="before now"):
        sb.clock.run_until(START - dt.timedelta(seconds=1))
    with pytest.raises(ClockError, match="cannot move backwards"):
        sb.clock._set_ms(before - 1)
    with pytest.raises(ClockError, match="Unknown clock mode"):
        sb.clock.mode = "fast"
    assert sb.clock.now_ms == before
    sb.clock.advance(seconds=1)
    assert sb.clock.now_ms == before + 1000


def test_run_next_and_run_until_idle_fire_timers_in_order() -> None:
    """run_next jumps to the next timer; run_until_idle drains every timer."""
    sb = make()
    fired: list[int] = []
    for delay in (3, 1, 2):
        sb.loop.call_later(delay, fired.append, delay)
    sb.clock.run_next()
    assert fired == [1]
    sb.clock.run_until_idle()
    assert fired == [1, 2, 3]
    assert sb.clock.now_ms == int(START.timestamp() * 1000) + 3000


def test_loop_time_is_small_not_epoch_seconds() -> None:
    """The loop's time() is seconds since start, so float resolution never stalls timers."""
    sb = Sandbox(start=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert sb.loop.time() == 0.0
    sb.clock.advance(milliseconds=1)
    assert sb.loop.time() == 0.001


def test_seed_counter_runs_as_a_script() -> None:
    """examples/counter.py (the seed's counter, with storage) runs as a plain script."""
    from pathlib import Path

    script = Path(__file__).parents[2] / "examples" / "counter.py"
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "increment(5) -> 5" in out and "decrement(2) -> 3" in out and "reset() -> 0" in out


def test_import_dosandbox_loads_neither_pandas_nor_ipywidgets() -> None:
    """`import dosandbox` stays light: no pandas, ipywidgets, IPython or aiohttp, and the
    server's types load aiohttp only when asked for."""
    code = (
        "import sys, dosandbox; heavy = ('pandas','ipywidgets','IPython','aiohttp'); "
        "print(','.join(m for m in heavy if m in sys.modules)); "
        "print(dosandbox.RealSocket.__name__, 'aiohttp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["", "RealSocket True"]


def test_asyncio_gather_from_a_notebook_loop_sends_calls_concurrently() -> None:
    """await asyncio.gather(a(), b()) in a cell delivers both calls before either finishes."""
    sb = make("autojump")
    stub = sb.durable_objects.log.get("x")

    async def cell() -> list[str]:
        await asyncio.gather(stub.sleeper("a", 5), stub.sleeper("b", 1))
        return await stub.read()

    assert asyncio.run(cell()) == ["a start", "b start", "b end", "a end"]
