"""The inspector's Timeline tab and the dashboard's checkpoints, driven through their widgets
(no browser): the slider and buttons change what is shown as a user's clicks would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dosandbox import DurableObjectResetError, Sandbox
from dosandbox.widgets import Dashboard, Inspector
from dosandbox.widgets._live import hub_for


@pytest.fixture
def views(sb: Sandbox) -> Iterator[Sandbox]:
    """The Shop sandbox; every view closed afterwards."""
    yield sb
    for view in hub_for(sb).views():
        view.close()


def _shop_with_history(sb: Sandbox) -> Any:
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    sb.clock.advance(60)
    sb.run(shop.add("pear", 2.0))
    sb.clock.advance(3600)
    sb.run(shop.drop_price())
    return shop


def test_timeline_tab_starts_at_the_newest_event_and_scrubs_back(views: Sandbox) -> None:
    """The slider ends at the newest event (state now); moving it shows the price column back."""
    sb = views
    shop = _shop_with_history(sb)
    w = sb.inspect(shop).widget()
    assert isinstance(w, Inspector)
    timeline = w.select_tab("Timeline")
    assert timeline.slider.max == len(sb.inspect(shop).event_list()) - 1
    assert timeline.slider.value == timeline.slider.max
    assert "Nothing: this is the state now." in timeline.view.value
    first_rpc = next(i for i, e in enumerate(timeline.events) if e.kind == "rpc")
    timeline.slider.value = first_rpc  # as a drag of the slider
    assert timeline.past.tables["items"]["name"].tolist() == ["apple"]
    assert "price" in timeline.view.value and "columns changed" in timeline.view.value
    timeline.forward.click()
    assert timeline.slider.value == first_rpc + 1
    timeline.back.click()
    assert timeline.slider.value == first_rpc


def test_timeline_stays_put_while_new_events_arrive_unless_at_the_end(views: Sandbox) -> None:
    """Scrubbed back, new events do not move it; at the newest event it follows them."""
    sb = views
    shop = _shop_with_history(sb)
    timeline = sb.inspect(shop).widget().select_tab("Timeline")
    timeline.go_to(0)
    sb.run(shop.put("k", 1))
    timeline.refresh()
    assert timeline.slider.value == 0
    timeline.go_to(timeline.slider.max)
    sb.run(shop.put("k", 2))
    timeline.refresh()
    assert timeline.slider.value == timeline.slider.max == len(timeline.events) - 1


def test_bookmark_here_gives_a_bookmark_that_restores_that_state(views: Sandbox) -> None:
    """The button fills the Bookmark field; restoring it brings the dropped column back."""
    sb = views
    shop = _shop_with_history(sb)
    timeline = sb.inspect(shop).widget().select_tab("Timeline")
    before_migration = [e for e in timeline.events if e.kind == "rpc"][1]
    timeline.go_to(before_migration)
    timeline.mark.click()
    bookmark = timeline.bookmark.value
    assert bookmark and bookmark == timeline.bookmark_here()
    with pytest.raises(DurableObjectResetError):
        sb.run(shop.restore(bookmark))
    items = sb.run(sb.durable_objects.shop.get("a").state())["items"]
    assert items == [{"id": 1, "name": "apple", "price": 1.5},
                     {"id": 2, "name": "pear", "price": 2.0}]


def test_timeline_of_an_object_without_storage_says_so(views: Sandbox) -> None:
    """No events: a note, no state, and Bookmark here shows why it cannot."""
    sb = views
    w = sb.inspect(sb.durable_objects.shop.get("never")).widget()
    timeline = w.select_tab("Timeline")
    assert "No events yet" in timeline.note.value and timeline.past is None
    timeline.mark.click()
    assert "No state is shown" in w.error.value and w.last_error is not None


def test_dashboard_checkpoint_and_rewind_buttons(views: Sandbox) -> None:
    """Checkpoint lists one; Rewind puts storage and the clock back and discards later ones."""
    sb = views
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1))
    dash = sb.widget()
    assert isinstance(dash, Dashboard)
    panel = dash.checkpoints
    assert "no checkpoints yet" in panel.table.value and panel.rewind_button.disabled
    panel.label.value = "clean"
    panel.take_button.click()
    t0 = sb.clock.now_ms
    assert [cp.label for cp in sb.checkpoints] == ["clean"] and "clean" in panel.table.value
    sb.clock.advance(300)
    sb.run(sb.durable_objects.shop.get("a").add("pear", 2))
    panel.take()  # a second one, unnamed
    assert [o[0] for o in panel.picker.options] == ["#1 clean", "#2 checkpoint 2"]
    panel.picker.value = 1
    panel.rewind_button.click()
    assert dash.last_error is None and "Rewound to clean" in dash.error.value
    assert sb.clock.now_ms == t0 and len(sb.checkpoints) == 1
    assert [o[0] for o in panel.picker.options] == ["#1 clean"]
    state = sb.run(sb.durable_objects.shop.get("a").state())
    assert [i["name"] for i in state["items"]] == ["apple"]


def test_dashboard_rewind_error_shows_and_changes_nothing(views: Sandbox, make: Any) -> None:
    """Rewinding to another sandbox's checkpoint shows the typed error in the dashboard."""
    sb = views
    dash = sb.widget()
    foreign = make().checkpoint("elsewhere")
    now = sb.clock.now_ms
    dash.checkpoints.rewind_button.disabled = False
    dash.run_action(lambda: dash.checkpoints.rewind(foreign))
    assert "CheckpointError" in dash.error.value and "another sandbox" in dash.error.value
    assert sb.clock.now_ms == now
