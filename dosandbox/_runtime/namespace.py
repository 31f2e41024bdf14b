"""Namespaces, stubs and RPC calls: what a caller of an object holds.

A stub's public attributes are the object's RPC methods, ``fetch``, ``id`` and ``name``, and
nothing else, so a user method may be called ``state`` or ``inspect``. Calling a method returns
an :class:`RpcCall`: awaiting it from the notebook drives the sandbox; awaiting it from inside
object code is an ordinary await on the sandbox loop. Arguments and results are copied through
the structured-clone codec, as the platform copies them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from .._core import codec as _codec
from .._core import display
from .._core.aliases import AliasMixin
from .._core.errors import InvalidIdError, MethodNotFoundError, did_you_mean
from .._core.ids import DurableObjectId, IdFactory
from .._core.loop import _get_running_loop
from .._core.naming import binding_name
from .._core.record import Instance, ObjectRecord
from .._core.world import World
from .._storage.storage import persisted_object_ids
from .alarms import META_KEY
from .context import DurableObjectContext
from .http import Request, deliver_fetch, fetch_request
from .object import rpc_methods
from .parts import Parts, alarm_for, storage_for

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

    def new_unique_id(self, *, jurisdiction: str | None = None) -> DurableObjectId:
        if jurisdiction is not None:
            raise InvalidIdError(
                "Jurisdiction restrictions are not implemented in the sandbox (nor in workerd, "
                "the local runtime); drop jurisdiction= here, it only matters when deployed.",
                object_name=self.name,
            )
        return self._ids.new_unique()

    def id_from_string(self, text: str) -> DurableObjectId:
        return self._ids.from_string(text)

    # --- stubs -------------------------------------------------------------------------------

    def get(self, name_or_id: str | DurableObjectId) -> Stub:
        """A stub by name (``get("user-123")``) or by id. Creates nothing until it is used."""
        if isinstance(name_or_id, DurableObjectId):
            return self.get_by_id(name_or_id)
        if isinstance(name_or_id, str):
            return self.get_by_name(name_or_id)
        raise InvalidIdError(
            f"{self.name}.get() takes a name (str) or a DurableObjectId, not "
            f"{type(name_or_id).__name__} {name_or_id!r}.",
            object_name=self.name,
        )

    def get_by_name(self, name: str) -> Stub:
        return Stub(self, self._ids.from_name(name))

    def get_by_id(self, object_id: DurableObjectId) -> Stub:
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
        """Schedule the alarms persisted with this namespace's objects; returns how many."""
        restored = 0
        for hex_id in persisted_object_ids(self.world.persist, self.name):
            record = self.record(self.id_from_string(hex_id))
            value = storage_for(record)._meta_get(META_KEY)
            if value is not None:
                alarm_for(record)._restore(value)
                restored += 1
        return restored

    def record(self, object_id: DurableObjectId) -> ObjectRecord:
        key = str(object_id)
        record = self.records.get(key)
        if record is None:
            record = ObjectRecord(self, object_id)
            self.records[key] = record
        return record


class Stub:
    """A caller's handle on one object: its methods, ``fetch``, ``id`` and ``name``."""

    def __init__(self, namespace: Namespace, object_id: DurableObjectId) -> None:
        self._namespace = namespace
        self.id = object_id
        self._record = namespace.record(object_id)

    @property
    def name(self) -> str | None:
        return self.id.name

    def __repr__(self) -> str:
        label = self.id.name if self.id.name is not None else str(self.id)[:12] + "…"
        return f"<Stub {self._namespace.name}:{label}>"

    def __dir__(self) -> list[str]:
        return sorted({*self._namespace.methods, "fetch", "id", "name"})

    def __getattr__(self, attr: str) -> _BoundMethod:
        if attr in self._namespace.methods:
            bound = _BoundMethod(self, attr)
            # Cache in the instance dict so the next lookup never reaches __getattr__.
            self.__dict__[attr] = bound
            return bound
        if attr.startswith("_"):
            raise AttributeError(attr)
        ns = self._namespace
        raise MethodNotFoundError(
            f"{ns.name} ({ns.class_name}) has no RPC method {attr!r}; "
            f"{did_you_mean(attr, ns.methods)}.",
            object_name=ns.name,
            object_id=str(self.id),
            method_name=attr,
        )

    def fetch(self, request: Any = None, /, **init: Any) -> RpcCall:
        """Send an HTTP request to the object's ``fetch`` handler (returns an awaitable)."""
        return RpcCall.for_fetch(self, fetch_request(request, init))

    # Notebook display: the live inspector, with a static HTML fallback.
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return display.mimebundle("stub", self)


_codec.register_passthrough(Stub)


class _BoundMethod:
    """``stub.increment``: calling it makes an :class:`RpcCall`."""

    __slots__ = ("_name", "_stub")

    def __init__(self, stub: Stub, name: str) -> None:
        self._stub = stub
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> RpcCall:
        return RpcCall(self._stub, self._name, args, kwargs)

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

    __slots__ = ("_args", "_kwargs", "_method", "_request", "_stub")

    def __init__(self, stub: Stub, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self._stub = stub
        self._method = method
        # Arguments are copied when the call is made, as the platform serializes them then.
        self._args = _codec.clone(args, path="args") if args else args
        self._kwargs = _codec.clone(kwargs, path="kwargs") if kwargs else kwargs
        self._request: Request | None = None

    @classmethod
    def for_fetch(cls, stub: Stub, request: Request) -> RpcCall:
        """A ``fetch`` call carrying ``request`` (already the object's own copy)."""
        call = cls.__new__(cls)
        call._stub = stub
        call._method = "fetch"
        call._args, call._kwargs = (), {}
        call._request = request
        return call

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

    async def _invoke(self) -> Any:
        if self._request is not None:
            return await deliver_fetch(self._stub._record, self._request)
        args, kwargs, method = self._args, self._kwargs, self._method

        def call(obj: Any) -> Any:
            return getattr(obj, method)(*args, **kwargs)

        result = await self._stub._record.deliver("rpc", method, call)
        return _codec.clone(result, path=f"{method}() result")

    def __await__(self) -> Generator[Any, None, Any]:
        world = self._stub._record.world
        running = _get_running_loop()
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
