"""The contract's objects as dataclasses: Job, Message and what they hold, and method results.

Field names are the wire's (and the seed's: ``status``, ``result``, ``start_time``,
``end_time``, ``parent_node_id``, ``child_node_id``). Members a newer daemon sends
that this client does not know land in ``extra`` instead of breaking the parse.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Mapping, Optional, Tuple, TypeVar

from .errors import ProtocolError

JobStatus = Literal["opened", "closed"]
JobPhase = Literal["waiting", "queued", "running", "finished"]
JobResult = Literal["success", "failure"]
MessageType = Literal[
    "request_creation", "request_success", "request_failure", "request_creation_failure"
]

#: The message types that close a job (what a "completion" is).
COMPLETION_TYPES: Tuple[MessageType, ...] = ("request_success", "request_failure")

_T = TypeVar("_T")


def _object(raw: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise ProtocolError("expected %s as a JSON object, got %r" % (what, type(raw).__name__))
    return raw


def _split(cls: Any, raw: Mapping[str, Any], exclude: Tuple[str, ...] = ()) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The members of ``raw`` that are fields of ``cls``, and the others (``extra``)."""
    names = {f.name for f in dataclasses.fields(cls)} - {"extra"} - set(exclude)
    known = {k: v for k, v in raw.items() if k in names}
    extra = {k: v for k, v in raw.items() if k not in names}
    return known, extra


def _require(known: Dict[str, Any], key: str, typ: Any, what: str) -> None:
    value = known.get(key)
    if not isinstance(value, typ) or isinstance(value, bool):
        raise ProtocolError("%s without a valid %r: %r" % (what, key, value))


@dataclass
class ErrorInfo:
    """Why a job failed: ``kind`` is exit, signal, timeout, cancelled, spawn, lost,
    invalid or dependency; ``exit_code`` / ``signal`` where they apply (messages only)."""

    kind: str
    message: str
    exit_code: Optional[int] = None
    signal: Optional[int] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: Any) -> Optional["ErrorInfo"]:
        if raw is None:
            return None
        known, extra = _split(cls, _object(raw, "an error"))
        known.setdefault("kind", "")
        known.setdefault("message", "")
        return cls(**known, extra=extra)


@dataclass
class TaskResult:
    """What ran, as a completion message carries it (the last 64 KiB of each stream)."""

    exit_code: Optional[int] = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: Any) -> Optional["TaskResult"]:
        if raw is None:
            return None
        known, extra = _split(cls, _object(raw, "a result"))
        return cls(**known, extra=extra)


@dataclass
class Message:
    """What the publisher carries: one per creation, completion or refused submit."""

    seq: int
    type: MessageType
    time: float
    request_id: Optional[str] = None
    parent_node_id: Optional[str] = None
    child_node_id: Optional[str] = None
    run_id: Optional[str] = None
    mode: Optional[str] = None
    result: Optional[TaskResult] = None
    error: Optional[ErrorInfo] = None
    run_start_time: Optional[float] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: Any) -> "Message":
        known, extra = _split(cls, _object(raw, "a message"))
        _require(known, "seq", int, "a message")
        known.setdefault("type", "")
        known.setdefault("time", 0.0)
        known["result"] = TaskResult.from_wire(known.get("result"))
        known["error"] = ErrorInfo.from_wire(known.get("error"))
        return cls(**known, extra=extra)

    @property
    def is_completion(self) -> bool:
        """True for request_success and request_failure: the job closed."""
        return self.type in COMPLETION_TYPES


@dataclass
class Job:
    """One accepted task, as the daemon records it (the seed's Job, and more).

    ``message`` is not a member of the wire's Job: it is the job's closing
    message when the answer carried one (``job``, ``submit(wait=True)``), else None.
    """

    request_id: str
    parent_node_id: Optional[str] = None
    child_node_id: str = ""
    run_id: str = ""
    name: str = ""
    mode: str = ""
    status: JobStatus = "opened"
    phase: JobPhase = "queued"
    result: Optional[JobResult] = None
    start_time: float = 0.0
    end_time: Optional[float] = None
    exit_code: Optional[int] = None
    error: Optional[ErrorInfo] = None
    # v2 and the daemon's extensions: None when the daemon does not send them.
    run_start_time: Optional[float] = None
    owner_uid: Optional[int] = None
    rerun_of: Optional[str] = None
    after: Optional[List[str]] = None
    task: Optional[Dict[str, Any]] = None
    stdout_bytes: Optional[int] = None
    stderr_bytes: Optional[int] = None
    message: Optional[Message] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: Any, message: Any = None) -> "Job":
        known, extra = _split(cls, _object(raw, "a job"), exclude=("message",))
        _require(known, "request_id", str, "a job")
        known["error"] = ErrorInfo.from_wire(known.get("error"))
        msg = Message.from_wire(message) if message is not None else None
        return cls(**known, message=msg, extra=extra)

    @property
    def is_closed(self) -> bool:
        return self.status == "closed"

    @property
    def succeeded(self) -> bool:
        return self.result == "success"

    @property
    def duration(self) -> Optional[float]:
        """Seconds from acceptance to close (queueing included); None while opened."""
        if self.end_time is None:
            return None
        return self.end_time - self.start_time


@dataclass
class Counts:
    """The seed's system_detail(): how many matching jobs are opened, closed, ..."""

    opened: int = 0
    closed: int = 0
    success: int = 0
    failure: int = 0
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: Any) -> "Counts":
        known, extra = _split(cls, _object(raw, "counts"))
        return cls(**known, extra=extra)


@dataclass
class StatusPage:
    """One page of ``status``: counts over every matching job, a page of jobs
    (newest first) and the cursor of the next page (None on the last)."""

    counts: Counts
    jobs: List[Job]
    next: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: Any) -> "StatusPage":
        known, extra = _split(cls, _object(raw, "a status result"))
        jobs = known.get("jobs")
        if not isinstance(jobs, list):
            raise ProtocolError("a status result without a jobs array")
        nxt = known.get("next")
        return cls(
            counts=Counts.from_wire(known.get("counts", {})),
            jobs=[Job.from_wire(j) for j in jobs],
            next=nxt if isinstance(nxt, str) else None,
            extra=extra,
        )


@dataclass
class Mode:
    """A configured mode (``modes``): its strategy, limits and load."""

    name: str
    strategy: str = ""
    max_concurrency: int = 0
    running: int = 0
    queued: int = 0
    max_queue: Optional[int] = None
    paused: Optional[bool] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: Any) -> "Mode":
        known, extra = _split(cls, _object(raw, "a mode"))
        _require(known, "name", str, "a mode")
        return cls(**known, extra=extra)


@dataclass
class Ping:
    """The daemon's ``ping``: its version, pid and seconds since it started."""

    version: str
    pid: int
    uptime: float
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: Any) -> "Ping":
        known, extra = _split(cls, _object(raw, "a ping result"))
        known.setdefault("version", "")
        known.setdefault("pid", 0)
        known.setdefault("uptime", 0.0)
        return cls(**known, extra=extra)
