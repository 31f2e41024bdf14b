"""dosandbox: run Durable Objects inside a Jupyter kernel, and see and step them.

``import dosandbox`` stays light: pandas and ipywidgets load only when a table or a widget is
asked for.
"""

from __future__ import annotations

from . import errors
from ._alarms import AlarmInfo
from ._clock import VirtualClock
from ._codec import clone
from ._context import DurableObjectContext
from ._definition import DurableObjectDefinition, define_durable_object
from ._discovery import discover
from ._events import Event
from ._handle import Handle
from ._http import Request, Response
from ._ids import DurableObjectId
from ._limits import Limits
from ._namespace import Namespace, RpcCall, Stub
from ._object import DurableObject
from ._sandbox import Sandbox
from ._steps import StepReport
from ._websocket import WebSocket, WebSocketPair, WebSocketRequestResponsePair
from .errors import (
    DataCloneError,
    DurableObjectError,
    DurableObjectMethodError,
    DurableObjectNotFoundError,
    MethodNotFoundError,
)

__version__ = "0.1.0"

__all__ = [
    "AlarmInfo",
    "DataCloneError",
    "DurableObject",
    "DurableObjectContext",
    "DurableObjectDefinition",
    "DurableObjectError",
    "DurableObjectId",
    "DurableObjectMethodError",
    "DurableObjectNotFoundError",
    "Event",
    "Handle",
    "Limits",
    "MethodNotFoundError",
    "Namespace",
    "Request",
    "Response",
    "RpcCall",
    "Sandbox",
    "StepReport",
    "Stub",
    "VirtualClock",
    "WebSocket",
    "WebSocketPair",
    "WebSocketRequestResponsePair",
    "__version__",
    "clone",
    "define_durable_object",
    "discover",
    "errors",
]
