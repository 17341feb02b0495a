"""The asyncio face: ``async with Coordinator.connect() as c: job = await c.submit([...])``."""
from __future__ import annotations

import asyncio
import functools
import os
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Dict,
    Generator,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Union,
)

from . import params as P
from .connection import Connection
from .errors import CoordinatorError, ProtocolError
from .objects import Job, Message, Mode, Ping, StatusPage
from .params import Arg, JobRef
from .paths import default_parent_node_id, socket_path
from .subscription import DEFAULT_MAX_BUFFER, Subscription, filters

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    _P = ParamSpec("_P")


class _Unset:
    def __repr__(self) -> str:
        return "<from $COORD_NODE_ID>"


#: The default of ``parent_node_id``: the connection's, taken from $COORD_NODE_ID.
FROM_ENV: Any = _Unset()


def _result_object(result: Any, method: str) -> Dict[str, Any]:
    if not isinstance(result, dict):
        raise ProtocolError("%s answered %r, not an object" % (method, result))
    return result


def _job(result: Any, method: str) -> Job:
    obj = _result_object(result, method)
    return Job.from_wire(obj.get("job"), obj.get("message"))


def _jobs(result: Any, method: str) -> List[Job]:
    jobs = _result_object(result, method).get("jobs")
    if not isinstance(jobs, list):
        raise ProtocolError("%s answered without a jobs array" % method)
    return [Job.from_wire(j) for j in jobs]


def _pages(
    page: "Callable[Concatenate[Coordinator, _P], Coroutine[Any, Any, StatusPage]]",
) -> "Callable[Concatenate[Coordinator, _P], AsyncIterator[StatusPage]]":
    """``status`` from ``status_page``: page after page, following the cursor."""

    async def status(self: "Coordinator", /, *args: "_P.args", **kwargs: "_P.kwargs") -> AsyncIterator[StatusPage]:
        """The seed's system_detail(), page after page: ``async for page in c.status(run_id=r)``.

        Each page has ``counts`` (over every matching job; ``status`` and ``result``
        filter the pages, not the counts), ``jobs`` (newest first, at most ``limit``)
        and ``next``. ``name``, ``request_id_prefix``, ``since`` and ``until`` need a
        v2 daemon (an older one ignores them: they filter nothing).
        """
        while True:
            result = await page(self, *args, **kwargs)
            yield result
            if result.next is None:
                return
            kwargs["cursor"] = result.next

    doc = status.__doc__
    functools.update_wrapper(status, page)  # the signature of status_page, for help()
    status.__name__, status.__qualname__, status.__doc__ = "status", "Coordinator.status", doc
    return status


