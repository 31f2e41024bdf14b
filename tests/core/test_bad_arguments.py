"""Typed errors everywhere a user can reach: Sandbox() arguments, persist paths, sb.run(),
register(class_name=...) and get_web_sockets(tag=...); the sandbox keeps working after."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dosandbox import DurableObject, DurableObjectMethodError, Limits, Response, Sandbox
from dosandbox.errors import ConfigError, StorageError, ValidationError, WebSocketError


class Counter(DurableObject):
    async def increment(self) -> int:
        n = (await self.ctx.storage.get("n") or 0) + 1
        await self.ctx.storage.put("n", n)
        return int(n)

    def count_tagged(self, tag: Any) -> int:
        return len(self.ctx.get_web_sockets(tag=tag))

    def fetch(self, request: Any) -> Response:
        return Response("ok")


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"limits": {"max_key_bytes": 64}}, "limits=Limits(**{'max_key_bytes': 64})"),
        ({"event_log_size": -1}, "event_log_size=10_000"),
        ({"event_log_size": "many"}, "event_log_size=10_000"),
        ({"seed": [1, 2]}, "Sandbox(seed=42)"),
        ({"persist": 5}, "Sandbox(persist='data')"),
        ({"script_name": 5}, "script_name='my-worker'"),
        ({"virtual_time": "no"}, "True or False"),
        ({"env": 5}, "Sandbox(env={"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else "",
)
def test_sandbox_arguments_of_the_wrong_kind_are_validation_errors(
    kwargs: dict[str, Any], names: str
) -> None:
    """Each names the argument and shows a correct call (they were TypeError/ValueError)."""
    with pytest.raises(ValidationError) as info:
        Sandbox(**kwargs)
    assert names in info.value.message
    assert next(iter(kwargs)) in info.value.message


def test_limits_as_a_limits_still_work() -> None:
    """The right kinds are accepted as before."""
    with Sandbox(seed=1, limits=Limits(max_key_bytes=64), event_log_size=5) as sb:
        assert sb.limits.max_key_bytes == 64
        stub = sb.register("counter", Counter).get("c")
        for _ in range(10):
            sb.run(stub.increment())
        assert len(sb.events()) == 5


@pytest.mark.parametrize("value", [42, None, "stub.increment()"])
def test_sb_run_refuses_what_is_not_awaitable(value: Any) -> None:
    """sb.run(42) names the value and the fix (it was asyncio's TypeError)."""
    with Sandbox(seed=0) as sb:
        with pytest.raises(ValidationError, match=r"sb.run\(\) takes an awaitable") as info:
            sb.run(value)
        assert type(value).__name__ in info.value.message
        stub = sb.register("counter", Counter).get("c")
        assert sb.run(stub.increment()) == 1


def test_sb_run_of_an_uncalled_function_says_to_call_it() -> None:
    """A coroutine function passed uncalled: the message says sb.run(fn())."""
    async def work() -> int:
        return 1

    with Sandbox(seed=0) as sb:
        with pytest.raises(ValidationError, match=r"call it: sb.run\(fn\(\)\)"):
            sb.run(work)  # type: ignore[arg-type]
        assert sb.run(work()) == 1


def test_persist_pointing_at_a_file_is_a_config_error(tmp_path: Path) -> None:
    """A file where the folder should be: ConfigError naming it (it was FileExistsError)."""
    target = tmp_path / "data"
    target.write_text("not a folder")
    with pytest.raises(ConfigError, match="is a file, not a folder") as info:
        Sandbox(persist=target)
    assert str(target) in info.value.message and "Pass the path of a folder" in info.value.message
    assert target.read_text() == "not a folder"


def test_persist_under_a_file_names_the_file_in_the_way(tmp_path: Path) -> None:
    """persist='file/sub': the message names 'file' (it was NotADirectoryError)."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=f"cannot be made: {blocker} is a file"):
        Sandbox(persist=blocker / "sub" / "deeper")


def _run_without_override(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child bound by file permissions (root: without CAP_DAC_OVERRIDE)."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, "-c", textwrap.dedent(code)]
    if os.geteuid() == 0:  # root writes anywhere; setpriv (util-linux) takes that away
        setpriv = shutil.which("setpriv")
        assert setpriv, "running as root: this test needs setpriv (util-linux)"
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_folder_that_is_not_writable_is_a_config_error(tmp_path: Path) -> None:
    """A read-only persist folder is refused at start with the fix, not at the first write."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    tmp_path.chmod(0o755)
    try:
        result = _run_without_override(
            f"""
            from dosandbox import Sandbox
            from dosandbox.errors import ConfigError
            try:
                Sandbox(persist={str(folder)!r})
            except ConfigError as exc:
                print(exc.message)
            try:
                Sandbox(persist={str(folder / "sub")!r})
            except ConfigError as exc:
                print(exc.message)
            """,
            tmp_path,
        )
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert f"{folder} is not writable" in first and "chmod u+w" in first
    assert f"no permission to create {folder / 'sub'}" in second


def test_a_persist_folder_replaced_by_a_file_after_start_is_a_storage_error(
    tmp_path: Path,
) -> None:
    """The object's storage cannot open: StorageError with the fix; restoring the folder heals."""
    folder = tmp_path / "data"
    with Sandbox(seed=0, persist=folder) as sb:
        stub = sb.register("counter", Counter).get("c")
        shutil.rmtree(folder)
        folder.write_text("oops")
        with pytest.raises(DurableObjectMethodError) as info:
            sb.run(stub.increment())
        cause = info.value.__cause__
        assert isinstance(cause, StorageError)
        assert f"{folder} is a file" in cause.message and "persist folder back" in cause.message
        folder.unlink()
        folder.mkdir()
        assert sb.run(stub.increment()) == 1


@pytest.mark.parametrize("class_name", ["my-class", "1st", "class", "", 5])
def test_register_refuses_a_class_name_that_is_not_an_identifier(class_name: Any) -> None:
    """wrangler binds the class by this name: it must be an identifier (type() took anything)."""
    with Sandbox(seed=0) as sb:
        with pytest.raises(ConfigError, match="identifier such as 'ChatRoom'"):
            sb.register("counter", Counter, class_name=class_name)
        assert "counter" not in sb.namespaces
        assert sb.run(sb.register("counter", Counter).get("c").increment()) == 1


@pytest.mark.parametrize("tag", [5, ["room"], b"room"])
def test_get_web_sockets_refuses_a_tag_that_is_not_a_str(tag: Any) -> None:
    """tag=5 matched nothing silently; now a WebSocketError with the fix (str())."""
    with Sandbox(seed=0) as sb:
        stub = sb.register("counter", Counter).get("c")
        with pytest.raises(DurableObjectMethodError) as info:
            sb.run(stub.count_tagged(tag))
        cause = info.value.__cause__
        assert isinstance(cause, WebSocketError) and "tag=str(...)" in cause.message
        assert sb.run(stub.count_tagged("room")) == 0
        assert sb.run(stub.count_tagged(None)) == 0
