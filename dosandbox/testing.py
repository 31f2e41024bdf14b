"""pytest fixtures and assertions for testing your objects (the ``dosandbox`` pytest plugin).

Installing dosandbox registers this module with pytest (entry point ``pytest11``), so the
fixtures need no import; see docs/testing.md for a full walk-through.

``do_sandbox``: a fresh in-memory :class:`~dosandbox.Sandbox` with a manual clock at a fixed
start (2026-01-01T00:00:00Z) and a fixed random seed, closed after the test. ``do_clock``: its
clock. The names carry a ``do_`` prefix so they cannot clash with fixtures of your own called
``sandbox`` or ``clock``.

``assert_events(source, expected, ...)``: the event log shows these kinds, in this order::

    from dosandbox.testing import assert_events

    def test_increment_writes(do_sandbox):
        do_sandbox.register("counter", counter)
        stub = do_sandbox.durable_objects.counter.get("a")
        do_sandbox.run(stub.increment(1))
        assert_events(stub, ["instance.created", "kv.put", "rpc"])

An expected kind matches an event kind exactly, or as a dotted prefix (``"kv"`` matches
``kv.put`` and ``kv.delete``), or as a glob (``"alarm.*"``). By default other events may come in
between (an ordered subsequence); ``exact=True`` wants exactly these events, one for one.

What vitest's ``cloudflare:test`` offers, for tests ported from it (the camelCase names work
too: ``from dosandbox.testing import runDurableObjectAlarm``)::

    evict(stub)                      evictDurableObject(stub); web_sockets="close" closes them
    evict_all(sb)                    evictAllDurableObjects()
    run_alarm(stub)                  runDurableObjectAlarm(stub): True if an alarm ran
    list_durable_object_ids(ns)      listDurableObjectIds(ns): objects that exist
    run_in_durable_object(stub, fn)  runInDurableObject(stub, (instance, ctx) => ...)
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pytest

from ._core.aliases import module_aliases
from ._core.clock import VirtualClock
from ._core.errors import ValidationError
from ._core.events import Event
from ._core.ids import DurableObjectId
from ._notebook.handle import Handle
from ._runtime.namespace import Namespace, RpcCall, Stub
from ._sandbox import Sandbox, active_sandbox

__all__ = [
    "FIXED_START", "assert_events", "do_clock", "do_sandbox", "evict", "evict_all", "kind_matches",
    "list_durable_object_ids", "run_alarm", "run_in_durable_object",
]

FIXED_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def do_sandbox() -> Iterator[Sandbox]:
    """A fresh in-memory sandbox, manual clock at 2026-01-01T00:00Z, seed 0."""
    sb = Sandbox(start=FIXED_START, seed=0)
    try:
        yield sb
    finally:
        sb.close()


@pytest.fixture
def do_clock(do_sandbox: Sandbox) -> VirtualClock:
    """The ``do_sandbox`` fixture's virtual clock."""
    return do_sandbox.clock


# --- vitest's cloudflare:test helpers ----------------------------------------------------------


def _stub(stub: Any, helper: str) -> Stub:
    if not isinstance(stub, Stub):
        raise ValidationError(
            f"{helper}() takes a stub (sb.durable_objects.<name>.get(...)), not "
            f"{type(stub).__name__}."
        )
    return stub


def evict(stub: Stub, *, web_sockets: str = "hibernate") -> bool:
    """Evict the object behind ``stub`` (vitest's ``evictDurableObject``); False if not live.

    In-memory state is dropped; storage and the alarm stay; hibernatable sockets stay
    connected, or are closed with ``web_sockets="close"``.
    """
    return Handle(_stub(stub, "evict")).evict(web_sockets=web_sockets)


def evict_all(sandbox: Sandbox | None = None) -> int:
    """Evict every live object (vitest's ``evictAllDurableObjects``); returns how many.

    ``sandbox`` defaults to the active one (the newest, or the last ``activate()``-d).
    """
    if sandbox is None:
        sandbox = active_sandbox()
    if not isinstance(sandbox, Sandbox):
        raise ValidationError(f"evict_all() takes a Sandbox, not {type(sandbox).__name__}.")
    return sandbox.evict_all()


