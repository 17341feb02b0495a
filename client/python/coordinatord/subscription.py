"""A subscription that never shows its caller a gap or a duplicate.

The daemon ends a subscription whose connection falls behind (``subscription_ended``,
reason ``lagged``, with ``resume_seq``); the client also stops one itself when more
than ``max_buffer`` bytes of messages wait unread. Either way, once the caller has
read everything that came before, it subscribes again with ``since_seq`` =
``resume_seq`` - 1, so the daemon replays the rest from its history, and it drops
any message whose ``seq`` it already delivered. Where the gap cannot be filled
(retention pruned the messages: ``subscription_ended`` with reason ``pruned``, or a
1001 on the resubscribe), the iteration raises NotFound after the messages before it. The state changes in the
connection's callbacks; ``__anext__`` only reads it, so cancelling a read loses
nothing.
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, Iterable, Optional, Tuple

from .errors import CoordinatorError, NotFound, ProtocolError, RPCError
from .objects import Message

if TYPE_CHECKING:
    from .connection import Connection

#: Unread messages a subscription keeps before it stops and resumes later (bytes of JSON).
DEFAULT_MAX_BUFFER = 8 << 20


class Subscription:
    """Live (and, with ``since_seq``, stored) messages, as an async iterator.

    Made by ``Coordinator.subscribe``, which sends the request at once: every
    message published after that point is seen. ``async with`` ends it with
    ``unsubscribe``; so does ``aclose()``.
    """

    def __init__(
        self,
        conn: "Connection",
        filters: Dict[str, Any],
        since_seq: Optional[int],
        max_buffer: int = DEFAULT_MAX_BUFFER,
    ) -> None:
        if max_buffer <= 0:
            raise ValueError("max_buffer must be a positive number of bytes")
        self._conn = conn
        self._filters = filters
        self._max_buffer = max_buffer
        self._queue: Deque[Tuple[Message, int]] = deque()
        self._bytes = 0
        self._id: Optional[int] = None
        self._requesting = False
        self._dropping = False
        self._resume_from: Optional[int] = None
        self._last_seq: Optional[int] = None
        self._error: Optional[BaseException] = None
        self._closed = False
        self._ready: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
        self._waiter: Optional["asyncio.Future[None]"] = None
        #: The last ``seq`` published when the daemon answered the first subscribe.
        self.seq: Optional[int] = None
        #: How many times it subscribed again after falling behind.
        self.resumed = 0
        conn.watch(self)
        self._request(since_seq)

    # --- public -----------------------------------------------------------

    @property
    def id(self) -> Optional[int]:
        """The daemon's subscription number now (it changes on a resume); None while none."""
        return self._id

    @property
    def last_seq(self) -> Optional[int]:
        """The ``seq`` of the last message handed to the caller."""
        return self._last_seq

    async def ready(self) -> "Subscription":
        """Wait for the daemon's answer to the first subscribe; raises its refusal."""
        await asyncio.shield(self._ready)
        return self

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Message:
        while True:
            if self._queue:
                message, size = self._queue.popleft()
                self._bytes -= size
                if self._last_seq is not None and message.seq <= self._last_seq:
                    continue  # a replay overlapping what was delivered
                self._last_seq = message.seq
                return message
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StopAsyncIteration
            if self._resume_from is not None and not self._requesting:
                since, self._resume_from = self._resume_from - 1, None
                self._dropping = False
                self.resumed += 1
                self._request(since)
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    async def next(self, timeout: Optional[float] = None) -> Message:
        """The next message; ``asyncio.TimeoutError`` after ``timeout`` seconds (None: forever).
        Raises StopAsyncIteration once the subscription has ended."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    async def __aenter__(self) -> "Subscription":
        return await self.ready()

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End the subscription (``unsubscribe``) and wait for the daemon's answer."""
        sid = self._close()
        if sid is not None and not self._conn.is_closed:
            try:
                await self._conn.call("unsubscribe", {"subscription": sid})
            except CoordinatorError:
                pass  # already ended by the daemon, or the connection is gone

    def close(self) -> None:
        """End the subscription without waiting for the daemon's answer."""
        sid = self._close()
        if sid is not None:
            self._conn.send_detached("unsubscribe", {"subscription": sid})

    # --- state ------------------------------------------------------------

    def _close(self) -> Optional[int]:
        self._closed = True
        self._conn.unwatch(self)
        sid, self._id = self._id, None
        if sid is not None:
            self._conn.unroute(sid)
        self._wake()
        return sid

    def _request(self, since_seq: Optional[int]) -> None:
        params = dict(self._filters)
        if since_seq is not None:
            params["since_seq"] = since_seq
        self._requesting = True
        try:
            self._conn.send("subscribe", params, hook=self._on_subscribed)
        except CoordinatorError as e:
            self._requesting = False
            self._fail(e)

    def _on_subscribed(self, result: Any, rpc_error: Optional[RPCError]) -> None:
        self._requesting = False
        error: Optional[CoordinatorError] = rpc_error
        if error is None:
            sid = result.get("subscription") if isinstance(result, dict) else None
            if not isinstance(sid, int):
                error = ProtocolError("subscribe answered without a subscription number: %r" % (result,))
            elif self._closed:
                self._conn.send_detached("unsubscribe", {"subscription": sid})
            else:
                self._id = sid
                self._conn.route(sid, self)
                if self.seq is None and isinstance(result.get("seq"), int):
                    self.seq = result["seq"]
        if error is not None:
            self._fail(error)
        elif not self._ready.done():
            self._ready.set_result(None)
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        if not self._ready.done():
            self._ready.set_exception(error)
            self._ready.exception()  # retrieved: the caller may never call ready()
        self._wake()

    def _deliver(self, message: Message, size: int) -> None:
        if self._dropping or self._closed:
            return
        if self._queue and self._bytes + size > self._max_buffer:
            self._fall_behind(message.seq)
            return
        self._queue.append((message, size))
        self._bytes += size
        self._wake()

    def _fall_behind(self, first_missed: int) -> None:
        """Too much unread: stop the daemon's subscription, resume from ``first_missed`` later."""
        self._dropping = True
        self._resume_from = first_missed
        sid, self._id = self._id, None
        if sid is not None:
            self._conn.unroute(sid)
            self._conn.send_detached("unsubscribe", {"subscription": sid})

    def _ended(self, params: Dict[str, Any]) -> None:
        """The daemon ended the subscription: resume after a lag; anything else is
        raised once the messages before it are read, never a silent gap."""
        sid, self._id = self._id, None
        reason, resume = params.get("reason"), params.get("resume_seq")
        if reason == "lagged" and isinstance(resume, int):
            self._resume_from = resume
            self._wake()
        elif reason == "pruned":
            oldest = params.get("oldest_seq")
            self._fail(NotFound(
                "messages from seq %s to %s were pruned by retention before this subscription "
                "got them; subscribe again with since_seq=%s to go on from what is kept"
                % (resume, oldest - 1 if isinstance(oldest, int) else "?",
                   oldest - 1 if isinstance(oldest, int) else "?"),
                NotFound.code,
                {"resume_seq": resume, "oldest_seq": oldest},
            ))
        else:
            self._fail(CoordinatorError("coordinatord ended subscription %s (reason: %s)" % (sid, reason)))

    def _connection_lost(self, error: CoordinatorError) -> None:
        self._id = None
        if not self._closed:
            self._fail(error)

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def filters(
    types: Optional[Iterable[str]],
    request_id: Optional[str],
    run_id: Optional[str],
) -> Dict[str, Any]:
    """The filter params of ``subscribe``."""
    out: Dict[str, Any] = {}
    if types is not None:
        if isinstance(types, str):
            types = [types]
        out["types"] = list(types)
    if request_id is not None:
        out["request_id"] = request_id
    if run_id is not None:
        out["run_id"] = run_id
    return out
