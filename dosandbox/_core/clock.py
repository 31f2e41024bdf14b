"""The virtual clock: integer epoch milliseconds that move only when asked.

The clock tells the time and the mode; its ``advance()`` and friends hand the step to the
stepper the sandbox gave it (see ``stepper``).

Modes:

* ``manual`` (default): time moves only through ``advance``, ``run_until``, ``run_next`` and
  ``run_until_idle``. A call that waits on time raises ``WaitingOnTimeError`` and stays in
  flight until the clock is moved.
* ``autojump``: when everything waits on time, jump to the next timer (as trio's MockClock
  with ``autojump_threshold=0``).
* ``realtime``: follow the wall clock (scaled by ``speed``) while a call waits.

The clock holds times after the epoch (the platform's times are positive epoch ms) up to
:data:`MAX_CLOCK_MS`, 9999-12-31T23:59:59.999Z, the last instant a Python ``datetime`` holds
(``sb.clock.now`` and every view show datetimes). Inputs that are not finite numbers, datetimes
or timedeltas, or that would move the clock out of that range, are ``ClockError``s.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import numbers
import time
from collections.abc import Callable
from typing import Any, Protocol

from . import display
from .errors import ClockError
from .events import StepReport
from .timepatch import VirtualWallClock

MODES = ("manual", "autojump", "realtime")
UTC = dt.UTC
# The latest time the clock holds: 9999-12-31T23:59:59.999Z, the end of Python's datetime.
MAX_CLOCK_MS = 253_402_300_799_999
_MIN_DATETIME_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
# Any duration beyond this many seconds leaves the clock's range (about 8,000 years).
_MAX_SPAN_S = MAX_CLOCK_MS / 1000


def ms_for_loop_time(origin_ms: int, when: float) -> int:
    """The first whole millisecond at or after loop time ``when`` (rounding off float dust)."""
    # As ceil(round(ms, 6)), without round()'s decimal path (this runs once per clock jump).
    ms = when * 1000
    nearest = round(ms)
    if -5e-7 < ms - nearest < 5e-7:
        return origin_ms + nearest
    return origin_ms + math.ceil(ms)


class Steps(Protocol):
    """What moves the clock and runs what falls due (the sandbox's stepper)."""

    def step_until(self, target_ms: int, what: str) -> StepReport: ...
    def step_next(self) -> StepReport: ...
    def run_until_idle(self, limit: int, repeats: int | None = 3) -> StepReport: ...
    def mode_changed(self, mode: str) -> None: ...
    @property
    def following(self) -> bool: ...


def to_epoch_ms(value: Any, *, now_ms: int, what: str) -> int:
    """Epoch ms from a datetime, a timedelta (from now) or a number of epoch ms."""
    if isinstance(value, bool):
        raise ClockError(f"{what} takes a datetime, a timedelta or epoch milliseconds, not a bool.")
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            return round(aware.timestamp() * 1000)
        except (OverflowError, ValueError, OSError):  # the edges of datetime, with an offset
            raise ClockError(
                f"{what} got {value!r}, which has no epoch-milliseconds form; pass a UTC "
                "datetime between 1970 and 9999, e.g. datetime(2030, 1, 1, tzinfo=timezone.utc)."
            ) from None
    if isinstance(value, dt.timedelta):
        return now_ms + round(value.total_seconds() * 1000)
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ClockError(f"{what} got {value!r}; pass a finite number of epoch milliseconds.")
        return int(value)
    raise ClockError(
        f"{what} takes a datetime, a timedelta or epoch milliseconds (like time.time() * 1000), "
        f"not {type(value).__name__} {value!r}."
    )


def describe_ms(ms: int) -> str:
    """An epoch-ms time as ISO text, or as a number when no datetime can show it."""
    if _MIN_DATETIME_MS <= ms <= MAX_CLOCK_MS:
        # Integer arithmetic: ms / 1000 as a float may land a millisecond short.
        return (_EPOCH + dt.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
    return f"epoch ms {ms}" if abs(ms) < 10**18 else f"epoch ms {ms:.6g}"


def out_of_range(ms: int, what: str) -> ClockError:
    """The error for a time the clock cannot hold, naming it and the range."""
    return ClockError(
        f"{what} would put the clock at {describe_ms(ms)}, outside the times it can hold "
        "(after 1970-01-01, up to 9999-12-31T23:59:59.999Z, the last instant a Python datetime "
        "holds). Times are epoch milliseconds (time.time() * 1000), not microseconds; pass "
        "a nearer datetime or a shorter duration."
    )


def _seconds(value: Any, name: str) -> float:
    """One duration argument of advance(), in seconds, or a ClockError that says why not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ClockError(
            f"advance({name}) takes a number or a timedelta, not {type(value).__name__} "
            f"{value!r}; e.g. advance(seconds=30) or advance(timedelta(minutes=5))."
        )
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float: far out of the clock's range
        return 1e300 if value > 0 else -1e300  # type: ignore[operator]
    if not math.isfinite(number):
        raise ClockError(f"advance({name}) got {number!r}; pass a finite number, e.g. 30.")
    return number


class VirtualClock:
    """The sandbox's clock. ``now`` is a UTC datetime, ``now_ms`` integer epoch milliseconds."""

    def __init__(self, start_ms: int, mode: str = "manual", speed: float = 1.0) -> None:
        self._origin_ms = start_ms
        self._now_ms = start_ms
        self._loop_seconds = 0.0
        self._wall = VirtualWallClock(start_ms)
        self._steps: Steps | None = None
        # What this clock's views show (the sandbox), set by whoever attaches the stepper.
        self._view_subject: Any = None
        self._mode = "manual"
        self.speed = speed
        self._listeners: list[Callable[[], None]] = []
        self.mode = mode

    def attach(self, steps: Steps, view_subject: Any = None) -> None:
        """Give the clock the stepper its ``advance()``, ``run_next()``... hand steps to."""
        self._steps = steps
        self._view_subject = view_subject
        if self._mode == "realtime":
            steps.mode_changed(self._mode)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` each time the clock moves; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # --- reading ---------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        return self._now_ms

    @property
    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._now_ms / 1000, tz=UTC)

    def format_ms(self, ms: int) -> str:
        return describe_ms(ms)

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ClockError(f"Unknown clock mode {value!r}; choose one of {', '.join(MODES)}.")
        self._mode = value
        if self._steps is not None:
            self._steps.mode_changed(value)

    @property
    def following_wall_clock(self) -> bool:
        """Is a background task moving this clock with the wall clock (realtime in Jupyter)?"""
        return self._steps is not None and self._steps.following

    def realtime(self, speed: float = 1.0) -> None:
        """Follow the wall clock, ``speed`` virtual seconds per real second.

        In Jupyter (or any running asyncio loop) a task on that loop moves the clock while the
        notebook is idle, firing alarms and timers as their time comes; ``pause()`` stops it.
        Without a running loop (a plain script) nothing runs between cells, so the clock
        follows the wall clock only while a driven call waits on time.
        """
        valid = isinstance(speed, (int, float)) and not isinstance(speed, bool)
        if not valid or not 0 < speed < float("inf"):
            raise ClockError(f"realtime(speed=...) must be a positive number, got {speed!r}.")
        self.speed = speed
        self.mode = "realtime"

    def __repr__(self) -> str:
        return f"<VirtualClock {self.format_ms(self._now_ms)} mode={self._mode}>"

    # --- moving ----------------------------------------------------------------------------

    def _set_ms(self, ms: int) -> None:
        if ms > MAX_CLOCK_MS:
            raise out_of_range(ms, "This step")
        if ms < self._now_ms:
            raise ClockError(
                f"The clock cannot move backwards: it is {self.format_ms(self._now_ms)} and "
                f"{self.format_ms(ms)} is {(self._now_ms - ms) / 1000:g} s earlier. Time on the "
                "platform only moves forwards; start a new Sandbox(start=...) to go back."
            )
        self._now_ms = ms
        self._loop_seconds = (ms - self._origin_ms) / 1000
        self._wall.set_ms(ms)
        for listener in self._listeners:
            listener()

    def _rewind_to(self, ms: int) -> None:
        """Put the clock back to ``ms``: only ``sb.rewind(cp)`` does, with every object
        restarted and its alarm re-armed from the restored state (time on the platform only
        moves forwards; a rewind is the lesson's undo, not something code can observe)."""
        if ms > self._now_ms:
            raise ClockError(
                f"A rewind goes back: the clock is at {self.format_ms(self._now_ms)}, "
                f"{self.format_ms(ms)} is later. Use advance() to move forwards."
            )
        self._now_ms = ms
        self._loop_seconds = (ms - self._origin_ms) / 1000
        self._wall.set_ms(ms)
        for listener in self._listeners:
            listener()

    def _follow_wall_clock_until(self, timer: asyncio.TimerHandle) -> None:
        """Realtime mode: sleep for real until ``timer`` is due (scaled by speed)."""
        due = ms_for_loop_time(self._origin_ms, timer.when())
        wait = max(0.0, (due - self._now_ms) / 1000 / self.speed)
        time.sleep(min(wait, 0.05))
        step = round(min(wait, 0.05) * self.speed * 1000)
        self._set_ms(min(due, self._now_ms + max(step, 1)))

    def _require_steps(self) -> Steps:
        if self._steps is None:  # pragma: no cover - clocks are made by a Sandbox
            raise ClockError("This clock belongs to no sandbox; make one with Sandbox().")
        return self._steps

    def advance(
        self,
        delta: dt.timedelta | float | None = None,
        *,
        seconds: float = 0,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        milliseconds: float = 0,
    ) -> StepReport:
        """Move time forward, firing every timer and alarm due on the way, in order."""
        if isinstance(delta, dt.timedelta):
            total = delta.total_seconds()
        elif delta is not None:
            total = _seconds(delta, "delta")
        else:
            total = 0.0
        for name, value, unit in (
            ("seconds", seconds, 1), ("minutes", minutes, 60), ("hours", hours, 3600),
            ("days", days, 86400), ("milliseconds", milliseconds, 0.001),
        ):
            if value or type(value) is not int:  # the defaults (int 0) cost nothing
                total += _seconds(value, f"{name}=...") * unit
        if total > _MAX_SPAN_S or (total > 0 and self._now_ms + round(total * 1000) > MAX_CLOCK_MS):
            raise ClockError(
                f"advance() by {total:.6g} s would move the clock past "
                f"{describe_ms(MAX_CLOCK_MS)}, the latest time it can hold (the last instant a "
                f"Python datetime holds); it is {self.format_ms(self._now_ms)}. Advance by "
                "less, e.g. advance(days=365)."
            )
        ms = round(total * 1000)
        if ms < 0:
            raise ClockError(
                f"advance() needs a positive duration, got {total:g} s. The clock only "
                "moves forwards."
            )
        return self._require_steps().step_until(self._now_ms + ms, "advance()")

    def run_until(self, when: dt.datetime | dt.timedelta | float) -> StepReport:
        """Run every timer and alarm up to ``when`` (a datetime, or epoch ms), then stop there."""
        target = to_epoch_ms(when, now_ms=self._now_ms, what="run_until()")
        if target < self._now_ms:
            raise ClockError(
                f"run_until() got {self.format_ms(target)}, which is before now "
                f"({self.format_ms(self._now_ms)}). The clock only moves forwards."
            )
        if target > MAX_CLOCK_MS:
            raise out_of_range(target, "run_until()")
        return self._require_steps().step_until(target, "run_until()")

    def run_next(self) -> StepReport:
        """Jump to the next timer or alarm and run it (and whatever it makes ready)."""
        return self._require_steps().step_next()

    def run_until_idle(self, limit: int = 100_000, *, repeats: int | None = 3) -> StepReport:
        """Keep jumping to the next timer until none is left (at most ``limit`` jumps).

        Alarms that re-arm themselves never leave the sandbox idle: once only those remain,
        each having fired ``repeats`` times in this run, the run stops there and says so as a
        warning (``report.warning``, and a notice). ``repeats=None`` runs them until ``limit``.
        """
        return self._require_steps().run_until_idle(limit, repeats)

    def pause(self) -> None:
        """Stop following the wall clock (realtime mode) and return to manual."""
        self.mode = "manual"

    def widget(self) -> Any:
        """The clock bar: virtual now, step buttons, mode and pending alarms."""
        return display.widget("clock", self._view_subject)
