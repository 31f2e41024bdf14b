"""Projects of objects: one module per object directly in ``objects/``.

The cloudwerk convention, in Python: ``objects/chat_room.py`` defines the object named
``chat_room``, exported as class ``ChatRoom`` and bound as ``env.CHAT_ROOM``. Tests
(``test_*.py``, ``*_test.py``, ``conftest.py``), private modules (``_shared.py``) and
``__init__.py`` are skipped. A module's object is its ``default`` (a definition or a
``DurableObject`` subclass), or else the one definition or subclass defined in it.

``discover(path)`` imports every module and returns what it found *and* what is wrong, so one
broken file never hides the others; each problem names the file and the fix. Modules are
imported under a private package name (``_dosandbox_objects_<hash>``), never under ``objects``,
so they cannot clash with the user's own modules in ``sys.modules``; relative imports between
them (``from ._shared import helper``) work.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import keyword
import sys
import traceback
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core.errors import ConfigError, DurableObjectError
from .._core.naming import binding_name, class_name_for, is_object_name, suggest_name
from .._runtime.definition import DurableObjectDefinition
from .._runtime.object import DurableObject, handlers_of, rpc_methods

__all__ = [
    "DiscoveredObject",
    "Discovery",
    "MethodInfo",
    "Problem",
    "discover",
    "method_infos",
]


@dataclass(frozen=True)
class Problem:
    """Something wrong with one file of the project, and how to fix it."""

    path: Path
    kind: str  # invalid_name, duplicate_name, no_definition, several_definitions,
    # syntax_error, import_error, invalid_definition, missing_directory
    message: str
    fix: str
    line: int | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}\n  fix: {self.fix}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "line": self.line,
            "kind": self.kind,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class MethodInfo:
    """One RPC method as a caller sees it: the signature without ``ctx``/``self``."""

    name: str
    signature: inspect.Signature
    doc: str
    is_async: bool

    def __str__(self) -> str:
        return f"{self.name}{format_signature(self.signature)}"


@dataclass
class DiscoveredObject:
    """One object of the project: its names, where it came from and what it can do."""

    name: str
    class_name: str
    binding: str
    path: Path
    module: types.ModuleType
    definition: DurableObjectDefinition | type[DurableObject]
    cls: type[DurableObject]

    @property
    def style(self) -> str:
        """``definition`` (define_durable_object) or ``class`` (a DurableObject subclass)."""
        return "definition" if isinstance(self.definition, DurableObjectDefinition) else "class"

    @property
    def handlers(self) -> list[str]:
        return handlers_of(self.cls)

    @property
    def methods(self) -> list[MethodInfo]:
        return method_infos(self.cls)

    @property
    def storage(self) -> str:
        # Every sandbox object is SQLite-backed (KV in a reserved table), as new_sqlite_classes.
        return "sqlite"


@dataclass
class Discovery:
    """What ``discover`` found: the good objects and every problem, file by file."""

    directory: Path
    objects: list[DiscoveredObject] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def get(self, key: str) -> DiscoveredObject | None:
        """An object by name (``chat_room``), class (``ChatRoom``) or binding (``CHAT_ROOM``)."""
        for obj in self.objects:
            if key in (obj.name, obj.class_name, obj.binding):
                return obj
        return None

    def report(self) -> str:
        """Every problem, one block each, with the fix."""
        head = f"{len(self.problems)} problem(s) in {self.directory}:"
        return "\n".join([head, *(str(p) for p in self.problems)])

    def raise_for_problems(self) -> None:
        if self.problems:
            raise ConfigError(self.report(), problems=list(self.problems))


# --- introspection ---------------------------------------------------------------------------


def _raw_attr(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return None


def method_infos(cls: type) -> list[MethodInfo]:
    """The RPC methods of ``cls`` with the signatures a caller uses (no ctx, no self)."""
    infos = []
    for name, doc in rpc_methods(cls).items():
        raw = _raw_attr(cls, name)
        fn: Callable[..., Any]
        drop_first = True
        if isinstance(raw, staticmethod):
            fn, drop_first = raw.__func__, False
        elif isinstance(raw, classmethod):
            fn = raw.__func__
        else:
            fn = raw
        # Definitions keep the user's function (ctx first) in __wrapped__; classes have self.
        user_fn = getattr(fn, "__wrapped__", fn)
        try:
            sig = inspect.signature(user_fn, follow_wrapped=False)
        except (TypeError, ValueError):  # pragma: no cover - builtins
            sig = inspect.Signature([inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)])
        params = list(sig.parameters.values())
        if (
            drop_first
            and params
            and params[0].kind
            in (
                inspect.Parameter.POSITIONAL_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            )
        ):
            params = params[1:]
        sig = sig.replace(parameters=params)
        infos.append(
            MethodInfo(
                name=name,
                signature=sig,
                doc=doc,
                is_async=inspect.iscoroutinefunction(user_fn),
            )
        )
    return infos


def format_annotation(annotation: Any) -> str:
    """A readable annotation: ``int``, ``list[Message]``, a string kept as written."""
    if isinstance(annotation, str):
        return annotation
    if annotation is type(None) or annotation is None:
        return "None"
    if annotation is Ellipsis:
        return "..."
    if isinstance(annotation, list):  # Callable's parameter list
        return "[" + ", ".join(format_annotation(a) for a in annotation) + "]"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        return " | ".join(format_annotation(a) for a in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None and args:
        return f"{format_annotation(origin)}[{', '.join(format_annotation(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


def format_signature(sig: inspect.Signature) -> str:
    """``(amount: int = 1) -> int`` with annotations kept as written."""
    parts: list[str] = []
    seen_kw_only = False
    params = list(sig.parameters.values())
    for i, p in enumerate(params):
        if p.kind is p.KEYWORD_ONLY and not seen_kw_only:
            parts.append("*")
            seen_kw_only = True
        if p.kind is p.VAR_POSITIONAL:
            seen_kw_only = True
        text = p.name
        if p.kind is p.VAR_POSITIONAL:
            text = "*" + text
        elif p.kind is p.VAR_KEYWORD:
            text = "**" + text
        if p.annotation is not p.empty:
            text += f": {format_annotation(p.annotation)}"
        if p.default is not p.empty:
            text += (" = " if p.annotation is not p.empty else "=") + repr(p.default)
        parts.append(text)
        next_kind = params[i + 1].kind if i + 1 < len(params) else None
        if p.kind is p.POSITIONAL_ONLY and next_kind is not p.POSITIONAL_ONLY:
            parts.append("/")
    out = f"({', '.join(parts)})"
    if sig.return_annotation is not sig.empty:
        out += f" -> {format_annotation(sig.return_annotation)}"
    return out


# --- finding files ---------------------------------------------------------------------------


def _is_skipped(path: Path) -> bool:
    stem = path.stem if path.is_file() else path.name
    return (
        stem.startswith("_")
        or stem.startswith("test_")
        or stem.endswith("_test")
        or stem == "conftest"
        or stem.startswith(".")
    )


def _candidates(directory: Path) -> tuple[list[tuple[str, Path, Path]], list[Path]]:
    """(stem, what to report, file to import) for each object module; and the skipped files."""
    found: list[tuple[str, Path, Path]] = []
    skipped: list[Path] = []
    for entry in sorted(directory.iterdir()):
        if entry.is_file() and entry.suffix == ".py":
            if _is_skipped(entry):
                skipped.append(entry)
            else:
                found.append((entry.stem, entry, entry))
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            # A package counts as one object module, like objects/chat_room/__init__.py.
            if _is_skipped(entry):
                skipped.append(entry)
            else:
                found.append((entry.name, entry, entry / "__init__.py"))
    return found, skipped


def _name_problem(stem: str, path: Path) -> Problem | None:
    if is_object_name(stem):
        return None
    good = suggest_name(stem)
    suffix = path.suffix if path.is_file() else ""
    if keyword.iskeyword(stem):
        why = f"{stem!r} is a Python keyword, so sb.durable_objects.{stem} could not be written"
    else:
        why = (
            f"{stem!r} is not a valid object name: names are lowercase words joined by single "
            "underscores (chat_room), because the name becomes sb.durable_objects.<name>, the "
            "class ChatRoom and the binding CHAT_ROOM"
        )
    return Problem(path, "invalid_name", why + ".", f"rename it to {good}{suffix}")


# --- importing -------------------------------------------------------------------------------


def _package_name(directory: Path) -> str:
    digest = hashlib.sha1(str(directory).encode()).hexdigest()[:10]
    return f"_dosandbox_objects_{digest}"


def _fresh_package(directory: Path) -> str:
    """A private package whose ``__path__`` is the objects folder (re-imported each time)."""
    pkg = _package_name(directory)
    for mod in [m for m in sys.modules if m == pkg or m.startswith(pkg + ".")]:
        del sys.modules[mod]
    init = directory / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            pkg, init, submodule_search_locations=[str(directory)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[pkg] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            # Reported by discover(); the objects still load from a bare package.
            module = types.ModuleType(pkg)
            module.__path__ = [str(directory)]
            module.__dosandbox_init_error__ = exc  # type: ignore[attr-defined]
            sys.modules[pkg] = module
    else:
        module = types.ModuleType(pkg, f"dosandbox objects from {directory}")
        module.__path__ = [str(directory)]
        module.__file__ = None
        sys.modules[pkg] = module
    return pkg


def _error_line(exc: BaseException, directory: Path) -> tuple[Path | None, int | None]:
    """The deepest frame of the traceback inside the objects folder."""
    where: tuple[Path | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            p = Path(frame.filename).resolve()
        except (OSError, ValueError):  # pragma: no cover - odd filenames
            continue
        if directory in p.parents:
            where = (p, frame.lineno)
    return where


def _import(pkg: str, stem: str, report: Path, file: Path, directory: Path) -> Any:
    """The module, or a Problem saying why it would not import."""
    modname = f"{pkg}.{stem}"
    is_package = file.name == "__init__.py"
    spec = importlib.util.spec_from_file_location(
        modname, file, submodule_search_locations=[str(file.parent)] if is_package else None
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[modname]
        line_text = (exc.text or "").strip()
        bad = Path(exc.filename).resolve() if exc.filename else file
        shown = f" in {bad.name}" if bad != file else ""
        return Problem(
            report,
            "syntax_error",
            f"SyntaxError{shown}: {exc.msg}" + (f": {line_text}" if line_text else ""),
            f"fix the syntax at line {exc.lineno} of {bad}; the other objects still load",
            line=exc.lineno,
        )
    except KeyboardInterrupt:
        del sys.modules[modname]
        raise
    except BaseException as exc:  # SystemExit too: a module calling sys.exit() is a problem
        del sys.modules[modname]
        raised_in, line = _error_line(exc, directory)
        detail = str(exc) if isinstance(exc, DurableObjectError) else f"{type(exc).__name__}: {exc}"
        at = f" (raised at {raised_in}:{line})" if raised_in not in (None, file) else ""
        if isinstance(exc, ModuleNotFoundError):
            fix = (
                f"install {exc.name!r} or fix the import; helpers shared between objects go in "
                "a private module such as objects/_shared.py (import it with "
                "'from ._shared import ...')"
            )
        elif isinstance(exc, DurableObjectError):
            fix = "fix the definition as the message says"
        else:
            fix = "fix the error; importing the module must not fail"
        return Problem(
            report,
            "import_error",
            f"importing it raised {detail}{at}",
            fix,
            line=line if raised_in == file else None,
        )
    return module


# --- finding the definition in a module -------------------------------------------------------


def _pick(module: types.ModuleType, name: str, report: Path) -> Any:
    """The module's definition or class, or a Problem."""
    expected = class_name_for(name)
    if hasattr(module, "default"):
        value = module.default
        if isinstance(value, DurableObjectDefinition) or (
            isinstance(value, type) and issubclass(value, DurableObject)
        ):
            return value
        return Problem(
            report,
            "no_definition",
            f"'default' is {type(value).__name__} {value!r:.60}, not a Durable Object.",
            "set default = define_durable_object(...) or default = a DurableObject subclass",
        )
    found: dict[int, tuple[str, Any]] = {}
    for attr, value in vars(module).items():
        if attr.startswith("_"):
            continue
        if isinstance(value, DurableObjectDefinition) or (
            isinstance(value, type)
            and issubclass(value, DurableObject)
            and value is not DurableObject
            and value.__module__ == module.__name__  # defined here, not imported
        ):
            found.setdefault(id(value), (attr, value))
    candidates = list(found.values())
    classes = [v for _, v in candidates if isinstance(v, type)]
    # A base class subclassed by another candidate here is not the object itself.
    candidates = [
        (a, v)
        for a, v in candidates
        if not (isinstance(v, type) and any(c is not v and issubclass(c, v) for c in classes))
    ]
    if len(candidates) == 1:
        return candidates[0][1]
    if not candidates:
        return Problem(
            report,
            "no_definition",
            "defines no Durable Object.",
            f"add 'default = define_durable_object(methods={{...}})' or "
            f"'class {expected}(DurableObject): ...' to it, or rename it with a leading '_' "
            "if it is a helper module",
        )
    names = ", ".join(a for a, _ in candidates)
    return Problem(
        report,
        "several_definitions",
        f"defines {len(candidates)} Durable Objects ({names}); one module is one object.",
        f"name the one to use 'default = ...', or move the others to their own files in "
        f"{report.parent}",
    )


