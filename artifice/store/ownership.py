"""Who runs a billing window, and whether that run is gone."""

from __future__ import annotations

import datetime as dt
import os
import socket


def this_process() -> str:
    """``host:pid`` of the running process, recorded on the windows it owns."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_gone(owner: str, last_progress: dt.datetime, now: dt.datetime, stale_after: dt.timedelta) -> bool:
    """True when the owning run certainly stopped (same host, no such process) or went silent.

    An empty owner is a window released by its run for the next one to resume.
    """
    if not owner:
        return True
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        if int(pid) == os.getpid():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # exists, owned by another user
        return last_progress < now - stale_after and not _alive_here(int(pid))
    return last_progress < now - stale_after


def _alive_here(pid: int) -> bool:
    """A zombie counts as dead: its run ended, only its exit status is unread."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False
