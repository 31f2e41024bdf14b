"""Python Workers projects as they are: ``wrangler.jsonc`` / ``.json`` / ``.toml`` and ``main``.

:func:`read_project` reads the config (the file wrangler would read: ``wrangler.json``, then
``wrangler.jsonc``, then ``wrangler.toml``; JSONC comments and trailing commas allowed) and checks
what must hold before anything runs: ``main`` names a Python file that exists, bindings are
``{name, class_name}``. :func:`import_main` then imports ``main`` as a real module from its file
(its folder first on ``sys.path``, so ``__file__``, relative files and sibling modules work),
with dosandbox's ``workers`` and ``js`` modules installed, and resolves each bound class, which
must be a ``DurableObject`` of the module and named in a migration, as wrangler requires.

Every problem is a :class:`~dosandbox.errors.ProjectError` naming the file to fix and how.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core.errors import ProjectError
from .._runtime.object import DurableObject
from . import folders, pyworkers
from .pyworkers import state
from .wrangler import CONFIG_NAMES, WranglerFile, deployed_classes, find_config

__all__ = ["Binding", "Project", "import_main", "read_project"]


@dataclass
class Binding:
    """One Durable Object binding: ``env.<name>`` → the exported class ``class_name``."""

    name: str
    class_name: str
    cls: type[DurableObject] | None = None
    storage: str = "sqlite"  # or "kv" (new_classes), as the migrations say

    @property
    def object_name(self) -> str:
        """The name in the sandbox: ``sb.durable_objects.lists`` for ``LISTS``."""
        return self.name.lower()


@dataclass
class Project:
    """A Python Workers project: its config, its ``main`` module and what that module exports."""

    root: Path
    config_path: Path
    config: dict[str, Any]
    main: Path
    bindings: list[Binding]
    vars: dict[str, Any]
    compatibility_date: str | None
    compatibility_flags: list[str]
    skipped: list[str] = field(default_factory=list)  # bindings to other Workers
    module: types.ModuleType | None = None
    worker: Any = None  # class Default(WorkerEntrypoint), or an on_fetch function
    # What this load holds until release(): its folder's share, and the workers/js modules.
    _held_folder: str | None = field(default=None, init=False, repr=False)
    _holds_modules: bool = field(default=False, init=False, repr=False)

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.root.resolve().name)

    def release(self) -> None:
        """Give back what loading took: this load's share of its folder's ``sys.path`` entry
        and modules, and of the workers/js modules. They leave the process when the last open
        sandbox of the folder lets go, so another sandbox of the same project keeps running.
        Calling it again does nothing."""
        folder, self._held_folder = self._held_folder, None
        if folder is not None:
            folders.let_go(folder)
        if self._holds_modules:
            self._holds_modules = False
            pyworkers.release()


def read_project(path: str | Path = ".") -> Project:
    """The project at ``path`` (a folder, or its wrangler file), checked but not imported."""
    given = Path(path)
    if given.is_file():
        config_path, root = given, given.parent
    elif given.is_dir():
        found = find_config(given)
        if found is None:
            raise ProjectError(
                f"No wrangler config in {given.resolve()}: a Python Workers project has one of "
                f"{', '.join(CONFIG_NAMES)} next to its code. Pass the project's folder "
                "(Sandbox.from_project('path/to/project')), or create wrangler.jsonc with "
                '"main": "src/entry.py" and "compatibility_flags": ["python_workers"].',
                path=str(given),
            )
        config_path, root = found, given
    else:
        raise ProjectError(
            f"{given} does not exist. Pass the folder of a Python Workers project (the one "
            "holding wrangler.jsonc or wrangler.toml), or its config file.",
            path=str(given),
        )
    data = WranglerFile.load(config_path).data
    main_value = data.get("main")
    if not isinstance(main_value, str) or not main_value:
        raise ProjectError(
            f"{config_path} has no \"main\": wrangler needs the Worker's entry module. Add "
            '"main": "src/entry.py" (the file with class Default(WorkerEntrypoint) and your '
            "Durable Object classes).",
            path=str(config_path),
        )
    main = (root / main_value).resolve()
    if main.suffix != ".py":
        raise ProjectError(
            f"{config_path}: main = {main_value!r} is not a Python module. A Python Worker's "
            'main is a .py file, e.g. "main": "src/entry.py".',
            path=str(config_path),
        )
    if not main.is_file():
        raise ProjectError(
            f"{config_path}: main = {main_value!r}, but {main} does not exist. Create it, or "
            "point main at the file that defines your Worker.",
            path=str(config_path),
        )
    storage = deployed_classes(data.get("migrations", []))
    worker_name = data.get("name")
    bindings: list[Binding] = []
    skipped: list[str] = []
    do = data.get("durable_objects") or {}
    for b in do.get("bindings", []) if isinstance(do, dict) else []:
        script = b.get("script_name")
        if script is not None and script != worker_name:
            skipped.append(f"{b['name']} ({b.get('class_name')} of Worker {script})")
            continue
        cls_name = str(b.get("class_name"))
        if cls_name not in storage:
            raise ProjectError(
                f"{config_path}: binding {b['name']} names class {cls_name}, which no "
                "migration creates, so wrangler would refuse to deploy it. Add a migration: "
                f'{{"tag": "v1", "new_sqlite_classes": ["{cls_name}"]}} (append a new tag if '
                "migrations already exist; never edit deployed ones).",
                path=str(config_path),
            )
        bindings.append(Binding(b["name"], cls_name, storage=storage[cls_name]))
    variables = data.get("vars") or {}
    if not isinstance(variables, dict):
        raise ProjectError(
            f"{config_path}: vars must be a table of names to values (\"vars\": "
            f'{{"GREETING": "hello"}}), not {type(variables).__name__}.',
            path=str(config_path),
        )
    flags = data.get("compatibility_flags") or []
    return Project(
        root=root,
        config_path=config_path,
        config=data,
        main=main,
        bindings=bindings,
        vars=dict(variables),
        compatibility_date=data.get("compatibility_date"),
        compatibility_flags=[str(f) for f in flags] if isinstance(flags, list) else [],
        skipped=skipped,
    )


def _purge(folder: Path) -> None:
    """Forget modules imported from ``folder`` before (loading again is a fresh deploy), and
    other modules of the project's top-level names, which would shadow its own (never the
    standard library's, dosandbox's, or the workers/js we serve)."""
    local = {p.stem for p in folder.iterdir()
             if p.suffix == ".py" or (p / "__init__.py").is_file()}
    local -= {*sys.stdlib_module_names, "dosandbox", *pyworkers.MODULE_NAMES}
    for name, module in list(sys.modules.items()):
        if folders.inside(module, folder) or name.split(".")[0] in local:
            del sys.modules[name]


def _raised_at(exc: BaseException, folder: Path) -> str:
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            if folder in Path(frame.filename).resolve().parents:
                where = f" (at {frame.filename}:{frame.lineno})"
        except (OSError, ValueError):  # pragma: no cover
            continue
    return where


def import_main(project: Project, front: Any) -> Project:
    """Import ``project.main`` for the sandbox whose Worker is ``front``; resolve the classes."""
    main, folder = project.main, project.main.parent
    pyworkers.install()
    project._holds_modules = True
    try:
        _purge(folder)
        project._held_folder = folders.hold(folder)
        spec = importlib.util.spec_from_file_location(main.stem, main)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[main.stem] = module
        try:
            with state.loading(front):
                spec.loader.exec_module(module)
        except SyntaxError as exc:
            sys.modules.pop(main.stem, None)
            bad = exc.filename or str(main)
            raise ProjectError(
                f"{bad}, line {exc.lineno}: SyntaxError: {exc.msg}"
                + (f": {exc.text.strip()}" if exc.text else "")
                + ". Fix the syntax there and load the project again.",
                path=bad, line=exc.lineno,
            ) from None
        except KeyboardInterrupt:
            sys.modules.pop(main.stem, None)
            raise
        except BaseException as exc:
            sys.modules.pop(main.stem, None)
            fix = (
                f"install {exc.name!r} (or vendor it next to {main.name})"
                if isinstance(exc, ModuleNotFoundError)
                else "fix the error; importing the Worker's module must not fail"
            )
            raise ProjectError(
                f"Importing {main} raised {type(exc).__name__}: {exc}{_raised_at(exc, folder)}. "
                f"{fix[0].upper()}{fix[1:]}.",
                path=str(main),
            ) from exc
        project.module = module
        for binding in project.bindings:
            binding.cls = _bound_class(project, module, binding)
        project.worker = _entrypoint(module)
    except BaseException:
        project.release()
        raise
    return project


def _bound_class(project: Project, module: types.ModuleType, binding: Binding) -> Any:
    found = getattr(module, binding.class_name, None)
    exported = sorted(
        name for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, DurableObject)
        and value.__module__ == module.__name__
    )
    if found is None:
        raise ProjectError(
            f"{project.config_path}: binding {binding.name} names class {binding.class_name}, "
            f"but {project.main} defines no such class (its Durable Objects: "
            f"{', '.join(exported) or 'none'}). Rename the class, or fix class_name in the "
            "config.",
            path=str(project.main),
        )
    if not isinstance(found, type) or not issubclass(found, DurableObject):
        raise ProjectError(
            f"{project.main}: {binding.class_name} (bound as {binding.name}) is "
            f"{type(found).__name__}, not a Durable Object class. Write "
            f"`class {binding.class_name}(DurableObject)` with `from workers import "
            "DurableObject`.",
            path=str(project.main),
        )
    return found


def _entrypoint(module: types.ModuleType) -> Any:
    """``class Default(WorkerEntrypoint)``, else an old-style ``on_fetch``, else None."""
    default = getattr(module, "Default", None)
    if isinstance(default, type) and callable(getattr(default, "fetch", None)):
        return default
    on_fetch = getattr(module, "on_fetch", None)
    if callable(on_fetch):
        return on_fetch
    return None
