"""The object the time-travel tests drive: KV, one SQL table, the alarm, and the PITR calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dosandbox import DurableObject, Sandbox

START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


class Shop(DurableObject):
    """A shop whose migration may go wrong: items(id, name, price), KV, an alarm."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        ctx.sql.exec(
            "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT, price REAL)"
        )

    async def add(self, name: str, price: float) -> None:
        self.ctx.sql.exec("INSERT INTO items (name, price) VALUES (?, ?)", name, price)
        await self.ctx.storage.put("last", name)

    async def put(self, key: str, value: Any) -> None:
        await self.ctx.storage.put(key, value)

    async def state(self) -> dict[str, Any]:
        storage = self.ctx.storage
        return {
            "items": self.ctx.sql.exec("SELECT * FROM items ORDER BY id").to_list(),
            "kv": await storage.list(),
            "alarm": await storage.get_alarm(),
        }

    async def set_alarm(self, ms: int) -> None:
        await self.ctx.storage.set_alarm(ms)

    async def bookmark(self) -> str:
        return await self.ctx.storage.get_current_bookmark()

    async def bookmark_for(self, t: Any) -> str:
        return await self.ctx.storage.get_bookmark_for_time(t)

    async def schedule(self, bookmark: Any) -> str:
        return await self.ctx.storage.on_next_session_restore_bookmark(bookmark)

    async def restore(self, bookmark: str) -> str:
        """The platform's admin path: schedule the restore, then restart at once."""
        undo = await self.ctx.storage.on_next_session_restore_bookmark(bookmark)
        self.ctx.abort("restoring")
        return undo  # never reached: abort() resets the object

    async def camel(self) -> list[str]:
        """The JavaScript spellings of the three calls."""
        storage = self.ctx.storage
        now = await storage.getCurrentBookmark()
        for_time = await storage.getBookmarkForTime(self.ctx.storage._record.world.clock.now_ms)
        undo = await storage.onNextSessionRestoreBookmark(now)
        return [now, for_time, undo]

    async def history_bytes(self) -> int:
        """What the object's change log holds now (bytes, as Limits.max_history_bytes)."""
        return self.ctx.storage._history.total

    async def drop_price(self) -> None:
        """The bad migration: price is gone."""
        self.ctx.sql.exec("ALTER TABLE items DROP COLUMN price")

    async def alarm(self) -> None:
        await self.ctx.storage.put("alarm_ran", True)


@pytest.fixture
def sb() -> Any:
    with Sandbox(start=START, seed=0) as sandbox:
        sandbox.register("shop", Shop)
        yield sandbox


@pytest.fixture
def make() -> Any:
    """make(**sandbox_options): a Sandbox (start=START, seed=0) with Shop registered."""
    made: list[Sandbox] = []

    def build(**options: Any) -> Sandbox:
        options.setdefault("start", START)
        sandbox = Sandbox(seed=0, **options)
        sandbox.register("shop", Shop)
        made.append(sandbox)
        return sandbox

    yield build
    for sandbox in made:
        sandbox.close()


@pytest.fixture
def restore() -> Any:
    """restore(sb, name, bookmark): the admin path (a stub call that aborts); a fresh stub."""
    from dosandbox import DurableObjectResetError

    def run(sb: Sandbox, name: str, bookmark: str) -> Any:
        with pytest.raises(DurableObjectResetError):
            sb.run(sb.durable_objects.shop.get(name).restore(bookmark))
        return sb.durable_objects.shop.get(name)

    return run
