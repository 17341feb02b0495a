"""Helpers of the Python client's tests: a real coordinatord (from $COORDINATORD,
default build-test/daemon/coordinatord) on a temp socket and state dir."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, Optional, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIR = ROOT / "client" / "python"
sys.path.insert(0, str(CLIENT_DIR))

from coordinatord import CoordinatorClient  # noqa: E402

T = TypeVar("T")

#: The limits the tests go past; the modes they use.
BASE_CONFIG = """\
[daemon]
socket_mode = 0666
shutdown_grace_sec = 30

[mode:async]
kill_grace_ms = 500

[mode:one]
strategy = async
max_concurrency = 1
kill_grace_ms = 500

[mode:tiny]
strategy = async
max_concurrency = 1
max_queue = 1
kill_grace_ms = 500
"""

#: How long any single wait in a test may take before it counts as a hang.
PATIENCE = float(os.environ.get("COORD_TEST_PATIENCE", "60"))


def daemon_binary() -> Path:
    path = Path(os.environ.get("COORDINATORD", str(ROOT / "build-test" / "daemon" / "coordinatord")))
    if not os.access(path, os.X_OK):
        pytest.skip("no coordinatord binary at %s: build it (tools/test.sh does) or set COORDINATORD" % path)
    return path


def until(cond: Callable[[], bool], what: str, timeout: float = PATIENCE) -> None:
    """Poll ``cond`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for %s" % what)
        time.sleep(0.02)


class Daemon:
    """One coordinatord, started by the tests and stopped (or killed) by them."""

    def __init__(self, workdir: Path, config: str = BASE_CONFIG) -> None:
        self.dir = workdir
        self.socket = str(workdir / "s.sock")
        self.state = workdir / "state"
        self.config = workdir / "coordinatord.conf"
        self.logfile = workdir / "coordinatord.log"
        self.config.write_text(config)
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.killed = False

    def start(self) -> "Daemon":
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(
                [str(daemon_binary()), "--socket", self.socket, "--state-dir", str(self.state),
                 "--config", str(self.config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
        until(self._ready, "coordinatord to accept on %s" % self.socket)
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail("coordinatord exited with %s at start:\n%s" % (self.proc.returncode, self.log()))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(self.socket)
            except OSError:
                return False
        return True

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL: the daemon dies without a word to its clients."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(PATIENCE)
        self.killed = True

    def recover(self) -> None:
        """After a kill: start again on the same state dir, which stops what the killed
        daemon's tasks left running, then stop."""
        self.killed = False
        self.start()
        self.stop()

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(PATIENCE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail("coordinatord did not stop within %s s of SIGTERM" % PATIENCE)
        return self.proc.returncode

    def check_clean(self) -> None:
        """No sanitizer report in the daemon's log (when it is an ASan/UBSan build)."""
        text = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert marker not in text, "sanitizer report in the daemon's log:\n" + text

    def client(self, **kwargs: Any) -> CoordinatorClient:
        return CoordinatorClient(self.socket, **kwargs)


def daemon_with(factory: pytest.TempPathFactory, name: str, daemon_keys: str = "") -> Iterator[Daemon]:
    """For a module's fixture: a daemon with ``daemon_keys`` added to [daemon], stopped
    and checked at the end of the module."""
    config = BASE_CONFIG.replace("[daemon]\n", "[daemon]\n" + daemon_keys + "\n", 1)
    d = Daemon(factory.mktemp(name), config).start()
    yield d
    status = d.stop()
    d.check_clean()
    assert status == 0, "coordinatord exited with %d on SIGTERM:\n%s" % (status, d.log())


def run(coro: Awaitable[T]) -> T:
    """Run an async test body, failing (not hanging) after a while."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, PATIENCE * 3)

    return asyncio.run(bounded())


def child_env() -> Dict[str, str]:
    """Environment for a task that runs Python with the client from this tree."""
    return {"PYTHONPATH": str(CLIENT_DIR)}


def nobody_reason() -> Optional[str]:
    """Why this test cannot run Python as uid 65534 (None: it can)."""
    if os.geteuid() != 0:
        return "needs root to run a client as another uid"
    try:
        subprocess.run([sys.executable, "-c", "pass"], user=65534, group=65534, cwd="/",
                       env={"PYTHONPATH": str(CLIENT_DIR)}, check=True, timeout=PATIENCE,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        return "uid 65534 cannot run %s with the client: %s" % (sys.executable, e)
    return None
