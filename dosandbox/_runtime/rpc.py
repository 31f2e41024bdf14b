"""RPC capabilities: functions, ``RpcTarget`` instances and streams that cross by reference.

On the platform an RPC message carries more than data (workerd, checked 2026-04-26):

* a **function** arrives as a callable stub; calling it runs the function where it came from
  (here: in the sending object, through its input gate, or on the notebook side), with
  arguments and results copied both ways;
* an instance of an **RpcTarget** subclass arrives as a stub whose methods and getters run on
  the target. Its instance attributes are not reachable (``The RPC receiver does not implement
  the method "n".``). JavaScript hides ``#private`` members; Python's spelling of private is a
  leading underscore, so ``_x`` members are not reachable either;
* a **byte stream** (here: any async iterable of bytes) arrives as a :class:`ReadableStream`
  the receiver pulls chunk by chunk (back-pressure: nothing is read ahead), and a failure of
  the sender arrives as workerd's "ReadableStream received over RPC disconnected prematurely.";
* ``Request`` and ``Response`` arrive as the receiver's own copies.

Lifetimes follow workerd (checked 2026-12-03): stubs received as a call's arguments are
disposed when that call returns (keep one with ``stub.dup()``); every other stub an object
receives (a result, a ``dup()``) stays usable in its later events, kept in a field or not, until
that instance is evicted or reset; stubs a Worker receives go when its request and that
request's ``wait_until`` work end, and using one in another request fails as "Cannot perform
I/O on behalf of a different request.". A received stub can be disposed early (``with stub:``
or ``stub.dispose()``, the platform's ``using`` and ``[Symbol.dispose]()``). Using a disposed
stub raises "RPC stub used after being disposed."; a target's dispose hook, ``__dispose__``,
runs when the last stub of one passing goes. A stub whose owner was evicted or reset fails
with "The execution context which hosts this callback is no longer running.".

Promise pipelining (``await stub.make_counter(10).inc()``) lives in :class:`Pipeline`: the
first call is sent once, the next step is applied to its result, and an error of the first
call surfaces at the final await unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, cast

from .._core import codec as _codec
from .._core.errors import (
    DataCloneError,
    DurableObjectError,
    MethodNotFoundError,
    StreamError,
    StubDisposedError,
    StubOwnerGoneError,
    ValidationError,
    did_you_mean,
)
from .._core.loop import _get_running_loop
from .._core.record import Instance, ObjectRecord, current_scope, method_error_class
from .http import Request, Response
from .rpc_size import SMALL_TYPES, check_size, surely_small

if TYPE_CHECKING:
    from .._core.world import World

__all__ = [
    "Message",
    "Pipeline",
    "ReadableStream",
    "RpcStub",
    "RpcTarget",
    "WorkerRequestHold",
    "copy_arguments",
    "dispose_all",
    "live_stubs",
    "target_members",
    "worker_request",
]

DISPOSED_MESSAGE = "RPC stub used after being disposed."
GONE_MESSAGE = "The execution context which hosts this callback is no longer running."
CROSS_REQUEST_MESSAGE = "Cannot perform I/O on behalf of a different request."
STREAM_BROKEN = "ReadableStream received over RPC disconnected prematurely."


class RpcTarget:
    """Subclass this to pass objects over RPC by reference, as the platform's ``RpcTarget``.

    The receiver gets a stub: ``await stub.method(...)`` runs the method on this object, where
    it lives, and ``await stub.prop`` reads a property. Only methods and properties defined on
    the class are reachable, and not those whose name starts with ``_`` (Python's private, as
    JavaScript's ``#private`` is not reachable); instance attributes are not reachable either.

    ``__dispose__(self)``, if defined, runs when the last stub of one passing is disposed: the
    platform calls ``[Symbol.dispose]()`` then. A dunder is its closest Python spelling: like a
    symbol-keyed method it is a protocol hook, never callable over RPC, and it leaves the name
    ``dispose`` free for a method of your own.
    """


# --- which members of a target are reachable ------------------------------------------------

# Names the stub itself answers (its lifetime), so a target cannot expose them.
_STUB_OWN = frozenset({"dispose", "dup", "constructor"})
_MEMBERS: dict[type, tuple[frozenset[str], frozenset[str]]] = {}


def target_members(cls: type) -> tuple[frozenset[str], frozenset[str]]:
    """(methods, properties) of an RpcTarget class that are reachable over RPC."""
    cached = _MEMBERS.get(cls)
    if cached is None:
        methods: set[str] = set()
        props: set[str] = set()
        for klass in cls.__mro__:
            if klass is object or klass is RpcTarget:
                continue
            for attr, value in vars(klass).items():
                if attr.startswith("_") or attr in _STUB_OWN or attr in methods | props:
                    continue
                if isinstance(value, property | functools.cached_property):
                    props.add(attr)
                elif isinstance(value, staticmethod | classmethod) or inspect.isfunction(value):
                    methods.add(attr)
        cached = _MEMBERS[cls] = (frozenset(methods), frozenset(props))
    return cached


# --- the two sides of one capability -------------------------------------------------------

class _WorldStubs:
    """One sandbox's stubs: their numbers, and the live ones (weakly: a stub the notebook
    dropped is not kept for the view's sake)."""

    __slots__ = ("ids", "live")

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.live: weakref.WeakValueDictionary[int, RpcStub] = weakref.WeakValueDictionary()


_stubs_of: weakref.WeakKeyDictionary[World, _WorldStubs] = weakref.WeakKeyDictionary()


def _world_stubs(world: World) -> _WorldStubs:
    found = _stubs_of.get(world)
    if found is None:
        found = _stubs_of[world] = _WorldStubs()
    return found


def live_stubs(world: World, record: ObjectRecord) -> list[RpcStub]:
    """The undisposed stubs whose capability lives in ``record`` or that it holds, oldest first
    (what the inspector's Stubs tab lists)."""
    found = _stubs_of.get(world)
    if found is None:
        return []
    return [stub for _, stub in sorted(found.live.items())
            if stub._export.record is record or stub._holder is record]


def _side(record: ObjectRecord | None) -> str:
    return "the notebook" if record is None else f"{record.namespace.name}:{_short(record)}"


def _short(record: ObjectRecord) -> str:
    return record.id.name if record.id.name is not None else record.hex[:8]


class Export:
    """The sending side of one passing: the real function or target and where it lives."""

    __slots__ = ("hooked", "instance", "kind", "label", "owner", "record", "refs", "value",
                 "world")

    def __init__(self, value: Any, kind: str, message: Message) -> None:
        self.value = value
        self.kind = kind  # "function" or "target"
        self.world = message.world
        self.record = message.record  # None: the notebook side
        self.instance = message.instance
        self.refs = 0
        self.hooked = False
        self.owner = _side(self.record)  # "the notebook" or "name:id"
        if kind == "function":
            self.label = f"function {getattr(value, '__qualname__', type(value).__name__)}"
        else:
            self.label = f"{type(value).__name__} target"

    def check_alive(self) -> None:
        """Raise the platform's error if the side that owns the value is gone."""
        if self.world.closed:
            raise StubOwnerGoneError(
                f"{GONE_MESSAGE} This stub ({self.label} from {self.owner}) belongs to a "
                "sandbox that was closed; capabilities do not outlive their sandbox. Get a new "
                "one from an object of the sandbox you are using.",
            )
        instance = self.instance
        if instance is not None and (not instance.alive or instance.reset_error is not None):
            record = self.record
            assert record is not None
            raise StubOwnerGoneError(
                f"{GONE_MESSAGE} The {self.label} lives in {self.owner}, whose instance was "
                "evicted or reset since it passed the stub, and in-memory objects do not "
                "survive that, on the platform either. Call the object again for a new stub.",
                object_name=record.namespace.name,
                object_id=record.hex,
            )

    def release(self) -> None:
        """One stub of this passing went; the last one runs the target's dispose hook."""
        self.refs -= 1
        if self.refs > 0 or self.hooked or self.kind != "target":
            return
        self.hooked = True
        hook = getattr(type(self.value), "__dispose__", None)
        if hook is None:
            return
        try:
            self.check_alive()
        except StubOwnerGoneError:
            return  # its owner is gone: so is the target
        _run_hook(self, hook)


def _run_hook(export: Export, hook: Callable[[Any], Any]) -> None:
    """Run a target's ``__dispose__`` where it lives, as an event of its owner (or at once)."""
    target = export.value
    record = export.record
    if record is None:  # a notebook target: its hook runs now (an async one on the loop)
        try:
            result = hook(target)
        except Exception as exc:
            _log_failure(export, exc)
            return
        if inspect.isawaitable(result):
            task = export.world.loop.create_task(_awaited(result))
            task.add_done_callback(_log_hook_failure(export))
        return

    failed: list[bool] = []  # the hook itself raised: its event has logged that already

    def call(_obj: Any) -> Any:
        try:
            result = hook(target)
        except Exception:
            failed.append(True)
            raise
        return _flag_failure(result, failed) if inspect.isawaitable(result) else result

    async def run() -> None:
        await record.deliver("rpc", f"{type(target).__name__}.__dispose__", call,
                             log_done=False)

    world = export.world
    if _get_running_loop() is not world.loop and not world.loop.is_closed():
        # Disposed from the notebook: run the hook now, so it has run when dispose() returns.
        try:
            world.driver.drive(run(), "disposing a stub")
        except Exception as exc:
            if not failed:  # the drive itself failed (a closed or busy sandbox): say so
                _log_failure(export, exc)
        return

    def settled(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None and not failed:
            _log_failure(export, task.exception())  # type: ignore[arg-type]

    def start() -> None:  # the coroutine is made when the loop next runs, never left unawaited
        world.loop.create_task(run()).add_done_callback(settled)

    world.loop.call_soon(start)


async def _awaited(result: Awaitable[Any]) -> Any:
    return await result


async def _flag_failure(result: Awaitable[Any], failed: list[bool]) -> Any:
    try:
        return await result
    except Exception:
        failed.append(True)
        raise


def _log_failure(export: Export, exc: BaseException) -> None:
    export.world.event_log.emit(
        "error", f"{export.label}.__dispose__ raised {type(exc).__name__}: {exc}", error=exc,
    )


def _log_hook_failure(export: Export) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()  # an object's hook is logged by its event already
        if exc is not None and export.record is None:
            _log_failure(export, exc)
    return done


class _PartsWithStubs(Protocol):
    """What a record's parts (``Parts``, which imports this module) give for its stubs."""

    stubs: dict[int, RpcStub] | None


def _object_hold(record: ObjectRecord) -> dict[int, RpcStub]:
    """The stubs ``record``'s instance holds, kept in its parts (see ``Parts.stubs``)."""
    parts = cast(_PartsWithStubs, record.parts)
    hold = parts.stubs
    if hold is None:
        hold = parts.stubs = {}
    return hold


class WorkerRequestHold:
    """The stubs one Worker request received: they go when it and its wait_until work end.

    On the platform a stub is an I/O object of the request that received it; a Worker that
    keeps one in a global and uses it in a later request gets "Cannot perform I/O on behalf of
    a different request.".
    """

    __slots__ = ("label", "open", "stubs")

    def __init__(self, label: str) -> None:
        self.label = label
        self.stubs: dict[int, RpcStub] = {}
        self.open = 1  # the request itself; each wait_until task adds one

    def enter(self) -> None:
        self.open += 1

    def leave(self) -> None:
        self.open -= 1
        if self.open == 0 and self.stubs:
            stubs = list(self.stubs.values())
            self.stubs.clear()
            for stub in stubs:
                stub._ended_with = self.label
                stub._release()


# The Worker request whose code is running now (a context variable: wait_until tasks inherit it).
worker_request: ContextVar[WorkerRequestHold | None] = ContextVar(
    "dosandbox_worker_request", default=None
)


def copy_arguments(
    call: object, message: Message, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any], list[RpcStub] | None]:
    """A call's arguments, copied when the call is made (the platform serializes them then).

    Functions and RpcTargets among them become the callee's stubs: the call lets go of them
    when it returns, and a call never awaited when it is collected.
    """
    copied_args = _codec.clone(args, path="args", arguments=True, sender=message) \
        if args else args
    copied_kwargs = _codec.clone(kwargs, path="kwargs", arguments=True, sender=message) \
        if kwargs else kwargs
    if message.made:
        weakref.finalize(call, dispose_all, message.made)
    return copied_args, copied_kwargs, message.made


def dispose_all(stubs: list[RpcStub]) -> None:
    for stub in stubs:
        stub._release()


class Message:
    """One RPC message being cloned: who sends it, who will hold what it carries, and the
    stubs made for it (the receiver's, disposed with the call when they are arguments)."""

    __slots__ = ("holder", "instance", "made", "record", "via", "world")

    def __init__(
        self,
        world: World,
        record: ObjectRecord | None,
        instance: Instance | None,
        holder: ObjectRecord | None,
        via: str,
    ) -> None:
        self.world = world
        self.record = record
        self.instance = instance
        self.holder = holder
        self.via = via
        self.made: list[RpcStub] | None = None

    @classmethod
    def from_here(cls, world: World, holder: ObjectRecord | None, via: str) -> Message:
        """A message sent by the code running now: an object's event, or the notebook."""
        scope = current_scope.get()
        if scope is None or scope.record.world is not world:
            return cls(world, None, None, holder, via)
        record = scope.record
        return cls(world, record, record.instance, holder, via)

    @classmethod
    def result_of(cls, record: ObjectRecord, instance: Instance | None, via: str) -> Message:
        """A result sent by ``record`` to the code running now (which will hold its stubs)."""
        scope = current_scope.get()
        holder = scope.record if scope is not None and scope.record.world is record.world \
            else None
        return cls(record.world, record, instance, holder, via)

    def stub_for(self, export: Export) -> RpcStub:
        stub = RpcStub(export, self.holder, self.via)
        if self.made is None:
            self.made = []
        self.made.append(stub)
        return stub


class RpcStub:
    """What the receiver holds for a function or an RpcTarget that crossed RPC.

    A function's stub is called (``await cb(1, 2)``); a target's stub exposes the target's
    methods (``await counter.inc()``) and properties (``await counter.value``). Both support
    ``dispose()``, ``with stub:`` and ``dup()``.
    """

    __slots__ = ("__weakref__", "_calls", "_disposed", "_ended_with", "_export", "_held_by",
                 "_hold", "_holder", "_id", "_via")

    def __init__(self, export: Export, holder: ObjectRecord | None, via: str) -> None:
        self._export = export
        self._holder = holder
        self._via = via
        self._disposed = False
        self._ended_with: str | None = None  # the Worker request whose end disposed it
        self._calls = 0
        export.refs += 1
        world = export.world
        stubs = _world_stubs(world)
        self._id = next(stubs.ids)
        stubs.live[self._id] = self
        # Who lets go of it if its code does not: the holding instance, or the Worker request.
        hold: dict[int, RpcStub] | None = None
        if holder is not None:
            hold = _object_hold(holder)
            held_by = _side(holder)
        else:
            request = worker_request.get()
            if request is not None:
                hold = request.stubs
                held_by = f"the Worker ({request.label})"
            else:
                held_by = _side(holder)
        if hold is not None:
            hold[self._id] = self
        self._hold = hold
        self._held_by = held_by
        data = {"cap": self._id, "cap_kind": export.kind, "label": export.label,
                "owner": export.owner, "holder": held_by, "via": via}
        _emit(export, holder, "stub.created",
              lambda: f"stub #{data['cap']}: {export.label} from {export.owner}, held by "
                      f"{held_by} ({via})", data)

    # --- lifetime (the platform's using / [Symbol.dispose] / dup) ----------------------------

    def dispose(self) -> None:
        """Let go of the capability now (the platform's ``stub[Symbol.dispose]()``).

        Disposing twice is allowed; a target's ``__dispose__`` runs when its last stub goes.
        """
        self._release()

    def _release(self) -> None:
        if self._disposed:
            return
        self._disposed = True
        stubs = _stubs_of.get(self._export.world)
        if stubs is not None:
            stubs.live.pop(self._id, None)
        hold = self._hold
        if hold is not None:
            self._hold = None
            hold.pop(self._id, None)
        export = self._export
        cap = self._id
        _emit(export, self._holder, "stub.disposed",
              lambda: f"stub #{cap} disposed: {export.label} from {export.owner}", {"cap": cap})
        export.release()

    def dup(self) -> RpcStub:
        """A second stub for the same capability that lives on after this one is disposed
        (keep an argument beyond the call that brought it, as ``stub.dup()`` does)."""
        self._check_usable()
        return RpcStub(self._export, _here(self._export.world), f"dup of #{self._id}")

    def __enter__(self) -> RpcStub:
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    @property
    def disposed(self) -> bool:
        return self._disposed

    def _describe(self) -> dict[str, Any]:
        """What the inspector shows of this stub: number, kind, what it is, where it lives,
        who holds it, from which call, how often it was called."""
        export = self._export
        return {"stub": self._id, "kind": export.kind, "what": export.label,
                "owner": export.owner, "holder": self._held_by, "via": self._via,
                "calls": self._calls}

    def _check_usable(self) -> None:
        if not self._disposed:
            return
        what = f"Stub #{self._id} ({self._export.label} from {self._export.owner})"
        if self._ended_with is not None:
            raise StubDisposedError(
                f"{CROSS_REQUEST_MESSAGE} {what} came to the Worker in {self._ended_with}, "
                "which has ended, and its stubs ended with it, on the platform too. Get a new "
                "stub in the request that uses it (call the object again), or keep the state "
                "in a Durable Object instead of a global."
            )
        raise StubDisposedError(
            f"{DISPOSED_MESSAGE} {what} was disposed: by dispose()/with, because it came as an "
            "argument of a call that has returned (keep one longer with stub.dup() during "
            "the call), or because the instance holding it was evicted or reset."
        )

    # --- use ------------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Pipeline:
        if self._export.kind != "function":
            raise ValidationError(
                f"Stub #{self._id} is a {self._export.label}, not a function: call one of its "
                f"methods ({', '.join(sorted(target_members(type(self._export.value))[0]))}).",
            )
        return Pipeline(self._export.world, self, (), args, kwargs, call=True)

    def __getattr__(self, name: str) -> Pipeline:
        if name.startswith("__"):
            raise AttributeError(name)
        if name.startswith("_"):
            # Private (and how IPython probes for _repr_html_...): refused at once, an
            # AttributeError as well, so display hooks see "no such attribute".
            raise MethodNotFoundError(
                f'The RPC receiver does not implement the method "{name}". '
                + _unreachable(self._export, name),
                method_name=name, remote=True,
            )
        return Pipeline(self._export.world, self, (name,), (), {}, call=False)

    def __dir__(self) -> list[str]:
        methods, props = self._members()
        return sorted({*methods, *props, "dispose", "dup", "disposed"})

    def _members(self) -> tuple[frozenset[str], frozenset[str]]:
        if self._export.kind != "target":
            return frozenset(), frozenset()
        return target_members(type(self._export.value))

    def __repr__(self) -> str:
        state = " disposed" if self._disposed else ""
        return f"<RpcStub #{self._id} {self._export.label} from {self._export.owner}{state}>"

    # --- running a member where the capability lives ------------------------------------------

    async def _invoke(
        self, name: str | None, args: tuple[Any, ...], kwargs: dict[str, Any], call: bool,
        arg_stubs: list[RpcStub] | None,
    ) -> Any:
        try:
            self._check_usable()
            export = self._export
            export.check_alive()
            fn, what = self._resolve(name, call)
            record = export.record
            cap = self._id
            self._calls += 1
            _emit(export, None, "stub.called", lambda: f"stub #{cap}: {what}", {"cap": cap})
            if record is None:
                result = await _run_on_notebook(fn, args, kwargs, what)
            else:
                result = await record.deliver(
                    "rpc", what, lambda _obj: fn(*args, **kwargs), log_done=False
                )
            message = (Message(export.world, None, None, _here(export.world), f"result of {what}")
                       if record is None else
                       Message.result_of(record, export.instance, f"result of {what}"))
            copy = _codec.clone(result, path=f"{what} result", sender=message)
            if type(copy) not in SMALL_TYPES and not surely_small((copy,), export.world.limits):
                owner_name, hex_id = _callee(self)
                try:
                    check_size(export.world.limits, copy,
                               f"the result of {what}" + ("()" if call else ""), remote=True,
                               object_name=owner_name, object_id=hex_id)
                except DataCloneError:
                    if message.made:
                        dispose_all(message.made)  # the result never arrives: nor its stubs
                    raise
        finally:
            if arg_stubs:
                dispose_all(arg_stubs)
        return copy

    def _resolve(self, name: str | None, call: bool) -> tuple[Callable[..., Any], str]:
        export = self._export
        value = export.value
        if name is None:
            if export.kind != "function":
                raise MethodNotFoundError(
                    f"Stub #{self._id} is a {export.label}, not a function: call one of its "
                    "methods instead.", remote=True,
                )
            return value, export.label.removeprefix("function ")
        cls_name = type(value).__name__
        methods, props = self._members()
        what = f"{cls_name}.{name}"
        if name in methods:
            bound = getattr(value, name)
            if call:
                return bound, what
            return (lambda: bound), what  # a method read as a value: a function stub
        if name in props:
            if call:
                raise MethodNotFoundError(
                    f'"{name}" is not a function. {what} is a property: read it with '
                    f"`await stub.{name}` (no call).",
                    method_name=name, remote=True,
                )
            return (lambda: getattr(value, name)), what
        raise MethodNotFoundError(
            f'The RPC receiver does not implement the method "{name}". '
            + _unreachable(export, name),
            method_name=name, remote=True,
        )


def _callee(source: Any) -> tuple[str | None, str | None]:
    """The object a capability call goes to, for its errors (none: the notebook, or a
    pipelined step whose target is not known until the step before it answers)."""
    record = source._export.record if isinstance(source, RpcStub) else None
    return (None, None) if record is None else (record.namespace.name, record.hex)


def _unreachable(export: Export, name: str) -> str:
    value = export.value
    if export.kind == "function":
        return (f"Stub is a {export.label}: call it, it has no members.")
    methods, props = target_members(type(value))
    cls = type(value).__name__
    if name.startswith("_"):
        why = (f"{cls}.{name} starts with '_', so it is private and not reachable over RPC "
               "(as JavaScript's #private members); give it a public name.")
    elif name in vars(value):
        why = (f"{name} is an instance attribute of {cls}; only methods and properties defined "
               f"on the class are reachable, on the platform too: expose it with a @property.")
    else:
        hint = did_you_mean(name, methods | props)
        why = f"{cls} has no public method or property {name!r}; {hint}."
    return why


async def _run_on_notebook(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], what: str
) -> Any:
    """Run a function that came from the notebook; its errors arrive as remote errors."""
    try:
        result = fn(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result
    except DurableObjectError:
        raise
    except Exception as exc:
        wrapped = method_error_class(type(exc))(
            f"{what}() raised {type(exc).__name__}: {exc}",
            method_name=what, original_type=type(exc).__name__, remote=True,
        )
        raise wrapped from exc


def _here(world: World) -> ObjectRecord | None:
    scope = current_scope.get()
    return scope.record if scope is not None and scope.record.world is world else None


def _emit(export: Export, holder: ObjectRecord | None, kind: str, text: Callable[[], str],
          data: dict[str, Any]) -> None:
    """Log on the object that owns the capability and on the one that holds the stub."""
    log = export.world.event_log
    places = [r for r in (export.record, holder) if r is not None]
    if len(places) == 2 and places[0] is places[1]:
        places.pop()
    if not places:
        log.emit(kind, text, **data)
    for record in places:
        log.emit(kind, text, object_name=record.namespace.name, object_id=record.hex, **data)


# --- pipelining --------------------------------------------------------------------------------


class Pipeline:
    """A member of an RPC result not awaited yet: ``stub.make(10).inc`` or ``stub.nested().a``.

    Awaiting it reads the member (a property, or a dict key of plain data); calling it makes a
    pipelined call. The call it starts from is sent once, however many steps follow it.
    """

    __slots__ = ("__weakref__", "_args", "_call", "_kwargs", "_made", "_outcome", "_path",
                 "_shared", "_source", "_world")

    def __init__(
        self,
        world: World,
        source: Any,
        path: tuple[str, ...],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        call: bool,
    ) -> None:
        self._world = world
        self._source = source  # an RpcStub, or an RpcCall / Pipeline whose result we follow
        self._path = path
        self._call = call
        self._made: list[RpcStub] | None = None
        self._shared: asyncio.Future[Any] | None = None
        self._outcome: tuple[bool, Any] | None = None  # as RpcCall's: one send, shared
        if call:
            message = Message.from_here(world, None, f"argument of {self._what}")
            self._args, self._kwargs, self._made = copy_arguments(self, message, args, kwargs)
            if (args or kwargs) and not surely_small((args, kwargs), world.limits):
                name, hex_id = _callee(source)
                check_size(world.limits, (args, kwargs), f"the arguments of {self._what}",
                           object_name=name, object_id=hex_id)
        else:
            self._args, self._kwargs = (), {}

    @property
    def _what(self) -> str:
        name = ".".join(self._path) if self._path else "call"
        return f"{name}()" if self._call else f"reading {name}"

    def __getattr__(self, name: str) -> Pipeline:
        if name.startswith("_"):
            raise AttributeError(name)
        return Pipeline(self._world, self, (name,), (), {}, call=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Pipeline:
        if self._call:
            return Pipeline(self._world, self, (), args, kwargs, call=True)
        return Pipeline(self._world, self._source, self._path, args, kwargs, call=True)

    def __repr__(self) -> str:
        return f"<RPC pipeline {self._what} not sent yet: await it, or pass it to sb.run()>"

    def _dosandbox_coroutine(self) -> Any:
        return self._invoke()

    async def _resolve(self) -> Any:
        """This step's result, computed once (later steps and awaits share it)."""
        if self._outcome is not None:
            return _settled(self._outcome)
        if self._shared is None:
            self._shared = asyncio.ensure_future(self._invoke(), loop=self._world.loop)
        return await self._shared

    async def _invoke(self) -> Any:
        source = self._source
        try:
            if isinstance(source, RpcStub):
                base: Any = source
            else:
                base = await source._resolve()
            *walk, last = self._path if self._path else (None,)
            for name in walk:
                base = await _member(base, name, False, (), {}, None)
            made, self._made = self._made, None
            answer = await _member(base, last, self._call, self._args, self._kwargs, made)
        except Exception as exc:
            self._outcome = (False, exc)
            raise
        else:
            self._outcome = (True, answer)
            return answer
        finally:
            if self._made:
                dispose_all(self._made)

    def __await__(self) -> Generator[Any, None, Any]:
        if self._outcome is not None:
            return _settled(self._outcome)
        return (yield from drive_or_await(
            self._world, self._resolve if self._shared else self._invoke, self._what))


def _settled(outcome: tuple[bool, Any]) -> Any:
    """The result of a call already answered, or its error raised again."""
    ok, value = outcome
    if ok:
        return value
    raise value


async def _member(
    base: Any, name: str | None, call: bool, args: tuple[Any, ...], kwargs: dict[str, Any],
    made: list[RpcStub] | None,
) -> Any:
    """One pipeline step applied to a result: a stub's member, or a key of plain data."""
    if isinstance(base, RpcStub):
        return await base._invoke(name, args, kwargs, call, made)
    if made:
        dispose_all(made)
    if name is None:
        raise MethodNotFoundError(
            f"The RPC receiver is not a function: the previous step returned "
            f"{type(base).__name__}, so it cannot be called.", remote=True,
        )
    if not call and isinstance(base, dict) and name in base:
        return base[name]  # a property of plain data, as a JS object's field
    if call:
        raise MethodNotFoundError(
            f'The RPC receiver does not implement the method "{name}". The previous step '
            f"returned {type(base).__name__} (plain data), which has no methods; await it "
            "first and use the value, or return an RpcTarget to call methods on it.",
            method_name=name, remote=True,
        )
    raise MethodNotFoundError(
        f'The RPC receiver does not implement the method "{name}". The previous step '
        f"returned {type(base).__name__}, which has no member {name!r}.",
        method_name=name, remote=True,
    )


def drive_or_await(
    world: World, coroutine: Callable[[], Awaitable[Any]], what: str
) -> Generator[Any, None, Any]:
    """Await inside object code; from the notebook, drive the sandbox until it is done."""
    if _get_running_loop() is world.loop:
        return (yield from coroutine().__await__())  # type: ignore[attr-defined]
    return world.driver.drive(coroutine(), what)


# --- streams ---------------------------------------------------------------------------------


class ReadableStream:
    """A byte stream that came over RPC: ``async for chunk in stream`` (or ``await
    stream.read_all()``). Chunks are pulled from the sender one at a time, so a slow reader
    holds the sender back (back-pressure); it can be read once, as ownership moved here."""

    __slots__ = ("_count", "_done", "_source", "_what")

    def __init__(self, source: AsyncIterator[Any], what: str) -> None:
        self._source = source
        self._what = what
        self._done = False
        self._count = 0

    def __aiter__(self) -> ReadableStream:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        try:
            chunk = await self._source.__anext__()
        except StopAsyncIteration:
            self._done = True
            raise
        except Exception as exc:
            self._done = True
            raise StreamError(
                f"{STREAM_BROKEN} The sender of this stream ({self._what}) raised "
                f"{type(exc).__name__}: {exc} after {self._count} chunk(s); the receiver sees "
                "only that the stream broke, as on the platform.",
            ) from exc
        if type(chunk) is bytearray or type(chunk) is memoryview:
            chunk = bytes(chunk)
        if type(chunk) is not bytes:
            self._done = True
            raise StreamError(
                f"A stream over RPC carries bytes only, but chunk {self._count} of "
                f"{self._what} is {type(chunk).__name__}. Encode text first "
                "(chunk.encode()); workerd accepts byte streams only over RPC.",
            )
        self._count += 1
        return chunk

    async def read_all(self) -> bytes:
        """Every remaining chunk, joined."""
        return b"".join([chunk async for chunk in self])

    def __repr__(self) -> str:
        return f"<ReadableStream {self._what}{' done' if self._done else ''}>"


def _is_function(value: Any) -> bool:
    return (
        inspect.isfunction(value) or inspect.ismethod(value) or inspect.isbuiltin(value)
        or type(value) is functools.partial
    )


def _by_reference(value: Any, path: str, message: Message) -> Any:
    """The codec's reference hook: what the receiver gets instead of ``value``."""
    if isinstance(value, RpcTarget):
        return message.stub_for(Export(value, "target", message))
    if _is_function(value):
        return message.stub_for(Export(value, "function", message))
    if isinstance(value, RpcStub):
        # Passing a stub on: the new holder gets its own stub of the same capability.
        value._check_usable()
        export = value._export
        if export.world is not message.world:
            export.check_alive()  # a closed sandbox says so
            raise DataCloneError(
                f"{path}: {value!r} belongs to another Sandbox; a capability reaches only the "
                "objects of the sandbox it came from. Pass plain data, or get the stub from an "
                "object of this sandbox.",
                path=path, type_name="RpcStub",
            )
        return message.stub_for(export)
    if isinstance(value, Request | Response):
        return value.clone()
    if hasattr(type(value), "__aiter__") and not isinstance(value, type):
        return ReadableStream(aiter(value), f"{path} from {_side(message.record)}")
    return NotImplemented


_codec.register_reference_hook(_by_reference)
_codec.register_refusal(
    Pipeline, "RpcPromise",
    "A call that was not awaited cannot be passed over RPC: await it first and pass its "
    "result (workerd refuses an RpcPromise argument too).",
)