def _build(
    name: str, value: Any, report: Path, module: types.ModuleType
) -> DiscoveredObject | Problem:
    try:
        if isinstance(value, DurableObjectDefinition):
            value.validate(name)
            class_name = class_name_for(name)
            cls = value.build_class(class_name)
        else:
            from .._runtime.object import validate_class

            validate_class(value, name)
            cls = value
            class_name = value.__name__
    except DurableObjectError as exc:
        return Problem(report, "invalid_definition", exc.message, "fix the definition as it says")
    return DiscoveredObject(
        name=name,
        class_name=class_name,
        binding=binding_name(name),
        path=report,
        module=module,
        definition=value,
        cls=cls,
    )


def discover(path: str | Path = "objects") -> Discovery:
    """Import every object module in ``path``; return the objects and the problems found.

    Raises :class:`~dosandbox.errors.ConfigError` only when ``path`` is not a folder.
    """
    directory = Path(path).resolve()
    if not directory.is_dir():
        what = "is a file, not a folder" if directory.exists() else "does not exist"
        raise ConfigError(
            f"The objects folder {Path(path)} {what} (looked in {directory}). A project keeps "
            "one module per Durable Object in objects/ (objects/counter.py → 'counter'); "
            "create it, or point at yours with --dir / from_directory(path)."
        )
    result = Discovery(directory)
    candidates, result.skipped = _candidates(directory)
    by_name: dict[str, list[tuple[str, Path, Path]]] = {}
    for stem, report, file in candidates:
        problem = _name_problem(stem, report)
        if problem is not None:
            result.problems.append(problem)
        else:
            by_name.setdefault(stem, []).append((stem, report, file))
    valid: list[tuple[str, Path, Path]] = []
    for stem, group in by_name.items():
        if len(group) == 1:
            valid.append(group[0])
            continue
        # Ambiguous: importing either would depend on listing order, so neither is loaded.
        files = " and ".join(r.name for _, r, _ in group)
        result.problems.append(
            Problem(
                group[0][1],
                "duplicate_name",
                f"{files} both give the object name {stem!r}, so neither was loaded.",
                f"keep one of them (a module {stem}.py or a package {stem}/), or rename the other",
            )
        )
    pkg = _fresh_package(directory)
    init_error = getattr(sys.modules[pkg], "__dosandbox_init_error__", None)
    if init_error is not None:
        result.problems.append(
            Problem(
                directory / "__init__.py",
                "import_error",
                f"importing it raised {type(init_error).__name__}: {init_error}",
                "fix it, or delete it: objects/ needs no __init__.py",
            )
        )
    built: list[DiscoveredObject] = []
    for stem, report, file in valid:
        module = _import(pkg, stem, report, file, directory)
        if isinstance(module, Problem):
            result.problems.append(module)
            continue
        picked = _pick(module, stem, report)
        if isinstance(picked, Problem):
            result.problems.append(picked)
            continue
        # The cloudwerk API's name= overrides the file's name.
        named = picked.name if isinstance(picked, DurableObjectDefinition) else None
        obj = _build(named or stem, picked, report, module)
        if isinstance(obj, Problem):
            result.problems.append(obj)
        else:
            built.append(obj)
    # Two objects exporting one class name cannot live in one Worker (class_name is the export).
    by_class: dict[str, DiscoveredObject] = {}
    for obj in built:
        first = by_class.get(obj.class_name)
        if first is not None:
            result.problems.append(
                Problem(
                    obj.path,
                    "duplicate_name",
                    f"{first.path.name} and {obj.path.name} both export class "
                    f"{obj.class_name!r}; a Worker exports each class once and wrangler binds "
                    "by class name.",
                    f"rename {obj.path.name} (or its class) so the class names differ",
                )
            )
            continue
        by_class[obj.class_name] = obj
        result.objects.append(obj)
    result.problems.sort(key=lambda p: str(p.path))
    return result
