"""``dosandbox export``: an ``objects/`` folder (the definition API) → a Python Workers project.

The project written to ``--out`` (default ``worker/``):

- ``src/objects/``: the user's own modules, copied as they are (a package, so their relative
  imports keep working);
- ``src/entry.py``: one ``DurableObject`` class per object whose methods and handlers delegate
  to the user's definition, and ``class Default(WorkerEntrypoint)`` routing
  ``/<object>/<name>/...`` to that object's ``fetch`` (the sandbox's own router without a Worker);
- ``wrangler.jsonc``: bindings and append-only migrations, written by the same code as
  ``dosandbox wrangler`` (earlier migrations kept byte for byte);
- ``pyproject.toml`` for ``pywrangler`` (written once; yours to edit after).

Every file is written only when its text changes, so running it twice changes nothing the
second time. The definitions use the cloudwerk context (``ctx.state``, ``ctx.set_state``...),
which comes from dosandbox, so the generated ``pyproject.toml`` lists ``dosandbox`` as a
dependency of the Worker.
"""

from __future__ import annotations

import inspect
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .._core.errors import ProjectError
from .._runtime.definition import DurableObjectDefinition
from .._runtime.object import HANDLERS, PLATFORM_NAMES, rpc_methods
from .discovery import DiscoveredObject, Discovery
from .wrangler import WranglerFile, plan_migration, render

__all__ = ["ExportResult", "export_project", "render_entry"]


@dataclass
class ExportResult:
    """What an export wrote: the project folder and the files that changed (empty: none)."""

    out: Path
    changed: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


def _write_if_changed(path: Path, text: str, result: ExportResult) -> None:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        result.unchanged.append(path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    result.changed.append(path)


def _attr_of(obj: DiscoveredObject) -> str:
    """The module attribute holding the object's definition or class."""
    for attr, value in vars(obj.module).items():
        if value is obj.definition and not attr.startswith("__"):
            return attr
    raise ProjectError(  # pragma: no cover - discovery found it in the module
        f"{obj.path}: the definition of {obj.name} is not a module attribute; assign it, "
        "e.g. default = define_durable_object(...).",
        path=str(obj.path),
    )


_HANDLER_SIGNATURES = {
    "fetch": ("fetch", "request", "request"),
    "alarm": ("alarm", "alarm_info=None", "alarm_info"),
    "web_socket_message": ("webSocketMessage", "ws, message", "ws, message"),
    "web_socket_close": ("webSocketClose", "ws, code, reason, was_clean",
                         "ws, code, reason, was_clean"),
    "web_socket_error": ("webSocketError", "ws, error", "ws, error"),
}


def _takes_alarm_info(fn: object) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())  # type: ignore[arg-type]
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def _class_source(obj: DiscoveredObject) -> str:
    module = obj.path.stem
    attr = _attr_of(obj)
    impl = f"_{obj.class_name}Impl"
    lines = [
        f"{impl} = _built(_objects_{obj.name}.{attr}, {obj.class_name!r})",
        "",
        "",
        f"class {obj.class_name}(DurableObject):",
        f'    """{obj.name}: delegates to src/objects/{module}.py (your definition)."""',
        "",
        "    def __init__(self, ctx, env):",
        "        super().__init__(ctx, env)",
        f"        self._impl = {impl}(_raw(ctx), _raw(env))",
    ]
    for name in rpc_methods(obj.cls):
        lines += [
            "",
            f"    async def {name}(self, *args, **kwargs):",
            f"        return await _settle(self._impl.{name}(*args, **kwargs))",
        ]
    for handler in HANDLERS:
        spelled = PLATFORM_NAMES[handler]
        if not any(callable(getattr(obj.cls, n, None)) for n in (handler, spelled)):
            continue
        platform, params, args = _HANDLER_SIGNATURES[handler]
        target = handler if callable(getattr(obj.cls, handler, None)) else spelled
        if handler == "alarm" and not _takes_alarm_info(getattr(obj.cls, target)):
            args = ""  # alarm(self), as Cloudflare's Python docs write it
        lines += [
            "",
            f"    async def {platform}(self, {params}):",
            f"        return await _settle(self._impl.{target}({args}))",
        ]
    return "\n".join(lines) + "\n"


