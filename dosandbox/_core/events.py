"""The event log: a ring buffer every capability writes to, and views subscribe to.

Each entry records what happened (``kind`` such as ``rpc``, ``kv.put``, ``alarm.fired``), to
which object, and when on the virtual clock. ``sb.events()`` and ``handle.events`` show it as
a DataFrame; widgets subscribe to refresh live.

An entry never keeps an exception: ``error=exc`` is stored as text (``data["error"]`` is
``"Type: message"``, ``data["error_type"]`` the type's name, ``data["traceback"]`` the rendered
traceback), because an exception holds its traceback and every frame's locals, and a log of
10,000 failures would keep them all alive.
"""

from __future__ import annotations

import itertools
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "OUTBOUND_FETCH",
    "WORKER_ERROR",
    "WORKER_FETCH",
    "WORKER_RESPONSE",
    "WORKER_WAIT_UNTIL",
    "Event",
    "EventLog",
    "StepReport",
    "events_frame",
]

# What the Worker in front of the objects writes (sb.fetch, sb.connect go through it), and
# every fetch() that Worker or object code sends out; the dashboard shows them with the rest.
WORKER_FETCH = "worker.fetch"  # a request reached the Worker's fetch
WORKER_RESPONSE = "worker.response"  # the Worker answered it (status, time taken)
WORKER_ERROR = "worker.error"  # the Worker's fetch, or work it gave ctx.wait_until, raised
WORKER_WAIT_UNTIL = "worker.wait_until"  # work handed to ctx.wait_until finished
OUTBOUND_FETCH = "outbound.fetch"  # fetch() to the outside: answered by sb.outbound or refused


@dataclass(slots=True, repr=False, eq=False)
class Event:
    """One thing that happened in the sandbox."""

    seq: int
    time_ms: int
    kind: str
    object_name: str | None
    object_id: str | None
    # The message, or a function that makes it: hot paths (an alarm re-armed 100,000 times)
    # pass one so that formatting a date costs nothing until somebody reads the log.
    _text: str | Callable[[], str]
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        text = self._text
        if type(text) is not str:
            text = self._text = text()  # type: ignore[operator]
        return text  # type: ignore[return-value]

    def __repr__(self) -> str:
        return (
            f"Event(seq={self.seq}, time_ms={self.time_ms}, kind={self.kind!r}, "
            f"object_name={self.object_name!r}, message={self.message!r})"
        )

    def as_row(self) -> dict[str, Any]:
        import datetime as dt

        return {
            "seq": self.seq,
            "time": dt.datetime.fromtimestamp(self.time_ms / 1000, tz=dt.UTC),
            "kind": self.kind,
            "object": self.object_name,
            "id": self.object_id,
            "message": self.message,
        }


Subscriber = Callable[[Event], None]


class ClockLike(Protocol):
    """What the log reads the time from: the sandbox's VirtualClock (integer epoch ms)."""

    @property
    def _now_ms(self) -> int: ...


class EventLog:
    """A bounded, append-only log with subscribers. Old entries fall off the front."""

    def __init__(self, clock: ClockLike, maxlen: int = 10_000) -> None:
        self._entries: deque[Event] = deque(maxlen=maxlen)
        self._seq = itertools.count(1)
        # The clock object itself, read as an attribute: emit() runs twice per alarm firing,
        # and a lambda plus a property would be two Python calls per event.
        self._clock = clock
        self._subscribers: list[Subscriber] = []
        self.last_seq = 0

    def emit(
        self,
        kind: str,
        message: str | Callable[[], str],
        *,
        object_name: str | None = None,
        object_id: str | None = None,
        **data: Any,
    ) -> Event:
        if data:
            error = data.get("error")
            if isinstance(error, BaseException):
                _as_text(data, error)
        seq = next(self._seq)
        self.last_seq = seq
        event = Event(seq, self._clock._now_ms, kind, object_name, object_id, message, data)
        self._entries.append(event)
        for subscriber in self._subscribers:
            subscriber(event)
        return event

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn`` for every new event; returns a function that unsubscribes."""
        self._subscribers.append(fn)

        def unsubscribe() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

        return unsubscribe

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def __iter__(self) -> Iterator[Event]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def since(self, seq: int) -> list[Event]:
        """Events with a sequence number greater than ``seq``, oldest first."""
        out: list[Event] = []
        for event in reversed(self._entries):
            if event.seq <= seq:
                break
            out.append(event)
        out.reverse()
        return out

    def select(
        self, *, object_id: str | None = None, kind: str | None = None
    ) -> list[Event]:
        return [
            e
            for e in self._entries
            if (object_id is None or e.object_id == object_id)
            and (kind is None or e.kind == kind or e.kind.startswith(kind + "."))
        ]


def _as_text(data: dict[str, Any], error: BaseException) -> None:
    """Replace ``data["error"]`` by text: what views show, without the frames it holds."""
    data["error"] = f"{type(error).__name__}: {error}"
    data["error_type"] = type(error).__name__
    data["traceback"] = "".join(traceback.format_exception(error))


def events_frame(events: list[Event]) -> Any:
    """A DataFrame of events (pandas is imported only here)."""
    from .frames import frame_of

    columns = ["seq", "time", "kind", "object", "id", "message"]
    return frame_of([e.as_row() for e in events], columns)


class StepReport(list[Event]):
    """A list of the events a step produced; ``.fired`` keeps the alarms and timers that ran."""

    def __init__(self, events: list[Event], *, start_ms: int, end_ms: int, note: str = ""):
        super().__init__(events)
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.note = note
        # Why the step stopped short of what was asked ("" when it did not): views show it
        # as a warning, not as a success.
        self.warning = ""

    @property
    def fired(self) -> list[Event]:
        return [e for e in self if e.kind.startswith("alarm.")]

    def to_df(self) -> Any:
        return events_frame(list(self))

    def __repr__(self) -> str:
        import datetime as dt

        moved = (self.end_ms - self.start_ms) / 1000
        lines = [f"<StepReport: clock moved {moved:g} s, {len(self)} events{self.note}>"]
        for e in self[:20]:
            at = dt.datetime.fromtimestamp(e.time_ms / 1000, tz=dt.UTC).strftime("%H:%M:%S.%f")
            lines.append(f"  {at[:-3]}  {e.kind:<18} {e.object_name or '':<12} {e.message}")
        if len(self) > 20:
            lines.append(f"  … {len(self) - 20} more (use .to_df())")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        moved = (self.end_ms - self.start_ms) / 1000
        head = html.escape(f"Clock moved {moved:g} s; {len(self)} events{self.note}")
        style = "margin:4px 0"
        if self.warning:
            # A step that stopped short is a warning, in the theme's warning colour.
            style += ";color:var(--jp-warn-color0,#8a5300)"
        if not self:
            return f'<p style="{style}">{head}</p>'
        frame_html: str = self.to_df()._repr_html_()
        return f'<p style="{style}">{head}</p>{frame_html}'
