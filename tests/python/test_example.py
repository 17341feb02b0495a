"""examples/coord-fanout.py runs against the daemon: the tree, the live completions, the timeout."""
from __future__ import annotations

import os
import subprocess
import sys

from coordtest import CLIENT_DIR, PATIENCE, ROOT, Daemon

EXAMPLE = ROOT / "examples" / "coord-fanout.py"


def example(daemon: Daemon, *args: str) -> "subprocess.CompletedProcess[str]":
    env = {**os.environ, "COORD_SOCKET": daemon.socket, "PYTHONPATH": str(CLIENT_DIR)}
    return subprocess.run([sys.executable, str(EXAMPLE), *args], env=env, capture_output=True,
                          text=True, timeout=PATIENCE * 2)


def test_example_fans_out_watches_and_draws_the_tree(daemon: Daemon) -> None:
    out = example(daemon, "--children", "4")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    completions = [line for line in lines if "] request_success " in line]
    assert len(completions) == 5 and "4 children, 0 failed" in completions[-1]
    assert sum("says hello" in line for line in completions) == 4
    tree = lines[lines.index("the tree:") + 1:]
    assert tree[0].startswith("  fan-out fanout-") and len(tree) == 5
    assert all(line.startswith("    child-") and " success " in line for line in tree[1:])


def test_example_gives_up_after_its_timeout(daemon: Daemon) -> None:
    out = example(daemon, "--children", "3", "--timeout", "0.2")
    assert out.returncode == 124, out.stdout + out.stderr
    assert "timed out after 0.2s" in out.stdout
    assert out.stdout.count("(cancelled)") >= 1
