"""``dosandbox objects generate-types``: typed stubs so a type checker checks your RPC calls.

For each object the generated module has a ``Protocol`` (``CounterStub``) whose methods carry
the real parameter and return annotations, returning ``Awaitable[...]`` because a stub call is
awaited (``await c.increment(5)`` or ``sb.run(c.increment(5))``), and typed accessors
(``counter(sb, "user-123") -> CounterStub``). mypy or pyright then flag ``c.incremnt(5)`` and
``c.increment("5")``. It is the Python counterpart of cloudwerk's generated ``.d.ts`` classes.

Annotations are evaluated in the object's module and written back as source with the imports
they need; types defined in an object module are imported from it under ``TYPE_CHECKING`` (so
importing the stubs never runs object code). What cannot be written (a TypeVar, a local class)
becomes ``Any`` and is listed in the header.
"""

from __future__ import annotations

import builtins
import collections.abc
import inspect
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .discovery import DiscoveredObject, MethodInfo

__all__ = ["generate_types"]

_BUILTIN_NAMES = set(dir(builtins))


class _Writer:
    """Turns annotation objects into source text, collecting the imports they need."""

    def __init__(self, objects_pkg: str, import_base: str) -> None:
        self.objects_pkg = objects_pkg  # the private package objects were imported under
        self.import_base = import_base  # how the generated module imports them ("." or "objects")
        self.typing_names: set[str] = {"Any", "Protocol", "cast"}
        self.modules: dict[str, str] = {}  # import path -> alias
        self.fallbacks: list[str] = []

    def module_alias(self, module: str) -> str:
        if module.startswith(self.objects_pkg + "."):
            local = module[len(self.objects_pkg) + 1 :]
            path = f".{local}" if self.import_base == "." else f"{self.import_base}.{local}"
        else:
            path = module
        alias = "_" + path.strip(".").replace(".", "_")
        self.modules[path] = alias
        return alias

    def fallback(self, where: str, annotation: Any) -> str:
        self.fallbacks.append(f"{where}: {annotation!r}")
        return "Any"

    def ann(self, annotation: Any, where: str) -> str:
        if annotation is inspect.Parameter.empty:
            return "Any"
        if annotation is None or annotation is type(None):
            return "None"
        if annotation is typing.Any:
            return "Any"
        if annotation is Ellipsis:
            return "..."
        if isinstance(annotation, str):
            return self.fallback(where, annotation)
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Union or isinstance(annotation, types.UnionType):
            return " | ".join(self.ann(a, where) for a in args)
        if origin is typing.Literal:
            self.typing_names.add("Literal")
            return f"Literal[{', '.join(repr(a) for a in args)}]"
        if origin is typing.Annotated:
            return self.ann(args[0], where)
        if origin is collections.abc.Callable and args:
            params, ret = args[0], args[1]
            head = (
                "..."
                if params is Ellipsis
                else ("[" + ", ".join(self.ann(a, where) for a in params) + "]")
            )
            return f"{self.ann(collections.abc.Callable, where)}[{head}, {self.ann(ret, where)}]"
        if origin is not None:
            base = self.ann(origin, where)
            if base == "Any":
                return "Any"
            if not args:
                return base
            return f"{base}[{', '.join(self.ann(a, where) for a in args)}]"
        if isinstance(annotation, list):  # the parameter list of Callable[[...], R]
            return "[" + ", ".join(self.ann(a, where) for a in annotation) + "]"
        if isinstance(annotation, type):
            module = annotation.__module__
            qual = annotation.__qualname__
            if "<locals>" in qual:
                return self.fallback(where, annotation)
            if module == "builtins":
                return qual
            if module == "typing" and hasattr(typing, qual):
                self.typing_names.add(qual)
                return qual
            return f"{self.module_alias(module)}.{qual}"
        if isinstance(annotation, typing.TypeVar):
            return self.fallback(where, annotation)
        return self.fallback(where, annotation)


def _hints(fn: Any) -> dict[str, Any]:
    """Evaluated annotations of ``fn`` (strings under ``from __future__ import annotations``)."""
    target = getattr(fn, "__wrapped__", fn)
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:
        return {}


def _unwrap_awaitable(annotation: Any) -> Any:
    """A sync method returning ``Awaitable[T]``/``Coroutine[..., T]`` resolves to ``T``."""
    origin = typing.get_origin(annotation)
    if origin in (collections.abc.Awaitable, collections.abc.Coroutine):
        args = typing.get_args(annotation)
        return args[-1] if args else typing.Any
    return annotation


def _method_source(
    writer: _Writer, obj: DiscoveredObject, info: MethodInfo, hints: dict[str, Any]
) -> list[str]:
    where = f"{obj.name}.{info.name}"
    parts = ["self"]
    params = list(info.signature.parameters.values())
    seen_star = False
    for i, p in enumerate(params):
        annotation = hints.get(p.name, p.annotation)
        text = writer.ann(annotation, f"{where}({p.name})")
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}: {text}")
            seen_star = True
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}: {text}")
        else:
            if p.kind is p.KEYWORD_ONLY and not seen_star:
                parts.append("*")
                seen_star = True
            default = " = ..." if p.default is not p.empty else ""
            parts.append(f"{p.name}: {text}{default}")
        nxt = params[i + 1].kind if i + 1 < len(params) else None
        if p.kind is p.POSITIONAL_ONLY and nxt is not p.POSITIONAL_ONLY:
            parts.append("/")
    ret = hints.get("return", info.signature.return_annotation)
    ret_text = writer.ann(_unwrap_awaitable(ret), f"{where}(return)")
    lines = [f"    def {info.name}({', '.join(parts)}) -> Awaitable[{ret_text}]:"]
    if info.doc:
        doc = info.doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
        lines.append(f'        """{doc}"""')
    lines.append("        ...")
    return lines


