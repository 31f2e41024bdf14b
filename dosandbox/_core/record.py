"""One object: its lasting record, its live instance, and the input gate events pass through.

An :class:`ObjectRecord` exists per object id and outlives evictions: it owns the storage, the
alarm and the hibernatable sockets. An :class:`Instance` is one incarnation of the user's class
with its in-memory state; eviction drops it and the next event builds a new one (running
``init`` again), exactly as on the platform.

Delivery rules, as on the platform: events for one object run one at a time; another event may start
only while the running one is suspended on something that is not storage. Storage calls here
never suspend, so asyncio's own scheduling already gives that rule; the :class:`InputGate` adds
``block_concurrency_while``, which holds every new event until its callback finishes.

Resets, as workerd does them (``ctx.abort()``, a ``block_concurrency_while`` callback or a
constructor that raises, a storage failure): the instance is dropped, its queued and in-flight
events fail with one reset error, and every stub that reached that instance keeps failing with
it (a :class:`Binder` remembers the instance a stub reached); a new stub reaches a new instance.
Code stopped while it runs, by the platform's CPU-time limit or by Ctrl-C (cpulimit.py), resets
the object the same way, so nothing the stopped event wrote is kept.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Protocol

from .cpulimit import CPU_LIMIT_MESSAGE, STOPPERS, CpuLimitExceeded, take_sigint
from .errors import (
    DurableObjectError,
    DurableObjectMethodError,
    DurableObjectResetError,
    ExecutionInterruptedError,
)

if TYPE_CHECKING:
    from .ids import DurableObjectId
    from .world import World

__all__ = [
    "Binder", "DropReason", "EventScope", "InputGate", "Instance", "ObjectRecord", "RecordOwner",
    "RecordParts", "ResetUnwind", "current_scope", "fresh_error",
]


class DropReason(enum.Enum):
    """Why a live instance was dropped: an eviction keeps sockets (hibernation), a reset not."""

    EVICTED = "evicted"
    EVICTED_CLOSING_SOCKETS = "evicted with its WebSockets closed"
    STORAGE_FAILED = "a storage write failed"
    BLOCK_TIMED_OUT = "block_concurrency_while timed out"
    BLOCK_RAISED = "block_concurrency_while callback raised"
    ABORTED = "ctx.abort() was called"
    CONSTRUCTOR_RAISED = "the constructor raised"
    CPU_EXCEEDED = "it exceeded its CPU time limit"
    INTERRUPTED = "its running code was interrupted (Ctrl-C)"
    # A deploy (registering the name again): an idle object restarts on the new code as if it
    # hibernated; one that cannot hibernate (events in flight, standard-API sockets) is reset.
    REDEPLOYED = "redeployed (its code was updated)"
    CODE_UPDATED = "redeployed while busy"
    # sb.rewind(): a restart of every object, not an eviction (sockets close, as on a reset).
    REWOUND = "the sandbox was rewound to a checkpoint"

    @property
    def keeps_sockets(self) -> bool:
        return self is DropReason.EVICTED or self is DropReason.REDEPLOYED

    @property
    def is_reset(self) -> bool:
        """A reset fails the instance's events and closes its sockets; an eviction does not."""
        return self not in _NOT_RESETS

    def __str__(self) -> str:
        return self.value


_NOT_RESETS = frozenset(
    {DropReason.EVICTED, DropReason.EVICTED_CLOSING_SOCKETS, DropReason.REDEPLOYED}
)


class RecordParts(Protocol):
    """An object's capabilities (storage, alarm, sockets) as its record drives them."""

    def before_output(self) -> None:
        """After every event, before its result leaves the object (the output gate)."""

    def on_drop(self, reason: DropReason) -> None:
        """The live instance was dropped (evicted or reset)."""

    def close(self) -> None:
        """The sandbox is closing."""


class RecordOwner(Protocol):
    """What a record needs from its namespace: names, the class, the World and its parts."""

    name: str
    cls: type
    world: World

    def new_context(self, record: ObjectRecord, instance: Instance) -> Any:
        """The ``ctx`` a new instance receives."""

    def new_parts(self, record: ObjectRecord) -> RecordParts:
        """The (empty) capability slots of a new record."""


