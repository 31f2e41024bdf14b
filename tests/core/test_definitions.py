"""Definitions: validated when made and registered, decorators, camelCase keys, name/sqlite."""

from __future__ import annotations

from pathlib import Path

import pytest

from dosandbox import DurableObject, Sandbox, define_durable_object
from dosandbox._project.discovery import discover
from dosandbox._runtime.object import handlers_of, rpc_methods
from dosandbox.errors import ConfigError, NoHandlerError


def ping(ctx: object) -> str:
    return "pong"


def test_definition_without_handler_is_refused_at_register() -> None:
    """A definition with nothing to call is NO_HANDLER, naming the fix."""
    sb = Sandbox()
    with pytest.raises(NoHandlerError, match="no methods and no handlers") as info:
        sb.register("empty", define_durable_object(init=lambda ctx: {}))
    assert info.value.code == "NO_HANDLER"
    sb.register("ok", define_durable_object(methods={"ping": ping}))
    assert sb.run(sb.durable_objects.ok.get("x").ping()) == "pong"


def test_class_without_methods_or_handlers_is_refused() -> None:
    """A DurableObject subclass with no public method and no handler is NO_HANDLER."""
    class Empty(DurableObject):
        def _private(self) -> None: ...

    with pytest.raises(NoHandlerError):
        Sandbox().register("empty", Empty)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("fetch", "reserved"), ("alarm", "reserved"), ("init", "reserved"), ("id", "reserved"),
        ("name", "reserved"), ("dup", "reserved"), ("webSocketMessage", "reserved"),
        ("not valid", "not a Python identifier"), ("2x", "not a Python identifier"),
        ("class", "not a Python identifier"), ("_hidden", "starts with '_'"),
    ],
)
def test_bad_method_names_are_refused(name: str, why: str) -> None:
    """Reserved, non-identifier and private method names are CONFIG_ERROR naming the key."""
    with pytest.raises(ConfigError, match=why) as info:
        define_durable_object(methods={name: ping})
    assert repr(name) in str(info.value)
    assert info.value.code == "CONFIG_ERROR"


def test_non_callable_handler_and_method_are_refused() -> None:
    """A handler or method that is not a function is CONFIG_ERROR naming the key."""
    with pytest.raises(ConfigError, match=r"alarm=\.\.\.\) must be a function"):
        define_durable_object(alarm="soon")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'ping' must be a function"):
        define_durable_object(methods={"ping": 42})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="must be a dict"):
        define_durable_object(methods=[ping])  # type: ignore[arg-type]


def test_camel_case_keys_are_accepted_and_both_spellings_refused() -> None:
    """webSocketMessage works; giving it with web_socket_message too is an error."""
    def on_message(ws: object, message: object, ctx: object) -> None: ...

    definition = define_durable_object(webSocketMessage=on_message)
    assert "web_socket_message" in definition.handlers
    with pytest.raises(ConfigError, match="both 'webSocketMessage' and 'web_socket_message'"):
        define_durable_object(webSocketMessage=on_message, web_socket_message=on_message)
    with pytest.raises(ConfigError, match="unknown key 'webSocketMesage'"):
        define_durable_object(webSocketMesage=on_message)


def test_decorators_add_methods_and_handlers() -> None:
    """@d.init and @d.method build the object step by step."""
    d = define_durable_object()

    @d.init
    def init(ctx: object) -> dict[str, int]:
        return {"n": 41}

    @d.method
    def bump(ctx: object) -> int:
        ctx.state["n"] += 1  # type: ignore[attr-defined]
        return ctx.state["n"]  # type: ignore[attr-defined]

    @d.method(name="current")
    def read(ctx: object) -> int:
        return ctx.state["n"]  # type: ignore[attr-defined]

    sb = Sandbox()
    sb.register("thing", d)
    stub = sb.durable_objects.thing.get("t")
    assert sb.run(stub.bump()) == 42
    assert sb.run(stub.current()) == 42
    with pytest.raises(ConfigError):
        d.method(name="fetch")(read)


