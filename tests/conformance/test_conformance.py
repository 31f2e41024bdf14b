"""dosandbox against workerd: every scenario in scenarios.py, run on both, traces compared."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from conformance_compare import (
    apply_known_difference,
    compare_traces,
    js_error_code,
    load_known_differences,
    normalize_trace,
)
from scenarios import SCENARIOS, scenario_names

pytestmark = pytest.mark.conformance

HERE = Path(__file__).resolve().parent
ORACLE_FILE = HERE / "expected_workerd.json"
KNOWN = load_known_differences()
BY_NAME = {s["name"]: s for s in SCENARIOS}


def _saved_oracle() -> dict[str, list[dict[str, Any]]]:
    data = json.loads(ORACLE_FILE.read_text(encoding="utf-8"))
    return {t["name"]: t["trace"] for t in data["traces"]}


JS_ONLY = sorted(n for n, e in KNOWN.items() if e.get("python") == "skip")


@pytest.mark.parametrize("name", [n for n in scenario_names() if n not in JS_ONLY])
def test_scenario(
    name: str,
    workerd_traces: dict[str, list[dict[str, Any]]],
    conformance_summary: dict[str, Any],
) -> None:
    """dosandbox gives workerd's trace, or the one documented in KNOWN_DIFFERENCES.md."""
    entry = KNOWN.get(name)
    import python_runner  # imports dosandbox; a missing API fails here, scenario by scenario

    conformance_summary["run"] += 1
    js = normalize_trace(workerd_traces[name], "js")
    py = normalize_trace(python_runner.run_scenario(BY_NAME[name])["trace"], "python")
    expected = apply_known_difference(js, entry) if entry else js
    diff = compare_traces(name, expected, py,
                          expected_label="documented" if entry else "workerd")
    if diff:
        conformance_summary["differ"].append(name)
        if entry:
            diff += f"\n(documented difference: {entry['reason']})"
        pytest.fail(diff, pytrace=False)
    conformance_summary["known" if entry else "agree"] += 1


@pytest.mark.parametrize("name", JS_ONLY)
def test_js_only_scenario_runs_in_workerd(
    name: str,
    workerd_traces: dict[str, list[dict[str, Any]]],
    conformance_summary: dict[str, Any],
) -> None:
    """A scenario with no Python counterpart still runs in workerd and is documented."""
    assert workerd_traces[name], f"workerd produced no trace for {name}"
    assert KNOWN[name]["reason"] and KNOWN[name]["source"]
    conformance_summary["skipped"][name] = KNOWN[name]["reason"]


def test_saved_oracle_is_current(workerd_traces: dict[str, list[dict[str, Any]]]) -> None:
    """expected_workerd.json equals what workerd gives today (regenerate: update_oracle.py)."""
    saved = _saved_oracle()
    stale = sorted(n for n in workerd_traces if saved.get(n) != workerd_traces[n])
    missing = sorted(set(saved) - set(workerd_traces))
    assert not stale and not missing, (
        f"expected_workerd.json is stale for {stale}, has extra {missing}; run "
        "`python tests/conformance/update_oracle.py`"
    )


def test_at_least_sixty_scenarios() -> None:
    """The suite keeps at least 60 scenarios, each with a one-line doc."""
    assert len(SCENARIOS) >= 60
    assert all(s["doc"] and "\n" not in s["doc"] for s in SCENARIOS)


def test_known_differences_name_real_scenarios() -> None:
    """Every KNOWN_DIFFERENCES.md entry names a scenario and an op index that exist."""
    for name, entry in KNOWN.items():
        assert name in BY_NAME, f"KNOWN_DIFFERENCES.md lists unknown scenario {name!r}"
        for index in entry.get("expected", {}):
            assert int(index) < len(BY_NAME[name]["ops"]), f"{name}: no op #{index}"


def test_ids_follow_workerd_derivation() -> None:
    """The oracle's idFromName hex is HMAC-SHA256 keyed by SHA-256("conformance-Runner")."""
    key = hashlib.sha256(b"conformance-Runner").digest()
    trace = _saved_oracle()["id-from-name"]
    for op, entry in zip(BY_NAME["id-from-name"]["ops"], trace, strict=True):
        first = hmac.new(key, op["name"].encode(), "sha256").digest()[:16]
        mac = hmac.new(key, first, "sha256").digest()[:16]
        assert entry["result"] == {"type": "string", "value": (first + mac).hex()}


def test_comparison_reports_a_changed_trace_readably() -> None:
    """A trace changed on one side fails the comparison with a diff naming the op and values."""
    js = normalize_trace(_saved_oracle()["list-reverse"], "js")
    assert compare_traces("list-reverse", js, copy.deepcopy(js)) is None
    mutated = copy.deepcopy(js)
    pairs = mutated[1]["result"]["v"]
    pairs[0], pairs[1] = pairs[1], pairs[0]  # "fig" and "date" swapped
    diff = compare_traces("list-reverse", js, mutated)
    assert diff is not None
    assert "≠ #1 kv.list" in diff
    assert '{"fig": 6, "date": 5' in diff and '{"date": 5, "fig": 6' in diff
    assert "#0 kv.put" in diff and "≠ #0" not in diff
    assert "^" in diff


