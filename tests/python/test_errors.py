"""Each error class, from a real refusal by the daemon, carrying the daemon's message."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from coordtest import CLIENT_DIR, PATIENCE, Daemon, daemon_with, nobody_reason, run
import coordinatord
from coordinatord import (
    Busy,
    Conflict,
    Coordinator,
    CoordinatorClient,
    CoordinatorConnectionError,
    CoordinatorError,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    NotFound,
    PermissionDenied,
    RPCError,
    ShuttingDown,
    Timeout,
    UnknownMode,
)


@pytest.fixture(scope="module")
def small_lines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon that reads request lines of at most 4 KiB."""
    yield from daemon_with(tmp_path_factory, "small", "max_line_bytes = 4096")


def test_hierarchy_is_keyed_by_code() -> None:
    codes = {
        NotFound: 1001, Conflict: 1002, UnknownMode: 1003, PermissionDenied: 1004,
        Busy: 1005, ShuttingDown: 1006, Timeout: 1007, InvalidParams: -32602,
        MethodNotFound: -32601, InvalidRequest: -32600,
    }
    for cls, code in codes.items():
        assert cls.code == code and issubclass(cls, RPCError) and issubclass(cls, CoordinatorError)
    assert issubclass(CoordinatorConnectionError, ConnectionError)
    assert issubclass(coordinatord.ConnectionLost, CoordinatorConnectionError)


def test_not_found(client: CoordinatorClient) -> None:
    with pytest.raises(NotFound) as e:
        client.job("no-such-job")
    assert e.value.code == 1001 and str(e.value) == 'not found: no job has request_id "no-such-job"'
    with pytest.raises(NotFound, match="ghost"):
        client.wait(["ghost"])
    with pytest.raises(NotFound):
        client.cancel("ghost")


def test_conflict(client: CoordinatorClient) -> None:
    job = client.submit(["true"], wait=True)
    with pytest.raises(Conflict) as e:
        client.submit(["true"], request_id=job.request_id)
    assert e.value.message == 'request_id "%s" was used before' % job.request_id
    with pytest.raises(Conflict, match="already closed"):
        client.cancel(job)


def test_unknown_mode(client: CoordinatorClient) -> None:
    with pytest.raises(UnknownMode) as e:
        client.submit(["true"], "gpu")
    assert str(e.value) == 'unknown mode "gpu"'


def test_busy(client: CoordinatorClient) -> None:
    running = client.submit(["sleep", "30"], "tiny")
    queued = client.submit(["sleep", "30"], "tiny")
    try:
        assert queued.phase == "queued"
        with pytest.raises(Busy) as e:
            client.submit(["sleep", "30"], "tiny")
        assert str(e.value) == 'the queue of mode "tiny" is full'
    finally:
        client.cancel(queued)
        client.cancel(running)


def test_timeout(client: CoordinatorClient) -> None:
    job = client.submit(["sleep", "30"])
    try:
        with pytest.raises(Timeout) as e:
            client.wait(job, timeout=0.1)
        assert "timeout" in str(e.value) and e.value.jobs[0].request_id == job.request_id
    finally:
        client.cancel(job)


def test_invalid_params(client: CoordinatorClient) -> None:
    with pytest.raises(InvalidParams) as e:
        client.submit(["true"], request_id="bad id!")
    assert "request_id must be 1-128 characters" in str(e.value)
    with pytest.raises(InvalidParams, match="node.argv must not be empty"):
        client.submit([])
    with pytest.raises(InvalidParams, match="relative|absolute"):
        client.submit(["true"], cwd="relative/dir")


