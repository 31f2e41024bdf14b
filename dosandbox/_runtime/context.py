"""``ctx``: what object code sees — state, storage, env, alarms, sockets, concurrency.

It plays both the cloudwerk API's ``DurableObjectContext`` (``state``, ``set_state``, ``sql``...)
and the platform's ``DurableObjectState`` (``id``, ``storage``, ``block_concurrency_while``...).
camelCase names (``setState``, ``blockConcurrencyWhile``) resolve through the alias table.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from .._core.aliases import AliasMixin
from .._core.done import DONE
from .._core.errors import ValidationError, WebSocketError
from .._core.record import DropReason, ResetUnwind, current_scope
from .._storage.sql import SqlStorage
from .._storage.storage import Storage
from .parts import alarm_for, existing_sockets, sockets_for, storage_for
from .sockets import auto_response_copy, auto_response_timestamp, get_tags

if TYPE_CHECKING:
    from .._core.ids import DurableObjectId
    from .._core.record import Instance, ObjectRecord

__all__ = ["DurableObjectContext"]


class DurableObjectContext(AliasMixin):
    """The context passed to every method and handler of one live instance."""

    def __init__(self, record: ObjectRecord, instance: Instance) -> None:
        self._record = record
        self._instance = instance
        self._state: Any = None
        self.id: DurableObjectId = record.id
        self.env: Any = record.world.env

    def __repr__(self) -> str:
        return f"<DurableObjectContext {self._record.namespace.name} {str(self.id)[:12]}…>"

    # --- in-memory state (the cloudwerk API) -------------------------------------------------

    @property
    def state(self) -> Any:
        return self._state

    @state.setter
    def state(self, value: Any) -> None:
        self._state = value

    def _set_initial_state(self, value: Any) -> None:
        self._state = value

    def get_state(self) -> Any:
        return self._state

    def set_state(self, updates: Mapping[str, Any] | None = None, /, **more: Any) -> Any:
        """Merge ``updates`` into the state (a dict, a dataclass or any object)."""
        if updates is not None and not isinstance(updates, Mapping):
            raise ValidationError(
                f"set_state() takes a mapping or keyword arguments, not {type(updates).__name__}."
            )
        merged = {**(updates or {}), **more}
        state = self._state
        if state is None:
            self._state = dict(merged)
        elif isinstance(state, dict):
            state.update(merged)
        elif dataclasses.is_dataclass(state) or hasattr(state, "__dict__"):
            for key, value in merged.items():
                setattr(state, key, value)
        else:
            raise ValidationError(
                f"set_state() cannot merge into a state of type {type(state).__name__}; make "
                "init return a dict, a dataclass or an object with attributes."
            )
        return self._state

    # --- storage ----------------------------------------------------------------------------

    @property
    def storage(self) -> Storage:
        return storage_for(self._record)

    @property
    def sql(self) -> SqlStorage:
        return self.storage.sql

    # --- alarms (storage operations on the platform) ----------------------------------------

    # Straight to the alarm scheduler rather than through ctx.storage, which would open a
    # SQLite database for objects that only use alarms (the scheduler persists through storage
    # itself when the sandbox persists).
    # Like storage's, the changes happen at call time; the awaitable returned is already done.
    def set_alarm(self, scheduled_time: Any) -> Awaitable[None]:
        alarm_for(self._record).set_now(scheduled_time)
        return DONE

    async def get_alarm(self) -> int | None:
        return alarm_for(self._record).time_ms

    def delete_alarm(self) -> Awaitable[None]:
        alarm_for(self._record).delete_now()
        return DONE

    # --- WebSockets (the hibernation API; sockets live on the record, not the instance) ------

    def accept_web_socket(self, ws: Any, tags: list[str] | None = None) -> None:
        """Accept ``ws`` (``pair[1]``) so its events reach this object's handlers."""
        sockets_for(self._record).accept(ws, tags)

    def get_web_sockets(self, tag: str | None = None) -> list[Any]:
        """The connected sockets this object accepted, or those with ``tag``."""
        if tag is not None and not isinstance(tag, str):
            raise WebSocketError(
                f"get_web_sockets(tag=...) takes a str tag (or nothing, for every socket), not "
                f"{type(tag).__name__} {tag!r}. Tags are strings (the platform would look up "
                f"the text {str(tag)!r}); write get_web_sockets(tag=str(...))."
            )
        reg = existing_sockets(self._record)
        return reg.get(tag) if reg is not None else []

    def get_tags(self, ws: Any) -> list[str]:
        return get_tags(ws)

    def set_web_socket_auto_response(self, pair: Any = None) -> None:
        """Answer a matching text message without waking the object; no argument removes it."""
        sockets_for(self._record).set_auto_response(pair)

    def get_web_socket_auto_response(self) -> Any:
        return auto_response_copy(existing_sockets(self._record))

    def get_web_socket_auto_response_timestamp(self, ws: Any) -> Any:
        """When ``ws`` was last answered by the auto-response (UTC datetime), or None."""
        return auto_response_timestamp(ws)

    def set_hibernatable_web_socket_event_timeout(self, timeout_ms: Any = None) -> None:
        """Cancel a socket handler still running after ``timeout_ms``; None or 0 unsets it."""
        sockets_for(self._record).set_event_timeout(timeout_ms)

    def get_hibernatable_web_socket_event_timeout(self) -> int | None:
        reg = existing_sockets(self._record)
        return None if reg is None else reg.event_timeout_ms

    # --- concurrency ------------------------------------------------------------------------

    def block_concurrency_while(self, fn: Callable[[], Awaitable[Any] | Any]) -> asyncio.Task[Any]:
        """Hold every other event until ``fn`` finishes; await the result if you need it.

        If ``fn`` raises, the instance is reset, as on the platform.
        """
        if not callable(fn):
            raise ValidationError(
                "block_concurrency_while() takes a function (async def or def), not "
                f"{type(fn).__name__}. Pass the function itself, not its call."
            )
        return self._record.block_concurrency_while(self._instance, fn)

    def abort(self, reason: str | None = None) -> NoReturn:
        """Reset this object now, as the platform's ``ctx.abort()`` does.

        The running code stops here (``except Exception`` does not catch it); this call's
        caller, the queued and in-flight events and every later call through a stub that
        reached this instance fail with ``DurableObjectResetError`` (``durable_object_reset``)
        whose message is ``reason`` (workerd's default: "Application called abort() to reset
        Durable Object."). A new stub reaches a fresh instance; storage and the alarm stay.
        """
        if reason is not None and not isinstance(reason, str):
            raise ValidationError(
                f"abort() takes a reason string (or nothing), not {type(reason).__name__} "
                f"{reason!r:.60}. Pass str(...) of it: the platform turns any reason into text."
            )
        if current_scope.get() is None:
            raise ValidationError(
                "ctx.abort() resets the object from inside its own code (a method, handler or "
                "alarm). From the notebook, call a method that aborts, or drop the instance "
                "with sb.inspect(stub).evict()."
            )
        record = self._record
        message = reason if reason is not None else (
            "Application called abort() to reset Durable Object."
        )
        record.emit("reset", f"ctx.abort(): {message}")
        raise ResetUnwind(record.reset(self._instance, DropReason.ABORTED, message))

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        """Run ``awaitable`` in the background; it does not delay the current event."""
        if not inspect.isawaitable(awaitable):
            raise ValidationError(
                f"wait_until() takes an awaitable (a coroutine or a task), not "
                f"{type(awaitable).__name__}."
            )
        loop = self._record.world.loop
        task = loop.create_task(_as_coroutine(awaitable))
        background = self._instance.background
        background.add(task)
        record = self._record

        def done(t: asyncio.Task[Any]) -> None:
            background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                err = t.exception()
                record.emit("error", f"wait_until task raised {type(err).__name__}: {err}")

        task.add_done_callback(done)


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
