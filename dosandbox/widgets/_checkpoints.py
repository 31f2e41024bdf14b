"""The dashboard's checkpoints: take one, see them, rewind the whole sandbox to one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..errors import ValidationError
from ._base import Owner, heading, set_options
from ._render import format_ms, table_html

if TYPE_CHECKING:
    from .._notebook.checkpoints import Checkpoint
    from .._sandbox import Sandbox

__all__ = ["CheckpointsPanel"]


class CheckpointsPanel:
    """Twins of the buttons: ``take(label)``, ``rewind(checkpoint_or_label)``.

    ``owner`` (the dashboard) owns the widgets and shows errors; ``box`` is what it displays.
    """

    def __init__(self, owner: Owner, sandbox: Sandbox) -> None:
        self.owner = owner
        self.sandbox = sandbox
        self.label = owner.own(W.Text(value="", placeholder="label (optional)",
                                      layout=W.Layout(width="220px")))
        self.take_button = owner.button(
            "Checkpoint", lambda: self.take(self.label.value or None), icon="camera",
            tooltip="Note every object's storage, alarm and the clock, to rewind to later.")
        self.picker = owner.own(W.Dropdown(options=[], description="Rewind to",
                                           layout=W.Layout(width="360px")))
        self.rewind_button = owner.button(
            "Rewind", lambda: self.rewind(self.picker.value), style="warning", icon="undo",
            tooltip="Every object back to the checkpoint (instances restart, sockets close, "
            "the clock goes back, alarms re-armed); later checkpoints are discarded.")
        self.table = owner.html()
        self.box = owner.own(W.VBox([
            owner.html(heading("Checkpoints")),
            owner.own(W.HBox([self.label, self.take_button, self.picker, self.rewind_button],
                             layout=W.Layout(align_items="center"))),
            self.table,
        ]))
        self.refresh()

    def take(self, label: str | None = None) -> Checkpoint:
        """The Checkpoint button: ``sb.checkpoint(label)``."""
        cp = self.sandbox.checkpoint(label)
        self.label.value = ""
        self.refresh()
        return cp

    def rewind(self, target: Any) -> Checkpoint:
        """The Rewind button: ``sb.rewind(cp)`` to a checkpoint, its label or its number."""
        cp = self._find(target)
        self.sandbox.rewind(cp)
        self.owner.show_note(f"Rewound to {cp.label}: every object restarted.")
        self.refresh()
        return cp

    def _find(self, target: Any) -> Checkpoint:
        checkpoints = self.sandbox.checkpoints
        for cp in checkpoints:
            if target is cp or target == cp.label or target == cp.number:
                return cp
        if target is None:
            raise ValidationError("No checkpoint picked: take one first (Checkpoint button).")
        return target  # type: ignore[no-any-return]  # sb.rewind() says what is wrong with it

    def refresh(self) -> None:
        checkpoints = self.sandbox.checkpoints
        options = [(f"#{cp.number} {cp.label}", cp.number) for cp in checkpoints]
        current = self.picker.value
        pick = current if current in [n for _, n in options] else (
            options[-1][1] if options else None)
        set_options(self.owner, self.picker, options, pick)
        self.rewind_button.disabled = not checkpoints
        self.table.value = table_html(
            ["#", "label", "time", "objects"],
            [(cp.number, cp.label, format_ms(cp.time_ms), cp.objects) for cp in checkpoints],
            empty="no checkpoints yet",
        )
