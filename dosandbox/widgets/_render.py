"""HTML pieces shared by the live widgets and the static snapshot.

Everything that comes from user data goes through :func:`esc` (``html.escape``), so a stored
``<script>`` shows as text. No ipywidgets here: the static snapshot must work without them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "MUTED",
    "TEXT",
    "alarm_html",
    "badge",
    "duration",
    "esc",
    "message_html",
    "preview",
    "table_html",
    "tree_html",
]

UTC = dt.UTC

# Colours come from the JupyterLab theme (its CSS variables), so light and dark themes both
# keep text at 4.5:1 or better for a projected room; the fallbacks serve other front ends.
# Text is always a theme font colour; what a status or a kind of message means is carried by
# a word and a coloured border, never by coloured text alone.
TEXT = "var(--jp-ui-font-color0,#111)"
MUTED = "var(--jp-ui-font-color1,#333)"
BORDER = "var(--jp-border-color1,#bdbdbd)"
RULE = "var(--jp-border-color2,#e0e0e0)"
ERROR_TEXT = "var(--jp-error-color1,#c62828)"
KIND_BORDER = {
    "info": "var(--jp-border-color1,#bdbdbd)",
    "error": "var(--jp-error-color1,#c62828)",
    "ok": "var(--jp-success-color1,#388e3c)",
    "warning": "var(--jp-warn-color1,#f57c00)",
}

# ipywidgets draws the titles of unselected tabs in the theme's third font colour on a grey
# bar: 4.4:1 in the light theme. Inside our views they use the second font colour instead.
# (The selectors outrank ipywidgets' own ``.jupyter-widgets.widget-tab > .lm-TabBar ...``.)
_TAB_TITLE = (
    ".dosandbox-inspector.jupyter-widgets .jupyter-widgets.widget-tab > .{p}TabBar .{p}TabBar-tab"
)
VIEW_CSS = (
    f"<style>{_TAB_TITLE.format(p='lm-')},{_TAB_TITLE.format(p='p-')}"
    "{color:var(--jp-ui-font-color1)}</style>"
)

_TABLE = f"border-collapse:collapse;font-size:12px;margin:2px 0;color:{TEXT}"
_TH = f"text-align:left;padding:2px 8px;border-bottom:2px solid {BORDER};font-weight:600"
_TD = f"text-align:left;padding:2px 8px;border-bottom:1px solid {RULE};vertical-align:top"
_MONO = "font-family:var(--jp-code-font-family,monospace)"

_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80
_short.maxlist = 8
_short.maxdict = 8
_short.maxlevel = 3


def esc(value: Any) -> str:
    """Escape any value for HTML (text, attributes)."""
    return html.escape(str(value), quote=True)


def preview(value: Any, limit: int = 80) -> str:
    """A one-line text preview of a value (unescaped: escape it where it goes into HTML)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        text = f"<{len(data)} bytes> {data[:24].hex(' ')}" + ("…" if len(data) > 24 else "")
    elif isinstance(value, dt.datetime):
        text = value.isoformat(timespec="milliseconds")
    else:
        text = _short.repr(value)
    text = text.replace("\n", "⏎")
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 2 // 3:  # end on a whole word when one ends near the limit
        cut = cut[:space]
    return cut + "…"


def badge(text: str, border: str) -> str:
    """A word in a coloured frame: the text keeps the theme's font colour (readable anywhere)."""
    return (
        f'<span style="border:1.5px solid {border};color:{TEXT};border-radius:3px;'
        f'padding:0 5px;font-size:11px;font-weight:600">{esc(text)}</span>'
    )


STATUS_COLORS = {
    "live": "var(--jp-success-color1,#388e3c)",
    "evicted": "var(--jp-warn-color1,#f57c00)",
    "redeployed": "var(--jp-brand-color1,#1976d2)",
    "not created": "var(--jp-border-color1,#bdbdbd)",
    "CLOSED": "var(--jp-error-color1,#c62828)",
    "OPEN": "var(--jp-success-color1,#388e3c)",
}


def status_badge(status: str) -> str:
    return badge(status, STATUS_COLORS.get(status, BORDER))


def muted(text: str, size: int = 12) -> str:
    """Secondary text (counts, types, notes) in the theme's second font colour."""
    return f'<span style="font-size:{size}px;color:{MUTED}">{esc(text)}</span>'


def message_html(text: str, kind: str = "info") -> str:
    """A note: ``info``, ``ok``, ``warning`` or ``error`` (a coloured bar; error text in red)."""
    color = ERROR_TEXT if kind == "error" else TEXT
    bar = KIND_BORDER.get(kind, KIND_BORDER["info"])
    return (
        f'<div style="color:{color};font-size:12px;white-space:pre-wrap;text-align:left;'
        f'border-left:3px solid {bar};padding:1px 6px;margin:2px 0">{esc(text)}</div>'
    )


# Columns whose values read badly when wrapped: a time on two lines, an id cut in half.
ONE_LINE = frozenset({"seq", "time", "kind", "socket", "id"})


