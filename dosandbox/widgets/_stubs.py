"""The inspector's Stubs tab: the capability stubs (functions, RpcTargets) live around an object.

It reads ``handle.stubs``: every stub not yet disposed whose capability lives in the object or
that the object holds (what it is, which side owns it, who holds it, from which call, how
often it was called), so a learner sees a callback or a target appear, get used and go. The
Events tab has the same story as ``stub.created`` / ``stub.called`` / ``stub.disposed``.
"""

from __future__ import annotations

from typing import Any

from ._render import table_html
from ._tabs import Tab

__all__ = ["StubsTab"]


class StubsTab(Tab):
    """Live capability stubs this object owns or holds."""

    title = "Stubs"

    def build(self) -> list[Any]:
        self.table = self.inspector.html()
        return [self.note, self.table]

    def render(self) -> None:
        self.table.value = table_html(
            ["stub", "what", "lives in", "held by", "from", "calls"],
            [(f"#{r['stub']}", r["what"], r["owner"], r["holder"], r["via"], r["calls"])
             for r in self.handle.stubs],
            empty="no live stubs: pass a function or an RpcTarget over RPC to see one here",
        )
