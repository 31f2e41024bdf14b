"""The objects/ convention: names, what is skipped, what is reported, from_directory."""

from __future__ import annotations

import sys

import pytest

import dosandbox
from dosandbox import Sandbox, discover
from dosandbox._core.naming import class_name_for, suggest_name
from dosandbox.errors import ConfigError


def test_names_class_and_binding_follow_the_file_name(project):
    """chat_room.py gives name chat_room, binding CHAT_ROOM; a definition's class is ChatRoom."""
    found = discover("objects")
    assert found.ok, found.report()
    by_name = {o.name: o for o in found.objects}
    assert sorted(by_name) == ["chat_room", "counter"]
    assert (by_name["counter"].class_name, by_name["counter"].binding) == ("Counter", "COUNTER")
    assert by_name["chat_room"].binding == "CHAT_ROOM"
    assert by_name["chat_room"].class_name == "ChatRoom"
    assert by_name["counter"].style == "definition"
    assert by_name["chat_room"].style == "class"
    assert class_name_for("chat_room") == "ChatRoom"
    assert class_name_for("a2b_c3") == "A2bC3"


def test_tests_private_modules_and_init_are_skipped(project):
    """test_*.py, *_test.py, conftest.py, _private.py and __init__.py are never objects."""
    project.write("objects/__init__.py", "PACKAGE_MARKER = 1\n")
    found = discover("objects")
    assert found.ok, found.report()
    skipped = sorted(p.name for p in found.skipped)
    assert skipped == [
        "__init__.py",
        "_shared.py",
        "conftest.py",
        "counter_test.py",
        "test_counter.py",
    ]
    assert [o.name for o in found.objects] == ["chat_room", "counter"]


def test_true_methods_and_handlers_are_read_from_the_code(project):
    """Methods keep their real signatures (ctx/self dropped) and first docstring line."""
    found = discover("objects")
    counter = found.get("counter")
    assert counter is not None
    methods = {m.name: m for m in counter.methods}
    assert sorted(methods) == ["get_count", "increment", "since"]
    assert str(methods["increment"]) == "increment(amount: int = 1) -> int"
    assert methods["increment"].doc == "Add amount (clamped at zero) and return the new count."
    assert methods["increment"].is_async and not methods["get_count"].is_async
    assert str(methods["since"]) == (
        "since(when: dt.datetime, *, labels: list[str] | None = None) -> dict[str, int]"
    )
    assert counter.handlers == ["alarm"]
    room = found.get("CHAT_ROOM")  # by binding
    assert room is found.get("ChatRoom")  # by class
    assert room is not None
    assert room.handlers == ["fetch", "web_socket_message"]
    posts = {m.name: str(m) for m in room.methods}
    assert posts == {
        "post": "post(message: Message, /, notify: bool = True) -> int",
        "history": "history(limit: int = 10) -> list[Message]",
    }


@pytest.mark.parametrize(
    ("file", "suggestion"),
    [
        ("ChatRoom.py", "chat_room.py"),
        ("chat-room.py", "chat_room.py"),
        ("chat__room.py", "chat_room.py"),
        ("room_.py", "room.py"),
        ("2fast.py", "object_2fast.py"),
        ("class.py", "class_object.py"),
    ],
)
def test_invalid_names_are_reported_with_the_file_and_a_valid_name(project, file, suggestion):
    """A name that is not lowercase words joined by single underscores is refused with a fix."""
    project.write(f"objects/{file}", "from dosandbox import define_durable_object\n")
    found = discover("objects")
    assert [o.name for o in found.objects] == ["chat_room", "counter"]  # others still load
    (problem,) = found.problems
    assert problem.kind == "invalid_name"
    assert problem.path.name == file
    assert f"rename it to {suggestion}" in str(problem)
    assert suggest_name(file[:-3]) + ".py" == suggestion


