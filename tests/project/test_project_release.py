"""Closing a project's sandbox undoes its load only when no other open sandbox still needs it."""

from __future__ import annotations

import sys

from dosandbox import Sandbox

ENTRY = '''\
from workers import DurableObject, Response, WorkerEntrypoint


class Counter(DurableObject):
    async def increment(self, amount=1):
        import helper  # a sibling module, imported when the method runs

        return helper.twice(amount)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        stub = self.env.COUNTER.getByName("x")
        return Response(str(await stub.increment()))
'''

HELPER = "def twice(x):\n    return 2 * x\n"


def _text(sb: Sandbox) -> str:
    return sb.run(sb.run(sb.fetch("/")).text())


def test_closing_one_sandbox_keeps_another_of_the_same_project_running(make_project):
    """Re-running a from_project cell, then closing the old sandbox, leaves the new one whole:
    the project's folder stays on sys.path and its sibling modules still import."""
    root = make_project(entry=ENTRY, files={"src/helper.py": HELPER})
    folder = str((root / "src").resolve())
    first = Sandbox.from_project(root)
    second = Sandbox.from_project(root)
    try:
        first.close()
        assert folder in sys.path
        assert sys.modules["workers"].__name__ == "dosandbox._project.pyworkers.workers"
        assert _text(second) == "2"
    finally:
        second.close()
    assert folder not in sys.path
    assert "helper" not in sys.modules


def test_last_close_removes_the_folder_and_the_project_modules(make_project):
    """When the last sandbox of the project closes, its folder leaves sys.path, its modules
    leave sys.modules, and workers/js are no longer ours."""
    root = make_project(entry=ENTRY, files={"src/helper.py": HELPER})
    folder = str((root / "src").resolve())
    before = sys.modules.get("workers")
    first, second = Sandbox.from_project(root), Sandbox.from_project(root)
    assert _text(first) == "2" and _text(second) == "2"
    second.close()
    first.close()
    assert folder not in sys.path
    assert "helper" not in sys.modules and "entry" not in sys.modules
    assert sys.modules.get("workers") is before


def test_release_twice_counts_once(make_project):
    """Project.release() is idempotent: a second call does not take the other sandbox's hold."""
    root = make_project(entry=ENTRY, files={"src/helper.py": HELPER})
    first, second = Sandbox.from_project(root), Sandbox.from_project(root)
    try:
        assert first.project is not None
        first.project.release()
        first.project.release()
        first.close()
        assert sys.modules["workers"].__name__ == "dosandbox._project.pyworkers.workers"
        assert _text(second) == "2"
    finally:
        second.close()


def test_a_folder_already_on_sys_path_stays_there(make_project, monkeypatch):
    """A project folder the user put on sys.path is left there when the sandbox closes."""
    root = make_project(entry=ENTRY, files={"src/helper.py": HELPER})
    folder = str((root / "src").resolve())
    monkeypatch.syspath_prepend(folder)
    sb = Sandbox.from_project(root)
    assert _text(sb) == "2"
    sb.close()
    assert folder in sys.path


def test_two_projects_in_one_process_release_separately(make_project):
    """Closing project A's sandbox leaves project B's folder and modules in place."""
    a_root = make_project(entry=ENTRY, files={"src/helper.py": HELPER}, name="a")
    b_root = make_project(entry=ENTRY, files={"src/helper.py": HELPER}, name="b")
    a, b = Sandbox.from_project(a_root), Sandbox.from_project(b_root)
    try:
        a.close()
        assert str((b_root / "src").resolve()) in sys.path
        assert str((a_root / "src").resolve()) not in sys.path
        assert _text(b) == "2"
    finally:
        b.close()
