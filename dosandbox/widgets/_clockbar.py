"""The clock bar: the virtual now, step buttons, the mode and the pending alarms."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from .._core.notices import format_notice
from ..errors import SandboxWarning
from . import _data
from ._base import Owner, ViewBase, stream_outputs
from ._render import duration, esc, format_ms, message_html

if TYPE_CHECKING:
    from .._core.events import StepReport
    from .._sandbox import Sandbox

__all__ = ["ClockBar"]

MODES = ("manual", "autojump", "realtime")


class ClockBar(ViewBase, W.VBox):
    """``sb.clock.widget()``. Buttons drive the sandbox; every open inspector follows.

    Twins for code and tests: ``advance(seconds=60)``, ``run_next()``, ``run_until_idle()``,
    ``set_mode("autojump")``, or ``bar.plus_minute.click()``.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        Owner.__init__(self)
        self.sandbox = sandbox
        self.last_report: StepReport | None = None
        self.now = self.html()
        self.plus_second = self.button("+1 s", lambda: self.advance(seconds=1))
        self.plus_minute = self.button("+1 min", lambda: self.advance(seconds=60))
        self.plus_hour = self.button("+1 h", lambda: self.advance(seconds=3600))
        self.next_alarm = self.button(
            "Next alarm", self.run_next, icon="forward",
            tooltip="Jump to the next alarm or timer and run it",
        )
        self.until_idle = self.button(
            "Run until idle", self.run_until_idle, icon="fast-forward",
            tooltip="Keep jumping to the next timer until none is left",
        )
        self.mode = self.own(
            W.ToggleButtons(options=list(MODES), value=sandbox.clock.mode,
                            tooltips=["time moves only when you move it",
                                      "jump to the next timer when everything waits",
                                      "follow the wall clock"],
                            style=W.ToggleButtonsStyle(button_width="88px"))
        )
        self.mode.observe(self._on_mode, "value")
        self.alarms = self.html()
        self.report = self.html()
        # What object code printed during the last step the bar made (alarms it fired...):
        # shown here, under the bar, not in a cell far away or Lab's log console.
        self.output = self.own(W.Output(layout=W.Layout(max_height="240px", overflow="auto")))
        self.printed: list[tuple[str, str]] = []
        row = self.own(W.HBox(
            [self.now, self.plus_second, self.plus_minute, self.plus_hour, self.next_alarm,
             self.until_idle, self.mode, self.alarms],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        ))
        W.VBox.__init__(self, children=[row, self.report, self.output, self.error])
        self.add_class("dosandbox-clockbar")
        self._live_start(sandbox)
        self.refresh()

    # --- twins of the buttons ------------------------------------------------------------

    def advance(self, seconds: float) -> StepReport:
        """Move the virtual clock forward, firing what falls due (``sb.clock.advance``)."""
        return self._step(lambda: self.sandbox.clock.advance(seconds=seconds))

    def run_next(self) -> StepReport:
        return self._step(self.sandbox.clock.run_next)

    def run_until_idle(self) -> StepReport:
        """Run until idle, stopping when only self-re-arming alarms remain (a warning)."""
        return self._step(self.sandbox.clock.run_until_idle)

    def _step(self, step: Callable[[], StepReport]) -> StepReport:
        """Make one step with what object code prints captured under the bar."""
        printed: list[tuple[str, str]] = []

        def sink(stream: str, text: str) -> None:
            printed.append((stream, text))

        try:
            with warnings.catch_warnings():
                # Notices issued during the step show under the bar too (one stderr line
                # each), also one shown once before; other warnings go where they went.
                warnings.simplefilter("always", SandboxWarning)
                # The report line says why a run stopped early, in warning style.
                warnings.filterwarnings("ignore", r"run_until_idle\(\) stopped", SandboxWarning)
                previous = warnings.showwarning

                def show(message: Any, category: Any, filename: str, lineno: int,
                         file: Any = None, line: str | None = None) -> None:
                    if isinstance(message, SandboxWarning):
                        sink("stderr", format_notice(message))
                    else:
                        previous(message, category, filename, lineno, file, line)

                warnings.showwarning = show
                with self.sandbox.output_to(sink):
                    report = step()
        finally:
            self._show_printed(printed)
        return self._stepped(report)

    def _show_printed(self, printed: list[tuple[str, str]]) -> None:
        self.printed = printed
        self.output.outputs = stream_outputs(printed)

    def set_mode(self, mode: str) -> None:
        """The mode selector's twin: ``manual``, ``autojump`` or ``realtime``."""
        self.mode.value = mode

    def _stepped(self, report: StepReport) -> StepReport:
        self.last_report = report
        moved = (report.end_ms - report.start_ms) / 1000
        fired = len(report.fired)
        lines = sum(text.count("\n") for _, text in self.printed)
        printed = f"; {lines} line(s) printed below" if lines else ""
        took = duration(moved) if moved else "0 s"
        self.report.value = message_html(
            f"Clock moved {took}: {len(report)} event(s), {fired} alarm event(s){printed}"
            f"{report.note}.",
            "warning" if report.warning else "ok",
        )
        self.refresh()
        return report

    def _on_mode(self, change: dict[str, Any]) -> None:
        def apply() -> None:
            clock = self.sandbox.clock
            new = change["new"]
            if new == clock.mode:
                return
            if clock.mode == "realtime":
                clock.pause()
            if new == "realtime":
                clock.realtime(clock.speed)
            else:
                clock.mode = new

        self.run_action(apply)
        if self.mode.value != self.sandbox.clock.mode:  # refused: show the real mode again
            self.mode.value = self.sandbox.clock.mode

    # --- refreshing ----------------------------------------------------------------------

    def refresh(self) -> None:
        clock = self.sandbox.clock
        self.now.value = (
            f'<span style="font-family:monospace;font-size:13px;margin-right:8px">'
            f"virtual now <b>{esc(format_ms(clock.now_ms))}</b></span>"
        )
        if self.mode.value != clock.mode:
            self.mode.value = clock.mode
        count = _data.pending_alarms(self.sandbox)
        text = "alarms: n/a" if count is None else f"{count} pending alarm{'s' * (count != 1)}"
        self.alarms.value = f'<span style="font-size:12px;margin-left:8px">{esc(text)}</span>'

    def static_html(self) -> str:
        from ._static import clock_html

        return clock_html(self.sandbox)

    def text_summary(self) -> str:
        return repr(self.sandbox.clock)
