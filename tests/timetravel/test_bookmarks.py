"""Point-in-time recovery as the platform documents it (SQLite storage API page, glossary
"bookmark"): bookmarks sort in time order, restore on the next start covers KV, SQL and the
alarm, the restore returns its undo, the 30-day window and bad bookmarks are typed errors.
workerd implements none of it locally (see tests/conformance/KNOWN_DIFFERENCES.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dosandbox import DurableObjectMethodError, Limits, Sandbox
from dosandbox.errors import BookmarkError

DAY_MS = 86_400_000


def cause(excinfo: pytest.ExceptionInfo[DurableObjectMethodError]) -> BaseException:
    error = excinfo.value.__cause__
    assert error is not None
    return error


def test_bookmarks_sort_in_time_order(sb: Sandbox) -> None:
    """Later states give bookmarks that compare greater as plain strings (glossary)."""
    shop = sb.durable_objects.shop.get("a")
    marks = []
    for i in range(5):
        sb.run(shop.add(f"item{i}", i))
        marks.append(sb.run(shop.bookmark()))
        sb.clock.advance(i * 7 + 1)
    assert marks == sorted(marks) and len(set(marks)) == 5
    assert all(len(m) == 59 and m.count("-") == 3 for m in marks)


def test_restore_brings_back_kv_sql_and_alarm(sb: Sandbox, restore: Any) -> None:
    """A restore puts KV, the SQL rows and the alarm back as they were at the bookmark."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    alarm_at = sb.clock.now_ms + 3_600_000
    sb.run(shop.set_alarm(alarm_at))
    before = sb.run(shop.state())
    mark = sb.run(shop.bookmark())
    sb.clock.advance(60)
    sb.run(shop.add("pear", 2.0))
    sb.run(shop.put("other", {"x": 1}))
    sb.run(shop.set_alarm(alarm_at + 10_000_000))
    shop = restore(sb, "a", mark)
    assert sb.run(shop.state()) == before == {
        "items": [{"id": 1, "name": "apple", "price": 1.5}],
        "kv": {"last": "apple"},
        "alarm": alarm_at,
    }


def test_restore_undoes_a_dropped_column(sb: Sandbox, restore: Any) -> None:
    """A schema change (ALTER TABLE DROP COLUMN) is undone with the data it took."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    sb.clock.advance(10)
    sb.run(shop.drop_price())
    sb.clock.advance(3600)
    good = sb.run(shop.bookmark_for(sb.clock.now_ms - 3_600_000 - 5_000))
    shop = restore(sb, "a", good)
    assert sb.run(shop.state())["items"] == [{"id": 1, "name": "apple", "price": 1.5}]


def test_the_undo_bookmark_undoes_the_restore(sb: Sandbox, restore: Any) -> None:
    """onNextSessionRestoreBookmark returns a bookmark for now; restoring it undoes the restore."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    early = sb.run(shop.bookmark())
    sb.clock.advance(5)
    sb.run(shop.add("pear", 2.0))
    latest = sb.run(shop.state())
    undo = sb.run(shop.schedule(early))
    assert undo == sb.run(shop.bookmark()) and undo > early
    shop = restore(sb, "a", early)
    assert [r["name"] for r in sb.run(shop.state())["items"]] == ["apple"]
    shop = restore(sb, "a", undo)
    assert sb.run(shop.state()) == latest


def test_restore_waits_for_the_next_start(sb: Sandbox) -> None:
    """Scheduling changes nothing until the object restarts (here: it is evicted)."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    early = sb.run(shop.bookmark())
    sb.run(shop.add("pear", 2.0))
    sb.run(shop.schedule(early))
    assert len(sb.run(shop.state())["items"]) == 2
    sb.inspect(shop).evict()
    assert len(sb.run(sb.durable_objects.shop.get("a").state())["items"]) == 1


def test_camel_case_names_work(sb: Sandbox) -> None:
    """getCurrentBookmark / getBookmarkForTime / onNextSessionRestoreBookmark, as in JS."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))

    now, for_time, undo = sb.run(shop.camel())
    assert now == for_time == undo


