"""The inspector's Stubs tab: the capability stubs (functions, RpcTargets) live around an object.

It reads only the object's event log (``handle.event_list()``): every stub is logged when it is
made (``stub.created``: what it is, which side owns it, who holds it, from which call), called
(``stub.called``) and disposed (``stub.disposed``). A stub is live from its creation until its
disposal, so a learner sees a callback or a target appear, get used and go.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._render import table_html
from ._tabs import Tab

__all__ = ["StubsTab", "live_stubs"]


def live_stubs(events: Iterable[Any]) -> list[dict[str, Any]]:
    """The stubs created and not yet disposed, oldest first, with how often each was called."""
    live: dict[int, dict[str, Any]] = {}
    for event in events:
        kind = event.kind
        if not kind.startswith("stub."):
            continue
        cap = event.data.get("cap")
        if kind == "stub.created":
            data = event.data
            live[cap] = {"stub": cap, "kind": data.get("cap_kind"), "what": data.get("label"),
                         "owner": data.get("owner"), "holder": data.get("holder"),
                         "via": data.get("via"), "calls": 0}
        elif kind == "stub.called" and cap in live:
            live[cap]["calls"] += 1
        elif kind == "stub.disposed":
            live.pop(cap, None)
    return list(live.values())


class StubsTab(Tab):
    """Live capability stubs this object owns or holds."""

    title = "Stubs"

    def build(self) -> list[Any]:
        self.table = self.inspector.html()
        return [self.note, self.table]

    def render(self) -> None:
        rows = live_stubs(self.handle.event_list())
        self.table.value = table_html(
            ["stub", "what", "lives in", "held by", "from", "calls"],
            [(f"#{r['stub']}", r["what"], r["owner"], r["holder"], r["via"], r["calls"])
             for r in rows],
            empty="no live stubs: pass a function or an RpcTarget over RPC to see one here",
        )
