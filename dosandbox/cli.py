"""The ``dosandbox`` command: look at a project of objects and write what wrangler needs.

::

    dosandbox objects list               class, binding, storage, methods and handlers
    dosandbox objects info NAME          signatures, docs, wrangler snippet, usage
    dosandbox objects generate-types     typed stubs (objects/_types.py) for mypy/pyright
    dosandbox objects migrations         the migration history and what comes next
    dosandbox wrangler [--dry-run]       write/update wrangler.toml (or .jsonc/.json)
    dosandbox export [--out DIR]         objects/ → a Python Workers project (pywrangler)
    dosandbox dev [PATH] [--port N]      serve a project's Worker (or objects/), reload on change

``objects list`` and ``objects info`` also read a Python Workers project (``--project PATH``, or
the current folder when it has a wrangler config and no ``objects/``): classes, bindings and
handlers come from its real ``main`` module.

Every command takes ``--dir`` (default ``objects``); tabular ones take ``--json``. The objects
are really imported, so what is shown is what the sandbox would run. Exit status: 0 when all
is well, 1 for a project with problems, an unknown object, a config that does not parse or a
file that cannot be read or written (one line naming the file and the fix, nothing written),
2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._core.errors import ConfigError, DurableObjectError, did_you_mean
from ._core.world import make_folder
from ._project.discovery import DiscoveredObject, Discovery, discover, format_signature

__all__ = ["main"]


class _Failure(Exception):
    """A message for stderr and exit status 1."""


def _out(text: str = "") -> None:
    print(text)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _project_path(args: argparse.Namespace) -> Path | None:
    """The Python Workers project to read, if ``list``/``info`` should read one."""
    given = getattr(args, "project", None)
    if given is not None:
        return Path(given)
    if not hasattr(args, "project") or args.dir != "objects" or Path("objects").is_dir():
        return None
    from ._project.wrangler import WranglerFile, find_config

    config = find_config(Path("."))
    if config is None:
        return None
    try:
        main = WranglerFile.load(config).data.get("main")
    except ConfigError:
        return None
    return Path(".") if isinstance(main, str) and main.endswith(".py") else None


def _project_discovery(args: argparse.Namespace, path: Path) -> Discovery:
    """A Python Workers project's bound classes, as ``discover`` would report objects."""
    from ._sandbox import Sandbox

    try:
        sb = Sandbox.from_project(path)
    except ConfigError as exc:
        raise _Failure(exc.message) from None
    try:
        project = sb.project
        assert project is not None and project.module is not None
        found = Discovery(directory=project.root)
        for b in project.bindings:
            assert b.cls is not None
            found.objects.append(DiscoveredObject(
                b.object_name, b.class_name, b.name, project.main, project.module, b.cls, b.cls
            ))
    finally:
        sb.close()
    args.config = str(project.config_path)
    args.project_mode = str(path)
    return found


