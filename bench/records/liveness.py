"""Is the bench process that wrote a run still alive?

A run is stored as ``running`` when it begins, with the pid and host of the bench process
and a token naming that process's incarnation. A run whose process is gone (killed, crashed,
the PC switched off) never finishes, and must read back as ``interrupted`` rather than stay
``running`` for ever; this module answers that question from ``/proc`` on this host. It is
separate from the file handling because it is about processes, not SQLite.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from pathlib import Path

HOST = socket.gethostname()
"""This bench PC: a run written on another host cannot be checked from here."""


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) from /proc, or None where there is no /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], fields[19]


@functools.cache
def own_start_token(pid: int) -> str | None:
    """The start token of the bench's own process, read once: it cannot change."""
    return process_start_token(pid)


def process_start_token(pid: int) -> str | None:
    """Identifies one incarnation of ``pid``, so a reused pid is not taken for the old run."""
    stat = _proc_stat(pid)
    return None if stat is None else stat[1]


def process_alive(pid: int, start_token: str | None = None) -> bool:
    """Is the process that wrote a run still there (on this host)?"""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, start = stat
    if state in ("Z", "X"):  # killed but not yet reaped by its parent
        return False
    return start_token is None or start == start_token
