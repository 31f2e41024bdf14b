"""One object: its lasting record, its live instance, and the input gate events pass through.

An :class:`ObjectRecord` exists per object id and outlives evictions: it owns the storage, the
alarm and the hibernatable sockets. An :class:`Instance` is one incarnation of the user's class
with its in-memory state; eviction drops it and the next event builds a new one (running
``init`` again), exactly as on the platform.

Delivery rules, as on the platform: events for one object run one at a time; another event may start
only while the running one is suspended on something that is not storage. Storage calls here
never suspend, so asyncio's own scheduling already gives that rule; the :class:`InputGate` adds
``block_concurrency_while``, which holds every new event until its callback finishes.
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

from .errors import DurableObjectError, DurableObjectMethodError, DurableObjectResetError

if TYPE_CHECKING:
    from .ids import DurableObjectId
    from .world import World

__all__ = [
    "DropReason", "EventScope", "InputGate", "Instance", "ObjectRecord", "RecordOwner",
    "RecordParts", "current_scope",
]


class DropReason(enum.Enum):
    """Why a live instance was dropped: an eviction keeps sockets (hibernation), a reset not."""

    EVICTED = "evicted"
    STORAGE_FAILED = "a storage write failed"
    BLOCK_TIMED_OUT = "block_concurrency_while timed out"
    BLOCK_RAISED = "block_concurrency_while callback raised"

    @property
    def keeps_sockets(self) -> bool:
        return self is DropReason.EVICTED

    def __str__(self) -> str:
        return self.value


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

    def fail_waiters(self, error: BaseException) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

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
        self.reset_error: BaseException | None = None
        self.background: set[asyncio.Task[Any]] = set()

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
        return "evicted" if self.created else "not created"

    # --- lifecycle -------------------------------------------------------------------------

    def ensure_instance(self) -> Instance:
        """The live instance, constructing one (and starting ``init``) if there is none."""
        instance = self.instance
        if instance is not None:
            return instance
        self.generation += 1
        instance = Instance(self, self.generation)
        self.instance = instance
        self.created = True
        ns = self.namespace
        token = current_scope.set(EventScope(self, "init", "constructor"))
        try:
            instance.obj = ns.cls(instance.ctx, self.world.env)
        except Exception as exc:
            self.instance = None
            self.emit("error", f"constructor raised {type(exc).__name__}: {exc}")
            raise _wrap_error(self, "constructor", exc) from exc
        finally:
            current_scope.reset(token)
        self.emit("instance.created", f"instance #{self.generation} created")
        return instance

    def drop_instance(self, reason: DropReason, error: BaseException | None = None) -> bool:
        """Forget the live instance (eviction or reset). Returns False if there was none."""
        instance = self.instance
        if instance is None:
            return False
        self.instance = None
        failure = DurableObjectResetError(
            f"{self.namespace.name} {self.hex[:12]}… was reset ({reason}); queued events were "
            "dropped. Retry the call: a new instance will run init again.",
            object_name=self.namespace.name,
            object_id=self.hex,
        )
        if error is not None:
            failure.__cause__ = error
        instance.reset_error = failure
        instance.gate.fail_waiters(failure)
        for task in instance.background:
            task.cancel()
        self.parts.on_drop(reason)
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
                raise instance.reset_error
        scope = EventScope(self, kind, name)
        token = current_scope.set(scope)
        instance.in_flight += 1
        self.events_delivered += 1
        try:
            result = call(instance.obj)  # type: ignore[arg-type]
            if type(result) is CoroutineType or inspect.isawaitable(result):
                result = await result
        except Exception as exc:
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
            except asyncio.CancelledError as exc:
                if not timed_out:
                    raise
                # workerd's text; the platform resets the object after 30 s.
                limit_s = world.limits.block_concurrency_timeout_ms / 1000
                message = (
                    "A call to blockConcurrencyWhile() in a Durable Object waited for too long "
                    f"({limit_s:g} s). The call was canceled and the Durable Object was reset."
                )
                self.emit("error", message)
                self.drop_instance(DropReason.BLOCK_TIMED_OUT, exc)
                raise DurableObjectResetError(
                    message, object_name=self.namespace.name, object_id=self.hex
                ) from None
            except BaseException as exc:
                # The platform resets the object when the callback throws (input gate broken).
                self.emit(
                    "error",
                    f"block_concurrency_while callback raised {type(exc).__name__}: {exc}; "
                    "the instance was reset",
                )
                self.drop_instance(DropReason.BLOCK_RAISED, exc)
                raise
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


_ERROR_CLASSES: dict[type, type[DurableObjectMethodError]] = {}


def method_error_class(original: type[BaseException]) -> type[DurableObjectMethodError]:
    """``DurableObjectMethodError`` that is also an instance of the original error type.

    The platform keeps an error's type name across RPC, so ``except ValueError`` around a call
    still works; we do the same by deriving from both (falling back when layouts clash).
    """
    cls = _ERROR_CLASSES.get(original)
    if cls is None:
        cls = DurableObjectMethodError
        if original is not Exception and issubclass(original, Exception):
            try:
                cls = type(
                    f"DurableObjectMethodError[{original.__name__}]",
                    (DurableObjectMethodError, original),
                    {"__module__": "dosandbox.errors"},
                )
            except TypeError:
                cls = DurableObjectMethodError
        _ERROR_CLASSES[original] = cls
    return cls


def _wrap_error(record: ObjectRecord, name: str, exc: BaseException) -> BaseException:
    if isinstance(exc, DurableObjectError) and exc.code in ("OBJECT_RESET", "RPC_ERROR"):
        return exc
    return method_error_class(type(exc))(
        f"{record.namespace.name}.{name}() raised {type(exc).__name__}: {exc}",
        object_name=record.namespace.name,
        object_id=record.hex,
        method_name=name,
        original_type=type(exc).__name__,
    )
