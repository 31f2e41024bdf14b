"""``dosandbox wrangler``: the Durable Object bindings and append-only migrations wrangler needs.

Platform rules followed here (developers.cloudflare.com/durable-objects/reference/
durable-objects-migrations/ and /workers/wrangler/configuration/):

- wrangler reads ``wrangler.json``, then ``wrangler.jsonc``, then ``wrangler.toml``: we update
  the first that exists, or create ``wrangler.toml``.
- ``durable_objects.bindings`` entries are ``{name, class_name}``; an entry with ``script_name``
  binds a class of *another* Worker and is never touched.
- ``[[migrations]]`` is an ordered history, applied once per tag at deploy: earlier entries are
  kept byte for byte and one new tag is appended only when classes were added
  (``new_sqlite_classes``: SQLite-backed, as every sandbox object is), renamed
  (``renamed_classes`` ``[{from, to}]``, data kept) or removed (``deleted_classes``, which
  deletes every object of the class and its data when deployed).

The TOML file is edited with tomlkit and the JSONC file by splicing text at parsed spans, so
comments and unrelated settings survive. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core.errors import ConfigError
from . import jsonc as _jsonc

__all__ = [
    "CONFIG_NAMES",
    "MigrationPlan",
    "WranglerFile",
    "deployed_classes",
    "find_config",
    "plan_migration",
    "render",
    "unified_diff",
]

# wrangler's own lookup order (workers-sdk: wrangler.json, wrangler.jsonc, wrangler.toml).
CONFIG_NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")


def find_config(root: Path) -> Path | None:
    """The config file wrangler would read in ``root``, or None."""
    for name in CONFIG_NAMES:
        path = root / name
        if path.is_file():
            return path
    return None


@dataclass
class WranglerFile:
    """One wrangler config: its path, text and parsed data (empty when it does not exist)."""

    path: Path
    text: str
    data: dict[str, Any]
    exists: bool

    @property
    def format(self) -> str:
        return "toml" if self.path.suffix == ".toml" else "json"

    @classmethod
    def load(cls, path: Path) -> WranglerFile:
        if not path.exists():
            return cls(path, "", {}, exists=False)
        text = read_config_text(path)
        if path.suffix == ".toml":
            import tomlkit
            from tomlkit.exceptions import ParseError

            try:
                data = tomlkit.parse(text).unwrap()
            except ParseError as exc:
                raise ConfigError(
                    f"{path} is not valid TOML (line {exc.line}, column {exc.col}): "
                    f"{str(exc).split(' at line')[0]}. Fix it (wrangler would refuse it too) and "
                    "run again; nothing was changed.",
                    line=exc.line,
                    column=exc.col,
                ) from None
        else:
            data = _jsonc.parse(text, str(path)).value
        _check_shape(path, data)
        return cls(path, text, data, exists=True)


def read_config_text(path: Path) -> str:
    """The text of a config file, or a ConfigError naming the file and the fix."""
    if path.is_dir():
        raise ConfigError(
            f"{path} is a folder, not a config file. Rename or remove the folder (wrangler "
            "reads a file of that name), or pass --config FILE; nothing was changed."
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x}). "
            "Save it as UTF-8, as wrangler reads it, and run again; nothing was changed.",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{path} cannot be read ({exc.strerror or exc}). Check that it is a file you "
            "may read, or pass --config FILE; nothing was changed."
        ) from None


# A class name wrangler can bind: the name of a JavaScript export.
_JS_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_CLASS_LISTS = ("new_sqlite_classes", "new_classes", "deleted_classes")


def _check_class_name(path: Path, name: Any, where: str) -> None:
    if not isinstance(name, str) or not _JS_IDENTIFIER.fullmatch(name):
        raise ConfigError(
            f"{path}: {where} has class name {name!r}, which is not a JavaScript identifier "
            "(letters, digits, _ and $, not starting with a digit), so no Worker can export "
            "it. Fix the name (e.g. ChatRoom) and run again; nothing was changed."
        )


def _check_shape(path: Path, data: dict[str, Any]) -> None:
    """Refuse shapes we would otherwise misread, naming the key to fix."""
    migrations = data.get("migrations", [])
    if not isinstance(migrations, list) or not all(isinstance(m, dict) for m in migrations):
        raise ConfigError(
            f"{path}: 'migrations' must be a list of tables ([[migrations]] with tag = ...); "
            "fix it and run again, nothing was changed."
        )
    for i, m in enumerate(migrations):
        if not isinstance(m.get("tag"), str):
            raise ConfigError(
                f"{path}: migration #{i + 1} has no string 'tag'; every migration needs a "
                "unique tag (v1, v2, ...). Fix it and run again; nothing was changed."
            )
        for key in _CLASS_LISTS:
            names = m.get(key, [])
            if not isinstance(names, list):
                raise ConfigError(
                    f"{path}: migration {m['tag']!r} has {key} = {names!r}, which is not a "
                    f"list; write {key} = [{names!r}] and run again; nothing was changed."
                )
            for name in names:
                _check_class_name(path, name, f"migration {m['tag']!r} {key}")
        for key in ("renamed_classes", "transferred_classes"):
            pairs = m.get(key, [])
            if not isinstance(pairs, list) or not all(isinstance(r, dict) for r in pairs):
                raise ConfigError(
                    f"{path}: migration {m['tag']!r} {key} must be a list of {{from, to}} "
                    "tables; fix it and run again, nothing was changed."
                )
    do = data.get("durable_objects", {})
    bindings = do.get("bindings", []) if isinstance(do, dict) else None
    if not isinstance(bindings, list) or not all(
        isinstance(b, dict) and isinstance(b.get("name"), str) for b in bindings
    ):
        raise ConfigError(
            f"{path}: 'durable_objects.bindings' must be a list of {{name, class_name}} "
            "tables; fix it and run again, nothing was changed."
        )
    for b in bindings:
        _check_class_name(path, b.get("class_name"), f"binding {b['name']}")


# --- the history ------------------------------------------------------------------------------


def deployed_classes(migrations: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Replay the migrations: class name → ``sqlite`` or ``kv`` for every class they leave."""
    classes: dict[str, str] = {}
    for m in migrations:
        for name in m.get("new_classes", []):
            classes[name] = "kv"
        for name in m.get("new_sqlite_classes", []):
            classes[name] = "sqlite"
        for pair in m.get("renamed_classes", []):
            kind = classes.pop(pair.get("from"), "sqlite")
            classes[pair.get("to")] = kind
        for pair in m.get("transferred_classes", []):
            classes[pair.get("to")] = "sqlite"
        for name in m.get("deleted_classes", []):
            classes.pop(name, None)
    return classes


