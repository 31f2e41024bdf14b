"""Live and cheap: one refresh per burst, no work with nothing open, no leak on re-runs."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from typing import Any

from ipywidgets.widgets.widget import _instances

from dosandbox import Sandbox
from dosandbox.widgets._live import hub_for


def _gather(sb: Sandbox, stub: Any, n: int) -> None:
    async def many() -> None:
        await asyncio.gather(*(stub.inc() for _ in range(n)))

    sb.run(many())


def test_import_dosandbox_loads_no_widgets_pandas_or_ipython() -> None:
    """`import dosandbox` (and dosandbox.widgets itself) imports no ipywidgets, pandas, IPython."""
    code = (
        "import sys, dosandbox, dosandbox.widgets\n"
        "print(sorted(m for m in ('ipywidgets', 'pandas', 'IPython') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _count_subscriptions(sb: Sandbox, monkeypatch: Any) -> list[dict[str, bool]]:
    """Wrap ``sb.subscribe``: the list holds one entry per subscription still open."""
    open_now: list[dict[str, bool]] = []
    real = sb.subscribe

    def subscribe(**callbacks: Any) -> Any:
        entry = {name: fn is not None for name, fn in callbacks.items()}
        open_now.append(entry)
        unsubscribe = real(**callbacks)

        def undo() -> None:
            open_now.remove(entry)
            unsubscribe()

        return undo

    monkeypatch.setattr(sb, "subscribe", subscribe)
    return open_now


def test_nothing_subscribes_until_a_view_opens_and_closing_unsubscribes(
    sb: Sandbox, monkeypatch: Any
) -> None:
    """With no view open the sandbox has no subscriber, clock listener or idle hook."""
    stub = sb.durable_objects.counter.get("alice")
    subscriptions = _count_subscriptions(sb, monkeypatch)
    base = sb.event_log.subscriber_count
    sb.run(stub.inc())
    assert not hub_for(sb).subscribed and subscriptions == []
    w = sb.inspect(stub).widget()
    bar = sb.clock.widget()
    # One hub for every view: a single subscription, to events, the clock and drive ends.
    assert subscriptions == [{"on_event": True, "on_clock": True, "on_idle": True}]
    assert sb.event_log.subscriber_count == base + 1
    assert len(sb.driver.on_idle) == 1  # internal check: the sandbox's own drive-end hooks
    w.close()
    assert hub_for(sb).subscribed and len(subscriptions) == 1
    bar.close()
    assert subscriptions == []
    assert sb.event_log.subscriber_count == base and sb.driver.on_idle == []
    before = w.refresh_count
    sb.run(stub.inc())
    sb.clock.advance(seconds=5)
    assert w.refresh_count == before  # a closed view does no work


def test_a_burst_inside_one_drive_refreshes_once(sb: Sandbox) -> None:
    """500 calls in one drive (1,000+ events) refresh an open inspector exactly once."""
    stub = sb.durable_objects.counter.get("alice")
    sb.run(stub.inc())
    w = sb.inspect(stub).widget()
    before_events, before = sb.event_log.last_seq, w.refresh_count
    _gather(sb, stub, 500)
    assert sb.event_log.last_seq - before_events >= 500
    assert w.refresh_count == before + 1
    assert "count</span>: 501" in w.tab("State").view.value


def test_inspector_ignores_other_objects_events(sb: Sandbox) -> None:
    """An inspector does not redraw for another object's events."""
    alice = sb.durable_objects.counter.get("alice")
    bob = sb.durable_objects.counter.get("bob")
    sb.run(alice.inc())
    w = sb.inspect(alice).widget()
    before = w.refresh_count
    sb.run(bob.inc())
    assert w.refresh_count == before


def test_in_a_kernel_many_cells_calls_refresh_once_after_the_cell(sb: Sandbox) -> None:
    """With the notebook's asyncio loop running, 100 separate calls refresh once, afterwards."""
    stub = sb.durable_objects.counter.get("alice")
    sb.run(stub.inc())
    w = sb.inspect(stub).widget()
    hub = hub_for(sb)
    seen: dict[str, int] = {}

    async def cell() -> None:
        before = w.refresh_count
        for _ in range(100):
            await stub.inc()  # each await is its own drive, as in a notebook cell
        seen["during"] = w.refresh_count - before
        seen["scheduled"] = int(hub.scheduled)
        await asyncio.sleep(0)  # the cell ends: the kernel loop runs queued callbacks
        seen["after"] = w.refresh_count - before

    asyncio.run(cell())
    assert seen == {"during": 0, "scheduled": 1, "after": 1}
    assert "count</span>: 101" in w.tab("State").view.value


def test_rerunning_a_cell_100_times_leaves_one_live_view(sb: Sandbox) -> None:
    """Each re-run of a cell closes the views its previous run made: no subscriber leak."""
    stub = sb.durable_objects.counter.get("alice")
    sb.run(stub.inc())
    hub = hub_for(sb)
    run = {"n": 0}
    hub.cell_source = lambda: ("cell-7", f"run-{run['n']}")
    gc.collect()
    widgets_before = len(_instances)
    views = []
    for n in range(100):
        run["n"] = n
        views.append(sb.inspect(stub).widget())  # what displaying the stub does
    assert hub.views() == [views[-1]]
    assert all(v._live_closed for v in views[:-1])
    assert sb.event_log.subscriber_count == 1
    one_view = len(_instances) - widgets_before
    views[-1].close()
    assert len(_instances) == widgets_before  # closing leaves no widget model behind
    assert one_view < 150  # the models of one inspector are all that lived, not 100 of them
    bar_one, bar_two = sb.clock.widget(), sb.clock.widget()  # same run: both stay
    assert bar_one in hub.views() and bar_two in hub.views()
    hub.cell_source = lambda: None


def test_refresh_error_shows_in_that_view_and_others_go_on(
    sb: Sandbox, monkeypatch: Any
) -> None:
    """A view whose refresh raises shows the error; the other views still refresh."""
    stub = sb.durable_objects.counter.get("alice")
    sb.run(stub.inc())
    broken = sb.inspect(stub).widget()
    fine = sb.inspect(stub).widget()

    def boom() -> None:
        raise RuntimeError("cannot draw (simulated)")

    monkeypatch.setattr(broken, "refresh", boom)
    before = fine.refresh_count
    sb.run(stub.inc())
    assert "cannot draw (simulated)" in broken.error.value
    assert fine.refresh_count == before + 1
