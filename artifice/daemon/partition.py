"""Splitting tenants between daemons: tooz group membership and its consistent hash ring.

Each daemon joins one tooz group and heartbeats; a daemon that stops heartbeating drops out of
the group after the backend's timeout, and the ring hands its tenants to the others. Membership
is kept by a thread of its own, so a backend that is down (tooz's drivers retry for a minute
before they give up) never holds a billing pass up: while the group cannot be read, this daemon
logs it once, tries every tenant, and keeps trying to join again. The database stays the last
line of defence: two daemons may then both try a tenant, but only one can hold its window.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import uuid

from tooz import coordination, hashring

from artifice.invoices.erp_http import safe_url

LOG = logging.getLogger(__name__)
# What leaving can raise besides tooz's own errors (a bad URL, a refused socket, a missing driver).
_FAILURES = (coordination.ToozError, ValueError, OSError, ImportError)
FIRST_JOIN_WAIT = 10.0  # seconds the daemon waits at start for its first view of the group
STALE_AFTER = 10.0  # seconds after which a view of the group that could not be renewed is not used


class Partition:
    """Which tenants this daemon bills. Without a coordination URL: all of them."""

    def __init__(self, url: str, group: str, refresh: float = 2.0) -> None:
        self.url = url
        self.member = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.group = group.encode()
        self.refresh = refresh
        self.coordinator: coordination.CoordinationDriver | None = None
        self._members: frozenset[bytes] | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._first_view = threading.Event()
        self._failing = False
        self._seen = 0.0  # time.monotonic() of the last view of the group
        self._stale_reported = False
        if url:
            threading.Thread(target=self._keep_membership, name="coordination", daemon=True).start()
            if not self._first_view.wait(FIRST_JOIN_WAIT):
                LOG.warning("coordination at %s has not answered in %.0f s: trying every tenant until it does",
                            safe_url(self.url), FIRST_JOIN_WAIT)  # fmt: skip

    def _keep_membership(self) -> None:
        while not self._stopped.is_set():
            try:
                members = self._read_members()
            except Exception as exc:  # noqa: BLE001 - drivers leak their client's errors; this thread must live on
                self._lost(exc)
            else:
                with self._lock:
                    self._members = frozenset(members)
                    self._seen = time.monotonic()
                    self._stale_reported = False
                if self._failing:
                    LOG.info("coordination at %s is back: tenants are split between %d daemon(s)",
                             safe_url(self.url), len(members))  # fmt: skip
                self._failing = False
            self._first_view.set()
            self._stopped.wait(self.refresh)

    def _read_members(self) -> set[bytes]:
        if self.coordinator is None:
            coordinator = coordination.get_coordinator(self.url, self.member.encode())
            coordinator.start(start_heart=True)
            self.coordinator = coordinator
            with contextlib.suppress(coordination.GroupAlreadyExist):
                coordinator.create_group(self.group).get()
            with contextlib.suppress(coordination.MemberAlreadyExist):
                coordinator.join_group(self.group).get()
        try:
            members: set[bytes] = self.coordinator.get_members(self.group).get()
        except coordination.GroupNotCreated:  # the backend restarted and forgot everything
            members = set()
        if self.member.encode() not in members:  # it forgot us: join again
            with contextlib.suppress(coordination.GroupAlreadyExist):
                self.coordinator.create_group(self.group).get()
            with contextlib.suppress(coordination.MemberAlreadyExist):
                self.coordinator.join_group(self.group).get()
            members.add(self.member.encode())
        return members

    def _lost(self, exc: BaseException) -> None:
        with self._lock:
            self._members = None
        if not self._failing:
            LOG.error("coordination at %s unavailable (%s: %s): trying every tenant; the database keeps windows "
                      "single", safe_url(self.url), exc.__class__.__name__, exc)  # fmt: skip
        self._failing = True
        coordinator, self.coordinator = self.coordinator, None
        if coordinator is not None:  # start afresh next time
            with contextlib.suppress(Exception):
                coordinator.stop()

    def ring(self) -> hashring.HashRing | None:
        """The current ring of live members; None when every tenant is ours.

        A view older than ``STALE_AFTER`` is not used: the backend stopped answering (its driver
        may retry for a minute before it says so), and the other daemons cannot see us either.
        """
        with self._lock:
            members, age = self._members, time.monotonic() - self._seen
            stale = members is not None and age > STALE_AFTER
            report, self._stale_reported = stale and not self._stale_reported, self._stale_reported or stale
        if report:
            LOG.error("coordination at %s has not answered for %.0f s: trying every tenant until it does",
                      safe_url(self.url), age)  # fmt: skip
        if not self.url or members is None or stale:
            return None
        return hashring.HashRing(set(members) | {self.member.encode()})

    def owns(self, ring: hashring.HashRing | None, tenant_id: str) -> bool:
        return ring is None or self.member.encode() in ring.get_nodes(tenant_id.encode())

    def leave(self) -> None:
        self._stopped.set()
        coordinator = self.coordinator
        if coordinator is None:
            return
        try:
            coordinator.leave_group(self.group).get()
            coordinator.stop()
        except _FAILURES as exc:
            LOG.warning("could not leave coordination group: %s", exc)
