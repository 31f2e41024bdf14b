"""Edges of stub lifetimes: a call never awaited lets go of its arguments' stubs; a dispose
hook that cannot run is logged; a dup names the object of its own sandbox as holder."""

from __future__ import annotations

import gc

from dosandbox import DurableObject, RpcTarget, Sandbox


class Token(RpcTarget):
    disposed = 0

    def __dispose__(self) -> None:
        Token.disposed += 1


class Taker(DurableObject):
    def take(self, token: object) -> None:
        return None


def test_a_call_never_awaited_disposes_its_arguments_stubs() -> None:
    """Building a call and dropping it runs the argument target's dispose hook."""
    Token.disposed = 0
    with Sandbox() as sb:
        sb.register("taker", Taker)
        call = sb.durable_objects.taker.get("t").take(Token())
        del call
        gc.collect()
        assert Token.disposed == 1
        kinds = [e.kind for e in sb.event_log if e.kind.startswith("stub.")]
        assert kinds.count("stub.created") == kinds.count("stub.disposed") == 1


def test_a_pipelined_step_never_awaited_disposes_its_arguments_stubs() -> None:
    """The same for a pipelined call's arguments."""
    Token.disposed = 0

    class Maker(DurableObject):
        def make(self) -> Token:
            return Token()

    with Sandbox() as sb:
        sb.register("maker", Maker)
        step = sb.durable_objects.maker.get("m").make().use(Token())
        del step
        gc.collect()
        assert Token.disposed == 1


class Keeper(DurableObject):
    def make(self) -> Token:
        return Token()


def test_a_dispose_hook_that_cannot_run_is_logged() -> None:
    """When the owner's hook cannot be driven (here the drive fails), the log says so."""
    with Sandbox() as sb:
        sb.register("keeper", Keeper)
        stub = sb.run(sb.durable_objects.keeper.get("k").make())
        world = sb.world

        def refuse(coro: object, *_: object) -> object:
            coro.close()  # type: ignore[attr-defined]  # as a driver that refuses does
            raise RuntimeError("the sandbox is busy")

        original = world.driver.drive
        world.driver.drive = refuse  # type: ignore[method-assign]
        try:
            stub.dispose()
        finally:
            world.driver.drive = original  # type: ignore[method-assign]
        errors = [e.message for e in sb.event_log if e.kind == "error"]
        assert any("__dispose__ raised RuntimeError: the sandbox is busy" in m for m in errors)


def test_a_dup_made_inside_another_sandboxs_object_is_held_by_the_notebook() -> None:
    """A stub of sandbox A duplicated while sandbox B's object runs is not B's object's."""
    with Sandbox() as first, Sandbox() as second:
        first.register("keeper", Keeper)
        held = first.run(first.durable_objects.keeper.get("k").make())
        dups: list[object] = []

        class Other(DurableObject):
            def copy(self) -> None:
                dups.append(held.dup())

        second.register("other", Other)
        second.run(second.durable_objects.other.get("o").copy())
        assert dups[0]._holder is None  # type: ignore[attr-defined]
