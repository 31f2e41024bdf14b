"""File descriptors stay bounded: 2,000 persisted objects under RLIMIT_NOFILE=256 (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHILDREN = Path(__file__).with_name("children.py")


@pytest.mark.slow
def test_two_thousand_persisted_objects_under_256_descriptors(tmp_path: Path) -> None:
    """Each object written, all read back, the folder reopened: never near 256 descriptors."""
    done = subprocess.run(
        [sys.executable, str(CHILDREN), "fds", str(tmp_path), "2000"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(result)
    assert result["peak_fds"] <= 64 * 3 + 8  # Limits.max_open_databases × 3, plus the lock
    assert result["fds_after_register"] <= 8  # register() keeps no database open
    assert result["alarms"] == 200  # every tenth object's alarm came back