def test_bookmark_for_time_takes_datetimes_and_is_stable(sb: Sandbox) -> None:
    """The same time (datetime or epoch ms) gives the same bookmark, every time."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    t = sb.clock.now_ms
    sb.clock.advance(100)
    sb.run(shop.add("pear", 2.0))
    when = dt.datetime.fromtimestamp(t / 1000, tz=dt.UTC)
    assert sb.run(shop.bookmark_for(t)) == sb.run(shop.bookmark_for(when))
    assert sb.run(shop.bookmark_for(t + 50_000)) == sb.run(shop.bookmark_for(t))
    assert sb.run(shop.bookmark_for(t)) < sb.run(shop.bookmark())


def test_a_time_before_the_first_write_names_the_empty_start(sb: Sandbox, restore: Any) -> None:
    """Before anything was written the object was empty: restoring then empties it."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.put("k", 1))
    t0 = sb.clock.now_ms
    sb.clock.advance(10)
    sb.run(shop.put("k", 2))
    empty = sb.run(shop.bookmark_for(t0 - 1_000))
    shop = restore(sb, "a", empty)
    state = sb.run(shop.state())
    assert state["kv"] == {} and state["items"] == []


def test_out_of_window_times_are_refused(sb: Sandbox) -> None:
    """Older than 30 days (the platform's window) or in the future: BookmarkError."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    sb.clock.advance(dt.timedelta(days=31))
    with pytest.raises(DurableObjectMethodError) as old:
        sb.run(shop.bookmark_for(sb.clock.now_ms - 30 * DAY_MS - 1))
    assert isinstance(cause(old), BookmarkError) and "30 days" in str(cause(old))
    with pytest.raises(DurableObjectMethodError) as future:
        sb.run(shop.bookmark_for(sb.clock.now_ms + 1))
    assert isinstance(cause(future), BookmarkError) and "future" in str(cause(future))
    with pytest.raises(DurableObjectMethodError) as wrong:
        sb.run(shop.bookmark_for("yesterday"))
    assert isinstance(cause(wrong), BookmarkError) and "datetime" in str(cause(wrong))


def test_a_bookmark_older_than_the_window_is_refused(sb: Sandbox) -> None:
    """A bookmark whose state ended more than 30 days ago cannot be restored."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    old = sb.run(shop.bookmark())
    sb.clock.advance(1)
    sb.run(shop.add("pear", 2.0))
    sb.clock.advance(dt.timedelta(days=31))
    with pytest.raises(DurableObjectMethodError) as excinfo:
        sb.run(shop.schedule(old))
    assert isinstance(cause(excinfo), BookmarkError) and "window" in str(cause(excinfo))


@pytest.mark.parametrize("bad", [
    "garbage", 42, None, "00000000-00000000-00000000-00000000000000000000000000000000",
])
def test_malformed_bookmarks_are_refused(sb: Sandbox, bad: Any) -> None:
    """Not a bookmark of this object (the zero bookmark of local workerd too): BookmarkError."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    with pytest.raises(DurableObjectMethodError) as excinfo:
        sb.run(shop.schedule(bad))
    assert isinstance(cause(excinfo), BookmarkError)
    assert "get_current_bookmark()" in str(cause(excinfo))


def test_an_altered_bookmark_is_refused(sb: Sandbox) -> None:
    """A bookmark edited by hand (another time) names no state: refused."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    mark = sb.run(shop.bookmark())
    forged = mark[:16] + ("0" if mark[16] != "0" else "1") + mark[17:]
    with pytest.raises(DurableObjectMethodError) as excinfo:
        sb.run(shop.schedule(forged))
    assert isinstance(cause(excinfo), BookmarkError) and "altered" in str(cause(excinfo))


