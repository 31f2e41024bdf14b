"""``dosandbox export``: an ``objects/`` folder (the definition API) → a Python Workers project.

The project written to ``--out`` (default ``worker/``) deploys with Cloudflare's own tools
(``pywrangler deploy``) and imports nothing from dosandbox:

- ``src/objects/``: your modules, copied with one change: ``from dosandbox import ...`` lines
  read ``from cloudwerk import ...`` (a package, so their relative imports keep working);
- ``src/cloudwerk.py``: the definition API (``define_durable_object``, the cloudwerk ``ctx``,
  ``DurableObject``, ``Response``, ``Request``, ``WebSocketPair``) on the platform's ``workers``,
  ``js`` and ``pyodide`` modules, from the template in ``templates/``;
- ``src/entry.py``: one ``DurableObject`` class per object whose methods (with your parameter
  names and defaults) and handlers run your code, and ``class Default(WorkerEntrypoint)``
  routing ``/<object>/<name>/...`` to that object's ``fetch`` (the sandbox's own router);
- ``wrangler.jsonc``: bindings and append-only migrations, written by the same code as
  ``dosandbox wrangler`` (earlier migrations kept byte for byte);
- ``pyproject.toml`` for ``pywrangler`` (written once; yours to edit after), with no
  dependency on dosandbox.

Every file is written only when its text changes, so running it twice changes nothing the
second time. Nothing is written when a module imports from dosandbox what the platform
cannot have (``Sandbox``, ``dosandbox.testing``...): the error names the line and the fix.
"""

from __future__ import annotations

import ast
import inspect
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .._core.errors import ProjectError
from .._runtime.definition import DurableObjectDefinition
from .._runtime.object import HANDLERS, PLATFORM_NAMES, rpc_methods
from .discovery import DiscoveredObject, Discovery
from .wrangler import WranglerFile, plan_migration, render

__all__ = [
    "ADAPTER_NAMES", "ExportResult", "adapter_source", "export_project", "render_entry",
    "rewrite_imports",
]

# What src/cloudwerk.py provides, so what objects/ modules may import from dosandbox.
ADAPTER_NAMES = frozenset({
    "DurableObject", "DurableObjectDefinition", "Request", "Response", "WebSocketPair",
    "define_durable_object",
})


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


def adapter_source() -> str:
    """The text of ``src/cloudwerk.py`` (the template kept in the package)."""
    template = resources.files(__package__).joinpath("templates", "cloudwerk.py.template")
    return template.read_text(encoding="utf-8")


# --- your modules, with their dosandbox imports pointed at cloudwerk -------------------------


def _refuse_import(path: Path, line: int, what: str) -> ProjectError:
    return ProjectError(
        f"{path}:{line}: {what}, which exists only in the sandbox, so the exported Worker could "
        f"not import it. Objects may import from dosandbox only "
        f"{', '.join(sorted(ADAPTER_NAMES))} (the export provides them in cloudwerk.py); move "
        "the rest to the notebook or a test_*.py file (not exported).",
        path=str(path),
    )


