"""One asyncio connection to the daemon: many calls in flight, answers matched by id,
notifications routed to their subscriptions. The connection owns its transport;
subscriptions register themselves and are told when the connection ends."""
from __future__ import annotations

import asyncio
import errno
import os
import socket
from typing import Any, Callable, Dict, List, Optional, Protocol, Set

from .errors import (
    CoordinatorConnectionError,
    CoordinatorError,
    ConnectionLost,
    InvalidRequest,
    ParseError,
    ProtocolError,
    RPCError,
)
from .objects import Message
from .paths import SOCKET_PATH_MAX
from .protocol import Framer, Notification, Response, decode

#: Called with the answer of a request as soon as it is read, before its future resolves.
ReplyHook = Callable[[Any, Optional[RPCError]], None]


class Route(Protocol):
    """What a subscription offers the connection."""

    def _deliver(self, message: Message, size: int) -> None: ...

    def _ended(self, params: Dict[str, Any]) -> None: ...

    def _connection_lost(self, error: CoordinatorError) -> None: ...


class _Pending:
    __slots__ = ("future", "size", "hook")

    def __init__(self, future: "asyncio.Future[Any]", size: int, hook: Optional[ReplyHook]) -> None:
        self.future = future
        self.size = size
        self.hook = hook


def _hint(err: int) -> str:
    if err in (errno.ENOENT, errno.ECONNREFUSED):
        return "is coordinatord running? start it, or pass socket= or set COORD_SOCKET"
    if err in (errno.EACCES, errno.EPERM):
        return "you may not use this socket; ask to be added to allowed_users or allowed_groups"
    return "check the socket path"


