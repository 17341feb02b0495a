"""A subscriber that falls behind is resumed from where it stopped: no gap, no
duplicate, whether the daemon ended its subscription (``lagged``) or the client
stopped it because too much waited unread."""
from __future__ import annotations

import uuid
from typing import Iterator, List, Tuple

import pytest

from coordtest import PATIENCE, Daemon, daemon_with, run, until
from coordinatord import Coordinator, Job, Message

N = 60
# ~20 KB of stdout each: a completion message carries it.
BIG = ["sh", "-c", "head -c 20000 /dev/zero | tr '\\0' x"]


@pytest.fixture(scope="module")
def lagging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon that lets a subscriber's connection hold only 64 KiB unsent."""
    yield from daemon_with(tmp_path_factory, "lag", "subscriber_buffer_bytes = 65536")


def submit_run(d: Daemon) -> Tuple[Job, List[Job]]:
    """A root and N big children, all closed, submitted over another connection."""
    with d.client() as other:
        root = other.submit(["true"], node_id="lag-" + uuid.uuid4().hex, wait=True)
        kids = [other.submit(BIG, parent_node_id=root.child_node_id) for _ in range(N)]
        kids = other.wait(kids, timeout=PATIENCE)
        assert all(k.succeeded for k in kids)
        return root, [other.job(k) for k in kids]


def check_complete(got: List[Message], kids: List[Job]) -> None:
    seqs = [m.seq for m in got]
    assert seqs == sorted(set(seqs)), "a duplicate or a message out of order"
    expected = sorted(k.message.seq for k in kids if k.message)
    assert seqs == expected, "a gap: %d of %d messages" % (len(seqs), len(expected))
    assert all(m.result is not None and len(m.result.stdout) == 20000 for m in got)


def test_daemon_lags_the_subscription_and_the_client_resumes(lagging: Daemon) -> None:
    lags_before = lagging.log().count("lagged at seq")

    async def body() -> None:
        async with Coordinator.connect(lagging.socket) as c:
            sub = c.subscribe(["request_success"])
            await sub.ready()
            first_id = sub.id
            # The event loop is blocked while the run happens elsewhere: this
            # connection is not read, so the daemon ends the subscription (lagged).
            root, kids = submit_run(lagging)
            until(lambda: lagging.log().count("lagged at seq") > lags_before, "the daemon to lag the subscriber")
            got: List[Message] = []
            while len(got) < N:
                m = await sub.next(PATIENCE)
                if m.run_id == root.request_id and m.request_id != root.request_id:
                    got.append(m)
            assert sub.resumed >= 1 and sub.id != first_id
            check_complete(got, kids)
            await sub.aclose()

    run(body())


def test_client_stops_and_resumes_an_unread_subscription(lagging: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(lagging.socket) as c:
            probe = await c.submit(["true"], node_id="probe-" + uuid.uuid4().hex, wait=True)
            run_id = probe.request_id
            # Only 100 KB may wait unread; the run produces about 1.2 MB of messages.
            sub = c.subscribe(["request_success"], max_buffer=100_000)
            await sub.ready()
            kids = [await c.submit(BIG, parent_node_id=probe.child_node_id) for _ in range(N)]
            await c.wait(kids, timeout=PATIENCE)  # the loop reads on, the subscription is not
            kids = [await c.job(k) for k in kids]
            got: List[Message] = []
            while len(got) < N:
                m = await sub.next(PATIENCE)
                if m.run_id == run_id:
                    got.append(m)
            assert sub.resumed >= 1
            check_complete(got, kids)
            await sub.aclose()

    run(body())


def test_blocking_subscription_resumes_too(lagging: Daemon) -> None:
    with lagging.client() as c:
        probe = c.submit(["true"], node_id="probe-" + uuid.uuid4().hex, wait=True)
        with c.subscribe(["request_success"], run_id=probe.request_id, max_buffer=100_000) as sub:
            kids = [c.submit(BIG, parent_node_id=probe.child_node_id) for _ in range(N)]
            kids = [c.job(k) for k in c.wait(kids, timeout=PATIENCE)]
            got = [sub.next(PATIENCE) for _ in range(N)]
            assert sub.resumed >= 1
            check_complete(got, kids)
            with pytest.raises(TimeoutError):
                sub.next(0.3)
