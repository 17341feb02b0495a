"""A tree of tasks built from inside tasks with the client: each task's client takes
$COORD_SOCKET and $COORD_NODE_ID from the daemon, so its children hang under it."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from coordtest import PATIENCE, child_env
from coordinatord import CoordinatorClient

# Runs as a task. Level 0 fans out with the blocking face, level 1 with asyncio;
# level 2 is a leaf. Each parent waits for its children: in mode "one" (a single
# slot) that only finishes because a waiting parent lends its slot.
NODE = textwrap.dedent(
    """
    import asyncio, os, sys
    from coordinatord import Coordinator, CoordinatorClient

    level, fanout = int(sys.argv[1]), int(sys.argv[2])
    me = [sys.executable, os.path.abspath(__file__)]
    env = {"PYTHONPATH": os.environ["PYTHONPATH"]}
    if level == 0:
        with CoordinatorClient() as c:
            assert c.parent_node_id == os.environ["COORD_NODE_ID"]
            kids = [c.submit(me + ["1", str(fanout)], "one", env=env) for _ in range(fanout)]
            done = c.wait(kids, timeout=%(patience)s)
    elif level == 1:
        async def main():
            async with Coordinator.connect() as c:
                kids = await asyncio.gather(*(c.submit(me + ["2", "0"], "one", env=env) for _ in range(fanout)))
                return await c.wait(kids, timeout=%(patience)s)
        done = asyncio.run(main())
    else:
        done = []
    assert all(j.succeeded for j in done), done
    print(" ".join(j.request_id for j in done))
    """
) % {"patience": PATIENCE}


def test_tree_submitted_from_inside_tasks(client: CoordinatorClient, tmp_path: Path) -> None:
    script = tmp_path / "node.py"
    script.write_text(NODE)
    root = client.submit([sys.executable, str(script), "0", "2"], "one", env=child_env(), wait=True)
    assert root.message is not None and root.message.result is not None
    assert root.succeeded, root.message.result.stderr

    jobs = {j.request_id: j for page in client.status(run_id=root.request_id) for j in page.jobs}
    assert len(jobs) == 1 + 2 + 4
    assert all(j.succeeded for j in jobs.values())
    by_node = {j.child_node_id: j for j in jobs.values()}
    children = [j for j in jobs.values() if j.parent_node_id == root.child_node_id]
    assert sorted(root.message.result.stdout.split()) == sorted(j.request_id for j in children)
    assert len(children) == 2
    for child in children:
        grandchildren = [j for j in jobs.values() if j.parent_node_id == child.child_node_id]
        assert len(grandchildren) == 2
        assert all(g.name == "python3" or g.name.startswith("python") for g in grandchildren)
    for j in jobs.values():
        assert j.run_id == root.request_id
        if j is not root and j.request_id != root.request_id:
            assert j.parent_node_id in by_node
