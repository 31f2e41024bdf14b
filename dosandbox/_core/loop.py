"""The sandbox's event loop and the re-entrant driver that runs it.

All object code runs on one asyncio loop owned by the sandbox, whose ``time()`` is the virtual
clock. The notebook never runs that loop with ``run_forever``: a *driver* call steps it one
iteration at a time until the thing asked for is done and nothing else is ready, then returns.
That is what lets ``await stub.m()`` work in a Jupyter cell (whose own loop is already running)
as well as in a script or a widget callback, without patching asyncio process-wide.

How a drive works:

1. Make the sandbox loop the thread's *running* loop for the duration (restoring the caller's
   after), so ``asyncio.get_running_loop()``, tasks and futures in object code see it.
2. While there are ready callbacks or timers already due, run one ``_run_once`` iteration.
   ``_run_once`` would block in ``select`` for a timer in the future, so it is only called when
   something is runnable now.
3. When nothing is runnable: in ``autojump`` mode jump the clock to the next timer; in
   ``manual`` mode stop and say what the call waits for (it stays in flight).

The loop's ``time()`` is seconds since the sandbox started, never epoch seconds: at epoch
magnitude a float cannot hold asyncio's 1e-9 clock resolution, so a due timer would never be
popped and the driver would spin.

A Ctrl-C (KeyboardInterrupt) or the CPU-limit watchdog (cpulimit.py) may raise in the middle
of a drive. Entering and leaving a drive is written so that such an exception never leaves the
sandbox loop set as the thread's running loop (which would break the notebook's own asyncio
loop, or make every later drive refuse as "called from inside object code"); should one land
at the one spot where it still could, the next drive repairs it.
"""

from __future__ import annotations

import _thread
import asyncio
import contextvars
import heapq
import selectors
from asyncio import events, format_helpers
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .clock import VirtualClock, ms_for_loop_time
from .errors import DriverError, WaitingOnTimeError, sandbox_closed
from .output import OutputRouter

T = TypeVar("T")

_get_running_loop = asyncio.events._get_running_loop
_set_running_loop = asyncio.events._set_running_loop


class _Handle(events.Handle):
    """A ``Handle`` made without asyncio's debug-mode bookkeeping (used when debug is off)."""

    __slots__ = ()

    def __init__(
        self,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None = None,
    ) -> None:
        self._context = contextvars.copy_context() if context is None else context
        self._loop = loop
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._repr = None
        self._source_traceback = None


class _TimerHandle(events.TimerHandle):
    """A ``TimerHandle`` made without asyncio's debug-mode bookkeeping."""

    __slots__ = ()

    def __init__(
        self,
        when: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None = None,
    ) -> None:
        _Handle.__init__(self, callback, args, loop, context)  # type: ignore[arg-type]
        self._when = when
        self._scheduled = False


class SandboxLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is the sandbox's virtual clock.

    ``call_soon``, ``call_at`` and ``create_task`` skip asyncio's debug-mode checks when debug
    is off (each costs a Python call per callback, and an alarm firing or an RPC makes several
    callbacks); in debug mode they are asyncio's own.
    """

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(selectors.DefaultSelector())
        self._clock = clock
        self._step_now = False  # see create_eager_task
        # Loop iterations run (and waits for threads): the CPU-limit watchdog reads it to tell
        # a loop that makes progress from one piece of code holding it (cpulimit.py).
        self.steps = 0

    def time(self) -> float:
        return self._clock._loop_seconds

    def call_soon(  # type: ignore[override]
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        if self._step_now:
            # A task's first step, asked for by create_eager_task: run it now.
            self._step_now = False
            (contextvars.copy_context() if context is None else context).run(callback, *args)
            return _Handle(callback, args, self, context)  # already run; nobody keeps it
        if self._debug or self._closed:  # type: ignore[attr-defined]
            return super().call_soon(callback, *args, context=context)
        handle = _Handle(callback, args, self, context)
        self._ready.append(handle)  # type: ignore[attr-defined]
        return handle

    def call_at(  # type: ignore[override]
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        if self._debug or self._closed or when is None:  # type: ignore[attr-defined]
            return super().call_at(when, callback, *args, context=context)
        timer = _TimerHandle(when, callback, args, self, context)
        heapq.heappush(self._scheduled, timer)  # type: ignore[attr-defined]
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def create_task(  # type: ignore[override]
        self,
        coro: Coroutine[Any, Any, T],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[T]:
        if self._debug or self._closed or self._task_factory is not None or name is not None:  # type: ignore[attr-defined]
            return super().create_task(coro, name=name, context=context)
        return asyncio.Task(coro, loop=self, context=context)

    def create_eager_task(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task whose first step runs now, before this returns (3.12's eager tasks).

        A task's first step is normally one more loop iteration away; running it at once saves
        that iteration per alarm firing. Only outside any task (in a plain callback): a step
        inside another task's step would be refused by asyncio. The step runs as the task
        (``current_task()`` is the new task), exactly as ``Task.__step`` runs any step.
        """
        if self._debug or asyncio.current_task(self) is not None:  # type: ignore[attr-defined]
            return self.create_task(coro)
        self.steps += 1  # one callback may start many (alarms due together): each is progress
        # Task.__init__ ends by calling loop.call_soon(its step): call_soon runs it instead.
        self._step_now = True
        try:
            return asyncio.Task(coro, loop=self)
        finally:
            self._step_now = False

    # --- helpers for the driver ----------------------------------------------------------

    def next_timer(self) -> asyncio.TimerHandle | None:
        """The earliest live timer, dropping cancelled ones at the head of the heap."""
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        while scheduled and scheduled[0].cancelled():
            heapq.heappop(scheduled)
            self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
        return scheduled[0] if scheduled else None

    def has_ready(self) -> bool:
        return bool(self._ready)  # type: ignore[attr-defined]

    def runnable_now(self) -> bool:
        if self._ready:  # type: ignore[attr-defined]
            return True
        timer = self.next_timer()
        # <=, not asyncio's <: after 2**24 s (194 days) of virtual time a float's spacing
        # exceeds the 1e-9 resolution, time() + resolution == time(), and a timer due exactly
        # now would never run (the clock steps would spin without firing it).
        resolution: float = self._clock_resolution  # type: ignore[attr-defined]
        return timer is not None and timer.when() <= self.time() + resolution

    def run_once(self) -> None:
        """One loop iteration without the selector: due timers, then the ready queue.

        ``BaseEventLoop._run_once`` also polls the selector every time, which costs two
        ``epoll`` calls per RPC; the driver polls for thread work only when idle.
        """
        self.steps += 1
        ready = self._ready  # type: ignore[attr-defined]
        scheduled = self._scheduled  # type: ignore[attr-defined]
        cancelled: int = self._timer_cancelled_count  # type: ignore[has-type]
        if cancelled > 100 and cancelled * 2 > len(scheduled):
            # As asyncio does: rebuild the heap when most of it is cancelled timers.
            live = [h for h in scheduled if not h._cancelled]
            for h in scheduled:
                if h._cancelled:
                    h._scheduled = False
            heapq.heapify(live)
            scheduled[:] = live
            self._timer_cancelled_count = 0  # type: ignore[attr-defined]
        if scheduled:
            end = self.time() + self._clock_resolution  # type: ignore[attr-defined]
            while scheduled and scheduled[0]._when <= end:  # <=: see runnable_now
                handle = heapq.heappop(scheduled)
                if handle._cancelled:
                    self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
                    continue
                handle._scheduled = False
                ready.append(handle)
        for _ in range(len(ready)):
            handle = ready.popleft()
            if handle._cancelled:
                continue
            # Handle._run, inlined (one Python call less per callback).
            try:
                handle._context.run(handle._callback, *handle._args)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                callback = format_helpers._format_callback_source(handle._callback, handle._args)
                context = {
                    "message": f"Exception in callback {callback}",
                    "exception": exc,
                    "handle": handle,
                }
                if handle._source_traceback:
                    context["source_traceback"] = handle._source_traceback
                self.call_exception_handler(context)

    def poll_io(self, timeout: float = 0) -> None:
        """Collect callbacks posted from other threads (executors, call_soon_threadsafe)."""
        self.steps += 1
        events = self._selector.select(timeout)  # type: ignore[attr-defined]
        self._process_events(events)  # type: ignore[attr-defined]


