"""Fixtures of the Python client's tests (helpers in coordtest.py)."""
from __future__ import annotations

import faulthandler
from pathlib import Path
from typing import Iterator

import pytest

from coordtest import PATIENCE, Daemon, daemon_with
from coordinatord import CoordinatorClient


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from daemon_with(tmp_path_factory, "daemon")


@pytest.fixture
def fresh_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon of its own, for a test that stops or kills it."""
    d = Daemon(tmp_path)
    yield d
    if d.killed:
        d.recover()
    if d.proc is not None and d.proc.poll() is None:
        d.stop()
    d.check_clean()


@pytest.fixture
def client(daemon: Daemon) -> Iterator[CoordinatorClient]:
    with daemon.client() as c:
        yield c


@pytest.fixture(autouse=True)
def _hygiene(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never inherit a task's or a user's daemon, and never hang forever."""
    for var in ("COORD_SOCKET", "COORD_NODE_ID", "COORD_REQUEST_ID", "COORD_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    faulthandler.dump_traceback_later(PATIENCE * 5, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()
