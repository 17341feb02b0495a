"""Python arguments to the wire's params: only what the caller set is sent
(a v2 daemon refuses unknown keys, and absent means the daemon's default)."""
from __future__ import annotations

import math
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from .objects import Job

#: A job named by its request_id, or the Job itself.
JobRef = Union[str, Job]
#: One program argument: a string or a path.
Arg = Union[str, "os.PathLike[str]"]


def request_id_of(ref: JobRef) -> str:
    if isinstance(ref, str):
        return ref
    if isinstance(ref, Job):
        return ref.request_id
    raise TypeError("expected a request_id (str) or a Job, got %r" % (ref,))


def request_ids_of(refs: Union[JobRef, Iterable[JobRef]]) -> List[str]:
    """One or many jobs, as a list of request_ids."""
    if isinstance(refs, (str, Job)):
        return [request_id_of(refs)]
    return [request_id_of(r) for r in refs]


def milliseconds(seconds: float, what: str) -> int:
    """Seconds (a float, as time.time() gives) to the wire's whole milliseconds, rounded up
    so that a short positive timeout never becomes 0 (which means "no limit")."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("%s must be a number of seconds, not %r" % (what, seconds))
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError("%s must be a positive number of seconds (None: no limit), not %r" % (what, seconds))
    return max(1, math.ceil(seconds * 1000))


def task(
    argv: Sequence[Arg],
    *,
    mode: Optional[str],
    name: Optional[str],
    env: Optional[Mapping[str, str]],
    cwd: Optional[Arg],
    stdin: Optional[str],
    timeout: Optional[float],
    after: Optional[Iterable[JobRef]],
    after_policy: Optional[str],
    wait: bool,
    request_id: Optional[str],
    node_id: Optional[str],
    parent_node_id: Optional[str],
) -> Dict[str, Any]:
    """The Task object of ``submit``."""
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a list of arguments such as ['make', '-C', 'src'], not a string")
    node: Dict[str, Any] = {"argv": [os.fspath(a) for a in argv]}
    if node_id is not None:
        node["id"] = node_id
    if name is not None:
        node["name"] = name
    if cwd is not None:
        node["cwd"] = os.fspath(cwd)
    if env is not None:
        node["env"] = dict(env)
    if stdin is not None:
        node["stdin"] = stdin
    if timeout is not None:
        node["timeout_ms"] = milliseconds(timeout, "timeout")
    params: Dict[str, Any] = {"node": node}
    if request_id is not None:
        params["request_id"] = request_id
    if parent_node_id is not None:
        params["parent_node_id"] = parent_node_id
    if mode is not None:
        params["mode"] = mode
    if wait:
        params["wait"] = True
    if after is not None:
        params["after"] = request_ids_of(after)
    if after_policy is not None:
        params["after_policy"] = after_policy
    return params


def optional(**kwargs: Any) -> Dict[str, Any]:
    """The keyword arguments that are not None."""
    return {k: v for k, v in kwargs.items() if v is not None}
