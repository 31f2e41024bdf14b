"""The sandbox's warnings read as its own short notices, and long runs stop with a warning."""

from __future__ import annotations

import datetime as dt
import io
import time
import warnings
from typing import Any

import pytest

from dosandbox import DurableObject, Sandbox, SandboxWarning
from dosandbox._core.notices import format_notice, install, notify
from dosandbox.errors import ValidationError

START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def _shown(fn: Any) -> str:
    """What Python's own warning display writes to stderr while ``fn`` runs."""
    err = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("always")

        def show(message: Any, category: Any, filename: str, lineno: int,
                 file: Any = None, line: Any = None) -> None:
            err.write(warnings.formatwarning(message, category, filename, lineno, line))

        warnings.showwarning = show
        fn()
    return err.getvalue()


def test_a_notice_prints_as_one_line_without_file_path_or_source() -> None:
    """SandboxWarning shows as `dosandbox notice [CODE]: message`, no path, no source line."""
    text = _shown(lambda: notify("alarm dropped after 7 attempts.", code="ALARM_DROPPED"))
    assert text == "dosandbox notice [ALARM_DROPPED]: alarm dropped after 7 attempts.\n"


def test_other_warnings_keep_pythons_format() -> None:
    """Only the sandbox's category changes: a UserWarning still names its file and line."""
    install()
    text = _shown(lambda: warnings.warn("plain", UserWarning, stacklevel=1))
    assert "test_notices.py" in text and "UserWarning: plain" in text


def test_notices_are_ordinary_warnings_to_filter_and_catch() -> None:
    """filterwarnings("ignore", SandboxWarning) silences them; pytest.warns sees the code."""
    with pytest.warns(SandboxWarning, match="hello") as caught:
        notify("hello", code="TEST_CODE")
    assert caught[0].message.code == "TEST_CODE"  # type: ignore[union-attr]

    def ignored() -> None:
        warnings.simplefilter("ignore", SandboxWarning)
        notify("quiet", code="X")

    assert _shown(ignored) == ""
    assert format_notice(SandboxWarning("m", code="C")) == "dosandbox notice [C]: m\n"


class Ticker(DurableObject):
    """Re-arms a minute later, for ever (``left`` None) or ``left`` more times."""

    async def start(self, left: int | None = None) -> None:
        self.ctx.storage.kv.put("left", left)
        await self.ctx.set_alarm(time.time() * 1000 + 60_000)

    async def alarm(self) -> None:
        left = self.ctx.storage.kv.get("left")
        if left is not None:
            left -= 1
            self.ctx.storage.kv.put("left", left)
            if left <= 0:
                return
        await self.ctx.set_alarm(time.time() * 1000 + 60_000)


class Once(DurableObject):
    async def start(self, days: int) -> None:
        await self.ctx.set_alarm(dt.timedelta(days=days))

    async def alarm(self) -> None:
        self.ctx.storage.kv.put("fired", True)


@pytest.fixture
def sb() -> Any:
    with Sandbox(start=START) as sandbox:
        sandbox.register("ticker", Ticker)
        sandbox.register("once", Once)
        yield sandbox


def test_run_until_idle_stops_when_only_re_arming_alarms_remain(sb: Sandbox) -> None:
    """A ticker alone: three firings, then a warning (report and notice), not 11 years."""
    sb.run(sb.durable_objects.ticker.get("t").start())
    with pytest.warns(SandboxWarning, match="only alarms that re-arm themselves") as caught:
        report = sb.clock.run_until_idle()
    assert caught[0].message.code == "IDLE_HORIZON"  # type: ignore[union-attr]
    assert report.end_ms - report.start_ms == 3 * 60_000
    assert "ticker t fired 3 times, next in 60 s" in report.warning
    assert report.warning in report.note and report.warning in repr(report)
    assert len(sb.alarms()) == 1  # still pending: nothing was dropped


def test_run_until_idle_still_reaches_a_one_off_alarm_days_away(sb: Sandbox) -> None:
    """A ticker and a one-off alarm in 2 days: the run goes on until the one-off has fired."""
    sb.run(sb.durable_objects.ticker.get("t").start())
    sb.run(sb.durable_objects.once.get("o").start(2))
    with pytest.warns(SandboxWarning, match="only alarms that re-arm"):
        report = sb.clock.run_until_idle()
    assert report.end_ms - report.start_ms == 2 * 24 * 3600_000
    assert [e.object_name for e in report.fired if e.kind == "alarm.fired"].count("once") == 1


def test_a_short_finite_chain_runs_to_the_end_without_warning(sb: Sandbox) -> None:
    """An alarm that re-arms twice and stops is idle after: no warning."""
    sb.run(sb.durable_objects.ticker.get("t").start(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SandboxWarning)
        report = sb.clock.run_until_idle()
    assert report.warning == "" and len(sb.alarms()) == 0


def test_repeats_none_runs_them_until_the_step_limit_and_says_so(sb: Sandbox) -> None:
    """repeats=None ignores re-arming; hitting the limit is a warning too."""
    sb.run(sb.durable_objects.ticker.get("t").start())
    with pytest.warns(SandboxWarning, match="stopped after limit=10 steps"):
        report = sb.clock.run_until_idle(limit=10, repeats=None)
    assert report.end_ms - report.start_ms == 10 * 60_000
    assert "limit=10" in report.warning


def test_bad_repeats_is_refused_with_the_fix(sb: Sandbox) -> None:
    """repeats must be a positive int or None."""
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(ValidationError, match=r"repeats=3 \(the default\)"):
            sb.clock.run_until_idle(repeats=bad)  # type: ignore[arg-type]


def test_project_problems_with_strict_false_are_a_notice(tmp_path: Any) -> None:
    """from_directory(strict=False) reports the broken file as a PROJECT_PROBLEMS notice."""
    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "broken.py").write_text("def f(:\n")
    (objects / "fine.py").write_text(
        "from dosandbox import DurableObject\n\nclass Fine(DurableObject):\n"
        "    def ping(self):\n        return 'pong'\n"
    )
    with pytest.warns(SandboxWarning, match=r"broken\.py") as caught:
        sb = Sandbox.from_directory(objects, strict=False)
    try:
        assert caught[0].message.code == "PROJECT_PROBLEMS"  # type: ignore[union-attr]
        assert sb.run(sb.durable_objects.fine.get("f").ping()) == "pong"
    finally:
        sb.close()
