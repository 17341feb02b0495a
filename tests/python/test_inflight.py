"""Many requests in flight on one connection, answered out of order, matched by id."""
from __future__ import annotations

import asyncio
import threading
import uuid
from typing import List, Tuple

from coordtest import PATIENCE, Daemon, run
from coordinatord import Coordinator, Job

N = 1000


def test_thousand_submits_in_flight_on_one_connection(daemon: Daemon) -> None:
    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            tag = uuid.uuid4().hex[:8]
            ids = ["fly-%s-%04d" % (tag, i) for i in range(N)]
            # Every submit waits for its job to close, so answers come in the order
            # the jobs finish, not the order they were sent.
            # The first one sleeps, so it is answered well after the ones behind it.
            argvs = [["sleep", "0.5"]] + [["true"]] * (N - 1)
            calls = [asyncio.ensure_future(c.submit(a, request_id=r, wait=True)) for a, r in zip(argvs, ids)]
            answered: List[int] = []
            for i, call in enumerate(calls):
                call.add_done_callback(lambda _, i=i: answered.append(i))
            await asyncio.sleep(0)  # each call has written its request
            peak = c.in_flight
            jobs: List[Job] = await asyncio.gather(*calls)
            assert peak == N, "only %d of %d requests were in flight at once" % (peak, N)
            assert answered != sorted(answered) and answered[0] != 0, "answers came in order"
            assert [j.request_id for j in jobs] == ids
            assert all(j.succeeded and j.message is not None for j in jobs)
            assert all(j.message.request_id == j.request_id for j in jobs if j.message)
            assert c.in_flight == 0
            # The history agrees: N closed jobs carry these ids.
            seen = {j.request_id async for page in c.status(limit=10000) for j in page.jobs}
            assert set(ids) <= seen

    run(body())


def test_one_blocking_client_shared_by_threads(daemon: Daemon) -> None:
    with daemon.client() as c:
        results: List[Tuple[int, Job]] = []
        errors: List[BaseException] = []
        lock = threading.Lock()

        def worker(k: int) -> None:
            try:
                for _ in range(10):
                    job = c.submit(["sh", "-c", "echo %d" % k], wait=True)
                    with lock:
                        results.append((k, job))
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(PATIENCE)
        assert not errors and len(results) == 80
        assert len({j.request_id for _, j in results}) == 80
        for k, job in results:  # each thread got its own answers
            assert job.message and job.message.result and job.message.result.stdout == "%d\n" % k
