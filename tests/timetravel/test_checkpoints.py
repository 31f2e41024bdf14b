"""Whole-sandbox checkpoints (a teaching tool, not a platform API): sb.checkpoint() and
sb.rewind(cp) put every object's storage, alarm and the clock back; a rewind restarts every
object (instances reset, all sockets closed with 1006, hibernatable ones too)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dosandbox import (
    Checkpoint,
    DurableObject,
    DurableObjectMethodError,
    DurableObjectResetError,
    Limits,
    Response,
    Sandbox,
    WebSocketPair,
)
from dosandbox.errors import CheckpointError, DriverError

from .conftest import START, Shop

HOUR_MS = 3_600_000


class Socketed(DurableObject):
    """Accepts a hibernatable socket on /h and a standard-API one on /s; counts its starts."""

    starts = 0

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        type(self).starts += 1

    async def fetch(self, request: Any) -> Response:
        client, server = WebSocketPair()
        if request.parsed_url.path == "/h":
            self.ctx.accept_web_socket(server)
        else:
            server.accept()
        return Response(None, status=101, web_socket=client)

    async def sockets(self) -> int:
        return len(self.ctx.get_web_sockets())


def test_rewind_puts_storage_alarm_and_clock_back(sb: Sandbox) -> None:
    """KV, SQL rows, the alarm and the clock are as they were at the checkpoint."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1.5))
    sb.run(shop.set_alarm(sb.clock.now_ms + HOUR_MS))
    before, t0 = sb.run(shop.state()), sb.clock.now_ms
    cp = sb.checkpoint("before the experiment")
    assert isinstance(cp, Checkpoint) and cp.objects == 1 and cp.time_ms == t0
    sb.clock.advance(600)
    sb.run(shop.add("pear", 2.0))
    sb.run(shop.put("mood", "bold"))
    sb.run(shop.set_alarm(sb.clock.now_ms + 5 * HOUR_MS))
    sb.rewind(cp)
    assert sb.clock.now_ms == t0
    shop = sb.durable_objects.shop.get("a")
    assert sb.run(shop.state()) == before
    assert sb.events("sandbox.rewind")["message"].iloc[-1].startswith("rewound to before")


def test_alarm_fires_again_after_the_rewind(sb: Sandbox) -> None:
    """An alarm that fired after the checkpoint is pending again and fires at its time."""
    shop = sb.durable_objects.shop.get("a")
    due = sb.clock.now_ms + HOUR_MS
    sb.run(shop.set_alarm(due))
    cp = sb.checkpoint()
    sb.clock.advance(2 * 3600)
    assert sb.run(shop.state())["kv"] == {"alarm_ran": True}
    sb.rewind(cp)
    shop = sb.durable_objects.shop.get("a")
    assert sb.run(shop.state()) == {"items": [], "kv": {}, "alarm": due}
    assert sb.pending_alarm_count() == 1
    sb.clock.advance(3600)
    assert sb.run(shop.state())["kv"] == {"alarm_ran": True}


def test_objects_made_after_the_checkpoint_come_back_empty(sb: Sandbox) -> None:
    """An object created after the checkpoint has no storage and no alarm after a rewind."""
    cp = sb.checkpoint()
    late = sb.durable_objects.shop.get("late")
    sb.run(late.add("x", 1))
    sb.run(late.set_alarm(sb.clock.now_ms + HOUR_MS))
    sb.rewind(cp)
    late = sb.durable_objects.shop.get("late")
    assert sb.run(late.state()) == {"items": [], "kv": {}, "alarm": None}
    assert sb.pending_alarm_count() == 0


