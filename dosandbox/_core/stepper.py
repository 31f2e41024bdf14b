"""Stepping the sandbox: moving virtual time and running what falls due, one report per step.

``sb.clock.advance()``, ``run_until()``, ``run_next()`` and ``run_until_idle()`` end up here, and
so does the realtime follower that moves the clock while a notebook is idle. Ctrl-C during a
step stops it cleanly between two events (KeyboardInterrupt), or, when the running event does
not end by itself (a handler that never yields, a query without end), stops that event's code:
its object is reset and the step raises ExecutionInterruptedError. The same watchdog enforces
``Limits.max_cpu_ms_per_event`` on every event (cpulimit.py). Long steps show a progress bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from . import cpulimit
from .errors import ValidationError
from .events import StepReport
from .notices import notify
from .world import World

__all__ = ["REALTIME_TICK", "PeriodicWatch", "StepReport", "Stepper", "step_report"]

# Seconds of real time between two moves of a realtime clock.
REALTIME_TICK = 0.05


class PeriodicWatch(Protocol):
    """Watches one ``run_until_idle``: are only alarms that re-arm themselves left?"""

    stopped: bool

    def only_periodic_left(self, jumps: int) -> bool:
        """After ``jumps`` jumps: True (and ``stopped`` set) to stop the run here."""

    def describe(self) -> str:
        """Which alarms keep re-arming, for the warning."""

    def close(self) -> None:
        """The run is over: stop watching."""


def step_report(world: World, start_ms: int, first_seq: int, note: str = "") -> StepReport:
    """The report of a step that began at ``start_ms`` after event ``first_seq``."""
    return StepReport(world.event_log.since(first_seq), start_ms=start_ms,
                      end_ms=world.clock.now_ms, note=note)


class Stepper:
    """Moves one World's clock and drives its loop through what falls due."""

    def __init__(
        self, world: World, periodic_watch: Callable[[int], PeriodicWatch] | None = None
    ) -> None:
        self.world = world
        # Made per run_until_idle(repeats=n): tells when only re-arming alarms are left.
        self.periodic_watch = periodic_watch
        self._realtime_task: asyncio.Task[None] | None = None
        # Code that holds this sandbox's loop is stopped past the CPU limit, or on Ctrl-C.
        cpulimit.watch(world.driver, world.limits.max_cpu_ms_per_event)

    # --- the steps ---------------------------------------------------------------------------

    def step_until(self, target_ms: int, what: str) -> StepReport:
        """Run every timer up to ``target_ms``, then leave the clock there."""
        world = self.world
        start_ms, first_seq = world.clock.now_ms, world.event_log.last_seq
        with self._stepping(what) as interrupted:
            self._jump_through_timers(interrupted, what, limit_ms=target_ms)
            if not interrupted:
                world.clock._set_ms(max(target_ms, world.clock.now_ms))
        return step_report(world, start_ms, first_seq)

    def step_next(self) -> StepReport:
        """Jump to the next timer and run it, with whatever it makes ready."""
        world = self.world
        start_ms, first_seq = world.clock.now_ms, world.event_log.last_seq
        note = ""
        with self._stepping("run_next()"):
            if not world.driver.jump_to_next_timer():
                note = "; nothing was scheduled"
            world.driver.run_ready()
        return step_report(world, start_ms, first_seq, note)

    def run_until_idle(self, limit: int, repeats: int | None = 3) -> StepReport:
        """Jump from timer to timer until none is left, at most ``limit`` jumps.

        With ``repeats``, also stop once only alarms that re-armed themselves remain, each
        having fired ``repeats`` times in this run (a periodic alarm never leaves the sandbox
        idle: without this, one click would move the clock 100,000 periods). Stopping early
        for either reason is a warning: on the report and as a notice.
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise ValidationError(
                f"run_until_idle(limit=...) must be a positive int, got {limit!r}; e.g. "
                "limit=1_000."
            )
        if repeats is not None and (
            not isinstance(repeats, int) or isinstance(repeats, bool) or repeats <= 0
        ):
            raise ValidationError(
                f"run_until_idle(repeats=...) must be a positive int or None (never stop for "
                f"re-arming alarms), got {repeats!r}; e.g. repeats=3 (the default)."
            )
        world = self.world
        start_ms, first_seq = world.clock.now_ms, world.event_log.last_seq
        watch = None
        if repeats is not None and self.periodic_watch is not None:
            watch = self.periodic_watch(repeats)
        note = warning = ""
        try:
            with self._stepping("run_until_idle()") as interrupted:
                stop = watch.only_periodic_left if watch is not None else None
                count = self._jump_through_timers(
                    interrupted, "run_until_idle()", max_steps=limit, stop=stop
                )
                if watch is not None and watch.stopped:
                    warning = (
                        f"stopped at {world.clock.format_ms(world.clock.now_ms)}: only alarms "
                        f"that re-arm themselves remain ({watch.describe()}), so the sandbox "
                        "never gets idle. Move on with advance(...) or run_until(...), or "
                        "run_until_idle(repeats=None) to run them until the step limit"
                    )
                elif count >= limit and world.loop.next_timer() is not None:
                    warning = (
                        f"stopped after limit={limit} steps with timers still pending, at "
                        f"{world.clock.format_ms(world.clock.now_ms)}: something keeps "
                        "scheduling work. Look at sb.alarms() and the objects in flight"
                    )
        finally:
            if watch is not None:
                watch.close()
        if warning:
            note = f"; {warning}"
            notify(f"run_until_idle() {warning}.", code="IDLE_HORIZON")
        report = step_report(world, start_ms, first_seq, note)
        report.warning = warning
        return report

    @contextlib.contextmanager
    def _stepping(self, what: str) -> Iterator[list[Any]]:
        """Drive for a clock step; Ctrl-C stops it between two events, nothing half done.

        The Ctrl-C is also held for the watchdog and SQLite's progress handler: code that
        does not reach the next event boundary by itself is stopped where it runs.
        """
        driver = self.world.driver
        driver.check_outside(what)
        self.world.check_open(what)
        interrupted: list[Any] = []
        previous = None
        driver.stopped = None
        if threading.current_thread() is threading.main_thread():
            def on_sigint(signum: int, frame: Any) -> None:
                interrupted.append(True)
                cpulimit.hold_sigint()

            with contextlib.suppress(ValueError):
                previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            with driver:
                driver.run_ready()
                yield interrupted
                driver.run_ready()
        finally:
            cpulimit.release_sigint()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        stopped, driver.stopped = driver.stopped, None
        if interrupted and stopped is not None:
            raise stopped  # the event it stopped, reset (ExecutionInterruptedError)
        if interrupted:
            raise KeyboardInterrupt(f"{what} interrupted between two events; nothing half done.")

    def _jump_through_timers(
        self, interrupted: list[Any], what: str, *, limit_ms: int | None = None,
        max_steps: int | None = None, stop: Callable[[int], bool] | None = None,
    ) -> int:
        """Jump from timer to timer, running what each makes ready; returns the jumps made.

        Stops at ``limit_ms``, after ``max_steps`` jumps, when ``stop(jumps)`` says so, or
        between two events on Ctrl-C. Long runs show a progress bar, updated in batches
        (per-event updates cost ~10%).
        """
        driver = self.world.driver
        jump, run_ready = driver.jump_to_next_timer, driver.run_ready  # once per event
        count = 0
        bar = None
        batch = 256
        try:
            while not interrupted and jump(limit_ms):
                run_ready()
                count += 1
                if count % batch == 0:
                    if bar is None and count >= 1024:
                        bar = _progress_bar(what)
                        bar.update(count)
                    elif bar is not None:
                        bar.update(batch)
                if max_steps is not None and count >= max_steps:
                    break
                if stop is not None and stop(count):
                    break
        finally:
            if bar is not None:
                bar.update(count % batch)
                bar.close()
        return count

    # --- realtime ----------------------------------------------------------------------------

    def mode_changed(self, mode: str) -> None:
        """The clock's mode was set: start or stop following the wall clock."""
        if mode == "realtime":
            self.start_realtime()
        else:
            self.stop_realtime()

    def start_realtime(self) -> None:
        """Follow the wall clock on the caller's asyncio loop (Jupyter's), if there is one."""
        world = self.world
        if world.closed:
            return
        task = self._realtime_task
        if task is not None and not task.done():
            return
        caller = asyncio.events._get_running_loop()
        if caller is None or caller is world.loop:
            world.event_log.emit(
                "clock.realtime",
                "realtime mode: no asyncio loop is running here (a plain script), so the clock "
                "follows the wall clock only while a driven call waits on time. In Jupyter it "
                "also moves while the notebook is idle.",
            )
            return
        self._realtime_task = caller.create_task(self._follow_wall_clock())
        world.event_log.emit(
            "clock.realtime",
            f"realtime mode: following the wall clock at speed {world.clock.speed:g}",
        )

    @property
    def following(self) -> bool:
        """Is the realtime follower running on the notebook's loop?"""
        task = self._realtime_task
        return task is not None and not task.done()

    def stop_realtime(self) -> None:
        task, self._realtime_task = self._realtime_task, None
        if task is not None:
            task.cancel()

    async def _follow_wall_clock(self) -> None:
        """Realtime mode, on the notebook's loop: step the sandbox to the scaled wall time."""
        world = self.world
        clock = world.clock
        last = time.monotonic()
        carry = 0.0
        while clock._mode == "realtime" and not world.closed:
            await asyncio.sleep(REALTIME_TICK)
            now = time.monotonic()
            # Accumulate from the last tick, so manual steps and speed changes need no rebasing.
            carry += (now - last) * 1000 * clock.speed
            last = now
            step = int(carry)
            if step <= 0 or world.driver.depth or world.closed:
                continue
            carry -= step
            try:
                self.step_until(clock._now_ms + step, "realtime clock")
            except KeyboardInterrupt:
                clock._mode = "manual"
                world.event_log.emit("clock.realtime", "realtime mode interrupted: clock paused")
                break
            except Exception as exc:  # a step error must not vanish inside a background task
                clock._mode = "manual"
                world.event_log.emit(
                    "error", f"realtime clock stopped: {type(exc).__name__}: {exc}", error=exc
                )
                break
        if self._realtime_task is asyncio.current_task():
            self._realtime_task = None


def _progress_bar(what: str) -> Any:
    from tqdm.auto import tqdm

    bar = tqdm(total=None, desc=what, unit="event", leave=False, mininterval=0.5)
    # time.time() reads the virtual clock during a drive; the bar's rate needs real time.
    bar._time = time.perf_counter
    bar.reset(total=None)
    return bar