def test_bad_registrations_are_refused_and_the_first_stays_usable() -> None:
    """Another class name under a taken name, a bad name, a non-class: CONFIG_ERROR each.

    (Registering the same name again with the same class name is a deploy: test_redeploy.py.)
    """
    sb = Sandbox()
    sb.register("thing", define_durable_object(methods={"ping": ping}))
    with pytest.raises(ConfigError, match="would rename the class"):
        sb.register("thing", define_durable_object(methods={"ping": ping}), class_name="Other")
    with pytest.raises(ConfigError, match=r"identifiers"):
        sb.register("chat-room", define_durable_object(methods={"ping": ping}))
    with pytest.raises(ConfigError, match=r"subclass of dosandbox\.DurableObject"):
        sb.register("weird", object)  # type: ignore[arg-type]
    assert sb.run(sb.durable_objects.thing.get("x").ping()) == "pong"


def test_generated_class_is_named_after_the_object() -> None:
    """chat_room → class ChatRoom, binding CHAT_ROOM on env."""
    sb = Sandbox()
    ns = sb.register("chat_room", define_durable_object(methods={"ping": ping}))
    assert ns.class_name == "ChatRoom"
    assert ns.binding == "CHAT_ROOM"
    assert sb.env.CHAT_ROOM is ns


def test_definition_and_class_share_one_core() -> None:
    """A definition builds a DurableObject subclass whose RPC methods are the definition's."""
    d = define_durable_object(methods={"ping": ping})
    cls = d.build_class("Pinger")
    assert issubclass(cls, DurableObject)
    assert cls.__name__ == "Pinger"


def test_name_option_names_the_object_when_registered_without_one() -> None:
    """define_durable_object(name=...) lets sb.register(definition) take no name."""
    sb = Sandbox()
    d = define_durable_object(name="counter", methods={"ping": ping})
    assert d.name == "counter" and d.sqlite is True
    ns = sb.register(d)
    assert ns.name == "counter" and ns.class_name == "Counter"
    assert sb.run(sb.durable_objects.counter.get("x").ping()) == "pong"
    sb.register("other", d)  # an explicit name still wins
    with pytest.raises(ConfigError, match="register\\(\\) needs a name"):
        sb.register(define_durable_object(methods={"ping": ping}))
    assert sorted(sb.namespaces) == ["counter", "other"]


def test_bad_names_and_sqlite_false_are_refused() -> None:
    """A name that is not an object name, sqlite=False and a non-bool sqlite are CONFIG_ERROR."""
    with pytest.raises(ConfigError, match="Use name='chat_room'"):
        define_durable_object(name="chat-room", methods={"ping": ping})
    with pytest.raises(ConfigError, match="lowercase words"):
        define_durable_object(name=42, methods={"ping": ping})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="SQLite-backed objects only") as info:
        define_durable_object(sqlite=False, methods={"ping": ping})
    assert "Drop sqlite=False" in info.value.message
    with pytest.raises(ConfigError, match="must be True or False"):
        define_durable_object(sqlite="yes", methods={"ping": ping})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="did you mean 'sqlite'"):
        define_durable_object(sqllite=True, methods={"ping": ping})
    assert define_durable_object(sqlite=True, methods={"ping": ping}).sqlite is True


def test_discovery_uses_the_name_option_over_the_file_name(tmp_path: Path) -> None:
    """In a project folder, name= overrides the module's file name, as in cloudwerk."""
    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "tally.py").write_text(
        "from dosandbox import define_durable_object\n"
        "def ping(ctx):\n    return 'pong'\n"
        "default = define_durable_object(name='counter', sqlite=True, methods={'ping': ping})\n"
    )
    found = discover(objects)
    assert found.ok, found.report()
    (obj,) = found.objects
    assert (obj.name, obj.class_name, obj.binding, obj.storage) == (
        "counter", "Counter", "COUNTER", "sqlite",
    )


def test_platform_spelled_handlers_are_listed_as_the_class_spells_them() -> None:
    """handlers_of() finds webSocketMessage; a method with that name is never RPC."""

    class Room(DurableObject):
        async def fetch(self, request: object) -> object: ...

        async def webSocketMessage(self, ws: object, message: object) -> None: ...

        async def web_socket_close(self, ws: object, *args: object) -> None: ...

    assert handlers_of(Room) == ["fetch", "webSocketMessage", "web_socket_close"]
    assert rpc_methods(Room) == {}
    Sandbox().register("room", Room)
