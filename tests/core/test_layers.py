"""The package's imports only point down: _core < _storage < _runtime < _notebook, _project < faces.

Every import is read from the source (top-level, inside functions, under ``TYPE_CHECKING``), so
an annotation-only or lazy import that points up fails here with its file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import dosandbox

PACKAGE_DIR = Path(dosandbox.__file__).parent
PACKAGE = "dosandbox"

# Rank of each layer; a module may import its own rank or lower. _notebook and _project share a
# rank but may not import each other (they are siblings, not a stack).
LAYER_RANK = {"_core": 0, "_storage": 1, "_runtime": 2, "_notebook": 3, "_project": 3}
FACE_RANK = 4
SUBPACKAGES = tuple(LAYER_RANK)


def module_name(path: Path) -> str:
    """``dosandbox/_core/clock.py`` → ``dosandbox._core.clock``."""
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The layer a module of the package lives in: a subpackage name or ``faces``."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYER_RANK:
        return parts[1]
    return "faces"


def rank_of(layer: str) -> int:
    return LAYER_RANK.get(layer, FACE_RANK)


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module name an ``from X import ...`` names."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def package_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import of the package in one file, wherever it sits."""
    importer = module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            target = resolve(importer, is_package, node)
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                # "from . import errors" names a submodule: count each imported name as one;
                # "from .. import Handle" below the top takes a name from the public package.
                if node.module is None and target == PACKAGE and importer != PACKAGE:
                    yield node.lineno, PACKAGE
                elif node.module is None:
                    for alias in node.names:
                        yield node.lineno, f"{target}.{alias.name}"
                else:
                    yield node.lineno, target


def source_files() -> list[Path]:
    return sorted(PACKAGE_DIR.rglob("*.py"))


def test_every_import_points_down_or_sideways():
    """No module imports a layer above its own; _notebook and _project never import each other."""
    upward: list[str] = []
    for path in source_files():
        importer = module_name(path)
        own = layer_of(importer)
        for line, target in package_imports(path):
            other = layer_of(target)
            if target == PACKAGE and importer != PACKAGE:
                where = path.relative_to(PACKAGE_DIR.parent)
                upward.append(
                    f"{where}:{line}: imports the public package itself; import the name from "
                    "the module that defines it"
                )
                continue
            sideways = own != other and rank_of(own) == rank_of(other) and own in LAYER_RANK
            if rank_of(other) > rank_of(own) or sideways:
                where = path.relative_to(PACKAGE_DIR.parent)
                upward.append(f"{where}:{line}: {own} imports {target} ({other})")
    assert not upward, "imports pointing up:\n" + "\n".join(upward)


def test_no_module_imports_itself_in_a_circle():
    """The module import graph, counting every import, has no cycle."""
    graph: dict[str, set[str]] = {}
    known = {module_name(p) for p in source_files()}
    for path in source_files():
        importer = module_name(path)
        edges = graph.setdefault(importer, set())
        for _line, target in package_imports(path):
            # "from .x import name" may name a module or an attribute of one; keep modules only.
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            # A package's __init__ importing its own children is not a loop through the child.
            if target != importer and not target.startswith(importer + "."):
                edges.add(target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # Importing a child module loads its package __init__ first, so a parent is not an
            # edge; the public package itself is: code inside it must not import its faces back.
            if node.startswith(nxt + ".") and nxt != PACKAGE:
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


def test_each_layer_says_what_it_holds_and_may_import():
    """Every subpackage's __init__ docstring names what it holds and which layers it may import."""
    for layer in SUBPACKAGES:
        init = PACKAGE_DIR / layer / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc.splitlines()) >= 2, f"{init}: docstring should say what it holds and imports"
        assert "import" in doc.lower(), f"{init}: docstring should say what it may import"