def _discover(args: argparse.Namespace, *, need_clean: bool) -> Discovery:
    project = _project_path(args)
    if project is not None:
        return _project_discovery(args, project)
    directory = Path(args.dir)
    # Objects may import helpers by their package path (objects._shared): make the project
    # root importable, as `python -m` does for the current folder.
    root = str(directory.resolve().parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        found = discover(directory)
    except ConfigError as exc:
        raise _Failure(exc.message) from None
    if found.problems:
        _err(found.report())
        if need_clean:
            raise _Failure(
                "Nothing was written: fix the problems above first (a module that does not "
                "load would otherwise look like a deleted class)."
            )
    return found


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (making its folder), or fail naming the file and the fix."""
    try:
        make_folder(path.parent, f"cannot write {path}",
                    fix="Write to another path (--out, --config), or move that file away.")
    except ConfigError as exc:
        raise _Failure(exc.message) from None
    if path.is_dir():
        raise _Failure(f"cannot write {path}: it is a folder. Pass a file path, e.g. "
                       f"{path / 'file'}.")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _Failure(
            f"cannot write {path} ({exc.strerror or exc}). Check that you may write it and "
            "its folder, or write elsewhere."
        ) from None


def _read_output(path: Path) -> str | None:
    """The text of the ``--out`` file we would overwrite (None when it does not exist)."""
    if not path.exists():
        return None
    if path.is_dir():
        raise _Failure(f"{path} is a folder: pass --out with a file path, e.g. --out "
                       f"{path / '_types.py'}.")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _Failure(f"{path} is not UTF-8 text, so dosandbox did not write it; pass "
                       "another --out, or move that file away.") from None
    except OSError as exc:
        raise _Failure(f"cannot read {path} ({exc.strerror or exc}); check its permissions "
                       "or pass another --out.") from None


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def _object_dict(obj: DiscoveredObject) -> dict[str, Any]:
    return {
        "name": obj.name,
        "class_name": obj.class_name,
        "binding": obj.binding,
        "storage": obj.storage,
        "style": obj.style,
        "file": str(obj.path),
        "handlers": obj.handlers,
        "methods": [
            {
                "name": m.name,
                "signature": format_signature(m.signature),
                "doc": m.doc,
                "async": m.is_async,
            }
            for m in obj.methods
        ],
    }


# --- objects list / info ----------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    found = _discover(args, need_clean=False)
    if args.json:
        _out(
            json.dumps(
                {
                    "directory": str(found.directory),
                    "objects": [_object_dict(o) for o in found.objects],
                    "problems": [p.as_dict() for p in found.problems],
                },
                indent=2,
            )
        )
    elif not found.objects:
        _out(f"No objects in {args.dir}/ (add one module per object, e.g. {args.dir}/counter.py).")
    else:
        rows = [
            [
                o.name,
                o.class_name,
                o.binding,
                o.storage,
                ", ".join(m.name for m in o.methods) or "-",
                ", ".join(o.handlers) or "-",
            ]
            for o in found.objects
        ]
        _out(_table(rows, ["NAME", "CLASS", "BINDING", "STORAGE", "METHODS", "HANDLERS"]))
    return 1 if found.problems else 0


def _find(found: Discovery, key: str) -> DiscoveredObject:
    obj = found.get(key)
    if obj is None:
        known = [o.name for o in found.objects]
        hint = did_you_mean(key, known) if known else "the project has no objects that load"
        raise _Failure(
            f"No object {key!r} in {found.directory} (give a name, class or binding); {hint}."
        )
    return obj


def _config_for(args: argparse.Namespace) -> Path:
    from ._project.wrangler import find_config

    if getattr(args, "config", None):
        return Path(args.config)
    root = Path(args.dir).resolve().parent
    return find_config(root) or root / "wrangler.toml"


def _load_config(args: argparse.Namespace) -> Any:
    from ._project.wrangler import WranglerFile

    try:
        return WranglerFile.load(_config_for(args))
    except ConfigError as exc:
        raise _Failure(exc.message) from None


def cmd_info(args: argparse.Namespace) -> int:
    found = _discover(args, need_clean=False)
    obj = _find(found, args.name)
    config = _load_config(args)
    from ._project.wrangler import _next_tag, deployed_classes

    deployed = deployed_classes(config.data.get("migrations", []))
    binding = {"name": obj.binding, "class_name": obj.class_name}
    if obj.class_name in deployed:
        migration: dict[str, Any] | None = None
        tag = next(
            (
                m["tag"]
                for m in config.data.get("migrations", [])
                if obj.class_name
                in [*m.get("new_sqlite_classes", []), *m.get("new_classes", [])]
                + [r.get("to") for r in m.get("renamed_classes", [])]
            ),
            None,
        )
        migration_note = f"already created by migration {tag} in {config.path.name}"
    else:
        tag = _next_tag(config.data.get("migrations", []))
        migration = {"tag": tag, "new_sqlite_classes": [obj.class_name]}
        migration_note = f"not in {config.path.name} yet; `dosandbox wrangler` adds it"
    usage = [
        "import dosandbox",
        f'sb = dosandbox.Sandbox.from_project("{args.project_mode}")'
        if getattr(args, "project_mode", None)
        else f'sb = dosandbox.Sandbox.from_directory("{args.dir}")',
        f'stub = sb.durable_objects.{obj.name}.get("user-123")',
    ]
    for m in obj.methods[:3]:
        required = [
            p.name
            for p in m.signature.parameters.values()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        usage.append(f"await stub.{m.name}({', '.join(required)})")
    if "fetch" in obj.handlers:
        usage.append('response = await stub.fetch("https://example.com/")')
    usage.append("sb.inspect(stub)                  # state, storage, alarm, events")
    if args.json:
        data = _object_dict(obj)
        data["wrangler"] = {
            "binding": binding,
            "migration": migration,
            "migration_note": migration_note,
        }
        data["usage"] = "\n".join(usage)
        _out(json.dumps(data, indent=2))
        return 0
    doc = (obj.module.__doc__ or "").strip().splitlines()
    lines = [
        f"{obj.name}: class {obj.class_name}, binding env.{obj.binding}, storage {obj.storage}",
        f"  from {obj.path} ({obj.style})" + (f" - {doc[0]}" if doc else ""),
        "",
        "Handlers: " + (", ".join(obj.handlers) or "none"),
        "Methods:" if obj.methods else "Methods: none",
    ]
    for m in obj.methods:
        prefix = "async " if m.is_async else ""
        lines.append(f"  {prefix}{m.name}{format_signature(m.signature)}")
        if m.doc:
            lines.append(f"      {m.doc}")
    lines += ["", "wrangler.toml:", "  [[durable_objects.bindings]]"]
    lines += [f'  name = "{obj.binding}"', f'  class_name = "{obj.class_name}"', ""]
    if migration is not None:
        lines += ["  [[migrations]]", f'  tag = "{tag}"']
        lines.append(f'  new_sqlite_classes = ["{obj.class_name}"]')
    lines.append(f"  # migration: {migration_note}")
    lines += ["", "Usage:", *(f"  {u}" for u in usage)]
    _out("\n".join(lines))
    return 1 if found.problems else 0


# --- generate-types ---------------------------------------------------------------------------


def cmd_generate_types(args: argparse.Namespace) -> int:
    from ._project.typegen import generate_types

    found = _discover(args, need_clean=True)
    out = Path(args.out) if args.out else Path(args.dir) / "_types.py"
    text = generate_types(found.objects, objects_dir=Path(args.dir), out=out)
    old = _read_output(out)
    if args.check:
        if old != text:
            raise _Failure(f"{out} is out of date: run `dosandbox objects generate-types`.")
        _out(f"{out} is up to date.")
        return 0
    if old == text:
        _out(f"{out} is up to date ({len(found.objects)} objects).")
        return 0
    _write(out, text)
    _out(f"wrote {out} ({len(found.objects)} objects: {', '.join(o.name for o in found.objects)})")
    return 0


# --- migrations / wrangler --------------------------------------------------------------------


def _plan(args: argparse.Namespace) -> tuple[Any, Any, Discovery]:
    from ._project.wrangler import plan_migration

    found = _discover(args, need_clean=True)
    config = _load_config(args)
    try:
        plan = plan_migration(config.data, [(o.binding, o.class_name) for o in found.objects])
    except ConfigError as exc:
        raise _Failure(exc.message) from None
    return config, plan, found


def _migration_text(m: dict[str, Any]) -> str:
    parts = []
    for key in ("new_sqlite_classes", "new_classes", "deleted_classes"):
        if m.get(key):
            parts.append(f"{key}={', '.join(m[key])}")
    for key in ("renamed_classes", "transferred_classes"):
        if m.get(key):
            pairs = ", ".join(f"{r.get('from')}->{r.get('to')}" for r in m[key])
            parts.append(f"{key}={pairs}")
    return "; ".join(parts) or "(empty)"


def cmd_migrations(args: argparse.Namespace) -> int:
    config, plan, _ = _plan(args)
    if args.json:
        _out(
            json.dumps(
                {
                    "config": str(config.path) if config.exists else None,
                    "history": plan.history,
                    "deployed_classes": plan.deployed,
                    "next": plan.migration,
                    "bindings_changed": plan.bindings_changed,
                    "changes": plan.summary(),
                    "warnings": plan.warnings,
                },
                indent=2,
            )
        )
        return 0
    name = config.path.name
    if not config.exists:
        _out(f"No wrangler config yet ({config.path} does not exist).")
    elif not plan.history:
        _out(f"{name} has no [[migrations]] yet.")
    else:
        _out(f"Migration history in {name}:")
        rows = [[m["tag"], _migration_text(m)] for m in plan.history]
        _out(_table(rows, ["TAG", "CHANGES"]))
    _out("")
    if plan.changed:
        _out("The next `dosandbox wrangler` would:")
        _out("\n".join(f"  {line}" for line in plan.summary()))
    else:
        _out("Up to date: `dosandbox wrangler` would change nothing.")
    for warning in plan.warnings:
        _err(f"warning: {warning}")
    return 0


def cmd_wrangler(args: argparse.Namespace) -> int:
    from ._project.wrangler import render, unified_diff

    config, plan, _ = _plan(args)
    root = Path(args.dir).resolve().parent
    try:
        new = render(config, plan, root)
    except ConfigError as exc:
        raise _Failure(exc.message) from None
    if args.json:
        _out(
            json.dumps(
                {
                    "config": str(config.path),
                    "dry_run": args.dry_run,
                    "written": plan.changed and not args.dry_run,
                    **plan.as_dict(),
                },
                indent=2,
            )
        )
    if not plan.changed or new == config.text:
        if not args.json:
            _out(
                f"{config.path.name} is up to date: nothing to change."
                if config.exists
                else f"No objects in {args.dir}/, so no {config.path.name} was written."
            )
    elif args.dry_run:
        if not args.json:
            _out(unified_diff(config.text, new, config.path).rstrip("\n"))
            _out(f"(dry run: {config.path} not written)")
    else:
        _write(config.path, new)
        if not args.json:
            verb = "updated" if config.exists else "created"
            _out(f"{verb} {config.path}:")
            _out("\n".join(f"  {line}" for line in plan.summary()))
    for warning in plan.warnings:
        _err(f"warning: {warning}")
    return 0


# --- dev: serve a project to real clients ---------------------------------------------------

# Seconds between two looks at the project's files (a reload follows a change).
RELOAD_POLL = 0.5
# Folders a reload never looks into: caches, environments, vendored packages.
_UNWATCHED = frozenset({"__pycache__", "node_modules", "python_modules"})


class _DevTarget:
    """What ``dosandbox dev PATH`` serves: a Python Workers project, or an ``objects/`` folder.

    A project (a wrangler config whose ``main`` is a ``.py`` file) is served through its
    Worker, as ``wrangler dev`` / ``pywrangler dev`` do; an ``objects/`` folder is routed as
    ``/<object>/<name>/...``.
    """

    def __init__(self, *, project: Path | None = None, objects: Path | None = None) -> None:
        self.project = project  # the project folder (or its wrangler file)
        self.objects = objects

    @property
    def path(self) -> Path:
        found = self.project if self.project is not None else self.objects
        assert found is not None
        return found


def _worker_config(path: Path) -> Path | None:
    """The wrangler config at ``path`` (a folder or the file) whose ``main`` is Python."""
    from ._project.wrangler import CONFIG_NAMES, WranglerFile, find_config

    config = path if path.is_file() and path.name in CONFIG_NAMES else None
    if config is None and path.is_dir():
        config = find_config(path)
    if config is None:
        return None
    try:
        main = WranglerFile.load(config).data.get("main")
    except ConfigError:  # loading it reports why, unless objects/ is there to serve instead
        return None if path.is_dir() and (path / "objects").is_dir() else config
    if not (isinstance(main, str) and main.endswith(".py")):
        return None
    # `dosandbox wrangler` writes main = "src/entry.py" beside an objects/ folder before any
    # Worker exists: there the objects are what to serve.
    if path.is_dir() and (path / "objects").is_dir() and not (config.parent / main).is_file():
        return None
    return config


def _dev_target(path: Path) -> _DevTarget:
    """A Python Workers project at ``path``, else the ``objects/`` folder (PATH or PATH/objects)."""
    if not path.exists():
        raise _Failure(f"{path} does not exist: pass the project folder or its objects/ "
                       "folder, e.g. dosandbox dev . or dosandbox dev objects")
    if _worker_config(path) is not None:
        return _DevTarget(project=path)
    if (path / "objects").is_dir():
        return _DevTarget(objects=path / "objects")
    if path.is_dir() and any(path.glob("*.py")):
        return _DevTarget(objects=path)
    raise _Failure(
        f"{path} has no wrangler config with a Python main, no objects/ folder and no object "
        "modules (*.py): pass a Python Workers project (its wrangler.jsonc or wrangler.toml "
        "names main = \"src/entry.py\") or the folder of objects, e.g. dosandbox dev "
        "path/to/objects."
    )


def _python_files(folder: Path) -> list[Path]:
    """Every ``*.py`` under ``folder``, skipping hidden folders, caches and vendored packages."""
    found: list[Path] = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _UNWATCHED)
        found += [Path(here) / f for f in sorted(files) if f.endswith(".py")]
    return found


def _snapshot(files: list[Path]) -> dict[str, tuple[int, int]]:
    """Each file with its mtime and size (what a reload watches)."""
    seen: dict[str, tuple[int, int]] = {}
    for file in files:
        try:
            stat = file.stat()
        except OSError:  # removed while we looked: the next look sees it gone
            continue
        seen[str(file)] = (stat.st_mtime_ns, stat.st_size)
    return seen


def _log_request(method: str, path: str, status: int, text: str, ms: float) -> None:
    """One line per answered request, as wrangler dev prints them."""
    _out(f"{method} {path} {status} {text} ({ms:.0f}ms)")
    sys.stdout.flush()


def _serving_what(sandbox: Any, target: _DevTarget) -> str:
    """The "Serving ..." line's subject: the Worker and its bindings, or the objects."""
    project = sandbox.project
    if project is None:
        return (f"{', '.join(sorted(sandbox.namespaces))} from {target.path} as "
                "/<object>/<name>/...")
    try:
        main = project.main.relative_to(project.root.resolve())
    except ValueError:  # main outside the project folder ("../shared/entry.py")
        main = project.main
    worker = project.worker
    if isinstance(worker, type):
        front = f"Worker {worker.__name__} in {main}"
    elif worker is not None:
        front = f"Worker function {worker.__name__} in {main}"
    else:
        front = f"no Worker in {main} (so /<object>/<name>/... goes to that object)"
    bindings = ", ".join(f"{b.name} ({b.class_name})" for b in project.bindings) or "none"
    what = f"{project.name}: {front}, bindings {bindings}"
    if project.vars:
        what += f", vars {', '.join(sorted(project.vars))}"
    return what


class _Dev:
    """One ``dosandbox dev`` run: a sandbox of the project (or objects) and its server."""

    def __init__(self, target: _DevTarget, args: argparse.Namespace, persist: Path) -> None:
        self.target = target
        self.args = args
        self.persist = persist
        self.sandbox: Any = None
        self.server: Any = None

    def _open(self, persist: Path | None) -> Any:
        from ._sandbox import Sandbox

        if self.target.project is not None:
            return Sandbox.from_project(self.target.project, persist=persist)
        return Sandbox.from_directory(self.target.path, persist=persist)

    def load(self) -> None:
        """Import the code (fresh) and serve it; storage comes from the persist folder."""
        from ._notebook.server import Server

        try:
            self.sandbox = self._open(self.persist)
        except DurableObjectError as exc:
            raise _Failure(exc.message) from None
        self.server = Server(self.sandbox, port=self.args.port, host=self.args.host,
                             on_request=_log_request, announce=None)
        self.args.port = self.server.port  # a reload keeps the port (also after --port 0)

    def watched(self) -> list[Path]:
        """The files whose change reloads: the Worker's folder (or the objects) and config."""
        if self.target.project is None:
            return _python_files(self.target.path)
        from ._project.project import read_project

        project = self.sandbox.project if self.sandbox is not None else None
        if project is None:  # not loaded yet: the config says where main is
            try:
                project = read_project(self.target.project)
            except ConfigError:  # loading will report it
                return []
        return [*_python_files(project.main.parent), project.config_path]

    def problems(self) -> str | None:
        """Why the changed code would not load (naming the file), or None when it loads."""
        if self.target.project is None:
            found = discover(self.target.path)
            return found.report() if found.problems else None
        try:
            # A trial load without storage: the real one replaces the running sandbox only
            # when the new code imports and every binding finds its class.
            self._open(None).close()
        except DurableObjectError as exc:
            return exc.message
        return None

    async def unload(self) -> None:
        """Stop serving (sockets close with 1001) and close the sandbox (storage is kept)."""
        server, sandbox = self.server, self.sandbox
        self.server = self.sandbox = None
        if server is not None:
            server.stop()
            await server.wait_stopped()
        if sandbox is not None:
            sandbox.close()

    async def reload(self, changed: list[str]) -> None:
        names = ", ".join(Path(c).name for c in changed[:3]) + (" ..." if len(changed) > 3 else "")
        _out(f"{names} changed.")
        problems = self.problems()
        if problems is not None:
            _err(problems)
            _err("Not reloaded: fix the problem above; the previous code keeps serving.")
            return
        what = ("the Worker and its objects restart" if self.target.project is not None
                else "the objects restart")
        _out(f"Reloading: {what}, their storage is kept.")
        await self.unload()
        self.load()
        _out(f"Ready on {self.server.url}")
        sys.stdout.flush()


async def _dev_main(target: _DevTarget, args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    temporary = args.persist is None
    persist = Path(tempfile.mkdtemp(prefix="dosandbox-dev-")) if temporary else Path(args.persist)
    dev = _Dev(target, args, persist)
    files = _snapshot(dev.watched())  # before loading: an edit made meanwhile is a change
    try:
        dev.load()
        _out(f"Ready on {dev.server.url}")
        if dev.server.proxy_url is not None:
            _out(f"Through this Jupyter server: {dev.server.proxy_url}")
        where = "kept in a temporary folder until exit" if temporary else f"kept in {persist}"
        _out(f"Serving {_serving_what(dev.sandbox, target)}; storage {where}. Ctrl-C stops.")
        sys.stdout.flush()
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), RELOAD_POLL)
            now = _snapshot(dev.watched())
            if now != files and not stop.is_set():
                changed = sorted(set(now.items()) ^ set(files.items()))
                await dev.reload(sorted({name for name, _ in changed}))
                # A new main in the config may watch other files; those looked at before the
                # reload keep that look, so an edit made during the reload is still a change.
                files = {name: now.get(name, seen)
                         for name, seen in _snapshot(dev.watched()).items()}
        _out("Stopping: closing connections (1001) and storage.")
        return 0
    finally:
        await dev.unload()
        if temporary:
            shutil.rmtree(persist, ignore_errors=True)
        sys.stdout.flush()


