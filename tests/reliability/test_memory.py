"""Memory stays bounded: error events keep text, not frames; evicted objects drop connections."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any

import pytest

from dosandbox import DurableObject, DurableObjectMethodError, Sandbox

CHILDREN = Path(__file__).with_name("children.py")
_refs: list[weakref.ref[Any]] = []


class Held:
    """A frame local whose lifetime the test watches."""


class Failing(DurableObject):
    def fail(self) -> None:
        local = Held()
        _refs.append(weakref.ref(local))
        raise ValueError("boom")


def test_error_events_keep_text_not_the_exception() -> None:
    """An error event keeps type, message and traceback text; the frame's locals are freed."""
    with Sandbox(seed=0) as sb:
        sb.register("failing", Failing)
        with pytest.raises(DurableObjectMethodError):
            sb.run(sb.durable_objects.failing.get("f").fail())
        gc.collect()
        assert _refs and _refs[-1]() is None  # nothing keeps the failed call's frame
        event = next(e for e in sb.event_log if e.kind == "error")
        assert event.data["error"] == "ValueError: boom"
        assert event.data["error_type"] == "ValueError"
        assert "Traceback (most recent call last)" in event.data["traceback"]
        assert 'raise ValueError("boom")' in event.data["traceback"]


def test_failed_alarm_events_keep_text() -> None:
    """alarm.error events keep the failure as text too (views read it as a string)."""

    class Alarmed(DurableObject):
        async def arm(self) -> None:
            await self.ctx.storage.set_alarm(1_767_225_601_000)

        async def alarm(self, info: Any = None) -> None:
            raise KeyError("missing")

    with Sandbox(start=1_767_225_600_000, seed=0) as sb:
        sb.register("alarmed", Alarmed)
        sb.run(sb.durable_objects.alarmed.get("a").arm())
        sb.clock.advance(seconds=2)
        event = next(e for e in sb.event_log if e.kind == "alarm.error")
        assert isinstance(event.data["error"], str) and event.data["error_type"] == "KeyError"


@pytest.mark.slow
def test_rss_stays_flat_over_a_million_calls_and_20000_failures() -> None:
    """1M RPC calls, 20,000 failing calls (64 KB locals), 5,000 evicted objects: RSS bounded."""
    done = subprocess.run(
        [sys.executable, str(CHILDREN), "memory", "1000000", "20000", "5000"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(result)
    assert result["rpc_mib"] < 50
    assert result["failing_mib"] < 50  # was +878 MiB: each event kept its frames
    assert result["evicted_kib_each"] < 32  # was ~107 KiB: a live SQLite connection each
