"""At-least-once delivery: retries with exponential backoff, then a loud drop.

Platform facts (reference §6; workerd alarm-scheduler.c++): a failed handler is retried after
2, 4, 8, 16, 32 and 64 s (six retries, seven attempts), each plus up to 25 % random jitter that
the sandbox leaves out so runs repeat; then the alarm is dropped. If the failing handler set a
new alarm, the new alarm runs instead of a retry.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from dosandbox import DurableObject, Limits, Sandbox, SandboxWarning

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)


class Flaky(DurableObject):
    """Fails its first ``fail_times`` alarm runs; optionally re-arms or deletes before failing."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.fail_times = 0
        self.rearm_ms: int | None = None
        self.delete_first = False
        self.runs: list[tuple[int, int, bool]] = []

    async def arm(self, at_ms: int, fail_times: int, rearm_ms: int | None = None,
                  delete_first: bool = False) -> None:
        self.fail_times = fail_times
        self.rearm_ms = rearm_ms
        self.delete_first = delete_first
        await self.ctx.set_alarm(at_ms)

    async def runs_so_far(self) -> list[tuple[int, int, bool]]:
        return self.runs

    async def alarm(self, alarm_info: Any) -> None:
        self.runs.append((int(time.time() * 1000), alarm_info.retry_count, alarm_info.is_retry))
        if len(self.runs) <= self.fail_times:
            if self.rearm_ms is not None:
                await self.ctx.set_alarm(self.rearm_ms)
            if self.delete_first:
                await self.ctx.delete_alarm()
            raise RuntimeError(f"boom {len(self.runs)}")


@pytest.fixture
def flaky(do_sandbox: Sandbox) -> Any:
    do_sandbox.register("flaky", Flaky)
    return do_sandbox.durable_objects.flaky.get("f")


def test_retry_schedule_is_2_4_8_16_32_64_seconds(do_sandbox: Sandbox, flaky: Any) -> None:
    """A handler that keeps failing runs 7 times: at t, t+2, +4, +8, +16, +32, +64 s."""
    t0 = START_MS + 1_000
    do_sandbox.run(flaky.arm(t0, fail_times=100))
    with pytest.warns(SandboxWarning, match=r"alarm dropped after 7 failed attempts"):
        do_sandbox.clock.run_until_idle()
    runs = do_sandbox.run(flaky.runs_so_far())
    offsets = [at - t0 for at, _, _ in runs]
    assert offsets == [0, 2_000, 6_000, 14_000, 30_000, 62_000, 126_000]
    assert [(r, is_retry) for _, r, is_retry in runs] == [
        (0, False), (1, True), (2, True), (3, True), (4, True), (5, True), (6, True)
    ]
    assert do_sandbox.inspect(flaky).alarm is None
    assert len(do_sandbox.alarms()) == 0


def test_exhaustion_is_a_loud_alarm_error_event(do_sandbox: Sandbox, flaky: Any) -> None:
    """After the last retry an alarm.failed event with code ALARM_ERROR names the last error."""
    do_sandbox.run(flaky.arm(START_MS + 10, fail_times=100))
    with pytest.warns(SandboxWarning):
        report = do_sandbox.clock.run_until_idle()
    kinds = [e.kind for e in report.fired]
    assert kinds.count("alarm.fired") == 7
    assert kinds.count("alarm.error") == 7
    assert kinds.count("alarm.retry") == 6
    assert kinds[-1] == "alarm.failed"
    failed = report.fired[-1]
    assert failed.data["code"] == "ALARM_ERROR"
    assert "RuntimeError: boom 7" in failed.message
    assert "retry_count is high" in failed.message  # the fix is in the message
    retry_msgs = [e.message for e in report.fired if e.kind == "alarm.retry"]
    assert retry_msgs[0].startswith("retry 1 of 6 in 2 s")
    assert retry_msgs[-1].startswith("retry 6 of 6 in 64 s")
    assert "jitter" in retry_msgs[0]


def test_get_alarm_shows_the_pending_retry(do_sandbox: Sandbox, flaky: Any) -> None:
    """Between attempts the retry is the pending alarm (platform: 'failed, retry not begun')."""
    do_sandbox.run(flaky.arm(START_MS + 1_000, fail_times=1))
    do_sandbox.clock.advance(seconds=1)
    view = do_sandbox.inspect(flaky).alarm
    assert view is not None
    assert (view["time_ms"], view["retry_count"]) == (START_MS + 3_000, 1)
    assert list(do_sandbox.alarms()["retry_count"]) == [1]
    do_sandbox.clock.advance(seconds=2)
    assert [r for _, r, _ in do_sandbox.run(flaky.runs_so_far())] == [0, 1]
    assert do_sandbox.inspect(flaky).alarm is None


