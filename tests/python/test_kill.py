"""The daemon killed under a waiting call: a clear connection error, never a hang."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from coordtest import PATIENCE, Daemon, run, until
from coordinatord import ConnectionLost, Coordinator, CoordinatorConnectionError


def test_async_calls_and_subscription_fail_when_the_daemon_is_killed(fresh_daemon: Daemon) -> None:
    fresh_daemon.start()

    async def body() -> None:
        async with Coordinator.connect(fresh_daemon.socket) as c:
            job = await c.submit(["sleep", "30"])
            waiting = asyncio.ensure_future(c.wait([job]))
            submitting = asyncio.ensure_future(c.submit(["sleep", "30"], wait=True))
            sub = c.subscribe(["request_success"])
            await sub.ready()
            reading = asyncio.ensure_future(sub.next())
            await asyncio.sleep(0.2)
            assert not waiting.done() and not submitting.done() and c.in_flight == 2
            killed_at = time.monotonic()
            fresh_daemon.kill()
            for fut in (waiting, submitting, reading):
                with pytest.raises(ConnectionLost) as e:
                    await asyncio.wait_for(fut, PATIENCE)
                assert fresh_daemon.socket in str(e.value) and "lost" in str(e.value)
            assert time.monotonic() - killed_at < PATIENCE
            # The connection stays unusable, with the same clear error.
            with pytest.raises(ConnectionLost):
                await c.ping()
            assert c.closed and c.in_flight == 0

    run(body())


def test_blocking_wait_fails_when_the_daemon_is_killed(fresh_daemon: Daemon) -> None:
    fresh_daemon.start()
    with fresh_daemon.client() as c:
        job = c.submit(["sleep", "30"])

        def kill_once_waiting() -> None:
            until(lambda: c.in_flight == 1, "the wait to be sent")
            fresh_daemon.kill()

        killer = threading.Thread(target=kill_once_waiting)
        killer.start()
        with pytest.raises(CoordinatorConnectionError) as e:
            c.wait([job])
        killer.join(PATIENCE)
        assert isinstance(e.value, ConnectionLost) and isinstance(e.value, ConnectionError)
        assert "1 call(s) were waiting" in str(e.value)


def test_closing_the_client_ends_its_waiting_calls(daemon: Daemon) -> None:
    async def body() -> None:
        c = await Coordinator.connect(daemon.socket)
        job = await c.submit(["sleep", "30"])
        waiting = asyncio.ensure_future(c.wait([job]))
        await asyncio.sleep(0.1)
        await c.aclose()
        with pytest.raises(CoordinatorConnectionError, match="closed by this client"):
            await asyncio.wait_for(waiting, PATIENCE)
        async with Coordinator.connect(daemon.socket) as other:
            await other.cancel(job)

    run(body())