class Connection(asyncio.Protocol):
    """The protocol core shared by Coordinator and CoordinatorClient."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._framer = Framer()
        self._transport: Optional[asyncio.Transport] = None
        self._pending: Dict[int, _Pending] = {}
        self._routes: Dict[int, Route] = {}
        self._watchers: Set[Route] = set()
        self._gone: Optional[CoordinatorError] = None
        self._closing = False
        self._refusal: Optional[RPCError] = None
        self._write_paused = False
        self._drain_waiters: List["asyncio.Future[None]"] = []
        self._closed: Optional["asyncio.Future[None]"] = None

    @classmethod
    async def open(cls, socket_path: str) -> "Connection":
        if not socket_path or len(os.fsencode(socket_path)) > SOCKET_PATH_MAX:
            raise CoordinatorConnectionError(
                "socket path '%s' is empty or longer than %d bytes" % (socket_path, SOCKET_PATH_MAX),
                socket_path,
            )
        loop = asyncio.get_running_loop()
        conn = cls(socket_path)
        conn._closed = loop.create_future()
        try:
            await loop.create_unix_connection(lambda: conn, socket_path)
        except OSError as e:
            raise CoordinatorConnectionError(
                "cannot connect to coordinatord at %s: %s (%s)"
                % (socket_path, e.strerror or e, _hint(e.errno or 0)),
                socket_path,
            ) from e
        return conn

    # --- asyncio.Protocol -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        # Many requests are written before any answer is read: keep them buffered.
        transport.set_write_buffer_limits(high=1 << 20)

    def data_received(self, data: bytes) -> None:
        for line in self._framer.feed(data):
            if self._gone is not None:
                return
            self._dispatch(line)

    def eof_received(self) -> Optional[bool]:
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if exc is not None and self._gone is None and self._transport is not None:
            self._read_leftover(self._transport)
        self._transport = None
        if self._gone is None:
            self._gone = self._lost_error(exc)
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(self._failure(len(pending)))
        watchers, self._watchers = self._watchers, set()
        self._routes.clear()
        for w in watchers:
            w._connection_lost(self._failure(0))
        self._wake_drainers()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def _read_leftover(self, transport: asyncio.Transport) -> None:
        """A write that failed (EPIPE: the daemon hung up) ends the transport before it
        reads what the daemon sent last, typically its refusal of this peer (1004).
        The socket is still open here: read that now, without blocking."""
        sock = transport.get_extra_info("socket")
        if sock is None:
            return
        try:
            raw = socket.socket(fileno=os.dup(sock.fileno()))
        except OSError:
            return
        with raw:
            raw.setblocking(False)
            while self._gone is None:
                try:
                    data = raw.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                self.data_received(data)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drainers()

    # --- calls ------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Requests sent (or buffered to send) whose answer has not arrived."""
        return len(self._pending)

    @property
    def is_closed(self) -> bool:
        return self._gone is not None

    def send(self, method: str, params: Optional[Dict[str, Any]], hook: Optional[ReplyHook] = None) -> "asyncio.Future[Any]":
        """Write one request now; the future resolves with its result or its error."""
        if self._gone is not None or self._transport is None:
            raise self._failure(0)
        rid, line = self._framer.request(method, params)
        future: "asyncio.Future[Any]" = asyncio.get_running_loop().create_future()
        self._pending[rid] = _Pending(future, len(line), hook)
        self._transport.write(line)
        return future

    def send_detached(self, method: str, params: Optional[Dict[str, Any]]) -> None:
        """Write one request whose answer nobody awaits (errors included)."""
        if self._gone is not None:
            return
        fut = self.send(method, params)
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        future = self.send(method, params)
        try:
            if self._write_paused:
                await self._drain()
            return await future
        except asyncio.CancelledError:
            # The caller gave up: its answer, when it comes, is dropped.
            for rid, p in list(self._pending.items()):
                if p.future is future:
                    del self._pending[rid]
            raise

    async def _drain(self) -> None:
        while self._write_paused and self._gone is None:
            waiter: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def _wake_drainers(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    # --- subscriptions ----------------------------------------------------

    def watch(self, route: Route) -> None:
        """Tell ``route`` when the connection ends."""
        if self._gone is not None:
            route._connection_lost(self._failure(0))
        else:
            self._watchers.add(route)

    def unwatch(self, route: Route) -> None:
        self._watchers.discard(route)

    def route(self, subscription: int, route: Route) -> None:
        self._routes[subscription] = route

    def unroute(self, subscription: int) -> None:
        self._routes.pop(subscription, None)

    # --- reading ----------------------------------------------------------

    def _dispatch(self, line: bytes) -> None:
        try:
            incoming = decode(line)
        except ProtocolError as e:
            self._abort(e)
            return
        if isinstance(incoming, Response):
            self._answer(incoming)
        elif isinstance(incoming, Notification):
            self._notify(incoming, len(line))

    def _answer(self, resp: Response) -> None:
        if resp.id is None:
            self._answer_unknown(resp)
            return
        p = self._pending.pop(resp.id, None)
        if p is None:
            return  # its caller gave up
        if p.hook is not None:
            p.hook(resp.result, resp.error)
        if p.future.done():
            return
        if resp.error is not None:
            p.future.set_exception(resp.error)
        else:
            p.future.set_result(resp.result)

    def _answer_unknown(self, resp: Response) -> None:
        """An answer with a null id: a line the daemon could not read, or a refusal
        of the whole connection (too many connections), after which it hangs up."""
        if resp.error is None:
            return
        if isinstance(resp.error, (InvalidRequest, ParseError)) and self._pending:
            # Only an over-long line gets this from a well-formed client: the longest one.
            rid = max(self._pending, key=lambda r: (self._pending[r].size, -r))
            self._answer(Response(rid, None, resp.error))
            return
        self._refusal = resp.error

    def _notify(self, note: Notification, size: int) -> None:
        sid = note.params.get("subscription")
        route = self._routes.get(sid) if isinstance(sid, int) else None
        if route is None:
            return  # ended or never ours; late notifications of an unsubscribe land here
        if note.method == "message":
            try:
                message = Message.from_wire(note.params.get("message"))
            except ProtocolError as e:
                self._abort(e)
                return
            route._deliver(message, size)
        elif note.method == "subscription_ended":
            self._routes.pop(sid, None)  # type: ignore[arg-type]
            route._ended(note.params)

    # --- ending -----------------------------------------------------------

    def _abort(self, error: CoordinatorError) -> None:
        self._gone = error
        if self._transport is not None:
            self._transport.abort()

    def _lost_error(self, exc: Optional[Exception]) -> CoordinatorError:
        if self._closing:
            return CoordinatorConnectionError(
                "the connection to coordinatord at %s was closed by this client" % self.socket_path,
                self.socket_path,
            )
        if self._refusal is not None:
            return self._refusal
        why = ": %s" % exc if exc else ""
        return ConnectionLost(
            "the connection to coordinatord at %s was lost%s (the daemon stopped, was killed "
            "or closed the connection)" % (self.socket_path, why),
            self.socket_path,
        )

    def _failure(self, pending: int) -> CoordinatorError:
        """A fresh exception (one per raiser, so tracebacks do not pile up) saying why
        the connection is unusable."""
        gone = self._gone or self._lost_error(None)
        if isinstance(gone, RPCError):
            return type(gone)(gone.message, gone.code, gone.data)
        message = gone.message
        if pending and isinstance(gone, ConnectionLost):
            message += "; %d call(s) were waiting for an answer" % pending
        if isinstance(gone, CoordinatorConnectionError):
            return type(gone)(message, self.socket_path)
        return type(gone)(message)

    def close(self) -> None:
        if self._transport is not None and not self._closing:
            self._closing = True
            self._transport.close()

    async def wait_closed(self) -> None:
        if self._closed is not None:
            await asyncio.shield(self._closed)
