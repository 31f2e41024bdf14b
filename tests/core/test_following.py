"""The public reads live views use: sb.handles, sb.subscribe, is_driving, alarms, handle facts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dosandbox import DurableObject, Event, Sandbox, WebSocketPair
from dosandbox.errors import WebSocketError


class Pinger(DurableObject):
    """Counts pings; sets an alarm; can accept a socket whose client half nobody holds."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.pings = 0
        self.keep: Any = None

    def ping(self) -> int:
        self.pings += 1
        return self.pings

    async def arm(self, seconds: int) -> None:
        await self.ctx.set_alarm(dt.timedelta(seconds=seconds))

    async def alarm(self) -> None:
        self.pings += 100

    def lonely_socket(self) -> str:
        pair = WebSocketPair()
        self.ctx.accept_web_socket(pair[1])
        self.keep = pair[0]  # the client half stays inside the object: no simulated client
        return str(pair[1].id)

    watched: Any = None  # the sandbox a test asks about from inside object code

    def driving_seen(self) -> bool:
        return bool(type(self).watched.is_driving)


@pytest.fixture
def sb(do_sandbox: Sandbox) -> Sandbox:
    do_sandbox.register("pinger", Pinger)
    return do_sandbox


def test_handles_lists_every_object_in_the_order_first_used(sb: Sandbox) -> None:
    """sb.handles() has one handle per object, with its key, instance number and event count."""
    ns = sb.durable_objects.pinger
    sb.run(ns.get("b").ping())
    sb.run(ns.get("a").ping())
    sb.run(ns.get("a").ping())
    handles = sb.handles()
    assert [h.object_key for h in handles] == ["b", "a"]
    assert [h.events_delivered for h in handles] == [1, 2]
    assert [h.instance_number for h in handles] == [1, 1]
    assert handles[1].sandbox is sb
    handles[1].evict()
    sb.run(ns.get("a").ping())
    assert sb.inspect(ns.get("a")).instance_number == 2


def test_subscribe_reports_events_clock_moves_and_idle_then_unsubscribes(sb: Sandbox) -> None:
    """Each callback fires for what it names; the returned function stops all three."""
    events: list[Event] = []
    ticks: list[int] = []
    idles: list[int] = []
    stop = sb.subscribe(
        on_event=events.append,
        on_clock=lambda: ticks.append(sb.clock.now_ms),
        on_idle=lambda: idles.append(1),
    )
    sb.run(sb.durable_objects.pinger.get("p").ping())
    sb.clock.advance(seconds=1)
    assert any(e.kind == "rpc" for e in events)
    assert ticks and idles
    stop()
    seen = (len(events), len(ticks), len(idles))
    sb.run(sb.durable_objects.pinger.get("p").ping())
    sb.clock.advance(seconds=1)
    assert (len(events), len(ticks), len(idles)) == seen
    stop()  # twice is harmless


def test_is_driving_is_true_only_inside_a_drive(sb: Sandbox) -> None:
    """sb.is_driving is False in the notebook and True while object code runs."""
    assert sb.is_driving is False
    stub = sb.durable_objects.pinger.get("p")
    Pinger.watched = sb
    assert sb.run(stub.driving_seen()) is True
    assert sb.is_driving is False


def test_pending_alarm_count_and_delete_alarm_from_outside(sb: Sandbox) -> None:
    """pending_alarm_count() counts waiting alarms; handle.delete_alarm() removes and logs one."""
    assert sb.pending_alarm_count() == 0
    stub = sb.durable_objects.pinger.get("p")
    sb.run(stub.arm(10))
    assert sb.pending_alarm_count() == 1
    handle = sb.inspect(stub)
    handle.delete_alarm(by="a test")
    assert sb.pending_alarm_count() == 0 and handle.alarm is None
    assert handle.event_list()[-1].message == "alarm deleted by a test"
    handle.delete_alarm()  # nothing set: does nothing
    sb.clock.advance(seconds=20)
    assert sb.run(stub.ping()) == 1  # the alarm never fired


def test_handle_client_names_the_problem_for_unknown_or_clientless_sockets(sb: Sandbox) -> None:
    """handle.client() raises WebSocketError naming the open sockets or the missing client."""
    stub = sb.durable_objects.pinger.get("p")
    handle = sb.inspect(stub)
    with pytest.raises(WebSocketError, match=r"no open socket 'ws-9'.*none"):
        handle.client("ws-9")
    socket_id = sb.run(stub.lonely_socket())
    assert handle.socket_count == 1
    with pytest.raises(WebSocketError, match="no simulated client"):
        handle.client(socket_id)
    assert sb.run(stub.ping()) == 1  # the object keeps working
