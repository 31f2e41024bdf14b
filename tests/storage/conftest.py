"""Helpers for the storage tests: run a function inside an object, get the error it raised.

``inside(fn)`` runs ``fn(ctx)`` (sync or async) as an RPC method of an object named "probe"
(another object with ``inside(fn, name="other")``) and returns its result. ``error(fn)``
expects it to raise and returns the exception raised *inside* the object (the caller sees a
DurableObjectMethodError whose ``__cause__`` it is).
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from dosandbox import DurableObject, DurableObjectMethodError, Sandbox

_FUNCS: dict[str, Callable[[Any], Any]] = {}
_keys = itertools.count()


class Probe(DurableObject):
    async def run(self, key: str) -> Any:
        result = _FUNCS.pop(key)(self.ctx)
        if inspect.isawaitable(result):
            result = await result
        return result


class Inside:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        if "probe" not in sb.namespaces:
            sb.register("probe", Probe)

    def stub(self, name: str = "p") -> Any:
        return self.sb.durable_objects.probe.get(name)

    def call(self, fn: Callable[[Any], Any], name: str = "p") -> Any:
        """The RPC call object (not yet driven)."""
        key = str(next(_keys))
        _FUNCS[key] = fn
        return self.stub(name).run(key)

    def __call__(self, fn: Callable[[Any], Any], name: str = "p") -> Any:
        return self.sb.run(self.call(fn, name))

    def error(self, fn: Callable[[Any], Any], name: str = "p") -> BaseException:
        with pytest.raises(DurableObjectMethodError) as info:
            self(fn, name)
        cause = info.value.__cause__
        assert cause is not None
        return cause

    def handle(self, name: str = "p") -> Any:
        return self.sb.inspect(self.stub(name))


@pytest.fixture
def inside(do_sandbox: Sandbox) -> Inside:
    """Run functions inside a probe object of the ``do_sandbox`` fixture."""
    return Inside(do_sandbox)


@pytest.fixture
def inside_for() -> Callable[[Sandbox], Inside]:
    """Build an ``inside`` helper for a sandbox the test made itself (persist=, limits=)."""
    return Inside