def cmd_dev(args: argparse.Namespace) -> int:
    target = _dev_target(Path(args.path))
    if target.objects is not None:
        root = str(target.objects.resolve().parent)
        if root not in sys.path:  # objects may import helpers by package path (objects._shared)
            sys.path.insert(0, root)
    try:
        return asyncio.run(_dev_main(target, args))
    except DurableObjectError as exc:  # a port in use, a persist folder that cannot be used
        raise _Failure(exc.message) from None


# --- wiring -----------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    """Write (or update) the Python Workers project; a second run changes nothing."""
    from ._project.export import export_project

    found = _discover(args, need_clean=True)
    try:
        result = export_project(found, Path(args.out))
    except ConfigError as exc:
        raise _Failure(exc.message) from None
    if not result.changed:
        _out(f"{args.out}/ is up to date ({len(result.unchanged)} files).")
        return 0
    for path in result.changed:
        _out(f"wrote {path}")
    _out(f"Run it here: Sandbox.from_project({args.out!r}); deploy it: cd {args.out} && "
         "uv run pywrangler deploy")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", default="objects", help="the objects folder (default: objects)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON instead of text")
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument(
        "--config",
        help="the wrangler config (default: wrangler.json, .jsonc or .toml next to --dir, "
        "in wrangler's order; wrangler.toml when there is none)",
    )

    parser = argparse.ArgumentParser(
        prog="dosandbox", description="Durable Objects projects: inspect, type, configure."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    objects = sub.add_parser("objects", help="look at the objects in objects/")
    osub = objects.add_subparsers(dest="objects_command", required=True, metavar="SUBCOMMAND")

    project = argparse.ArgumentParser(add_help=False)
    project.add_argument(
        "--project", help="read a Python Workers project (its folder or wrangler file) instead "
        "of --dir; the default when the current folder has one and no objects/"
    )
    p = osub.add_parser(
        "list", parents=[common, as_json, project], help="every object, one a line"
    )
    p.set_defaults(func=cmd_list)
    p = osub.add_parser(
        "info", parents=[common, as_json, config, project], help="one object in detail"
    )
    p.add_argument("name", help="object name, class name or binding")
    p.set_defaults(func=cmd_info)
    p = osub.add_parser("generate-types", parents=[common], help="write typed stubs")
    p.add_argument("--out", help="output file (default: <dir>/_types.py)")
    p.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    p.set_defaults(func=cmd_generate_types)
    p = osub.add_parser(
        "migrations", parents=[common, as_json, config], help="history and next migration"
    )
    p.set_defaults(func=cmd_migrations)

    p = sub.add_parser(
        "wrangler", parents=[common, as_json, config], help="write bindings and migrations"
    )
    p.add_argument("--dry-run", action="store_true", help="show a diff, write nothing")
    p.set_defaults(func=cmd_wrangler)

    p = sub.add_parser(
        "export", parents=[common], help="write a Python Workers project from the objects"
    )
    p.add_argument("--out", default="worker", help="the project folder (default: worker)")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("dev", help="serve a Python Workers project (through its Worker) or "
                       "objects/ to real HTTP/WebSocket clients")
    p.add_argument("path", nargs="?", default=".",
                   help="a Python Workers project (its folder or wrangler file), a project "
                   "with objects/, or the objects/ folder (default: .)")
    p.add_argument("--port", type=int, default=8787, help="port to listen on (default: 8787)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--persist", metavar="DIR",
                   help="keep the objects' storage in DIR across runs (default: a temporary "
                   "folder, kept across reloads only)")
    p.set_defaults(func=cmd_dev)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except _Failure as exc:
        _err(f"error: {exc}")
        return 1
    except OSError as exc:  # a file the command needs that the helpers above did not expect
        _err(f"error: {exc.filename or 'a file'}: {exc.strerror or exc}. Check that the path "
             "exists and that you may read and write it; nothing more was written.")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
