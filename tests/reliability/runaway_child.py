"""Child process of test_runaway.py: code that never ends, stopped from outside.

Prints ``running sql`` and ``running handler`` just before an endless recursive CTE in a method
and an alarm handler that never yields under ``clock.advance()``: the parent answers each with
SIGINT (Jupyter's interrupt). Then an endless query meets ``Limits.max_cpu_ms_per_event``
without any signal. After each, a normal call must answer; ``OK`` at the end.
"""

from __future__ import annotations

import time
from typing import Any

from dosandbox import DurableObject, Limits, Sandbox
from dosandbox.errors import DurableObjectResetError, ExecutionInterruptedError

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


class Runaway(DurableObject):
    async def query(self) -> Any:
        self.ctx.storage.kv.put("half", "written")
        return self.ctx.sql.exec(ENDLESS).one()

    async def arm(self) -> None:
        await self.ctx.storage.set_alarm(time.time() * 1000 + 1_000)

    async def alarm(self, info: Any) -> None:
        self.ctx.storage.kv.put("half", "written")
        if info.retry_count == 0:
            while True:
                pass

    async def half(self) -> Any:
        return self.ctx.storage.kv.get("half")


def main() -> None:
    sb = Sandbox(start=START_MS, seed=0, limits=Limits(max_cpu_ms_per_event=None))
    sb.register("runaway", Runaway)
    ns = sb.durable_objects.runaway
    print("running sql", flush=True)
    try:
        sb.run(ns.get("a").query())
    except ExecutionInterruptedError:
        print("stopped sql", flush=True)
    assert sb.run(ns.get("a").half()) is None  # the interrupted event's write is gone
    print("ok sql", flush=True)

    sb.run(ns.get("b").arm())
    print("running handler", flush=True)
    try:
        sb.clock.advance(seconds=2)
    except ExecutionInterruptedError:
        print("stopped handler", flush=True)
    assert sb.run(ns.get("b").half()) is None
    sb.clock.advance(seconds=5)  # the retry runs to the end
    assert sb.run(ns.get("b").half()) == "written"
    print("ok handler", flush=True)

    with Sandbox(start=START_MS, seed=0, limits=Limits(max_cpu_ms_per_event=1_000)) as limited:
        limited.register("runaway", Runaway)
        try:
            limited.run(limited.durable_objects.runaway.get("c").query())
        except DurableObjectResetError as exc:
            assert "exceeded its CPU time limit" in str(exc)
            print("stopped by the cpu limit", flush=True)
        assert limited.run(limited.durable_objects.runaway.get("c").half()) is None
    sb.close()
    print("OK", flush=True)


if __name__ == "__main__":
    main()
