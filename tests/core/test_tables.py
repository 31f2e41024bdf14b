"""Tables a room can read: short ids, one-line times, whole messages, blanks, no extra index."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from dosandbox import DurableObject, Sandbox

START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
ADVICE = ("the platform refuses this statement; " * 8) + "FIX: use ctx.storage.transaction()."


class Noisy(DurableObject):
    def fail(self) -> None:
        raise ValueError(ADVICE)

    def ok(self) -> int:
        return 1


@pytest.fixture
def sb() -> Any:
    with Sandbox(start=START) as sandbox:
        sandbox.register("noisy", Noisy)
        ns = sandbox.durable_objects.noisy
        with pytest.raises(Exception, match="platform refuses"):
            sandbox.run(ns.get("alice").fail())
        sandbox.run(ns.get(ns.new_unique_id()).ok())
        yield sandbox


def test_frames_keep_full_data_and_stay_readable_frames_when_sliced(sb: Sandbox) -> None:
    """frame["id"] is the whole id; slices and tails are still readable frames."""
    frame = sb.events()
    full = str(sb.durable_objects.noisy.id_from_name("alice"))
    assert full in set(frame["id"])
    assert type(frame[["seq", "kind"]]) is type(frame)
    assert type(frame.tail(2)) is type(frame)
    assert type(sb.objects()) is type(frame) and type(sb.alarms()) is type(frame)


def test_html_shows_short_ids_with_the_full_id_on_hover(sb: Sandbox) -> None:
    """An id cell shows 12 characters and an ellipsis; its title attribute has the full id."""
    full = str(sb.durable_objects.noisy.id_from_name("alice"))
    page = sb.events()._repr_html_()
    assert f'title="{full}">{full[:12]}…</td>' in page
    assert f">{full}<" not in page


def test_times_are_on_one_line_without_the_utc_offset(sb: Sandbox) -> None:
    """Times read 2030-01-01 00:00:00.000 in a cell that does not wrap."""
    page = sb.events()._repr_html_()
    assert re.search(r'white-space:nowrap">2030-01-01 00:00:00\.000</td>', page)
    assert "+00:00" not in page


def test_messages_are_whole_left_aligned_and_wrap_between_words(sb: Sandbox) -> None:
    """A long refusal keeps its advice: no ellipsis, no cut, text-align left, word wrapping."""
    frame = sb.events("error")
    page = frame._repr_html_()
    assert "FIX: use ctx.storage.transaction()." in page
    assert "text-align:left" in page and "overflow-wrap:break-word" in page
    assert "..." not in page
    assert "FIX: use ctx.storage.transaction()." in repr(frame)


def test_no_index_column_beside_seq_and_blanks_for_missing_names(sb: Sandbox) -> None:
    """A 0, 1, 2... index is not shown; a unique id's missing name is blank, not None/NaN."""
    objects = sb.objects()
    text = repr(objects)
    assert text.splitlines()[0].startswith("object")
    assert "None" not in text and "NaN" not in text
    page = objects._repr_html_()
    assert "None" not in page and "NaN" not in page
    events = repr(sb.events())
    assert events.splitlines()[0].startswith("seq")
    # A meaningful index is shown.
    assert repr(sb.events().set_index("kind")).splitlines()[1].startswith("register")


def test_long_tables_show_head_and_tail_with_a_count(sb: Sandbox) -> None:
    """Over 60 rows, the first and last 30 are shown and the rest counted, not silently cut."""
    stub = sb.durable_objects.noisy.get("many")
    for _ in range(80):
        sb.run(stub.ok())
    frame = sb.events()
    assert len(frame) > 60
    page = frame._repr_html_()
    assert f"… {len(frame) - 60} more rows …" in page and f"{len(frame)} rows" in page
    assert f"… {len(frame) - 60} more rows (of {len(frame)}) …" in repr(frame)


def test_step_reports_use_the_same_table_and_times_in_text(sb: Sandbox) -> None:
    """A step report's HTML is the readable table; its text gives each event's time."""

    class Ticker(DurableObject):
        async def start(self) -> None:
            await self.ctx.set_alarm(dt.timedelta(seconds=5))

        async def alarm(self) -> None:
            pass

    sb.register("ticker", Ticker)
    sb.run(sb.durable_objects.ticker.get("t").start())
    report = sb.clock.advance(seconds=5)
    assert 'class="dosandbox-frame"' in report._repr_html_()
    assert "00:00:05.000  alarm.fired" in repr(report)
    assert report.warning == ""


def test_filtered_and_tail_frames_hide_the_row_numbers_too(sb: Sandbox) -> None:
    """frame[frame.kind == ...] and .tail() keep row numbers as index: still not shown."""
    frame = sb.events()
    for part in (frame.tail(2), frame[frame["kind"] == "rpc"]):
        assert repr(part).splitlines()[0].startswith("seq")
        assert part._repr_html_().count('<th style="') == len(part.columns)