@dataclass(slots=True)
class EventScope:
    """One delivered event (an RPC call, a fetch, an alarm, a socket message, init)."""

    record: ObjectRecord
    kind: str
    name: str
    kv_ops: int = 0


class Binder(Protocol):
    """What remembers the instance a caller reached (a stub): reset instances stay failed."""

    _instance: Instance | None


class ResetUnwind(BaseException):
    """Raised by ``ctx.abort()`` to unwind the object's code.

    A BaseException, so ``except Exception`` in user code cannot swallow it, as JavaScript
    cannot catch ``abort()``; the event's caller receives ``error`` instead.
    """

    def __init__(self, error: DurableObjectResetError) -> None:
        super().__init__(error.message)
        self.error = error


def fresh_error(error: DurableObjectResetError) -> DurableObjectResetError:
    """A copy of a stored reset error to raise: one object raised in many places would pile
    up tracebacks; each copy keeps the message, flags and ``__cause__``."""
    copy = type(error).__new__(type(error))
    copy.args = error.args
    copy.__dict__.update(error.__dict__)
    copy.__cause__ = error.__cause__
    copy.__suppress_context__ = True
    return copy


# Per task, the instances whose events it is inside, innermost last (an RPC to another object
# runs in its caller's task), so a reset interrupts only its own object's code.
_delivering: dict[asyncio.Task[Any], list[Instance]] = {}

# The event whose code is running now, or None outside object code.
current_scope: contextvars.ContextVar[EventScope | None] = contextvars.ContextVar(
    "dosandbox_current_event", default=None
)


class InputGate:
    """Holds new events while ``block_concurrency_while`` runs; FIFO when it opens."""

    __slots__ = ("_blockers", "_loop", "_waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._blockers = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def is_open(self) -> bool:
        return self._blockers == 0

    def block(self) -> None:
        self._blockers += 1

    def unblock(self) -> None:
        self._blockers -= 1
        if self._blockers == 0:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)

    async def wait_open(self) -> None:
        while self._blockers:
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            await waiter

    def fail_waiters(self, error: DurableObjectResetError) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(fresh_error(error))

    @property
    def queued(self) -> int:
        return len(self._waiters)


class Instance:
    """A live incarnation of the user's class."""

    def __init__(self, record: ObjectRecord, generation: int) -> None:
        self.record = record
        self.generation = generation
        self.gate = InputGate(record.world.loop)
        self.in_flight = 0
        self.ctx: Any = record.namespace.new_context(record, self)
        self.obj: Any = None
        # Set when this instance was reset (not evicted): what its stubs keep failing with.
        self.reset_error: DurableObjectResetError | None = None
        # Replaced by a deploy: its own events failed, but stubs that reached it go on to the
        # instance running the new code (the reset was the platform's, not the object's).
        self.replaced = False
        self.background: set[asyncio.Task[Any]] = set()
        # Tasks a reset of this instance interrupts: True if cancelled, False if they were
        # inside another object's event then (that event finishes; the task stops after it).
        self.interrupted: dict[asyncio.Task[Any], bool] = {}

    @property
    def alive(self) -> bool:
        return self.record.instance is self


