"""What every view shares: owned child widgets, buttons that show their errors, closing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as W

from ._live import LiveView
from ._render import TEXT, esc, message_html

__all__ = ["ViewBase"]


class Owner:
    """Creates child widgets and closes them all with the view (no orphan widget models)."""

    def __init__(self) -> None:
        self._owned: list[W.Widget] = []
        self.updating = False  # code is setting widget values: user observers stand by
        self.last_error: BaseException | None = None
        self.error = self.own(W.HTML(""))
        # Where what object code prints during a click shows (a view that places it sets it):
        # a widget callback's own prints would go to JupyterLab's log, out of sight.
        self.action_output: W.Output | None = None

    def make_action_output(self) -> W.Output:
        self.action_output = self.own(W.Output(layout=W.Layout(max_height="240px",
                                                                overflow="auto")))
        return self.action_output

    def own(self, widget: Any) -> Any:
        self._owned.append(widget)
        return widget

    def on_change(self, widget: Any, fn: Callable[[], Any]) -> None:
        """Run ``fn`` (showing its error) when the user changes ``widget``'s value."""

        def changed(_change: Any) -> None:
            if not self.updating:
                self.run_action(fn)

        widget.observe(changed, "value")

    def html(self, value: str = "", **layout: Any) -> W.HTML:
        return self.own(W.HTML(value, layout=W.Layout(**layout)))

    def button(
        self,
        label: str,
        action: Callable[[], Any],
        *,
        tooltip: str = "",
        style: str = "",
        icon: str = "",
        width: str = "auto",
    ) -> W.Button:
        """A button whose click runs ``action``; an error shows in the view, never vanishes."""
        b = self.own(
            W.Button(
                description=label,
                tooltip=tooltip or label,
                button_style=style,
                icon=icon,
                # Never squeezed to "S…" by a long row beside it.
                layout=W.Layout(width=width, flex="0 0 auto"),
            )
        )
        b.on_click(lambda _b: self.run_action(action))
        return b

    def run_action(self, action: Callable[[], Any]) -> Any:
        """Run a user action: clear the old error, show a new one (and keep it in last_error).

        What object code prints meanwhile (a ``__dispose__`` run by Evict, an ``alarm()`` run
        by Fire now) shows in the view's action output, replacing what the last click printed.
        """
        self.clear_error()
        sandbox = getattr(self, "sandbox", None)
        if self.action_output is None or sandbox is None or sandbox.closed:
            return self._run(action)
        printed: list[tuple[str, str]] = []
        try:
            with sandbox.output_to(lambda stream, text: printed.append((stream, text))):
                return self._run(action)
        finally:
            if printed:
                self.action_output.outputs = stream_outputs(printed)

    def _run(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except Exception as exc:
            self.show_error(exc)
            return None

    def show_error(self, exc: BaseException) -> None:
        self.last_error = exc
        self.error.value = message_html(f"{type(exc).__name__}: {exc}", "error")

    def show_note(self, text: str) -> None:
        self.error.value = message_html(text, "ok")

    def clear_error(self) -> None:
        self.last_error = None
        if self.error.value:
            self.error.value = ""

    def close_owned(self) -> None:
        owned, self._owned = self._owned, []
        for widget in reversed(owned):
            close_widget(widget)


class ViewBase(Owner, LiveView):
    """A live view: an ipywidgets container subclass mixes this in."""

    def close(self) -> None:  # type: ignore[override]
        self._live_stop()
        self.close_owned()
        for part in ("layout", "style"):
            sub = getattr(self, part, None)
            if isinstance(sub, W.Widget):
                sub.close()
        super().close()  # type: ignore[misc]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if not bundle:
            return bundle
        try:
            bundle["text/html"] = self.static_html()
        except Exception as exc:  # the live view still shows; the snapshot says why it is empty
            bundle["text/html"] = message_html(f"(no snapshot: {type(exc).__name__}: {exc})")
        bundle["text/plain"] = self.text_summary()
        return bundle

    def static_html(self) -> str:  # pragma: no cover - overridden
        return ""

    def text_summary(self) -> str:  # pragma: no cover - overridden
        return repr(self)


def stream_outputs(printed: list[tuple[str, str]]) -> tuple[dict[str, str], ...]:
    """Printed ``(stream, text)`` pieces as an Output widget's outputs, a stream's run joined."""
    outputs: list[dict[str, str]] = []
    for stream, text in printed:
        if outputs and outputs[-1]["name"] == stream:
            outputs[-1]["text"] += text
        else:
            outputs.append({"output_type": "stream", "name": stream, "text": text})
    return tuple(outputs)


def close_widget(widget: W.Widget) -> None:
    """Close a widget and its layout and style models (ipywidgets keeps each one alive)."""
    for part in ("layout", "style"):
        sub = getattr(widget, part, None)
        if isinstance(sub, W.Widget):
            sub.close()
    widget.close()


def set_options(owner: Owner, picker: Any, options: list[Any], value: Any) -> None:
    """Replace a picker's options and value from code, without running its user observers."""
    if list(picker.options) == options and picker.value == value:
        return
    owner.updating = True
    try:
        picker.options = options
        picker.value = value if value in [o[1] if isinstance(o, tuple) else o
                                          for o in options] else None
    finally:
        owner.updating = False


def heading(text: str) -> str:
    return (
        f'<div style="font-weight:600;font-size:12px;margin:4px 0 2px;text-align:left;'
        f'color:{TEXT}">{esc(text)}</div>'
    )
