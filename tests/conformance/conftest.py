"""Conformance suite plumbing: the ``conformance`` marker, the workerd oracle, a closing summary."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the sibling modules (scenarios, python_runner, ...) import flat
    sys.path.insert(0, str(HERE))

from conformance_compare import load_known_differences  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

SUMMARY_KEY = pytest.StashKey[dict[str, Any]]()
JS_TIMEOUT_S = 300


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance: compares dosandbox with workerd (Miniflare) on shared scenarios"
    )
    config.stash[SUMMARY_KEY] = {"run": 0, "agree": 0, "known": 0, "differ": [],
                                 "skipped": {}, "oracle": None}


@pytest.fixture(scope="session")
def conformance_summary(pytestconfig: pytest.Config) -> dict[str, Any]:
    """The counters printed at the end of the session."""
    return pytestconfig.stash[SUMMARY_KEY]


def run_workerd(scenarios: list[dict[str, Any]]) -> dict[str, Any]:
    """Install (if needed) and run js/run.mjs once on ``scenarios``; its parsed output."""
    setup = subprocess.run(["bash", str(HERE / "setup.sh")], capture_output=True, text=True,
                           timeout=JS_TIMEOUT_S, check=False)
    if setup.returncode != 0:
        raise RuntimeError(f"tests/conformance/setup.sh failed:\n{setup.stdout}\n{setup.stderr}")
    proc = subprocess.run(["node", str(HERE / "js" / "run.mjs"), "-"],
                          input=json.dumps(scenarios), capture_output=True, text=True,
                          timeout=JS_TIMEOUT_S, check=False, cwd=HERE / "js")
    if proc.returncode != 0:
        raise RuntimeError(f"js/run.mjs exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def workerd_traces(conformance_summary: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Scenario name → workerd's trace: every scenario, one Miniflare process per session."""
    if shutil.which("node") is None:
        conformance_summary["oracle"] = "node not found"
        pytest.skip("!!! CONFORMANCE SKIPPED: `node` is not on PATH, so workerd (Miniflare) "
                    "cannot run; install Node >= 20 and run tests/conformance/setup.sh !!!")
    out = run_workerd(SCENARIOS)
    conformance_summary["oracle"] = f"workerd via Miniflare {out['runtime']['miniflare']}"
    traces: dict[str, list[dict[str, Any]]] = {}
    for entry in out["traces"]:
        if "crashed" in entry:
            crash = entry["crashed"]
            raise RuntimeError(f"scenario {entry['name']} crashed the JS driver: {crash}")
        traces[entry["name"]] = entry["trace"]
    return traces


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    summary = config.stash.get(SUMMARY_KEY, None)
    if not summary or (summary["run"] == 0 and not summary["oracle"]):
        return
    tr = terminalreporter
    tr.section("dosandbox conformance")
    if summary["oracle"] == "node not found":
        tr.write_line("CONFORMANCE SKIPPED: node not found, workerd was not run", red=True)
        return
    tr.write_line(f"oracle: {summary['oracle']}")
    tr.write_line(
        f"scenarios run: {summary['run']}; agree with workerd: {summary['agree']}; "
        f"agree with a documented difference (KNOWN_DIFFERENCES.md): {summary['known']}; "
        f"differ: {len(summary['differ'])}; not applicable in Python: {len(summary['skipped'])}"
    )
    tr.write_line(f"differences listed in KNOWN_DIFFERENCES.md: {len(load_known_differences())}")
    for name in summary["differ"]:
        tr.write_line(f"  differs: {name}", red=True)
