"""The socket path is resolved exactly as libcoord resolves it (compared with coordctl)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from coordtest import CLIENT_DIR, PATIENCE, ROOT, nobody_reason
from coordinatord import socket_path
from coordinatord.paths import default_parent_node_id

COORDCTL = Path(os.environ.get("COORDCTL", str(ROOT / "build-test" / "client" / "coordctl")))


def test_rules_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COORD_SOCKET", "/env.sock")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/xdg")
    assert socket_path("/explicit.sock") == "/explicit.sock"
    assert socket_path(Path("/explicit.sock")) == "/explicit.sock"
    assert socket_path("") == "/env.sock"  # empty counts as not given
    assert socket_path() == "/env.sock"
    monkeypatch.setenv("COORD_SOCKET", "")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert socket_path() == "/run/coordinator/coordinatord.sock"
    monkeypatch.setattr(os, "geteuid", lambda: 1234)
    assert socket_path() == "/xdg/coordinator/coordinatord.sock"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "")
    assert socket_path() == "/run/user/1234/coordinator/coordinatord.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert socket_path() == "/run/user/1234/coordinator/coordinatord.sock"


def test_default_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_parent_node_id() is None
    monkeypatch.setenv("COORD_NODE_ID", "")
    assert default_parent_node_id() is None
    monkeypatch.setenv("COORD_NODE_ID", "n-1")
    assert default_parent_node_id() == "n-1"


def resolved(uid: Optional[int], env: Dict[str, str]) -> List[str]:
    """The path coordctl (libcoord) and this client pick, run as ``uid`` in ``env``."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(CLIENT_DIR)}
    kw = dict(env={**base, **env}, capture_output=True, text=True, timeout=PATIENCE, cwd="/")
    if uid is not None:
        kw.update(user=uid, group=uid)
    ctl = subprocess.run([str(COORDCTL), "ping"], **kw)  # type: ignore[call-overload]
    m = re.search(r"cannot connect to coordinatord at (\S+):", ctl.stderr)
    assert m, ctl.stderr
    py = subprocess.run([sys.executable, "-c", "import coordinatord; print(coordinatord.socket_path())"], **kw)  # type: ignore[call-overload]
    assert py.returncode == 0, py.stderr
    return [m.group(1), py.stdout.strip()]


CASES = [
    ("env", {"COORD_SOCKET": "/nonexistent/env.sock"}),
    ("empty-env", {"COORD_SOCKET": "", "XDG_RUNTIME_DIR": "/nonexistent/xdg"}),
    ("xdg", {"XDG_RUNTIME_DIR": "/nonexistent/xdg"}),
    ("no-xdg", {}),
]


@pytest.mark.skipif(not os.access(COORDCTL, os.X_OK), reason="no coordctl at %s" % COORDCTL)
@pytest.mark.parametrize("env", [c[1] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("uid", [None, 65534], ids=["me", "nobody"])
def test_same_path_as_libcoord(uid: Optional[int], env: Dict[str, str]) -> None:
    reason = nobody_reason() if uid is not None else None
    if reason:
        pytest.skip(reason)
    ctl, py = resolved(uid, env)
    assert ctl == py