_PRELUDE = '''\
"""The Worker exported by `dosandbox export` from objects/: regenerate it, don't edit it.

Each class below is a Durable Object delegating to your definition in src/objects/; the
Worker routes /<object>/<name>/... to that object's fetch, as the sandbox does.
"""

import inspect
from urllib.parse import unquote, urlparse

from workers import DurableObject, Response, WorkerEntrypoint

{imports}

# /<object>/<name>/... → the binding of that object.
ROUTES = {routes}


def _built(definition, class_name):
    """The class a definition stands for (a DurableObject subclass is used as it is)."""
    build = getattr(definition, "build_class", None)
    return build(class_name) if build is not None else definition


def _raw(value):
    """The context and env your definition's functions are written against."""
    return getattr(value, "_ctx", None) or getattr(value, "_env", None) or value


async def _settle(value):
    return await value if inspect.isawaitable(value) else value


'''

_WORKER = '''

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        parts = urlparse(request.url).path.split("/")
        if len(parts) >= 3 and parts[1] in ROUTES and parts[2]:
            namespace = getattr(self.env, ROUTES[parts[1]])
            return await namespace.getByName(unquote(parts[2])).fetch(request)
        listed = ", ".join(f"/{{name}}/<name>/" for name in sorted(ROUTES))
        return Response(
            f"Not found: {{urlparse(request.url).path}}. This Worker routes "
            f"/<object>/<name>/... to that object's fetch (here: {{listed}}).\\n",
            status=404,
        )
'''


def render_entry(found: Discovery) -> str:
    """The text of ``src/entry.py`` for the discovered objects (deterministic)."""
    objects = sorted(found.objects, key=lambda o: o.name)
    imports = "\n".join(
        f"import objects.{o.path.stem} as _objects_{o.name}" for o in objects
    )
    routes = "{" + ", ".join(f"{o.name!r}: {o.binding!r}" for o in objects) + "}"
    body = "\n\n".join(_class_source(o) for o in objects)
    return _PRELUDE.format(imports=imports, routes=routes) + body + _WORKER.format()


_PYPROJECT = '''\
[project]
name = "{name}"
version = "0.1.0"
description = "Durable Objects exported from a dosandbox notebook project"
requires-python = ">=3.12"
# Your definitions use the cloudwerk context (ctx.state, ctx.set_state...) from dosandbox.
dependencies = ["dosandbox"]

[dependency-groups]
dev = ["workers-py", "workers-runtime-sdk"]
'''


def _copy_objects(found: Discovery, dest: Path, result: ExportResult) -> None:
    """The user's modules as they are, under src/objects/ (helpers and packages too)."""
    source = found.directory
    for path in sorted(source.rglob("*.py")):
        rel = path.relative_to(source)
        if "__pycache__" in rel.parts or rel.name.startswith("test_"):
            continue
        target = dest / rel
        text = path.read_text(encoding="utf-8")
        _write_if_changed(target, text, result)
    init = dest / "__init__.py"
    if not init.exists():
        _write_if_changed(init, "", result)
    for stale in sorted(dest.rglob("*.py")):
        rel = stale.relative_to(dest)
        if rel != Path("__init__.py") and not (source / rel).is_file():
            stale.unlink()  # a module removed from objects/ leaves the export too
            result.changed.append(stale)
    shutil.rmtree(dest / "__pycache__", ignore_errors=True)


def export_project(found: Discovery, out: str | Path) -> ExportResult:
    """Write (or update) the Python Workers project for ``found`` in ``out``."""
    found.raise_for_problems()
    if not found.objects:
        raise ProjectError(
            f"{found.directory} holds no objects to export; add one module per object (e.g. "
            "objects/counter.py with define_durable_object(...)) and run again.",
            path=str(found.directory),
        )
    for obj in found.objects:
        if not isinstance(obj.definition, DurableObjectDefinition) and inspect.getmodule(
            obj.definition
        ) is not obj.module:  # pragma: no cover - discovery only picks local classes
            raise ProjectError(f"{obj.path}: its class is imported, not defined there.")
    root = Path(out)
    result = ExportResult(out=root)
    _copy_objects(found, root / "src" / "objects", result)
    _write_if_changed(root / "src" / "entry.py", render_entry(found), result)
    config = WranglerFile.load(root / "wrangler.jsonc")
    plan = plan_migration(config.data, [(o.binding, o.class_name) for o in found.objects])
    text = render(config, plan, root)
    _write_if_changed(config.path, text, result)
    pyproject = root / "pyproject.toml"
    if not pyproject.exists():
        from .wrangler import project_name

        _write_if_changed(pyproject, _PYPROJECT.format(name=project_name(root)), result)
    return result
