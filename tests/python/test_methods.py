"""Every method of the client against the real daemon, through the asyncio face
(test_faces.py shows the blocking face gives the same)."""
from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import List

import pytest

from coordtest import Daemon, run
from coordinatord import (
    Coordinator,
    CoordinatorClient,
    CoordinatorConnectionError,
    Job,
    Message,
    MethodNotFound,
    NotFound,
    StatusPage,
    Timeout,
)


def rid(prefix: str) -> str:
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def test_ping(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            ping = await c.ping()
            assert ping.pid == daemon.pid
            assert ping.version
            assert ping.uptime >= 0

    run(body())


def test_submit_every_task_field(daemon: Daemon, tmp_path: Path) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            r = rid("fields")
            job = await c.submit(
                ["sh", "-c", 'pwd; printf "%s" "$GREETING"; cat; echo oops >&2; exit 4'],
                "one",
                name="greeter",
                env={"GREETING": "hello"},
                cwd=tmp_path,
                stdin="from stdin",
                timeout=60,
                request_id=r,
                node_id=r + "-node",
                wait=True,
            )
            assert (job.request_id, job.child_node_id, job.name, job.mode) == (r, r + "-node", "greeter", "one")
            assert (job.status, job.phase, job.result, job.exit_code) == ("closed", "finished", "failure", 4)
            assert job.parent_node_id is None and job.run_id == r
            assert job.error is not None and job.error.kind == "exit"
            assert job.end_time is not None and job.end_time >= job.start_time
            assert job.duration is not None and not job.succeeded
            msg = job.message
            assert msg is not None and msg.type == "request_failure" and msg.request_id == r
            assert msg.result is not None
            assert msg.result.stdout == "%s\nhellofrom stdin" % tmp_path
            assert msg.result.stderr == "oops\n" and msg.result.exit_code == 4
            assert msg.error is not None and msg.error.exit_code == 4

    run(body())


def test_submit_without_wait_and_job(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            job = await c.submit(["sleep", "0.2"])
            assert job.status == "opened" and job.result is None and job.message is None
            assert job.phase in ("queued", "running") and job.end_time is None
            again = await c.job(job.request_id)
            assert again.request_id == job.request_id and again.start_time == job.start_time
            (done,) = await c.wait([job])
            assert done.status == "closed" and done.succeeded
            final = await c.job(job)  # a Job names itself
            assert final.message is not None and final.message.type == "request_success"
            assert final.message.seq > 0

    run(body())


def test_task_timeout_closes_as_timeout(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            job = await c.submit(["sleep", "30"], timeout=0.2, wait=True)
            assert job.result == "failure"
            assert job.error is not None and job.error.kind == "timeout"

    run(body())


def test_wait_several_in_order_and_with_timeout(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            slow = await c.submit(["sleep", "0.4"])
            fast = await c.submit(["true"])
            jobs = await c.wait([slow.request_id, fast], timeout=PATIENCE_S)
            assert [j.request_id for j in jobs] == [slow.request_id, fast.request_id]
            assert all(j.is_closed for j in jobs)
            assert await c.wait([]) == []

            stuck = await c.submit(["sleep", "30"])
            with pytest.raises(Timeout) as e:
                await c.wait(stuck, timeout=0.2)
            assert [j.request_id for j in e.value.jobs] == [stuck.request_id]
            assert e.value.jobs[0].status == "opened"
            await c.cancel(stuck)

    run(body())


PATIENCE_S = 60.0


def test_cancel_cascades_down_a_tree(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            root = await c.submit(["sleep", "30"], node_id=rid("root"))
            child = await c.submit(["sleep", "30"], parent_node_id=root.child_node_id, node_id=rid("c"))
            grandchild = await c.submit(["sleep", "30"], parent_node_id=child.child_node_id)
            assert child.run_id == root.request_id == grandchild.run_id
            cancelled = await c.cancel(root)
            assert cancelled.status == "closed" and cancelled.error is not None
            assert cancelled.error.kind == "cancelled"
            jobs = await c.wait([child, grandchild], timeout=PATIENCE_S)
            assert [j.error.kind for j in jobs if j.error] == ["cancelled", "cancelled"]

            lone = await c.submit(["sleep", "30"], node_id=rid("lone"))
            below = await c.submit(["sleep", "30"], parent_node_id=lone.child_node_id)
            await c.cancel(lone, cascade=False)
            assert (await c.job(below)).status == "opened"
            await c.cancel(below)

    run(body())


def test_status_pages_follow_the_cursor(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            root = await c.submit(["true"], node_id=rid("st"), wait=True)
            kids = [await c.submit(["true"], parent_node_id=root.child_node_id) for _ in range(5)]
            await c.wait(kids)
            pages: List[StatusPage] = [p async for p in c.status(run_id=root.request_id, limit=2)]
            assert [len(p.jobs) for p in pages] == [2, 2, 2]
            assert pages[-1].next is None and all(p.next for p in pages[:-1])
            seen = [j.request_id for p in pages for j in p.jobs]
            # newest first, the root last, each job once
            assert seen == [k.request_id for k in reversed(kids)] + [root.request_id]
            for p in pages:
                assert (p.counts.opened, p.counts.closed, p.counts.success, p.counts.failure) == (0, 6, 6, 0)

            direct = [j async for p in c.status(parent_node_id=root.child_node_id) for j in p.jobs]
            assert sorted(j.request_id for j in direct) == sorted(k.request_id for k in kids)
            failures = [p async for p in c.status(run_id=root.request_id, result="failure")]
            assert len(failures) == 1 and failures[0].jobs == [] and failures[0].counts.closed == 6
            one = await c.status_page(mode="one", limit=1)
            assert all(j.mode == "one" for j in one.jobs)

    run(body())


def test_subscribe_live_and_unsubscribe(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            r = rid("live")
            async with c.subscribe(["request_creation", "request_success"], request_id=r) as sub:
                assert sub.seq is not None and sub.id is not None
                await c.submit(["true"], request_id=r)
                got: List[Message] = [await sub.next(PATIENCE_S), await sub.next(PATIENCE_S)]
                assert [m.type for m in got] == ["request_creation", "request_success"]
                assert all(m.request_id == r for m in got) and got[0].seq < got[1].seq
                assert got[0].seq > sub.seq
            # ended by the async with: the daemon no longer has it
            with pytest.raises(NotFound):
                await c.call("unsubscribe", {"subscription": sub.id or 0})

    run(body())


def test_subscribe_since_seq_replays_then_goes_live(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            r = rid("replay")
            done = await c.submit(["true"], request_id=r, wait=True)
            assert done.message is not None
            sub = c.subscribe(request_id=r, since_seq=0)
            first = await sub.next(PATIENCE_S)
            second = await sub.next(PATIENCE_S)
            assert (first.type, second.type) == ("request_creation", "request_success")
            assert second.seq == done.message.seq
            with pytest.raises(asyncio.TimeoutError):
                await sub.next(0.3)  # nothing else about r
            await sub.aclose()
            with pytest.raises(StopAsyncIteration):
                await sub.next(1)

    run(body())


def test_subscribe_run_id_filter(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            root = await c.submit(["sleep", "0.3"], node_id=rid("sr"))
            async with c.subscribe(["request_success"], run_id=root.request_id) as sub:
                kid = await c.submit(["true"], parent_node_id=root.child_node_id)
                await c.submit(["true"])  # another run: not seen
                ids = {(await sub.next(PATIENCE_S)).request_id for _ in range(2)}
                assert ids == {root.request_id, kid.request_id}

    run(body())


def test_listener_resolves_on_first_match(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            r = rid("listen")
            done = c.listener(lambda m: m.request_id == r and m.is_completion)
            await c.submit(["sh", "-c", "echo found"], request_id=r)
            msg = await asyncio.wait_for(done, PATIENCE_S)
            assert msg.type == "request_success" and msg.result is not None
            assert msg.result.stdout == "found\n"

            never = c.listener(lambda m: False)
            await asyncio.sleep(0)
            never.cancel()
            with pytest.raises(asyncio.CancelledError):
                await never

    run(body())


def test_modes(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            modes = {m.name: m for m in await c.modes()}
            assert set(modes) >= {"async", "one", "tiny"}
            assert modes["one"].max_concurrency == 1 and modes["one"].strategy == "async"
            assert modes["tiny"].max_queue == 1
            assert modes["async"].running >= 0 and modes["async"].queued >= 0

    run(body())


def test_call_raw(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            assert (await c.call("ping"))["pid"] == daemon.pid
            with pytest.raises(MethodNotFound) as e:
                await c.call("frobnicate")
            assert "frobnicate" in str(e.value)

    run(body())


def test_shutdown(fresh_daemon: Daemon) -> None:
    fresh_daemon.start()
    with fresh_daemon.client() as c:
        c.shutdown()
    assert fresh_daemon.proc is not None
    assert fresh_daemon.proc.wait(PATIENCE_S) == 0
    assert not os.path.exists(fresh_daemon.socket)


def test_parent_node_id_comes_from_coord_node_id(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    root_node = rid("envroot")
    with daemon.client() as c:
        root = c.submit(["true"], node_id=root_node, wait=True)
    monkeypatch.setenv("COORD_NODE_ID", root_node)
    with daemon.client() as c:
        assert c.parent_node_id == root_node
        kid = c.submit(["true"])
        orphan = c.submit(["true"], parent_node_id=None)
    with daemon.client(parent_node_id=None) as c:
        other = c.submit(["true"])
    assert kid.parent_node_id == root_node and kid.run_id == root.request_id
    assert orphan.parent_node_id is None and other.parent_node_id is None


# --- v2 methods: thin wrappers, tested once the daemon has them ---------------


def v2(call):  # type: ignore[no-untyped-def]
    try:
        return call()
    except MethodNotFound as e:
        pytest.skip("the daemon has no such method yet (-32601: %s)" % e)


def test_v2_output(client: CoordinatorClient) -> None:
    job = client.submit(["sh", "-c", "echo kept"], wait=True)
    out = v2(lambda: client.output(job))
    assert "".join(ch["data"] for ch in out["chunks"] if ch["stream"] == "stdout") == "kept\n"
    assert out["eof"] is True


def test_v2_rerun(client: CoordinatorClient) -> None:
    job = client.submit(["sh", "-c", "echo again"], wait=True)
    new = v2(lambda: client.rerun(job))
    assert isinstance(new, Job) and new.rerun_of == job.request_id
    (done,) = client.wait([new], timeout=PATIENCE_S)
    assert done.succeeded


def test_v2_mode_set(client: CoordinatorClient) -> None:
    mode = v2(lambda: client.mode_set("one", paused=True))
    try:
        assert mode.name == "one" and mode.paused is True
    finally:
        client.mode_set("one", paused=False)


def test_v2_metrics(client: CoordinatorClient) -> None:
    metrics = v2(lambda: client.metrics())
    assert isinstance(metrics, dict) and "prometheus" in metrics


def test_blocking_client_misuse_is_an_error_not_a_deadlock(daemon: Daemon) -> None:
    c = daemon.client()
    # A listener's predicate runs in the client's thread: calling back into it would deadlock.
    fut = c.listener(lambda m: c.ping() is not None)
    c.submit(["true"])
    with pytest.raises(RuntimeError, match="own thread"):
        fut.result(PATIENCE_S)
    c.close()
    with pytest.raises(CoordinatorConnectionError, match="closed"):
        c.ping()
    c.close()  # a second close is harmless
