"""A model test: random writes (KV, SQL, rolled-back transactions), clock moves and bookmarks;
restoring any bookmark gives exactly the state the model recorded when it was made."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dosandbox import DurableObject, DurableObjectResetError, Sandbox

KEYS = st.sampled_from(["a", "b", "c", "d"])
VALUES = st.one_of(st.integers(-5, 5), st.text(max_size=3), st.none())
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), KEYS, VALUES),
        st.tuples(st.just("delete"), KEYS),
        st.tuples(st.just("insert"), st.integers(1, 4), st.integers(0, 9)),
        st.tuples(st.just("remove"), st.integers(1, 4)),
        st.tuples(st.just("rolled_back"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("advance"), st.integers(0, 90_000)),
        st.tuples(st.just("bookmark"),),
    ),
    min_size=1,
    max_size=25,
)


class Model(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        ctx.sql.exec("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v INTEGER)")

    async def apply(self, op: list[Any]) -> None:
        storage, sql = self.ctx.storage, self.ctx.sql
        kind = op[0]
        if kind == "put":
            await storage.put(op[1], op[2])
        elif kind == "delete":
            await storage.delete(op[1])
        elif kind == "insert":
            sql.exec("INSERT OR REPLACE INTO t VALUES (?, ?)", op[1], op[2])
        elif kind == "remove":
            sql.exec("DELETE FROM t WHERE k = ?", op[1])
        elif kind == "rolled_back":

            def undone() -> None:
                storage.kv.put(op[1], "never")
                sql.exec("INSERT OR REPLACE INTO t VALUES (99, ?)", op[2])
                raise ValueError("roll back")

            with contextlib.suppress(ValueError):
                storage.transaction_sync(undone)

    async def state(self) -> Any:
        return [await self.ctx.storage.list(),
                self.ctx.sql.exec("SELECT k, v FROM t ORDER BY k").raw().to_list()]

    async def bookmark(self) -> str:
        return await self.ctx.storage.get_current_bookmark()

    async def restore(self, bookmark: str) -> None:
        await self.ctx.storage.on_next_session_restore_bookmark(bookmark)
        self.ctx.abort()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, pick=st.integers(0, 1_000))
def test_restoring_any_bookmark_gives_the_recorded_state(ops: list[Any], pick: int) -> None:
    """Each bookmark restores exactly the KV and SQL state the model saw when it was made."""
    with Sandbox(seed=0) as sb:
        sb.register("model", Model)
        stub = sb.durable_objects.model.get("m")
        kv: dict[str, Any] = {}
        rows: dict[int, int] = {}
        marks: list[tuple[str, Any]] = [(sb.run(stub.bookmark()), [{}, []])]
        for op in ops:
            kind = op[0]
            if kind == "advance":
                sb.clock.advance(op[1] / 1000)
                continue
            if kind == "bookmark":
                table = [[k, v] for k, v in sorted(rows.items())]
                marks.append((sb.run(stub.bookmark()), [dict(sorted(kv.items())), table]))
                continue
            sb.run(stub.apply(list(op)))
            if kind == "put":
                kv[op[1]] = op[2]
            elif kind == "delete":
                kv.pop(op[1], None)
            elif kind == "insert":
                rows[op[1]] = op[2]
            elif kind == "remove":
                rows.pop(op[1], None)
        assert [m for m, _ in marks] == sorted(m for m, _ in marks)
        bookmark, expected = marks[pick % len(marks)]
        with contextlib.suppress(DurableObjectResetError):
            sb.run(stub.restore(bookmark))
        assert sb.run(sb.durable_objects.model.get("m").state()) == expected
