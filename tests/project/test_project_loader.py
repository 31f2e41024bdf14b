"""Loading a Python Workers project: config formats, main as a real module, every loader error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import dosandbox
from dosandbox import Sandbox
from dosandbox.errors import ConfigError, ProjectError

from .conftest import CONFIG, ENTRY


def test_jsonc_project_loads_and_answers_through_the_worker(make_project, load):
    """wrangler.jsonc with comments and trailing commas; the Worker routes to the object."""
    sb = load(make_project())
    assert sb.run(sb.run(sb.fetch("/")).text()) == "1"
    assert sb.run(sb.run(sb.fetch("/")).text()) == "2"
    assert sb.env.GREETING == "hello"
    assert sb.durable_objects.counter.binding == "COUNTER"
    assert sb.script_name == "tiny"


def test_toml_project_loads(make_project, load):
    """wrangler.toml works as well as JSONC."""
    root = make_project()
    (root / "wrangler.jsonc").unlink()
    (root / "wrangler.toml").write_text(
        'name = "tiny"\nmain = "src/entry.py"\ncompatibility_flags = ["python_workers"]\n'
        '[[durable_objects.bindings]]\nname = "COUNTER"\nclass_name = "Counter"\n'
        '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Counter"]\n'
    )
    sb = load(root)
    assert sb.run(sb.durable_objects.counter.get("x").increment(5)) == 5


def test_load_project_is_from_project(make_project):
    """dosandbox.load_project(path) gives the same sandbox as Sandbox.from_project."""
    sb = dosandbox.load_project(make_project())
    try:
        assert isinstance(sb, Sandbox) and sb.project is not None
        assert sb.project.compatibility_flags == ["python_workers"]
    finally:
        sb.close()


def test_main_is_a_real_module_with_siblings_and_files(make_project, load):
    """__file__, a sibling module and a file next to main all work, as on the platform."""
    entry = '''\
    from pathlib import Path
    from greet import greet
    from workers import Response, WorkerEntrypoint, DurableObject

    WORD = (Path(__file__).parent / "word.txt").read_text().strip()

    class Counter(DurableObject):
        def ping(self):
            return WORD

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return Response(greet(WORD))
    '''
    root = make_project(entry, files={"src/greet.py": "def greet(w):\n    return 'hi ' + w\n",
                                      "src/word.txt": "there\n"})
    sb = load(root)
    assert sb.run(sb.run(sb.fetch("/")).text()) == "hi there"


def test_env_override_and_vars(make_project, load):
    """Sandbox.from_project(env=...) adds to and overrides the config's vars."""
    sb = load(make_project(), env={"GREETING": "hey", "EXTRA": 1})
    assert (sb.env.GREETING, sb.env.EXTRA) == ("hey", 1)


def test_no_config_is_a_project_error(tmp_path):
    """A folder without a wrangler file names the folder and the fix."""
    with pytest.raises(ProjectError, match="No wrangler config") as err:
        Sandbox.from_project(tmp_path)
    assert "wrangler.jsonc" in err.value.message and err.value.code == "PROJECT_ERROR"


def test_missing_path_is_a_project_error(tmp_path):
    """A path that does not exist is refused naming it."""
    with pytest.raises(ProjectError, match="does not exist"):
        Sandbox.from_project(tmp_path / "nope")


def test_config_without_main(make_project):
    """No "main" in the config: the error names the config file and the key to add."""
    root = make_project(config=CONFIG.replace('"main": "src/entry.py",', ""))
    with pytest.raises(ProjectError, match='has no "main"') as err:
        Sandbox.from_project(root)
    assert err.value.path == str(root / "wrangler.jsonc")


def test_main_file_missing(make_project):
    """main names a file that is not there: the error names both."""
    root = make_project(config=CONFIG.replace("src/entry.py", "src/worker.py"))
    with pytest.raises(ProjectError, match=r"worker\.py does not exist"):
        Sandbox.from_project(root)


def test_main_not_python(make_project):
    """main = src/index.js is not a Python Worker."""
    root = make_project(config=CONFIG.replace("src/entry.py", "src/index.js"))
    with pytest.raises(ProjectError, match="not a Python module"):
        Sandbox.from_project(root)