def test_rewind_resets_instances_and_old_stubs_fail(sb: Sandbox) -> None:
    """A rewind is a restart: a stub that reached the old instance fails; a new one works."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1))
    cp = sb.checkpoint()
    sb.rewind(cp)
    with pytest.raises(DurableObjectResetError, match="rewound to a checkpoint"):
        sb.run(shop.state())
    assert sb.run(sb.durable_objects.shop.get("a").state())["kv"] == {"last": "apple"}


def test_rewind_closes_every_socket_hibernatable_ones_too_as_abort_in_workerd() -> None:
    """Hibernatable and standard sockets close with 1006 (even when hibernated); clients see it.

    As ctx.abort() does in workerd: the client's close is 1006 and getWebSockets() is empty
    afterwards (probed in Miniflare 4.20260426.0)."""
    with Sandbox(start=START, seed=0) as sb:
        sb.register("socketed", Socketed)
        stub = sb.durable_objects.socketed.get("s")
        hibernatable = sb.connect(stub, "/h")
        standard = sb.connect(stub, "/s")
        asleep = sb.connect(sb.durable_objects.socketed.get("asleep"), "/h")
        sb.inspect(sb.durable_objects.socketed.get("asleep")).evict()  # hibernated, connected
        assert not asleep.closed
        cp = sb.checkpoint()
        sb.rewind(cp)
        for client in (hibernatable, standard, asleep):
            assert client.closed and client.close_code == 1006
        assert sb.run(sb.durable_objects.socketed.get("s").sockets()) == 0


def test_a_bookmark_from_the_discarded_future_is_refused_earlier_ones_work(
    sb: Sandbox, restore: Any
) -> None:
    """After a rewind, bookmarks of states after the checkpoint fail; earlier ones restore."""
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1))
    early = sb.run(shop.bookmark())
    cp = sb.checkpoint()
    sb.clock.advance(10)
    sb.run(shop.add("pear", 2))
    future = sb.run(shop.bookmark())
    sb.rewind(cp)
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("plum", 3))  # reuses the discarded entry's number
    with pytest.raises(DurableObjectMethodError, match="discarded"):
        sb.run(shop.schedule(future))
    shop = restore(sb, "a", early)
    assert [i["name"] for i in sb.run(shop.state())["items"]] == ["apple"]


def test_checkpoints_after_the_one_rewound_to_are_discarded(sb: Sandbox) -> None:
    """Rewinding to cp1 drops cp2 (taken later) from sb.checkpoints; rewinding to it fails."""
    shop = sb.durable_objects.shop.get("a")
    cp1 = sb.checkpoint("one")
    sb.run(shop.add("apple", 1))
    cp2 = sb.checkpoint("two")
    sb.rewind(cp1)
    assert sb.checkpoints == [cp1] and cp2.discarded
    with pytest.raises(CheckpointError, match="discarded"):
        sb.rewind(cp2)
    sb.rewind(cp1)  # the same checkpoint again: still there
    assert sb.run(sb.durable_objects.shop.get("a").state())["items"] == []


def test_checkpoint_of_another_sandbox_is_refused(sb: Sandbox, make: Any) -> None:
    """A checkpoint only rewinds the sandbox that took it; nothing changes when refused."""
    other = make()
    cp = other.checkpoint()
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("apple", 1))
    with pytest.raises(CheckpointError, match="another sandbox"):
        sb.rewind(cp)
    with pytest.raises(CheckpointError, match="takes a checkpoint"):
        sb.rewind("checkpoint 1")  # type: ignore[arg-type]
    assert sb.run(shop.state())["kv"] == {"last": "apple"}


def test_closed_sandbox_refuses_checkpoint_and_rewind(make: Any) -> None:
    """Both calls on a closed sandbox are the typed closed-sandbox error."""
    sb = make()
    cp = sb.checkpoint()
    sb.close()
    with pytest.raises(DriverError, match="closed"):
        sb.checkpoint()
    with pytest.raises(DriverError, match="closed"):
        sb.rewind(cp)


def test_rewinding_past_the_history_limit_is_refused_and_changes_nothing(make: Any) -> None:
    """When an object's history no longer holds the checkpoint's state, nothing is rewound."""
    sb = make(limits=Limits(max_history_bytes=4_000))
    shop = sb.durable_objects.shop.get("a")
    sb.run(shop.add("first", 1))
    cp = sb.checkpoint()
    for i in range(200):
        sb.run(shop.put(f"k{i}", "x" * 40))
    now, state = sb.clock.now_ms, sb.run(shop.state())
    with pytest.raises(CheckpointError, match="no longer keeps its state"):
        sb.rewind(cp)
    assert sb.clock.now_ms == now and sb.run(shop.state()) == state


def test_history_off_refuses_checkpoints(make: Any) -> None:
    """Limits(max_history_bytes=0) keeps no history: checkpoint() says so."""
    sb = make(limits=Limits(max_history_bytes=0))
    with pytest.raises(CheckpointError, match="max_history_bytes=0"):
        sb.checkpoint()


def test_checkpoint_from_object_code_is_refused(sb: Sandbox) -> None:
    """A checkpoint is a state between events: refused while a call runs."""

    class Taker(DurableObject):
        async def take(self) -> None:
            sb.checkpoint()

    sb.register("taker", Taker)
    with pytest.raises(DurableObjectMethodError, match="still running"):
        sb.run(sb.durable_objects.taker.get("t").take())


def test_rewind_with_persist_survives_a_reopen(tmp_path: Path) -> None:
    """Persisted objects rewind on disk: a new sandbox on the folder sees the rewound state."""
    with Sandbox(start=START, seed=0, persist=tmp_path) as sb:
        sb.register("shop", Shop)
        shop = sb.durable_objects.shop.get("a")
        sb.run(shop.add("apple", 1))
        cp = sb.checkpoint()
        sb.clock.advance(5)
        sb.run(shop.add("pear", 2))
        sb.rewind(cp)
        after = sb.run(sb.durable_objects.shop.get("a").bookmark())
    with Sandbox(start=START + dt.timedelta(hours=1), seed=0, persist=tmp_path) as sb:
        sb.register("shop", Shop)
        shop = sb.durable_objects.shop.get("a")
        assert [i["name"] for i in sb.run(shop.state())["items"]] == ["apple"]
        with pytest.raises(DurableObjectResetError):
            sb.run(shop.restore(after))  # the rewound state's bookmark still names a state
