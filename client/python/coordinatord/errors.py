"""One exception hierarchy for everything the client can raise, keyed by the wire's error codes.

CoordinatorError
├── CoordinatorConnectionError (also a ConnectionError): cannot connect
│   └── ConnectionLost: the connection ended under a call or a subscription
├── ProtocolError: the daemon sent something that is not JSON-RPC 2.0
└── RPCError: the daemon answered with an error object (code, message, data)
    ├── ParseError (-32700), InvalidRequest (-32600), MethodNotFound (-32601),
    │   InvalidParams (-32602), InternalError (-32603)
    └── NotFound (1001), Conflict (1002), UnknownMode (1003),
        PermissionDenied (1004), Busy (1005), ShuttingDown (1006), Timeout (1007)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Type

if TYPE_CHECKING:
    from .objects import Job


class CoordinatorError(Exception):
    """Base of every error the client raises; ``str(e)`` is a sentence a person can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CoordinatorConnectionError(CoordinatorError, ConnectionError):
    """The daemon could not be reached, or the connection is closed."""

    def __init__(self, message: str, socket_path: Optional[str] = None) -> None:
        super().__init__(message)
        self.socket_path = socket_path


class ConnectionLost(CoordinatorConnectionError):
    """The connection ended (the daemon stopped or was killed) while a call or a
    subscription was waiting on it; nothing more will arrive on it."""


class ProtocolError(CoordinatorError):
    """The daemon sent a line that is not a JSON-RPC 2.0 message this client understands."""


class RPCError(CoordinatorError):
    """The daemon refused a request: ``code`` and ``message`` are its error object's,
    ``data`` its optional ``data`` member (None when absent)."""

    code: int = 0

    def __init__(self, message: str, code: Optional[int] = None, data: Any = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.data = data

    def __repr__(self) -> str:
        return "%s(code=%d, message=%r)" % (type(self).__name__, self.code, self.message)


class ParseError(RPCError):
    code = -32700


class InvalidRequest(RPCError):
    """-32600; also what an over-long request line gets."""

    code = -32600


class MethodNotFound(RPCError):
    """-32601: the daemon does not have this method (an older daemon than the client)."""

    code = -32601


class InvalidParams(RPCError):
    """-32602: a parameter is missing, of the wrong type or out of range (every refused Task)."""

    code = -32602


class InternalError(RPCError):
    code = -32603


class NotFound(RPCError):
    """1001: no such request_id (or subscription; or messages pruned by retention)."""

    code = 1001


class Conflict(RPCError):
    """1002: the request_id was used before, or the job is already closed."""

    code = 1002


class UnknownMode(RPCError):
    """1003: no mode of that name is configured."""

    code = 1003


class PermissionDenied(RPCError):
    """1004: this uid may not use the daemon, or is not the job's owner."""

    code = 1004


class Busy(RPCError):
    """1005: the mode's queue is full, or too many connections or waiting calls."""

    code = 1005


class ShuttingDown(RPCError):
    """1006: the daemon is draining and accepts no new work."""

    code = 1006


class Timeout(RPCError):
    """1007: ``wait`` ran out of time. ``jobs`` holds every awaited job as it was then."""

    code = 1007

    @property
    def jobs(self) -> List["Job"]:
        from .objects import Job

        data = self.data if isinstance(self.data, dict) else {}
        raw = data.get("jobs")
        if not isinstance(raw, list):
            return []
        return [Job.from_wire(j) for j in raw if isinstance(j, dict)]


_BY_CODE: Dict[int, Type[RPCError]] = {
    cls.code: cls
    for cls in (
        ParseError,
        InvalidRequest,
        MethodNotFound,
        InvalidParams,
        InternalError,
        NotFound,
        Conflict,
        UnknownMode,
        PermissionDenied,
        Busy,
        ShuttingDown,
        Timeout,
    )
}


def error_from_wire(error: Any) -> RPCError:
    """The exception for a JSON-RPC error object: its class is keyed by ``code``."""
    if not isinstance(error, dict):
        return RPCError("the daemon answered with a malformed error: %r" % (error,), 0)
    code = error.get("code")
    message = error.get("message")
    if not isinstance(message, str):
        message = "error %r" % (code,)
    if not isinstance(code, int) or isinstance(code, bool):
        return RPCError(message, 0, error.get("data"))
    cls = _BY_CODE.get(code, RPCError)
    return cls(message, code, error.get("data"))
