"""Output lands where the user acted, checked in a real ipykernel through nbclient.

ipykernel routes a print by the parent header in a context variable; a task started in one
cell keeps that cell's context. The sandbox sends object code's prints to the cell that drives.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).parents[2]

SETUP = '''
import asyncio, datetime as dt, warnings
import dosandbox
from dosandbox import Sandbox, DurableObject
from dosandbox.errors import WaitingOnTimeError
assert dosandbox.__file__.startswith({repo!r}), dosandbox.__file__

class Job(DurableObject):
    async def slow(self):
        await asyncio.sleep(5)
        print("slow call finished")
        return "done"

    async def arm(self):
        await self.ctx.set_alarm(dt.timedelta(seconds=8))

    async def alarm(self):
        print("alarm handler ran")

class NoAlarm(DurableObject):
    async def arm(self):
        await self.ctx.set_alarm(dt.timedelta(seconds=1))

sb = Sandbox(start=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
sb.register("job", Job)
sb.register("no_alarm", NoAlarm)
job = sb.durable_objects.job.get("j")
'''

START = '''
await job.arm()
try:
    await job.slow()
except WaitingOnTimeError:
    print("started in cell 2")
'''

MOVE = '''
report = sb.clock.advance(seconds=10)
print("moved in cell 3")
'''

NOTICE = '''
await sb.durable_objects.no_alarm.get("n").arm()
sb.clock.advance(seconds=2)
print("cell 4 done")
'''

BAR = '''
bar = sb.clock.widget()
await job.arm()
bar.plus_minute.click()
print("bar printed:", repr("".join(o["text"] for o in bar.output.outputs)))
'''


def _texts(cell: Any) -> tuple[str, str]:
    out = err = ""
    for output in cell.get("outputs", []):
        assert output.get("output_type") != "error", output
        if output.get("output_type") == "stream":
            if output["name"] == "stdout":
                out += output["text"]
            else:
                err += output["text"]
    return out, err


@pytest.mark.slow
def test_prints_of_object_code_land_in_the_cell_that_moved_the_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call started in cell 2 and an alarm armed there print in cell 3, which moved time;
    a notice prints as one short line; the clock bar keeps its prints under itself."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in
                (SETUP.format(repo=str(REPO)), START, MOVE, NOTICE, BAR)]
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    setup, start, move, notice, bar = (_texts(cell) for cell in nb.cells)
    assert setup == ("", "")
    assert start == ("started in cell 2\n", "")
    assert move[0] == "slow call finished\nalarm handler ran\nmoved in cell 3\n"
    assert move[1] == ""
    out, err = notice
    assert out == "cell 4 done\n"
    assert err.startswith("dosandbox notice [ALARM_DROPPED]: no_alarm ")
    assert "alarms.py" not in err and ".py:" not in err and err.count("\n") == 1
    assert bar == ("bar printed: 'alarm handler ran\\n'\n", "")
