"""Namespaces, stubs and RPC calls: what a caller of an object holds.

A stub's public attributes are the object's RPC methods and properties, ``fetch``, ``id`` and
``name``, and nothing else, so a user method may be called ``state`` or ``inspect``. Calling a
method returns an :class:`RpcCall`: awaiting it from the notebook drives the sandbox; awaiting
it from inside object code is an ordinary await on the sandbox loop. Arguments and results are
copied through the structured-clone codec, as the platform copies them, within the platform's
32 MiB; a stub, an id or a namespace does not cross (workerd refuses them too).

A stub remembers the instance it first reached: if that instance is reset (``ctx.abort()``, a
failing ``block_concurrency_while`` or constructor), every later call through the stub fails
with the same reset error, while a new stub reaches a fresh instance, as on the platform.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from .._core import codec as _codec
from .._core import display
from .._core.aliases import AliasMixin
from .._core.errors import (
    DataCloneError,
    InvalidIdError,
    MethodNotFoundError,
    StorageError,
    ValidationError,
    did_you_mean,
)
from .._core.ids import DurableObjectId, IdFactory
from .._core.loop import _get_running_loop
from .._core.naming import binding_name
from .._core.record import Instance, ObjectRecord, fresh_error
from .._core.world import World
from .._storage.database import read_metadata
from .._storage.storage import database_path, persisted_object_ids
from .alarms import META_KEY
from .context import DurableObjectContext
from .http import Request, deliver_fetch, fetch_request
from .object import RESERVED, rpc_methods
from .parts import Parts, alarm_for, existing_alarm, parts_of
from .rpc import (
    Message,
    Pipeline,
    _settled,
    copy_arguments,
    dispose_all,
    drive_or_await,
)
from .rpc_size import SMALL_TYPES, check_size, surely_small

if TYPE_CHECKING:
    from .object import DurableObject

__all__ = ["Namespace", "RpcCall", "Stub"]


class Namespace(AliasMixin):
    """All objects of one class: makes ids and stubs (the platform's DurableObjectNamespace)."""

    def __init__(self, world: World, name: str, cls: type[DurableObject]) -> None:
        self.world = world
        self.name = name
        self.cls = cls
        self.class_name = cls.__name__
        self.binding = binding_name(name)
        self.methods = rpc_methods(cls)
        self.properties = rpc_properties(cls)
        self._ids = IdFactory(f"{world.script_name}-{cls.__name__}", name, world.rng)
        self.records: dict[str, ObjectRecord] = {}

    # What each of its records is given: the ctx of a new instance, the capability slots.
    def new_context(self, record: ObjectRecord, instance: Instance) -> DurableObjectContext:
        return DurableObjectContext(record, instance)

    def new_parts(self, record: ObjectRecord) -> Parts:
        return Parts(record)

    def __repr__(self) -> str:
        return f"<Namespace {self.name} class={self.class_name} objects={len(self.records)}>"

    # --- ids ---------------------------------------------------------------------------------

    def id_from_name(self, name: str) -> DurableObjectId:
        return self._ids.from_name(name)

    def new_unique_id(
        self, options: Mapping[str, Any] | None = None, /, *, jurisdiction: str | None = None
    ) -> DurableObjectId:
        """A random id (``new_unique_id()``); ``{"jurisdiction": ...}`` is refused, as locally."""
        if options is not None:
            if not isinstance(options, Mapping):
                raise ValidationError(
                    f"new_unique_id() takes an options dict ({{'jurisdiction': ...}}), not "
                    f"{type(options).__name__}.",
                    object_name=self.name,
                )
            jurisdiction = options.get("jurisdiction", jurisdiction)
        if jurisdiction is not None:
            raise self._no_jurisdiction(jurisdiction, "new_unique_id(jurisdiction=...)")
        return self._ids.new_unique()

    def jurisdiction(self, name: str) -> Namespace:
        """A namespace restricted to a jurisdiction (``"eu"``, ``"fedramp"``) on the platform.

        workerd does not implement jurisdictions and refuses every one, so the sandbox does too.
        """
        raise self._no_jurisdiction(name, f"jurisdiction({name!r})")

    def _no_jurisdiction(self, name: Any, call: str) -> ValidationError:
        if not isinstance(name, str):
            note = f" (and it takes a string, not {type(name).__name__})"
        elif name not in _JURISDICTIONS:
            note = f" (and the platform knows only {', '.join(map(repr, _JURISDICTIONS))})"
        else:
            note = ""
        return ValidationError(
            f"Jurisdiction restrictions are not implemented in workerd. {self.name}.{call}: "
            f"the local runtime refuses it, so the sandbox does too{note}. Leave the "
            "jurisdiction out here; it only matters once deployed.",
            object_name=self.name,
        )

    def id_from_string(self, text: str) -> DurableObjectId:
        return self._ids.from_string(text)

    # --- stubs -------------------------------------------------------------------------------

    def get(
        self,
        name_or_id: str | DurableObjectId,
        options: Mapping[str, Any] | None = None,
        /,
        **hints: Any,
    ) -> Stub:
        """A stub by name (``get("user-123")``) or by id. Creates nothing until it is used.

        ``location_hint=`` (or ``{"locationHint": ...}``) is accepted and ignored: one machine
        has one location, and workerd ignores it too.
        """
        self._check_options("get", options, hints)
        if isinstance(name_or_id, DurableObjectId):
            return self.get_by_id(name_or_id)
        if isinstance(name_or_id, str):
            return self.get_by_name(name_or_id)
        raise InvalidIdError(
            f"{self.name}.get() takes a name (str) or a DurableObjectId, not "
            f"{type(name_or_id).__name__} {name_or_id!r}.",
            object_name=self.name,
        )

    def get_by_name(
        self, name: str, options: Mapping[str, Any] | None = None, /, **hints: Any
    ) -> Stub:
        """``get(id_from_name(name))``; ``location_hint`` is accepted and ignored."""
        self._check_options("get_by_name", options, hints)
        return Stub(self, self._ids.from_name(name))

    def _check_options(
        self, method: str, options: Mapping[str, Any] | None, hints: dict[str, Any]
    ) -> None:
        # workerd accepts any locationHint value (and unknown option keys) and ignores it.
        if options is not None and not isinstance(options, Mapping):
            raise ValidationError(
                f"Failed to execute 'get' on 'DurableObjectNamespace': parameter 2 is not of "
                f"type 'GetDurableObjectOptions'. {self.name}.{method}() takes an options dict "
                f"such as {{'locationHint': 'weur'}}, not {type(options).__name__}.",
                object_name=self.name,
            )
        unknown = set(hints) - {"location_hint", "locationHint"}
        if unknown:
            raise ValidationError(
                f"{self.name}.{method}() got unexpected option(s) {', '.join(sorted(unknown))}; "
                "it takes location_hint= (locationHint=), which the sandbox ignores.",
                object_name=self.name,
            )

    def get_by_id(
        self, object_id: DurableObjectId, options: Mapping[str, Any] | None = None, /,
        **hints: Any,
    ) -> Stub:
        self._check_options("get_by_id", options, hints)
        if not isinstance(object_id, DurableObjectId):
            raise InvalidIdError(
                f"{self.name}.get_by_id() takes a DurableObjectId (from id_from_name, "
                f"new_unique_id or id_from_string), not {type(object_id).__name__}.",
                object_name=self.name,
            )
        if object_id.namespace != self.name:
            raise InvalidIdError(
                f"That id belongs to namespace {object_id.namespace!r}, not {self.name!r}. Ids "
                "are tied to their namespace on the platform too; get the stub from "
                f"sb.durable_objects.{object_id.namespace}.",
                object_name=self.name,
                object_id=str(object_id),
            )
        return Stub(self, object_id)

    def restore_alarms(self) -> int:
        """Schedule the alarms persisted with this namespace's objects; returns how many.

        Each file is read with a connection closed at once, so 2,000 objects do not hold 6,000
        file descriptors; a file that is not a database is logged here and refused with a
        StorageError when its object is first used, and the others come back.
        """
        restored = 0
        for hex_id in persisted_object_ids(self.world.persist, self.name):
            try:
                record = self.record(self.id_from_string(hex_id))
                storage, path = parts_of(record).storage, database_path(record)
                if storage is not None:
                    value = storage._meta_get(META_KEY)
                else:
                    value = None if path is None else read_metadata(path, META_KEY)
            except (InvalidIdError, StorageError) as exc:
                self.world.event_log.emit(
                    "error", f"no alarm restored from {hex_id}.sqlite: {exc.message}",
                    object_name=self.name,
                )
                continue
            if value is not None:
                alarm_for(record)._restore(value)
                restored += 1
        return restored

    def known_records(self) -> list[ObjectRecord]:
        """The objects that exist: reached by an event, or holding storage (also on disk).

        Stubs never called make records too, but no object, as vitest's
        ``listDurableObjectIds`` lists only objects that were created.
        """
        on_disk = set(persisted_object_ids(self.world.persist, self.name))
        for hex_id in on_disk:
            if hex_id not in self.records:
                self.record(self.id_from_string(hex_id))
        return [r for r in self.records.values() if r.hex in on_disk or _exists(r)]

    def record(self, object_id: DurableObjectId) -> ObjectRecord:
        key = str(object_id)
        record = self.records.get(key)
        if record is None:
            record = ObjectRecord(self, object_id)
            self.records[key] = record
        return record


def _exists(record: ObjectRecord) -> bool:
    if record.created:
        return True
    parts = parts_of(record)
    alarm = existing_alarm(record)
    return parts.storage is not None or (alarm is not None and alarm.time_ms is not None)


_JURISDICTIONS = ("eu", "fedramp")
_PROPERTY_CACHE: dict[type, frozenset[str]] = {}


def rpc_properties(cls: type) -> frozenset[str]:
    """The public properties (getters) of ``cls``: ``await stub.prop`` reads them over RPC.

    Only getters defined on the class are reachable, as on the platform; attributes set in
    ``__init__`` are not.
    """
    cached = _PROPERTY_CACHE.get(cls)
    if cached is None:
        found = set()
        for klass in cls.__mro__:
            if klass is object:
                continue
            for attr, value in vars(klass).items():
                if isinstance(value, property) and not attr.startswith("_"):
                    found.add(attr)
        cached = _PROPERTY_CACHE[cls] = frozenset(found - RESERVED)
    return cached


class Stub:
    """A caller's handle on one object: its methods and properties, ``fetch``, ``id``, ``name``."""

    def __init__(self, namespace: Namespace, object_id: DurableObjectId) -> None:
        self._namespace = namespace
        self.id = object_id
        self._record = namespace.record(object_id)
        # The instance this stub reached first; if it is reset, this stub stays broken.
        self._instance: Instance | None = None

    @property
    def name(self) -> str | None:
        return self.id.name

    def __repr__(self) -> str:
        label = self.id.name if self.id.name is not None else str(self.id)[:12] + "…"
        return f"<Stub {self._namespace.name}:{label}>"

    def __dir__(self) -> list[str]:
        ns = self._namespace
        return sorted({*ns.methods, *ns.properties, "fetch", "id", "name"})

    def __getattr__(self, attr: str) -> Any:
        ns = self._namespace
        if attr in ns.methods:
            bound = _BoundMethod(self, attr)
            # Cache in the instance dict so the next lookup never reaches __getattr__.
            self.__dict__[attr] = bound
            return bound
        if attr in ns.properties:
            return _PropertyRead(self, attr)  # a new read each time: the value may change
        if attr.startswith("_"):
            raise AttributeError(attr)
        raise MethodNotFoundError(
            f'The RPC receiver does not implement the method "{attr}". {ns.name} '
            f"({ns.class_name}) has no RPC method or property {attr!r}; "
            f"{did_you_mean(attr, {*ns.methods, *ns.properties})}. Attributes set in "
            "__init__ are not reachable over RPC, on the platform either: expose them with a "
            "method or a @property.",
            object_name=ns.name,
            object_id=str(self.id),
            method_name=attr,
            remote=True,
        )

    def fetch(self, request: Any = None, /, **init: Any) -> RpcCall:
        """Send an HTTP request to the object's ``fetch`` handler (returns an awaitable)."""
        return RpcCall.for_fetch(self, fetch_request(request, init))

    # Notebook display: the live inspector, with a static HTML fallback.
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return display.mimebundle("stub", self)


# workerd refuses these as RPC arguments and results (checked in workerd 2026-04-26).
_codec.register_refusal(
    Stub, "DurableObject",
    "A Durable Object stub cannot be passed over RPC: pass its id as a string (str(stub.id)) "
    "or its name, and get a stub on the other side with env.<BINDING>.get(...).",
)
_codec.register_refusal(
    DurableObjectId, "DurableObjectId",
    "Pass str(id) instead and rebuild it with id_from_string() on the other side.",
)
_codec.register_refusal(
    Namespace, "DurableObjectNamespace",
    "Reach the namespace through env.<BINDING> on the other side instead.",
)


class _BoundMethod:
    """``stub.increment``: calling it makes an :class:`RpcCall`."""

    __slots__ = ("_name", "_stub")

    def __init__(self, stub: Stub, name: str) -> None:
        self._stub = stub
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> RpcCall:
        if self._name not in self._stub._namespace.methods:  # gone in a redeploy: look again
            self._stub.__dict__.pop(self._name, None)
            return getattr(self._stub, self._name)(*args, **kwargs)  # type: ignore[no-any-return]
        return RpcCall(self._stub, self._name, args, kwargs)

    def __await__(self) -> Generator[Any, None, Any]:
        raise ValidationError(
            f"{self._stub._namespace.name}.{self._name} is an RPC method: call it "
            f"(await stub.{self._name}(...)). Only properties are read with a bare await.",
            object_name=self._stub._namespace.name,
            method_name=self._name,
        )

    def __repr__(self) -> str:
        return f"<RPC method {self._stub._namespace.name}.{self._name}>"


def _other_tasks_ready(loop: Any) -> bool:
    """Is a task (not a plain callback) waiting to run on the caller's loop?

    Plain callbacks, such as a widget refresh queued after the last drive, must not make every
    call yield, or bursts of calls in one cell would no longer coalesce into one refresh.
    """
    for handle in getattr(loop, "_ready", ()):
        if isinstance(getattr(handle._callback, "__self__", None), asyncio.Task):
            return True
    return False


class RpcCall:
    """One call (an RPC method or ``fetch``), not sent until awaited (or passed to ``sb.run``).

    Awaiting it from the notebook drives the sandbox; from inside object code it is an
    ordinary await on the sandbox loop. Several awaited together (``asyncio.gather``) meet
    inside the sandbox as concurrent events, as they would on the platform.
    """

    __slots__ = (
        "__weakref__", "_args", "_kwargs", "_made", "_method", "_outcome", "_request", "_shared",
        "_stub",
    )

    def __init__(self, stub: Stub, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self._stub = stub
        self._method = method
        self._shared: asyncio.Future[Any] | None = None
        # (True, result) or (False, error) once sent and answered: an RpcPromise is sent
        # once, and every later await or pipelined step shares its outcome, as in workerd.
        self._outcome: tuple[bool, Any] | None = None
        self._made: list[Any] | None = None
        if args or kwargs:
            message = Message.from_here(stub._record.world, stub._record, f"argument of {method}()")
            self._args, self._kwargs, self._made = copy_arguments(self, message, args, kwargs)
        else:
            self._args, self._kwargs = args, kwargs
        self._request: Request | None = None
        if (args or kwargs) and not surely_small((args, kwargs), stub._record.world.limits):
            _check_size(stub, (args, kwargs), f"the arguments of {method}()")

    @classmethod
    def for_fetch(cls, stub: Stub, request: Request) -> RpcCall:
        """A ``fetch`` call carrying ``request`` (already the object's own copy)."""
        call = cls.__new__(cls)
        call._stub = stub
        call._method = "fetch"
        call._args, call._kwargs = (), {}
        call._request = request
        call._shared = call._made = call._outcome = None
        return call

    def __getattr__(self, name: str) -> Pipeline:
        """``stub.make_counter(10).inc``: a member of the result, pipelined (not awaited)."""
        if name.startswith("_"):
            raise AttributeError(name)
        return Pipeline(self._stub._record.world, self, (name,), (), {}, call=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Pipeline:
        """``stub.make_doubler()(5)``: call the function the call returns, pipelined."""
        return Pipeline(self._stub._record.world, self, (), args, kwargs, call=True)

    async def _resolve(self) -> Any:
        """The result, computed once however many pipelined steps follow this call."""
        if self._outcome is not None:
            return _settled(self._outcome)
        if self._shared is None:
            self._shared = asyncio.ensure_future(self._invoke(), loop=self._stub._record.world.loop)
        return await self._shared

    def __repr__(self) -> str:
        target = self._stub._namespace.name
        if self._request is not None:
            what = f"fetch {self._request.method} {self._request.url} to {target}"
        else:
            what = f"{target}.{self._method}(...)"
        return f"<RpcCall {what} not sent yet: await it, or pass it to sb.run()>"

    @property
    def _what(self) -> str:
        """How the driver names this call in its errors."""
        if self._request is not None:
            return f"fetch({self._request.url})"
        return f"{self._method}()"

    def _dosandbox_coroutine(self) -> Any:
        """The coroutine a driver runs for this call (skips one await layer)."""
        return self._invoke()

    def _attach(self) -> None:
        """Fail at once through a stub whose instance was reset; else attach it to the live one."""
        stub = self._stub
        bound = stub._instance
        if bound is not None and bound.reset_error is not None and not bound.replaced:
            raise fresh_error(bound.reset_error)
        record = stub._record
        live = record.instance
        if live is None and (self._request is None or callable(getattr(record.namespace.cls,
                                                                        "fetch", None))):
            live = record.ensure_instance(stub)  # a constructor that raises keeps it attached
        stub._instance = live

    async def _invoke(self) -> Any:
        made = self._made  # the callee's stubs of our arguments: they go when the call returns
        self._attach()
        record = self._stub._record
        try:
            if self._request is not None:
                answer = await deliver_fetch(record, self._request)
            else:
                args, kwargs, method = self._args, self._kwargs, self._method

                def call(obj: Any) -> Any:
                    return getattr(obj, method)(*args, **kwargs)

                result = await record.deliver("rpc", method, call)
                # Copied before the argument stubs go: a method may hand back what it was given.
                answer = self._result(result, f"{method}() result")
        except Exception as exc:
            self._outcome = (False, exc)
            raise
        else:
            self._outcome = (True, answer)
            return answer
        finally:
            if made:
                self._made = None
                dispose_all(made)

    def _result(self, result: Any, path: str) -> Any:
        if type(result) in SMALL_TYPES or type(result) is str:
            return result
        stub = self._stub
        message = Message.result_of(stub._record, stub._instance, f"result of {path[:-7]}")
        try:
            copy = _codec.clone(result, path=path, sender=message)
        except DataCloneError as exc:
            exc.remote = True  # workerd: the result failed to serialize on the other side
            raise
        if message.made and self._shared is not None:
            # Only followed by pipelined steps: its stubs go when the call object does.
            weakref.finalize(self, dispose_all, message.made)
        if type(copy) not in SMALL_TYPES and not surely_small((copy,),
                                                              self._stub._record.world.limits):
            _check_size(self._stub, copy, f"the result of {path.removesuffix(' result')}",
                        remote=True)
        return copy

    def __await__(self) -> Generator[Any, None, Any]:
        world = self._stub._record.world
        running = _get_running_loop()
        if self._outcome is not None:  # sent and answered already: the same outcome again
            return _settled(self._outcome)
        if self._shared is not None:  # already sent for a pipelined step: share its result
            return (yield from drive_or_await(world, self._resolve, self._what))
        if running is world.loop:
            # Inside object code: an ordinary await on the sandbox loop.
            return (yield from self._invoke().__await__())
        if running is not None and _other_tasks_ready(running):
            # Other tasks of the caller's loop are ready, e.g. siblings in asyncio.gather():
            # send this call, let them send theirs, then drive. The calls then meet inside
            # the sandbox as concurrent events, as they would on the platform.
            task = world.loop.create_task(self._invoke())
            yield
            return world.driver.drive(task, self._what)
        return world.driver.drive(self._invoke(), self._what)


class _PropertyRead(RpcCall):
    """``await stub.prop``: reads a property (getter) of the object over RPC."""

    __slots__ = ()

    def __init__(self, stub: Stub, name: str) -> None:
        super().__init__(stub, name, (), {})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        ns = self._stub._namespace
        raise MethodNotFoundError(
            f'"{self._method}" is not a function. {ns.name}.{self._method} is a property: read '
            f"it with `await stub.{self._method}` (no call).",
            object_name=ns.name,
            object_id=str(self._stub.id),
            method_name=self._method,
            remote=True,
        )

    def __repr__(self) -> str:
        return (f"<RpcCall read {self._stub._namespace.name}.{self._method} not sent yet: "
                "await it, or pass it to sb.run()>")

    @property
    def _what(self) -> str:
        return f"reading {self._method}"

    async def _invoke(self) -> Any:
        self._attach()
        name = self._method
        result = await self._stub._record.deliver("rpc", name, lambda obj: getattr(obj, name))
        return self._result(result, f"{name} result")


# A call not awaited yet (workerd: an RpcPromise) is refused as an argument, so a pipeline can
# never take its own result (checked in workerd 2026-04-26).
for _call_class in (RpcCall, _PropertyRead):
    _codec.register_refusal(
        _call_class, "RpcPromise",
        "A call that was not awaited cannot be passed over RPC: await it first and pass its "
        "result.",
    )
_codec.register_refusal(
    _BoundMethod, "DurableObject",
    "A method of a Durable Object stub cannot be passed over RPC: pass the object's name or "
    "id and call the method on the other side.",
)


def _check_size(stub: Stub, value: Any, what: str, *, remote: bool = False) -> None:
    check_size(stub._record.world.limits, value, what, remote=remote,
               object_name=stub._namespace.name, object_id=str(stub.id))
