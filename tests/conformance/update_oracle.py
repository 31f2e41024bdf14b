"""Regenerate expected_workerd.json: run every scenario on workerd (Miniflare) and save traces.

    python tests/conformance/update_oracle.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import run_workerd  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402


def main() -> None:
    out = run_workerd(SCENARIOS)
    path = HERE / "expected_workerd.json"
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path} ({len(out['traces'])} scenarios)")


if __name__ == "__main__":
    main()
