"""Alarms: one per object, on the sandbox's virtual timeline, retried, and durable.

Platform facts this follows (Cloudflare's alarms documentation; workerd ``actor-state.c++``
setAlarm, ``alarm-scheduler.c++``, ``global-scope.c++`` runAlarm):

* One alarm per object; ``set_alarm`` replaces it. A time ``<= 0`` is refused; a time in the
  past is stored as ``max(t, now)`` (so ``get_alarm`` then returns now) and fires as soon as
  possible.
* While the handler runs, ``get_alarm`` is None unless the handler set a new alarm; after a
  successful run the alarm is cleared.
* At-least-once with retries: a handler that raises is retried after 2, 4, 8, 16, 32 and 64 s
  (six retries, seven attempts), then dropped. The platform adds up to 25 % random jitter to
  each delay; the sandbox leaves it out so that runs repeat exactly. A new alarm set by the
  failing handler replaces the retry; a handler that deleted the alarm is not retried.
* Only one alarm handler runs at a time per object; it is delivered through the input gate
  like any other event and may interleave with requests at awaits. Firing an evicted object
  constructs it first.
* No ``alarm`` handler when it fires: a warning and the alarm is dropped, no retry.

Sandbox choices (documented, deterministic):

* "As soon as possible" is the next time the sandbox loop runs: the next clock step, or the end
  of the call being driven. An alarm set for a time at or before the instant its own handler
  last started (``set_alarm(time.time() * 1000)`` inside ``alarm``) fires one millisecond
  later, so a handler that re-arms itself in the past moves the clock instead of spinning
  forever at one instant (on the platform each run takes a few ms too).
* Alarms due at the same millisecond fire in the order they were set (across objects), in one
  loop timer per due millisecond; relative to other timers of the same millisecond (an
  ``asyncio.sleep`` ending then) the order is asyncio's and deterministic.
* The alarm is stored in the object's ``_cf_METADATA`` table through storage's ``_meta_set``,
  in the same write batch as the event's other writes, so it survives restarts with
  ``Sandbox(persist=...)``; the persisted alarm is only cleared when a handler succeeds.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import heapq
import inspect
import json
import math
import weakref
from collections.abc import Callable
from functools import partial
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from .._core.aliases import AliasMixin
from .._core.clock import to_epoch_ms
from .._core.codec import shown
from .._core.errors import AlarmError, ClockError
from .._core.notices import notify

if TYPE_CHECKING:
    from .._core.record import ObjectRecord
    from .._core.world import World
    from .._storage.storage import Storage

__all__ = ["Alarm", "AlarmInfo", "AlarmScheduler", "scheduler_for"]

# Key of the alarm in the object's metadata table (storage's ``_meta_get``/``_meta_set``).
META_KEY = "alarm"
UTC = dt.UTC


class AlarmInfo(AliasMixin):
    """What the ``alarm`` handler receives: ``retry_count``, ``is_retry``, ``scheduled_time``.

    ``scheduled_time`` is the epoch ms the alarm was due (workerd's undocumented field).
    camelCase (``retryCount``, ``isRetry``) works too.
    """

    __slots__ = ("retry_count", "scheduled_time")

    def __init__(self, retry_count: int, scheduled_time: int) -> None:
        self.retry_count = retry_count
        self.scheduled_time = scheduled_time

    @property
    def is_retry(self) -> bool:
        return self.retry_count > 0

    def __repr__(self) -> str:
        return (
            f"AlarmInfo(retry_count={self.retry_count}, is_retry={self.is_retry}, "
            f"scheduled_time={self.scheduled_time})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AlarmInfo):
            return NotImplemented
        return (self.retry_count, self.scheduled_time) == (
            other.retry_count, other.scheduled_time
        )

    __hash__ = None  # type: ignore[assignment]


_ISO_SECONDS: dict[int, str] = {}


def _iso(ms: int) -> str:
    """``clock.format_ms`` for event messages, caching the per-second part (hot path)."""
    seconds, millis = divmod(ms, 1000)
    head = _ISO_SECONDS.get(seconds)
    if head is None:
        if len(_ISO_SECONDS) > 4096:
            _ISO_SECONDS.clear()
        head = dt.datetime.fromtimestamp(seconds, tz=UTC).isoformat()[:19]
        _ISO_SECONDS[seconds] = head
    return f"{head}.{millis:03d}+00:00"


def _set_message(asked_ms: int, due_ms: int, now_ms: int) -> str:
    """The ``alarm.set`` message (made when the log is read: see Event.message)."""
    if asked_ms < now_ms:
        note = f" (asked for {_iso(asked_ms)}, {(now_ms - asked_ms) / 1000:g} s ago: fires ASAP)"
    else:
        note = f" (in {(due_ms - now_ms) / 1000:g} s)"
    return f"alarm set for {_iso(due_ms)}{note}"


class AlarmScheduler:
    """One per sandbox: pending alarms by due millisecond, and one loop timer for the earliest.

    Alarms due at one millisecond share a bucket and fire in the order they were set
    (asyncio's timer heap orders equal times arbitrarily). The due times live in a heap of
    ints, and only the earliest is a timer on the sandbox loop, so the loop's own heap (whose
    entries compare in Python) stays small and a firing costs the same with 100,000 alarms
    pending as with 1,000. Clock steps jump to that timer like any other, so alarms fire in
    time order among sleeps and timeouts. Replacing or deleting the earliest alarm re-arms
    the timer, so ``run_next()`` never jumps to a time where nothing is due.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.loop = world.loop
        self.clock = world.clock
        self.log = world.event_log
        self.limits = world.limits
        self._buckets: dict[int, dict[Alarm, None]] = {}
        self._heap: list[int] = []  # due ms of the buckets; stale entries are skipped
        self._timer: asyncio.TimerHandle | None = None
        self._timer_ms = 0
        # A fresh, empty context for the timer: it is often armed inside some object's event,
        # whose current_scope must not leak into the alarm tasks it starts. One is enough:
        # _fire sets no variables and each task copies it (and it is never entered twice).
        self._timer_context = contextvars.Context()

    def add(self, alarm: Alarm, due_ms: int) -> None:
        bucket = self._buckets.get(due_ms)
        if bucket is None:
            bucket = self._buckets[due_ms] = {}
            heapq.heappush(self._heap, due_ms)
            if self._timer is None or due_ms < self._timer_ms:
                self._arm(due_ms)
        bucket[alarm] = None

    def remove(self, alarm: Alarm, due_ms: int) -> None:
        bucket = self._buckets.get(due_ms)
        if bucket is None or alarm not in bucket:
            return
        del bucket[alarm]
        if bucket:
            return
        del self._buckets[due_ms]
        if len(self._heap) > 2 * len(self._buckets) + 64:
            # Mostly stale entries (alarms replaced again and again): rebuild.
            self._heap = list(self._buckets)
            heapq.heapify(self._heap)
        if self._timer is not None and due_ms == self._timer_ms:
            self._arm_next()

    def _arm(self, due_ms: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_ms = due_ms
        when = (due_ms - self.clock._origin_ms) / 1000
        self._timer = self.loop.call_at(when, self._fire, context=self._timer_context)

    def _arm_next(self) -> None:
        heap, buckets = self._heap, self._buckets
        while heap and heap[0] not in buckets:
            heapq.heappop(heap)
        if heap:
            self._arm(heap[0])
        elif self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        # self._timer stays set (to this spent timer) until the end: handlers started here run
        # at once and usually set their next alarm, which then only joins the heap; the
        # earliest is armed once, below, instead of a timer armed and cancelled per handler.
        # Its bucket is due now even if float rounding put the clock a hair before it (far in
        # the future); else the timer would be re-armed for a time already reached, forever.
        now = max(self.clock._now_ms, self._timer_ms)
        heap, buckets = self._heap, self._buckets
        while heap and heap[0] <= now:
            bucket = buckets.pop(heapq.heappop(heap), None)
            if bucket:
                for alarm in bucket:
                    alarm._due_ms = None
                    if alarm.running:
                        # One alarm handler at a time: start when the running one finishes.
                        alarm._pending_fire = True
                    else:
                        alarm._start("", eager=True)
        self._timer = None
        self._arm_next()

    @property
    def pending(self) -> int:
        return sum(len(b) for b in self._buckets.values())

    def in_order(self) -> list[Alarm]:
        """Pending alarms (those waiting for their time) in firing order."""
        return [alarm for due in sorted(self._buckets) for alarm in self._buckets[due]]


_schedulers: weakref.WeakKeyDictionary[World, AlarmScheduler] = weakref.WeakKeyDictionary()


def scheduler_for(world: World) -> AlarmScheduler:
    """The one alarm scheduler of a World (made on first use)."""
    scheduler = _schedulers.get(world)
    if scheduler is None:
        scheduler = _schedulers[world] = AlarmScheduler(world)
    return scheduler


def existing_scheduler(world: World) -> AlarmScheduler | None:
    return _schedulers.get(world)


_TAKES_INFO: dict[type, bool] = {}


def _handler_takes_info(cls: type, handler: Any) -> bool:
    """``alarm(self, alarm_info)`` gets the info; ``alarm(self)`` (as in CF's Python docs) not."""
    takes = _TAKES_INFO.get(cls)
    if takes is None:
        try:
            params = inspect.signature(handler).parameters.values()
            takes = any(
                p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                for p in params
            )
        except (TypeError, ValueError):  # pragma: no cover - builtins
            takes = True
        _TAKES_INFO[cls] = takes
    return takes


class _NoHandler:
    pass


_NO_HANDLER = _NoHandler()


class Alarm:
    """The alarm of one object: its time, retry count and the handler run in progress."""

    __slots__ = (
        "_closed",
        "_deleted_in_run",
        "_due_ms",
        "_failure_handled",
        "_hex",
        "_log",
        "_name",
        "_open_storage",
        "_pending_fire",
        "_set_in_run",
        "_storage",
        "_task",
        "ever_set",
        "fired",
        "last_fired_ms",
        "record",
        "retry_count",
        "running",
        "scheduler",
        "time_ms",
    )

    def __init__(
        self,
        record: ObjectRecord,
        scheduler: AlarmScheduler,
        storage: Callable[[], Storage] | None = None,
        open_storage: Callable[[], Storage | None] | None = None,
    ) -> None:
        self.record = record
        # Where the alarm row is written (None: not persisted, the timer alone is the alarm).
        self._storage = storage
        # In memory: the object's storage if it is open, to show _cf_METADATA once an alarm
        # was set (as workerd makes that table), without opening a database per alarm.
        self._open_storage = open_storage
        self.ever_set = False
        self.scheduler = scheduler
        self._log = scheduler.log
        self._name = record.namespace.name
        self._hex = record.hex
        self.time_ms: int | None = None  # what get_alarm() returns
        self.retry_count = 0  # of the pending alarm (0: a fresh one)
        self.running = False
        self.fired = 0
        self.last_fired_ms = -1
        self._due_ms: int | None = None  # the scheduler bucket this alarm sits in
        self._set_in_run = False
        self._deleted_in_run = False
        self._pending_fire = False
        self._failure_handled = False
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        when = "none" if self.time_ms is None else _iso(self.time_ms)
        return f"<Alarm {self.record.object_name} {self.record.hex[:12]}… at {when}>"

    # --- the API (storage's set_alarm / get_alarm / delete_alarm call these, at call time) ---

    def set_now(self, scheduled_time: Any) -> None:
        now = self.scheduler.clock._now_ms
        ms = _validate(scheduled_time, now)
        due = ms if ms > now else now
        if due <= self.last_fired_ms:
            # Re-armed at or before the instant its handler started: fire 1 ms on, not in a loop.
            due = self.last_fired_ms + 1
        if self.running:
            self._set_in_run = True
        storage = self._storage_now()
        if storage is not None:
            storage.before_alarm_change(setting=True)  # a reset or rollback restores it
        self._schedule(due, 0)
        self.ever_set = True
        if self._storage is not None:
            self._persist()
        self._log.emit("alarm.set", partial(_set_message, ms, due, now), object_name=self._name,
                       object_id=self._hex, time_ms=due)

    def _snapshot(self) -> tuple[int | None, int, bool, bool]:
        """The alarm as it stands, for a transaction to restore on rollback."""
        return (self.time_ms, self.retry_count, self._set_in_run, self._deleted_in_run)

    def _restore_snapshot(self, snapshot: tuple[int | None, int, bool, bool] | None) -> None:
        """Undo alarm changes made inside a rolled-back transaction (the row rolls back too)."""
        time_ms, retry, set_in_run, deleted_in_run = snapshot or (None, 0, False, False)
        if (time_ms, retry) == (self.time_ms, self.retry_count):
            return
        if time_ms is None:
            self._unschedule()
            self.time_ms = None
            self.retry_count = 0
        else:
            self._schedule(time_ms, retry)
        self._set_in_run, self._deleted_in_run = set_in_run, deleted_in_run
        shown = "no alarm" if time_ms is None else f"the alarm at {_iso(time_ms)}"
        self._emit("alarm.rolled_back", f"transaction rolled back: back to {shown}")

    def delete_now(self, *, reason: str = "delete_alarm()") -> None:
        if self.running:
            self._deleted_in_run = True
        if self.time_ms is None:
            return  # a no-op on the platform
        storage = self._storage_now()
        if storage is not None:
            storage.before_alarm_change(setting=False)
        self._unschedule()
        self.time_ms = None
        self.retry_count = 0
        self._persist()
        self._emit("alarm.deleted", f"alarm deleted by {reason}")

    def _storage_now(self) -> Storage | None:
        """The object's storage: persisted, always; in memory, only if it is open already."""
        if self._storage is not None:
            return self._storage()
        return self._open_storage() if self._open_storage is not None else None

    # --- scheduling ------------------------------------------------------------------------

    def _schedule(self, due_ms: int, retry_count: int) -> None:
        if self._due_ms is not None:
            self.scheduler.remove(self, self._due_ms)
        self.time_ms = due_ms
        self.retry_count = retry_count
        self._due_ms = due_ms
        self.scheduler.add(self, due_ms)

    def _unschedule(self) -> None:
        if self._due_ms is not None:
            self.scheduler.remove(self, self._due_ms)
            self._due_ms = None

    def _persist(self) -> None:
        if self._storage is None:
            return
        storage = self._storage()
        if self.time_ms is None:
            storage._meta_set(META_KEY, None)
        else:
            storage._meta_set(
                META_KEY, b'{"time":%d,"retry":%d}' % (self.time_ms, self.retry_count)
            )

    def _restore(self, value: bytes) -> None:
        data = json.loads(value)
        time_ms, retry = int(data["time"]), int(data.get("retry", 0))
        if not 0 < time_ms <= MAX_ALARM_MS:  # written before such times were refused
            self._emit(
                "alarm.failed",
                f"the stored alarm time {time_ms} ms is outside what the platform accepts "
                f"(1 to {MAX_ALARM_MS} ms), so it was not scheduled; set a new one with "
                "ctx.storage.set_alarm(...), or delete it with delete_alarm().",
                code="ALARM_ERROR",
            )
            return
        clock = self.scheduler.clock
        now = clock._now_ms
        due = max(time_ms, now)
        self._schedule(due, retry)
        late = ""
        if now > time_ms:
            late = f", {(now - time_ms) / 1000:g} s overdue: fires at the next step"
        self._emit(
            "alarm.restored",
            f"alarm restored from disk for {_iso(due)}{late}",
            time_ms=due, retry_count=retry,
        )

    def _emit(self, kind: str, message: str, **data: Any) -> None:
        self._log.emit(kind, message, object_name=self._name, object_id=self._hex, **data)

    def _close(self) -> None:
        self._closed = True
        self._unschedule()

    # --- firing ----------------------------------------------------------------------------

    def _start(self, note: str, *, eager: bool = False) -> asyncio.Task[None]:
        scheduler = self.scheduler
        now = scheduler.clock._now_ms
        scheduled = self.time_ms
        if scheduled is None:
            scheduled = now
        retry_count = self.retry_count
        info = AlarmInfo(retry_count, scheduled)
        self.time_ms = None  # get_alarm() is None inside the handler unless it sets a new one
        self.running = True
        self._set_in_run = self._deleted_in_run = self._pending_fire = False
        self._failure_handled = False
        self.last_fired_ms = now
        self.fired += 1
        if retry_count or note:
            retry = f" (retry {retry_count})" if retry_count else ""
            message = f"alarm fired{retry}{note}"
        else:
            message = "alarm fired"
        self._log.emit("alarm.fired", message, object_name=self._name,
                       object_id=self._hex, retry_count=retry_count, scheduled_ms=scheduled)
        # From the scheduler's timer (outside any task) the handler starts at once: one loop
        # iteration less per firing, and the same order (alarms due together start in turn).
        loop = scheduler.loop
        task = loop.create_eager_task(self._run(info)) if eager else loop.create_task(
            self._run(info)
        )
        if not task.done():
            self._task = task  # a strong reference: the loop keeps only weak ones to tasks
        return task

    async def _run(self, info: AlarmInfo) -> None:
        record = self.record

        def call(obj: Any) -> Any:
            if self._moved_while_delivered(info):
                return _NO_HANDLER
            handler = getattr(obj, "alarm", None)
            if handler is None:
                self._no_handler()
                return _NO_HANDLER
            return self._invoke(handler, type(obj), info)

        try:
            await record.deliver("alarm", "alarm", call, wrap_errors=False, log_done=False)
        except Exception as exc:  # constructor failure, a reset: not seen by _invoke
            if not self._failure_handled and not self._closed:
                self._after_failure(exc, info)
        finally:
            self.running = False
            self._task = None
        if self._closed:
            return  # the sandbox closed under a sleeping handler (it runs again on reopen)
        storage = self._open_storage() if self._open_storage is not None else None
        if storage is not None:
            storage.note_alarm()  # a run that wrote nothing still changed the alarm (history)
        if self._pending_fire and self.time_ms is not None and self._due_ms is None:
            self._start(" (was due while the previous run was still going)")

    async def _invoke(self, handler: Any, cls: type, info: AlarmInfo) -> None:
        try:
            takes = _TAKES_INFO.get(cls)
            if takes is None:
                takes = _handler_takes_info(cls, handler)
            result = handler(info) if takes else handler()
            if type(result) is CoroutineType or inspect.isawaitable(result):
                await result
        except Exception as exc:
            # Inside the event, so the alarm's new state joins this event's write batch.
            self._after_failure(exc, info)
            raise
        if not self._set_in_run:
            self.retry_count = 0
            if self._storage is not None:
                self._persist()  # success: the alarm is cleared (on disk too)

    def _moved_while_delivered(self, info: AlarmInfo) -> bool:
        """Set or deleted between firing and the handler (say, by the constructor of an
        evicted object): workerd cancels this run; a new time fires then, as scheduled."""
        if self._set_in_run and self.time_ms != info.scheduled_time:
            moved = "no alarm" if self.time_ms is None else f"{_iso(self.time_ms)}"
            why = f"moved to {moved}"
        elif self._deleted_in_run and not self._set_in_run:
            why = "deleted"
        else:
            return False
        self._emit(
            "alarm.cancelled",
            f"alarm handler not run: the alarm was {why} while it was being delivered (e.g. by "
            "the constructor), as on the platform",
        )
        return True

    def _no_handler(self) -> None:
        self._persist()
        self._emit(
            "alarm.dropped",
            "Attempted to run a scheduled alarm without a handler, did you remember to define "
            "an alarm() handler? (define_durable_object(alarm=...) or `async def alarm(self, "
            "alarm_info)` on the class). The alarm was dropped, with no retry, as on the "
            "platform.",
            warning=True,
        )
        notify(
            f"{self.record.object_name} {self.record.hex[:12]}…: alarm dropped: it fired but "
            "the object has no alarm handler (define_durable_object(alarm=...) or `async def "
            "alarm(self, alarm_info)`), so it was dropped with no retry, as on the platform.",
            code="ALARM_DROPPED", object_name=self.record.object_name, object_id=self._hex,
        )

    def _after_failure(self, exc: BaseException, info: AlarmInfo) -> None:
        self._failure_handled = True
        clock = self.scheduler.clock
        limits = self.scheduler.limits
        max_retries = limits.alarm_max_retries
        attempt = info.retry_count
        what = f"alarm handler raised {type(exc).__name__}: {exc}"
        progress = f"attempt {attempt + 1} of {max_retries + 1}"
        if self._set_in_run and self.time_ms is not None:
            self._emit(
                "alarm.error",
                f"{what} ({progress}); not retried: the new alarm the handler set for "
                f"{_iso(self.time_ms)} replaces the retry, as on the platform",
                error=exc, retry_count=attempt,
            )
            return
        if self._deleted_in_run:
            self._emit(
                "alarm.error", f"{what} ({progress}); not retried: the handler deleted the alarm",
                error=exc, retry_count=attempt,
            )
            self._persist()
            return
        self._emit("alarm.error", f"{what} ({progress})", error=exc, retry_count=attempt)
        if attempt < max_retries:
            delay = limits.alarm_first_retry_ms * 2**attempt
            due = clock._now_ms + delay
            self._schedule(due, attempt + 1)
            self._persist()
            self._emit(
                "alarm.retry",
                f"retry {attempt + 1} of {max_retries} in {delay / 1000:g} s at "
                f"{_iso(due)} (exponential backoff from "
                f"{limits.alarm_first_retry_ms / 1000:g} s; the platform adds up to 25% random "
                "jitter, the sandbox none, so runs repeat)",
                time_ms=due, retry_count=attempt + 1,
            )
            return
        self.time_ms = None
        self.retry_count = 0
        self._persist()
        message = (
            f"[ALARM_ERROR] alarm DROPPED after {max_retries + 1} failed attempts (the first and "
            f"{max_retries} retries); last error {type(exc).__name__}: {exc}. The platform drops "
            "it silently and nothing runs again until something calls set_alarm(). Catch errors "
            "in alarm(), or re-arm with set_alarm() when alarm_info.retry_count is high."
        )
        self._emit("alarm.failed", message, error=exc, code="ALARM_ERROR")
        notify(
            f"{self.record.object_name} {self.record.hex[:12]}…: alarm dropped after "
            f"{max_retries + 1} failed attempts; last error {type(exc).__name__}: {exc}. Nothing "
            "runs again until set_alarm() is called: catch errors in alarm(), or re-arm when "
            "alarm_info.retry_count is high.",
            code="ALARM_DROPPED", object_name=self.record.object_name, object_id=self._hex,
        )


# The platform keeps alarm times as nanoseconds in a signed 64-bit integer (workerd's
# kj::Date): 9223372036854 ms (2262-04-11T23:47:16.854Z) is the latest it accepts.
MAX_ALARM_MS = 9_223_372_036_854
_ALARM_HELP = (
    "Alarm times are epoch milliseconds, like time.time() * 1000 + 60_000 (not microseconds "
    "or nanoseconds); for a delay pass a timedelta."
)


def _validate(value: Any, now_ms: int) -> int:
    """Epoch ms for ``set_alarm``; an AlarmError that teaches for anything else."""
    kind = type(value)
    if (kind is float or kind is int) and 1 <= value <= MAX_ALARM_MS:  # the common case, fast
        return int(value)
    if kind is float and not math.isfinite(value):
        raise AlarmError(
            f"The value cannot be converted because it is not a valid Date (got {value!r}). "
            f"{_ALARM_HELP}"
        )
    try:
        ms = to_epoch_ms(value, now_ms=now_ms, what="set_alarm()")
    except ClockError as exc:
        raise AlarmError(
            f"{exc.message} For example set_alarm(time.time() * 1000 + 60_000), "
            "set_alarm(datetime.now(timezone.utc) + timedelta(minutes=1)) or "
            "set_alarm(timedelta(minutes=1)).",
        ) from None
    if ms > MAX_ALARM_MS:
        raise AlarmError(
            f"This API doesn't support dates after 2189 (got {_shown(value)}): the platform "
            f"accepts alarm times up to {MAX_ALARM_MS} ms (2262-04-11T23:47:16.854Z). "
            f"{_ALARM_HELP}"
        )
    if ms < -MAX_ALARM_MS:
        raise AlarmError(
            f"This API doesn't support dates before 1687 (got {_shown(value)}). {_ALARM_HELP}"
        )
    if ms <= 0:
        raise AlarmError(
            f"setAlarm() cannot be called with an alarm time <= 0 (got {_shown(value)}). "
            f"{_ALARM_HELP}"
        )
    return ms


def _shown(value: Any) -> str:
    """``value`` for a message: epoch-ms numbers as digits, the rest as repr."""
    if type(value) is float and value.is_integer() and abs(value) < 1e18:
        return str(int(value))
    return shown(value)
