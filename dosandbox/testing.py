"""pytest fixtures for testing your objects (registered as the ``dosandbox`` pytest plugin).

``sandbox``: a fresh in-memory :class:`~dosandbox.Sandbox` with a manual clock at a fixed start
(2026-01-01T00:00:00Z) and a fixed seed, closed after the test. ``clock``: its clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ._clock import VirtualClock
from ._sandbox import Sandbox

__all__ = ["FIXED_START", "clock", "sandbox"]

FIXED_START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh in-memory sandbox, manual clock at 2026-01-01T00:00Z, seed 0."""
    sb = Sandbox(start=FIXED_START, seed=0)
    try:
        yield sb
    finally:
        sb.close()


@pytest.fixture
def clock(sandbox: Sandbox) -> VirtualClock:
    """The ``sandbox`` fixture's virtual clock."""
    return sandbox.clock
