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
import functools
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Iterator, Optional, TypeVar, Union

from .aio import FROM_ENV, Coordinator
from .connection import Connection
from .errors import CoordinatorConnectionError
from .objects import Message, StatusPage
from .paths import default_parent_node_id, socket_path
from .subscription import Subscription

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    _P = ParamSpec("_P")

_T = TypeVar("_T")


async def _apply(fn: Callable[[], _T]) -> _T:
    return fn()


async def _await(future: "asyncio.Future[_T]") -> _T:
    return await future


def _blocking(
    method: "Callable[Concatenate[Coordinator, _P], Coroutine[Any, Any, _T]]",
) -> "Callable[Concatenate[CoordinatorClient, _P], _T]":
    """The blocking twin of a Coordinator method: runs it on the client's loop and waits."""

    @functools.wraps(method)
    def blocking(self: "CoordinatorClient", /, *args: "_P.args", **kwargs: "_P.kwargs") -> _T:
        return self._run(method(self._aio, *args, **kwargs))

    return blocking


def _blocking_pages(
    page: "Callable[Concatenate[Coordinator, _P], Coroutine[Any, Any, StatusPage]]",
) -> "Callable[Concatenate[CoordinatorClient, _P], Iterator[StatusPage]]":
    """``status``: pages fetched one at a time, as the loop asks for them."""

    def status(self: "CoordinatorClient", /, *args: "_P.args", **kwargs: "_P.kwargs") -> Iterator[StatusPage]:
        while True:
            result = self._run(page(self._aio, *args, **kwargs))
            yield result
            if result.next is None:
                return
            kwargs["cursor"] = result.next

    functools.update_wrapper(status, page)  # the signature of status_page, for help()
    status.__name__, status.__qualname__ = "status", "CoordinatorClient.status"
    status.__doc__ = Coordinator.status.__doc__
    return status


def _blocking_subscribe(
    subscribe: "Callable[Concatenate[Coordinator, _P], Subscription]",
) -> "Callable[Concatenate[CoordinatorClient, _P], BlockingSubscription]":
    """``subscribe``, returning once the daemon has answered (so it is live)."""

    @functools.wraps(subscribe)
    def blocking(self: "CoordinatorClient", /, *args: "_P.args", **kwargs: "_P.kwargs") -> "BlockingSubscription":
        sub = BlockingSubscription(self, self._run(_apply(lambda: subscribe(self._aio, *args, **kwargs))))
        try:
            self._run(sub._sub.ready())
        except BaseException:
            sub.close()
            raise
        return sub

    return blocking


def _blocking_listener(
    listener: "Callable[Concatenate[Coordinator, _P], asyncio.Future[Message]]",
) -> "Callable[Concatenate[CoordinatorClient, _P], concurrent.futures.Future[Message]]":
    """``listener``, as a concurrent.futures.Future (``.result(timeout)``, ``.cancel()``).
    The predicate runs in the client's thread and must not call the same client."""

    @functools.wraps(listener)
    def blocking(self: "CoordinatorClient", /, *args: "_P.args", **kwargs: "_P.kwargs") -> "concurrent.futures.Future[Message]":
        future = self._run(_apply(lambda: listener(self._aio, *args, **kwargs)))
        return asyncio.run_coroutine_threadsafe(_await(future), self._loop)

    return blocking


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

    # --- methods: Coordinator's, with the same parameters and docs -------------

    call = _blocking(Coordinator.call)
    ping = _blocking(Coordinator.ping)
    submit = _blocking(Coordinator.submit)
    job = _blocking(Coordinator.job)
    wait = _blocking(Coordinator.wait)
    cancel = _blocking(Coordinator.cancel)
    status_page = _blocking(Coordinator.status_page)
    status = _blocking_pages(Coordinator.status_page)
    subscribe = _blocking_subscribe(Coordinator.subscribe)
    listener = _blocking_listener(Coordinator.listener)
    modes = _blocking(Coordinator.modes)
    shutdown = _blocking(Coordinator.shutdown)
    output = _blocking(Coordinator.output)
    rerun = _blocking(Coordinator.rerun)
    mode_set = _blocking(Coordinator.mode_set)
    metrics = _blocking(Coordinator.metrics)


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