class ObjectRecord:
    """Everything the sandbox keeps about one object id, live or not."""

    def __init__(self, namespace: RecordOwner, object_id: DurableObjectId) -> None:
        self.namespace = namespace
        self.world = namespace.world
        self.id = object_id
        self.instance: Instance | None = None
        self.generation = 0
        self.events_delivered = 0
        self.created = False
        # Why the last instance went (None while one lives or before the first).
        self.dropped_for: DropReason | None = None
        # Storage, alarm and sockets, made on first use; their hooks run through it.
        self.parts = namespace.new_parts(self)

    # --- naming ----------------------------------------------------------------------------

    @property
    def object_name(self) -> str:
        return self.namespace.name

    @property
    def hex(self) -> str:
        return str(self.id)

    def emit(self, kind: str, message: str, **data: Any) -> None:
        self.world.event_log.emit(
            kind, message, object_name=self.namespace.name, object_id=str(self.id), **data
        )

    @property
    def status(self) -> str:
        if self.instance is not None:
            return "live"
        if not self.created:
            return "not created"
        redeployed = self.dropped_for in (DropReason.REDEPLOYED, DropReason.CODE_UPDATED)
        return "redeployed" if redeployed else "evicted"

    # --- lifecycle -------------------------------------------------------------------------

    def ensure_instance(self, binder: Binder | None = None) -> Instance:
        """The live instance, constructing one (and starting ``init``) if there is none.

        ``binder`` (a stub) is attached to the new instance before its constructor runs, so a
        constructor that raises leaves that stub failing with the reset, as on the platform.
        """
        instance = self.instance
        if instance is not None:
            return instance
        self.generation += 1
        instance = Instance(self, self.generation)
        self.instance = instance
        self.created = True
        if binder is not None:
            binder._instance = instance
        ns = self.namespace
        token = current_scope.set(EventScope(self, "init", "constructor"))
        try:
            instance.obj = ns.cls(instance.ctx, self.world.env)
        except ResetUnwind as unwind:  # ctx.abort() in the constructor
            error = fresh_error(unwind.error)
            raise error from error.__cause__
        except STOPPERS as exc:
            raise self.stopped(instance, "init", "constructor", exc) from exc
        except Exception as exc:
            self.emit("error", f"constructor raised {type(exc).__name__}: {exc}")
            # workerd: the caller sees the constructor's error with durableObjectReset set.
            error = fresh_error(self.reset(
                instance, DropReason.CONSTRUCTOR_RAISED, _describe(exc), cause=exc
            ))
            raise error from error.__cause__
        finally:
            current_scope.reset(token)
        self.emit("instance.created", f"instance #{self.generation} created")
        return instance

    def reset(
        self,
        instance: Instance,
        reason: DropReason,
        platform_message: str | None = None,
        *,
        cause: BaseException | None = None,
        overloaded: bool = False,
    ) -> DurableObjectResetError:
        """Reset ``instance``: drop it, fail its events; returns the error its stubs now see.

        ``platform_message`` is workerd's text for this reset (it leads the message).
        """
        if instance.reset_error is not None:
            return instance.reset_error  # already reset (say, abort() inside a failing block)
        ns = self.namespace.name
        lead = platform_message or f"Durable Object reset because {reason}."
        # Keeps the cause's type, as workerd keeps the name of the error that reset it.
        error_class: type[DurableObjectResetError] = DurableObjectResetError
        if cause is not None and not isinstance(cause, DurableObjectError):
            error_class = _error_class(DurableObjectResetError, type(cause))
        if reason is DropReason.CODE_UPDATED:
            # A deploy: the stubs go on to the new code (see _runtime/deploy.py).
            tail = (f"{ns} {self.hex[:12]}… was redeployed while this event ran. Call again: "
                    "the next call runs the new code, with storage kept.")
        else:
            tail = (f"{ns} {self.hex[:12]}… was reset: {reason}. Calls through a stub that "
                    f"reached this instance keep failing, as on the platform; get a new stub "
                    f"(sb.durable_objects.{ns}.get(...)) to reach a fresh instance, with "
                    "storage kept.")
        error = error_class(
            f"{lead} ({tail})",
            object_name=ns,
            object_id=self.hex,
            overloaded=overloaded or None,
            original_type=type(cause).__name__ if cause is not None else "Error",
        )
        if cause is not None:
            error.__cause__ = cause
        self.drop_instance(reason, cause, instance=instance, failure=error)
        return error

    def stopped(
        self, instance: Instance, kind: str, name: str, exc: BaseException
    ) -> DurableObjectError:
        """Code of ``instance`` was stopped while it ran (``exc``: the CPU limit or Ctrl-C):
        reset it, as the platform does past the limit, and return the error its caller gets."""
        ns, short = self.namespace.name, self.hex[:12]
        what = _event_name(kind, name)
        if isinstance(exc, CpuLimitExceeded):
            limit_ms = self.world.limits.max_cpu_ms_per_event or 0
            self.emit("error", f"{what} ran {limit_ms / 1000:g} s of CPU time without yielding: "
                      f"{CPU_LIMIT_MESSAGE}")
            lead = (
                f"{CPU_LIMIT_MESSAGE} Its {what} ran {limit_ms / 1000:g} s of CPU time without "
                "yielding (Limits.max_cpu_ms_per_event). Find the loop or query that never "
                "ends, or split the work across events; the platform's limits.cpu_ms goes up "
                "to 300,000 ms."
            )
            return fresh_error(self.reset(instance, DropReason.CPU_EXCEEDED, lead))
        take_sigint()  # delivered: a Ctrl-C the stepper held must not stop the next event too
        self.emit("error", f"{what} interrupted while it ran (Ctrl-C); the instance was reset")
        self.reset(instance, DropReason.INTERRUPTED,
                   "Durable Object reset because its running code was interrupted.")
        error = ExecutionInterruptedError(
            f"Interrupted {what} of {ns} {short}… while it ran (Ctrl-C). The object was reset, "
            "as the platform resets one past its CPU time limit: the writes of this event are "
            "discarded and its in-memory state is gone. Fix the code that does not end, then "
            f"call it through a new stub (sb.durable_objects.{ns}.get(...)); storage is kept.",
            object_name=ns,
            object_id=self.hex,
            method_name=name if kind == "rpc" else None,
        )
        error.durable_object_reset = True
        self.world.driver.stopped = error  # what a clock step that was interrupted raises
        return error

    def drop_instance(
        self,
        reason: DropReason,
        error: BaseException | None = None,
        *,
        instance: Instance | None = None,
        failure: DurableObjectResetError | None = None,
    ) -> bool:
        """Forget the live instance (eviction or reset). Returns False if there was none.

        ``instance`` defaults to the live one; a stale instance (already dropped) is still
        marked reset, but the live one is left alone.
        """
        if instance is None:
            instance = self.instance
            if instance is None:
                return False
        was_live = instance.alive
        if failure is None and reason.is_reset:
            self.reset(instance, reason, cause=error)  # builds the error, then comes back here
            return was_live
        if failure is None:
            failure = DurableObjectResetError(
                f"{self.namespace.name} {self.hex[:12]}… was {reason} while this event was "
                "queued; retry the call: a new instance will run init again.",
                object_name=self.namespace.name,
                object_id=self.hex,
            )
        if reason.is_reset:
            instance.reset_error = failure
            # In-flight events fail with the reset too (the caller of abort() unwinds itself).
            current = asyncio.current_task(self.world.loop)
            # The tasks awaiting an event of this instance (a reset is rare: look at them all).
            for task, stack in list(_delivering.items()):
                if task is current or task.done() or instance not in stack:
                    continue
                inside_another = stack[-1] is not instance
                # An RPC to another object runs in its caller's task: never cut that object's
                # code short; the task stops when control comes back (see deliver).
                instance.interrupted[task] = not inside_another
                if not inside_another:
                    task.cancel()
        instance.gate.fail_waiters(failure)
        for task in instance.background:
            task.cancel()
        if not was_live:
            return False
        self.instance = None
        self.dropped_for = reason
        self.parts.on_drop(reason)
        # A stub may keep this instance (to remember a reset): not the object's memory too.
        instance.obj = None
        return True

    # --- delivering events -----------------------------------------------------------------

    async def deliver(
        self,
        kind: str,
        name: str,
        call: Callable[[Any], Any],
        *,
        wrap_errors: bool = True,
        log_done: bool = True,
    ) -> Any:
        """Run one event through the input gate and the output gate.

        ``log_done=False`` for events whose capability logs them itself (alarms log
        ``alarm.fired``), so the hot path writes one entry per event, not two.
        """
        instance = self.instance
        if instance is None:
            instance = self.ensure_instance()
        if instance.gate._blockers:
            await instance.gate.wait_open()
            if instance.reset_error is not None:
                raise fresh_error(instance.reset_error)
        scope = EventScope(self, kind, name)
        token = current_scope.set(scope)
        instance.in_flight += 1
        self.events_delivered += 1
        task: asyncio.Task[Any] | None = None
        outer_reset = False
        try:
            result = call(instance.obj)  # type: ignore[arg-type]
            if type(result) is CoroutineType or inspect.isawaitable(result):
                # Known while it waits, so a reset of this instance can interrupt it.
                task = asyncio.current_task(self.world.loop)
                stack: list[Instance] | None = None
                if task is not None:
                    stack = _delivering.get(task)
                    if stack is None:
                        stack = _delivering[task] = []
                    stack.append(instance)
                try:
                    result = await result
                finally:
                    if task is not None and stack is not None:
                        stack.pop()
                        if stack:
                            # The event of another object that called this one was reset
                            # meanwhile: it stops now that this event is done.
                            outer_reset = task in stack[-1].interrupted
                        else:
                            del _delivering[task]
        except ResetUnwind as unwind:
            # ctx.abort() in this event. workerd marks the fetch caller's copy remote too.
            error = fresh_error(unwind.error)
            if kind == "fetch":
                error.remote = True
            raise error from error.__cause__
        except STOPPERS as exc:  # Ctrl-C or the CPU limit stopped this event's code
            raise self.stopped(instance, kind, name, exc) from exc
        except asyncio.CancelledError:
            if task is None or task not in instance.interrupted:
                raise
            # Interrupted by a reset of this instance: the caller sees the reset error.
            error = fresh_error(instance.reset_error)  # type: ignore[arg-type]
            raise error from error.__cause__
        except Exception as exc:
            broken = instance.reset_error
            if (broken is not None and not isinstance(exc, DurableObjectResetError)
                    and not _caused_by(exc, broken.__cause__)):
                # Reset during this event: its result never leaves the object (an error that
                # comes from the reset's own cause, a failed storage write, still does).
                error = fresh_error(broken)
                raise error from error.__cause__
            if not wrap_errors:
                raise
            self.emit("error", f"{kind} {name} raised {type(exc).__name__}: {exc}", error=exc)
            wrapped = _wrap_error(self, name, exc)
            if wrapped is exc:
                raise
            raise wrapped from exc
        finally:
            instance.in_flight -= 1
            current_scope.reset(token)
            self.parts.before_output()
            # However the event ended (user code may catch the cancel), undo the cancel.
            if task is not None and instance.interrupted.pop(task, False):
                task.uncancel()
            if outer_reset:
                raise asyncio.CancelledError  # the caller's reset event stops here
        if instance.reset_error is not None:
            # Reset while this event ran (e.g. a block_concurrency_while it did not await).
            raise fresh_error(instance.reset_error)
        if log_done:
            self.emit(kind, f"{name} done")
        return result

    def block_concurrency_while(
        self, instance: Instance, fn: Callable[[], Awaitable[Any] | Any]
    ) -> asyncio.Task[Any]:
        """Hold new events until ``fn`` finishes; if it raises, reset the instance."""
        world = self.world
        loop = world.loop
        gate = instance.gate
        gate.block()
        scope = EventScope(self, "block_concurrency_while", getattr(fn, "__name__", "fn"))
        timed_out: list[bool] = []

        async def run() -> Any:
            token = current_scope.set(scope)
            try:
                result = fn()
                if inspect.isawaitable(result):
                    result = await result
                return result
            except asyncio.CancelledError:
                if not timed_out:
                    raise
                # workerd's text and flags (overloaded, durableObjectReset) after 30 s.
                limit_s = world.limits.block_concurrency_timeout_ms / 1000
                message = (
                    "A call to blockConcurrencyWhile() in a Durable Object waited for too long. "
                    "The call was canceled and the Durable Object was reset."
                )
                self.emit("error", f"{message} (after {limit_s:g} s)")
                error = fresh_error(self.reset(
                    instance, DropReason.BLOCK_TIMED_OUT, message, overloaded=True
                ))
                raise error from error.__cause__
            except ResetUnwind:
                raise  # ctx.abort() inside the callback: already reset
            except STOPPERS as exc:
                raise self.stopped(instance, "block_concurrency_while", scope.name, exc) from exc
            except BaseException as exc:
                # The platform resets the object when the callback throws (input gate broken);
                # whoever awaits the block sees the reset, carrying the callback's error.
                self.emit(
                    "error",
                    f"block_concurrency_while callback raised {type(exc).__name__}: {exc}; "
                    "the instance was reset",
                )
                error = fresh_error(self.reset(
                    instance, DropReason.BLOCK_RAISED, _describe(exc), cause=exc
                ))
                raise error from error.__cause__
            finally:
                current_scope.reset(token)
                gate.unblock()
                self.parts.before_output()

        task = loop.create_task(run())
        task.add_done_callback(_consume_exception)

        def time_out() -> None:
            if not task.done():
                timed_out.append(True)
                task.cancel()

        timer = loop.call_later(world.limits.block_concurrency_timeout_ms / 1000, time_out)
        task.add_done_callback(lambda _: timer.cancel())
        return task