def test_two_files_giving_one_name_are_reported(project):
    """A module and a package with one name, or two names giving one class, are duplicates."""
    project.write("objects/counter/__init__.py", "raise RuntimeError('not imported')\n")
    project.write(
        "objects/chat_room2.py",
        "from dosandbox import define_durable_object\n"
        "default = define_durable_object(methods={'ping': lambda ctx: 'pong'})\n",
    )
    project.write(
        "objects/chat_room_2.py",
        "from dosandbox import define_durable_object\n"
        "default = define_durable_object(methods={'ping': lambda ctx: 'pong'})\n",
    )
    found = discover("objects")
    kinds = sorted((p.path.name, p.kind) for p in found.problems)
    assert kinds == [("chat_room_2.py", "duplicate_name"), ("counter", "duplicate_name")]
    text = found.report()
    assert "counter and counter.py both give the object name 'counter', so neither" in text
    assert "export class 'ChatRoom2'" in text
    assert [o.name for o in found.objects] == ["chat_room", "chat_room2"]


def test_a_module_without_a_definition_is_reported(project):
    """A module defining no object gets a fix naming both styles and the _private escape."""
    project.write("objects/helpers.py", "def helper():\n    return 1\n")
    found = discover("objects")
    (problem,) = found.problems
    assert problem.kind == "no_definition"
    assert "define_durable_object" in problem.fix and "class Helpers(DurableObject)" in problem.fix
    assert "leading '_'" in problem.fix


def test_a_default_that_is_not_an_object_is_reported(project):
    """``default = 42`` is named in the message."""
    project.write("objects/broken.py", "default = 42\n")
    (problem,) = discover("objects").problems
    assert problem.kind == "no_definition" and "'default' is int 42" in problem.message


def test_a_module_with_two_definitions_is_reported(project):
    """Two definitions in one module are ambiguous; the fix says to pick one with default."""
    project.write(
        "objects/twins.py",
        """\
        from dosandbox import define_durable_object
        a = define_durable_object(methods={"ping": lambda ctx: 1})
        b = define_durable_object(methods={"pong": lambda ctx: 2})
        """,
    )
    (problem,) = discover("objects").problems
    assert problem.kind == "several_definitions"
    assert "(a, b)" in problem.message and "default = ..." in problem.fix


def test_default_picks_one_of_several(project):
    """``default = b`` settles which definition is the object."""
    project.write(
        "objects/twins.py",
        """\
        from dosandbox import define_durable_object
        a = define_durable_object(methods={"ping": lambda ctx: 1})
        b = define_durable_object(methods={"pong": lambda ctx: 2})
        default = b
        """,
    )
    found = discover("objects")
    assert found.ok
    assert [m.name for m in found.get("twins").methods] == ["pong"]


def test_a_base_class_in_the_same_module_is_not_an_object(project):
    """class Base(DurableObject) subclassed by Room(Base) in one module: Room is the object."""
    project.write(
        "objects/room.py",
        """\
        from dosandbox import DurableObject
        class Base(DurableObject):
            def hello(self) -> str:
                return "hi"
        class Room(Base):
            def bye(self) -> str:
                return "bye"
        """,
    )
    found = discover("objects")
    assert found.ok, found.report()
    room = found.get("room")
    assert room.class_name == "Room"
    assert [m.name for m in room.methods] == ["hello", "bye"]


def test_an_imported_class_is_not_counted_as_defined_here(project):
    """A module importing another object's class and defining its own has one object."""
    project.write(
        "objects/lobby.py",
        """\
        from dosandbox import DurableObject
        from .chat_room import ChatRoom  # imported, not defined here
        class Lobby(DurableObject):
            def rooms(self) -> list[str]:
                return []
        """,
    )
    found = discover("objects")
    assert found.ok, found.report()
    assert found.get("lobby").class_name == "Lobby"


def test_syntax_and_import_errors_name_the_line_and_keep_the_others(project):
    """A SyntaxError or an exception at import is one problem; the other objects still load."""
    project.write("objects/broken.py", "def f(:\n    pass\n")
    project.write("objects/crashy.py", "x = 1\nraise ValueError('boom at import')\n")
    project.write("objects/missing.py", "import not_a_real_module_xyz\n")
    found = discover("objects")
    assert [o.name for o in found.objects] == ["chat_room", "counter"]
    by_file = {p.path.name: p for p in found.problems}
    assert by_file["broken.py"].kind == "syntax_error"
    assert by_file["broken.py"].line == 1
    assert str(by_file["broken.py"]).startswith(f"{project.objects / 'broken.py'}:1: SyntaxError")
    assert by_file["crashy.py"].kind == "import_error"
    assert by_file["crashy.py"].line == 2
    assert "ValueError: boom at import" in by_file["crashy.py"].message
    assert "'not_a_real_module_xyz'" in by_file["missing.py"].fix


