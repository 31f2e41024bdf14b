"""The SQLite authorizer: refuse in user SQL what the platform refuses.

Sources: cloudflare/workerd ``src/workerd/util/sqlite.c++`` (``isAuthorized``), the SQLite
storage API docs, and workerd runs recorded in tests/conformance/expected_workerd.json.

SQLite consults the authorizer while it *prepares* a statement, once per action (read a column,
insert into a table, run a PRAGMA, call a function...). Trust never depends on what a statement
says: ``trusted`` is cleared for exactly as long as user SQL is prepared or stepped
(``SqlStorage``), and set otherwise, for the storage's own statements. APSW's statement cache
hands out a prepared statement without asking again, so the two kinds must never share an
entry: the storage's own SQL starts with a comment (:data:`INTERNAL_TAG`, at the front so that
SQLite keeps it out of ``sqlite_master``), and user SQL holding :data:`INTERNAL_MARK` is refused
before it reaches SQLite. Read-only runs (``handle.sql()``) bypass the cache altogether, so the
read-only check sees every statement.

Refused, with the platform's messages where it has one:

* ``BEGIN``/``COMMIT``/``ROLLBACK``/``SAVEPOINT``/``RELEASE`` (use ``transaction()``);
* ``ATTACH``/``DETACH`` and ``VACUUM`` (SQLite runs both through ATTACH; ``VACUUM INTO`` would
  write a file outside the object's database);
* TEMP tables, views, triggers and indexes; virtual tables other than fts5/fts5vocab/rtree;
* PRAGMAs outside the platform's list (workerd's ``sqlite.c++``);
* ``sqlite_*()`` functions, ``load_extension`` and the file-reading helpers;
* any access to a name starting ``_cf_`` (KV lives in ``_cf_KV``), including renaming a table
  to such a name (case-sensitive, as in workerd). workerd accepts ``RENAME TO _cf_x`` and then
  refuses every read, write and DROP of the table; refusing it up front loses nothing;
* ``PRAGMA optimize`` with anything but an integer mask (workerd); ANALYZE, which workerd runs
  on ``_cf_KV`` too, is allowed.

Virtual table modules the platform lacks (``dbstat``, which lists every table with its size)
are dropped from the connection (:data:`KEPT_MODULES`), so SQLite answers workerd's
"no such table: dbstat".
"""

from __future__ import annotations

import re
import secrets

import apsw

__all__ = [
    "INTERNAL_MARK", "INTERNAL_TAG", "KEPT_MODULES", "MARK_MESSAGE", "TRANSACTION_MESSAGE",
    "VACUUM_MESSAGE", "Authorizer", "rename_target",
]

# Put in front of every statement the storage itself runs (see the module docstring). Not a
# secret: user SQL holding INTERNAL_MARK is refused, so no user text equals an internal one.
INTERNAL_MARK = "/*dosandbox:"
INTERNAL_TAG = f"{INTERNAL_MARK}{secrets.token_hex(8)}*/ "
MARK_MESSAGE = (
    f"not authorized: SQLITE_AUTH. The comment {INTERNAL_MARK}...*/ marks the sandbox's own "
    "statements and cannot appear in your SQL; remove it (other comments are fine)."
)

# workerd's exact message (conformance oracle: sql-refuse-begin).
TRANSACTION_MESSAGE = (
    "To execute a transaction, please use the state.storage.transaction() or "
    "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT "
    "statements. The JavaScript API is safer because it will automatically roll back on "
    "exceptions, and because it interacts correctly with Durable Objects' automatic atomic "
    "write coalescing."
)

# SQLite runs VACUUM through ATTACH (outside a transaction) or refuses it inside one; either
# way the user sees this.
VACUUM_MESSAGE = (
    "not authorized: SQLITE_AUTH. VACUUM is refused: the platform manages the database file, "
    "and VACUUM INTO would write a file outside the object."
)

OK = apsw.SQLITE_OK
DENY = apsw.SQLITE_DENY

