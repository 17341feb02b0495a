"""The blocking face, for scripts: ``with CoordinatorClient() as c: c.submit([...])``.

It is the asyncio face run on a private event loop in a background thread, so
both faces share one protocol core and give the same results. A client may be
used from several threads at once; their calls are in flight together on its
one connection. The client owns its thread and loop; ``close()`` ends both.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from typing import (
    Any,
    Callable,
    Coroutine,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    TypeVar,
    Union,
)

from .aio import FROM_ENV, Coordinator, _first_match
from .objects import Job, Message, Mode, Ping, StatusPage
from .params import Arg, JobRef
from .paths import default_parent_node_id, socket_path
from .subscription import DEFAULT_MAX_BUFFER, Subscription
from .connection import Connection
from .errors import CoordinatorConnectionError

_T = TypeVar("_T")


async def _apply(fn: Callable[[], _T]) -> _T:
    return fn()


class CoordinatorClient:
    """A blocking connection to coordinatord; the same methods as ``Coordinator``.

    ``CoordinatorClient(socket=None)`` (or ``CoordinatorClient.connect(...)``)
    connects at once; use it in a ``with`` block or call ``close()``.
    """

    def __init__(
        self,
        socket: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        parent_node_id: Optional[str] = FROM_ENV,
    ) -> None:
        path = socket_path(socket)
        parent = default_parent_node_id() if parent_node_id is FROM_ENV else parent_node_id
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="coordinatord-client", daemon=True
        )
        self._thread.start()
        try:
            conn = self._run(Connection.open(path))
        except BaseException:
            self._stop_loop()
            raise
        self._aio = Coordinator(conn, parent)

    @classmethod
    def connect(
        cls,
        socket: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        parent_node_id: Optional[str] = FROM_ENV,
    ) -> "CoordinatorClient":
        return cls(socket, parent_node_id=parent_node_id)

    # --- plumbing ---------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "a CoordinatorClient cannot be called from its own thread (from a listener's "
                "predicate): use another client, or the asyncio face"
            )
        if self._loop.is_closed():
            coro.close()
            raise CoordinatorConnectionError("this CoordinatorClient is closed", self._aio.socket_path)
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt: drop the call, keep the connection
            raise

    def _stop_loop(self) -> None:
        async def cancel_rest() -> None:
            me = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not me]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(cancel_rest(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()

    def close(self) -> None:
        """Close the connection and stop the client's thread."""
        if self._loop.is_closed():
            return
        self._run(self._aio.aclose())
        self._stop_loop()

    def __enter__(self) -> "CoordinatorClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def socket_path(self) -> str:
        return self._aio.socket_path

    @property
    def in_flight(self) -> int:
        return self._aio.in_flight

    @property
    def closed(self) -> bool:
        return self._aio.closed

    @property
    def parent_node_id(self) -> Optional[str]:
        """The default ``parent_node_id`` of submit ($COORD_NODE_ID inside a task)."""
        return self._aio.parent_node_id

    @parent_node_id.setter
    def parent_node_id(self, value: Optional[str]) -> None:
        self._aio.parent_node_id = value

    # --- methods (see Coordinator for what each does) ------------------------

    def call(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        return self._run(self._aio.call(method, params))

    def ping(self) -> Ping:
        return self._run(self._aio.ping())

    def submit(
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
        return self._run(
            self._aio.submit(
                argv, mode, name=name, env=env, cwd=cwd, stdin=stdin, timeout=timeout,
                after=after, after_policy=after_policy, wait=wait, request_id=request_id,
                node_id=node_id, parent_node_id=parent_node_id,
            )
        )

    def job(self, request_id: JobRef) -> Job:
        return self._run(self._aio.job(request_id))

    def wait(self, jobs: Union[JobRef, Iterable[JobRef]], timeout: Optional[float] = None) -> List[Job]:
        if not isinstance(jobs, (str, Job)):
            jobs = list(jobs)  # an iterator is read in this thread
        return self._run(self._aio.wait(jobs, timeout))

    def cancel(self, request_id: JobRef, cascade: bool = True) -> Job:
        return self._run(self._aio.cancel(request_id, cascade))

    def status_page(
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
        return self._run(
            self._aio.status_page(
                status=status, result=result, mode=mode, run_id=run_id,
                parent_node_id=parent_node_id, name=name, request_id_prefix=request_id_prefix,
                since=since, until=until, limit=limit, cursor=cursor,
            )
        )

    def status(
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
    ) -> Iterator[StatusPage]:
        """Pages of ``status``, fetched one at a time as the loop asks for them."""
        while True:
            page = self.status_page(
                status=status, result=result, mode=mode, run_id=run_id,
                parent_node_id=parent_node_id, name=name, request_id_prefix=request_id_prefix,
                since=since, until=until, limit=limit, cursor=cursor,
            )
            yield page
            if page.next is None:
                return
            cursor = page.next

    def subscribe(
        self,
        types: Optional[Iterable[str]] = None,
        *,
        request_id: Optional[str] = None,
        run_id: Optional[str] = None,
        since_seq: Optional[int] = None,
        max_buffer: int = DEFAULT_MAX_BUFFER,
    ) -> "BlockingSubscription":
        """Subscribe and wait for the daemon's answer (so it is live on return)."""
        if types is not None and not isinstance(types, str):
            types = list(types)
        sub = self._run(
            _apply(
                lambda: self._aio.subscribe(
                    types, request_id=request_id, run_id=run_id, since_seq=since_seq,
                    max_buffer=max_buffer,
                )
            )
        )
        blocking = BlockingSubscription(self, sub)
        try:
            self._run(sub.ready())
        except BaseException:
            blocking.close()
            raise
        return blocking

    def listener(
        self,
        predicate: Callable[[Message], bool],
        *,
        types: Optional[Iterable[str]] = None,
        request_id: Optional[str] = None,
        run_id: Optional[str] = None,
        since_seq: Optional[int] = None,
    ) -> "concurrent.futures.Future[Message]":
        """The seed's one-shot listener: a future of the first message for which
        ``predicate`` is true (``.result(timeout)``). Listening has begun on return;
        ``.cancel()`` stops it. ``predicate`` runs in the client's thread."""
        blocking = self.subscribe(types, request_id=request_id, run_id=run_id, since_seq=since_seq)
        return asyncio.run_coroutine_threadsafe(_first_match(blocking._sub, predicate), self._loop)

    def modes(self) -> List[Mode]:
        return self._run(self._aio.modes())

    def shutdown(self) -> None:
        self._run(self._aio.shutdown())

    def output(self, request_id: JobRef, stream: Optional[str] = None, offset: Optional[int] = None) -> Dict[str, Any]:
        return self._run(self._aio.output(request_id, stream, offset))

    def rerun(
        self, request_id: JobRef, new_request_id: Optional[str] = None, node: Optional[Mapping[str, Any]] = None
    ) -> Job:
        return self._run(self._aio.rerun(request_id, new_request_id, node))

    def mode_set(self, mode: str, max_concurrency: Optional[int] = None, paused: Optional[bool] = None) -> Mode:
        return self._run(self._aio.mode_set(mode, max_concurrency, paused))

    def metrics(self) -> Dict[str, Any]:
        return self._run(self._aio.metrics())


class BlockingSubscription:
    """A subscription read with ``for msg in sub`` or ``sub.next(timeout)``."""

    def __init__(self, client: CoordinatorClient, sub: Subscription) -> None:
        self._client = client
        self._sub = sub

    @property
    def id(self) -> Optional[int]:
        return self._sub.id

    @property
    def seq(self) -> Optional[int]:
        return self._sub.seq

    @property
    def resumed(self) -> int:
        return self._sub.resumed

    @property
    def last_seq(self) -> Optional[int]:
        return self._sub.last_seq

    def __iter__(self) -> "BlockingSubscription":
        return self

    def __next__(self) -> Message:
        return self.next()

    def next(self, timeout: Optional[float] = None) -> Message:
        """The next message. Raises TimeoutError after ``timeout`` seconds (None:
        forever), StopIteration once the subscription has ended."""
        try:
            return self._client._run(asyncio.wait_for(self._sub.__anext__(), timeout))
        except StopAsyncIteration:
            raise StopIteration from None
        except asyncio.TimeoutError:
            raise TimeoutError("no message within %s s" % timeout) from None

    def close(self) -> None:
        """``unsubscribe``, waiting for the daemon's answer."""
        if not self._client._loop.is_closed():
            self._client._run(self._sub.aclose())

    def __enter__(self) -> "BlockingSubscription":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
