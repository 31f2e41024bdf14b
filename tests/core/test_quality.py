"""The package stays typed and lint-clean (py.typed promises users working type hints)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_mypy_finds_no_errors_in_the_package() -> None:
    """mypy reports no errors in dosandbox/."""
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "dosandbox"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[-3000:]


def test_ruff_is_clean() -> None:
    """ruff finds nothing in the package, tests, benchmarks and examples."""
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "dosandbox", "tests", "benchmarks", "examples"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:]