class Driver:
    """Runs a :class:`SandboxLoop` from the outside, re-entrantly and deterministically."""

    def __init__(self, loop: SandboxLoop, clock: VirtualClock) -> None:
        self.loop = loop
        self.clock = clock
        self.depth = 0
        # The caller's running loop while the outermost drive runs, to repair a drive that an
        # interrupt cut between two of its steps (see check_outside).
        self._outer: Any = None
        self.thread = 0  # the thread running the outermost drive (read by the watchdog)
        # An ExecutionInterruptedError of an event that Ctrl-C stopped during this drive.
        self.stopped: BaseException | None = None
        # Called (no arguments) each time the outermost drive ends: live views flush the
        # refreshes that a burst of events asked for, once.
        self.on_idle: list[Callable[[], None]] = []
        # Seconds of real time the driver waits for work posted from threads before deciding
        # that a call can never finish.
        self.thread_wait = 5.0
        # What object code prints during a drive goes to this drive's caller (output.py).
        self.output = OutputRouter()

    # --- entering and leaving --------------------------------------------------------------

    def check_outside(self, what: str) -> None:
        if _get_running_loop() is self.loop:
            if not self.depth:
                # No drive runs, yet the loop is set: an interrupt cut a drive's entry or exit.
                self._leave()
                return
            raise DriverError(
                f"{what} was called from inside object code. Drivers (sb.run, clock steps, "
                "client.send, ...) run the sandbox from the notebook side; inside an object, "
                "just `await` the call instead."
            )

    def __enter__(self) -> Driver:
        if self.depth:
            self.depth += 1
            return self
        # depth goes to 1 last: until then an interrupt leaves depth 0 and _leave() undoes it.
        self._outer = _get_running_loop()
        try:
            _set_running_loop(self.loop)
            self.clock._wall.enter()
            self.output.enter()
        except BaseException:
            self._leave()
            raise
        self.thread = _thread.get_ident()
        self.depth = 1
        return self

    def __exit__(self, *exc: object) -> None:
        if self.depth > 1:
            self.depth -= 1
            return
        self.depth = 0  # first: an interrupt from here on leaves a state _leave() repairs
        self._leave()
        for hook in list(self.on_idle):
            hook()

    def _leave(self) -> None:
        """Give the thread back its own loop and real time (idempotent)."""
        wall = self.clock._wall
        try:
            try:
                self.output.exit()
            finally:
                wall.exit()
        finally:
            _set_running_loop(self._outer)
            if wall.active:  # an interrupt cut the first try
                wall.exit()

    # --- stepping --------------------------------------------------------------------------

    def run_ready(self) -> None:
        """Run every callback that is ready now, without moving time."""
        # runnable_now() inlined: this runs once or twice per event of every clock step.
        loop = self.loop
        ready = loop._ready  # type: ignore[attr-defined]
        scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
        clock = self.clock
        resolution = loop._clock_resolution  # type: ignore[attr-defined]
        while True:
            if not ready:
                while scheduled and scheduled[0]._cancelled:  # type: ignore[attr-defined]
                    heapq.heappop(scheduled)
                    loop._timer_cancelled_count -= 1  # type: ignore[attr-defined]
                if not scheduled or scheduled[0]._when > clock._loop_seconds + resolution:  # type: ignore[attr-defined]
                    return
            loop.run_once()

    def jump_to_next_timer(self, limit_ms: int | None = None) -> bool:
        """Move the clock to the next timer (not past ``limit_ms``); False if there is none."""
        timer = self.loop.next_timer()
        if timer is None:
            return False
        due = ms_for_loop_time(self.clock._origin_ms, timer.when())
        if limit_ms is not None and due > limit_ms:
            return False
        if due > self.clock.now_ms:
            self.clock._set_ms(due)
        return True

    def drive(self, awaitable: Awaitable[T], what: str = "sb.run()") -> T:
        """Run the loop until ``awaitable`` is done; return its result or raise its error."""
        try:
            self.check_outside(what)
        except DriverError:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # refused, never sent: no "was never awaited" warning
            raise
        if self.loop.is_closed():
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # never sent: no "was never awaited" warning
            raise sandbox_closed(what)
        with self:
            loop = self.loop
            direct = getattr(awaitable, "_dosandbox_coroutine", None)
            if direct is not None:
                awaitable = direct()
            if asyncio.iscoroutine(awaitable):
                fut: asyncio.Future[T] = loop.create_task(awaitable)
            else:
                fut = asyncio.ensure_future(awaitable, loop=loop)
            loop.run_once()  # fast path: most calls finish in their first step
            if not fut.done():
                self._wait_for(fut, what)
            if loop._ready or loop._scheduled:  # type: ignore[attr-defined]
                self.run_ready()
        return fut.result()

    def _wait_for(self, fut: asyncio.Future[Any], what: str) -> None:
        loop = self.loop
        waited_threads = 0.0
        while not fut.done():
            if loop.runnable_now():
                loop.run_once()
                continue
            loop.poll_io(0)
            if loop.runnable_now():
                continue
            mode = self.clock.mode
            timer = loop.next_timer()
            if timer is not None and mode == "autojump":
                self.jump_to_next_timer()
                continue
            if timer is not None and mode == "realtime":
                self.clock._follow_wall_clock_until(timer)
                continue
            if timer is not None:
                due = ms_for_loop_time(self.clock._origin_ms, timer.when())
                wait_s = max(0, due - self.clock.now_ms) / 1000
                raise WaitingOnTimeError(
                    f"{what} is waiting on virtual time: the next timer is due in {wait_s:g} s "
                    f"(at {self.clock.format_ms(due)}). The call stays in flight. Move the clock "
                    f"with sb.clock.advance(seconds={wait_s:g}) or sb.clock.run_next(), or use "
                    "Sandbox(clock_mode='autojump') to jump automatically.",
                    due_ms=due,
                )
            # Nothing runnable and no timer: only another thread can still finish the call.
            if waited_threads >= self.thread_wait:
                raise DriverError(
                    f"{what} can never finish: it waits on something no timer, object or "
                    "thread will complete (a future nobody resolves, or a deadlock between "
                    "objects). It stays in flight: resolve what it awaits (or break the "
                    "cycle between the objects), or start over with a new Sandbox()."
                )
            loop.poll_io(0.01)
            waited_threads += 0.01

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon(fn, *args)
