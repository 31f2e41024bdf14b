"""The public surface: a curated __all__, and camelCase aliases that resolve."""

from __future__ import annotations

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
    """ctx.storage, ctx.sql, a cursor, a transaction and a simulated client are dosandbox types."""
    import dosandbox as d

    class Holder(d.DurableObject):
        async def types(self) -> list[bool]:
            ctx = self.ctx
            seen: list[bool] = []
            await ctx.storage.transaction(lambda txn: seen.append(isinstance(txn, d.Transaction)))
            return [
                type(ctx.storage) is d.Storage,
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
        assert sb.run(stub.types()) == [True, True, True, True]
        assert type(sb.connect(stub, "/ws")) is d.SimulatedClient
