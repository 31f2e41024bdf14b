"""Normalise a workerd trace and a dosandbox trace to one form, compare them, explain the diff.

Both interpreters render every result in a tagged JSON form: the JS side with JS type names
(``undefined``, ``number``, ``bigint``, ``object``, ``map``, ``bytes``, ``date``...), the Python
side with Python type names (``None``, ``int``, ``float``, ``dict``, ``bytes``, ``datetime``...).
:func:`normalize_value` maps both onto one vocabulary; the rules are listed in ``README.md``:

* ``undefined`` and ``null`` → ``null`` (Python has only ``None``);
* ``number`` / ``float`` → ``number``; a Python ``int`` → ``number`` when it fits a float64
  exactly (|n| ≤ 2**53), else ``bigint``; JS ``bigint`` → ``bigint``;
* ``string``/``str``, ``boolean``/``bool``, ``bytes`` (ArrayBuffer, any typed array / bytes,
  bytearray), ``date``/``datetime`` (epoch ms), ``array``/``list``/``tuple`` → one name each;
* ``object`` (string keys) and ``map`` / ``dict`` → ``dict``: an ordered list of
  ``[key, value]`` pairs, key order kept (order is part of what is compared);
* ``set`` → ``set`` with its items sorted (a Python set has no order);
* errors → ``{"error": CODE, "message": ..., "flags": [...]}`` where CODE is the dosandbox error
  code (JS errors get theirs from :data:`JS_ERROR_RULES`; one with ``durableObjectReset`` is
  ``OBJECT_RESET``) and ``flags`` the platform's error flags that are true (``remote``,
  ``retryable``, ``overloaded``, ``durableObjectReset``), compared. Messages are shown in diffs
  but not compared.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MAX_SAFE_INTEGER = 2**53

# (op-name regex, JS error class regex, message regex) → dosandbox code; first match wins.
JS_ERROR_RULES: list[tuple[str, str, str, str]] = [
    (r".*", r".*", r"^scenario-throw: ", "USER_ERROR"),
    (r"^ws\.", r".*", r"cannot be larger than|cannot have more than|max tag length",
     "WEBSOCKET_LIMIT"),
    (r"^ws\.", r".*", r".*", "WEBSOCKET_ERROR"),
    (r"^id\.", r".*", r"Invalid Durable Object ID|not valid for this namespace", "INVALID_ID"),
    (r".*", r".*", r"does not implement the method|is not a function", "METHOD_NOT_FOUND"),
    (r".*", r".*", r"RPC stub used after being disposed", "STUB_DISPOSED"),
    (r".*", r".*", r"execution context which hosts this callback is no longer running",
     "STUB_OWNER_GONE"),
    (r".*", r".*", r"are limited to 32MiB", "DATA_CLONE_ERROR"),
    (r".*", r".*", r"Jurisdiction restrictions are not implemented", "VALIDATION_ERROR"),
    (r"^ctx\.setEventTimeout$", r".*", r"should not exceed|negative", "WEBSOCKET_LIMIT"),
    (r"^ctx\.setEventTimeout$", r".*", r".*", "WEBSOCKET_ERROR"),
    (r"^(http\.|stub\.fetch$)", r"^(TypeError|RangeError)$", r".*", "HTTP_ERROR"),
    (r".*", r".*", r"not authorized|SQLITE_AUTH|is prohibited|To execute a transaction",
     "SQL_NOT_AUTHORIZED"),
    (r".*", r".*", r"cannot be larger than|Maximum number of key|SQLITE_TOOBIG", "STORAGE_LIMIT"),
    (r".*", r".*", r"within a transaction|rolled back transaction|already committed",
     "TRANSACTION_ERROR"),
    (r".*", r"^DataCloneError$", r".*", "DATA_CLONE_ERROR"),
    (r"^alarm\.", r"^(TypeError|RangeError)$", r".*", "ALARM_ERROR"),
    (r"^(sql\.exec|transactionSync)$", r".*", r".*", "SQL_ERROR"),
    (r".*", r"^(TypeError|RangeError)$", r".*", "VALIDATION_ERROR"),
]

# What the callee raises in Python for a JS error class (python_runner.py), and back.
JS_TO_PY_ERROR = {"TypeError": "TypeError", "RangeError": "ValueError", "Error": "RuntimeError"}
PY_TO_JS_ERROR = {v: k for k, v in JS_TO_PY_ERROR.items()}


def js_error_code(op: str, cls: str, message: str) -> str:
    """The dosandbox error code that corresponds to a JS error seen in operation ``op``."""
    for op_re, cls_re, msg_re, code in JS_ERROR_RULES:
        if re.search(op_re, op) and re.search(cls_re, cls) and re.search(msg_re, message):
            return code
    return f"UNMAPPED:{cls}"


# ------------------------------------------------------------------ values


def _number(v: Any) -> Any:
    if isinstance(v, str):  # NaN, Infinity, -Infinity, -0 are rendered as strings
        return v
    return float(v)


def _sort_key(v: Any) -> str:
    return json.dumps(v, sort_keys=True, ensure_ascii=True)


def normalize_value(v: Any, side: str = "python") -> Any:
    """One tagged value (either side's vocabulary) → the shared vocabulary."""
    if not isinstance(v, dict) or "type" not in v:
        return v
    t = v["type"]
    val = v.get("value")
    if t in ("undefined", "null", "None"):
        return {"t": "null"}
    if t in ("boolean", "bool"):
        return {"t": "bool", "v": val}
    if t in ("number", "float"):
        return {"t": "number", "v": _number(val)}
    if t == "int":
        if abs(val) <= MAX_SAFE_INTEGER:
            return {"t": "number", "v": float(val)}
        return {"t": "bigint", "v": str(val)}
    if t == "bigint":
        return {"t": "bigint", "v": str(val)}
    if t in ("string", "str"):
        return {"t": "str", "v": val}
    if t == "bytes":
        return {"t": "bytes", "v": val}
    if t in ("date", "datetime"):
        return {"t": "date", "v": _number(val)}
    if t in ("array", "list", "tuple"):
        return {"t": "list", "v": [normalize_value(x, side) for x in val]}
    if t == "object":
        return {"t": "dict", "v": [[{"t": "str", "v": k}, normalize_value(x, side)]
                                   for k, x in val]}
    if t in ("map", "dict"):
        return {"t": "dict", "v": [[normalize_value(k, side), normalize_value(x, side)]
                                   for k, x in val]}
    if t == "set":
        return {"t": "set", "v": sorted((normalize_value(x, side) for x in val), key=_sort_key)}
    if t in ("sql", "rpc", "id", "id-roundtrip", "id-shape"):
        return {k: (x if k == "type" else normalize_value(x, side)) for k, x in v.items()}
    if t == "results":
        return {"type": "results", "value": [normalize_result(x, "", side) for x in val]}
    if t == "alarm-log":
        return {"type": "alarm-log", "value": [
            {"retryCount": e.get("retryCount"),
             "results": normalize_trace(e.get("results", []), side)}
            for e in val]}
    if t == "ws-messages":
        return {"type": t, "value": [normalize_value(x, side) for x in val]}
    if t == "no-await":
        return {"type": t, "call": v["call"], "at": v["at"],
                "outcome": normalize_result(v["outcome"], v["call"], side),
                "then": normalize_trace(v["then"], side)}
    if t == "kv-iterator":
        return {"type": t, "array": v["array"], "entries": normalize_value(v["entries"], side)}
    if t == "cursor-steps":
        return {"type": t, "steps": [normalize_value(x, side) for x in v["steps"]],
                "rest": normalize_value(v["rest"], side)}
    if t == "http":
        return {k: (normalize_value(x, side) if k == "body" else x) for k, x in v.items()}
    if t == "jurisdiction":
        return {"type": t, "id": normalize_value(v["id"], side)}
    if t == "ws-log":
        return {"type": t, "value": [
            {k: (normalize_value(x, side) if k == "data" else x) for k, x in e.items()}
            for e in val]}
    return v  # "time", "ws-open", "ws-list", "ws-close" and anything already neutral


def normalize_result(op_result: Any, op: str = "", side: str = "python") -> Any:
    """One operation's result → shared vocabulary (errors mapped to codes)."""
    if isinstance(op_result, dict) and "error" in op_result:
        message = str(op_result.get("message", ""))
        code = op_result["error"]
        flags = sorted(op_result.get("flags", []))
        if op_result.get("remote"):
            code = f"remote:{code}"
        elif side == "js":
            reset = "durableObjectReset" in flags
            code = "OBJECT_RESET" if reset else js_error_code(op, code, message)
        out: dict[str, Any] = {"error": code, "message": message}
        if flags:
            out["flags"] = flags
        return out
    return normalize_value(op_result, side)


def normalize_trace(trace: list[dict[str, Any]], side: str) -> list[dict[str, Any]]:
    """A whole scenario trace (``[{"op", "result"}]``) → shared vocabulary."""
    return [{"op": e["op"], "result": normalize_result(e["result"], e["op"], side)} for e in trace]


# ------------------------------------------------------------------ comparison


def _strip_messages(v: Any) -> Any:
    if isinstance(v, dict):
        if "error" in v:
            return {k: x for k, x in v.items() if k in ("error", "flags")}
        return {k: _strip_messages(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_strip_messages(x) for x in v]
    return v


def compact(v: Any) -> str:
    """A short human form of a normalised value, for diffs."""
    if isinstance(v, dict):
        if "error" in v:
            flags = "".join(f"[{f}]" for f in v.get("flags", []))
            return f"!{v['error']}{flags}({v.get('message', '')[:120]})"
        t = v.get("t")
        if t == "null":
            return "null"
        if t in ("bool", "number"):
            val = v["v"]
            if isinstance(val, float) and val.is_integer():
                return str(int(val))
            return json.dumps(val)
        if t == "bigint":
            return f"{v['v']}n"
        if t == "str":
            s = json.dumps(v["v"], ensure_ascii=True)
            return s if len(s) <= 60 else s[:45] + f'..."<{len(v["v"])} chars>'
        if t == "bytes":
            return f"b'{v['v']}'"
        if t == "date":
            return f"Date({compact({'t': 'number', 'v': v['v']})})"
        if t == "list":
            return "[" + ", ".join(compact(x) for x in v["v"]) + "]"
        if t == "dict":
            return "{" + ", ".join(f"{compact(k)}: {compact(x)}" for k, x in v["v"]) + "}"
        if t == "set":
            return "set(" + ", ".join(compact(x) for x in v["v"]) + ")"
        if v.get("type") == "time":
            return f"time:{v['value']}"
        if v.get("type") in ("results", "alarm-log"):
            return f"{v['type']}[" + ", ".join(compact(x) for x in v["value"]) + "]"
        if v.get("type"):
            inner = ", ".join(f"{k}={compact(x)}" for k, x in v.items() if k != "type")
            return f"{v['type']}({inner})"
        return "{" + ", ".join(f"{k}={compact(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(compact(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=True)


def _window(text: str, at: int, width: int = 160) -> tuple[str, int]:
    """``text`` cut to about ``width`` characters around ``at``; the new position of ``at``."""
    if len(text) <= width:
        return text, at
    lo = max(0, at - width // 3)
    cut = text[lo:lo + width]
    prefix = "…" if lo else ""
    return prefix + cut + ("…" if lo + width < len(text) else ""), at - lo + len(prefix)


def _first_difference(a: str, b: str) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def compare_traces(
    name: str, expected: list[dict[str, Any]], actual: list[dict[str, Any]],
    expected_label: str = "workerd", actual_label: str = "dosandbox",
) -> str | None:
    """``None`` when both normalised traces agree (error messages aside), else a readable diff.

    The diff lists every operation; a differing one is marked ``≠`` and shows both results in
    a compact form, cut around the first differing character, with a caret under it.
    """
    if _strip_messages(expected) == _strip_messages(actual):
        return None
    width = max(len(expected_label), len(actual_label))
    lines = [f"scenario {name!r}: {expected_label} and {actual_label} disagree "
             "(error messages are shown, not compared)"]
    for i in range(max(len(expected), len(actual))):
        e = expected[i] if i < len(expected) else None
        a = actual[i] if i < len(actual) else None
        same = e is not None and a is not None and _strip_messages(e) == _strip_messages(a)
        op = (e or a or {}).get("op", "?")
        lines.append(f"{'  ' if same else '≠ '}#{i} {op}")
        if same:
            continue
        left = compact(e["result"]) if e else "<missing>"
        right = compact(a["result"]) if a else "<missing>"
        at = _first_difference(left, right)
        left_cut, pos = _window(left, at)
        right_cut, _ = _window(right, at)
        lines.append(f"    {expected_label:>{width}}: {left_cut}")
        lines.append(f"    {actual_label:>{width}}: {right_cut}")
        lines.append(" " * (6 + width + pos) + "^")
    return "\n".join(lines)


# ------------------------------------------------------------------ known differences


def load_known_differences(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Parse KNOWN_DIFFERENCES.md: each ``## scenario-name`` section ends in a ```json block."""
    text = (path or HERE / "KNOWN_DIFFERENCES.md").read_text(encoding="utf-8")
    known: dict[str, dict[str, Any]] = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        name = section.split("\n", 1)[0].strip().strip("`")
        block = re.search(r"```json\n(.*?)\n```", section, flags=re.S)
        if not block:
            raise ValueError(f"KNOWN_DIFFERENCES.md: section {name!r} has no ```json block")
        entry = json.loads(block.group(1))
        for required in ("reason", "source"):
            if required not in entry:
                raise ValueError(f"KNOWN_DIFFERENCES.md: {name!r} lacks {required!r}")
        known[name] = entry
    return known


def apply_known_difference(
    js_normalised: list[dict[str, Any]], entry: dict[str, Any],
) -> list[dict[str, Any]]:
    """The trace dosandbox is expected to give: workerd's with the documented ops replaced."""
    expected = json.loads(json.dumps(js_normalised))
    for index, result in entry.get("expected", {}).items():
        expected[int(index)]["result"] = result
    return expected
