"""The inspector shows capability stubs: the Stubs tab lists the live ones (who owns what, who
holds it, from which call), and the Events tab has their created/called/disposed entries."""

from __future__ import annotations

from typing import Any

from dosandbox import DurableObject, RpcTarget, Sandbox
from dosandbox.widgets._stubs import live_stubs


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
    rows = live_stubs(sb.inspect(stub).event_list())
    assert [(r["kind"], r["owner"], r["holder"]) for r in rows] == [
        ("function", "the notebook", "keeper:k"),
        ("target", "keeper:k", "the notebook"),
    ]
    assert rows[0]["via"] == "dup of #1" and rows[1]["calls"] == 2
    assert rows[1]["via"] == "result of tally()"
    tally.dispose()
    assert [r["kind"] for r in live_stubs(sb.inspect(stub).event_list())] == ["function"]


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