def table_html(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str = "nothing to show",
    mono: Sequence[str] = (),
    limit: int = 80,
) -> str:
    """An escaped HTML table; each cell shows a one-line preview of its value."""
    head = "".join(f'<th style="{_TH}">{esc(c)}</th>' for c in columns)
    body = []
    for row in rows:
        cells = []
        for name, value in zip(columns, row, strict=False):
            style = _TD + (";" + _MONO if name in mono else "")
            if name in ONE_LINE:
                style += ";white-space:nowrap"
            cells.append(f'<td style="{style}">{esc(preview(value, limit))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        return (
            f'<div style="color:{MUTED};font-size:12px;font-style:italic">{esc(empty)}</div>'
        )
    return (
        f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead>'
        f'<tbody>{"".join(body)}</tbody></table>'
    )


def frame_rows(frame: Any, columns: Sequence[str] | None = None) -> tuple[list[str], list[tuple]]:
    """Columns and row tuples of a DataFrame (only the columns asked for, when given)."""
    cols = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    if not len(frame):
        return cols, []
    sub = frame[cols]
    return cols, [tuple(r) for r in sub.itertuples(index=False, name=None)]


def duration(seconds: float) -> str:
    """``200`` → ``3 min 20 s``; ``0.25`` → ``250 ms``; days and hours for long waits."""
    if seconds < 0:
        seconds = -seconds
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    whole = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if whole >= size:
            count, whole = divmod(whole, size)
            parts.append(f"{count} {unit}")
    return " ".join(parts[:2])


def relative(seconds: float) -> str:
    """``in 3 min 20 s``, ``due now`` or ``overdue by 5 s``."""
    if abs(seconds) < 0.0005:
        return "due now"
    if seconds > 0:
        return f"in {duration(seconds)}"
    return f"overdue by {duration(seconds)}"


def format_ms(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def alarm_html(info: Mapping[str, Any], now_ms: int) -> str:
    """A pending alarm (``handle.alarm``): when it fires, how far off, its retry count."""
    ms = int(info.get("time_ms", info.get("time", 0)))
    seconds = (ms - now_ms) / 1000
    retry = info.get("retry_count", 0)
    return (
        f'<div style="font-size:13px">Next alarm at <b>{esc(format_ms(ms))}</b> '
        f"({esc(relative(seconds))})</div>"
        f'<div style="font-size:12px;color:{MUTED}">retry count {esc(retry)}</div>'
    )


# --- the in-memory state as a collapsible tree ----------------------------------------------

_MAX_ITEMS = 50
_MAX_DEPTH = 6


def _children(value: Any) -> list[tuple[str, Any]] | None:
    """Labelled children of a container, or None for a leaf."""
    if isinstance(value, Mapping):
        return [(preview(k, 40), v) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [(str(i), v) for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        try:
            items = sorted(value)
        except TypeError:
            items = list(value)
        return [("·", v) for v in items]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, (str, bytes, bytearray, int, float, complex, bool, type(None))):
        return None
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict) and attrs:
        return [(k, v) for k, v in attrs.items() if not k.startswith("_")]
    return None


def _size(value: Any, children: list[tuple[str, Any]]) -> str:
    n = len(children)
    if isinstance(value, Mapping) or dataclasses.is_dataclass(value):
        return f"{n} field{'s' if n != 1 else ''}" if dataclasses.is_dataclass(value) else (
            f"{n} key{'s' if n != 1 else ''}"
        )
    return f"{n} item{'s' if n != 1 else ''}"


def tree_html(value: Any, *, open_levels: int = 1) -> str:
    """A collapsible ``<details>`` tree of a value, escaped, bounded in depth and width."""
    budget = [2000]  # nodes left, so a huge state cannot stall the notebook
    seen: set[int] = set()

    def node(label: str | None, v: Any, depth: int) -> str:
        budget[0] -= 1
        key = f'<span style="font-weight:600">{esc(label)}</span>: ' if label is not None else ""
        type_name = f'<span style="color:{MUTED};font-style:italic">{esc(type(v).__name__)}</span>'
        kids = _children(v)
        if kids is None:
            return f'<div style="{_MONO}">{key}{esc(preview(v, 200))} {type_name}</div>'
        if id(v) in seen:
            return f'<div style="{_MONO}">{key}{type_name} (cycle)</div>'
        summary = f'{key}{type_name} <span style="color:{MUTED}">({_size(v, kids)})</span>'
        if depth >= _MAX_DEPTH or budget[0] <= 0:
            return f'<div style="{_MONO}">{summary} {esc(preview(v, 120))}</div>'
        seen.add(id(v))
        inner = [node(k, c, depth + 1) for k, c in kids[:_MAX_ITEMS] if budget[0] > 0]
        seen.discard(id(v))
        shown = len(inner)
        if shown < len(kids):
            inner.append(f'<div style="color:{MUTED}">… {len(kids) - shown} more</div>')
        attr = " open" if depth < open_levels else ""
        return (
            f'<details{attr} style="{_MONO};font-size:12px"><summary>{summary}</summary>'
            f'<div style="margin-left:16px">{"".join(inner)}</div></details>'
        )

    return node(None, value, 0)


def value_detail_html(key: str, value: Any, type_name: str = "", size: Any = None) -> str:
    """A selected KV value in full: its type, size and a tree of its content."""
    meta = esc(type_name or type(value).__name__)
    if size is not None:
        meta += f", {esc(size)} bytes"
    return (
        f'<div style="font-size:12px"><b style="{_MONO}">{esc(key)}</b> '
        f'<span style="color:{MUTED}">({meta})</span></div>{tree_html(value, open_levels=2)}'
    )