def rewrite_imports(text: str, path: Path) -> str:
    """``text`` with ``from dosandbox import X`` read as ``from cloudwerk import X``.

    Only the module name on those lines changes, so tracebacks keep your line numbers.
    ``import dosandbox`` becomes ``import cloudwerk as dosandbox``. Anything else from
    dosandbox raises :class:`ProjectError` naming the line.
    """
    tree = ast.parse(text, filename=str(path))
    lines = text.splitlines(keepends=True)
    aliases: set[str] = set()
    edits: list[tuple[int, int, str, str]] = []  # (line index, column, old, new)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
            node.module == "dosandbox" or node.module.startswith("dosandbox.")
        ):
            if node.module != "dosandbox":
                raise _refuse_import(path, node.lineno, f"it imports from {node.module}")
            for alias in node.names:
                if alias.name not in ADAPTER_NAMES:
                    raise _refuse_import(path, node.lineno, f"it imports {alias.name}")
            edits.append((node.lineno - 1, node.col_offset, "dosandbox", "cloudwerk"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dosandbox."):
                    raise _refuse_import(path, node.lineno, f"it imports {alias.name}")
                if alias.name == "dosandbox":
                    aliases.add(alias.asname or "dosandbox")
                    new = "cloudwerk" if alias.asname else "cloudwerk as dosandbox"
                    edits.append((node.lineno - 1, node.col_offset, "dosandbox", new))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in aliases and node.attr not in ADAPTER_NAMES
        ):
            raise _refuse_import(path, node.lineno, f"it uses {node.value.id}.{node.attr}")
    for index, column, old, new in sorted(edits, reverse=True):
        line = lines[index]
        at = line.index(old, column)
        # "import dosandbox as d" → "import cloudwerk as d": only the module name changes.
        lines[index] = line[:at] + new + line[at + len(old):]
    return "".join(lines)


def _exported_modules(found: Discovery) -> dict[Path, str]:
    """Relative path → text for every module copied to src/objects/ (checked, rewritten)."""
    source = found.directory
    texts: dict[Path, str] = {}
    for path in sorted(source.rglob("*.py")):
        rel = path.relative_to(source)
        if "__pycache__" in rel.parts or rel.name.startswith("test_"):
            continue
        texts[rel] = rewrite_imports(path.read_text(encoding="utf-8"), path)
    return texts


def _copy_objects(texts: dict[Path, str], dest: Path, result: ExportResult) -> None:
    for rel, text in texts.items():
        _write_if_changed(dest / rel, text, result)
    init = dest / "__init__.py"
    if not init.exists():
        _write_if_changed(init, "", result)
    for stale in sorted(dest.rglob("*.py")):
        rel = stale.relative_to(dest)
        if rel != Path("__init__.py") and rel not in texts:
            stale.unlink()  # a module removed from objects/ leaves the export too
            result.changed.append(stale)
    shutil.rmtree(dest / "__pycache__", ignore_errors=True)


# --- src/entry.py ----------------------------------------------------------------------------


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


# handler → (the platform's method name, its parameters, the arguments passed on)
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


class _Source:
    """A default written as source text in a generated signature."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


_LITERAL_TYPES = (type(None), bool, int, float, str, bytes)


def _is_literal(value: Any) -> bool:
    """An immutable value whose repr reads back as itself (so it can be written in place)."""
    if type(value) is tuple:
        return all(_is_literal(v) for v in value)
    if type(value) not in _LITERAL_TYPES:
        return False
    try:
        return bool(ast.literal_eval(repr(value)) == value)
    except (ValueError, SyntaxError):  # nan, inf
        return False


def _method_signature(fn: Any, fn_source: str, drop_first: bool) -> tuple[str, str, str]:
    """(receiver, ``(self, a, b=1)``, ``a, b``) for a method delegating to ``fn``.

    Your parameter names, kinds and defaults are kept, so tools reading the exported class
    (``dosandbox objects info``, the platform's RPC) see them; a default that is not a plain
    literal is read from your function when the module loads, so it is the same object.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return "self", "(self, *args, **kwargs)", "*args, **kwargs"
    params = list(sig.parameters.values())
    if drop_first and params and params[0].kind in (
        inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD
    ):
        params = params[1:]
    names = {p.name for p in params}
    receiver = next(n for n in ("self", "this", "self_") if n not in names)
    kind = inspect.Parameter.POSITIONAL_ONLY if any(
        p.kind is p.POSITIONAL_ONLY for p in params
    ) else inspect.Parameter.POSITIONAL_OR_KEYWORD
    kept = [inspect.Parameter(receiver, kind)]
    call: list[str] = []
    for p in params:
        default = p.default
        if default is not p.empty:
            default = _Source(
                repr(default) if _is_literal(default)
                else f"default_of({fn_source}, {p.name!r})"
            )
        kept.append(p.replace(annotation=p.empty, default=default))
        passed: dict[inspect._ParameterKind, str] = {
            p.VAR_POSITIONAL: f"*{p.name}",
            p.KEYWORD_ONLY: f"{p.name}={p.name}",
            p.VAR_KEYWORD: f"**{p.name}",
        }
        call.append(passed.get(p.kind, p.name))
    return receiver, str(inspect.Signature(kept)), ", ".join(call)


def _method(name: str, signature: str, receiver: str, body: str) -> list[str]:
    return ["", f"    async def {name}{signature}:",
            f"        return await settle({body.format(self=receiver)})"]


def _definition_source(obj: DiscoveredObject, definition: DurableObjectDefinition) -> str:
    ref = f"_{obj.name}"
    lines = [
        f"{ref} = _objects_{obj.name}.{_attr_of(obj)}",
        "",
        "",
        f"class {obj.class_name}(DurableObject):",
        f'    """{obj.name}: runs your definition in src/objects/{obj.path.stem}.py."""',
        "",
        "    def __init__(self, ctx, env):",
        "        super().__init__(ctx, env)",
        "        self._cw = Context(self.ctx, self.env)",
        f"        {ref}.start(self._cw)",
    ]
    for name in rpc_methods(obj.cls):
        fn = definition.methods[name]
        receiver, signature, call = _method_signature(
            fn, f"{ref}.methods[{name!r}]", drop_first=True
        )
        args = ", ".join([repr(name), "{self}._cw", *([call] if call else [])])
        lines += _method(name, signature, receiver, f"{ref}.call({args})")
    for handler in HANDLERS:
        if handler in definition.handlers:
            platform, params, args = _HANDLER_SIGNATURES[handler]
            lines += _method(platform, f"(self, {params})", "self",
                             f"{ref}.handle({handler!r}, {{self}}._cw, {args})")
    return "\n".join(lines) + "\n"


def _class_source(obj: DiscoveredObject) -> str:
    cls_ref = f"_objects_{obj.name}.{_attr_of(obj)}"
    lines = [
        f"class {obj.class_name}(DurableObject):",
        f'    """{obj.name}: runs your class in src/objects/{obj.path.stem}.py."""',
        "",
        "    def __init__(self, ctx, env):",
        "        super().__init__(ctx, env)",
        "        cw = Context(self.ctx, self.env)",
        f"        self._impl = {cls_ref}(cw, cw.env)",
    ]
    for name in rpc_methods(obj.cls):
        raw = inspect.getattr_static(obj.cls, name)
        fn = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
        receiver, signature, call = _method_signature(
            fn, f"{cls_ref}.{name}", drop_first=not isinstance(raw, staticmethod)
        )
        lines += _method(name, signature, receiver, f"{{self}}._impl.{name}({call})")
    for handler in HANDLERS:
        spelled = PLATFORM_NAMES[handler]
        if not any(callable(getattr(obj.cls, n, None)) for n in (handler, spelled)):
            continue
        platform, params, args = _HANDLER_SIGNATURES[handler]
        target = handler if callable(getattr(obj.cls, handler, None)) else spelled
        if handler == "alarm" and not _takes_alarm_info(getattr(obj.cls, target)):
            args = ""  # alarm(self), as Cloudflare's Python docs write it
        lines += _method(platform, f"(self, {params})", "self",
                         f"{{self}}._impl.{target}({args})")
    return "\n".join(lines) + "\n"


def _object_source(obj: DiscoveredObject) -> str:
    if isinstance(obj.definition, DurableObjectDefinition):
        return _definition_source(obj, obj.definition)
    return _class_source(obj)


_PRELUDE = '''\
"""The Worker exported by `dosandbox export` from objects/: regenerate it, don't edit it.

Each class below is a Durable Object running your code in src/objects/ through cloudwerk.py
(the definition API on the platform's own Python Workers API); the Worker routes
/<object>/<name>/... to that object's fetch, as the sandbox does.
"""

from urllib.parse import unquote, urlparse

from cloudwerk import Context, default_of, settle
from workers import DurableObject, Response, WorkerEntrypoint

{imports}

# /<object>/<name>/... → the binding of that object.
ROUTES = {routes}


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
    body = "\n\n".join(_object_source(o) for o in objects)
    return _PRELUDE.format(imports=imports, routes=routes) + body + _WORKER.format()


# --- pyproject.toml --------------------------------------------------------------------------

_PYPROJECT = '''\
[project]
name = "{name}"
version = "0.1.0"
description = "Durable Objects exported from a dosandbox notebook project"
requires-python = ">=3.12"
# Runs on the platform's own Python Workers API (src/cloudwerk.py); add packages you import.
dependencies = []

[dependency-groups]
dev = ["workers-py", "workers-runtime-sdk"]
'''

# What earlier exports wrote (a dependency Pyodide cannot install): replaced when found.
_OLD_DEPENDENCY = (
    "# Your definitions use the cloudwerk context (ctx.state, ctx.set_state...) from dosandbox.\n"
    'dependencies = ["dosandbox"]\n'
)
_NEW_DEPENDENCY = (
    "# Runs on the platform's own Python Workers API (src/cloudwerk.py); add packages you "
    "import.\ndependencies = []\n"
)


def _write_pyproject(root: Path, result: ExportResult) -> None:
    pyproject = root / "pyproject.toml"
    if pyproject.exists():
        text = pyproject.read_text(encoding="utf-8")
        _write_if_changed(pyproject, text.replace(_OLD_DEPENDENCY, _NEW_DEPENDENCY), result)
        return
    from .wrangler import project_name

    _write_if_changed(pyproject, _PYPROJECT.format(name=project_name(root)), result)


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
    texts = _exported_modules(found)  # checked before anything is written
    entry = render_entry(found)
    root = Path(out)
    result = ExportResult(out=root)
    _copy_objects(texts, root / "src" / "objects", result)
    _write_if_changed(root / "src" / "cloudwerk.py", adapter_source(), result)
    _write_if_changed(root / "src" / "entry.py", entry, result)
    config = WranglerFile.load(root / "wrangler.jsonc")
    plan = plan_migration(config.data, [(o.binding, o.class_name) for o in found.objects])
    text = render(config, plan, root)
    _write_if_changed(config.path, text, result)
    _write_pyproject(root, result)
    return result
