"""What a real daemon rarely does, played by a fake one on a Unix socket: garbage on
the wire, and a refusal of the whole connection (too many connections)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Callable

import pytest

from coordtest import run
from coordinatord import Busy, ConnectionLost, Coordinator, CoordinatorError, NotFound, ProtocolError

Reply = Callable[[bytes], bytes]


async def serve(path: Path, first_words: bytes, reply: Reply) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if first_words:
            writer.write(first_words)
            await writer.drain()
            writer.close()
            return
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(reply(line))
            await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(handle, path=str(path))


def test_garbage_from_the_daemon_is_a_protocol_error(tmp_path: Path) -> None:
    async def body() -> None:
        sock = tmp_path / "fake.sock"
        server = await serve(sock, b"", lambda line: b"this is not json\n")
        async with server:
            async with Coordinator.connect(sock) as c:
                with pytest.raises(ProtocolError, match="not JSON"):
                    await asyncio.wait_for(c.ping(), 10)
                assert c.closed
                with pytest.raises(ProtocolError):
                    await c.ping()

    run(body())


def test_a_refused_connection_raises_busy(tmp_path: Path) -> None:
    async def body() -> None:
        sock = tmp_path / "full.sock"
        refusal = (b'{"jsonrpc":"2.0","error":{"code":1005,"message":"busy: too many connections '
                   b'(the limit is 1); try again later"},"id":null}\n')
        server = await serve(sock, refusal, lambda line: b"")
        async with server:
            async with Coordinator.connect(sock) as c:
                with pytest.raises(Busy, match="too many connections"):
                    await asyncio.wait_for(c.ping(), 10)

    run(body())


def test_a_daemon_that_hangs_up_mid_answer(tmp_path: Path) -> None:
    async def body() -> None:
        sock = tmp_path / "half.sock"

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readline()
            writer.write(b'{"jsonrpc":"2.0","result":{"version":')
            await writer.drain()
            writer.close()

        async with await asyncio.start_unix_server(handle, path=str(sock)):
            async with Coordinator.connect(sock) as c:
                with pytest.raises(ConnectionLost, match="1 call"):
                    await asyncio.wait_for(c.ping(), 10)

    run(body())


MESSAGE = (b'{"jsonrpc":"2.0","method":"message","params":{"subscription":7,"message":'
           b'{"seq":%d,"type":"request_success","time":1.0,"request_id":"r%d"}}}\n')


def subscriber_daemon(ending: bytes) -> Reply:
    """Answers subscribe with subscription 7, two messages, then ``ending``."""

    def reply(line: bytes) -> bytes:
        request = json.loads(line)
        if request["method"] != "subscribe":
            return b'{"jsonrpc":"2.0","result":{},"id":%d}\n' % request["id"]
        answer = b'{"jsonrpc":"2.0","result":{"subscription":7,"seq":10},"id":%d}\n' % request["id"]
        return answer + MESSAGE % (11, 11) + MESSAGE % (12, 12) + ending

    return reply


@pytest.mark.parametrize(
    "ending,error,words",
    [
        (b'{"jsonrpc":"2.0","method":"subscription_ended","params":{"subscription":7,'
         b'"reason":"pruned","resume_seq":13,"oldest_seq":40}}\n', NotFound, "from seq 13 to 39 were pruned"),
        (b'{"jsonrpc":"2.0","method":"subscription_ended","params":{"subscription":7,'
         b'"reason":"moonphase"}}\n', CoordinatorError, "reason: moonphase"),
    ],
    ids=["pruned", "unknown"],
)
def test_a_subscription_the_daemon_ends_is_never_a_silent_gap(
    tmp_path: Path, ending: bytes, error: type, words: str
) -> None:
    async def body() -> None:
        sock = tmp_path / "subs.sock"
        async with await serve(sock, b"", subscriber_daemon(ending)):
            async with Coordinator.connect(sock) as c:
                sub = c.subscribe()
                assert [(await sub.next(10)).seq for _ in range(2)] == [11, 12]
                with pytest.raises(error, match=words) as e:
                    await sub.next(10)
                if error is NotFound:
                    assert e.value.data == {"resume_seq": 13, "oldest_seq": 40}

    run(body())
