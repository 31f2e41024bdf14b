"""The inspector shows capability stubs: the Stubs tab lists the live ones (who owns what, who
holds it, from which call), and the Events tab has their created/called/disposed entries."""

from __future__ import annotations

from typing import Any

from dosandbox import DurableObject, RpcTarget, Sandbox


class Tally(RpcTarget):
    def __init__(self) -> None:
        self._n = 0

    def add(self) -> int:
        self._n += 1
        return self._n


class Keeper(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.kept: Any = None

    def keep(self, cb: Any) -> str:
        self.kept = cb.dup()
        return "kept"

    def tally(self) -> Tally:
        return Tally()


def test_live_stubs_follow_creation_calls_and_disposal() -> None:
    """A kept callback and a returned target are live; calls are counted; disposal removes."""
    sb = Sandbox()
    sb.register("keeper", Keeper)
    stub = sb.durable_objects.keeper.get("k")
    sb.run(stub.keep(lambda: 1))
    tally = sb.run(stub.tally())
    sb.run(tally.add())
    sb.run(tally.add())
    rows = sb.inspect(stub).stubs
    assert [(r["kind"], r["owner"], r["holder"]) for r in rows] == [
        ("function", "the notebook", "keeper:k"),
        ("target", "keeper:k", "the notebook"),
    ]
    assert rows[0]["via"] == "dup of #1" and rows[1]["calls"] == 2
    assert rows[1]["via"] == "result of tally()"
    tally.dispose()
    assert [r["kind"] for r in sb.inspect(stub).stubs] == ["function"]


def test_inspector_has_a_stubs_tab_and_events_show_capabilities() -> None:
    """The inspector's Stubs tab renders the live target; Events lists stub.* kinds."""
    sb = Sandbox()
    sb.register("keeper", Keeper)
    stub = sb.durable_objects.keeper.get("k")
    tally = sb.run(stub.tally())
    inspector = sb.inspect(stub).widget()
    view = inspector.select_tab("Stubs")
    assert "Tally target" in view.table.value and "result of tally()" in view.table.value
    events = inspector.select_tab("Events")
    events.filter("stub")
    assert "stub.created" in events.table.value
    tally.dispose()
    inspector.refresh()
    assert "no live stubs" in inspector.select_tab("Stubs").table.value


def test_a_long_held_stub_stays_listed_after_the_event_log_rolls_over() -> None:
    """The Stubs list reads the live stubs themselves, not the log: a stub kept while more
    than the log's 10,000 entries pass is still shown, with its calls counted."""
    with Sandbox() as sb:
        sb.register("keeper", Keeper)
        stub = sb.durable_objects.keeper.get("k")
        tally = sb.run(stub.tally())
        sb.run(tally.add())
        for _ in range(10_500):
            sb.event_log.emit("note", "filler")
        assert not [e for e in sb.event_log if e.kind == "stub.created"]
        rows = sb.inspect(stub).stubs
        assert [(r["kind"], r["calls"]) for r in rows] == [("target", 1)]


def test_a_stub_the_notebook_dropped_leaves_the_list() -> None:
    """A result stub the notebook no longer references is not kept alive for the view."""
    import gc

    with Sandbox() as sb:
        sb.register("keeper", Keeper)
        stub = sb.durable_objects.keeper.get("k")
        sb.run(stub.tally())
        gc.collect()
        assert sb.inspect(stub).stubs == []
