"""coordinatord: a Python client for the coordinatord task coordinator.

Two faces over one protocol core:

    import asyncio
    from coordinatord import Coordinator

    async def main() -> None:
        async with Coordinator.connect() as c:
            job = await c.submit(["echo", "hello"], wait=True)
            print(job.result, job.message.result.stdout)

    asyncio.run(main())

and, for scripts, the same methods blocking:

    from coordinatord import CoordinatorClient

    with CoordinatorClient() as c:
        job = c.submit(["make", "-C", "src"])
        c.wait([job], timeout=600)

Standard library only. See docs/python.md in the coordinatord sources.
"""
from .aio import Coordinator
from .blocking import BlockingSubscription, CoordinatorClient
from .errors import (
    Busy,
    Conflict,
    ConnectionLost,
    CoordinatorConnectionError,
    CoordinatorError,
    InternalError,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    NotFound,
    ParseError,
    PermissionDenied,
    ProtocolError,
    RPCError,
    ShuttingDown,
    Timeout,
    UnknownMode,
)
from .objects import (
    COMPLETION_TYPES,
    Counts,
    ErrorInfo,
    Job,
    Message,
    Mode,
    Ping,
    StatusPage,
    TaskResult,
)
from .paths import socket_path
from .subscription import Subscription

__version__ = "0.1.0"

__all__ = [
    "COMPLETION_TYPES",
    "BlockingSubscription",
    "Busy",
    "Conflict",
    "ConnectionLost",
    "Coordinator",
    "CoordinatorClient",
    "CoordinatorConnectionError",
    "CoordinatorError",
    "Counts",
    "ErrorInfo",
    "InternalError",
    "InvalidParams",
    "InvalidRequest",
    "Job",
    "Message",
    "MethodNotFound",
    "Mode",
    "NotFound",
    "ParseError",
    "PermissionDenied",
    "Ping",
    "ProtocolError",
    "RPCError",
    "ShuttingDown",
    "StatusPage",
    "Subscription",
    "TaskResult",
    "Timeout",
    "UnknownMode",
    "socket_path",
    "__version__",
]
