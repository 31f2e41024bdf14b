"""The inspector's header and tabs, read from widget state after a sequence of calls."""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import Sandbox
from dosandbox.errors import AlarmError, ValidationError
from dosandbox.widgets import ClockBar, Inspector


def test_header_shows_name_id_status_and_counts(sb: Sandbox, stub: Any) -> None:
    """The header names the object, shows its id, live status and event count."""
    sb.run(stub.inc())
    w = sb.inspect(stub).widget()
    assert isinstance(w, Inspector)
    assert "counter" in w.title.value and "alice" in w.title.value
    assert str(stub.id)[:16] in w.title.value
    assert ">live<" in w.title.value
    assert w.tabs.titles == (
        "State", "KV", "SQL", "Sockets", "Alarm", "Events", "Stubs", "Timeline"
    )


def test_state_tab_shows_state_tree_and_type(sb: Sandbox, stub: Any) -> None:
    """State shows the in-memory state as a collapsible tree with its type, live."""
    sb.run(stub.inc(5))
    w = sb.inspect(stub).widget()
    view = w.tab("State").view.value
    assert "type <b>dict</b>" in view
    assert "<details" in view and "count</span>: 5" in view
    sb.run(stub.inc(2))
    assert "count</span>: 7" in w.tab("State").view.value


def test_not_created_object_says_so(sb: Sandbox, stub: Any) -> None:
    """An object never called shows 'not created' and no state."""
    w = sb.inspect(stub).widget()
    assert ">not created<" in w.title.value
    assert "Not created yet" in w.tab("State").view.value
    assert w.evict_button.disabled


def test_evict_updates_status_and_next_call_reruns_init(sb: Sandbox, stub: Any) -> None:
    """Evict drops the instance (status evicted); the next call runs init again (count resets)."""
    sb.run(stub.inc(3))
    w = sb.inspect(stub).widget()
    w.evict_button.click()
    assert w.last_error is None
    assert ">evicted<" in w.title.value
    assert "evicted" in w.tab("State").view.value
    assert w.evict_button.disabled
    assert sb.run(stub.inc()) == 1  # init ran again: the count started from 0
    assert ">live<" in w.title.value and "instance #2" in w.title.value
    assert "count</span>: 1" in w.tab("State").view.value


def test_plus_minute_fires_due_alarm_and_alarm_and_events_tabs_change(
    sb: Sandbox, stub: Any, rows: Any
) -> None:
    """Clicking +1 min fires an alarm due in 30 s: the Alarm tab empties, Events lists it."""
    sb.run(stub.inc())
    sb.run(stub.arm(30))
    w = sb.inspect(stub).widget()
    alarm = w.select_tab("Alarm")
    assert "00:00:30.000Z" in alarm.view.value and "in 30 s" in alarm.view.value
    bar = sb.clock.widget()
    assert "1 pending alarm" in bar.alarms.value
    bar.plus_minute.click()
    assert bar.last_error is None
    assert "No alarm set." in alarm.view.value
    assert alarm.fire_button.disabled
    assert "0 pending alarms" in bar.alarms.value
    assert "00:01:00.000Z" in bar.now.value
    events = w.select_tab("Events")
    newest = rows(events.table.value)[1]
    assert newest[2].startswith("alarm")  # newest first: the alarm's own events are on top
    assert "count</span>: 101" in w.select_tab("State").view.value


def test_alarm_tab_counts_down_as_the_clock_moves(sb: Sandbox, stub: Any) -> None:
    """The Alarm tab shows 'in 3 min 20 s' and follows the clock."""
    sb.run(stub.arm(200))
    w = sb.inspect(stub).widget()
    alarm = w.select_tab("Alarm")
    assert "in 3 min 20 s" in alarm.view.value
    assert "retry count 0" in alarm.view.value
    sb.clock.advance(seconds=20)
    assert "in 3 min" in alarm.view.value and "in 3 min 20 s" not in alarm.view.value


def test_fire_now_and_delete_buttons(sb: Sandbox, stub: Any) -> None:
    """Fire now runs the alarm without moving the clock; Delete removes a pending alarm."""
    sb.run(stub.inc())
    sb.run(stub.arm(600))
    w = sb.inspect(stub).widget()
    alarm = w.select_tab("Alarm")
    alarm.fire_button.click()
    assert w.last_error is None
    assert "No alarm set." in alarm.view.value
    assert sb.clock.now_ms == sb.clock._origin_ms  # the clock did not move
    assert sb.inspect(stub).state["count"] == 101
    sb.run(stub.arm(600))
    assert "in 10 min" in alarm.view.value
    alarm.delete_button.click()
    assert w.last_error is None
    assert "No alarm set." in alarm.view.value
    assert sb.inspect(stub).alarm is None


def test_fire_now_without_alarm_shows_the_error_and_keeps_working(
    sb: Sandbox, stub: Any
) -> None:
    """Fire now with no alarm shows AlarmError in the widget; the inspector keeps working."""
    sb.run(stub.inc())
    w = sb.inspect(stub).widget()
    alarm = w.select_tab("Alarm")
    alarm.fire_button.click()  # the twin works even when the button is disabled in the page
    assert isinstance(w.last_error, AlarmError)
    assert "AlarmError" in w.error.value and "no alarm set" in w.error.value
    sb.run(stub.arm(5))
    assert "in 5 s" in alarm.view.value
    alarm.fire_button.click()
    assert w.last_error is None and w.error.value == ""
    assert sb.inspect(stub).state["count"] == 101


