"""Who holds a billing window, and when a holder is proven gone before its lease ends.

A lease (expiry on the database's clock) is what lets another run take a window over. The one
shortcut: a run on the same kernel (boot id) and in the same PID namespace may take over at once
when the holder's process no longer exists, or the PID now belongs to a process started at
another time (PID reuse). Hostnames prove nothing: containers share them, and a PID means
nothing outside its namespace.
"""

from __future__ import annotations

import functools
import os
import socket


def display() -> str:
    """``host:pid`` of this process, shown to people."""
    return f"{socket.gethostname()}:{os.getpid()}"


@functools.cache
def _boot_id() -> str:
    return _read("/proc/sys/kernel/random/boot_id").strip()


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or ''."""
    stat = _read(f"/proc/{pid}/stat")
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20 or fields[0] == "Z":  # a zombie's run has ended
        return ""
    return fields[19]


def proof() -> str:
    """What identifies this process across hosts and namespaces: boot id, PID namespace, pid, start time."""
    boot, namespace, pid = _boot_id(), _pid_namespace(), os.getpid()
    start = _start_time(pid)
    return f"{boot} {namespace} {pid} {start}" if boot and namespace and start else ""


def proven_gone(holder: str) -> bool:
    """True only when the holder ran on this kernel, in this PID namespace, and has ended."""
    parts = holder.split()
    if len(parts) != 4 or not parts[2].isdigit():
        return False
    boot, namespace, pid, start = parts
    if boot != _boot_id() or namespace != _pid_namespace():
        return False
    return _start_time(int(pid)) != start


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return ""