def test_an_invalid_definition_is_reported(project):
    """A definition error raised by define_durable_object names the module and the reason."""
    project.write(
        "objects/bad.py",
        """\
        from dosandbox import define_durable_object
        default = define_durable_object(methods={"fetch": lambda ctx: 1})
        """,
    )
    (problem,) = discover("objects").problems
    assert problem.kind == "import_error"
    assert "'fetch' is reserved" in problem.message

    project.write(
        "objects/bad.py",
        "from dosandbox import DurableObject\nclass Bad(DurableObject):\n    pass\n",
    )
    (problem,) = discover("objects").problems
    assert problem.kind == "invalid_definition"
    assert "no RPC method and no handler" in problem.message


def test_a_missing_folder_raises_config_error():
    """discover() of a folder that does not exist says so and how to fix it."""
    with pytest.raises(ConfigError, match=r"does not exist.*one module per Durable Object"):
        discover("/nonexistent/objects")


def test_modules_are_imported_under_a_private_name(project):
    """Object modules never land in sys.modules as 'objects.*' or their bare names."""
    found = discover("objects")
    module = found.get("counter").module.__name__
    assert module.startswith("_dosandbox_objects_") and module.endswith(".counter")
    assert "counter" not in sys.modules and "objects.counter" not in sys.modules


def test_rediscovering_picks_up_edits(project):
    """Editing a module and discovering again shows the new methods (no stale import)."""
    assert [m.name for m in discover("objects").get("chat_room").methods] == ["post", "history"]
    project.write(
        "objects/chat_room.py",
        "from dosandbox import DurableObject\nclass ChatRoom(DurableObject):\n"
        "    def leave(self) -> None:\n        pass\n",
    )
    assert [m.name for m in discover("objects").get("chat_room").methods] == ["leave"]


def test_from_directory_registers_every_object_and_runs_them(project):
    """Sandbox.from_directory loads the folder; the objects run, passing kwargs to Sandbox."""
    sb = Sandbox.from_directory("objects", seed=0, start=1_767_225_600_000)
    try:
        assert sorted(sb.namespaces) == ["chat_room", "counter"]
        assert sb.durable_objects.counter.class_name == "Counter"
        stub = sb.durable_objects.counter.get("a")
        assert sb.run(stub.increment(5)) == 5
        assert sb.run(stub.increment(-10)) == 0  # clamp from objects/_shared.py
        assert "COUNTER" in sb.env and "CHAT_ROOM" in sb.env
    finally:
        sb.close()


def test_from_directory_raises_every_problem_at_once_or_loads_the_rest(project):
    """strict (default) raises one ConfigError listing all problems; strict=False warns."""
    project.write("objects/broken.py", "def f(:\n")
    project.write("objects/Bad.py", "x = 1\n")
    with pytest.raises(ConfigError) as info:
        Sandbox.from_directory("objects")
    assert "broken.py:1" in str(info.value) and "Bad.py" in str(info.value)
    assert len(info.value.details["problems"]) == 2
    with pytest.warns(UserWarning, match="broken.py"):
        sb = Sandbox.from_directory("objects", strict=False)
    try:
        assert sorted(sb.namespaces) == ["chat_room", "counter"]
        assert sb.run(sb.durable_objects.counter.get("x").increment()) == 1
    finally:
        sb.close()


def test_discover_is_exported():
    """dosandbox.discover is the public entry point."""
    assert dosandbox.discover is discover
    assert "discover" in dosandbox.__all__


def test_a_failing_package_init_is_reported_and_the_objects_still_load(project):
    """objects/__init__.py that raises is one problem; the object modules still load."""
    project.write("objects/__init__.py", "raise ImportError('package init is broken')\n")
    found = discover("objects")
    (problem,) = found.problems
    assert problem.path.name == "__init__.py" and "package init is broken" in problem.message
    assert [o.name for o in found.objects] == ["chat_room", "counter"]
