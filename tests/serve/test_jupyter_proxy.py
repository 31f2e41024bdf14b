"""The URL sb.serve() prints under a Jupyter server (``…/proxy/<port>/``), and a real Jupyter
server with jupyter-server-proxy forwarding HTTP and WebSockets to it."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from dosandbox import Sandbox
from dosandbox._notebook.jupyter_proxy import jupyter_base_url, proxy_url


def test_no_jupyter_server_means_no_proxy_url() -> None:
    """A plain script or terminal (no Jupyter variables): no proxy URL."""
    assert proxy_url(8787, env={}) is None


def test_jupyterhub_and_binder_use_the_service_prefix() -> None:
    """JupyterHub (and Binder) set JUPYTERHUB_SERVICE_PREFIX: the URL is a path under it."""
    env = {"JUPYTERHUB_SERVICE_PREFIX": "/user/ann/", "JPY_PARENT_PID": "1"}
    assert proxy_url(8787, env=env) == "/user/ann/proxy/8787/"
    assert proxy_url(8787, env={"JUPYTERHUB_SERVICE_PREFIX": "/user/ann"}) == (
        "/user/ann/proxy/8787/"
    )


def test_a_hub_public_url_makes_it_absolute() -> None:
    """With JUPYTERHUB_PUBLIC_URL set the link is absolute on the hub's public host."""
    env = {"JUPYTERHUB_SERVICE_PREFIX": "/user/ann/",
           "JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/"}
    assert proxy_url(9000, env=env) == "https://hub.example.org/user/ann/proxy/9000/"


def test_a_plain_jupyter_server_is_found_by_its_pid() -> None:
    """A kernel of `jupyter lab` (JPY_PARENT_PID) gets that server's URL from its listing."""
    servers = [{"pid": 11, "url": "http://127.0.0.1:9999/"},
               {"pid": 42, "url": "http://localhost:8888/lab-base"}]
    env = {"JPY_SESSION_NAME": "nb.ipynb", "JPY_PARENT_PID": "42"}
    assert jupyter_base_url(env, servers) == "http://localhost:8888/lab-base/"
    assert proxy_url(8787, env, servers) == "http://localhost:8888/lab-base/proxy/8787/"
    assert proxy_url(8787, {"JPY_SESSION_NAME": "x"}, []) == "/proxy/8787/"


def test_a_kernel_without_a_jupyter_server_gets_no_proxy_url() -> None:
    """nbclient and jupyter console set JPY_PARENT_PID too, with no server of that pid."""
    servers = [{"pid": 11, "url": "http://127.0.0.1:9999/"}]
    assert proxy_url(8787, {"JPY_PARENT_PID": "42"}, servers) is None


def test_serve_prints_the_proxy_url_under_jupyter(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under JupyterHub, sb.serve() says where the page is reached through the hub."""
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ann/")

    async def main() -> None:
        with Sandbox() as sb:
            server = sb.serve(port=0)
            assert server.proxy_url == f"/user/ann/proxy/{server.port}/"
            server.stop()
            await server.wait_stopped()

    asyncio.run(main())
    assert "Through this Jupyter server: /user/ann/proxy/" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_real_jupyter_server_proxy_reaches_served_objects(kit: Any, tmp_path: Path) -> None:
    """jupyter server + jupyter-server-proxy forwards /proxy/<port>/ HTTP and WebSockets."""
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_DATA_DIR=str(tmp_path))
    jupyter = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={tmp_path}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/status?token={token}", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "jupyter server did not start"
            time.sleep(0.3)

        async def scenario(sb: Sandbox, server: Any) -> None:
            through = f"{base}/proxy/{server.port}"
            async with httpx.AsyncClient(timeout=10) as client:
                r = await client.get(f"{through}/api/a/count?token={token}")
                assert r.status_code == 200 and r.json() == {"n": 1}
            ws_through = through.replace("http://", "ws://")
            async with websockets.connect(f"{ws_through}/room/r/ws?token={token}") as ws:
                await ws.send("through the proxy")
                assert await ws.recv() == "through the proxy"

        kit.serve(scenario)
    finally:
        jupyter.terminate()  # this test's own server, by its PID
        jupyter.wait(20)