def _next_tag(migrations: Sequence[dict[str, Any]]) -> str:
    """v1, v2, ... continuing the highest ``v<N>`` tag; never a tag already used."""
    used = {m.get("tag") for m in migrations}
    numbers = [int(m.group(1)) for t in used if (m := re.fullmatch(r"v(\d+)", str(t)))]
    n = max(numbers, default=len(migrations)) + 1
    while f"v{n}" in used:
        n += 1
    return f"v{n}"


def _is_local(binding: dict[str, Any], worker: Any) -> bool:
    script = binding.get("script_name")
    return script is None or script == worker


@dataclass
class MigrationPlan:
    """What ``dosandbox wrangler`` would change: one migration (or none) and the bindings."""

    history: list[dict[str, Any]]
    deployed: dict[str, str]
    tag: str | None = None
    new_classes: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    bindings: list[dict[str, Any]] = field(default_factory=list)  # the whole new list
    bindings_changed: bool = False
    binding_notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def migration(self) -> dict[str, Any] | None:
        """The ``[[migrations]]`` entry to append, in the shape Cloudflare documents."""
        if not (self.new_classes or self.renamed or self.deleted):
            return None
        entry: dict[str, Any] = {"tag": self.tag}
        if self.new_classes:
            entry["new_sqlite_classes"] = list(self.new_classes)
        if self.renamed:
            entry["renamed_classes"] = [{"from": a, "to": b} for a, b in self.renamed]
        if self.deleted:
            entry["deleted_classes"] = list(self.deleted)
        return entry

    @property
    def changed(self) -> bool:
        return self.migration is not None or self.bindings_changed

    def summary(self) -> list[str]:
        """One line per change, for people."""
        lines = []
        m = self.migration
        if m is not None:
            lines.append(f"add migration {self.tag}:")
            for name in self.new_classes:
                lines.append(f"  + new_sqlite_classes {name}")
            for a, b in self.renamed:
                lines.append(f"  ~ renamed_classes {a} -> {b} (its objects and data are kept)")
            for name in self.deleted:
                lines.append(
                    f"  - deleted_classes {name} (WARNING: deploying this deletes every {name} "
                    "object and all its stored data)"
                )
        lines.extend(self.binding_notes)
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "migration": self.migration,
            "bindings": self.bindings,
            "bindings_changed": self.bindings_changed,
            "changes": self.summary(),
            "warnings": self.warnings,
        }