def test_events_tab_newest_first_and_filter_by_kind(sb: Sandbox, stub: Any, rows: Any) -> None:
    """Events lists this object's events newest first; the kind filter keeps one kind."""
    other = sb.durable_objects.counter.get("bob")
    sb.run(stub.inc())
    sb.run(other.inc())
    sb.run(stub.arm(10))
    w = sb.inspect(stub).widget()
    events = w.select_tab("Events")
    table = rows(events.table.value)
    assert table[0] == ["seq", "time", "kind", "message"]
    seqs = [int(r[0]) for r in table[1:]]
    assert seqs == sorted(seqs, reverse=True)
    assert set(seqs) == {e.seq for e in sb.event_log.select(object_id=str(stub.id))}
    assert "rpc" in events.kind.options and "alarm.set" in events.kind.options
    events.filter("alarm")
    kinds = {r[2] for r in rows(events.table.value)[1:]}
    assert kinds == {"alarm.set"}


def test_unknown_tab_is_a_typed_error(sb: Sandbox, stub: Any) -> None:
    """select_tab with a wrong name raises ValidationError naming the tabs; nothing breaks."""
    w = sb.inspect(stub).widget()
    with pytest.raises(ValidationError, match="State, KV, SQL, Sockets, Alarm, Events"):
        w.select_tab("Storage")
    assert w.select_tab("alarm").title == "Alarm"


def test_clock_bar_steps_and_reports(sb: Sandbox, stub: Any) -> None:
    """+1 s, +1 h, next alarm and run until idle drive the clock and report what ran."""
    bar = sb.clock.widget()
    assert isinstance(bar, ClockBar)
    bar.plus_second.click()
    assert "00:00:01.000Z" in bar.now.value
    bar.plus_hour.click()
    assert "01:00:01.000Z" in bar.now.value
    sb.run(stub.arm(90))
    bar.next_alarm.click()
    assert "01:01:31.000Z" in bar.now.value
    assert "alarm event" in bar.report.value
    sb.run(stub.arm(30))
    bar.until_idle.click()
    assert "01:02:01.000Z" in bar.now.value
    assert bar.last_error is None


def test_clock_bar_mode_selector_drives_the_clock_mode(sb: Sandbox) -> None:
    """The mode selector sets manual, autojump and realtime, and pauses realtime again."""
    bar = sb.clock.widget()
    assert bar.mode.value == "manual"
    bar.set_mode("autojump")
    assert sb.clock.mode == "autojump"
    bar.set_mode("realtime")
    assert sb.clock.mode == "realtime"
    bar.set_mode("manual")
    assert sb.clock.mode == "manual" and not sb.clock.following_wall_clock
    sb.clock.mode = "autojump"  # changed from code: the bar follows on the next refresh
    sb.clock.advance(seconds=1)
    assert bar.mode.value == "autojump"


def test_clock_bar_shows_a_failing_step_and_keeps_working(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that raises shows its error in the bar (not swallowed); the next click works."""
    from dosandbox.errors import ClockError

    bar = sb.clock.widget()

    def broken(**kwargs: Any) -> Any:
        raise ClockError("the clock is stuck (simulated)")

    monkeypatch.setattr(sb.clock, "advance", broken)
    bar.plus_minute.click()
    assert isinstance(bar.last_error, ClockError)
    assert "ClockError" in bar.error.value and "the clock is stuck (simulated)" in bar.error.value
    monkeypatch.undo()
    bar.plus_minute.click()
    assert bar.last_error is None and bar.error.value == ""
    assert "00:01:00.000Z" in bar.now.value


def test_what_object_code_prints_during_a_click_shows_under_the_inspector() -> None:
    """Evict running a target's __dispose__ that prints, and Fire now running an alarm() that
    prints: the text shows in the inspector (a callback's prints would go to Lab's log)."""
    import datetime as dt

    from dosandbox import DurableObject, RpcTarget

    class Ticket(RpcTarget):
        def __dispose__(self) -> None:
            print("ticket returned")

    class Desk(DurableObject):
        def __init__(self, ctx: Any, env: Any) -> None:
            super().__init__(ctx, env)
            self.ticket: Any = None

        async def borrow(self) -> None:
            self.ticket = await self.env.LENDER.get("l").lend()

        def lend(self) -> Ticket:
            return Ticket()

        async def arm(self) -> None:
            await self.ctx.storage.set_alarm(dt.timedelta(minutes=1))

        def alarm(self) -> None:
            print("alarm rang")

    with Sandbox() as sb:
        sb.register("desk", Desk)
        sb.register("lender", Desk)
        desk = sb.durable_objects.desk.get("d")
        sb.run(desk.borrow())
        w = sb.inspect(desk).widget()
        assert w.action_output is not None and w.action_output.outputs == ()
        w.evict_button.click()
        assert w.last_error is None
        assert w.action_output.outputs == (
            {"output_type": "stream", "name": "stdout", "text": "ticket returned\n"},
        )
        sb.run(desk.arm())
        w.select_tab("Alarm").fire_button.click()
        assert w.last_error is None
        assert w.action_output.outputs[0]["text"] == "alarm rang\n"
        w.select_tab("KV").next_button.click()  # an action that prints leaves the text alone
        assert w.action_output.outputs[0]["text"] == "alarm rang\n"
