"""What vitest's cloudflare:test offers, in dosandbox.testing; sb.objects() lists what exists."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import dosandbox.testing as testing
from dosandbox import DurableObject, Request, Response, Sandbox, WebSocketPair
from dosandbox.errors import (
    DurableObjectMethodError,
    DurableObjectResetError,
    ValidationError,
    WaitingOnTimeError,
)
from dosandbox.testing import (
    evict,
    evict_all,
    list_durable_object_ids,
    run_alarm,
    run_in_durable_object,
)


class Room(DurableObject):
    alarms_run = 0

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.visits = 0

    async def visit(self) -> int:
        self.visits += 1
        await self.ctx.storage.put("seen", True)
        return self.visits

    def ping(self) -> str:
        return "pong"

    async def nap(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "slept"

    async def arm(self) -> None:
        await self.ctx.set_alarm(dt.timedelta(hours=1))

    async def alarm(self) -> None:
        Room.alarms_run += 1

    async def fetch(self, request: Request) -> Response:
        pair = WebSocketPair()
        self.ctx.accept_web_socket(pair[1])
        return Response(None, status=101, web_socket=pair[0])

    def halt(self) -> None:
        self.ctx.abort()


@pytest.fixture
def sb(do_sandbox: Sandbox) -> Sandbox:
    do_sandbox.register("room", Room)
    Room.alarms_run = 0
    return do_sandbox


def test_objects_lists_only_objects_that_exist(sb: Sandbox) -> None:
    """A stub never called is not an object (vitest's listDurableObjectIds); seeded storage is."""
    ns = sb.durable_objects.room
    never = ns.get("never")
    sb.run(ns.get("called").ping())
    sb.inspect(ns.get("seeded")).seed_kv({"k": 1})
    assert list(sb.objects()["name"]) == ["called", "seeded"]
    assert [h.object_key for h in sb.handles()] == ["called", "seeded"]
    assert [i.name for i in list_durable_object_ids(ns)] == ["called", "seeded"]
    assert sb.inspect(never).status == "not created"


def test_objects_lists_persisted_objects_of_an_earlier_session(tmp_path: Path) -> None:
    """With persist=, objects stored by an earlier sandbox are listed before any call."""
    with Sandbox(seed=0, persist=tmp_path) as first:
        first.register("room", Room)
        first.run(first.durable_objects.room.get("kept").visit())
        kept = str(first.durable_objects.room.id_from_name("kept"))
    with Sandbox(seed=0, persist=tmp_path) as second:
        ns = second.register("room", Room)
        assert list(second.objects()["id"]) == [kept]
        assert [str(i) for i in list_durable_object_ids(ns)] == [kept]


def test_evict_all_drops_every_live_instance_and_keeps_storage(sb: Sandbox) -> None:
    """evict_all() (evictAllDurableObjects) returns how many it evicted; storage stays."""
    ns = sb.durable_objects.room
    for name in ("a", "b"):
        sb.run(ns.get(name).visit())
    assert evict_all(sb) == 2
    assert evict_all() == 0  # the active sandbox; nothing live any more
    assert sb.run(ns.get("a").visit()) == 1  # in-memory state was dropped
    assert run_in_durable_object(ns.get("a"), lambda obj, ctx: ctx.storage.get("seen"))


def test_evict_all_refuses_while_an_event_is_in_flight(sb: Sandbox) -> None:
    """Evicting nothing while a call sleeps; after the clock moves it evicts."""
    ns = sb.durable_objects.room
    sb.run(ns.get("idle").ping())
    with pytest.raises(WaitingOnTimeError):
        sb.run(ns.get("busy").nap(10))
    with pytest.raises(ValidationError, match="still run events"):
        evict_all(sb)
    assert sb.inspect(ns.get("idle")).is_live
    sb.clock.advance(seconds=10)
    assert evict_all(sb) == 2


def test_evict_one_keeps_or_closes_its_sockets(sb: Sandbox) -> None:
    """evict(stub) hibernates sockets; web_sockets='close' closes them; other values refused."""
    ns = sb.durable_objects.room
    stub = ns.get("ws")
    client = sb.connect(stub, "/ws")
    assert evict(stub)
    assert not client.closed and sb.inspect(stub).socket_count == 1
    assert not evict(stub)  # nothing live; the socket stays
    assert evict(stub, web_sockets="close") is False
    assert client.closed and sb.inspect(stub).socket_count == 0
    other = ns.get("ws2")
    second = sb.connect(other, "/ws")
    assert evict(other, web_sockets="close") and second.closed
    with pytest.raises(ValidationError, match=r"'hibernate'.*'close'"):
        evict(other, web_sockets="drop")
    with pytest.raises(ValidationError, match="takes a stub"):
        evict("ws")  # type: ignore[arg-type]


def test_run_alarm_reports_whether_an_alarm_ran(sb: Sandbox) -> None:
    """run_alarm (runDurableObjectAlarm): False with none set; True after running it now."""
    stub = sb.durable_objects.room.get("alarm")
    assert run_alarm(stub) is False
    sb.run(stub.arm())
    before = sb.clock.now_ms
    assert run_alarm(stub) is True
    assert Room.alarms_run == 1 and sb.inspect(stub).alarm is None
    assert sb.clock.now_ms == before
    assert run_alarm(stub) is False


def test_run_in_durable_object_gets_the_instance_and_ctx(sb: Sandbox) -> None:
    """run_in_durable_object (runInDurableObject) runs fn(instance, ctx) as an event."""
    stub = sb.durable_objects.room.get("in")
    sb.run(stub.visit())

    async def peek(instance: Room, ctx: Any) -> tuple[int, Any]:
        return instance.visits, await ctx.storage.get("seen")

    assert run_in_durable_object(stub, peek) == (1, True)
    assert run_in_durable_object(stub, lambda obj, ctx: isinstance(obj, Room))
    with pytest.raises(DurableObjectMethodError) as info:
        run_in_durable_object(stub, lambda obj, ctx: 1 / 0)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    with pytest.raises(ValidationError, match="takes a function"):
        run_in_durable_object(stub, "visit")  # type: ignore[arg-type]
    assert sb.run(stub.visit()) == 2


def test_run_in_durable_object_through_a_reset_stub_fails(sb: Sandbox) -> None:
    """A stub broken by a reset stays broken for the helpers too."""
    stub = sb.durable_objects.room.get("r")
    with pytest.raises(DurableObjectResetError):
        sb.run(stub.halt())
    with pytest.raises(DurableObjectResetError):
        run_in_durable_object(stub, lambda obj, ctx: None)
    assert run_in_durable_object(sb.durable_objects.room.get("r"), lambda obj, ctx: 7) == 7


def test_vitest_names_resolve_and_stay_out_of_dir() -> None:
    """runDurableObjectAlarm & co. import from dosandbox.testing; dir() shows snake_case."""
    from dosandbox.testing import evictAllDurableObjects, runDurableObjectAlarm

    assert runDurableObjectAlarm is run_alarm and evictAllDurableObjects is evict_all
    assert testing.evictDurableObject is evict
    assert testing.listDurableObjectIds is list_durable_object_ids
    assert testing.runInDurableObject is run_in_durable_object
    assert "runDurableObjectAlarm" not in dir(testing)
    with pytest.raises(AttributeError, match="no attribute 'runAlarm'"):
        testing.runAlarm  # noqa: B018


def test_bad_arguments_to_the_helpers_are_typed_errors(sb: Sandbox) -> None:
    """Each helper names what it takes; the sandbox keeps working."""
    with pytest.raises(ValidationError, match="takes a namespace"):
        list_durable_object_ids("room")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="takes a Sandbox"):
        evict_all("sb")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="takes a stub"):
        run_alarm(None)  # type: ignore[arg-type]
    assert sb.run(sb.durable_objects.room.get("ok").ping()) == "pong"
