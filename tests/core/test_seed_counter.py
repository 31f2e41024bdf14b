"""The seed's counter (examples/counter.py) runs as written under pytest, with the plugin."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from dosandbox import Sandbox
from dosandbox.testing import assert_events

_spec = importlib.util.spec_from_file_location(
    "seed_counter", Path(__file__).parents[2] / "examples" / "counter.py"
)
assert _spec is not None and _spec.loader is not None
seed_counter = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(seed_counter)


def test_seed_counter_increment_decrement_get_count_reset(do_sandbox: Sandbox) -> None:
    """increment(5), decrement(2), get_count(), reset() give 5, 3, 3, 0, as in the seed."""
    do_sandbox.register("counter", seed_counter.counter)
    counter = do_sandbox.durable_objects.counter.get("user-123")
    assert do_sandbox.run(counter.increment(5)) == 5
    assert do_sandbox.run(counter.decrement(2)) == 3
    assert do_sandbox.run(counter.get_count()) == 3
    assert do_sandbox.run(counter.reset()) == 0
    assert_events(counter, ["instance.created", "kv.put", "rpc", "kv.put", "rpc", "rpc"])


def test_seed_counter_state_survives_eviction_through_storage(do_sandbox: Sandbox) -> None:
    """init reloads the stored state, so the count survives an eviction (the seed's pattern)."""
    do_sandbox.register("counter", seed_counter.counter)
    counter = do_sandbox.durable_objects.counter.get("user-123")
    do_sandbox.run(counter.increment(7))
    assert do_sandbox.inspect(counter).evict()
    assert do_sandbox.run(counter.get_count()) == 7
    # datetime.now() inside the object read the virtual clock (naive local time, as in Python)
    last_updated = do_sandbox.inspect(counter).state["last_updated"]
    assert last_updated.timestamp() == do_sandbox.clock.now_ms / 1000