def plan_migration(data: dict[str, Any], objects: Sequence[tuple[str, str]]) -> MigrationPlan:
    """Compare the config with the project's objects (``(binding, class_name)`` pairs)."""
    history = list(data.get("migrations", []))
    deployed = deployed_classes(history)
    plan = MigrationPlan(history=history, deployed=deployed)
    worker = data.get("name")
    do = data.get("durable_objects", {}) or {}
    old_bindings: list[dict[str, Any]] = list(do.get("bindings", []))
    old_local = {b["name"]: b.get("class_name") for b in old_bindings if _is_local(b, worker)}
    foreign = {b["name"]: b for b in old_bindings if not _is_local(b, worker)}
    wanted = dict(objects)
    for binding in wanted:
        if binding in foreign:
            raise ConfigError(
                f"Binding {binding} in the wrangler config points at another Worker "
                f"(script_name = {foreign[binding].get('script_name')!r}), and the project "
                f"defines an object with the same binding. Rename one of them.",
                object_name=binding.lower(),
            )
    ours = set(wanted.values())
    added = [c for c in wanted.values() if c not in deployed]
    removed = [c for c in deployed if c not in ours]
    # A rename: the same binding now names another class, the old one gone, the new one new.
    for binding, new_cls in wanted.items():
        old_cls = old_local.get(binding)
        if old_cls and old_cls != new_cls and old_cls in removed and new_cls in added:
            plan.renamed.append((old_cls, new_cls))
            removed.remove(old_cls)
            added.remove(new_cls)
    plan.new_classes = added
    plan.deleted = removed
    if plan.migration is not None:
        plan.tag = _next_tag(history)
    for cls_name, kind in deployed.items():
        if kind == "kv" and cls_name in ours:
            plan.warnings.append(
                f"{cls_name} was created with new_classes (KV-backed storage). The sandbox runs "
                "every object SQLite-backed; on the platform ctx.sql is not available on a "
                "KV-backed class and the backend of a deployed class cannot be changed."
            )
    # The new bindings list: keep order and extra keys, update class names, drop what is gone.
    new_bindings: list[dict[str, Any]] = []
    for b in old_bindings:
        if not _is_local(b, worker):
            new_bindings.append(b)
        elif b["name"] in wanted:
            if b.get("class_name") != wanted[b["name"]]:
                plan.binding_notes.append(
                    f"~ binding {b['name']}: class_name {b.get('class_name')} -> "
                    f"{wanted[b['name']]}"
                )
                b = {**b, "class_name": wanted[b["name"]]}
            new_bindings.append(b)
        else:
            plan.binding_notes.append(f"- binding {b['name']} ({b.get('class_name')})")
    for binding, cls_name in wanted.items():
        if binding not in old_local:
            plan.binding_notes.append(f"+ binding {binding} -> {cls_name}")
            new_bindings.append({"name": binding, "class_name": cls_name})
    plan.bindings = new_bindings
    plan.bindings_changed = new_bindings != old_bindings
    for env_name, env in (data.get("env") or {}).items():
        if isinstance(env, dict) and "durable_objects" not in env and wanted:
            plan.warnings.append(
                f"[env.{env_name}] has no durable_objects bindings: bindings are not inherited "
                "by environments, so copy them there (within an environment they otherwise "
                "point at <name>-<env>, i.e. other objects)."
            )
    return plan


# --- writing ----------------------------------------------------------------------------------

_HEADER = """\
# Written by `dosandbox wrangler`. Edit freely: later runs keep your settings and comments,
# update [[durable_objects.bindings]] and only ever append to [[migrations]].
"""


def _fresh_toml(project: str) -> str:
    today = dt.date.today().isoformat()
    return (
        _HEADER
        + f'name = "{project}"\n'
        + 'main = "src/entry.py"  # your Python Worker, which exports the classes\n'
        + f'compatibility_date = "{today}"\n'
        + 'compatibility_flags = ["python_workers"]\n'
    )


def _fresh_json(project: str) -> str:
    today = dt.date.today().isoformat()
    return (
        "{\n"
        '\t"$schema": "./node_modules/wrangler/config-schema.json",\n'
        "\t// Written by `dosandbox wrangler`: later runs keep your settings and comments,\n"
        "\t// update durable_objects.bindings and only ever append to migrations.\n"
        f'\t"name": "{project}",\n'
        '\t"main": "src/entry.py",\n'
        f'\t"compatibility_date": "{today}",\n'
        '\t"compatibility_flags": ["python_workers"]\n'
        "}\n"
    )


def project_name(root: Path) -> str:
    """A Worker name from the folder: lowercase letters, digits and dashes."""
    name = re.sub(r"[^a-z0-9-]+", "-", root.resolve().name.lower()).strip("-")
    return name or "my-worker"


def render(file: WranglerFile, plan: MigrationPlan, root: Path) -> str:
    """The config's new text (the old text when nothing changes)."""
    if not plan.changed:
        return file.text
    if file.format == "toml":
        text = file.text if file.exists else _fresh_toml(project_name(root))
        return _render_toml(text, plan)
    text = file.text if file.exists else _fresh_json(project_name(root))
    return _render_json(text, plan, str(file.path))


