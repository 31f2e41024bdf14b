"""Prints of object code go to whoever drives now: a view's sink, else the driving cell.

The cell routing itself needs a real kernel (tests/notebooks/test_output_cells.py); these
check the sink that views use, the clock bar's output area, and that streams are restored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import sys
import time
from contextlib import redirect_stdout
from typing import Any

import pytest

from dosandbox import DurableObject, Sandbox, SandboxWarning
from dosandbox.errors import WaitingOnTimeError

START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


class Talker(DurableObject):
    async def slow(self) -> str:
        print("slow started")
        await asyncio.sleep(5)
        print("slow finished")
        return "done"

    async def arm(self, seconds: float) -> None:
        await self.ctx.set_alarm(time.time() * 1000 + seconds * 1000)

    async def alarm(self) -> None:
        print("alarm ran at", dt.datetime.now(dt.UTC).strftime("%H:%M:%S"))
        sys.stderr.write("alarm stderr\n")


class Ticker(DurableObject):
    async def start(self) -> None:
        await self.ctx.set_alarm(time.time() * 1000 + 60_000)

    async def alarm(self) -> None:
        print("tick")
        await self.ctx.set_alarm(time.time() * 1000 + 60_000)


class NoHandler(DurableObject):
    async def arm(self) -> None:
        await self.ctx.set_alarm(dt.timedelta(seconds=1))


@pytest.fixture
def sb() -> Any:
    with Sandbox(start=START) as sandbox:
        sandbox.register("talker", Talker)
        sandbox.register("ticker", Ticker)
        sandbox.register("no_handler", NoHandler)
        yield sandbox


def test_output_to_gets_the_prints_of_a_call_started_earlier(sb: Sandbox) -> None:
    """A call left in flight by an earlier drive prints into the sink of the drive that
    finishes it, stdout and stderr apart."""
    talker = sb.durable_objects.talker.get("t")
    plain = io.StringIO()
    with redirect_stdout(plain), pytest.raises(WaitingOnTimeError):
        sb.run(talker.slow())
    assert plain.getvalue() == "slow started\n"
    sb.run(talker.arm(6))
    got: list[tuple[str, str]] = []
    with sb.output_to(lambda stream, text: got.append((stream, text))):
        sb.clock.advance(seconds=6)
    printed = "".join(text for stream, text in got if stream == "stdout")
    assert printed == "slow finished\nalarm ran at 00:00:06\n"
    assert [text for stream, text in got if stream == "stderr"] == ["alarm stderr\n"]


def test_streams_are_the_callers_again_after_every_drive(sb: Sandbox) -> None:
    """Outside a drive sys.stdout/sys.stderr are never wrapped, also after a failing one."""
    before = (sys.stdout, sys.stderr)
    talker = sb.durable_objects.talker.get("t")
    with sb.output_to(lambda stream, text: None):
        with pytest.raises(WaitingOnTimeError):
            sb.run(talker.slow())
        assert (sys.stdout, sys.stderr) == before
    assert (sys.stdout, sys.stderr) == before
    sb.clock.advance(seconds=5)
    assert (sys.stdout, sys.stderr) == before


def test_without_a_sink_plain_streams_are_left_alone(
    sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a script or under pytest (no kernel, no view's sink) prints go to sys.stdout as is."""
    talker = sb.durable_objects.talker.get("t")
    sb.run(talker.arm(1))
    sb.clock.advance(seconds=1)
    assert capsys.readouterr().out == "alarm ran at 00:00:01\n"


def test_clock_bar_shows_the_prints_of_the_alarms_its_button_fired(sb: Sandbox) -> None:
    """"+1 min" fires an alarm; its print appears in the bar's output area, and the report
    line counts it; the next click replaces it."""
    pytest.importorskip("ipywidgets")
    talker = sb.durable_objects.talker.get("t")
    sb.run(talker.arm(30))
    bar = sb.clock.widget()
    try:
        bar.plus_minute.click()
        assert bar.output.outputs == (
            {"output_type": "stream", "name": "stdout", "text": "alarm ran at 00:00:30\n"},
            {"output_type": "stream", "name": "stderr", "text": "alarm stderr\n"},
        )
        assert "2 line(s) printed below" in bar.report.value
        bar.plus_second.click()
        assert bar.output.outputs == ()
    finally:
        bar.close()


def test_clock_bar_shows_a_notice_under_itself_as_one_line(sb: Sandbox) -> None:
    """A dropped alarm's notice, fired by a bar button, shows under the bar, no file path."""
    pytest.importorskip("ipywidgets")
    sb.run(sb.durable_objects.no_handler.get("n").arm())
    bar = sb.clock.widget()
    try:
        bar.next_alarm.click()
        (output,) = bar.output.outputs
        assert output["name"] == "stderr"
        assert output["text"].startswith("dosandbox notice [ALARM_DROPPED]: no_handler ")
        assert ".py" not in output["text"] and output["text"].count("\n") == 1
    finally:
        bar.close()


def test_run_until_idle_on_the_bar_stops_for_re_arming_alarms_as_a_warning(
    sb: Sandbox,
) -> None:
    """"Run until idle" with a ticker stops after three ticks, in warning style, not "ok"."""
    pytest.importorskip("ipywidgets")
    sb.run(sb.durable_objects.ticker.get("t").start())
    bar = sb.clock.widget()
    try:
        with warnings_as_errors():
            bar.until_idle.click()
        assert bar.last_error is None
        report = bar.last_report
        assert report is not None and report.end_ms - report.start_ms == 180_000
        assert "only alarms that re-arm themselves remain" in bar.report.value
        assert "#2e7d32" not in bar.report.value  # not the "ok" green
        assert bar.output.outputs[0]["text"] == "tick\ntick\ntick\n"
    finally:
        bar.close()


def warnings_as_errors() -> Any:
    """The bar's own report says why a run stopped: no notice may escape to the cell."""
    import warnings

    manager = warnings.catch_warnings()

    class Strict:
        def __enter__(self) -> None:
            manager.__enter__()
            warnings.simplefilter("error", SandboxWarning)

        def __exit__(self, *exc: object) -> None:
            manager.__exit__(*exc)

    return Strict()