def test_success_after_retries_resets_the_count(do_sandbox: Sandbox, flaky: Any) -> None:
    """Two failures then success: three runs, no drop, and the next alarm starts at retry 0."""
    do_sandbox.run(flaky.arm(START_MS + 1_000, fail_times=2))
    report = do_sandbox.clock.run_until_idle()
    assert not any(e.kind == "alarm.failed" for e in report)
    assert [r for _, r, _ in do_sandbox.run(flaky.runs_so_far())] == [0, 1, 2]
    do_sandbox.run(flaky.arm(do_sandbox.clock.now_ms + 1_000, fail_times=0))
    do_sandbox.clock.run_until_idle()
    assert do_sandbox.run(flaky.runs_so_far())[-1][1:] == (0, False)


def test_new_alarm_set_by_failing_handler_replaces_the_retry(
    do_sandbox: Sandbox, flaky: Any
) -> None:
    """A handler that sets a new alarm and then throws is not retried; the new alarm runs."""
    t0 = START_MS + 1_000
    do_sandbox.run(flaky.arm(t0, fail_times=1, rearm_ms=t0 + 600_000))
    report = do_sandbox.clock.advance(seconds=10)
    errors = [e for e in report if e.kind == "alarm.error"]
    assert len(errors) == 1 and "replaces the retry" in errors[0].message
    assert not any(e.kind == "alarm.retry" for e in report)
    view = do_sandbox.inspect(flaky).alarm
    assert (view["time_ms"], view["retry_count"]) == (t0 + 600_000, 0)
    do_sandbox.clock.run_until_idle()
    runs = do_sandbox.run(flaky.runs_so_far())
    assert [(at - t0, r) for at, r, _ in runs] == [(0, 0), (600_000, 0)]


def test_failing_handler_that_deleted_its_alarm_is_not_retried(
    do_sandbox: Sandbox, flaky: Any
) -> None:
    """delete_alarm() inside a failing handler prevents the retry (best effort on the platform)."""
    do_sandbox.run(flaky.arm(START_MS + 1_000, fail_times=1, delete_first=True))
    report = do_sandbox.clock.run_until_idle()
    error = next(e for e in report if e.kind == "alarm.error")
    assert "the handler deleted the alarm" in error.message
    assert len(do_sandbox.run(flaky.runs_so_far())) == 1
    assert do_sandbox.inspect(flaky).alarm is None


def test_retry_limits_come_from_sandbox_limits() -> None:
    """Limits(alarm_max_retries=, alarm_first_retry_ms=) change the schedule (1 s, 2 s)."""
    limits = Limits(alarm_max_retries=2, alarm_first_retry_ms=1_000)
    sb = Sandbox(start=START, seed=0, limits=limits)
    try:
        sb.register("flaky", Flaky)
        stub = sb.durable_objects.flaky.get("f")
        sb.run(stub.arm(START_MS + 1_000, fail_times=10))
        with pytest.warns(SandboxWarning, match="after 3 failed attempts"):
            sb.clock.run_until_idle()
        assert [at - START_MS for at, _, _ in sb.run(stub.runs_so_far())] == [1_000, 2_000, 4_000]
    finally:
        sb.close()


def test_constructor_failure_counts_as_a_failed_attempt(do_sandbox: Sandbox) -> None:
    """Firing an evicted object runs its constructor first; if that throws, the alarm retries."""
    state = {"broken": False, "runs": 0}

    class Fragile(DurableObject):
        def __init__(self, ctx: Any, env: Any) -> None:
            super().__init__(ctx, env)
            if state["broken"]:
                raise ValueError("constructor broke")

        async def arm(self) -> None:
            await self.ctx.set_alarm(dt.timedelta(seconds=1))

        async def alarm(self, info: Any) -> None:
            state["runs"] += 1

    do_sandbox.register("fragile", Fragile)
    stub = do_sandbox.durable_objects.fragile.get("x")
    do_sandbox.run(stub.arm())
    do_sandbox.inspect(stub).evict()
    state["broken"] = True
    report = do_sandbox.clock.advance(seconds=1)
    assert any(e.kind == "alarm.retry" for e in report)
    assert "constructor" in next(e for e in report if e.kind == "alarm.error").message
    state["broken"] = False
    do_sandbox.clock.advance(seconds=2)
    assert state["runs"] == 1
    assert do_sandbox.inspect(stub).alarm is None