def run_alarm(stub: Stub) -> bool:
    """Run the object's pending alarm now (vitest's ``runDurableObjectAlarm``).

    Returns True if an alarm ran, False if none was set. The clock does not move.
    """
    handle = Handle(_stub(stub, "run_alarm"))
    if handle.alarm is None:
        return False
    handle.fire_alarm()
    return True


def list_durable_object_ids(namespace: Namespace) -> list[DurableObjectId]:
    """The ids of the namespace's objects that exist (vitest's ``listDurableObjectIds``).

    An object exists once an event reached it or it holds storage; stubs never called don't
    count.
    """
    if not isinstance(namespace, Namespace):
        raise ValidationError(
            "list_durable_object_ids() takes a namespace (sb.durable_objects.<name>), not "
            f"{type(namespace).__name__}."
        )
    return [record.id for record in namespace.known_records()]


class _InObject(RpcCall):
    """``fn(instance, ctx)`` delivered to the object as one event; its result is not copied."""

    __slots__ = ("_fn",)

    def __init__(self, stub: Stub, fn: Callable[[Any, Any], Any]) -> None:
        super().__init__(stub, "run_in_durable_object", (), {})
        self._fn = fn

    async def _invoke(self) -> Any:
        self._attach()
        fn = self._fn
        return await self._stub._record.deliver(
            "test", "run_in_durable_object", lambda obj: fn(obj, obj.ctx)
        )


def run_in_durable_object(stub: Stub, fn: Callable[[Any, Any], Any]) -> Any:
    """Run ``fn(instance, ctx)`` inside the object and return what it returns (drives).

    vitest's ``runInDurableObject``: ``fn`` (def or async def) gets your class's live instance
    and its ``ctx``, through the input gate like any event, to seed or inspect state.
    """
    stub = _stub(stub, "run_in_durable_object")
    if not callable(fn):
        raise ValidationError(
            f"run_in_durable_object() takes a function (instance, ctx), not {type(fn).__name__}."
        )
    call = _InObject(stub, fn)
    return stub._record.world.driver.drive(call._invoke(), "run_in_durable_object()")


# vitest's names, for ported tests; resolved here so they stay out of dir() and completion.
__getattr__ = module_aliases(__name__, {
    "evictDurableObject": "evict",
    "evictAllDurableObjects": "evict_all",
    "runDurableObjectAlarm": "run_alarm",
    "listDurableObjectIds": "list_durable_object_ids",
    "runInDurableObject": "run_in_durable_object",
}, globals())


# --- assertions on the event log ----------------------------------------------------------------


def kind_matches(pattern: str, kind: str) -> bool:
    """``"kv"`` matches ``kv`` and ``kv.put``; ``"alarm.*"`` is a glob; else exact."""
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(kind, pattern)
    return kind == pattern or kind.startswith(pattern + ".")


def _object_filter(obj: Any) -> tuple[str | None, str | None]:
    """(namespace name, object id) to keep, from a name, stub or handle."""
    if obj is None:
        return None, None
    if isinstance(obj, str):
        return obj, None
    if isinstance(obj, Stub):
        return obj._namespace.name, str(obj.id)
    if isinstance(obj, Handle):
        return obj.name, obj.id
    raise TypeError(
        f"assert_events(object=...) takes an object name, a stub or a handle, not "
        f"{type(obj).__name__}."
    )


def _events_of(source: Any) -> tuple[list[Event], str]:
    if isinstance(source, Sandbox):
        return list(source.event_log), "the sandbox's event log"
    if isinstance(source, Stub):
        return Handle(source).event_list(), f"the events of {source!r}"
    if isinstance(source, Handle):
        return source.event_list(), f"the events of {source!r}"
    if isinstance(source, Iterable) and not isinstance(source, (str, bytes)):
        events = list(source)
        if all(isinstance(e, Event) for e in events):
            return events, "the given events"
    raise TypeError(
        "assert_events() reads a Sandbox, a stub, a handle, a StepReport or a list of events, "
        f"not {type(source).__name__}."
    )