def test_client_side_argument_errors(client: CoordinatorClient) -> None:
    with pytest.raises(TypeError, match="list of arguments"):
        client.submit("echo hi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        client.submit(["true"], timeout=0)
    with pytest.raises(ValueError, match="positive"):
        client.wait([], timeout=-1)
    with pytest.raises(TypeError):
        client.job(42)  # type: ignore[arg-type]


def test_method_not_found(client: CoordinatorClient) -> None:
    with pytest.raises(MethodNotFound) as e:
        client.call("frobnicate")
    assert str(e.value) == 'Method not found: "frobnicate"'


def test_over_long_line_fails_its_own_call_only(small_lines: Daemon) -> None:
    """The daemon answers an over-long line with a null id; the client gives that
    error to the call that sent it, and the other calls in flight go on."""

    async def body() -> None:
        async with Coordinator.connect(small_lines.socket) as c:
            results = await asyncio.gather(
                c.ping(), c.submit(["cat"], stdin="x" * 8192), c.ping(), return_exceptions=True
            )
            assert not isinstance(results[0], BaseException) and not isinstance(results[2], BaseException)
            assert isinstance(results[1], InvalidRequest), results[1]
            assert "longer than the limit of 4096 bytes" in str(results[1])
            assert (await c.ping()).pid == small_lines.pid

    run(body())


def test_shutting_down(fresh_daemon: Daemon) -> None:
    fresh_daemon.start()
    with fresh_daemon.client() as c:
        holder = c.submit(["sleep", "30"])  # keeps the drain going
        c.shutdown()
        with pytest.raises(ShuttingDown) as e:
            c.submit(["true"])
        assert str(e.value) == "the daemon is shutting down and accepts no new work"
        c.cancel(holder)
    assert fresh_daemon.proc is not None and fresh_daemon.proc.wait(PATIENCE) == 0


def test_permission_denied(tmp_path: Path) -> None:
    reason = nobody_reason()
    if reason:
        pytest.skip(reason)
    sockdir = Path(tempfile.mkdtemp(prefix="coordpy-"))
    try:
        os.chmod(sockdir, 0o755)
        d = Daemon(tmp_path)
        d.socket = str(sockdir / "s.sock")
        d.start()
        try:
            script = textwrap.dedent(
                """
                import sys
                from coordinatord import CoordinatorClient, PermissionDenied
                with CoordinatorClient(sys.argv[1]) as c:
                    try:
                        c.ping()
                    except PermissionDenied as e:
                        print("denied", e.code, e)
                """
            )
            out = subprocess.run(
                [sys.executable, "-c", script, d.socket], user=65534, group=65534,
                env={"PYTHONPATH": str(CLIENT_DIR), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                cwd="/", capture_output=True, text=True, timeout=PATIENCE,
            )
            assert out.returncode == 0, out.stderr
            assert out.stdout.startswith("denied 1004 permission denied: uid 65534 may not use this daemon")
        finally:
            d.stop()
            d.check_clean()
    finally:
        for p in sockdir.iterdir():
            p.unlink()
        sockdir.rmdir()


def test_cannot_connect_names_the_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "nobody-here.sock")
    with pytest.raises(CoordinatorConnectionError) as e:
        CoordinatorClient(path)
    assert path in str(e.value) and "is coordinatord running?" in str(e.value)
    assert e.value.socket_path == path

    async def body() -> None:
        with pytest.raises(CoordinatorConnectionError, match="nobody-here"):
            await Coordinator.connect(path)

    run(body())
    with pytest.raises(CoordinatorConnectionError, match="longer than 107 bytes"):
        CoordinatorClient("/tmp/" + "x" * 200)


def test_a_refused_subscribe(daemon: Daemon) -> None:
    with daemon.client() as c:
        with pytest.raises(InvalidParams, match="nonsense") as blocking:
            c.subscribe(["nonsense"])

    async def body() -> None:
        async with Coordinator.connect(daemon.socket) as c:
            sub = c.subscribe(["nonsense"])
            with pytest.raises(InvalidParams) as e:
                await sub.ready()
            assert str(e.value) == str(blocking.value)
            with pytest.raises(InvalidParams):
                await sub.next(PATIENCE)

    run(body())


def test_refusal_read_after_a_failed_write(tmp_path: Path) -> None:
    """A daemon that refuses a peer writes its 1004 and hangs up at once. A client
    whose first write then fails (EPIPE) must still report the refusal, not a lost
    connection. The daemon's side is played by a bare socket here, so that the
    order (refusal written, socket closed, then the client writes) is certain."""
    import socket

    path = str(tmp_path / "refuser.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    async def scenario() -> None:
        from coordinatord.connection import Connection

        conn = await Connection.open(path)
        peer, _ = server.accept()
        peer.sendall(
            b'{"jsonrpc":"2.0","error":{"code":1004,"message":"permission denied: '
            b'uid 65534 may not use this daemon"},"id":null}\n'
        )
        peer.close()
        # No await between the hang-up and the write: the loop has not read the refusal.
        with pytest.raises(PermissionDenied) as info:
            await conn.call("ping")
        assert "may not use this daemon" in str(info.value)
        conn.close()

    try:
        asyncio.run(scenario())
    finally:
        server.close()