def test_binding_names_class_the_module_lacks(make_project):
    """class_name that main does not define: names main, lists its Durable Objects."""
    root = make_project(entry=ENTRY.replace("class Counter(", "class Tally("))
    with pytest.raises(ProjectError, match="defines no such class") as err:
        Sandbox.from_project(root)
    assert "Tally" in err.value.message and err.value.path.endswith("entry.py")


def test_bound_name_not_a_durable_object(make_project):
    """A binding naming a function, or a class not deriving DurableObject, is refused."""
    root = make_project(entry=ENTRY.replace("class Counter(DurableObject):",
                                            "class Counter:"))
    with pytest.raises(ProjectError, match="not a Durable Object class"):
        Sandbox.from_project(root)


def test_class_in_no_migration(make_project):
    """A bound class no migration creates: wrangler would refuse; the fix is the migration."""
    root = make_project(config=CONFIG.replace('"new_sqlite_classes": ["Counter"]',
                                              '"new_sqlite_classes": ["Other"]'))
    with pytest.raises(ProjectError, match="no migration creates") as err:
        Sandbox.from_project(root)
    assert '"new_sqlite_classes": ["Counter"]' in err.value.message


def test_syntax_error_names_file_and_line(make_project):
    """A syntax error in main: file, line and the message."""
    root = make_project(entry=ENTRY.replace("async def fetch(self, request):",
                                            "async def fetch(self, request)"))
    with pytest.raises(ProjectError, match="SyntaxError") as err:
        Sandbox.from_project(root)
    assert "entry.py, line 12" in err.value.message


def test_import_error_names_module(make_project):
    """A module that raises while importing: the error, where, and the fix."""
    root = make_project(entry="import not_a_module_anywhere\n" + ENTRY)
    with pytest.raises(ProjectError, match="ModuleNotFoundError") as err:
        Sandbox.from_project(root)
    assert "Install 'not_a_module_anywhere'" in err.value.message


def test_bad_config_shape_is_a_config_error(make_project):
    """Bindings that are not {name, class_name} tables are refused by the wrangler reader."""
    root = make_project(config='{"main": "src/entry.py", "durable_objects": {"bindings": 3}}')
    with pytest.raises(ConfigError, match=r"durable_objects\.bindings"):
        Sandbox.from_project(root)


def test_failed_load_leaves_no_modules_behind(make_project):
    """After a failed load, our workers/js are no longer installed (nothing else is open)."""
    before = sys.modules.get("workers")
    with pytest.raises(ProjectError):
        Sandbox.from_project(make_project(entry=ENTRY + "\nraise RuntimeError('boom')\n"))
    assert sys.modules.get("workers") is before


def test_our_workers_serves_the_project_over_a_real_one(make_project, tmp_path, load,
                                                       monkeypatch):
    """An installed `workers` package (the real SDK needs Pyodide) is replaced while loaded,
    and comes back when the sandbox closes."""
    fake = tmp_path / "site" / "workers"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "workers", raising=False)
    import workers as real  # type: ignore[import-not-found]

    assert real.REAL
    sb = Sandbox.from_project(make_project())
    assert sys.modules["workers"].__name__ == "dosandbox._project.pyworkers.workers"
    assert sb.run(sb.run(sb.fetch("/")).text()) == "1"
    sb.close()
    assert sys.modules["workers"] is real


def test_missing_compat_flag_is_logged(make_project, load):
    """Without compatibility_flags python_workers, the load works and says what deploy needs."""
    sb = load(make_project(config=CONFIG.replace('"compatibility_flags": ["python_workers"],',
                                                 "")))
    warning = sb.events(kind="project")
    assert "python_workers" in warning["message"].iloc[0]


def test_reload_is_a_fresh_import(make_project):
    """Loading the project again imports the edited module, not the old one (a deploy)."""
    root = make_project()
    sb = Sandbox.from_project(root)
    sb.close()
    entry = root / "src" / "entry.py"
    entry.write_text(entry.read_text().replace("str(await stub.increment())", "'edited'"))
    sb = Sandbox.from_project(root)
    try:
        assert sb.run(sb.run(sb.fetch("/")).text()) == "edited"
    finally:
        sb.close()


def test_config_file_path_is_accepted(make_project, load):
    """from_project takes the wrangler file itself too."""
    root = make_project()
    sb = load(root / "wrangler.jsonc")
    assert Path(sb.project.main).name == "entry.py"