class Coordinator:
    """A connection to coordinatord, for asyncio code.

    Any number of calls may be in flight at once (``asyncio.gather`` them); each
    is answered by id. Open one with ``Coordinator.connect()``, either as
    ``async with Coordinator.connect() as c:`` or ``c = await Coordinator.connect()``
    (then ``await c.aclose()``).
    """

    def __init__(self, conn: Connection, parent_node_id: Optional[str]) -> None:
        self._conn = conn
        #: The ``parent_node_id`` of every submit that does not name one: by default
        #: $COORD_NODE_ID, so code running inside a task submits its children.
        self.parent_node_id = parent_node_id

    @staticmethod
    def connect(
        socket: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        parent_node_id: Optional[str] = FROM_ENV,
    ) -> "_Connector":
        """Connect to the daemon at ``socket`` (None: found as libcoord finds it:
        $COORD_SOCKET, then the per-uid default)."""
        parent = default_parent_node_id() if parent_node_id is FROM_ENV else parent_node_id
        return _Connector(socket_path(socket), parent)

    @property
    def socket_path(self) -> str:
        return self._conn.socket_path

    @property
    def in_flight(self) -> int:
        """How many requests on this connection wait for their answer now."""
        return self._conn.in_flight

    @property
    def closed(self) -> bool:
        return self._conn.is_closed

    async def aclose(self) -> None:
        """Close the connection; calls still waiting raise CoordinatorConnectionError."""
        self._conn.close()
        await self._conn.wait_closed()

    async def __aenter__(self) -> "Coordinator":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # --- methods ----------------------------------------------------------

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        """Any method, raw: ``params`` as the wire has them, the result as decoded JSON."""
        return await self._conn.call(method, params)

    async def ping(self) -> Ping:
        return Ping.from_wire(await self._conn.call("ping"))

    async def submit(
        self,
        argv: Sequence[Arg],
        mode: Optional[str] = None,
        *,
        name: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[Arg] = None,
        stdin: Optional[str] = None,
        timeout: Optional[float] = None,
        after: Optional[Iterable[JobRef]] = None,
        after_policy: Optional[str] = None,
        wait: bool = False,
        request_id: Optional[str] = None,
        node_id: Optional[str] = None,
        parent_node_id: Optional[str] = FROM_ENV,
    ) -> Job:
        """Submit a task: run ``argv`` in ``mode`` (None: the daemon's default, "async").

        ``timeout`` is in seconds (None: no limit); ``env`` is added to the task's
        environment; ``stdin`` is fed to it. ``after`` (v2 daemons) names jobs that must
        close first. With ``wait`` the answer comes once the job is closed, and
        ``job.message`` holds its closing message (exit code, stdout, stderr).
        ``parent_node_id`` defaults to the connection's (``$COORD_NODE_ID`` inside a
        task); pass None for a root request.
        """
        parent = self.parent_node_id if parent_node_id is FROM_ENV else parent_node_id
        task = P.task(
            argv, mode=mode, name=name, env=env, cwd=cwd, stdin=stdin, timeout=timeout,
            after=after, after_policy=after_policy, wait=wait, request_id=request_id,
            node_id=node_id, parent_node_id=parent,
        )
        return _job(await self._conn.call("submit", task), "submit")

    async def job(self, request_id: JobRef) -> Job:
        """The job as it is now; ``job.message`` is its closing message once closed."""
        return _job(await self._conn.call("job", {"request_id": P.request_id_of(request_id)}), "job")

    async def wait(self, jobs: Union[JobRef, Iterable[JobRef]], timeout: Optional[float] = None) -> List[Job]:
        """Wait until every one of ``jobs`` is closed; their final state, in order.

        Raises ``Timeout`` (whose ``jobs`` shows every one as it was) once ``timeout``
        seconds have passed; None waits as long as it takes.
        """
        p: Dict[str, Any] = {"request_ids": P.request_ids_of(jobs)}
        if timeout is not None:
            p["timeout_ms"] = P.milliseconds(timeout, "timeout")
        return _jobs(await self._conn.call("wait", p), "wait")

    async def cancel(self, request_id: JobRef, cascade: bool = True) -> Job:
        """Cancel a job (and, with ``cascade``, everything below it); answers once closed."""
        p = {"request_id": P.request_id_of(request_id), "cascade": bool(cascade)}
        return _job(await self._conn.call("cancel", p), "cancel")

    async def status_page(
        self,
        *,
        status: Optional[str] = None,
        result: Optional[str] = None,
        mode: Optional[str] = None,
        run_id: Optional[str] = None,
        parent_node_id: Optional[str] = None,
        name: Optional[str] = None,
        request_id_prefix: Optional[str] = None,
        since: Optional[float] = None,
        until: Optional[float] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> StatusPage:
        """One page of ``status``: ``cursor`` is the ``next`` of the page before."""
        p = P.optional(
            status=status, result=result, mode=mode, run_id=run_id, parent_node_id=parent_node_id,
            name=name, request_id_prefix=request_id_prefix, since=since, until=until,
            limit=limit, cursor=cursor,
        )
        return StatusPage.from_wire(await self._conn.call("status", p))

    status = _pages(status_page)

    def subscribe(
        self,
        types: Optional[Iterable[str]] = None,
        *,
        request_id: Optional[str] = None,
        run_id: Optional[str] = None,
        since_seq: Optional[int] = None,
        max_buffer: int = DEFAULT_MAX_BUFFER,
    ) -> Subscription:
        """Messages as they are published: ``async for msg in c.subscribe(...)``.

        The request is sent before this returns, so nothing published afterwards
        is missed. With ``since_seq`` the stored messages after it come first. A
        subscriber that falls behind is resumed from where it stopped, with no gap
        and no duplicate; ``max_buffer`` bounds the unread messages kept meanwhile.
        """
        return Subscription(self._conn, filters(types, request_id, run_id), since_seq, max_buffer)

    def listener(
        self,
        predicate: Callable[[Message], bool],
        *,
        types: Optional[Iterable[str]] = None,
        request_id: Optional[str] = None,
        run_id: Optional[str] = None,
        since_seq: Optional[int] = None,
    ) -> "asyncio.Future[Message]":
        """The seed's one-shot listener: a future of the first message for which
        ``predicate`` is true. It listens from the moment of this call; cancel the
        future to stop listening."""
        sub = self.subscribe(types, request_id=request_id, run_id=run_id, since_seq=since_seq)
        return asyncio.ensure_future(_first_match(sub, predicate))

    async def modes(self) -> List[Mode]:
        modes = _result_object(await self._conn.call("modes"), "modes").get("modes")
        if not isinstance(modes, list):
            raise ProtocolError("modes answered without a modes array")
        return [Mode.from_wire(m) for m in modes]

    async def shutdown(self) -> None:
        """Ask the daemon to drain and exit (root and the daemon's user only)."""
        await self._conn.call("shutdown")

    # --- v2 methods: thin, for daemons that have them -----------------------

    async def output(
        self, request_id: JobRef, stream: Optional[str] = None, offset: Optional[int] = None
    ) -> Dict[str, Any]:
        """(v2) The output kept for a job: ``{"chunks": [...], "eof": bool}``."""
        p = P.optional(request_id=P.request_id_of(request_id), stream=stream, offset=offset)
        return _result_object(await self._conn.call("output", p), "output")

    async def rerun(
        self,
        request_id: JobRef,
        new_request_id: Optional[str] = None,
        node: Optional[Mapping[str, Any]] = None,
    ) -> Job:
        """(v2) Run a closed job's stored task again, as a new job."""
        p = P.optional(
            request_id=P.request_id_of(request_id), new_request_id=new_request_id,
            node=dict(node) if node is not None else None,
        )
        return _job(await self._conn.call("rerun", p), "rerun")

    async def mode_set(
        self, mode: str, max_concurrency: Optional[int] = None, paused: Optional[bool] = None
    ) -> Mode:
        """(v2) Change a mode's concurrency or pause it, until the daemon reloads."""
        p = P.optional(mode=mode, max_concurrency=max_concurrency, paused=paused)
        return Mode.from_wire(_result_object(await self._conn.call("mode_set", p), "mode_set").get("mode"))

    async def metrics(self) -> Dict[str, Any]:
        """(v2) The daemon's counters and gauges."""
        return _result_object(await self._conn.call("metrics"), "metrics")


async def _first_match(sub: Subscription, predicate: Callable[[Message], bool]) -> Message:
    try:
        async for message in sub:
            if predicate(message):
                return message
        raise CoordinatorError("the subscription ended before a matching message arrived")
    finally:
        sub.close()


class _Connector(Awaitable[Coordinator]):
    """What ``Coordinator.connect`` returns: await it, or use it with ``async with``."""

    def __init__(self, path: str, parent_node_id: Optional[str]) -> None:
        self._path = path
        self._parent = parent_node_id
        self._coordinator: Optional[Coordinator] = None

    async def _open(self) -> Coordinator:
        return Coordinator(await Connection.open(self._path), self._parent)

    def __await__(self) -> Generator[Any, None, Coordinator]:
        return self._open().__await__()

    async def __aenter__(self) -> Coordinator:
        self._coordinator = await self._open()
        return self._coordinator

    async def __aexit__(self, *exc: Any) -> None:
        if self._coordinator is not None:
            await self._coordinator.aclose()