def _toml_table(values: dict[str, Any]) -> Any:
    import tomlkit

    table = tomlkit.table()
    for key, value in values.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            arr = tomlkit.array()
            for item in value:
                inline = tomlkit.inline_table()
                inline.update(item)
                arr.append(inline)
            table[key] = arr
        else:
            table[key] = value
    return table


def _append_table(aot: Any, values: dict[str, Any]) -> None:
    """Append to an array of tables, keeping comments that trail the last entry after ours."""
    from tomlkit.items import Comment, Whitespace

    table = _toml_table(values)
    if len(aot):
        body = aot[-1].value.body
        trail: list[tuple[Any, Any]] = []
        while body and body[-1][0] is None and isinstance(body[-1][1], (Whitespace, Comment)):
            trail.insert(0, body.pop())
        body.append((None, Whitespace("\n")))
        table.value.body.extend(trail)
    aot.append(table)


def _render_toml(text: str, plan: MigrationPlan) -> str:
    import tomlkit
    from tomlkit.items import AoT

    doc = tomlkit.parse(text)
    if plan.bindings_changed:
        _update_toml_bindings(doc, plan.bindings)
    entry = plan.migration
    if entry is not None:
        migrations = doc.get("migrations")
        if migrations is None:
            if not doc.as_string().endswith("\n\n"):
                doc.add(tomlkit.nl())
            doc.append("migrations", AoT([_toml_table(entry)]))
        elif isinstance(migrations, AoT):
            _append_table(migrations, entry)
        else:  # migrations = [ {...}, ... ] written inline
            inline = tomlkit.inline_table()
            inline.update(entry)
            migrations.append(inline)
    return doc.as_string()


def _update_toml_bindings(doc: Any, wanted: list[dict[str, Any]]) -> None:
    import tomlkit
    from tomlkit.items import AoT

    do = doc.get("durable_objects")
    if do is None:
        if not wanted:
            return
        if not doc.as_string().endswith("\n\n"):
            doc.add(tomlkit.nl())
        table = tomlkit.table(is_super_table=True)
        table.append("bindings", AoT([_toml_table(b) for b in wanted]))
        # Before [[migrations]] when there is one, so the file reads bindings then history.
        if "migrations" in doc:
            migrations = doc["migrations"]
            doc.remove("migrations")
            doc.append("durable_objects", table)
            doc.append("migrations", migrations)
        else:
            doc.append("durable_objects", table)
        return
    bindings = do.get("bindings")
    if bindings is None:
        do.append("bindings", AoT([_toml_table(b) for b in wanted]))
        return
    by_name = {b["name"]: b for b in wanted}
    # Walk backwards so deleting keeps the indices of the entries still to visit.
    for i in range(len(bindings) - 1, -1, -1):
        name = str(bindings[i].get("name"))
        if name not in by_name:
            del bindings[i]
        elif bindings[i].get("class_name") != by_name[name].get("class_name"):
            bindings[i]["class_name"] = by_name[name]["class_name"]
    present = {str(b.get("name")) for b in bindings}
    for b in wanted:
        if b["name"] in present:
            continue
        if isinstance(bindings, AoT):
            _append_table(bindings, b)
        else:
            inline = tomlkit.inline_table()
            inline.update(b)
            bindings.append(inline)
    if len(bindings) == 0:
        del do["bindings"]
        if len(do) == 0:
            del doc["durable_objects"]


def _render_json(text: str, plan: MigrationPlan, path: str) -> str:
    root = _jsonc.parse(text, path)
    unit = _jsonc.indent_unit(text)
    edits: list[tuple[int, int, str]] = []
    if plan.bindings_changed:
        do = root.members.get("durable_objects")
        if do is None:
            value = {"bindings": plan.bindings}
            edits.append(_jsonc.insert_member(text, root, "durable_objects", value, unit, 1))
        elif "bindings" in do.members:
            node = do.members["bindings"]
            edits.append((node.start, node.end, _jsonc.dumps_at(plan.bindings, unit, 2)))
        else:
            edits.append(_jsonc.insert_member(text, do, "bindings", plan.bindings, unit, 2))
    entry = plan.migration
    if entry is not None:
        migrations = root.members.get("migrations")
        if migrations is None:
            edits.append(_jsonc.insert_member(text, root, "migrations", [entry], unit, 1))
        else:
            edits.append(_jsonc.append_item(text, migrations, entry, unit, 2))
    new = _jsonc.apply_edits(text, edits)
    _jsonc.parse(new, path)  # what we write must parse
    return new


def unified_diff(old: str, new: str, path: Path) -> str:
    """The change as a unified diff (for ``--dry-run``)."""
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{path.name}" if old else "/dev/null",
            tofile=f"b/{path.name}",
        )
    )