def test_comparison_catches_a_changed_error_code() -> None:
    """A different error code is a difference; a different message alone is not."""
    js = normalize_trace(_saved_oracle()["list-limit-zero"], "js")
    assert js[1]["result"]["error"] == "VALIDATION_ERROR"
    reworded = copy.deepcopy(js)
    reworded[1]["result"]["message"] = "limit must be a positive integer"
    assert compare_traces("list-limit-zero", js, reworded) is None
    recoded = copy.deepcopy(js)
    recoded[1]["result"]["error"] = "STORAGE_ERROR"
    diff = compare_traces("list-limit-zero", js, recoded)
    assert diff is not None and "!VALIDATION_ERROR" in diff and "!STORAGE_ERROR" in diff


def test_normalisation_equates_the_two_vocabularies() -> None:
    """Python type names and JS type names meet in one form (see README.md)."""
    js = [{"op": "kv.get", "result": {"type": "map", "value": [
        [{"type": "string", "value": "a"}, {"type": "number", "value": 1}],
        [{"type": "string", "value": "b"}, {"type": "object", "value": [
            ["x", {"type": "undefined"}], ["d", {"type": "date", "value": 5}]]}],
        [{"type": "string", "value": "c"}, {"type": "bigint", "value": "9007199254740993"}],
    ]}}, {"op": "list", "result": {"error": "TypeError", "message": "List limit must be "
                                   "positive."}}]
    py = [{"op": "kv.get", "result": {"type": "map", "value": [
        [{"type": "str", "value": "a"}, {"type": "float", "value": 1.0}],
        [{"type": "str", "value": "b"}, {"type": "dict", "value": [
            [{"type": "str", "value": "x"}, {"type": "None"}],
            [{"type": "str", "value": "d"}, {"type": "datetime", "value": 5}]]}],
        [{"type": "str", "value": "c"}, {"type": "int", "value": 9007199254740993}],
    ]}}, {"op": "list", "result": {"error": "VALIDATION_ERROR", "message": "limit must be > 0"}}]
    assert compare_traces("vocab", normalize_trace(js, "js"), normalize_trace(py, "python")) is None


@pytest.mark.parametrize(("op", "cls", "message", "code"), [
    ("kv.list", "TypeError", "List limit must be positive.", "VALIDATION_ERROR"),
    ("sql.exec", "Error", "not authorized: SQLITE_AUTH", "SQL_NOT_AUTHORIZED"),
    ("sql.exec", "Error", "no such table: t: SQLITE_ERROR", "SQL_ERROR"),
    ("id.fromString", "TypeError", "Invalid Durable Object ID: must be 64 hex digits",
     "INVALID_ID"),
    ("kv.put", "RangeError", "Values cannot be larger than 131072 bytes.", "STORAGE_LIMIT"),
    ("transaction", "Error", "Cannot call deleteAll() within a transaction", "TRANSACTION_ERROR"),
    ("transaction", "Error", "scenario-throw: boom", "USER_ERROR"),
    ("kv.get", "Error", "something new", "UNMAPPED:Error"),
    ("stub.property", "TypeError", 'The RPC receiver does not implement the method "x".',
     "METHOD_NOT_FOUND"),
    ("stub.payload", "Error", "Serialized RPC arguments or return values are limited to 32MiB, "
     "but the size of this value was: 33554444 bytes.", "DATA_CLONE_ERROR"),
    ("ns.jurisdiction", "Error", "Jurisdiction restrictions are not implemented in workerd.",
     "VALIDATION_ERROR"),
    ("ctx.setEventTimeout", "Error", "Event timeout should not exceed 604800000 ms.",
     "WEBSOCKET_LIMIT"),
    ("http.redirect", "RangeError", "200 is not a redirect status code.", "HTTP_ERROR"),
])
def test_js_error_mapping(op: str, cls: str, message: str, code: str) -> None:
    """JS error classes and messages map onto dosandbox error codes."""
    assert js_error_code(op, cls, message) == code


def test_reset_errors_compare_by_code_and_flags() -> None:
    """A JS error with durableObjectReset is OBJECT_RESET; a missing flag is a difference."""
    js = normalize_trace(_saved_oracle()["reset-abort"], "js")
    assert js[3]["result"]["error"] == "OBJECT_RESET"
    assert js[3]["result"]["flags"] == ["durableObjectReset"]
    unflagged = copy.deepcopy(js)
    del unflagged[3]["result"]["flags"]
    diff = compare_traces("reset-abort", js, unflagged)
    assert diff is not None and "≠ #3 ctx.abort" in diff and "[durableObjectReset]" in diff


def test_no_await_results_normalise_their_parts() -> None:
    """A noAwait result keeps where its error showed and normalises its outcome and then-ops."""
    js = normalize_trace(_saved_oracle()["noawait-put-uncloneable"], "js")
    result = js[0]["result"]
    assert result["at"] == "await" and result["outcome"]["error"] == "DATA_CLONE_ERROR"
    assert result["then"] == [{"op": "kvs.get", "result": {"t": "null"}}]
