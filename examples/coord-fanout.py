#!/usr/bin/env python3
"""coordinatord from Python: a fan-out of tasks into a tree, a live subscriber
printing completions, and a wait with a timeout.

    COORD_SOCKET=/tmp/c.sock python3 examples/coord-fanout.py [--children N] [--timeout S]

From the source tree, without installing: PYTHONPATH=client/python.

The root task runs this same file with --fan-out. Inside a task the client
finds the daemon through $COORD_SOCKET and takes $COORD_NODE_ID as the parent
of what it submits, so the children hang under the root in the tree. Exits 0
when every task succeeded, 1 when one failed, 124 on timeout.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from typing import Dict, List

import coordinatord
from coordinatord import COMPLETION_TYPES, Coordinator, CoordinatorClient, Job, Timeout


def fan_out(children: int) -> int:
    """In the root task, with the blocking face: submit the children, wait for them."""
    with CoordinatorClient() as c:
        jobs = [
            c.submit(["sh", "-c", "sleep 0.%d; echo child %d says hello" % (i, i)], name="child-%d" % i)
            for i in range(children)
        ]
        done = c.wait(jobs)
    failed = sum(not j.succeeded for j in done)
    print("%d children, %d failed" % (len(done), failed))
    return 1 if failed else 0


async def watch(sub: coordinatord.Subscription, root: str) -> None:
    """The live subscriber: each completion of the run as it happens."""
    async for msg in sub:
        out = msg.result.stdout.strip() if msg.result else ""
        kind = msg.error.kind if msg.error else "ok"
        print("  [seq %d] %s %s (%s) %s" % (msg.seq, msg.type, msg.request_id, kind, out))
        if msg.request_id == root:
            return


def print_tree(jobs: List[Job], root: Job) -> None:
    below: Dict[str, List[Job]] = {}
    for j in jobs:
        below.setdefault(j.parent_node_id or "", []).append(j)

    def show(job: Job, depth: int) -> None:
        took = "%.2fs" % job.duration if job.duration is not None else "running"
        print("  %s%s %s %s %s" % ("  " * depth, job.name, job.request_id, job.result or job.status, took))
        for kid in sorted(below.get(job.child_node_id, []), key=lambda k: k.start_time):
            show(kid, depth + 1)

    show(root, 0)


async def main(children: int, timeout: float) -> int:
    async with Coordinator.connect() as c:
        # Choose the root's request_id, so the subscriber can listen to its run
        # before anything is submitted: no completion can slip by.
        root_id = "fanout-" + uuid.uuid4().hex[:12]
        sub = c.subscribe(COMPLETION_TYPES, run_id=root_id)
        await sub.ready()
        here = os.path.dirname(os.path.dirname(os.path.abspath(coordinatord.__file__)))
        root = await c.submit(
            [sys.executable, os.path.abspath(__file__), "--fan-out", "--children", str(children)],
            name="fan-out", request_id=root_id, env={"PYTHONPATH": here},
        )
        print("submitted %s; completions as they come:" % root.request_id)
        watcher = asyncio.ensure_future(watch(sub, root.request_id))
        try:
            (root,) = await c.wait([root], timeout=timeout)
        except Timeout as e:
            print("timed out after %ss; still opened: %s"
                  % (timeout, ", ".join(j.request_id for j in e.jobs if not j.is_closed)))
            await c.cancel(root_id)  # and, cascading, its children
            await watcher  # their completions, the root's last
            return 124
        await watcher
        await sub.aclose()
        jobs = [j async for page in c.status(run_id=root_id) for j in page.jobs]
        print("the tree:")
        print_tree(jobs, root)
        return 0 if all(j.succeeded for j in jobs) else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--children", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the whole tree")
    ap.add_argument("--fan-out", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fan_out:
        sys.exit(fan_out(args.children))
    sys.exit(asyncio.run(main(args.children, args.timeout)))
