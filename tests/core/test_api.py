"""The public surface: a curated __all__, and camelCase aliases that resolve."""

from __future__ import annotations

import pytest

import dosandbox
from dosandbox._core.aliases import ALIASES, AliasMixin


def test_all_is_sorted_and_importable() -> None:
    """dosandbox.__all__ is sorted and every name in it exists."""
    assert list(dosandbox.__all__) == sorted(dosandbox.__all__)
    for name in dosandbox.__all__:
        assert hasattr(dosandbox, name), name


def _alias_classes() -> list[type]:
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(dosandbox.__path__, "dosandbox."):
        if not info.name.endswith("__main__") and ".widgets" not in info.name:
            importlib.import_module(info.name)
    found: list[type] = []
    stack = [AliasMixin]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            found.append(sub)
            stack.append(sub)
    return found


def test_every_alias_points_at_a_real_member() -> None:
    """Each camelCase alias names a snake_case member of some class that resolves aliases."""
    classes = _alias_classes()
    for camel, snake in ALIASES.items():
        owners = [c for c in classes if hasattr(c, snake)]
        assert owners, f"alias {camel!r} → {snake!r} points at no member of {classes}"


def test_aliases_stay_out_of_dir() -> None:
    """Aliases resolve through __getattr__, so dir() and tab completion show snake_case only."""
    sb = dosandbox.Sandbox()
    assert "getDurableObject" not in dir(sb)
    assert sb.getDurableObject == sb.get_durable_object
    assert "get_durable_object" in dir(sb)


def test_every_type_a_user_holds_is_exported() -> None:
    """ctx.storage (and .kv), ctx.sql, a cursor, a transaction, a client are dosandbox types."""
    import dosandbox as d

    class Holder(d.DurableObject):
        async def types(self) -> list[bool]:
            ctx = self.ctx
            seen: list[bool] = []
            await ctx.storage.transaction(lambda txn: seen.append(isinstance(txn, d.Transaction)))
            return [
                type(ctx.storage) is d.Storage,
                type(ctx.storage.kv) is d.SyncKvStorage,
                type(ctx.sql) is d.SqlStorage,
                type(ctx.sql.exec("SELECT 1")) is d.SqlCursor,
                *seen,
            ]

        async def fetch(self, request: d.Request) -> d.Response:
            pair = d.WebSocketPair()
            self.ctx.accept_web_socket(pair[1])
            return d.Response(None, status=101, web_socket=pair[0])

    with d.Sandbox(seed=0) as sb:
        sb.register("holder", Holder)
        stub = sb.durable_objects.holder.get("h")
        assert sb.run(stub.types()) == [True, True, True, True, True]
        assert type(sb.connect(stub, "/ws")) is d.SimulatedClient


def test_errors_answer_to_their_javascript_names() -> None:
    """err.methodName/objectName/objectId/cause/durableObjectReset resolve, out of dir()."""
    from dosandbox.errors import DurableObjectError, DurableObjectResetError

    cause = ValueError("why")
    err = DurableObjectResetError("reset", object_name="n", object_id="i", method_name="m")
    err.__cause__ = cause
    assert (err.methodName, err.objectName, err.objectId) == ("m", "n", "i")
    assert err.cause is cause and err.durableObjectReset is True
    assert (err.remote, err.retryable, err.overloaded) == (False, False, False)
    plain = DurableObjectError("x", retryable=True)
    assert plain.retryable and not plain.durableObjectReset and plain.cause is None
    assert "methodName" not in dir(err) and "method_name" in dir(err)


def test_cloudwerk_camel_case_names_import() -> None:
    """defineDurableObject, durableObjects, getDurableObject, hasDurableObject import as in
    cloudwerk, and stay out of dir() (snake_case is canonical)."""
    import dosandbox
    import dosandbox.bindings
    from dosandbox import defineDurableObject
    from dosandbox.bindings import durableObjects, getDurableObject, hasDurableObject

    assert defineDurableObject is dosandbox.define_durable_object
    assert durableObjects is dosandbox.bindings.durable_objects
    assert getDurableObject is dosandbox.bindings.get_durable_object
    assert hasDurableObject is dosandbox.bindings.has_durable_object
    assert "defineDurableObject" not in dir(dosandbox)
    with pytest.raises(AttributeError, match="no attribute 'defineDurableObjekt'"):
        dosandbox.defineDurableObjekt  # noqa: B018


def test_durable_objects_iterates_names() -> None:
    """sb.durable_objects iterates (and counts) the registered names."""
    import dosandbox as d

    with d.Sandbox() as sb:
        sb.register("b_counter", d.define_durable_object(methods={"ping": lambda ctx: 1}))
        sb.register("a_room", d.define_durable_object(methods={"ping": lambda ctx: 1}))
        assert sorted(sb.durable_objects) == ["a_room", "b_counter"]
        assert len(sb.durable_objects) == 2