def _describe(events: Sequence[Event], mark: int | None = None) -> str:
    if not events:
        return "    (no events)"
    lines = []
    for i, e in enumerate(events):
        pointer = "->" if i == mark else "  "
        who = e.object_name or "-"
        lines.append(f"  {pointer} #{e.seq:<4} {e.kind:<20} {who:<12} {e.message}")
    return "\n".join(lines)


def assert_events(
    source: Sandbox | Stub | Handle | Iterable[Event],
    expected: Sequence[str],
    *,
    object: str | Stub | Handle | None = None,
    since: int | Event | None = None,
    exact: bool = False,
    ignore: Sequence[str] = (),
) -> list[Event]:
    """Assert the event log shows the ``expected`` kinds in order; returns the matched events.

    ``source``: a Sandbox (all events), a stub or a handle (that object's events), a StepReport
    or any list of events. ``object``: keep only one object's events (a namespace name such as
    ``"counter"``, a stub or a handle). ``since``: keep events after this sequence number (or
    this event). ``ignore``: kinds to drop first (same matching rules). ``exact``: the remaining
    events must match ``expected`` one for one, with nothing in between or after.

    The failure message shows the expected kinds, where matching stopped and the actual log.
    """
    if isinstance(expected, str):
        raise TypeError(
            f"assert_events() takes a list of kinds, e.g. [{expected!r}], not a string."
        )
    events, what = _events_of(source)
    name, object_id = _object_filter(object)
    if name is not None:
        events = [e for e in events if e.object_name == name]
        what += f" for {name}"
    if object_id is not None:
        events = [e for e in events if e.object_id == object_id]
    if since is not None:
        floor = since.seq if isinstance(since, Event) else int(since)
        events = [e for e in events if e.seq > floor]
        what += f" after #{floor}"
    if ignore:
        events = [e for e in events if not any(kind_matches(p, e.kind) for p in ignore)]
    wanted = list(expected)
    if exact:
        kinds_ok = len(events) == len(wanted) and all(
            kind_matches(p, e.kind) for p, e in zip(wanted, events, strict=False)
        )
        if kinds_ok:
            return events
        first_bad = next(
            (
                i
                for i, (p, e) in enumerate(zip(wanted, events, strict=False))
                if not kind_matches(p, e.kind)
            ),
            min(len(wanted), len(events)),
        )
        if first_bad < len(wanted) and first_bad < len(events):
            why = f"event {first_bad + 1} is {events[first_bad].kind!r}, expected "
            why += f"{wanted[first_bad]!r}"
        elif len(events) > len(wanted):
            why = f"{len(events) - len(wanted)} more event(s) than expected"
        else:
            why = f"the log ends before {wanted[first_bad]!r} (event {first_bad + 1})"
        raise AssertionError(
            f"Expected exactly {wanted} in {what}, but {why}.\nActual events:\n"
            + _describe(events, first_bad if first_bad < len(events) else None)
        )
    matched: list[Event] = []
    position = 0
    for i, pattern in enumerate(wanted):
        while position < len(events) and not kind_matches(pattern, events[position].kind):
            position += 1
        if position == len(events):
            done = f"matched {wanted[:i]} then " if i else ""
            earlier = [e for e in events if kind_matches(pattern, e.kind)]
            note = (
                f" ({pattern!r} does occur, at #{earlier[0].seq}, but before the events "
                "matched so far: check the order)"
                if earlier
                else ""
            )
            raise AssertionError(
                f"Expected {wanted} in order in {what}, but {done}found no {pattern!r}"
                f"{note}.\nActual events:\n"
                + _describe(events, events.index(matched[-1]) if matched else None)
            )
        matched.append(events[position])
        position += 1
    return matched
