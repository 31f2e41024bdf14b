"""What a clock step did: the events it produced, in order, as a small report."""

from __future__ import annotations

from typing import Any

from .events import Event, events_frame

__all__ = ["StepReport"]


class StepReport(list[Event]):
    """A list of the events a step produced; ``.fired`` keeps the alarms and timers that ran."""

    def __init__(self, events: list[Event], *, start_ms: int, end_ms: int, note: str = ""):
        super().__init__(events)
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.note = note

    @property
    def fired(self) -> list[Event]:
        return [e for e in self if e.kind.startswith("alarm.")]

    def to_df(self) -> Any:
        return events_frame(list(self))

    def __repr__(self) -> str:
        moved = (self.end_ms - self.start_ms) / 1000
        lines = [f"<StepReport: clock moved {moved:g} s, {len(self)} events{self.note}>"]
        lines += [f"  {e.kind:<18} {e.object_name or '':<12} {e.message}" for e in self[:20]]
        if len(self) > 20:
            lines.append(f"  … {len(self) - 20} more (use .to_df())")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        moved = (self.end_ms - self.start_ms) / 1000
        head = html.escape(f"Clock moved {moved:g} s; {len(self)} events{self.note}")
        if not self:
            return f"<p>{head}</p>"
        frame_html: str = self.to_df().to_html(index=False, escape=True, max_rows=50)
        return f"<p>{head}</p>{frame_html}"
