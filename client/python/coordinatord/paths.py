"""Where the daemon's socket is: the same rules, in the same order, as libcoord (common/paths.c)."""
from __future__ import annotations

import os
from typing import Optional, Union

#: The longest path a Unix socket address can hold (sun_path is 108 bytes with its NUL).
SOCKET_PATH_MAX = 107


def socket_path(explicit: Optional[Union[str, "os.PathLike[str]"]] = None) -> str:
    """Resolve the socket path, first match wins.

    1. ``explicit`` (the ``socket=`` argument), when not empty;
    2. ``$COORD_SOCKET``, when not empty;
    3. ``/run/coordinator/coordinatord.sock`` when the effective uid is 0;
    4. ``$XDG_RUNTIME_DIR/coordinator/coordinatord.sock``, or
       ``/run/user/UID/coordinator/coordinatord.sock`` when ``XDG_RUNTIME_DIR``
       is unset or empty.
    """
    if explicit is not None:
        path = os.fspath(explicit)
        if path:
            return path
    env = os.environ.get("COORD_SOCKET")
    if env:
        return env
    uid = os.geteuid()
    if uid == 0:
        return "/run/coordinator/coordinatord.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or "/run/user/%u" % uid
    return runtime + "/coordinator/coordinatord.sock"


def default_parent_node_id() -> Optional[str]:
    """``$COORD_NODE_ID`` (set by the daemon in every task), or None outside a task."""
    return os.environ.get("COORD_NODE_ID") or None