# Action codes (sqlite3.h, also apsw.SQLITE_*); short names keep the checks below readable.
CREATE_INDEX, CREATE_TABLE, CREATE_TEMP_INDEX, CREATE_TEMP_TABLE = 1, 2, 3, 4
CREATE_TEMP_TRIGGER, CREATE_TEMP_VIEW, CREATE_TRIGGER, CREATE_VIEW = 5, 6, 7, 8
DELETE, DROP_INDEX, DROP_TABLE, DROP_TEMP_INDEX, DROP_TEMP_TABLE = 9, 10, 11, 12, 13
DROP_TEMP_TRIGGER, DROP_TEMP_VIEW, DROP_TRIGGER, DROP_VIEW = 14, 15, 16, 17
INSERT, PRAGMA, READ, SELECT, TRANSACTION, UPDATE = 18, 19, 20, 21, 22, 23
ATTACH, DETACH, ALTER_TABLE, REINDEX, ANALYZE = 24, 25, 26, 27, 28
CREATE_VTABLE, DROP_VTABLE, FUNCTION, SAVEPOINT, RECURSIVE = 29, 30, 31, 32, 33

_TEMP_ACTIONS = frozenset(
    {CREATE_TEMP_INDEX, CREATE_TEMP_TABLE, CREATE_TEMP_TRIGGER, CREATE_TEMP_VIEW,
     DROP_TEMP_INDEX, DROP_TEMP_TABLE, DROP_TEMP_TRIGGER, DROP_TEMP_VIEW}
)
# Actions whose first argument is a table/index/trigger/view name (and for some the second).
_NAMED_ACTIONS = frozenset(
    {CREATE_INDEX, CREATE_TABLE, CREATE_TRIGGER, CREATE_VIEW, DELETE, DROP_INDEX, DROP_TABLE,
     DROP_TRIGGER, DROP_VIEW, INSERT, READ, UPDATE, REINDEX, CREATE_VTABLE, DROP_VTABLE}
)  # not ANALYZE: workerd runs ANALYZE _cf_KV (and PRAGMA optimize analyzes every table)
# Actions that change the schema (a point-in-time recovery image is kept after them).
_SCHEMA_ACTIONS = frozenset(
    {CREATE_INDEX, CREATE_TABLE, CREATE_TRIGGER, CREATE_VIEW, DROP_INDEX, DROP_TABLE,
     DROP_TRIGGER, DROP_VIEW, ALTER_TABLE, CREATE_VTABLE, DROP_VTABLE}
)
_WRITE_ACTIONS = frozenset(
    {CREATE_INDEX, CREATE_TABLE, CREATE_TRIGGER, CREATE_VIEW, DELETE, DROP_INDEX, DROP_TABLE,
     DROP_TRIGGER, DROP_VIEW, INSERT, UPDATE, ALTER_TABLE, REINDEX, ANALYZE, CREATE_VTABLE,
     DROP_VTABLE}
)

_VTABLE_MODULES = frozenset({"fts5", "fts5vocab", "rtree", "rtree_i32"})
# Modules the connection keeps (Connection.drop_modules): those above and the table-valued JSON
# functions. The rest (dbstat, geopoly, fts3, fts4, ...) are not on the platform.
KEPT_MODULES = sorted(_VTABLE_MODULES | {"json_each", "json_tree"})

# PRAGMAs the platform allows (from workerd's sqlite.c++).
_BOOL_PRAGMAS = frozenset(
    {"case_sensitive_like", "foreign_keys", "defer_foreign_keys", "ignore_check_constraints",
     "legacy_alter_table", "recursive_triggers", "reverse_unordered_selects"}
)
_BOOL_VALUES = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0"})
_READ_ONLY_PRAGMAS = frozenset({"data_version", "page_size"})
_NAME_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "index_info", "index_list", "index_xinfo", "foreign_key_list"}
)
_OPTIONAL_ARG_PRAGMAS = frozenset({"table_list", "foreign_key_check", "quick_check", "optimize"})
ALLOWED_PRAGMAS = sorted(
    _BOOL_PRAGMAS | _READ_ONLY_PRAGMAS | _NAME_PRAGMAS | _OPTIONAL_ARG_PRAGMAS
)

_REFUSED_FUNCTIONS = frozenset(
    {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "zipfile"}
)
# SQL functions of the SQLite this sandbox bundles (3.54) that the platform's older SQLite
# lacks (checked against workerd): refused with workerd's "no such function" so that code that
# runs here runs there.
_NEWER_FUNCTIONS = frozenset(
    {"if", "unistr", "unistr_quote", "median", "percentile", "percentile_cont",
     "percentile_disc"}
)
# Tokens of a statement, comments skipped: a quoted name ("", ``, [] or '') or a bare word.
_TOKEN = re.compile(
    r"""\s+|--[^\n]*|/\*.*?(?:\*/|$)|"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|\[([^\]]*)\]|'((?:[^']|'')*)'"""
    r"|([\w$]+)|(.)",
    re.S,
)

