"""The driver inside a real Jupyter kernel, whose own asyncio loop is already running."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).parents[2] / "examples"

CELLS = [
    f"import sys; sys.path.insert(0, {str(EXAMPLES)!r})\n"
    "import asyncio, time\n"
    "from counter import counter\n"
    "from dosandbox import Sandbox\n"
    "sb = Sandbox()\n"
    "sb.register('counter', counter)\n"
    "stub = sb.durable_objects.counter.get('user-123')",
    # top-level await: IPython runs this cell as a coroutine on the kernel's running loop
    "assert asyncio.get_running_loop() is not sb.loop\n"
    "assert await stub.increment(5) == 5\n"
    "assert await stub.decrement(2) == 3\n"
    "assert await stub.get_count() == 3",
    # sb.run from a plain (non-await) cell while the kernel loop runs
    "assert sb.run(stub.reset()) == 0\nprint('count', sb.run(stub.get_count()))",
    # a widget callback drives the sandbox too
    "import ipywidgets as w\n"
    "button = w.Button(description='+1')\n"
    "clicks = []\n"
    "button.on_click(lambda b: clicks.append(sb.run(stub.increment(1))))\n"
    "button.click(); button.click()\n"
    "assert clicks == [1, 2], clicks",
    # print inside object code reaches the cell
    "from dosandbox import DurableObject\n"
    "class Talker(DurableObject):\n"
    "    def hello(self):\n"
    "        print('hello from inside')\n"
    "        return time.time()\n"
    "sb.register('talker', Talker)\n"
    "t = await sb.durable_objects.talker.get('t').hello()\n"
    "assert t == sb.clock.now_ms / 1000, (t, sb.clock.now_ms)",
]


@pytest.mark.slow
def test_seed_counter_runs_in_a_real_kernel(tmp_path: Path) -> None:
    """Top-level await, sb.run and a button callback all drive the sandbox inside ipykernel."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    client = NotebookClient(nb, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0]["evalue"] if errors else ""
    printed = "".join(
        o.get("text", "") for c in nb.cells for o in c.outputs if o.output_type == "stream"
    )
    assert "count 0" in printed
    assert "hello from inside" in printed
