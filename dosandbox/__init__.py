"""dosandbox: run Durable Objects inside a Jupyter kernel, and see and step them.

``import dosandbox`` stays light: pandas and ipywidgets load only when a table or a widget is
asked for.
"""

from __future__ import annotations

from . import errors
from ._core import display as _display
from ._core.aliases import module_aliases as _module_aliases
from ._core.clock import VirtualClock
from ._core.codec import clone
from ._core.errors import (
    DataCloneError,
    DurableObjectError,
    DurableObjectMethodError,
    DurableObjectNotFoundError,
    DurableObjectResetError,
    ExecutionInterruptedError,
    MethodNotFoundError,
    SandboxWarning,
)
from ._core.events import Event, StepReport
from ._core.ids import DurableObjectId
from ._core.limits import Limits
from ._notebook.checkpoints import Checkpoint
from ._notebook.client import SimulatedClient
from ._notebook.handle import Handle, HandleSnapshot
from ._notebook.in_flight import InFlight
from ._project.discovery import discover
from ._project.project import Project
from ._runtime.alarms import AlarmInfo
from ._runtime.context import DurableObjectContext
from ._runtime.definition import DurableObjectDefinition, define_durable_object
from ._runtime.http import Request, Response
from ._runtime.namespace import Namespace, RpcCall, Stub
from ._runtime.object import DurableObject
from ._runtime.rpc import Pipeline, ReadableStream, RpcStub, RpcTarget
from ._runtime.websocket import (
    CloseEvent,
    ErrorEvent,
    MessageEvent,
    WebSocket,
    WebSocketPair,
    WebSocketRequestResponsePair,
)
from ._runtime.worker import ExecutionContext, WorkerCall
from ._sandbox import Sandbox, load_project
from ._storage.sql import SqlCursor, SqlStorage
from ._storage.storage import Storage, SyncKvStorage, Transaction

__version__ = "0.1.0"


def _load_views() -> None:
    # Importing the widgets registers their views; done on the first view asked for, so
    # ``import dosandbox`` does not load ipywidgets.
    from . import widgets  # noqa: F401


_display.set_loader(_load_views)

# cloudwerk's camelCase name, importable but kept out of dir() (snake_case is canonical).
_alias = _module_aliases(__name__, {"defineDurableObject": "define_durable_object"}, globals())


def __getattr__(name: str) -> object:
    if name in ("Server", "RealSocket"):  # sb.serve()'s types: aiohttp loads only when asked
        from ._notebook import server

        return getattr(server, name)
    return _alias(name)

__all__ = [
    "AlarmInfo",
    "Checkpoint",
    "CloseEvent",
    "DataCloneError",
    "DurableObject",
    "DurableObjectContext",
    "DurableObjectDefinition",
    "DurableObjectError",
    "DurableObjectId",
    "DurableObjectMethodError",
    "DurableObjectNotFoundError",
    "DurableObjectResetError",
    "ErrorEvent",
    "Event",
    "ExecutionContext",
    "ExecutionInterruptedError",
    "Handle",
    "HandleSnapshot",
    "InFlight",
    "Limits",
    "MessageEvent",
    "MethodNotFoundError",
    "Namespace",
    "Pipeline",
    "Project",
    "ReadableStream",
    "RealSocket",
    "Request",
    "Response",
    "RpcCall",
    "RpcStub",
    "RpcTarget",
    "Sandbox",
    "SandboxWarning",
    "Server",
    "SimulatedClient",
    "SqlCursor",
    "SqlStorage",
    "StepReport",
    "Storage",
    "Stub",
    "SyncKvStorage",
    "Transaction",
    "VirtualClock",
    "WebSocket",
    "WebSocketPair",
    "WebSocketRequestResponsePair",
    "WorkerCall",
    "__version__",
    "clone",
    "define_durable_object",
    "discover",
    "errors",
    "load_project",
]