def _stub_protocol(writer: _Writer, obj: DiscoveredObject) -> list[str]:
    cls = obj.class_name
    lines = [
        f"class {cls}Stub(Protocol):",
        f'    """A stub of {obj.name} (class {cls}, env.{obj.binding}), from {obj.path.name}."""',
        "",
        "    @property",
        "    def id(self) -> DurableObjectId: ...",
        "    @property",
        "    def name(self) -> str | None: ...",
    ]
    if "fetch" in obj.handlers:
        lines.append(
            "    def fetch(self, request: Any = ..., /, **init: Any) -> Awaitable[Any]: ..."
        )
    for info in obj.methods:
        raw = getattr(obj.cls, info.name)
        lines.extend(_method_source(writer, obj, info, _hints(raw)))
    lines += [
        "",
        "",
        f"class {cls}Namespace(Protocol):",
        f'    """sb.durable_objects.{obj.name}: ids and stubs of {cls}."""',
        "",
        # location_hint (and the options dict) as the namespace accepts them: ignored there.
        f"    def get(self, name_or_id: str | DurableObjectId, options: Mapping[str, Any] | "
        f"None = ..., /, *, location_hint: str | None = ...) -> {cls}Stub: ...",
        f"    def get_by_name(self, name: str, options: Mapping[str, Any] | None = ..., /, *, "
        f"location_hint: str | None = ...) -> {cls}Stub: ...",
        f"    def get_by_id(self, object_id: DurableObjectId) -> {cls}Stub: ...",
        "    def id_from_name(self, name: str) -> DurableObjectId: ...",
        "    def id_from_string(self, text: str) -> DurableObjectId: ...",
        "    def new_unique_id(self, *, jurisdiction: str | None = ...) -> DurableObjectId: ...",
        "",
        "",
        f"def {obj.name}(sb: Sandbox, name_or_id: str | DurableObjectId) -> {cls}Stub:",
        f'    """The stub of the {obj.name} object called ``name_or_id`` (a name or an id)."""',
        f"    return cast({cls}Stub, sb.durable_objects.{obj.name}.get(name_or_id))",
        "",
        "",
        f"def {obj.name}_namespace(sb: Sandbox) -> {cls}Namespace:",
        f'    """sb.durable_objects.{obj.name}, typed."""',
        f"    return cast({cls}Namespace, sb.durable_objects.{obj.name})",
    ]
    return lines


def generate_types(
    objects: Sequence[DiscoveredObject],
    *,
    objects_dir: Path,
    out: Path,
    command: str = "dosandbox objects generate-types",
) -> str:
    """The source of the typed-stubs module for ``objects``, to be written at ``out``."""
    objects_pkg = objects[0].module.__name__.rsplit(".", 1)[0] if objects else ""
    inside = out.resolve().parent == objects_dir.resolve()
    writer = _Writer(objects_pkg, "." if inside else objects_dir.name)
    body: list[str] = []
    for obj in objects:
        body += ["", "", *_stub_protocol(writer, obj)]
    names = sorted(
        [f"{o.class_name}Stub" for o in objects]
        + [f"{o.class_name}Namespace" for o in objects]
        + [o.name for o in objects]
        + [f"{o.name}_namespace" for o in objects]
    )
    example = objects[0] if objects else None
    usage = ""
    if example is not None:
        mod = f"{objects_dir.name}.{out.stem}" if inside else out.stem
        first = example.methods[0].name if example.methods else "fetch"
        usage = (
            f"\n    from {mod} import {example.name}\n\n"
            f'    stub = {example.name}(sb, "user-123")\n'
            f"    await stub.{first}(...)\n"
        )
    head = [
        "# ruff: noqa",
        f'"""Typed stubs for the objects in {objects_dir.name}/, generated by `{command}`.',
        "",
        "Do not edit: run the command again after changing an object. Use the accessors and a",
        f"type checker (mypy, pyright) checks every RPC call:\n{usage}",
    ]
    if writer.fallbacks:
        head.append("Annotations written as Any (they cannot be imported here):")
        head += [f"    {f}" for f in writer.fallbacks]
        head.append("")
    head += ['"""', "", "from __future__ import annotations", ""]
    head.append("from collections.abc import Awaitable, Mapping")
    typing_names = set(writer.typing_names)
    if writer.modules:
        typing_names.add("TYPE_CHECKING")
    head.append(f"from typing import {', '.join(sorted(typing_names))}")
    head += ["", "from dosandbox import DurableObjectId, Sandbox"]
    if writer.modules:
        head += ["", "if TYPE_CHECKING:"]
        for path, alias in sorted(writer.modules.items()):
            if path.startswith("."):
                package, _, leaf = path.rpartition(".")
                head.append(f"    from {package or '.'} import {leaf} as {alias}")
            else:
                head.append(f"    import {path} as {alias}")
    head += ["", "__all__ = ["]
    head += [f'    "{n}",' for n in names]
    head.append("]")
    return "\n".join(head + body) + "\n"
