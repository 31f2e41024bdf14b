"""The sandbox's tables: pandas DataFrames that a projected room can read.

``sb.events()``, ``sb.objects()``, ``sb.alarms()``, ``handle.events``, ``handle.sockets`` and
step reports are :class:`SandboxFrame` s: ordinary DataFrames (every column holds the full
data: ``frame["id"]`` is the whole id), shown for people:

* ids short (the first 12 characters and an ellipsis), the full id on hover in HTML;
* times on one line, to the millisecond, without the ``+00:00`` (the clock is UTC);
* text left-aligned, long messages wrapped between words, never cut;
* no index column when the index only numbers rows (``seq`` already numbers events), also
  after a filter or ``tail()``; a named index (``set_index("kind")``) is shown;
* missing values (a unique id's name) blank, not ``None`` or ``NaN``.

Imported lazily (pandas is loaded here only when a table is asked for).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

__all__ = ["SandboxFrame", "frame_of", "shown_cell"]

ID_COLUMNS = frozenset({"id", "object_id", "socket_id"})
SHORT_ID = 12
# Columns whose cells never wrap (ids, times, kinds, names): the message column takes the rest.
_NOWRAP = frozenset({"seq", "time", "kind", "object", "class", "status", "ready_state", "api",
                     "last_activity", "auto_response_at", "in_seconds"})
MAX_ROWS = 60

_CELL = ("text-align:left;vertical-align:top;padding:2px 8px;"
         "border-bottom:1px solid var(--jp-border-color2,#e0e0e0)")
_HEAD = ("text-align:left;vertical-align:bottom;padding:2px 8px;font-weight:600;"
         "border-bottom:1px solid var(--jp-border-color1,#bdbdbd)")


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def shown_cell(column: str, value: Any) -> tuple[str, str | None]:
    """(what a cell shows, the full text on hover or None) for one value of ``column``."""
    if _missing(value):
        return "", None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        return text, None
    text = value if isinstance(value, str) else repr(value) if isinstance(
        value, (list, tuple, dict, set, bytes)) else str(value)
    if column in ID_COLUMNS and len(text) > SHORT_ID + 1:
        return text[:SHORT_ID] + "…", text
    return text, None


class SandboxFrame(pd.DataFrame):
    """A DataFrame shown readably (short ids, one-line times, blanks for missing values)."""

    @property
    def _constructor(self) -> type[SandboxFrame]:
        return SandboxFrame

    def _plain_index(self) -> bool:
        """Row numbers only (0, 1, 2..., also after a filter or ``tail()``): not shown."""
        index = self.index
        return index.name is None and pd.api.types.is_integer_dtype(index.dtype)

    def _rows_shown(self) -> tuple[list[int], int]:
        """Positions of the rows to show and how many are left out (head and tail kept)."""
        n = len(self)
        if n <= MAX_ROWS:
            return list(range(n)), 0
        half = MAX_ROWS // 2
        return [*range(half), *range(n - half, n)], n - 2 * half

    def _repr_html_(self) -> str:  # type: ignore[override]
        columns = [str(c) for c in self.columns]
        show_index = not self._plain_index()
        head = ([f'<th style="{_HEAD}"></th>'] if show_index else []) + [
            f'<th style="{_HEAD}">{html.escape(c)}</th>' for c in columns
        ]
        rows, left_out = self._rows_shown()
        half = len(rows) // 2 if left_out else -1
        body = []
        for i, position in enumerate(rows):
            if i == half:
                span = len(columns) + show_index
                body.append(f'<tr><td colspan="{span}" style="{_CELL};font-style:italic">'
                            f"… {left_out} more rows …</td></tr>")
            cells = []
            if show_index:
                label = html.escape(str(self.index[position]))
                cells.append(f'<td style="{_CELL};font-weight:600">{label}</td>')
            for column, value in zip(columns, self.iloc[position], strict=True):
                text, full = shown_cell(column, value)
                wrap = "white-space:nowrap" if column in _NOWRAP or column in ID_COLUMNS else (
                    "white-space:pre-wrap;overflow-wrap:break-word;min-width:16em")
                title = f' title="{html.escape(full)}"' if full is not None else ""
                cells.append(f'<td style="{_CELL};{wrap}"{title}>{html.escape(text)}</td>')
            body.append(f"<tr>{''.join(cells)}</tr>")
        count = f"{len(self)} row{'s' * (len(self) != 1)}"
        return (
            '<div class="dosandbox-frame" style="overflow-x:auto">'
            '<table style="border-collapse:collapse;font-size:12px;'
            'color:var(--jp-ui-font-color1,inherit)">'
            f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f'<div style="font-size:11px;color:var(--jp-ui-font-color2,#666)">{count}</div>'
            "</div>"
        )

    def __repr__(self) -> str:
        if self.empty:
            return f"(no rows; columns: {', '.join(map(str, self.columns))})"
        rows, left_out = self._rows_shown()
        header = [str(c) for c in self.columns]
        table = [[shown_cell(c, v)[0] for c, v in zip(header, self.iloc[p], strict=True)]
                 for p in rows]
        if not self._plain_index():
            header = ["", *header]
            table = [[str(self.index[p]), *row] for p, row in zip(rows, table, strict=True)]
        # Left-aligned columns; the last (the message, usually) is not padded, never cut.
        widths = [max(len(line[i]) for line in [header, *table]) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            padded = [cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=False)]
            return "  ".join([*padded, cells[-1]]).rstrip()

        lines = [line(header), *(line(row) for row in table)]
        if left_out:
            lines.insert(1 + len(table) // 2, f"… {left_out} more rows (of {len(self)}) …")
        return "\n".join(lines)


def frame_of(
    rows: Iterable[dict[str, Any]] | Sequence[Any], columns: Sequence[str]
) -> SandboxFrame:
    """A :class:`SandboxFrame` of ``rows`` (dicts) with exactly ``columns``, in that order."""
    return SandboxFrame(list(rows), columns=list(columns))
