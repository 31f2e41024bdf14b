"""``sb.inspect(stub)``: the sandbox's view of one object from outside.

Handles never exist on the platform; they are how we teach. They read the object's in-memory
state, storage, sockets, alarm and events without sending it an event, and can evict it.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .._core import display
from .._core.errors import ValidationError, WebSocketError
from .._core.events import events_frame
from .._core.record import DropReason
from .._runtime.namespace import Stub
from .._runtime.parts import existing_sockets
from .._runtime.rpc import live_stubs
from .._runtime.sockets import sockets_frame

if TYPE_CHECKING:
    from .._core.events import StepReport
    from .client import SimulatedClient
    from .in_flight import InFlight
    from .state_at import PastState

__all__ = ["INSPECTOR_TABS", "Handle", "HandleSnapshot"]

# The inspector's tabs, in order (``sb.inspect(stub, tab="KV")`` opens it on one).
INSPECTOR_TABS = ("State", "KV", "SQL", "Sockets", "Alarm", "Events", "Stubs", "Timeline")


def tab_title(tab: Any) -> str:
    """The inspector tab ``tab`` names (any case), or a ValidationError listing the tabs."""
    if isinstance(tab, str):
        for title in INSPECTOR_TABS:
            if title.lower() == tab.strip().lower():
                return title
    raise ValidationError(
        f"The inspector has no tab {tab!r}; pass one of {', '.join(INSPECTOR_TABS)} "
        "(or leave tab out to open the most telling one)."
    )


class Handle:
    """Look inside one object: ``.state``, ``.kv``, ``.tables``, ``.sql()``, ``.events``..."""

    def __init__(self, stub: Stub, *, tab: str | None = None) -> None:
        if not isinstance(stub, Stub):
            raise ValidationError(
                f"inspect() takes a stub (sb.durable_objects.<name>.get(...)), not "
                f"{type(stub).__name__}."
            )
        self._record = stub._record
        self.stub = stub
        # The tab the inspector opens on; None: the most telling one when it is shown.
        self.tab: str | None = None if tab is None else tab_title(tab)

    def __repr__(self) -> str:
        r = self._record
        return f"<Handle {r.namespace.name} {r.hex[:12]}… {r.status}>"

    @property
    def name(self) -> str:
        return self._record.namespace.name

    @property
    def id(self) -> str:
        return self._record.hex

    @property
    def sandbox(self) -> Any:
        """The Sandbox this object lives in."""
        return self._record.world.view_subject

    @property
    def object_key(self) -> str | None:
        """The name the object was reached by (``get("alice")`` → ``"alice"``), or None."""
        return self._record.id.name

    @property
    def instance_number(self) -> int:
        """How many instances the object has had (1 after the first, 2 after an eviction...)."""
        return self._record.generation

    @property
    def events_delivered(self) -> int:
        """How many events (calls, fetches, alarms, socket messages) reached the object."""
        return self._record.events_delivered

    @property
    def status(self) -> str:
        """``live``, ``evicted``, ``redeployed`` (new code, not started yet) or ``not created``."""
        return self._record.status

    @property
    def is_live(self) -> bool:
        return self._record.instance is not None

    @property
    def instance(self) -> Any:
        """The live instance of your class (None when evicted), for debugging."""
        inst = self._record.instance
        return inst.obj if inst is not None else None

    @property
    def state(self) -> Any:
        """The in-memory state (``ctx.state``), or None when there is no live instance."""
        inst = self._record.instance
        return inst.ctx.state if inst is not None else None

    @property
    def in_flight(self) -> int:
        inst = self._record.instance
        return inst.in_flight if inst is not None else 0

    def in_flight_events(self) -> list[InFlight]:
        """Each event in flight, with the line of your code it waits at and what it awaits.

        Events queued behind ``block_concurrency_while`` have not started: ``gate_queue``
        counts them.
        """
        from .in_flight import in_flight_events

        inst = self._record.instance
        return [] if inst is None else in_flight_events(inst)[0]

    @property
    def gate_queue(self) -> int:
        """Events waiting at the input gate (held by ``block_concurrency_while``)."""
        inst = self._record.instance
        return 0 if inst is None else int(inst.gate.queued)

    @property
    def sockets(self) -> Any:
        """Accepted sockets as a DataFrame: id, tags, attachment, ready state, traffic."""
        return sockets_frame(existing_sockets(self._record))

    @property
    def socket_count(self) -> int:
        """How many sockets the object has accepted and not yet closed (no DataFrame made)."""
        reg = existing_sockets(self._record)
        return 0 if reg is None else reg.count

    def client(self, socket_id: str) -> SimulatedClient:
        """The simulated client (``sb.connect``) at the far end of accepted socket ``socket_id``."""
        reg = existing_sockets(self._record)
        sockets = reg.every() if reg is not None else []
        for ws in sockets:
            if ws.id == socket_id:
                client = ws._peer._client
                if client is None:
                    raise WebSocketError(
                        f"{socket_id} has no simulated client at its other end, so nobody can "
                        "send as one here; connect with sb.connect(stub, url) instead.",
                        socket=socket_id,
                    )
                return client  # type: ignore[return-value]
        known = ", ".join(str(ws.id) for ws in sockets) or "none"
        raise WebSocketError(
            f"{self.name} has no open socket {socket_id!r} (it closed meanwhile?); its open "
            f"sockets: {known}. Pass one of those ids (handle.sockets lists them).",
            socket=socket_id,
        )

    @property
    def events(self) -> Any:
        """This object's events as a DataFrame, oldest first."""
        return events_frame(self.event_list())

    def event_list(self) -> list[Any]:
        """This object's events as a list of :class:`~dosandbox.Event`, oldest first."""
        return self._record.world.event_log.select(object_id=self._record.hex)

    @property
    def stubs(self) -> list[dict[str, Any]]:
        """The live capability stubs (functions, RpcTargets) this object owns or holds, oldest
        first: ``stub`` number, ``kind``, ``what``, ``owner`` (where it lives), ``holder``,
        ``via`` (the call that brought it) and ``calls``."""
        return [stub._describe() for stub in live_stubs(self._record.world, self._record)]

    @property
    def alarm(self) -> dict[str, Any] | None:
        """The pending alarm (``time_ms``, ``datetime``, ``in_seconds``, ``retry_count``)."""
        from .alarm_view import alarm_view

        return alarm_view(self._record)

    def fire_alarm(self) -> StepReport:
        """Run the pending alarm now, without moving the clock (for debugging).

        Raises AlarmError when no alarm is set. Returns the events the run produced.
        """
        from .alarm_view import fire_now

        return fire_now(self._record)

    def delete_alarm(self, by: str = "handle.delete_alarm()") -> None:
        """Delete the pending alarm from outside, as ``ctx.storage.delete_alarm()`` would.

        ``by`` names who deleted it in the event log. Does nothing when no alarm is set.
        """
        from .alarm_view import delete_alarm

        delete_alarm(self._record, by)

    # --- storage (reads never send the object an event and never create a database) ---------

    @property
    def kv(self) -> Any:
        """KV contents as a DataFrame (key, value, type, size), the first 1,000 keys.

        Page through more with ``kv_page(offset=, limit=, prefix=)``; ``kv_count()`` counts.
        """
        return self.kv_page(0, 1_000)

    def kv_page(self, offset: int = 0, limit: int = 100, prefix: str | None = None) -> Any:
        """One page of KV contents in key order, as a DataFrame (cheap for a million keys)."""
        from .storage_view import kv_frame

        return kv_frame(self._record, offset, limit, prefix)

    def kv_count(self, prefix: str | None = None) -> int:
        """How many keys are stored (those starting with ``prefix``)."""
        from .storage_view import kv_count

        return kv_count(self._record, prefix)

    @property
    def tables(self) -> dict[str, Any]:
        """Your SQL tables: name → DataFrame (the first 1,000 rows of each)."""
        from .storage_view import tables

        return tables(self._record)

    def sql(self, query: str, *bindings: Any, write: bool = False) -> Any:
        """Run SQL on the object's database → DataFrame; read-only unless ``write=True``."""
        from .storage_view import run_sql

        return run_sql(self._record, query, bindings, write=write)

    def at(self, when: Any) -> PastState:
        """The object's storage as it was at ``when``, read-only, with a diff against now.

        ``when``: an :class:`~dosandbox.Event` (``event_list()``), an event's ``seq``, a
        datetime or epoch milliseconds on the virtual clock (an int from 100,000,000,000 on is
        a time, a smaller one a seq). Gives ``kv`` and ``tables`` (DataFrames), ``alarm``,
        ``diff`` (``kv``, ``rows``, ``schema``: what changed since) and ``bookmark`` (restore
        it with ``on_next_session_restore_bookmark``). Built from the point-in-time recovery
        history; states older than it keeps are a ValidationError naming the limit.
        """
        from .state_at import state_at

        return state_at(self._record, when)

    def seed_kv(self, entries: Any) -> int:
        """Put ``entries`` (a dict) into storage from outside, e.g. before the first event."""
        from .storage_view import seed_kv

        return seed_kv(self._record, entries)

    @property
    def storage_size(self) -> int:
        """Bytes used by the object's database (``ctx.sql.database_size``)."""
        from .storage_view import storage_size

        return storage_size(self._record)

    def evict(self, *, web_sockets: str = "hibernate") -> bool:
        """Drop the live instance as the platform does after idleness or a deploy.

        In-memory state is lost; storage, the alarm and hibernatable sockets stay (with
        ``web_sockets="close"`` its sockets are closed too, as vitest's
        ``evictDurableObject(stub, {webSockets: "close"})``). The next event runs ``init``
        again. Returns False when there was nothing to evict.
        """
        if web_sockets not in ("hibernate", "close"):
            raise ValidationError(
                f"evict(web_sockets=...) takes 'hibernate' (the default: sockets stay "
                f"connected) or 'close', not {web_sockets!r}."
            )
        record = self._record
        instance = record.instance
        if instance is not None and instance.in_flight:
            raise ValidationError(
                f"{record.namespace.name} has {instance.in_flight} event(s) in flight; the "
                "platform only evicts idle objects. Let them finish first (move the clock).",
                object_name=record.namespace.name,
                object_id=record.hex,
            )
        closing = web_sockets == "close"
        reason = DropReason.EVICTED_CLOSING_SOCKETS if closing else DropReason.EVICTED
        dropped = record.drop_instance(reason)
        if dropped:
            record.emit("evicted", f"instance {reason}: in-memory state dropped")
        elif closing:
            # Nothing live, but hibernated sockets may still be connected.
            record.parts.on_drop(reason)
        return dropped

    def hibernate(self) -> bool:
        """The platform's name for evicting an object whose sockets stay connected."""
        return self.evict()

    def widget(self, tab: str | None = None) -> Any:
        """The live inspector for this object, opened on ``tab`` (default: ``self.tab``)."""
        if tab is not None:
            return display.widget("handle", Handle(self.stub, tab=tab))
        return display.widget("handle", self)

    def snapshot(self) -> HandleSnapshot:
        """A frozen view of the object now: it shows this moment, whatever happens later.

        Use it for the "before" of a before/after: a live inspector would show "after" once
        the later cells ran.
        """
        return HandleSnapshot(self)

    def _repr_html_(self) -> str:
        return display.html("handle", self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return display.mimebundle("handle", self)


def escape(value: Any) -> str:
    return html.escape(str(value))


class HandleSnapshot:
    """``handle.snapshot()``: the object's views as they were when it was taken (static)."""

    def __init__(self, handle: Handle) -> None:
        sandbox = handle.sandbox
        self.time_ms: int = sandbox.clock.now_ms
        self.object_name = handle.name
        self.status = handle.status
        when = sandbox.clock.format_ms(self.time_ms)
        caption = (
            f'<div style="font-size:12px;color:var(--jp-ui-font-color2)">Snapshot of '
            f"{escape(handle.name)} at {escape(when)} (virtual time): frozen, later changes do "
            "not show here.</div>"
        )
        self.html: str = caption + display.html("handle", handle)
        self._text = f"{handle!r} at {when}"

    def __repr__(self) -> str:
        return f"<HandleSnapshot {self._text}>"

    def _repr_html_(self) -> str:
        return self.html
