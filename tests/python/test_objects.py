"""Parsing without a daemon: v2 fields, unknown members kept in ``extra``, framing."""
from __future__ import annotations

import json

import pytest

from coordinatord import ErrorInfo, Job, Message, Mode, ProtocolError, StatusPage, TaskResult
from coordinatord.errors import Busy, RPCError, Timeout, error_from_wire
from coordinatord.protocol import Framer, Notification, Response, decode, encode

V2_JOB = {
    "request_id": "r1", "parent_node_id": None, "child_node_id": "n1", "run_id": "r1",
    "name": "make", "mode": "async", "status": "closed", "phase": "finished",
    "result": "failure", "start_time": 10.5, "end_time": 12.25, "exit_code": None,
    "error": {"kind": "dependency", "message": "an after job failed", "hint": "v3"},
    "run_start_time": None, "owner_uid": 1000, "rerun_of": "r0", "after": ["a", "b"],
    "task": {"node": {"argv": ["make"]}}, "stdout_bytes": 0, "stderr_bytes": 7,
    "cgroup": "/sys/fs/cgroup/x", "priority": 3,
}


def test_a_v2_job_with_unknown_members() -> None:
    job = Job.from_wire(V2_JOB)
    assert (job.rerun_of, job.after, job.owner_uid, job.stderr_bytes) == ("r0", ["a", "b"], 1000, 7)
    assert job.task == {"node": {"argv": ["make"]}}
    assert job.extra == {"cgroup": "/sys/fs/cgroup/x", "priority": 3}
    assert job.error == ErrorInfo("dependency", "an after job failed", extra={"hint": "v3"})
    assert job.duration == 1.75 and job.is_closed and not job.succeeded and job.message is None


def test_a_message_with_unknown_members() -> None:
    raw = {
        "seq": 7, "type": "request_success", "time": 1.0, "request_id": "r", "run_start_time": 0.5,
        "result": {"exit_code": 0, "stdout": "hi\n", "stderr": "", "stdout_truncated": False,
                   "stderr_truncated": False, "stdout_offset": 0},
        "error": None, "node_name": "x",
    }
    msg = Message.from_wire(raw)
    assert msg.result == TaskResult(0, "hi\n", "", False, False, extra={"stdout_offset": 0})
    assert msg.run_start_time == 0.5 and msg.extra == {"node_name": "x"} and msg.is_completion
    assert msg.parent_node_id is None and msg.mode is None  # absent members default


def test_other_results_keep_extras() -> None:
    page = StatusPage.from_wire({"counts": {"opened": 1, "closed": 2, "success": 1, "failure": 1,
                                            "waiting": 4}, "jobs": [V2_JOB], "next": None, "total": 3})
    assert page.counts.extra == {"waiting": 4} and page.extra == {"total": 3}
    assert page.jobs[0].request_id == "r1"
    mode = Mode.from_wire({"name": "gpu", "strategy": "slurm", "max_concurrency": 4, "running": 1,
                           "queued": 0, "max_queue": 10, "paused": True, "partition": "p"})
    assert mode.paused is True and mode.extra == {"partition": "p"}


@pytest.mark.parametrize("raw", [None, [], {"type": "x"}, {"seq": "1"}, {"seq": True}])
def test_a_broken_message_is_a_protocol_error(raw: object) -> None:
    with pytest.raises(ProtocolError):
        Message.from_wire(raw)


def test_errors_by_code() -> None:
    e = error_from_wire({"code": 1005, "message": "busy: too many", "data": None})
    assert type(e) is Busy and str(e) == "busy: too many" and e.code == 1005
    t = error_from_wire({"code": 1007, "message": "timeout", "data": {"jobs": [V2_JOB]}})
    assert isinstance(t, Timeout) and [j.request_id for j in t.jobs] == ["r1"]
    other = error_from_wire({"code": 4242, "message": "new"})
    assert type(other) is RPCError and other.code == 4242


def test_framing_splits_lines_across_reads() -> None:
    f = Framer()
    rid, line = f.request("ping", None)
    assert json.loads(line) == {"jsonrpc": "2.0", "id": rid, "method": "ping"} and line.endswith(b"\n")
    assert f.request("job", {"request_id": "é\n"})[1].count(b"\n") == 1  # escaped, ASCII
    a = b'{"jsonrpc":"2.0","result":{},"id":1}\n{"jsonrpc":"2.0","me'
    b = b'thod":"message","params":{"subscription":1,"message":{}}}\n\n'
    assert f.feed(a) == [a.split(b"\n")[0]] and f.buffered > 0
    lines = f.feed(b)
    assert decode(lines[0]) == Notification("message", {"subscription": 1, "message": {}})
    assert decode(lines[1]) is None  # a blank line
    assert f.buffered == 0
    resp = decode(b'{"jsonrpc":"2.0","error":{"code":-32600,"message":"long"},"id":null}')
    assert isinstance(resp, Response) and resp.id is None and resp.error is not None
    for bad in (b"nope", b"[1]", b'{"jsonrpc":"1.0","id":1,"result":{}}', b'{"jsonrpc":"2.0","id":"x","result":1}'):
        with pytest.raises(ProtocolError):
            decode(bad)
    assert encode(3, "ping", {}) == b'{"jsonrpc":"2.0","id":3,"method":"ping"}\n'