def test_another_objects_bookmark_is_refused(sb: Sandbox) -> None:
    """A bookmark restores only the object it came from."""
    a, b = sb.durable_objects.shop.get("a"), sb.durable_objects.shop.get("b")
    sb.run(a.add("apple", 1.5))
    sb.run(b.add("pear", 2.0))
    with pytest.raises(DurableObjectMethodError) as excinfo:
        sb.run(b.schedule(sb.run(a.bookmark())))
    assert isinstance(cause(excinfo), BookmarkError)
    assert "another Durable Object" in str(cause(excinfo))


def test_a_refused_restore_changes_nothing(sb: Sandbox, restore: Any) -> None:
    """After a refused bookmark the data, the alarm and a restore scheduled before stay."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    early = sb.run(shop.bookmark())
    sb.run(shop.add("pear", 2.0))
    sb.run(shop.set_alarm(sb.clock.now_ms + 60_000))
    before = sb.run(shop.state())
    sb.run(shop.schedule(early))
    with pytest.raises(DurableObjectMethodError):
        sb.run(shop.schedule("not-a-bookmark"))
    assert sb.run(shop.state()) == before
    sb.inspect(shop).evict()
    assert [r["name"] for r in sb.run(shop.state())["items"]] == ["apple"]


def test_no_history_kept_refuses_with_the_fix(make: Any) -> None:
    """Limits(max_history_bytes=0) keeps no log; the bookmark calls say how to get one."""
    if True:
        sb = make(limits=Limits(max_history_bytes=0))
        shop = sb.durable_objects.shop.get("a")
        sb.run(shop.add("apple", 1.5))
        with pytest.raises(DurableObjectMethodError) as excinfo:
            sb.run(shop.bookmark())
        assert isinstance(cause(excinfo), BookmarkError)
        assert "max_history_bytes" in str(cause(excinfo))


def test_the_size_limit_drops_the_oldest_history(make: Any, restore: Any) -> None:
    """Past Limits.max_history_bytes the oldest entries go; recent bookmarks still restore."""
    if True:
        sb = make(limits=Limits(max_history_bytes=20_000))
        shop = sb.durable_objects.shop.get("a")
        first = sb.run(shop.bookmark())
        for i in range(300):
            sb.run(shop.put(f"k{i}", "x" * 100))
            sb.clock.advance(1)
        recent = sb.run(shop.bookmark())
        sb.run(shop.put("after", 1))
        assert sb.run(shop.history_bytes()) <= 20_000
        with pytest.raises(DurableObjectMethodError) as excinfo:
            sb.run(shop.schedule(first))
        assert "older than the history" in str(cause(excinfo))
        shop = restore(sb, "a", recent)
        kv = sb.run(shop.state())["kv"]
        assert len(kv) == 300 and "after" not in kv


def test_bookmarks_survive_a_persisted_restart(tmp_path: Path, make: Any, restore: Any) -> None:
    """With persist=, a bookmark made before a restart restores after it."""
    with make(persist=tmp_path) as sb:
        shop = sb.durable_objects.shop.get("a")
        sb.run(shop.add("apple", 1.5))
        mark = sb.run(shop.bookmark())
        sb.clock.advance(60)
        sb.run(shop.add("pear", 2.0))
        sb.run(shop.drop_price())
    with make(persist=tmp_path, start=dt.datetime(2026, 3, 2, tzinfo=dt.UTC)) as sb:
        shop = restore(sb, "a", mark)
        assert sb.run(shop.state())["items"] == [{"id": 1, "name": "apple", "price": 1.5}]


def test_a_restore_scheduled_before_closing_runs_at_reopen(tmp_path: Path, make: Any) -> None:
    """Scheduled, then the sandbox closed: the next start (after reopening) restores."""
    with make(persist=tmp_path) as sb:
        shop = sb.durable_objects.shop.get("a")
        sb.run(shop.put("v", 1))
        mark = sb.run(shop.bookmark())
        sb.run(shop.put("v", 2))
        sb.run(shop.schedule(mark))
    with make(persist=tmp_path, start=dt.datetime(2026, 3, 2, tzinfo=dt.UTC)) as sb:
        assert sb.run(sb.durable_objects.shop.get("a").state())["kv"] == {"v": 1}
