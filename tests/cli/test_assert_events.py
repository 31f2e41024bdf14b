"""``dosandbox.testing.assert_events``: readable assertions on the event log."""

from __future__ import annotations

import datetime as dt

import pytest

from dosandbox import define_durable_object
from dosandbox.testing import FIXED_START, assert_events, kind_matches


async def _inc(ctx, n: int = 1) -> int:
    value = (await ctx.storage.get("n") or 0) + n
    await ctx.storage.put("n", value)
    await ctx.set_alarm(dt.timedelta(seconds=5))
    return value


async def _alarm(ctx) -> None:
    await ctx.storage.delete("n")


COUNTER = define_durable_object(methods={"inc": _inc}, alarm=_alarm)


@pytest.fixture
def counter(do_sandbox):
    do_sandbox.register("counter", COUNTER)
    return do_sandbox.durable_objects.counter.get("a")


def test_kind_matching_rules():
    """Exact kinds, dotted prefixes and globs match; a bare prefix without a dot does not."""
    assert kind_matches("kv.put", "kv.put")
    assert kind_matches("kv", "kv.put") and kind_matches("kv", "kv")
    assert not kind_matches("kv", "kvx.put")
    assert not kind_matches("kv.put", "kv")
    assert kind_matches("alarm.*", "alarm.fired") and not kind_matches("alarm.*", "alarm")
    assert kind_matches("*.delete", "kv.delete")


def test_the_do_sandbox_fixture_starts_at_the_fixed_time(do_sandbox, do_clock):
    """The do_sandbox fixture's clock starts at 2026-01-01T00:00Z; do_clock is that clock."""
    assert do_clock is do_sandbox.clock
    assert do_clock.now_ms == int(FIXED_START.timestamp() * 1000)


def test_in_order_subsequence_from_a_stub(do_sandbox, counter):
    """A stub's events are checked in order; other events may come in between."""
    assert do_sandbox.run(counter.inc(2)) == 2
    matched = assert_events(counter, ["instance.created", "kv.put", "rpc"])
    assert [e.kind for e in matched] == ["instance.created", "kv.put", "rpc"]
    assert matched[1].message == "put 'n'"
    assert_events(counter, ["kv", "alarm.set"])  # prefix matching


def test_exact_match_and_since_on_the_sandbox(do_sandbox, counter):
    """exact=True wants the events one for one; since= keeps only later ones."""
    do_sandbox.run(counter.inc())
    mark = do_sandbox.event_log.last_seq
    do_sandbox.clock.run_next()
    assert_events(do_sandbox, ["alarm.fired", "kv.delete"], since=mark, exact=True)
    assert_events(do_sandbox, ["alarm", "kv"], since=mark, exact=True)  # "alarm" is a prefix
    report_events = assert_events(
        do_sandbox, ["register", "rpc", "alarm.fired"], object="counter", ignore=["kv"]
    )
    assert report_events[0].kind == "register"


def test_a_step_report_and_a_handle_are_sources(do_sandbox, counter):
    """A StepReport (what a clock step did) and a handle can be asserted on directly."""
    do_sandbox.run(counter.inc())
    report = do_sandbox.clock.run_next()
    assert_events(report, ["alarm.fired", "kv.delete"])
    handle = do_sandbox.inspect(counter)
    assert_events(handle, ["rpc", "alarm.fired"], ignore=["kv", "alarm.set"])


def test_object_filter_takes_a_name_stub_or_handle(do_sandbox, counter):
    """object= narrows the sandbox log to one namespace or one object."""
    other = do_sandbox.durable_objects.counter.get("b")
    do_sandbox.run(counter.inc())
    do_sandbox.run(other.inc(7))
    assert len(assert_events(do_sandbox, ["rpc", "rpc"], object="counter")) == 2
    assert_events(do_sandbox, ["rpc"], object=other, exact=True, ignore=["kv", "alarm", "instance"])
    with pytest.raises(AssertionError):
        assert_events(do_sandbox, ["rpc", "rpc"], object=do_sandbox.inspect(counter))


def test_missing_event_message_shows_progress_and_the_log(do_sandbox, counter):
    """The failure says what matched, what was missing, and lists the actual events."""
    do_sandbox.run(counter.inc())
    with pytest.raises(AssertionError) as info:
        assert_events(counter, ["rpc", "kv.delete"])
    text = str(info.value)
    assert "matched ['rpc'] then found no 'kv.delete'" in text
    assert "Actual events:" in text
    assert "-> #5    rpc" in text  # the pointer marks where matching stopped
    assert "kv.put" in text and "put 'n'" in text


def test_out_of_order_message_says_so(do_sandbox, counter):
    """An expected kind that happened earlier than required is called an ordering problem."""
    do_sandbox.run(counter.inc())
    with pytest.raises(AssertionError, match=r"'kv.put' does occur, at #3, but before"):
        assert_events(counter, ["rpc", "kv.put"])


def test_exact_mismatch_messages(do_sandbox, counter):
    """exact=True failures name the first differing event, extra events, or a short log."""
    do_sandbox.run(counter.inc())
    with pytest.raises(AssertionError, match=r"event 2 is 'kv.put', expected 'rpc'"):
        assert_events(counter, ["instance.created", "rpc"], exact=True)
    with pytest.raises(AssertionError, match=r"2 more event\(s\) than expected"):
        assert_events(counter, ["instance.created", "kv.put"], exact=True)
    with pytest.raises(AssertionError, match=r"the log ends before 'alarm.fired' \(event 5\)"):
        assert_events(
            counter, ["instance.created", "kv", "alarm", "rpc", "alarm.fired"], exact=True
        )


def test_bad_arguments_are_type_errors(do_sandbox, counter):
    """A bare string or an unknown source is refused with the right form in the message."""
    with pytest.raises(TypeError, match=r"a list of kinds, e.g. \['rpc'\]"):
        assert_events(counter, "rpc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="reads a Sandbox, a stub"):
        assert_events(42, ["rpc"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="object name, a stub or a handle"):
        assert_events(do_sandbox, ["rpc"], object=3)  # type: ignore[arg-type]
    # The sandbox keeps working after the refused calls.
    assert do_sandbox.run(counter.inc(3)) == 3