def _consume_exception(task: asyncio.Task[Any]) -> None:
    # The failure is reported through the reset; don't let asyncio log it again.
    if not task.cancelled():
        task.exception()


_ERROR_CLASSES: dict[tuple[type, type], type] = {}


def _error_class(base: type[Any], original: type[BaseException]) -> Any:
    """``base`` that is also an instance of the original error type.

    The platform keeps an error's type name across RPC, so ``except ValueError`` around a call
    still works; we do the same by deriving from both (falling back when layouts clash).
    """
    cls = _ERROR_CLASSES.get((base, original))
    if cls is None:
        cls = base
        if original is not Exception and issubclass(original, Exception):
            try:
                cls = type(
                    f"{base.__name__}[{original.__name__}]",
                    (base, original),
                    {"__module__": "dosandbox.errors"},
                )
            except TypeError:
                cls = base
        _ERROR_CLASSES[(base, original)] = cls
    return cls


def method_error_class(original: type[BaseException]) -> type[DurableObjectMethodError]:
    """``DurableObjectMethodError`` that is also an instance of the original error type."""
    return _error_class(DurableObjectMethodError, original)  # type: ignore[no-any-return]


def _caused_by(exc: BaseException | None, cause: BaseException | None) -> bool:
    """Is ``cause`` ``exc`` or in its chain of causes?"""
    seen = 0
    while exc is not None and seen < 8:
        if exc is cause:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _event_name(kind: str, name: str) -> str:
    """An event as messages name it: ``method spin()``, ``alarm handler``, ``the constructor``."""
    if kind == "init":
        return "the constructor"
    if kind == "rpc":
        return f"method {name}()"
    return f"{kind} handler" if kind == name else f"{kind} {name}"


def _describe(exc: BaseException) -> str:
    """An error as the caller reads it: ``TypeError: message`` (workerd keeps the message)."""
    return f"{type(exc).__name__}: {exc}"


def _wrap_error(record: ObjectRecord, name: str, exc: BaseException) -> BaseException:
    if isinstance(exc, DurableObjectError) and exc.code in ("OBJECT_RESET", "RPC_ERROR",
                                                            "INTERRUPTED"):
        return exc
    wrapped = method_error_class(type(exc))(
        f"{record.namespace.name}.{name}() raised {type(exc).__name__}: {exc}",
        object_name=record.namespace.name,
        object_id=record.hex,
        method_name=name,
        original_type=type(exc).__name__,
        # workerd keeps an error's own properties, flags included (remote is always set).
        retryable=_flag(exc, "retryable"),
        overloaded=_flag(exc, "overloaded"),
    )
    if _flag(exc, "durable_object_reset", "durableObjectReset"):
        wrapped.durable_object_reset = True
    return wrapped


def _flag(exc: BaseException, snake: str, camel: str | None = None) -> bool | None:
    """A platform flag the user's error carries (``err.retryable = True``), or None."""
    for attr in (snake, camel or snake):
        if getattr(exc, attr, None) is True:
            return True
    return None
