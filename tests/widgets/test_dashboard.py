"""The dashboard and what displaying a stub, a handle or a sandbox shows."""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import Sandbox
from dosandbox.errors import ValidationError
from dosandbox.widgets import ClockBar, Dashboard, Inspector, mimebundle, static_html

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_dashboard_lists_objects_and_opens_an_inspector_on_click(
    sb: Sandbox, stub: Any, rows: Any
) -> None:
    """Objects show name, id, status, storage, sockets and next alarm; a click inspects one."""
    bob = sb.durable_objects.counter.get("bob")
    sb.run(stub.inc())
    sb.run(stub.arm(200))
    sb.run(bob.put("k", "v"))
    dash = sb.widget()
    assert isinstance(dash, Dashboard) and isinstance(dash.clock_bar, ClockBar)
    table = rows(dash.objects.value)
    assert table[0] == ["object", "name", "id", "status", "storage", "sockets", "next alarm"]
    by_name = {r[1]: r for r in table[1:]}
    assert by_name["alice"][3] == "live" and "in 3 min 20 s" in by_name["alice"][6]
    assert by_name["bob"][4] == "8.0 KB (2 SQLite pages of 4 KB)" and by_name["bob"][5] == "0"
    dash.picker.value = dash.picker.options[1][1]  # a click on bob in the list
    assert isinstance(dash.inspector, Inspector) and dash.inspector.handle.id == str(bob.id)
    first = dash.inspector
    opened = dash.inspect(stub)
    assert opened.handle.id == str(stub.id) and first._live_closed  # one open at a time
    dash.clock_bar.plus_hour.click()
    assert "next alarm" in table[0] and rows(dash.objects.value)[1][6] == ""  # alarm fired


def test_dashboard_event_log_newest_first_with_kind_filter(
    sb: Sandbox, stub: Any, rows: Any
) -> None:
    """The global event log shows every object's events newest first, filterable by kind."""
    sb.run(stub.inc())
    dash = sb.widget()
    sb.run(sb.durable_objects.counter.get("bob").inc())  # live: no refresh call needed
    table = rows(dash.events.value)
    assert table[1][3] == "counter" and table[1][2] == "rpc"
    assert [int(r[0]) for r in table[1:]] == sorted((int(r[0]) for r in table[1:]), reverse=True)
    dash.filter_events("register")
    assert {r[2] for r in rows(dash.events.value)[1:]} == {"register"}


def test_dashboard_inspect_unknown_object_is_a_typed_error(sb: Sandbox, stub: Any) -> None:
    """Inspecting an id the sandbox does not know raises ValidationError; the view still works."""
    sb.run(stub.inc())
    dash = sb.widget()
    with pytest.raises(ValidationError, match="knows no object"):
        dash.inspect("no-such-id")
    assert dash.inspect(stub).handle.id == str(stub.id)


def test_displaying_a_stub_handle_or_sandbox_gives_widget_and_snapshot(
    sb: Sandbox, stub: Any
) -> None:
    """Display bundles hold the widget view plus an HTML snapshot and short text."""
    sb.run(stub.inc())
    for target, text in ((stub, "Handle counter"), (sb.inspect(stub), "Handle counter"),
                         (sb, "Sandbox")):
        bundle = target._repr_mimebundle_()
        assert WIDGET_VIEW in bundle, target
        assert "dosandbox-snapshot" in bundle["text/html"]
        assert text in bundle["text/plain"]
    assert "counter" in static_html(sb) and "alice" in static_html(sb)
    assert "count</span>: 1" in static_html(stub)


def test_mimebundle_without_a_widget_falls_back_to_the_snapshot(sb: Sandbox, stub: Any) -> None:
    """When the widget cannot be made (no ipywidgets), the bundle is the HTML snapshot."""
    handle = sb.inspect(stub)

    def no_widgets() -> Any:
        raise ImportError("No module named 'ipywidgets'")

    bundle = mimebundle(no_widgets, fallback_html=handle._repr_html_)
    assert WIDGET_VIEW not in bundle and "dosandbox-snapshot" in bundle["text/html"]
