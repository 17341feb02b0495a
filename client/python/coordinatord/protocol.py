"""The wire without I/O: NDJSON framing, JSON-RPC 2.0 envelopes, request ids.

Both faces (asyncio and blocking) run over one connection class that feeds
what it reads to a Framer and sends what Framer.request returns.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from .errors import ProtocolError, RPCError, error_from_wire


@dataclass
class Response:
    """An answer: ``error`` is None on success. ``id`` None: the daemon could not
    tell which request it answers (an over-long or unreadable line, or a refused
    connection)."""

    id: Optional[int]
    result: Any
    error: Optional[RPCError]


@dataclass
class Notification:
    """A line the daemon sent on its own (``message``, ``subscription_ended``, ...)."""

    method: str
    params: Dict[str, Any]


Incoming = Union[Response, Notification]


def encode(request_id: int, method: str, params: Optional[Dict[str, Any]]) -> bytes:
    """One request line. ASCII-only JSON, so no raw newline and no encoding error."""
    obj: Dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params:
        obj["params"] = params
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"


def decode(line: bytes) -> Optional[Incoming]:
    """The message on one line; None for a blank line. Raises ProtocolError."""
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise ProtocolError("the daemon sent a line that is not JSON (%s): %.200r" % (e, line)) from None
    if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0":
        raise ProtocolError("the daemon sent something that is not JSON-RPC 2.0: %.200r" % (line,))
    if "method" in obj and "id" not in obj:
        method, params = obj.get("method"), obj.get("params", {})
        if not isinstance(method, str) or not isinstance(params, dict):
            raise ProtocolError("the daemon sent a malformed notification: %.200r" % (line,))
        return Notification(method, params)
    rid = obj.get("id")
    if rid is not None and (not isinstance(rid, int) or isinstance(rid, bool)):
        raise ProtocolError("the daemon answered an id this client never sends: %.200r" % (line,))
    if "error" in obj:
        return Response(rid, None, error_from_wire(obj["error"]))
    if "result" not in obj:
        raise ProtocolError("the daemon sent an answer with neither result nor error: %.200r" % (line,))
    return Response(rid, obj["result"], None)


class Framer:
    """Splits a byte stream into lines and numbers outgoing requests."""

    def __init__(self) -> None:
        self._next_id = 1
        self._buf = bytearray()

    def request(self, method: str, params: Optional[Dict[str, Any]]) -> Tuple[int, bytes]:
        rid = self._next_id
        self._next_id += 1
        return rid, encode(rid, method, params)

    def feed(self, data: bytes) -> List[bytes]:
        """The complete lines that ``data`` finishes; the rest waits for more."""
        if b"\n" not in data:
            self._buf += data
            return []
        self._buf += data
        *lines, rest = self._buf.split(b"\n")
        self._buf = bytearray(rest)
        return [bytes(line) for line in lines]

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete line held back."""
        return len(self._buf)