_CF_HINT = (
    "Names starting with _cf_ are reserved for the platform (KV lives in _cf_KV); use "
    "ctx.storage.get/put/list for KV data and give your own tables other names."
)


_OWN_TABLES = frozenset({"_cf_kv", "_cf_metadata"})
_DECIMAL = re.compile(r"-?\d+")
_HEX = re.compile(r"-?0x[0-9a-f]{1,16}", re.I)


def _is_reserved(name: str | None) -> bool:
    # Case-sensitive, as in workerd: `CREATE TABLE _CF_Mine` is allowed there (conformance
    # oracle sql-refuse-cf-create). SQLite passes existing tables under their stored name, so
    # `SELECT * FROM _CF_KV` still arrives as `_cf_KV` and is refused.
    # Some actions (count(*)) pass the name as typed, so our own tables are matched in any case.
    return name is not None and (name.startswith("_cf_") or name.lower() in _OWN_TABLES)


def _tokens(statement: str) -> list[tuple[str, bool]]:
    """(text, quoted) for each token of ``statement``, quotes removed, comments skipped."""
    out: list[tuple[str, bool]] = []
    for match in _TOKEN.finditer(statement):
        double, back, bracket, single, word, other = match.groups()
        if word is not None or other is not None:
            out.append((word or other, False))
        elif double is not None:
            out.append((double.replace('""', '"'), True))
        elif back is not None:
            out.append((back.replace("``", "`"), True))
        elif bracket is not None:
            out.append((bracket, True))
        elif single is not None:
            out.append((single.replace("''", "'"), True))
    return out


def rename_target(statement: str) -> str | None:
    """The new name in ``ALTER TABLE [schema.]t RENAME TO new`` (None for other statements).

    SQLite's authorizer is told the table being altered, never the new name, so it is read
    from the statement: by its tokens, so that comments (``RENAME/**/TO``) and quotes count.
    """
    tokens = _tokens(statement)

    def keyword(index: int, word: str) -> bool:
        return index < len(tokens) and not tokens[index][1] and tokens[index][0].upper() == word

    if not (keyword(0, "ALTER") and keyword(1, "TABLE")):
        return None
    i = 5 if keyword(3, ".") else 3  # after [schema.]table
    if keyword(i, "RENAME") and keyword(i + 1, "TO") and i + 2 < len(tokens):
        return tokens[i + 2][0]
    return None  # RENAME [COLUMN] a TO b, ADD/DROP COLUMN: column names are not reserved


def _is_mask(value: str) -> bool:
    """An integer SQLite reads as a 64-bit mask: decimal in range, or hex of ≤ 16 digits."""
    if _DECIMAL.fullmatch(value):
        return -(2**63) <= int(value) < 2**63
    return _HEX.fullmatch(value) is not None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"`":
        return value[1:-1]
    return value


