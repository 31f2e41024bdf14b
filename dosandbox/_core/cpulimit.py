"""Stopping runaway object code: the platform's CPU-time limit per event, and Ctrl-C.

Object code runs on the thread that drives the sandbox (in a notebook, the kernel's main
thread). Code that never yields (``while True: pass`` in a handler, a recursive CTE without an
end) keeps that thread, and a Ctrl-C that the stepper holds "until the next event boundary"
would wait forever. Two things reach such code:

* SQLite's progress handler, :func:`sql_progress`, runs every :data:`SQL_PROGRESS_STEPS`
  virtual-machine steps of a statement. Being a Python call, it lets a signal's handler
  (Ctrl-C's ``KeyboardInterrupt``) and the watchdog's exception run inside a long statement,
  and it raises at once when a stepper holds a Ctrl-C.
* One watchdog thread per process looks at every sandbox being driven, every
  :data:`WATCH_INTERVAL` seconds. A loop that ran no new callback since the last look is
  running one piece of code: the watchdog measures the driving thread's CPU time from then
  (its per-thread CPU clock on Linux; wall time where there is none) and, past
  ``Limits.max_cpu_ms_per_event``, raises :class:`CpuLimitExceeded` in that thread. A
  Ctrl-C held by a stepper is raised the same way (as ``KeyboardInterrupt``) once the loop
  stops making progress.

The cost on the hot path is one integer increment per loop iteration (``SandboxLoop.steps``);
nothing is armed per call. What was stopped becomes the platform's outcome in the record
(record.py): the object is reset, the writes of the event are discarded and the caller gets a
typed error.

Unlike the platform, which counts an event's CPU time across all its awaits, the count here
restarts whenever the loop runs another callback: the limit bounds code that runs without
yielding, which is what a runaway is.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loop import Driver

__all__ = [
    "CPU_LIMIT_MESSAGE", "SQL_PROGRESS_STEPS", "STOPPERS", "WATCH_INTERVAL", "CpuLimitExceeded",
    "hold_sigint", "release_sigint", "sql_progress", "take_sigint", "watch",
]

# workerd's message when an object exceeds its CPU time limit (as wrangler tail shows it).
CPU_LIMIT_MESSAGE = "Durable Object exceeded its CPU time limit and was reset."
# SQLite virtual-machine steps between two calls of the progress handler: a few ms of a long
# statement, and never reached by the storage's own short statements.
SQL_PROGRESS_STEPS = 50_000
# Seconds between two looks of the watchdog.
WATCH_INTERVAL = 0.1
# Seconds of CPU time between two exceptions raised into code that swallowed the first.
_RETRY_S = 1.0


class CpuLimitExceeded(BaseException):
    """Raised by the watchdog into code past its CPU time limit.

    A BaseException, so ``except Exception`` in user code does not swallow it (nothing on
    the platform can catch the limit either); the record turns it into a reset.
    """


# What the record turns into a reset when it reaches an event: Ctrl-C and the CPU limit.
STOPPERS = (KeyboardInterrupt, CpuLimitExceeded)

# A Ctrl-C a stepper holds until the next event boundary (see Stepper._stepping).
_held_sigint = False


def hold_sigint() -> None:
    """A stepper caught Ctrl-C: running SQL and code that makes no progress will get it."""
    global _held_sigint
    _held_sigint = True


def release_sigint() -> None:
    """The step ended: a held Ctrl-C no longer reaches anything."""
    global _held_sigint
    _held_sigint = False


def take_sigint() -> bool:
    """Was a Ctrl-C held? It is delivered now (once): clear it."""
    global _held_sigint
    held, _held_sigint = _held_sigint, False
    return held


def sql_progress() -> bool:
    """SQLite's progress handler: raise a held Ctrl-C inside the running statement.

    SQLite aborts the statement (rolling back a write statement's transaction); the
    exception reaches the object's code, and the record resets the object.
    """
    if _held_sigint:
        take_sigint()
        raise KeyboardInterrupt("interrupted during a SQL statement")
    return False


# --- the watchdog ----------------------------------------------------------------------------


class _Watched:
    """What the watchdog knows about one driver between two looks."""

    __slots__ = ("base", "driver", "fired", "limit_s", "steps", "thread")

    def __init__(self, driver: Driver, limit_ms: int | None) -> None:
        self.driver = weakref.ref(driver)
        self.limit_s = None if limit_ms is None else limit_ms / 1000
        self.steps = -1
        self.thread = 0
        self.base = 0.0  # the thread's clock when its loop was last seen making progress
        self.fired: float | None = None  # the clock when the last exception was raised


class _Watchdog:
    """One daemon thread for the process, alive while some sandbox may be driven."""

    def __init__(self) -> None:
        self._watched: dict[int, _Watched] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._raise: Any = None  # raises an exception class in a thread (set by the thread)
        self._main = threading.main_thread().ident or 0

    def watch(self, driver: Driver, limit_ms: int | None) -> None:
        key = id(driver)
        self._watched[key] = _Watched(driver, limit_ms)
        weakref.finalize(driver, self._watched.pop, key, None)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="dosandbox-watchdog", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        self._raise = _thread_raiser()
        while True:
            time.sleep(WATCH_INTERVAL)
            watched = list(self._watched.values())  # one C-level copy: safe under the GIL
            if not watched:
                with self._lock:
                    if not self._watched:  # no sandbox left: a new one starts a new thread
                        self._thread = None
                        return
            for entry in watched:
                self._look(entry)

    def _look(self, entry: _Watched) -> None:
        driver = entry.driver()
        if driver is None or not driver.depth:
            entry.steps = -1
            return
        steps, thread = driver.loop.steps, driver.thread
        if steps != entry.steps or thread != entry.thread:
            entry.steps, entry.thread = steps, thread
            entry.base = _clock(thread)
            entry.fired = None
            return
        # No callback ran since the last look: one piece of code holds the loop.
        if _held_sigint and thread == self._main and take_sigint():
            self._raise(thread, KeyboardInterrupt)
            return
        limit = entry.limit_s
        if limit is None:
            return
        used = _clock(thread) - entry.base
        if used >= limit and (entry.fired is None or used - entry.fired >= _RETRY_S):
            entry.fired = used
            if driver.loop.steps == steps:  # still the same callback
                self._raise(thread, CpuLimitExceeded)


def _clock(thread: int) -> float:
    """The CPU time of ``thread`` in seconds, or wall time where it cannot be read."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread))
    except (AttributeError, OSError):  # no per-thread CPU clocks here (macOS, Windows)
        return time.monotonic()


def _thread_raiser() -> Any:
    """A function raising an exception class in another thread at its next bytecode."""
    try:
        import ctypes

        set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
        set_async_exc.argtypes = [ctypes.c_ulong, ctypes.py_object]
        set_async_exc.restype = ctypes.c_int
    except (ImportError, AttributeError):  # not CPython: only the main thread can be reached
        import _thread

        main = threading.main_thread().ident

        def interrupt(thread: int, exc: type[BaseException]) -> None:
            if thread == main:
                _thread.interrupt_main()

        return interrupt

    def raise_in(thread: int, exc: type[BaseException]) -> None:
        set_async_exc(thread, exc)

    return raise_in


_watchdog = _Watchdog()


def watch(driver: Driver, limit_ms: int | None) -> None:
    """Let the watchdog stop code that holds ``driver``'s loop (past ``limit_ms`` of CPU
    time, or on a held Ctrl-C). Once per sandbox; it forgets the driver with its sandbox."""
    _watchdog.watch(driver, limit_ms)
