"""The blocking face and the asyncio face give the same results for the same calls."""
from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any, Callable, Dict, List, Tuple

import pytest

from coordtest import PATIENCE, Daemon, run
from coordinatord import Coordinator, CoordinatorClient, CoordinatorError, Job, Message


def same_but_ids(a: Job, b: Job) -> None:
    """Two jobs of the same task submitted through the two faces."""
    skip = {"request_id", "child_node_id", "run_id", "start_time", "run_start_time", "end_time",
            "message", "task"}
    da = {k: v for k, v in dataclasses.asdict(a).items() if k not in skip}
    db = {k: v for k, v in dataclasses.asdict(b).items() if k not in skip}
    assert da == db
    # The stored Task differs only in the request_id each job got.
    ta = {k: v for k, v in (a.task or {}).items() if k != "request_id"}
    tb = {k: v for k, v in (b.task or {}).items() if k != "request_id"}
    assert ta == tb
    assert a.message is not None and b.message is not None
    assert a.message.result == b.message.result and a.message.error == b.message.error


def test_the_same_task_gives_the_same_job(daemon: Daemon) -> None:
    argv = ["sh", "-c", "echo out; echo err >&2; exit 7"]
    with daemon.client() as c:
        blocking = c.submit(argv, "one", name="seven", env={"A": "1"}, stdin="in", wait=True)

    async def body() -> Job:
        async with Coordinator.connect(daemon.socket) as c:
            return await c.submit(argv, "one", name="seven", env={"A": "1"}, stdin="in", wait=True)

    same_but_ids(blocking, run(body()))


def test_reads_agree(daemon: Daemon) -> None:
    node = "faces-" + uuid.uuid4().hex
    with daemon.client() as c:
        root = c.submit(["true"], node_id=node, wait=True)
        kids = [c.submit(["sh", "-c", "exit %d" % (i % 2)], parent_node_id=node) for i in range(5)]
        c.wait(kids)
        ids = [root.request_id] + [k.request_id for k in kids]
        b: Dict[str, Any] = {
            "job": [c.job(r) for r in ids],
            "wait": c.wait(ids, timeout=PATIENCE),
            "status": list(c.status(run_id=root.request_id, limit=2)),
            "failures": list(c.status(run_id=root.request_id, result="failure")),
            "modes": [(m.name, m.strategy, m.max_concurrency, m.max_queue) for m in c.modes()],
            "ping": (c.ping().version, c.ping().pid),
            "replay": replay_blocking(c, root.request_id),
        }

    async def body() -> Dict[str, Any]:
        async with Coordinator.connect(daemon.socket) as c:
            return {
                "job": [await c.job(r) for r in ids],
                "wait": await c.wait(ids, timeout=PATIENCE),
                "status": [p async for p in c.status(run_id=root.request_id, limit=2)],
                "failures": [p async for p in c.status(run_id=root.request_id, result="failure")],
                "modes": [(m.name, m.strategy, m.max_concurrency, m.max_queue) for m in await c.modes()],
                "ping": ((await c.ping()).version, (await c.ping()).pid),
                "replay": await replay_async(c, root.request_id),
            }

    a = run(body())
    for key in b:
        assert a[key] == b[key], key
    assert len(a["status"]) == 3 and len(a["replay"]) == 12


def replay_blocking(c: CoordinatorClient, run_id: str) -> List[Message]:
    with c.subscribe(run_id=run_id, since_seq=0) as sub:
        return [sub.next(PATIENCE) for _ in range(12)]


async def replay_async(c: Coordinator, run_id: str) -> List[Message]:
    async with c.subscribe(run_id=run_id, since_seq=0) as sub:
        return [await sub.next(PATIENCE) for _ in range(12)]


REFUSALS: List[Tuple[str, Callable[[Any], Any]]] = [
    ("job", lambda c: c.job("no-such")),
    ("wait", lambda c: c.wait(["no-such"])),
    ("cancel", lambda c: c.cancel("no-such")),
    ("mode", lambda c: c.submit(["true"], "gpu")),
    ("params", lambda c: c.submit([])),
    ("method", lambda c: c.call("frobnicate")),
    ("subscribe", lambda c: c.call("subscribe", {"types": ["nonsense"]})),
]


@pytest.mark.parametrize("name,call", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_errors_agree(daemon: Daemon, name: str, call: Callable[[Any], Any]) -> None:
    with daemon.client() as c:
        with pytest.raises(CoordinatorError) as blocking:
            call(c)

    async def body() -> BaseException:
        async with Coordinator.connect(daemon.socket) as c:
            with pytest.raises(CoordinatorError) as e:
                await call(c)
            return e.value

    asynchronous = run(body())
    assert type(asynchronous) is type(blocking.value)
    assert str(asynchronous) == str(blocking.value)


def test_listeners_agree(daemon: Daemon) -> None:
    r = "listen-" + uuid.uuid4().hex
    with daemon.client() as c:
        fut = c.listener(lambda m: m.request_id == r and m.is_completion)
        c.submit(["echo", "x"], request_id=r)
        blocking = fut.result(PATIENCE)

    async def body() -> Message:
        async with Coordinator.connect(daemon.socket) as c:
            return await asyncio.wait_for(c.listener(lambda m: m.request_id == r, since_seq=0, types=["request_success"]), PATIENCE)

    assert run(body()) == blocking
