"""The URL that reaches a local port through the Jupyter server (``jupyter-server-proxy``).

On Binder and JupyterHub the browser cannot reach ``127.0.0.1:8787`` of the machine running
the kernel; ``jupyter-server-proxy`` forwards ``<server base url>proxy/<port>/`` to that port
(HTTP and WebSockets). This module only works out that URL; nothing here starts a server.

How a kernel knows it runs under a Jupyter server: JupyterHub (and so Binder) sets
``JUPYTERHUB_SERVICE_PREFIX`` (``/user/alice/``) for the single-user server and the kernels
it starts; a plain ``jupyter lab`` / ``jupyter server`` sets ``JPY_SESSION_NAME`` and
``JPY_PARENT_PID`` (the server's pid) for its kernels, and lists itself in its runtime folder,
where ``jupyter_server.serverapp.list_running_servers`` finds its URL. A kernel that
nbclient or ``jupyter console`` started has ``JPY_PARENT_PID`` too, but no such server.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["has_server_proxy", "jupyter_base_url", "proxy_url"]


def _running_servers() -> Iterable[dict[str, Any]]:
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:  # no jupyter_server in this environment
        return []
    try:
        return list(list_running_servers())
    except (OSError, ValueError):  # an unreadable runtime folder: no URL, not an error
        return []


def jupyter_base_url(
    env: Mapping[str, str] | None = None,
    servers: Iterable[dict[str, Any]] | None = None,
) -> str | None:
    """The base URL of the Jupyter server this kernel runs under, or None when there is none.

    Absolute (``http://127.0.0.1:8888/``) when the server can be found, else a path
    (``/user/alice/``) that a link in the notebook page resolves against the page's origin.
    """
    env = os.environ if env is None else env
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        # JupyterHub 4+ sets the hub's public URL when it is configured; else a path.
        public = env.get("JUPYTERHUB_PUBLIC_URL", "")
        if public.startswith(("http://", "https://")):
            return public.rstrip("/") + prefix
        return prefix
    # A kernel started by a Jupyter server (not by nbclient or jupyter console, which also set
    # JPY_PARENT_PID): its server is listed with that pid, or it has a session name.
    parent = env.get("JPY_PARENT_PID")
    if parent:
        for info in _running_servers() if servers is None else servers:
            if str(info.get("pid")) == parent and info.get("url"):
                url = str(info["url"])
                return url if url.endswith("/") else url + "/"
    if env.get("JPY_SESSION_NAME"):
        return "/"
    return None


def proxy_url(
    port: int,
    env: Mapping[str, str] | None = None,
    servers: Iterable[dict[str, Any]] | None = None,
) -> str | None:
    """``<base>proxy/<port>/`` when this kernel runs under a Jupyter server, else None."""
    base = jupyter_base_url(env, servers)
    if base is None:
        return None
    return f"{base}proxy/{port}/"


def has_server_proxy() -> bool:
    """Is ``jupyter-server-proxy`` installed here (so the Jupyter server can forward)?"""
    return importlib.util.find_spec("jupyter_server_proxy") is not None
