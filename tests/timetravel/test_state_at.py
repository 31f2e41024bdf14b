"""handle.at(event_or_time): an object's KV, SQL tables and alarm as they were, read-only
DataFrames rebuilt from its change log, and the diff against now."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dosandbox import DurableObject, DurableObjectResetError, Limits, Sandbox
from dosandbox.errors import ValidationError

from .conftest import START


def _history(sb: Sandbox) -> Any:
    """A shop with apple (t+0), an alarm, pear (t+60 s), then the price column dropped."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    sb.run(shop.set_alarm(sb.clock.now_ms + 3_600_000))
    sb.clock.advance(60)
    sb.run(shop.add("pear", 2.0))
    sb.run(shop.put("note", {"v": 1}))
    sb.clock.advance(60)
    sb.run(shop.drop_price())
    sb.run(shop.put("note", {"v": 2}))
    return sb.inspect(shop)


def test_at_an_event_shows_kv_tables_and_alarm_then(sb: Sandbox) -> None:
    """At the event that added the apple: one row with its price, KV 'last', the alarm unset."""
    handle = _history(sb)
    first_add = next(e for e in handle.event_list() if e.kind == "rpc")
    then = handle.at(first_add)
    assert then.tables["items"].to_dict("records") == [{"id": 1, "name": "apple", "price": 1.5}]
    assert then.kv[["key", "value"]].to_dict("records") == [{"key": "last", "value": "apple"}]
    assert then.alarm is None and then.time == START
    assert handle.at(first_add.seq).entry_seq == then.entry_seq  # its seq works the same


def test_at_a_time_and_epoch_ms(sb: Sandbox) -> None:
    """A datetime or epoch ms gives the state current then (pear added, price still there)."""
    handle = _history(sb)
    at = START + dt.timedelta(seconds=90)
    then = handle.at(at)
    assert then.tables["items"]["name"].tolist() == ["apple", "pear"]
    assert "price" in then.tables["items"].columns
    assert then.alarm_ms == START.timestamp() * 1000 + 3_600_000
    assert handle.at(int(at.timestamp() * 1000)).entry_seq == then.entry_seq


def test_diff_against_now_lists_keys_rows_and_the_dropped_column(sb: Sandbox) -> None:
    """The diff names KV keys added/changed, rows changed, and the table's lost column."""
    handle = _history(sb)
    then = handle.at(START)
    diff = then.diff
    assert diff.kv.to_dict("records") == [
        {"key": "last", "change": "changed", "then": "apple", "now": "pear"},
        {"key": "note", "change": "added", "then": None, "now": {"v": 2}},
    ]
    assert diff.schema.to_dict("records") == [{
        "table": "items", "change": "columns changed",
        "then": ["id", "name", "price"], "now": ["id", "name"],
    }]
    assert diff.rows[["key", "change"]].to_dict("records") == [
        {"key": 1, "change": "changed"}, {"key": 2, "change": "added"},
    ]
    assert diff.rows["then"].iloc[0] == {"id": 1, "name": "apple", "price": 1.5}
    assert not diff.empty and handle.at(sb.clock.now_ms).diff.empty


def test_at_reads_without_touching_the_live_object(sb: Sandbox) -> None:
    """Looking at the past changes nothing now: same state, no event sent, nothing written."""
    handle = _history(sb)
    shop = sb.durable_objects.shop.get("a")
    before = sb.run(shop.state())
    events = len(handle.event_list())
    then = handle.at(START)
    then.tables["items"].loc[0, "name"] = "edited"  # a copy: the past is read-only
    assert sb.run(shop.state()) == before
    assert len(handle.event_list()) == events + 1  # only the state() call above


def test_the_bookmark_of_a_past_state_restores_it(sb: Sandbox, restore: Any) -> None:
    """A PastState carries its bookmark: restoring it brings that state back."""
    handle = _history(sb)
    then = handle.at(START + dt.timedelta(seconds=90))
    assert then.bookmark is not None
    shop = restore(sb, "a", then.bookmark)
    assert [i["price"] for i in sb.run(shop.state())["items"]] == [1.5, 2.0]


def test_bad_whens_are_typed_errors(sb: Sandbox) -> None:
    """A future time, an unknown seq, a str, and an object without storage say what to pass."""
    handle = _history(sb)
    with pytest.raises(ValidationError, match="in the future"):
        handle.at(sb.clock.now_ms + 1_000)
    with pytest.raises(ValidationError, match="no event #99999"):
        handle.at(99_999)
    with pytest.raises(ValidationError, match="takes an Event"):
        handle.at("yesterday")
    with pytest.raises(ValidationError, match="no storage yet"):
        sb.inspect(sb.durable_objects.shop.get("never")).at(START)


def test_states_older_than_the_history_kept_are_refused(make: Any) -> None:
    """Past the size limit the oldest states are gone: the error names the limit."""
    sb = make(limits=Limits(max_history_bytes=4_000))
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("first", 1))
    sb.clock.advance(1)
    for i in range(200):
        sb.run(shop.put(f"k{i}", "x" * 40))
    with pytest.raises(ValidationError, match="max_history_bytes"):
        sb.inspect(shop).at(START)


def test_at_works_after_a_restore_and_a_rewind(sb: Sandbox, restore: Any) -> None:
    """Restores and rewinds are states of the log too: at() shows what each left."""
    handle = _history(sb)
    cp = sb.checkpoint()
    shop = restore(sb, "a", handle.at(START).bookmark)
    restored = handle.at(sb.clock.now_ms)
    assert restored.kind == "restore" and restored.tables["items"]["name"].tolist() == ["apple"]
    assert sb.run(shop.state())["kv"] == {"last": "apple"}  # this stub reaches the instance
    sb.rewind(cp)
    with pytest.raises(DurableObjectResetError):
        sb.run(shop.state())
    assert handle.at(sb.clock.now_ms).diff.empty
    assert "price" not in handle.at(sb.clock.now_ms).tables["items"].columns


class Quiet(DurableObject):
    """An alarm handler that writes nothing."""

    async def arm(self, ms: int) -> None:
        await self.ctx.storage.set_alarm(ms)

    async def alarm(self) -> None:
        return None


def test_an_alarm_that_fired_without_writes_is_in_the_history_when_it_fired(sb: Sandbox) -> None:
    """The history notes the alarm's change at the firing itself, not at the next bookmark."""
    sb.register("quiet", Quiet)
    stub = sb.durable_objects.quiet.get("q")
    due = sb.clock.now_ms + 60_000
    sb.run(stub.arm(due))
    sb.clock.advance(3600)
    handle = sb.inspect(stub)
    assert handle.at(due - 1).alarm_ms == due
    assert handle.at(due + 1_000).alarm_ms is None
    assert handle.at(due + 1_000).time_ms == due
