"""The contract's objects as dataclasses: Job, Message and what they hold, and method results.

Field names are the wire's (and the seed's: ``status``, ``result``, ``start_time``,
``end_time``, ``parent_node_id``, ``child_node_id``). Members a newer daemon sends
that this client does not know land in ``extra`` instead of breaking the parse.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, List, Literal, Mapping, Optional, Tuple, Type, TypeVar, cast

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

_W = TypeVar("_W", bound="_Wire")


def _object(raw: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise ProtocolError("expected %s as a JSON object, got %r" % (what, type(raw).__name__))
    return raw


class _Wire:
    """How the dataclasses below are read from the wire: the members that are
    fields become fields (``_nested`` ones parsed further), the others go to
    ``extra``; ``_required`` members must be there with their type."""

    _what: ClassVar[str] = "an object"
    _required: ClassVar[Tuple[Tuple[str, type], ...]] = ()
    _defaults: ClassVar[Mapping[str, Any]] = {}
    _nested: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}
    _not_wire: ClassVar[Tuple[str, ...]] = ()

    @classmethod
    def from_wire(cls: Type[_W], raw: Any) -> _W:
        obj = _object(raw, cls._what)
        names = {f.name for f in dataclasses.fields(cast(Any, cls))} - {"extra"} - set(cls._not_wire)
        known = {k: v for k, v in obj.items() if k in names}
        extra = {k: v for k, v in obj.items() if k not in names}
        for key, typ in cls._required:
            value = known.get(key)
            if not isinstance(value, typ) or isinstance(value, bool):
                raise ProtocolError("%s without a valid %r: %r" % (cls._what, key, value))
        for key, value in cls._defaults.items():
            known.setdefault(key, value)
        for key, parse in cls._nested.items():
            if key in known:
                known[key] = parse(known[key])
        return cast(_W, cast(Any, cls)(**known, extra=extra))


def _maybe(parse: Callable[[Any], _T]) -> Callable[[Any], Optional[_T]]:
    """``parse``, letting a JSON null through as None."""
    return lambda raw: None if raw is None else parse(raw)


@dataclass
class ErrorInfo(_Wire):
    """Why a job failed: ``kind`` is exit, signal, timeout, cancelled, spawn, lost,
    invalid or dependency; ``exit_code`` / ``signal`` where they apply (messages only)."""

    _what = "an error"
    _defaults = {"kind": "", "message": ""}

    kind: str
    message: str
    exit_code: Optional[int] = None
    signal: Optional[int] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskResult(_Wire):
    """What ran, as a completion message carries it (the last 64 KiB of each stream)."""

    _what = "a result"

    exit_code: Optional[int] = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Message(_Wire):
    """What the publisher carries: one per creation, completion or refused submit."""

    _what = "a message"
    _required = (("seq", int),)
    _defaults = {"type": "", "time": 0.0}
    _nested = {"result": _maybe(TaskResult.from_wire), "error": _maybe(ErrorInfo.from_wire)}

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

    @property
    def is_completion(self) -> bool:
        """True for request_success and request_failure: the job closed."""
        return self.type in COMPLETION_TYPES


@dataclass
class Job(_Wire):
    """One accepted task, as the daemon records it (the seed's Job, and more).

    ``message`` is not a member of the wire's Job: it is the job's closing
    message when the answer carried one (``job``, ``submit(wait=True)``), else None.
    """

    _what = "a job"
    _required = (("request_id", str),)
    _nested = {"error": _maybe(ErrorInfo.from_wire)}
    _not_wire = ("message",)

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
        """The job, with ``message`` (its closing message on the wire, or None)."""
        job = super().from_wire(raw)
        if message is not None:
            job.message = Message.from_wire(message)
        return job

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
class Counts(_Wire):
    """The seed's system_detail(): how many matching jobs are opened, closed, ..."""

    _what = "counts"

    opened: int = 0
    closed: int = 0
    success: int = 0
    failure: int = 0
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class StatusPage(_Wire):
    """One page of ``status``: counts over every matching job, a page of jobs
    (newest first) and the cursor of the next page (None on the last)."""

    _what = "a status result"
    _required = (("jobs", list),)
    _defaults = {"counts": {}}
    _nested = {
        "counts": Counts.from_wire,
        "jobs": lambda jobs: [Job.from_wire(j) for j in jobs],
        "next": lambda cursor: cursor if isinstance(cursor, str) else None,
    }

    counts: Counts
    jobs: List[Job]
    next: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Mode(_Wire):
    """A configured mode (``modes``): its strategy, limits and load."""

    _what = "a mode"
    _required = (("name", str),)

    name: str
    strategy: str = ""
    max_concurrency: int = 0
    running: int = 0
    queued: int = 0
    max_queue: Optional[int] = None
    paused: Optional[bool] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Ping(_Wire):
    """The daemon's ``ping``: its version, pid and seconds since it started."""

    _what = "a ping result"
    _defaults = {"version": "", "pid": 0, "uptime": 0.0}

    version: str
    pid: int
    uptime: float
    extra: Dict[str, Any] = field(default_factory=dict)