class Authorizer:
    """The callback set as ``apsw.Connection.authorizer``; one per database."""

    __slots__ = ("denial", "read_only", "schema_touched", "statement", "trusted")

    def __init__(self) -> None:
        self.trusted = True
        # A user statement that may change the schema was prepared (SQLite prepares again
        # after any schema change, so a cached DDL statement that runs changes nothing): the
        # point-in-time recovery history then compares the schema version at commit.
        self.schema_touched = False
        self.read_only = False
        self.statement = ""
        # The first refusal while preparing the current user statement: its message (the
        # error mapping reads and clears it).
        self.denial: str | None = None

    def _deny(self, message: str) -> int:
        if self.denial is None:
            self.denial = message
        return DENY

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
    ) -> int:
        if self.trusted:
            return OK
        if action in _SCHEMA_ACTIONS:
            self.schema_touched = True
        elif action in (READ, SELECT):
            if _is_reserved(arg1):
                return self._deny(
                    f"access to {arg1}.{arg2 or '*'} is prohibited: SQLITE_AUTH. {_CF_HINT}"
                )
            return OK
        if action in _TEMP_ACTIONS or (db == "temp" and action in _WRITE_ACTIONS
                                       and arg1 != "sqlite_temp_master"):
            return self._deny(
                "not authorized: SQLITE_AUTH. TEMP tables, views, triggers and indexes are "
                "refused on the platform; create a normal table (and drop it when done)."
            )
        if action in (TRANSACTION, SAVEPOINT):
            return self._deny(TRANSACTION_MESSAGE)
        if action in (ATTACH, DETACH):
            if self.statement.lstrip().upper().startswith("VACUUM"):
                return self._deny(VACUUM_MESSAGE)
            return self._deny(
                "not authorized: SQLITE_AUTH. ATTACH and DETACH are refused: each Durable "
                "Object has exactly one database and cannot open other files."
            )
        if action == PRAGMA:
            return self._pragma((arg1 or "").lower(), arg2)
        if action == FUNCTION:
            return self._function((arg2 or "").lower())
        if self.read_only and action in _WRITE_ACTIONS and arg1 not in (
            "sqlite_master", "sqlite_temp_master"
        ):
            return self._deny(
                "not authorized: SQLITE_AUTH. handle.sql() is read-only; pass write=True to "
                "change the object's data from outside (or do it in a method)."
            )
        if action in _NAMED_ACTIONS and (_is_reserved(arg1) or (
            action in (CREATE_INDEX, DROP_INDEX, CREATE_TRIGGER, DROP_TRIGGER)
            and _is_reserved(arg2)
        )):
            return self._deny(f"not authorized: SQLITE_AUTH. {_CF_HINT}")
        if action == ALTER_TABLE:
            if _is_reserved(arg2):
                return self._deny(f"not authorized: SQLITE_AUTH. {_CF_HINT}")
            target = rename_target(self.statement)
            if _is_reserved(target):
                return self._deny(
                    f"not authorized: SQLITE_AUTH. RENAME TO {target}: names starting with "
                    "_cf_ are reserved for the platform, which accepts such a rename and then "
                    "refuses every read, write and DROP of the table. Rename it to another name."
                )
        if action == CREATE_VTABLE and (arg2 or "").lower() not in _VTABLE_MODULES:
            return self._deny(
                f"not authorized: SQLITE_AUTH. Virtual table module {arg2!r} is refused; the "
                f"platform allows {', '.join(sorted(_VTABLE_MODULES))}."
            )
        return OK

    def _pragma(self, name: str, arg: str | None) -> int:
        refused = (
            f"not authorized: SQLITE_AUTH. PRAGMA {name} is not available on the platform "
            f"(allowed: {', '.join(ALLOWED_PRAGMAS)})."
        )
        if name in _BOOL_PRAGMAS:
            if arg is None:
                return OK
            if self.read_only:
                return self._deny(
                    f"not authorized: SQLITE_AUTH. handle.sql() is read-only; PRAGMA {name} = "
                    "... changes the connection. Pass write=True."
                )
            if _unquote(arg).lower() in _BOOL_VALUES:
                return OK
            return self._deny(
                f"not authorized: SQLITE_AUTH. PRAGMA {name} takes true/false/on/off/yes/no/1/0, "
                f"not {arg}."
            )
        if name in _READ_ONLY_PRAGMAS:
            return OK if arg is None else self._deny(
                f"not authorized: SQLITE_AUTH. PRAGMA {name} is read-only on the platform."
            )
        if name in _NAME_PRAGMAS:
            if arg is None:
                return self._deny(f"not authorized: SQLITE_AUTH. PRAGMA {name}(name) needs a name.")
            return self._deny(f"not authorized: SQLITE_AUTH. {_CF_HINT}") if _is_reserved(
                _unquote(arg)
            ) else OK
        if name == "optimize":
            if arg is None or _is_mask(_unquote(arg)):
                return OK
            return self._deny(
                "not authorized: SQLITE_AUTH. PRAGMA optimize takes an integer mask or nothing "
                f"(PRAGMA optimize, PRAGMA optimize(0x10002)), not {arg}."
            )
        if name in _OPTIONAL_ARG_PRAGMAS:
            if arg is not None and _is_reserved(_unquote(arg)):
                return self._deny(f"not authorized: SQLITE_AUTH. {_CF_HINT}")
            return OK
        return self._deny(refused)

    def _function(self, name: str) -> int:
        if name in _REFUSED_FUNCTIONS or (
            name.startswith("sqlite_")
            # SQLite itself calls sqlite_rename_* while running ALTER TABLE.
            and not self.statement.lstrip().upper().startswith("ALTER")
        ):
            return self._deny(f"not authorized to use function: {name}: SQLITE_ERROR")
        if name in _NEWER_FUNCTIONS:
            return self._deny(
                f"no such function: {name}: SQLITE_ERROR. The platform's SQLite predates "
                f"{name}(); this sandbox's newer SQLite has it, so it is refused here too. "
                + ("Use iif() or CASE." if name == "if" else "Compute it in your code.")
            )
        return OK
