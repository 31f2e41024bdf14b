"""Dataclasses stored as plain dicts keep shared references and cycles (codec numbering)."""
import dataclasses

from dosandbox._core import codec as _codec


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_shared_ref_after_dataclass_round_trips():
    """A list shared twice after a dataclass comes back as the same list, not the dataclass."""
    shared = [1, 2]
    value = [Point(1, 2), shared, shared]
    back = _codec.loads(_codec.dumps(value))
    assert back[0] == {"x": 1, "y": 2}
    assert back[1] == [1, 2]
    assert back[2] == [1, 2]  # now: {'x': 1, 'y': 2}
    assert back[1] is back[2]


def test_storage_put_get_shared_ref_after_dataclass(do_sandbox):
    """ctx.storage round-trips the same value intact."""
    from dosandbox import DurableObject

    class Box(DurableObject):
        async def put(self):
            shared = {"k": "v"}
            await self.ctx.storage.put("v", [Point(1, 2), shared, shared])

        async def get(self):
            return await self.ctx.storage.get("v")

    ns = do_sandbox.register("box", Box)
    stub = ns.get("a")
    do_sandbox.run(stub.put())
    got = do_sandbox.run(stub.get())
    assert got[2] == {"k": "v"}, got


def test_self_referencing_dataclass_is_clone_error_not_recursion():
    """A dataclass that refers to itself is stored (cycles are clonable) or refused clearly."""
    @dataclasses.dataclass
    class Node:
        nxt: object = None

    n = Node()
    n.nxt = n
    back = _codec.loads(_codec.dumps(n))
    assert back["nxt"] is back
