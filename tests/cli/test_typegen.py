"""``dosandbox objects generate-types``: a type checker flags misspelt methods and bad arguments."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dosandbox

GOOD = """\
import datetime as dt

from dosandbox import Sandbox

from objects._types import chat_room, counter, counter_namespace
from objects.chat_room import Message


async def use(sb: Sandbox) -> None:
    c = counter(sb, "user-123")
    n: int = await c.increment(5)
    n = await c.increment()
    counts: dict[str, int] = await c.since(dt.datetime.now(), labels=["a"])
    total: int = sb.run(c.get_count())
    room = chat_room(sb, "lobby")
    held: int = await room.post(Message("ann", "hi"), notify=False)
    history: list[Message] = await room.history(limit=3)
    await room.fetch("https://example.com/")
    same = counter_namespace(sb).get(c.id)
    print(n, counts, total, held, history, same.name)
"""

MISSPELT = """\
from dosandbox import Sandbox

from objects._types import counter


async def use(sb: Sandbox) -> None:
    await counter(sb, "a").incremnt(5)
"""

WRONG_TYPE = """\
from dosandbox import Sandbox

from objects._types import chat_room, counter


async def use(sb: Sandbox) -> None:
    await counter(sb, "a").increment("5")
    await chat_room(sb, "r").post("just a string")
    await chat_room(sb, "r").post(message=None)
    await counter(sb, "a").fetch("/")
"""

MYPY_INI = """\
[mypy]
python_version = 3.11
ignore_missing_imports = True
cache_dir = .mypy_cache

[mypy-dosandbox.*]
# dosandbox is a dependency here: check against it, do not report inside it.
follow_imports = silent
"""


def _mypy(root: Path, *files: str) -> tuple[int, str]:
    env = dict(os.environ)
    # The dev install is an editable finder hook mypy cannot follow; point it at the source.
    env["MYPYPATH"] = str(Path(dosandbox.__file__).parent.parent)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", *files],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_generated_stubs_make_mypy_flag_typos_and_wrong_types(project, cli):
    """mypy passes correct calls and fails on a misspelt method and on wrong argument types."""
    result = cli("objects", "generate-types")
    assert result.code == 0, result.err
    assert result.out.startswith("wrote objects/_types.py (2 objects: chat_room, counter)")
    project.write("mypy.ini", MYPY_INI)
    project.write("good.py", GOOD)
    project.write("misspelt.py", MISSPELT)
    project.write("wrong_type.py", WRONG_TYPE)
    code, out = _mypy(project.root, "good.py", "misspelt.py", "wrong_type.py")
    assert code == 1, out
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert not [e for e in errors if e.startswith("good.py")], out
    assert any(
        e.startswith("misspelt.py:7:") and '"CounterStub" has no attribute "incremnt"' in e
        for e in errors
    ), out
    wrong = [e for e in errors if e.startswith("wrong_type.py")]
    assert 'Argument 1 to "increment" of "CounterStub" has incompatible type "str"' in wrong[0]
    assert 'incompatible type "str"; expected "Message"' in wrong[1]
    assert 'Unexpected keyword argument "message" for "post"' in wrong[2]  # positional-only
    assert '"CounterStub" has no attribute "fetch"' in wrong[3]  # counter has no fetch handler
    assert len(wrong) == 4, out
    # And the correct file alone is clean.
    code, out = _mypy(project.root, "good.py")
    assert code == 0, out


def test_generated_module_is_valid_python_that_imports_no_object_code(project, cli):
    """The stubs import object modules only under TYPE_CHECKING and work at runtime."""
    assert cli("objects", "generate-types").code == 0
    text = (project.objects / "_types.py").read_text()
    tree = ast.parse(text)
    assert ast.get_docstring(tree).startswith("Typed stubs for the objects in objects/")
    assert "    from . import chat_room as _chat_room\n" in text
    assert "    import datetime as _datetime\n" in text
    assert "def since(self, when: _datetime.datetime, *, labels: list[str] | None = ...)" in text
    assert "-> Awaitable[dict[str, int]]" in text
    assert "def post(self, message: _chat_room.Message, /, notify: bool = ...)" in text
    # At runtime the accessors return the real stubs.
    sys.path.insert(0, str(project.root))
    try:
        from importlib import import_module

        types_mod = import_module("objects._types")
        sb = dosandbox.Sandbox.from_directory("objects")
        stub = types_mod.counter(sb, "a")
        assert isinstance(stub, dosandbox.Stub)
        assert sb.run(stub.increment(2)) == 2
        assert types_mod.counter_namespace(sb) is sb.durable_objects.counter
        sb.close()
    finally:
        sys.path.remove(str(project.root))
        for name in [m for m in sys.modules if m == "objects" or m.startswith("objects.")]:
            del sys.modules[name]


def test_generate_types_is_stable_and_check_detects_stale_files(project, cli):
    """A second run leaves the file alone; --check exits 1 once an object changed."""
    assert cli("objects", "generate-types").code == 0
    path = project.objects / "_types.py"
    before = path.read_text()
    again = cli("objects", "generate-types")
    assert again.code == 0 and "is up to date" in again.out
    assert path.read_text() == before
    assert cli("objects", "generate-types", "--check").code == 0
    project.write(
        "objects/game.py",
        """\
        from dosandbox import define_durable_object
        async def move(ctx, x: int, y: int) -> bool:
            return True
        default = define_durable_object(methods={"move": move})
        """,
    )
    stale = cli("objects", "generate-types", "--check")
    assert stale.code == 1 and "out of date" in stale.err
    assert path.read_text() == before  # --check writes nothing


def test_generate_types_with_a_broken_module_overwrites_nothing(project, cli):
    """A syntax error in one module: exit 1, the old stubs stay as they were."""
    assert cli("objects", "generate-types").code == 0
    path = project.objects / "_types.py"
    before = path.read_text()
    project.write("objects/broken.py", "class :\n")
    result = cli("objects", "generate-types")
    assert result.code == 1
    assert "broken.py:1: SyntaxError" in result.err and "Nothing was written" in result.err
    assert path.read_text() == before


def test_generate_types_out_of_the_folder_uses_absolute_imports(project, cli):
    """--out elsewhere imports object modules as objects.<name>."""
    result = cli("objects", "generate-types", "--out", "typing_stubs.py")
    assert result.code == 0
    text = (project.root / "typing_stubs.py").read_text()
    assert "    import objects.chat_room as _objects_chat_room\n" in text
    compile(text, "typing_stubs.py", "exec")


def test_unwritable_annotations_become_any_and_are_listed(project, cli):
    """A TypeVar or a local class cannot be written in the stubs: Any, named in the header."""
    project.write(
        "objects/box.py",
        textwrap.dedent(
            """\
            from typing import TypeVar
            from dosandbox import DurableObject
            T = TypeVar("T")
            class Box(DurableObject):
                def put(self, value: T) -> T:
                    return value
            """
        ),
    )
    assert cli("objects", "generate-types").code == 0
    text = (project.objects / "_types.py").read_text()
    assert "def put(self, value: Any) -> Awaitable[Any]:" in text
    assert "box.put(value): ~T" in text
